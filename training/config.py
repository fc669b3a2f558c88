"""Typed run configurations and the command line generated from them.

Every field of a config dataclass becomes a ``--flag``; ``metadata`` carries its help
text and choices, so the CLI, the UI form and the tests all read one definition.
"""
from __future__ import annotations

import argparse
import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any

class TrainingError(Exception):
    """A run cannot go on; the message says why in one line. (Here, not in engine.py, so that modules
    the UI imports at start, like the data checks, do not import torch.)"""


OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "step", "onecycle")


def opt(default: Any, help: str, choices: tuple | None = None, **kw) -> Any:  # noqa: A002 - argparse's word
    """A config field with its CLI help (and choices)."""
    meta = {"help": help, "choices": choices}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta, **kw)
    return field(default=default, metadata=meta, **kw)


@dataclass
class TrainConfig:
    """Options every task shares."""

    output_dir: str = opt("runs/latest", "folder for checkpoints, metrics.json, events.jsonl and the model")
    epochs: int = opt(5, "passes over the training split")
    batch_size: int = opt(64, "examples per step")
    optimizer: str = opt("adamw", "optimizer", OPTIMIZERS)
    lr: float = opt(1e-3, "peak learning rate")
    schedule: str = opt("cosine", "learning-rate schedule over the run", SCHEDULES)
    warmup_steps: int = opt(0, "linear warm-up steps before the schedule")
    weight_decay: float = opt(0.0, "weight decay (decoupled for adamw)")
    adam_beta1: float = opt(0.9, "beta1 of adam/adamw (the gradient average's momentum); GANs train better at 0.5")
    grad_clip: float = opt(0.0, "clip the gradient norm to this value (0: off)")
    seed: int = opt(0, "random seed: the same seed gives the same run")
    device: str = opt("auto", "auto, cpu, cuda or mps", ("auto", "cpu", "cuda", "mps"))
    mixed_precision: str = opt("no", "mixed precision on GPUs", ("no", "fp16", "bf16"))
    num_workers: int = opt(0, "data-loader worker processes")
    push_to_hub: str = opt("", "repo id to push the trained model to (and checkpoints, see --hub-strategy)")
    hub: str = opt("local", "hub to push to / resume from: local, hf or a URL")
    private: bool = opt(False, "make the pushed repo private")
    hub_strategy: str = opt("end", "push only the final model, or every epoch's checkpoint too",
                            ("end", "checkpoint"))
    resume: str = opt("", "continue from the last checkpoint: 'auto' (this output dir), a folder, or a hub repo id")
    dry_run: bool = opt(False, "one tiny step on a few examples, to check that everything is wired")
    max_steps: int = opt(0, "stop after this many optimizer steps (0: no limit)")


def _arg_type(tp: Any) -> Any:
    if typing.get_origin(tp) is not None:
        return str
    return tp if tp in (int, float, str) else str


def add_config_args(parser: argparse.ArgumentParser, cls: type) -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        help_ = f.metadata.get("help", "")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        if hints[f.name] is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=help_)
        else:
            parser.add_argument(flag, type=_arg_type(hints[f.name]), default=default,
                                choices=f.metadata.get("choices"), help=help_)


def config_from_args(cls: type, args: argparse.Namespace) -> Any:
    return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls)})


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)
