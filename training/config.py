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

from common.errors import ConfigError, UserError


class TrainingError(UserError):
    """A run cannot go on; the message says why in one line. (Here, not in engine.py, so that modules
    the UI imports at start, like the data checks, do not import torch.)"""


OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "step", "onecycle")


def opt(default: Any, help: str, choices: tuple | None = None, *, label: str = "",  # noqa: A002 - argparse's word
        min: float | None = None, max: float | None = None,  # noqa: A002
        suggest: tuple | None = None, **kw) -> Any:
    """A config field with its CLI help, choices and bounds: what the CLI, the tab's form and validate() read.

    ``label`` is the form's label (default: the field name in words); ``min``/``max`` bound a number;
    ``suggest`` lists values a form offers where others are allowed too (``timm:<any architecture>``).
    """
    meta = {"help": help, "choices": choices, "label": label, "min": min, "max": max, "suggest": suggest}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta, **kw)
    return field(default=default, metadata=meta, **kw)


@dataclass
class TrainConfig:
    """Options every task shares."""

    output_dir: str = opt("runs/latest", "folder for checkpoints, metrics.json, events.jsonl and the model")
    epochs: int = opt(5, "passes over the training split", min=1, max=1000)
    batch_size: int = opt(64, "examples per step", min=1, max=4096)
    optimizer: str = opt("adamw", "optimizer", OPTIMIZERS)
    lr: float = opt(1e-3, "peak learning rate", label="Learning rate", min=0)
    schedule: str = opt("cosine", "learning-rate schedule over the run", SCHEDULES)
    warmup_steps: int = opt(0, "linear warm-up steps before the schedule", min=0)
    weight_decay: float = opt(0.0, "weight decay (decoupled for adamw)", min=0, max=1)
    adam_beta1: float = opt(0.9, "beta1 of adam/adamw (the gradient average's momentum); GANs train better at 0.5")
    grad_clip: float = opt(0.0, "clip the gradient norm to this value (0: off)", min=0)
    seed: int = opt(0, "random seed: the same seed gives the same run")
    device: str = opt("auto", "auto, cpu, cuda or mps", ("auto", "cpu", "cuda", "mps"))
    mixed_precision: str = opt("no", "mixed precision on GPUs", ("no", "fp16", "bf16"))
    num_workers: int = opt(0, "data-loader worker processes", min=0, max=64)
    push_to_hub: str = opt("", "repo id to push the trained model to (and checkpoints, see --hub-strategy)")
    hub: str = opt("local", "hub to push to / resume from: local, hf or a URL")
    private: bool = opt(False, "make the pushed repo private")
    export_onnx: bool = opt(False, "also export the model to ONNX (model.onnx beside the weights, checked against "
                                   "PyTorch and named in the card) for use without PyTorch", label="Export to ONNX")
    hub_strategy: str = opt("end", "push only the final model, or each checkpoint too", ("end", "checkpoint"))
    checkpoint_every_s: float = opt(60.0, "write a checkpoint at the end of an epoch once this many seconds have "
                                          "passed since the last one, and after the last epoch (0: every epoch)",
                                    min=0, label="Checkpoint every (s)")
    resume: str = opt("", "continue from the last checkpoint: 'auto' (this output dir), a folder, or a hub repo id")
    dry_run: bool = opt(False, "one tiny step on a few examples, to check that everything is wired")
    max_steps: int = opt(0, "stop after this many optimizer steps (0: no limit)", min=0)
    report_to: str = opt("trackio", "experiment tracker the run also logs to (training.tracking)", ("trackio", "none"))
    run_name: str = opt("", "the run's name in the tracker (default: the output folder's name)")
    run_group: str = opt("", "the tracker's group of runs (a random search names its trials' group)")

    def resolved(self) -> TrainConfig:
        """This config with the defaults that depend on other fields filled in (a new object; here: none)."""
        return self

    def check(self) -> None:
        """Rules between fields, beyond each field's choices and bounds; raise ConfigError. Tasks extend it.
        Cheap: the form's validator runs it in the request that starts a job."""

    def check_deep(self) -> None:
        """Rules that must load a library to decide (does timm have this architecture?); raise ConfigError."""

    def validate(self, deep: bool = True) -> None:
        """Each field's type, choices and bounds, then ``check()`` (and ``check_deep()``): the same verdict in
        the web process (before a job starts, next to the field) and in the trainer."""
        from common.i18n import t

        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value, meta, kind = getattr(self, f.name), f.metadata, hints[f.name]
            label = shown_label(type(self), f)
            if kind in (int, float) and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ConfigError(f.name, t("trainer.config_number", label=label, value=value))
            if kind is int and value != int(value):
                raise ConfigError(f.name, t("trainer.config_whole_number", label=label, value=value))
            if kind is str and not isinstance(value, str):
                raise ConfigError(f.name, t("trainer.config_text", label=label, value=value))
            if (choices := meta.get("choices")) and value not in choices:
                raise ConfigError(f.name, t("trainer.config_choice", label=label, choices=", ".join(map(str, choices)),
                                            value=value))
            if meta.get("min") is not None and value < meta["min"]:
                raise ConfigError(f.name, t("trainer.config_min", label=label, min=meta["min"], value=value))
            if meta.get("max") is not None and value > meta["max"]:
                raise ConfigError(f.name, t("trainer.config_max", label=label, max=meta["max"], value=value))
        self.check()
        if deep:
            self.check_deep()


def label_of(f: dataclasses.Field) -> str:
    """A field's name as a form shows it."""
    return f.metadata.get("label") or f.name.replace("_", " ").capitalize()


def shown_label(cls: type, f: dataclasses.Field) -> str:
    """The field's label in the reader's language (its form key's text; English where the task has no key)."""
    from common.i18n import form_key, t

    key = form_key(cls, f.name)
    return t(key) if key else label_of(f)


def field_label(cls: type, name: str) -> str:
    """The form's label of field ``name`` of config class ``cls``, in the reader's language."""
    return shown_label(cls, next(f for f in dataclasses.fields(cls) if f.name == name))


def _arg_type(tp: Any) -> Any:
    if typing.get_origin(tp) is not None:
        return str
    return tp if tp in (int, float, str) else str


def add_config_args(parser: argparse.ArgumentParser, cls: type) -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        help_ = f.metadata.get("help", "").replace("%", "%%")  # argparse %-formats help texts ("15 %")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        if hints[f.name] is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=help_)
        else:
            parser.add_argument(flag, type=_arg_type(hints[f.name]), default=default,
                                choices=f.metadata.get("choices"), help=help_)


def config_from_args(cls: type, args: argparse.Namespace) -> Any:
    return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls)})


def config_from_values(cls: type, values: dict[str, Any], deep: bool = True) -> Any:
    """A config from a form's named values (numbers arrive as floats, empty text as None), validated.

    Unknown names are a programming error (a typo in a tab), not a user's: they raise TypeError.
    """
    if unknown := set(values) - {f.name for f in dataclasses.fields(cls)}:
        raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        kind = hints[name]
        if value is None:
            value = "" if kind is str else value
        if kind is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        elif kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif kind is str and isinstance(value, (list, tuple)):  # a CheckboxGroup: comma-separated
            value = ",".join(map(str, value))
        elif kind is str:
            value = str(value).strip()
        elif kind is bool:
            value = bool(value)
        kwargs[name] = value
    cfg = cls(**kwargs)
    cfg.validate(deep)
    return cfg


def config_to_argv(cfg: Any) -> list[str]:
    """The flags that give ``cfg`` back through the CLI: the fields that differ from their defaults."""
    defaults = type(cfg)()
    argv = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if value == getattr(defaults, f.name):
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            argv.append(flag if value else "--no-" + f.name.replace("_", "-"))
        else:
            argv += [flag, str(value)]
    return argv


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)
