"""Opening the page and the Hub tab in headless Chromium: seconds from navigation until the tabs are there, then
from the Hub tab's click until its repo list shows; idle, and with ``--burners`` CPU-bound processes competing
(a machine busy with training jobs). The limit beside it: a bare ``gr.Blocks`` page with one Markdown.

    .venv/bin/python bench/page_open.py [--runs 3] [--burners 0,2]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from measure import free_port, wait_for  # noqa: E402

BARE = "import gradio as gr, sys\nwith gr.Blocks() as d:\n    gr.Markdown('bare')\nd.launch(server_port=int(sys.argv[1]))"


@contextlib.contextmanager
def app_and_bare_page(*app_args: str) -> Iterator[dict[str, str]]:
    """The app (a data folder of its own, ``app_args`` added) and a bare Gradio page with one Markdown (the limit
    beside it), each a process on a free loopback port: yields their URLs by "app" and "bare"."""
    ports = {"app": free_port(), "bare": free_port()}
    procs = [subprocess.Popen([sys.executable, "app.py", "--port", str(ports["app"]), *app_args], cwd=ROOT,
                              env={**os.environ, "DLP_HOME": tempfile.mkdtemp()}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL),
             subprocess.Popen([sys.executable, "-c", BARE, str(ports["bare"])], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    try:
        urls = {kind: f"http://127.0.0.1:{port}/" for kind, port in ports.items()}
        for kind, proc in zip(ports, procs):
            wait_for(urls[kind], proc)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--burners", default="0,2")
    args = p.parse_args()
    from playwright.sync_api import expect, sync_playwright

    with app_and_bare_page("--no-starter") as urls:
        time.sleep(10)  # the app's warm-up imports finish
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                         args=["--headless", "--no-sandbox", "--disable-gpu"])
            for n in (int(b) for b in args.burners.split(",")):
                burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
                try:
                    page_s, hub_s, bare_s = [], [], []
                    for _ in range(args.runs):
                        page = browser.new_page(viewport={"width": 1600, "height": 1000})
                        t = time.perf_counter()
                        page.goto(urls["bare"])
                        page.get_by_text("bare").wait_for(timeout=300_000)
                        bare_s.append(time.perf_counter() - t)
                        t = time.perf_counter()
                        page.goto(urls["app"])
                        page.get_by_role("tab", name="Image classification").wait_for(timeout=300_000)
                        page_s.append(time.perf_counter() - t)
                        t = time.perf_counter()
                        page.get_by_role("tab", name="Hub").click()
                        expect(page.get_by_text("model repos")).to_be_visible(timeout=300_000)
                        hub_s.append(time.perf_counter() - t)
                        page.close()
                    med = statistics.median
                    print(f"{n} burners: page {med(page_s):.2f} s (bare Gradio page {med(bare_s):.2f} s), "
                          f"Hub tab's list {med(hub_s):.2f} s after its click", flush=True)
                finally:
                    for b in burners:
                        b.kill()
            browser.close()


if __name__ == "__main__":
    main()
