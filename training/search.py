"""Random hyper-parameter search (Bergstra & Bengio, https://jmlr.org/papers/v13/bergstra12a.html): trials drawn
around a base config, each an ordinary job of the runner, and the table that ranks them. Torch-free.

Random beats a grid at the same budget because only a few hyper-parameters matter and a grid spends most of its
trials repeating their values; rates and weight decays are drawn on a log scale, where their effect is even.
"""
from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Sequence
from typing import Any

from .config import TrainConfig, config_from_values

MAX_TRIALS = 20  # one search queues at most this many jobs


def log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def draw(n: int, seed: int, lr: tuple[float, float] | None = None, weight_decay: tuple[float, float] | None = None,
         batch_sizes: Sequence[int] = ()) -> list[dict[str, Any]]:
    """``n`` settings: ``lr`` log-uniform in its range; ``weight_decay`` log-uniform when its range is above 0,
    else uniform; ``batch_size`` one of ``batch_sizes``. A field with no range is not drawn."""
    if n < 1:
        raise ValueError(f"trials: at least 1, not {n}")
    for name, span in (("learning rate", lr), ("weight decay", weight_decay)):
        if span is not None and not 0 <= span[0] <= span[1]:
            raise ValueError(f"{name} range: low <= high and neither below 0, not {span[0]:g} .. {span[1]:g}")
    if lr is not None and lr[0] <= 0:
        raise ValueError("learning rate range: above 0 (it is drawn on a log scale)")
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        values: dict[str, Any] = {}
        if lr is not None:
            values["lr"] = float(f"{log_uniform(rng, *lr):.3g}")
        if weight_decay is not None:
            low, high = weight_decay
            decay = log_uniform(rng, low, high) if low > 0 else rng.uniform(low, high)
            values["weight_decay"] = float(f"{decay:.3g}")
        if batch_sizes:
            values["batch_size"] = int(rng.choice(list(batch_sizes)))
        out.append(values)
    return out


def trial_configs(base: TrainConfig, settings: list[dict[str, Any]], group: str) -> list[TrainConfig]:
    """The base config with each setting, validated, in tracker group ``group``: nothing pushed, nothing resumed
    (a trial is a fresh run; push the best one afterwards)."""
    return [validated(dataclasses.replace(base, **s, push_to_hub="", resume="", run_name="", run_group=group))
            for s in settings]


def validated(cfg: TrainConfig) -> TrainConfig:
    cfg.validate(deep=False)
    return cfg


def config_of(cls: type, saved: dict[str, Any]) -> TrainConfig:
    """A job's saved config (``Job.config``) as its task's config class again; fields added since are defaults."""
    names = {f.name for f in dataclasses.fields(cls)}
    return config_from_values(cls, {k: v for k, v in saved.items() if k in names}, deep=False)


def describe(setting: dict[str, Any]) -> str:
    """"lr 0.0031, batch 32" for a trial's label."""
    short = {"lr": "lr", "weight_decay": "wd", "batch_size": "batch"}
    return ", ".join(f"{short[k]} {v:g}" for k, v in setting.items())


def ranked(rows: list[dict[str, Any]], metric: str, lower_is_better: bool = False) -> list[dict[str, Any]]:
    """Rows (each with ``metric`` or None) best first; runs with no value yet go last, in their order."""
    done = [r for r in rows if r.get(metric) is not None]
    waiting = [r for r in rows if r.get(metric) is None]
    return sorted(done, key=lambda r: r[metric], reverse=not lower_is_better) + waiting
