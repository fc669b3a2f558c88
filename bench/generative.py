"""Generative models: samples per second for each family on CPU, and DDPM sampling with fewer steps
(DDIM) against the full schedule, each with its FID.

Trains each model on the built-in digits at 16 px with the trainer's defaults (``--epochs`` each; the
DDPM gets ``--ddpm-epochs``), then times sampling 64 images (median of the repeats after a warm-up) and
scores 300 samples against the validation split with the in-project digit features
(training.gen_score; held-out real images give the floor).

    .venv/bin/python bench/generative.py [--epochs 30] [--ddpm-epochs 40] [--repeats 3] [--only pixelcnn ...]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from generate_speed import timed  # noqa: E402

from hub_models.generative import DDPM, GENERATIVE_MODELS, diffusion_steps, generate, load_generative  # noqa: E402
from training.generative import load_images  # noqa: E402
from training.tasks import train  # noqa: E402
from training.tasks.generative import GenerativeConfig  # noqa: E402


def trained(name: str, epochs: int, out: Path):
    t = time.perf_counter()
    for ev in train(GenerativeConfig(model=name, epochs=epochs, output_dir=str(out / name))):
        if ev["type"] == "end":
            assert ev["status"] == "completed", ev
            return load_generative(ev["model_dir"]), ev["metrics"], time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--ddpm-epochs", type=int, default=40)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--only", nargs="+", choices=list(GENERATIVE_MODELS), default=list(GENERATIVE_MODELS),
                   help="the models to train and time (the DDPM's step table needs ddpm)")
    args = p.parse_args()
    from training.classification import split
    from training.gen_score import Scorer, digit_accuracy

    cfg = GenerativeConfig()
    x, y, _, _, _ = load_images(cfg)
    tr, va = split(len(x), cfg.val_split, cfg.seed)
    scorer = Scorer("digits", x[va][:300], reference=x[tr])
    print(f"digit feature network: validation accuracy {digit_accuracy():.3f}; FID floor (real held-out "
          f"images, 300) {scorer.floor:.2f}\n")
    print("| model | parameters | train time | FID | samples/s (64, CPU) |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        models = {}
        for name in args.only:
            model, metrics, took = trained(name, args.ddpm_epochs if name == "ddpm" else args.epochs, out)
            models[name] = model
            n = sum(p.numel() for p in model.parameters())
            if isinstance(model, DDPM):
                fn = lambda: list(diffusion_steps(model, 64, 0, 50, "ddim", every=50))  # noqa: E731
                label = " (DDIM, 50 steps)"
            else:  # a conditional GAN cycles through its classes
                fn = lambda: generate(model, 64, 0)  # noqa: E731
                label = ""
            rate = 64 / timed(fn, args.repeats)
            print(f"| {name}{label} | {n / 1e6:.2f} M | {took:.0f} s ({args.ddpm_epochs if name == 'ddpm' else args.epochs} "
                  f"epochs) | {metrics['fid']:.2f} | {rate:,.0f} |", flush=True)
        if "ddpm" not in models:
            return
        print("\nDDPM sampling: steps against quality (300 samples, FID with the digit features)\n")
        print("| sampler | steps | s per 64 images | FID |")
        print("|---|---|---|---|")
        model = models["ddpm"]
        for sampler, steps in (("ddpm", model.scheduler.config.num_train_timesteps), ("ddpm", 100),
                               ("ddim", 100), ("ddim", 50), ("ddim", 20), ("ddim", 10)):
            t = time.perf_counter()
            list(diffusion_steps(model, 64, 0, steps, sampler, every=steps))
            per64 = time.perf_counter() - t
            fake = torch.cat([list(diffusion_steps(model, 150, s, steps, sampler, every=steps))[-1][1]
                              for s in (1, 2)])
            print(f"| {sampler.upper()} | {steps} | {per64:.2f} | {scorer.fid(fake):.2f} |", flush=True)


if __name__ == "__main__":
    main()
