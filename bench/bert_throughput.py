"""BERT fine-tuning throughput: our engine against ``transformers.Trainer`` on the same work.

Same base (all-MiniLM-L6-v2), data (the built-in sentiment sample, 480 training reviews, tokenised
once), batch size, dynamic padding, AdamW, learning rate, warm-up and seed. Both evaluate on the
validation split after every epoch and save a checkpoint. Reported: training examples per second
over the epochs after the first (start-up excluded), median of the repeats; ratio engine / Trainer.

    .venv/bin/python bench/bert_throughput.py [--epochs 3] [--repeats 2]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.bert import BertConfig, build_task  # noqa: E402
from training.engine import fit  # noqa: E402


def engine(cfg: BertConfig) -> float:
    spec = build_task(cfg)
    n = len(spec.train_data)
    ends = []
    for ev in fit(cfg, spec):
        if ev["type"] == "checkpoint":  # after the epoch's evaluation and checkpoint
            ends.append(time.perf_counter())
            if ev["epoch"] == cfg.epochs:
                break
    return n * (len(ends) - 1) / (ends[-1] - ends[0])


def trainer(cfg: BertConfig) -> float:
    import transformers

    spec = build_task(cfg)  # the same model, tokenised data and collator
    n = len(spec.train_data)
    ends: list[float] = []

    class Clock(transformers.TrainerCallback):
        def on_save(self, args, state, control, **kw):  # after the epoch's evaluation and checkpoint
            ends.append(time.perf_counter())

    args = transformers.TrainingArguments(
        output_dir=cfg.output_dir, num_train_epochs=cfg.epochs, per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=256, learning_rate=cfg.lr, warmup_steps=cfg.warmup_steps,
        lr_scheduler_type="constant_with_warmup", weight_decay=cfg.weight_decay, seed=cfg.seed,
        eval_strategy="epoch", save_strategy="epoch", logging_steps=10, report_to=[], use_cpu=True,
        disable_tqdm=True, save_only_model=False)  # 480 = 30 full batches: nothing to drop
    t = transformers.Trainer(model=spec.model, args=args, train_dataset=spec.train_data, eval_dataset=spec.val_data,
                             data_collator=spec.collate, callbacks=[Clock()])
    t.train()
    return n * (len(ends) - 1) / (ends[-1] - ends[0])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    results: dict[str, list[float]] = {"engine": [], "transformers.Trainer": []}
    for r in range(args.repeats):
        for name, fn in (("engine", engine), ("transformers.Trainer", trainer)):
            with tempfile.TemporaryDirectory() as d:
                cfg = BertConfig(epochs=args.epochs, seed=r, device="cpu", output_dir=d)
                results[name].append(fn(cfg))
                print(f"{name}, run {r + 1}: {results[name][-1]:.1f} examples/s", flush=True)
    med = {k: statistics.median(v) for k, v in results.items()}
    print("\n| loop | examples/s (epochs 2..N, median) |\n|---|---|")
    for k, v in med.items():
        print(f"| {k} | {v:.1f} |")
    print(f"| **engine / Trainer** | **{med['engine'] / med['transformers.Trainer']:.3f}** |")


if __name__ == "__main__":
    main()
