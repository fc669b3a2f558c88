"""Fixed costs: what a training job pays before its first step, and the first Predict after the app starts.

1. A job: ``python -m training classification --dry-run`` (one LeNet step, the whole start-up included) beside
   its limit, ``python -c "import torch"``; wall time and peak memory, alternating.
2. The first prediction: ``app.py`` started on a data folder holding a LeNet and a MiniLM classifier, the page
   served, ``--wait`` seconds of a visitor reading it, then the first answer of each model and a second one
   (through the HTTP endpoint: the same imports and loads as a Predict click); with the background warm-up
   (the default) and with ``--no-warm-up``, alternating.

    .venv/bin/python bench/fixed_costs.py [--runs 3] [--wait 8]
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from measure import free_port, wait_for  # noqa: E402


def timed_process(cmd: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of a command, by GNU time."""
    out = subprocess.run(["/usr/bin/time", "-f", "%e %M", *cmd], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True)
    wall, kb = out.stderr.strip().splitlines()[-1].split()
    return float(wall), int(kb) / 1024


def first_predictions(home: str, jobs: dict[str, str], png: bytes, wait: float, warm: bool) -> dict[str, float]:
    import httpx

    port = free_port()
    cmd = [sys.executable, "app.py", "--port", str(port), "--no-starter"] + ([] if warm else ["--no-warm-up"])
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "DLP_HOME": home}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/", proc)
        time.sleep(wait)
        got = {}
        for name, job in jobs.items():
            url = f"http://127.0.0.1:{port}/infer/job/{job}"
            kw = {"content": png, "headers": {"content-type": "image/png"}} if name == "lenet" else \
                {"json": {"inputs": "The soup was wonderful."}}
            for turn in ("first", "second"):
                t = time.perf_counter()
                httpx.post(url, timeout=120, **kw).raise_for_status()
                got[f"{name} {turn}"] = time.perf_counter() - t
        return got
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--wait", type=float, default=8, help="seconds between the page and the first click")
    args = p.parse_args()

    home = tempfile.mkdtemp(prefix="dlp-bench-fixed-")
    env = {**os.environ, "DLP_HOME": home, "TRACKIO_DIR": str(Path(home) / "trackio")}
    job_cmd = [sys.executable, "-m", "training", "classification", "--dry-run", "--output-dir"]
    limit_cmd = [sys.executable, "-c", "import torch"]
    job, limit = [], []
    for i in range(args.runs):
        for name in (("job", "limit") if i % 2 == 0 else ("limit", "job")):
            if name == "job":
                job.append(timed_process(job_cmd + [str(Path(home) / f"dry-{i}")], env))
            else:
                limit.append(timed_process(limit_cmd, env))
    med = lambda xs, k: statistics.median(x[k] for x in xs)  # noqa: E731
    print(f"a LeNet dry run (python -m training):  {med(job, 0):.2f} s, peak {med(job, 1):.0f} MB")
    print(f"import torch alone (the limit):        {med(limit, 0):.2f} s, peak {med(limit, 1):.0f} MB")

    from PIL import Image

    from training.bert import BertConfig
    from training.classification import ClassificationConfig
    from training.runner import JobRunner

    os.environ["DLP_HOME"] = home
    runner = JobRunner(Path(home) / "jobs", poll_s=0.2)
    jobs = {"lenet": runner.submit(ClassificationConfig(model="lenet", epochs=1)).id,
            "minilm": runner.submit(BertConfig(dry_run=True)).id}
    while any(runner.get(j).status in ("queued", "running") for j in jobs.values()):
        time.sleep(0.5)
    runner.close()
    buf = io.BytesIO()
    Image.new("L", (64, 64)).save(buf, "PNG")
    results: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    for i in range(args.runs):
        for warm in ((True, False) if i % 2 == 0 else (False, True)):
            results[warm].append(first_predictions(home, jobs, buf.getvalue(), args.wait, warm))
    for warm, label in ((False, "--no-warm-up (before)"), (True, "warm-up (default)")):
        runs = results[warm]
        print(f"{label:<22} " + ", ".join(f"{k} {statistics.median(r[k] for r in runs) * 1000:.0f} ms"
                                          for k in runs[0]))


if __name__ == "__main__":
    main()
