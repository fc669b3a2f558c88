"""Optimiser lab speed: how many times a second the tab can redraw a race, against the race alone.

The tab streams one picture (trajectories over the surface, the loss curves) per frame. Measured per surface with
all seven optimisers, 300 steps: the bare race (lab.optim.race, no pictures: the limit), and the race drawing a
picture after every step (what the stream would cost at its most frequent; the tab draws about 60 of them). Median
of the repeats after one warm-up.

    .venv/bin/python bench/optim_lab.py [--steps 300] [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lab.optim import SURFACES, race, race_picture  # noqa: E402


def timed(fn, repeats: int) -> float:
    fn()
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"{'surface':28} {'race alone':>12} {'+ a picture per step':>22} {'pictures/s':>11}")
    for name, surf in SURFACES.items():
        bare = timed(lambda: [None for _ in race(name, dict(surf.lrs), args.steps, every=args.steps)], args.repeats)
        drawn = timed(lambda: [race_picture(r) for r in race(name, dict(surf.lrs), args.steps, every=1)],
                      args.repeats)
        per_picture = (drawn - bare) / args.steps
        print(f"{name:28} {bare * 1000 / args.steps:9.2f} ms/step {drawn * 1000 / args.steps:15.1f} ms/step "
              f"{1 / max(per_picture, 1e-9):10.0f}", flush=True)


if __name__ == "__main__":
    main()
