"""Where a run and a job keep their files: the one place that names them.

A run's output folder (``--output-dir``) holds what the trainer writes; a job's folder holds the
runner's state and the run's output folder as ``out/``::

    jobs/<id>/job.json            the runner's record of the job (no secrets)
    jobs/<id>/log.txt             the process's stdout and stderr
    jobs/<id>/out/events.jsonl    one event per line (training.events)
    jobs/<id>/out/metrics.json    the final metrics, written with the model
    jobs/<id>/out/model/          the publishable model folder (config.json or model_index.json, weights, README.md)
    jobs/<id>/out/samples/        what the model made after each epoch (epoch-NNNN.png)
    jobs/<id>/out/checkpoints/    epoch-NNNN/ folders and the ``latest`` pointer (training.engine)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MODEL_MARKERS = ("config.json", "model_index.json")  # ours, timm, transformers; a diffusers pipeline


@dataclass(frozen=True)
class RunFolder:
    """The output folder of one run."""

    root: Path

    @property
    def events(self) -> Path:
        return self.root / "events.jsonl"

    def rank_events(self, rank: int) -> Path:
        """Events of another process of a multi-GPU run (only rank 0 writes ``events``)."""
        return self.root / f"events.rank{rank}.jsonl"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.json"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    def sample(self, epoch: int) -> Path:
        return self.samples / f"epoch-{epoch:04d}.png"

    def sample_pictures(self) -> list[tuple[int, Path]]:
        """The saved sample pictures as (epoch, path), oldest first."""
        return sorted((int(p.stem.split("-")[1]), p) for p in self.samples.glob("epoch-[0-9]*.png"))

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"


@dataclass(frozen=True)
class JobFolder:
    """A job of the UI's runner: its record, its log and its run's output folder."""

    root: Path

    @property
    def record(self) -> Path:
        return self.root / "job.json"

    @property
    def log(self) -> Path:
        return self.root / "log.txt"

    @property
    def run(self) -> RunFolder:
        return RunFolder(self.root / "out")


def model_marker(folder: Path) -> Path | None:
    """The file that makes ``folder`` a saved model, if it is one."""
    return next((folder / m for m in MODEL_MARKERS if (folder / m).is_file()), None)
