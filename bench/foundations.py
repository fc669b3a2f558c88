"""Foundations tab speed: how many times a second the optimiser lab and the 2-D playground can redraw, against
their computation alone (the issue asks for 10 updates a second on two cores).

Optimiser lab: per surface, all seven optimisers, 300 steps: the bare race (lab.optim.race, no pictures: the limit)
and the race drawing a picture after every step. 2-D playground: an MLP (2 x 8 tanh, SGD, batch 32) on the moons
for 1,000 steps: bare (one frame at the end), then with a frame (the decision regions on a 120 x 120 grid, both
losses, gradient norms) every 10 steps and each frame drawn. Inside a CNN (the classification tab): t-SNE of 2,000
points of a LeNet's 84 penultimate features as the tab runs it (hub_models.inside.project: PCA to 50, 500
iterations) against scikit-learn's defaults on the raw features (the issue asks for under 10 s). Median of the
repeats after one warm-up.

    .venv/bin/python bench/foundations.py [--steps 300] [--repeats 3]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from measure import timed  # noqa: E402 (bench/measure.py)
from lab.optim import SURFACES, race, race_picture  # noqa: E402
from lab.playground import Knobs, frame_picture, train  # noqa: E402


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
    knobs = Knobs(dataset="moons", steps=1000)
    bare = timed(lambda: list(train(knobs, every=1000)), args.repeats)
    drawn = timed(lambda: [frame_picture(f, knobs) for f in train(knobs, every=10)], args.repeats)
    print(f"\n2-D playground, 1,000 MLP steps: {bare:.2f} s bare ({1000 / bare:.0f} steps/s); with 100 frames drawn "
          f"{drawn:.2f} s: {100 / max(drawn - bare, 1e-9):.0f} frames/s beyond the training itself, "
          f"{100 / drawn:.0f} frames/s in all")
    tsne(args.repeats)


def tsne(repeats: int) -> None:
    import torch
    from sklearn.manifold import TSNE

    from hub_models.classification import create_model
    from hub_models.inside import penultimate, project
    from training.classification import load_digits_tensors

    x, y, names = load_digits_tensors(28)
    x = torch.cat([x, x[:203].flip(-1)])  # 2,000 images
    torch.manual_seed(0)
    model = create_model("lenet", num_classes=10, in_channels=1, image_size=28, labels=names, mean=[0.0], std=[1.0])
    feats, _ = penultimate(model.eval(), x)
    ours = timed(lambda: project(feats, "t-SNE"), repeats)
    plain = timed(lambda: TSNE(2, random_state=0).fit_transform(feats), repeats)
    print(f"\nt-SNE of {len(feats)} points x {feats.shape[1]} features: the tab's {ours:.2f} s, "
          f"scikit-learn's defaults {plain:.2f} s")


if __name__ == "__main__":
    main()
