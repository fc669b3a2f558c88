"""What following a job costs the app: one panel tick against a run of 10k, 100k and 1M events.

Side by side: the tick as it was (read and parse the whole events file, build every point; the reference a
tick must beat) and the tick as it is (webui.jobs.watch on the job's shared RunDigest, after ten new steps).
Also the plot payload each sends (the loss frame as JSON). No job runs: the events file is written here.
With ``--watched-job``, a LeNet job runs through the runner with no page and with four pages following it (a
thread each, one tick a second), alternately, and the job's own wall time is compared.

    python bench/panel_tick.py --events 10000 100000 1000000
    python bench/panel_tick.py --watched-job --pairs 3
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.measure import timed  # noqa: E402


def step(s: int) -> str:
    return json.dumps({"type": "step", "time": time.time(), "step": s, "epoch": 1 + s // 1000, "loss": 1 / (1 + s),
                       "lr": 0.01, "throughput": 512.0, "eta_s": 10.0}) + "\n"


def whole_file_tick(path: Path):
    """The old tick: every event parsed, every step a point."""
    import pandas as pd

    from training.events import read_events

    events, _ = read_events(path)
    steps = [e for e in events if e["type"] == "step"]
    return pd.DataFrame({"step": [e["step"] for e in steps], "loss": [e["loss"] for e in steps]})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--watched-job", action="store_true")
    ap.add_argument("--pairs", type=int, default=3)
    args = ap.parse_args()
    if args.watched_job:
        return watched_job(args.pairs)

    from training.runner import Job, JobRunner
    from webui.jobs import PanelView, watch

    view = PanelView("classification", "accuracy", "img/s")
    print(f"{'events':>9} {'whole file':>11} {'payload':>9} {'incremental':>12} {'payload':>9}")
    for n in args.events:
        with tempfile.TemporaryDirectory() as root:
            runner = JobRunner(root)
            try:
                job = Job(id="20261130-000000-abcdef", task="classification", argv=[], device="cpu",
                          created=time.time(), status="completed")
                runner._save(job)
                path = runner.folder(job.id).run.events
                path.parent.mkdir(parents=True)
                with open(path, "w") as f:
                    f.write(json.dumps({"type": "start", "total_steps": 2 * n}) + "\n")
                    f.writelines(step(s) for s in range(1, n))
                old = timed(lambda: whole_file_tick(path), max(1, args.repeats if n <= 100_000 else 2))
                old_bytes = len(whole_file_tick(path).to_json())
                watch(runner, view, job.id)  # the first look reads the file once
                nxt = [n]

                def new_tick():
                    with open(path, "a") as f:  # a second of a fast job: ten new steps
                        f.writelines(step(s) for s in range(nxt[0], nxt[0] + 10))
                    nxt[0] += 10
                    return watch(runner, view, job.id)

                new = timed(new_tick, args.repeats * 4)
                new_bytes = len(new_tick()[2].to_json())
            finally:
                runner.close()
        print(f"{n:>9,} {old * 1000:>9.1f}ms {old_bytes / 1e6:>7.2f}MB {new * 1000:>10.1f}ms {new_bytes / 1e6:>7.3f}MB",
              flush=True)


def watched_job(pairs: int, pages: int = 4) -> None:
    import statistics
    import threading

    from training.runner import JobRunner
    from training.tasks.classification import ClassificationConfig
    from webui.jobs import PanelView, tick

    view = PanelView("classification", "accuracy", "img/s")
    took: dict[int, list[float]] = {0: [], pages: []}
    with tempfile.TemporaryDirectory() as root:
        runner = JobRunner(root, poll_s=0.2)
        try:
            for _ in range(pairs):
                for watchers in (0, pages):
                    job = runner.submit(ClassificationConfig(model="lenet", epochs=3, report_to="none"))
                    done = threading.Event()

                    def page():
                        seen = None
                        while not done.wait(1.0):
                            *_, seen, _ = tick(runner, view, job.id, seen)

                    threads = [threading.Thread(target=page) for _ in range(watchers)]
                    for t in threads:
                        t.start()
                    end = runner.wait(job.id, timeout=600)
                    done.set()
                    for t in threads:
                        t.join()
                    assert end.status == "completed", runner.log_tail(job.id)
                    took[watchers].append(end.ended - end.started)
                    print(f"{watchers} pages: {took[watchers][-1]:.2f} s", flush=True)
        finally:
            runner.close()
    a, b = statistics.median(took[0]), statistics.median(took[pages])
    print(f"median: no page {a:.2f} s, {pages} pages {b:.2f} s, ratio {b / a:.3f}")


if __name__ == "__main__":
    main()
