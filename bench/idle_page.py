"""What an open page costs the browser while nothing happens: after the page has settled, for ``--seconds``, the
main thread's long tasks (over 50 ms, PerformanceObserver) and the page's requests, in headless Chromium. The
limit beside it: a bare ``gr.Blocks`` page with one Markdown, whose main thread is idle.

    .venv/bin/python bench/idle_page.py [--seconds 20] [--runs 3]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from page_open import app_and_bare_page  # noqa: E402

OBSERVE = """() => { window.__long = []; new PerformanceObserver((l) => { for (const e of l.getEntries())
  window.__long.push(e.duration); }).observe({type: 'longtask', buffered: false}); }"""


def idle_cost(page, url: str, ready, seconds: float) -> tuple[float, int, int]:
    """(ms of long tasks per second, long tasks, requests) over ``seconds`` once the page at ``url`` settled."""
    requests: list[str] = []
    page.goto(url)
    ready(page)
    time.sleep(10)  # page-load events, the first ticks
    page.evaluate(OBSERVE)
    page.on("request", lambda r: requests.append(r.url))
    time.sleep(seconds)
    long = page.evaluate("window.__long")
    return sum(long) / seconds, len(long), len(requests)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    with app_and_bare_page() as urls:
        time.sleep(40)  # the warm-up imports and the starter LeNet's training end: a page with one finished job
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                         args=["--headless", "--no-sandbox", "--disable-gpu"])
            results: dict[str, list[tuple[float, int, int]]] = {"app": [], "bare": []}
            for _ in range(args.runs):
                for kind, ready in (("bare", lambda pg: pg.get_by_text("bare").wait_for(timeout=300_000)),
                                    ("app", lambda pg: pg.get_by_role("tab", name="Image classification")
                                     .wait_for(timeout=300_000))):
                    page = browser.new_page(viewport={"width": 1600, "height": 1000})
                    results[kind].append(idle_cost(page, urls[kind], ready, args.seconds))
                    page.close()
            for kind, rows in results.items():
                ms = statistics.median(r[0] for r in rows)
                print(f"{kind}: long tasks {ms:.1f} ms/s (median of {len(rows)}; runs: "
                      + ", ".join(f"{r[0]:.1f} ms/s, {r[1]} tasks, {r[2] / args.seconds:.1f} requests/s" for r in rows)
                      + ")")
            browser.close()

if __name__ == "__main__":
    main()
