"""Loaded models kept for the next request, one per model, whichever folder it is read from.

A public app gives every visitor their own copy of a repo they pull (webui.visitors): fifty visitors trying the
same commit would otherwise load it fifty times and evict each other from a per-folder cache.
"""
from __future__ import annotations

import functools
import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, TypeVar

T = TypeVar("T")


def model_identity(folder: str | Path) -> tuple:
    """What a model folder holds: a pulled snapshot by hub, repo and commit (its ``.complete`` marker, written by
    hub.client.pull); any other folder by its path and its config's time, so that a rewritten folder loads again."""
    p = Path(folder)
    try:
        done = json.loads((p / ".complete").read_text())
        return "pulled", done.get("endpoint"), done.get("repo_id"), p.name  # the name: commit (+ file patterns)
    except (OSError, ValueError, AttributeError):
        pass
    try:
        stamp = (p / "config.json").stat().st_mtime
    except OSError:
        stamp = None
    return "folder", str(p.resolve()), stamp


def model_cache(maxsize: int) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """functools.lru_cache for ``load(folder, *args)``, keyed by model_identity(folder) and ``args``."""
    def decorate(load: Callable[..., T]) -> Callable[..., T]:
        kept: OrderedDict[tuple, Any] = OrderedDict()
        lock = threading.Lock()

        @functools.wraps(load)
        def cached(folder: str | Path, *args: Any) -> T:
            key = (model_identity(folder), *args)
            with lock:
                if key in kept:
                    kept.move_to_end(key)
                    return kept[key]
            value = load(folder, *args)  # outside the lock: a slow load does not hold up the others
            with lock:
                kept[key] = value
                while len(kept) > maxsize:
                    kept.popitem(last=False)
            return value

        return cached
    return decorate
