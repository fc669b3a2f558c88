"""Every run also logs to trackio (https://github.com/gradio-app/trackio), Hugging Face's local-first experiment
tracker: runs land in a SQLite file under ``TRACKIO_DIR`` (the app gives its owner's jobs one folder, each
visitor's job its own), ``trackio show --project dl-playground-<task>`` opens their dashboard, and
``trackio sync`` sends them to a Space or a dataset. Chosen over TensorBoard because it is a Gradio app like this
one, groups runs (a random search's trials), and syncs to the Hub the playground already pushes to; the events
file stays the app's own record, so a tracker that fails only stops tracking, never the run.
"""
from __future__ import annotations

import contextlib
import io
from typing import Any

PROJECT = "dl-playground-{task}"


class Tracker:
    """Feeds a run's events (training.events) to trackio: step losses and the learning rate by step,
    validation metrics by step as ``val/<name>`` (``train_*`` as ``train/<name>``), the final status."""

    def __init__(self, task: str, cfg: Any, name: str, group: str = ""):
        self.task, self.cfg, self.name, self.group = task, cfg, name, group
        self.run: Any = None
        self.problem = ""

    def __call__(self, ev: dict[str, Any]) -> str:
        """Logs ``ev``; returns a message the first time the tracker fails (then it stays off), else ""."""
        if self.problem:
            return ""
        try:
            self._log(ev)
        except Exception as e:  # noqa: BLE001 (a tracker's own failure, whatever it is, must not end the run)
            self.problem = f"experiment tracking off: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            return self.problem
        return ""

    def _log(self, ev: dict[str, Any]) -> None:
        kind = ev["type"]
        if kind == "start":
            import trackio

            from .config import to_dict

            config = {k: v for k, v in to_dict(self.cfg).items() if k not in ("output_dir", "hub", "push_to_hub")}
            self.run = trackio.init(project=PROJECT.format(task=self.task), name=self.name, group=self.group or None,
                                    config=config, embed=False, auto_log_cpu=False, auto_log_gpu=False)
        elif self.run is None:
            return
        elif kind == "step":
            values = {"train/loss": ev["loss"], "lr": ev["lr"], "throughput": ev["throughput"]}
            values.update({f"train/{k}": v for k, v in ev.get("parts", {}).items()})
            self.run.log(values, step=ev["step"])
        elif kind == "eval":
            self.run.log({(k.replace("train_", "train/", 1) if k.startswith("train_") else f"val/{k}"): v
                          for k, v in ev["metrics"].items()}, step=ev["step"])
        elif kind == "end":
            import trackio

            # trackio.finish, not the run's: it also forgets the run, which its exit hook would finish again. (It says
            # "Uploading logs to Trackio (please wait...)" as it closes its local database: nothing is uploaded.)
            with contextlib.redirect_stdout(io.StringIO()):
                trackio.finish()
            self.run = None
