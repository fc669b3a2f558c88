"""A trained model as ONNX (https://onnx.ai): one file that runs without PyTorch, in onnxruntime (C++, C#, Java,
JavaScript in a browser, a phone). The network is traced with torch.export (PyTorch's ONNX exporter since 2.9);
what surrounds it stays outside and the card says so: resizing and normalising the image, decoding boxes and NMS,
tokenising text.

Exported: image models (classifiers, TinySSD's raw scores and offsets, segmenters, face embedders, style networks:
``pixel_values`` -> their output) and transformers encoders with a head (BERT-family text classifiers and taggers:
``input_ids``, ``attention_mask``, ``token_type_ids`` -> ``logits``). Not exported: models whose work is a Python
loop around the network (text generation, translation, samplers).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from common.i18n import t

from .inference import InputError

ONNX_FILE = "model.onnx"
OPSET = 18


@dataclass
class Signature:
    module: nn.Module  # what is traced (the model, or a wrapper that names its outputs)
    inputs: dict[str, torch.Tensor]  # name -> an example, batch first
    outputs: list[str]
    about: str  # the inputs and outputs, for the card (a model card is written in English, for every reader)


class _Logits(nn.Module):
    """A transformers model that returns its logits alone (a plain tensor: what ONNX names ``logits``)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits


def signature(model: nn.Module) -> Signature:
    """What to feed ``model`` to export it, by its kind; InputError for kinds that are not exported."""
    if hasattr(model, "config") and hasattr(model.config, "vocab_size"):  # a transformers encoder with a head
        ids = torch.ones(1, 16, dtype=torch.long)
        return Signature(_Logits(model), {"input_ids": ids, "attention_mask": torch.ones_like(ids),
                                          "token_type_ids": torch.zeros_like(ids)}, ["logits"],
                         # i18n: not shown (the card)
                         "`input_ids`, `attention_mask`, `token_type_ids`: int64 (batch, tokens) from the tokenizer "
                         "saved beside it; `logits`: float32 (batch, labels) for a sentence classifier, (batch, "
                         "tokens, tags) for a tagger.")
    size = getattr(model, "image_size", None)
    if type(model).__name__ == "StyleNet":
        size = 256
    if not isinstance(size, int) or type(model).__name__ in ("TorchvisionDetector", "TransformersDetector"):
        raise InputError(t("export.not_exported", model=type(model).__name__))
    channels = int(getattr(model, "in_channels", 3) or 3)
    x = torch.rand(1, channels, size, size)
    with torch.no_grad():
        out = model(x)
    names = ["scores", "offsets"] if isinstance(out, tuple) else ["output"]
    return Signature(model, {"pixel_values": x}, names,
                     # i18n: not shown (the card)
                     f"`pixel_values`: float32 (batch, {channels}, {size}, {size}), prepared as the model's card and "
                     f"config.json say (the playground's own code does it: hub_models); "
                     + ", ".join(f"`{n}`" for n in names) + ": float32, batch first.")


def export_onnx(model: nn.Module, folder: str | Path) -> tuple[Path, Signature]:
    """Write ``folder``/model.onnx (a dynamic batch size); returns its path and what it takes."""
    sig = signature(model.eval())
    path = Path(folder) / ONNX_FILE
    batch = torch.export.Dim("batch", min=1, max=1024)
    shapes = tuple({0: batch} for _ in sig.inputs)  # by position: the forward()s name their arguments otherwise
    with torch.no_grad():
        torch.onnx.export(sig.module, tuple(sig.inputs.values()), str(path), input_names=list(sig.inputs),
                          output_names=sig.outputs, dynamic_shapes=shapes, dynamo=True, opset_version=OPSET,
                          verbose=False)
    return path, sig


def onnx_difference(path: str | Path, sig: Signature, batch: int = 2) -> float:
    """The largest difference between onnxruntime's outputs and PyTorch's on the same random input of ``batch``."""
    import numpy as np
    import onnxruntime

    torch.manual_seed(0)
    feeds = {}
    for name, example in sig.inputs.items():
        shape = (batch, *example.shape[1:])
        feeds[name] = (torch.randint(0, 1000, shape) if name == "input_ids" else
                       example.expand(shape).clone() if example.dtype == torch.long else torch.rand(shape))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {k: v.numpy() for k, v in feeds.items()})
    with torch.no_grad():
        want = sig.module(*feeds.values())
    want = want if isinstance(want, tuple) else (want,)
    return max(float(np.abs(g - w.numpy()).max()) for g, w in zip(got, want))


def card_section(sig: Signature, difference: float) -> str:
    """The README's ONNX section: what the file takes and gives, how it was checked, how to run it (in English, as the
    rest of the card)."""
    first = next(iter(sig.inputs))
    # i18n: not shown (the card)
    return (f"\n## ONNX\n\n`{ONNX_FILE}` (opset {OPSET}, exported with torch.export) runs without PyTorch. "
            f"{sig.about} Checked against PyTorch on the same input: the outputs differ by at most "
            f"{difference:.1e}.\n\n```python\nimport onnxruntime\nsession = onnxruntime.InferenceSession("
            f"\"{ONNX_FILE}\")\noutputs = session.run(None, {{\"{first}\": ...}})\n```\n")
