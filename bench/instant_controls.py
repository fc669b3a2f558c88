"""The sliders that re-filter a kept result (detection's score and NMS IoU, segmentation's opacity, faces'
threshold): what a move costs through the app, side by side with the handler's own work called directly.

The app runs in this process on a hub of its own; a TinySSD and a U-Net are trained for one epoch at 64 px (about
a minute), an example is detected and segmented once through gradio_client, then each slider event is timed.

    python bench/instant_controls.py --repeats 20
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.measure import timed  # noqa: E402


def median_ms(fn, repeats: int) -> float:
    return timed(fn, repeats) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()

    from gradio_client import Client, handle_file

    from bench.measure import app_in_process
    from hub_models.detection import show_detections
    from training.tasks.detection import DetectionConfig
    from training.tasks.segmentation import SegmentationConfig
    from webui.detection import EXAMPLES as SCENES
    from webui.jobs import JOB_KEY

    with tempfile.TemporaryDirectory() as root, app_in_process(Path(root)) as (url, runner):
        jobs = {task: runner.submit(cfg).id for task, cfg in (
            ("detection", DetectionConfig(model="tinyssd", epochs=1, image_size=64)),
            ("segmentation", SegmentationConfig(model="unet", epochs=1, image_size=64)))}
        for job in jobs.values():
            assert runner.wait(job, timeout=600).status == "completed", runner.log_tail(job)
        client = Client(url, verbose=False)
        scene = handle_file(SCENES[0])
        client.predict(JOB_KEY + jobs["detection"], scene, 0.5, 0.5, api_name="/detection_detect")
        client.predict(JOB_KEY + jobs["segmentation"], scene, 0.6, api_name="/segmentation_segment")

        from hub_models.detection import detect_image, load_cached

        found = detect_image(load_cached(str(runner.folder(jobs["detection"]).run.model)), SCENES[0])
        scores = iter([0.3, 0.5, 0.7] * 1000)
        rows = [
            ("detection score slider", lambda: client.predict(next(scores), 0.5, api_name="/detection_filter"),
             lambda: show_detections(SCENES[0], found, next(scores), 0.5)),
            ("segmentation opacity slider", lambda: client.predict(next(scores), api_name="/segmentation_opacity"),
             None),
        ]
        print(f"{'control':30} {'through the app':>16} {'handler alone':>14}")
        for name, through, alone in rows:
            a = median_ms(through, args.repeats)
            b = f"{median_ms(alone, args.repeats):11.1f} ms" if alone else ""
            print(f"{name:30} {a:13.1f} ms {b:>14}", flush=True)


if __name__ == "__main__":
    main()
