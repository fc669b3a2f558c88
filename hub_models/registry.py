"""What every model family of ours shares: how a saved folder names its class, and how a loader finds it.

Our networks inherit :class:`Published` (huggingface_hub's ``PyTorchModelHubMixin``: the constructor's
arguments are config.json, the weights are safetensors). It also writes the class's name into
config.json under ``_class_name``, as diffusers does (timm writes ``architecture``, transformers
``architectures``), so :func:`class_for` loads by name instead of guessing from the keys. Folders saved
before that key existed still load: their keys are matched against the constructors' parameters.
"""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Iterable

from huggingface_hub import PyTorchModelHubMixin

CLASS_KEY = "_class_name"


class Published(PyTorchModelHubMixin):
    """PyTorchModelHubMixin that names the class in config.json."""

    def save_pretrained(self, save_directory: str | Path, *, config: dict | None = None, **kwargs: Any):
        config = {**(config if config is not None else self._hub_mixin_config or {}), CLASS_KEY: type(self).__name__}
        return super().save_pretrained(save_directory, config=config, **kwargs)


def class_for(config: dict, classes: Iterable[type]) -> type | None:
    """The one of ``classes`` a saved config.json belongs to, or None.

    By ``_class_name`` when the folder has it; otherwise (folders saved before it) the class whose
    constructor takes every key of the config and gets every argument it requires from it.
    """
    classes = list(classes)
    if CLASS_KEY in config:
        return next((c for c in classes if c.__name__ == config[CLASS_KEY]), None)
    fits = []
    for cls in classes:
        params = dict(inspect.signature(cls.__init__).parameters)
        params.pop("self", None)
        required = {n for n, p in params.items() if p.default is inspect.Parameter.empty
                    and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        if required <= set(config) <= set(params):
            fits.append((len(set(params) - set(config)), cls))
    return min(fits, key=lambda f: f[0])[1] if fits else None  # the closest fit: an exact one first
