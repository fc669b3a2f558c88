"""Progress events: what a trainer yields, the CLI prints and the UI plots.

Events are plain dicts with a ``type``; they go to ``events.jsonl`` one per line, so a
reader (the job runner) can follow a run from another process.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

# type -> the keys it carries besides "type" and "time"
EVENT_TYPES = {
    "start": "config, total_steps, resumed_from_step",
    "step": "step, epoch, loss, lr, throughput (examples/s), eta_s, parts ({name: loss} when a step has several)",
    "eval": "step, epoch, metrics (dict)",
    "checkpoint": "step, epoch, path, pushed (commit url or None)",
    "sample": "step, epoch, kind (text|image), data (the text, or a picture's path in the output dir)",
    "log": "message",
    "end": "status (completed|stopped|failed), metrics, model_dir, message",
}


def event(type_: str, /, **data: Any) -> dict[str, Any]:
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type_!r}")
    return {"type": type_, "time": time.time(), **data}


class EventLog:
    """Appends events as JSON lines, flushed at once so followers see them."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "a", encoding="utf-8")

    def write(self, ev: dict[str, Any]) -> None:
        self._f.write(json.dumps(ev, default=str) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()


def read_events(path: str | Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Complete events after byte ``offset``, and the offset to continue from."""
    p = Path(path)
    if not p.exists():
        return [], offset
    with open(p, "rb") as f:
        f.seek(offset)
        data = f.read()
    end = data.rfind(b"\n") + 1  # a line still being written is left for next time
    events = [json.loads(line) for line in data[:end].splitlines() if line.strip()]
    return events, offset + end

