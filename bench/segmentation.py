"""Semantic segmentation on CPU: predict latency per image for each model family.

One 128x128 image through the network (logits at full size), median of ``--repeats`` runs after a
warm-up, for every registered segmenter and a small SegFormer (transformers).

    .venv/bin/python bench/segmentation.py [--repeats 20]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from hub_models.catalog import SEGMENTERS  # noqa: E402
from hub_models.segmentation import TransformersSegmenter, create_segmenter  # noqa: E402


def small_segformer() -> TransformersSegmenter:
    from transformers import SegformerConfig, SegformerForSemanticSegmentation, SegformerImageProcessor

    cfg = SegformerConfig(num_labels=4)  # the b0 layout: 3.7 M parameters
    return TransformersSegmenter(SegformerForSemanticSegmentation(cfg).eval(),
                                 SegformerImageProcessor(size={"height": 128, "width": 128}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    x = torch.rand(1, 3, 128, 128)
    models = {name: create_segmenter(name, 4, None, 128).eval() for name in SEGMENTERS}
    models["segformer-b0 (transformers)"] = small_segformer()
    print(f"{'model':28s} {'parameters':>11s} {'ms / image':>10s}")
    with torch.no_grad():
        for name, m in models.items():
            m(x)
            times = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                m(x)
                times.append(time.perf_counter() - t)
            n = sum(p.numel() for p in m.parameters())
            print(f"{name:28s} {n / 1e6:10.2f}M {1000 * statistics.median(times):10.1f}")


if __name__ == "__main__":
    main()
