"""Detection's score slider in the browser: from the slider's release (the pointer let go) to the frame that shows
the re-filtered picture, in headless Chromium, beside the same event's round trip through gradio_client (what the
server and the wire take; the rest is the page's own work). A TinySSD is trained for one epoch at 64 px first.

    .venv/bin/python bench/slider_browser.py [--moves 12]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Timed in the page: the release's pointerup (capture phase) to the first frame where the picture's src changed.
TIMED_JS = """() => { window.__t = {};
    const img = () => [...document.querySelectorAll('img')].find(i => i.closest('.block')
        && i.closest('.block').innerText.includes('NMS removed'));
    const before = img().src;
    document.addEventListener('pointerup', () => { window.__t.up = performance.now(); }, {once: true, capture: true});
    const look = () => { const i = img(); if (i && i.src !== before && i.complete) {
        window.__t.shown = performance.now(); return; } requestAnimationFrame(look); };
    requestAnimationFrame(look); }"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--moves", type=int, default=12)
    args = ap.parse_args()

    from gradio_client import Client, handle_file
    from playwright.sync_api import sync_playwright

    from bench.measure import app_in_process, timed
    from training.tasks.detection import DetectionConfig
    from webui.detection import EXAMPLES as SCENES
    from webui.jobs import JOB_KEY

    with tempfile.TemporaryDirectory() as root, app_in_process(Path(root)) as (url, runner):
        job = runner.submit(DetectionConfig(model="tinyssd", epochs=1, image_size=64)).id
        assert runner.wait(job, timeout=600).status == "completed", runner.log_tail(job)
        client = Client(url, verbose=False)
        client.predict(JOB_KEY + job, handle_file(SCENES[0]), 0.5, 0.5, api_name="/detection_detect")
        scores = iter([0.3, 0.6] * 1000)
        server_ms = timed(lambda: client.predict(next(scores), 0.5, api_name="/detection_filter"), args.moves) * 1000
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"])
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(url)
            page.get_by_role("tab", name="Image classification").wait_for()
            page.get_by_role("tab", name="Object detection").click()
            page.get_by_role("tab", name="Detect", exact=True).click()
            page.get_by_role("button", name="Refresh").filter(visible=True).click()  # picks the newest model
            page.wait_for_timeout(2000)
            photo = page.locator(".block", has=page.locator("input[type=file]")).filter(visible=True).first
            photo.locator("input[type=file]").first.set_input_files(SCENES[0])
            page.wait_for_timeout(1000)
            page.get_by_role("button", name="Detect", exact=True).filter(visible=True).click()
            page.get_by_text("NMS removed").first.wait_for()
            page.wait_for_function("""() => [...document.querySelectorAll('img')].some(i => i.closest('.block')
                && i.closest('.block').innerText.includes('NMS removed'))""", timeout=120_000)
            page.wait_for_timeout(3000)  # the page settles
            slider = page.locator("input[type=range]").filter(visible=True).first
            rect = slider.bounding_box()
            shown = []
            for n in range(args.moves):
                page.evaluate(TIMED_JS)
                x = rect["x"] + rect["width"] * (0.3 if n % 2 == 0 else 0.6)
                page.mouse.move(x, rect["y"] + rect["height"] / 2)
                page.mouse.down()
                page.mouse.up()
                page.wait_for_function("() => window.__t.shown !== undefined", timeout=60_000)
                t = page.evaluate("() => window.__t")
                shown.append(t["shown"] - t["up"])
                page.wait_for_timeout(700)
            print(f"release to picture, in the page: median {statistics.median(shown):.0f} ms, "
                  f"max {max(shown):.0f} ms over {len(shown)} moves; the event through gradio_client: "
                  f"{server_ms:.0f} ms")
            browser.close()


if __name__ == "__main__":
    main()
