"""App cold start: seconds from `python app.py` to the first served page (target: < 4 s).

    .venv/bin/python bench/cold_start.py [--runs 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from measure import free_port  # bench/measure.py

ROOT = Path(__file__).resolve().parents[1]


def one_run() -> float:
    port = free_port()
    env = {**os.environ, "DLP_HOME": tempfile.mkdtemp(prefix="dlp-bench-")}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--no-starter"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                    return time.perf_counter() - start
            except httpx.HTTPError:
                time.sleep(0.05)
            if proc.poll() is not None or time.perf_counter() - start > 120:
                raise RuntimeError("app did not start")
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    one_run()  # warm the OS file cache once, as a user's second start would be
    times = [one_run() for _ in range(args.runs)]
    print(f"cold start to first page: median {statistics.median(times):.2f} s, "
          f"min {min(times):.2f} s, max {max(times):.2f} s over {args.runs} runs")
    mods = subprocess.run([sys.executable, "-c", "import sys, app; print(' '.join(m for m in "
                           "('torch','transformers','timm','diffusers') if m in sys.modules) or 'none')"],
                          cwd=ROOT, capture_output=True, text=True).stdout.strip()
    print(f"heavy libraries imported by `import app`: {mods}")


if __name__ == "__main__":
    main()
