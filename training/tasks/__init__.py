"""Every task, declared once.

A task module here (torch-free, so the web process can build forms and check values without
loading a network) defines its config dataclass and one :class:`Task`. The CLI
(``python -m training <name>``), the job runner, the tab and the tests all read that declaration.
Adding a task is a module here, its trainer, its tab, and one line in ``MODULES``.
"""
from __future__ import annotations

import dataclasses
import importlib
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

if TYPE_CHECKING:
    from ..config import TrainConfig
    from ..engine import TaskSpec

# The one registration line per task: its declaration module under training.tasks, in tab order.
MODULES = ("classification", "detection", "segmentation", "faces", "style", "generative", "bert", "textgen",
           "translation")


@dataclass(frozen=True)
class Task:
    name: str  # the CLI's subcommand, a job's task, the prefix of the tab's API names
    title: str  # the tab's title
    config: type[TrainConfig]  # the contract between tab, runner and CLI
    trainer: str  # module with build_task(cfg) -> TaskSpec (imports torch)
    metric: str  # the validation metric the jobs table, the model picker, a search's ranking and the tests follow
    lower_is_better: bool = False  # of ``metric`` (perplexity, FID, a style loss)
    dry_run: dict[str, Any] = field(default_factory=dict)  # the field values --dry-run runs with
    tab: str | None = None  # module with build(ctx) that lays out the tab
    space: str | None = None  # folder under spaces/ with the demo a model of this task is published as (hub.publish)
    # The Hub's pipeline tags of this task's models (the cards' pipeline_tag): the Predict side's pull list, the
    # HTTP endpoint (webui.endpoint)
    pipelines: tuple[str, ...] = ()
    memory_gb: float = 2.0  # what one job asks a cluster's node for (training.ray_jobs: the job runs with this reserved)

    def build_spec(self, cfg: TrainConfig) -> TaskSpec:
        return importlib.import_module(self.trainer).build_task(cfg)

    def prepared(self, cfg: TrainConfig) -> TrainConfig:
        """The config a run uses: validated, with the dry-run sizes when ``cfg.dry_run``, then ``resolved()``
        (defaults that depend on other fields, such as a model family's learning rate). A new object where
        anything changes: the caller's config is never edited."""
        cfg.validate()
        if cfg.dry_run:
            cfg = dataclasses.replace(cfg, **{"epochs": 1, "max_steps": 1, **self.dry_run})
        return cfg.resolved()


TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    """Make ``task`` known to the CLI, the runner and the app (its name must be new)."""
    if TASKS.get(task.name, task) is not task:
        raise ValueError(f"a task named {task.name!r} is registered already")
    TASKS[task.name] = task
    return task


# Ours, then declaration modules named in DLP_TASKS (comma-separated dotted names: tasks kept outside this
# repo; a job's process inherits the variable, so it knows them too).
for _module in [f"{__name__}.{m}" for m in MODULES] + [m for m in os.environ.get("DLP_TASKS", "").split(",") if m]:
    register(importlib.import_module(_module).TASK)


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise KeyError(f"no task {name!r}; tasks: {', '.join(TASKS)}") from None


def task_of(cfg: TrainConfig) -> Task:
    """The task whose config class ``cfg`` is."""
    for task in TASKS.values():
        if type(cfg) is task.config:
            return task
    raise KeyError(f"{type(cfg).__name__} is the config of no registered task")


def train(cfg: TrainConfig, stop: Callable[[], bool] = lambda: False, task: Task | None = None
          ) -> Iterator[dict[str, Any]]:
    """Events of one run of ``cfg``'s task (see training.events): the one train() of every task."""
    from ..engine import fit

    task = task or task_of(cfg)
    cfg = task.prepared(cfg)
    yield from fit(cfg, task.build_spec(cfg), stop)
