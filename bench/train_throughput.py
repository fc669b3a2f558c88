"""Training throughput of the engine (training.engine.fit) against a bare hand-written PyTorch loop.

Same model (LeNet), data (the digits, 1437 training images at 28 px), batch size, optimizer and
seed; both count the running training accuracy of their batches and evaluate on the validation split after every
epoch, as d2l's hand-written train_ch6 does. Epochs 2 on are compared (median epoch times over all repeats, the
two loops taking turns to go first).
The engine also yields events, writes checkpoints (spaced: a minute apart, and after the last epoch)
and counts the training accuracy of its batches. Target: within 5 %.

    .venv/bin/python bench/train_throughput.py [--epochs 10] [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from training.classification import ClassificationConfig, build_task  # noqa: E402
from training.engine import fit, make_optimizer  # noqa: E402


def bare(cfg: ClassificationConfig) -> list[float]:
    """d2l's train_ch6 by hand: the loss, the running training accuracy of the batches, validation accuracy
    after each epoch. Returns each epoch's wall time."""
    spec = build_task(cfg)  # the same model, tensors and split
    model = spec.model
    opt = make_optimizer(cfg, model.parameters())  # the same (fused) AdamW: the loops are what is compared
    loader = DataLoader(spec.train_data, batch_size=cfg.batch_size, shuffle=True, drop_last=True)
    val = DataLoader(spec.val_data, batch_size=256)
    times = []
    for _ in range(cfg.epochs):
        start = time.perf_counter()
        model.train()
        hits, seen = 0, 0
        for x, y in loader:
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            hits, seen = hits + (logits.detach().argmax(1) == y).sum(), seen + len(y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for x, y in val:
                correct += (model(x).argmax(1) == y).sum().item()
        int(hits)
        times.append(time.perf_counter() - start)
    return times


def engine(cfg: ClassificationConfig) -> list[float]:
    """The same through training.engine.fit; each epoch's wall time (an epoch ends after its eval, and its
    checkpoint when one is due: the last epoch always writes one)."""
    spec = build_task(cfg)
    times, start = [], time.perf_counter()
    for ev in fit(cfg, spec):
        if ev["type"] == "eval" and ev["epoch"] < cfg.epochs or ev["type"] == "checkpoint" and ev["epoch"] == cfg.epochs:
            times.append(time.perf_counter() - start)
            start = time.perf_counter()
            if ev["epoch"] == cfg.epochs:
                return times  # before the final save and card
    raise RuntimeError("no final checkpoint")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    n_train = len(build_task(ClassificationConfig()).train_data)
    results: dict[str, list[float]] = {"bare loop": [], "engine": []}
    for r in range(args.repeats):
        with tempfile.TemporaryDirectory() as d:
            cfg = dict(model="lenet", epochs=args.epochs, batch_size=32, lr=3e-3, schedule="constant", seed=r,
                       device="cpu", output_dir=d)
            order = ("bare loop", "engine") if r % 2 == 0 else ("engine", "bare loop")  # neither always goes first
            for name in order:
                epochs = (bare if name == "bare loop" else engine)(ClassificationConfig(**cfg))
                results[name] += epochs[1:]  # the first epoch pays the start-up (imports, the Accelerator)
    steady = {}
    for name, times in results.items():
        steady[name] = statistics.median(times)
        print(f"{name:10s} median epoch {steady[name] * 1000:6.1f} ms over {len(times)} epochs: "
              f"{n_train / steady[name]:6.0f} images/s")
    ratio = steady["engine"] / steady["bare loop"]
    print(f"steady-state epoch, engine / bare loop: {ratio:.3f} ({(ratio - 1) * 100:+.1f} %), medians")

if __name__ == "__main__":
    main()
