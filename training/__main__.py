"""Command line of every trainer: ``python -m training <task> [options]``.

Writes ``events.jsonl`` (one event per line), ``metrics.json`` and the model folder into
``--output-dir``; shows a tqdm bar. SIGINT/SIGTERM ask the run to stop at the next step
(its last checkpoint is kept). With DLP_EVENT_LINES=1 each event is also printed as one marked line, and a
job on a cluster claims its token from the app first (training.remote). Exit codes: 0 completed or stopped,
1 the run failed, 2 bad options or data (one-line reason on stderr).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from .layout import RunFolder
from .tasks import TASKS, train

# As the app's jobs run (training.runner): idle OpenMP threads sleep instead of spinning, so a run sharing the CPU
# with other work is not slowed many times over. Set before torch loads; a setting in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main(argv: list[str] | None = None) -> int:
    from .config import add_config_args, config_from_args

    parser = argparse.ArgumentParser(prog="python -m training", description="Train a model of one task.")
    sub = parser.add_subparsers(dest="_task", required=True, metavar="TASK")  # not "task": a config field
    for task in TASKS.values():
        p = sub.add_parser(task.name, help=task.title,
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        add_config_args(p, task.config)
    args = parser.parse_args(argv)
    task = TASKS[args._task]
    cfg = config_from_args(task.config, args)

    from tqdm import tqdm

    from common.errors import UserError

    from .events import EventLog, event
    from .remote import claim_secrets, echo_event
    from .tracking import Tracker

    try:  # a job on a cluster gets its token from the app, not from its description
        claim_secrets()
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    stop_requested = False

    def request_stop(*_):
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    # Under `accelerate launch` every process trains; only the first one reports.
    main_process = int(os.environ.get("RANK", "0")) == 0
    run = RunFolder(Path(cfg.output_dir))
    log = EventLog(run.events if main_process else run.rank_events(int(os.environ["RANK"])))
    bar = None
    status = "failed"
    track = Tracker(task.name, cfg, name=cfg.run_name or Path(cfg.output_dir).name,
                    group=cfg.run_group) if cfg.report_to == "trackio" and main_process else None
    try:
        for ev in train(cfg, stop=lambda: stop_requested, task=task):
            log.write(ev)
            if not main_process:
                continue
            echo_event(ev, run.root)
            if track is not None and (problem := track(ev)):
                log.write(event("log", message=problem))
                tqdm.write(problem)
            if ev["type"] == "start":
                bar = tqdm(total=ev["total_steps"], initial=ev["resumed_from_step"], unit="step", dynamic_ncols=True)
            elif ev["type"] == "step" and bar is not None:
                bar.update(ev["step"] - bar.n)
                bar.set_postfix(loss=f"{ev['loss']:.4f}", lr=f"{ev['lr']:.2e}")
            elif ev["type"] == "eval":
                tqdm.write(f"epoch {ev['epoch']}: " + ", ".join(f"{k}={v:.4f}" for k, v in ev["metrics"].items()))
            elif ev["type"] in ("log", "checkpoint"):
                tqdm.write(ev.get("message") or f"checkpoint saved: {ev['path']}")
            elif ev["type"] == "end":
                status = ev["status"]
                if bar is not None:
                    bar.close()
                print(f"{status}: {ev['message'] or json.dumps(ev['metrics'])}",
                      file=sys.stderr if status == "failed" else sys.stdout)
    except UserError as e:
        log.write(ev := event("end", status="failed", metrics={}, model_dir=None, message=str(e)))
        echo_event(ev, run.root)
        print(f"error: {cli_message(e, task.config)}", file=sys.stderr)
        return 2
    finally:
        log.close()
    return 1 if status == "failed" else 0


def cli_message(e: Exception, cls: type) -> str:
    """A config error names its flag on the command line ("--val-split: at most 0.99"), not the form's label."""
    from common.errors import ConfigError

    from .config import field_label

    if not isinstance(e, ConfigError):
        return str(e)
    label = field_label(cls, e.field)
    return f"--{e.field.replace('_', '-')}: {str(e).removeprefix(label + ': ').removeprefix(label + '：')}"


if __name__ == "__main__":
    sys.exit(main())
