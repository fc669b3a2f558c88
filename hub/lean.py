"""Lean pulls: of a model repo, only the files loading it needs.

Famous repos carry their weights several times: ``openai-community/gpt2`` holds 548 MB of safetensors next to
PyTorch's .bin, TensorFlow's .h5, Flax's .msgpack, Rust's .ot, TFLite and ONNX exports, about 6 GB in all. A pull
keeps one PyTorch format per folder (safetensors, else .bin, else .pth/.pt), the base weights rather than
a variant (``diffusion_pytorch_model.fp16.safetensors`` beside ``diffusion_pytorch_model.safetensors``), and
everything that is not weights of another framework, an export or a training checkpoint: configs, tokenizers,
preprocessors, diffusers' sub-folders, the card, label files.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

# Weights of other frameworks and exports: never needed to load a PyTorch model.
OTHER_FRAMEWORKS = (".h5", ".msgpack", ".ot", ".tflite", ".onnx", ".onnx_data", ".onnx.data", ".mlmodel", ".gguf",
                    ".ggml", ".pb", ".keras", ".engine", ".plan")
EXPORT_DIRS = ("onnx", "openvino", "coreml", "tflite", "tensorrt", "mlx", "ggml", "gguf", "tf", "flax")
# Training state: a checkpoint to resume from is pulled on purpose (training.engine), not to load the model.
CHECKPOINT_DIRS = re.compile(r"^(checkpoints|last-checkpoint|checkpoint-\d+|runs|logs)$")
TORCH_WEIGHTS = (".safetensors", ".bin", ".pth", ".pt", ".ckpt")
# A variant's name: the base name, a dot, the variant (fp16, bf16, ema, non_ema...), the suffix.
_VARIANT = re.compile(r"^(?P<base>.+)\.(?P<variant>[A-Za-z0-9_]+)(?P<suffix>\.safetensors|\.bin)$")


@dataclass
class Selection:
    """Which files of a listing a lean pull takes, with their sizes."""

    keep: dict[str, int] = field(default_factory=dict)
    skip: dict[str, int] = field(default_factory=dict)

    @property
    def keep_bytes(self) -> int:
        return sum(self.keep.values())

    @property
    def skip_bytes(self) -> int:
        return sum(self.skip.values())


def _weights_rank(name: str) -> int:
    """Which PyTorch weight format a folder loads first (lower is preferred)."""
    return next(i for i, s in enumerate((".safetensors", ".bin", (".pth", ".pt"), ".ckpt")) if name.endswith(s))


def select(files: dict[str, int]) -> Selection:
    """Split ``{path: size}`` of a model repo into what a lean pull keeps and what it skips."""
    out = Selection()
    weights: dict[str, list[str]] = {}  # folder -> its PyTorch weight files
    for path, size in files.items():
        parts = path.split("/")
        name = parts[-1].lower()
        if (name.endswith(OTHER_FRAMEWORKS) or any(p in EXPORT_DIRS for p in parts[:-1])
                or any(CHECKPOINT_DIRS.match(p) for p in parts[:-1]) or name.startswith(".git")):
            out.skip[path] = size
        elif name.endswith(TORCH_WEIGHTS) and not name.endswith(".index.json"):
            weights.setdefault(posixpath.dirname(path), []).append(path)
        else:
            out.keep[path] = size
    for folder_files in weights.values():
        best = min(_weights_rank(p.lower()) for p in folder_files)
        chosen = [p for p in folder_files if _weights_rank(p.lower()) == best]
        names = {posixpath.basename(p) for p in chosen}
        for p in folder_files:
            m = _VARIANT.match(posixpath.basename(p))
            is_variant = m is not None and f"{m['base']}{m['suffix']}" in names
            (out.keep if p in chosen and not is_variant else out.skip)[p] = files[p]
    return out


def size_text(n: int) -> str:
    """A byte count as people read it: 548 MB, 5.4 GB."""
    if n >= 2**30:
        return f"{n / 2**30:.1f} GB"
    if n >= 2**20:
        return f"{n / 2**20:.0f} MB"
    return f"{n / 2**10:.0f} KB" if n >= 2**10 else f"{n} bytes"
