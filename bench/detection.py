"""Object detection on CPU: predict latency per image for each detector family, and training
throughput of the engine against a bare loop on TinySSD.

Latency: one 128x128 image through ``candidates`` (network + decoding, before NMS), median of
``--repeats`` runs after a warm-up, for every registered detector and a small DETR (transformers).
Throughput: TinySSD on the built-in shapes, same data, batch, optimizer, schedule and seed; both
evaluate mAP on the validation split after every epoch. Target: the engine within 5 %.

    .venv/bin/python bench/detection.py [--epochs 2] [--repeats 20]
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
from torch.utils.data import DataLoader  # noqa: E402

from hub_models.catalog import DETECTORS  # noqa: E402
from hub_models.detection import create_detector  # noqa: E402
from training.detection import DetectionConfig, build_task  # noqa: E402
from training.engine import fit, lr_factor, make_optimizer  # noqa: E402


def tiny_detr():
    from transformers import DetrConfig, DetrForObjectDetection, DetrImageProcessor, ResNetConfig

    from hub_models.detection import TransformersDetector

    backbone = ResNetConfig(embedding_size=32, hidden_sizes=[32, 64, 128, 256], depths=[1, 1, 1, 1],
                            out_features=["stage4"])
    cfg = DetrConfig(backbone_config=backbone, d_model=128, encoder_layers=2, decoder_layers=2, num_queries=50,
                     id2label={0: "ellipse", 1: "rectangle", 2: "triangle"})
    return TransformersDetector(DetrForObjectDetection(cfg).eval(),
                                DetrImageProcessor(size={"shortest_edge": 128, "longest_edge": 128}))


def latency(repeats: int) -> None:
    x = torch.rand(1, 3, 128, 128)
    models = {name: create_detector(name, 3, ["a", "b", "c"], 128).eval() for name in DETECTORS}
    models["detr (transformers, small)"] = tiny_detr()
    print(f"{'detector':28s} {'parameters':>11s} {'ms / image':>10s}")
    for name, m in models.items():
        m.candidates(x)  # warm-up
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            m.candidates(x)
            times.append(time.perf_counter() - t)
        n = sum(p.numel() for p in m.parameters())
        print(f"{name:28s} {n / 1e6:10.2f}M {1000 * statistics.median(times):10.1f}")


def bare(cfg: DetectionConfig) -> float:
    spec = build_task(cfg)
    model, data = spec.model, spec.train_data
    opt = make_optimizer(cfg, model.parameters())
    loader = DataLoader(data, batch_size=cfg.batch_size, shuffle=True, drop_last=True, collate_fn=spec.collate)
    total = len(loader) * cfg.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(cfg, s, total))
    val = DataLoader(spec.val_data, batch_size=256, collate_fn=spec.collate)

    class Acc:  # what evaluate needs from Accelerate
        @staticmethod
        def unwrap_model(m):
            return m

    start = time.perf_counter()
    for _ in range(cfg.epochs):
        model.train()
        for batch in loader:
            loss = spec.loss(model, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        spec.evaluate(model, val, Acc)
    return time.perf_counter() - start


def engine(cfg: DetectionConfig) -> float:
    start = time.perf_counter()
    for e in fit(cfg, build_task(cfg)):
        if e["type"] == "eval":
            last = time.perf_counter()
    return last - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    latency(args.repeats)
    with tempfile.TemporaryDirectory() as d:
        cfg = DetectionConfig(epochs=args.epochs, output_dir=d, device="cpu")
        b = bare(cfg)
        e = engine(cfg)
    n = 1000 * args.epochs
    print(f"\nTinySSD, {args.epochs} epochs of 1000 images at 128 px, eval after each:")
    print(f"  bare loop {n / b:6.1f} img/s ({b:.1f} s)\n  engine    {n / e:6.1f} img/s ({e:.1f} s)  "
          f"{100 * (e / b - 1):+.1f} %")


if __name__ == "__main__":
    main()
