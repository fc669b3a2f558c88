"""Line fitting: the config and the declaration (torch-free)."""
from __future__ import annotations

from dataclasses import dataclass

from common.errors import ConfigError
from training.config import TrainConfig, opt
from training.tasks import Task


@dataclass
class LineConfig(TrainConfig):
    epochs: int = opt(3, "passes over the points", min=1, max=100)
    lr: float = opt(0.1, "peak learning rate", label="Learning rate", min=1e-6, max=10)
    slope: float = opt(2.0, "the true slope a of y = a x + b", min=-100, max=100)
    noise: float = opt(0.1, "standard deviation of the noise added to y", min=0, max=10)
    points: int = opt(256, "points drawn", min=8, max=100_000)

    def check(self) -> None:
        if self.points < 2 * self.batch_size and not self.dry_run:
            raise ConfigError("points", "Points: at least two batches of them")


TASK = Task(name="line", title="Line fitting", config=LineConfig, trainer="example_task.trainer",
            metric="mse", dry_run={"points": 16}, tab="example_task.tab")
