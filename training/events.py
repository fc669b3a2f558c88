"""Progress events: what a trainer yields, the CLI prints and the UI plots.

Events are plain dicts with a ``type``; they go to ``events.jsonl`` one per line, so a
reader (the job runner) can follow a run from another process.
"""
from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
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


class Series:
    """A curve kept to at most ``limit`` points however long it grows: each point is the mean of a bucket of
    consecutive raw points, drawn at the bucket's last x; when the buckets overflow, neighbours merge and the
    bucket size doubles. Appending costs O(1) amortised, and the mean keeps the curve's shape (a loss read
    through its noise) where every-k-th sampling would keep whichever noisy points happened to fall on k."""

    def __init__(self, limit: int = 2000):
        self.limit = max(2, limit)
        self.per = 1  # raw points per full bucket
        self._buckets: list[list[float]] = []  # [last x, sum of y, count]

    def add(self, x: float, y: float) -> None:
        b = self._buckets
        if b and b[-1][2] < self.per:
            b[-1][0], b[-1][1], b[-1][2] = x, b[-1][1] + y, b[-1][2] + 1
        else:
            b.append([x, y, 1])
        if len(b) > self.limit:
            self.per *= 2
            self._buckets = [[pair[-1][0], sum(p[1] for p in pair), sum(p[2] for p in pair)]
                             for pair in (b[i:i + 2] for i in range(0, len(b), 2))]

    def points(self) -> list[tuple[float, float]]:
        return [(x, s / n) for x, s, n in self._buckets]

    def __len__(self) -> int:
        return len(self._buckets)


class RunDigest:
    """What a run's events add up to, kept up to date by reading only the bytes appended since the last
    ``update``: the start, the last step, the loss curve and each named part's (bounded Series), the evaluations
    and the text samples. A panel that follows a running job pays for the new events, not for the whole file."""

    MAX_SAMPLES = 50

    def __init__(self, path: str | Path, limit: int = 2000):
        self.path, self.limit = Path(path), limit
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.offset, self._ident = 0, None
        self.start: dict[str, Any] | None = None
        self.last_step: dict[str, Any] | None = None
        self.loss = Series(self.limit)  # each step's loss
        self.parts: dict[str, Series] = {}  # each named loss, when a step has several (a GAN's D and G)
        self.evals: list[dict[str, Any]] = []
        self.samples: list[dict[str, Any]] = []  # text samples, the newest MAX_SAMPLES
        self.read_bytes = 0  # in all, since the file was first read (tests and benchmarks read it)

    def update(self) -> "RunDigest":
        with self._lock:
            try:
                st = self.path.stat()
            except OSError:
                self._reset()
                return self
            if self._ident != st.st_ino or st.st_size < self.offset:  # a new or rewritten file: start over
                self._reset()
                self._ident = st.st_ino
            before = self.offset
            events, self.offset = read_events(self.path, self.offset)
            self.read_bytes += self.offset - before
            for e in events:
                self._add(e)
        return self

    def _add(self, e: dict[str, Any]) -> None:
        kind = e.get("type")
        if kind == "start":
            self.start = e
        elif kind == "step":
            self.last_step = e
            if isinstance(e.get("loss"), (int, float)):
                self.loss.add(e["step"], e["loss"])
            for name, value in (e.get("parts") or {}).items():
                if isinstance(value, (int, float)):
                    self.parts.setdefault(name, Series(self.limit)).add(e["step"], value)
        elif kind == "eval":
            self.evals.append(e)
        elif kind == "sample" and e.get("kind") == "text":
            self.samples = [*self.samples[-(self.MAX_SAMPLES - 1):], e]


_digests: "OrderedDict[Path, RunDigest]" = OrderedDict()
_digests_lock = threading.Lock()


def digest(path: str | Path, keep: int = 64) -> RunDigest:
    """The up-to-date digest of the events at ``path``, shared by every page that follows it (the ``keep`` most
    recently followed runs stay in memory)."""
    path = Path(path)
    with _digests_lock:
        d = _digests.pop(path, None) or RunDigest(path)
        _digests[path] = d
        while len(_digests) > keep:
            _digests.popitem(last=False)
    return d.update()
