"""Image classifiers of other libraries behind the interface of ours: timm and transformers.

Predict, the trainer and the model summary need a module that maps a normalised batch
(B, C, H, W) to logits and says its input geometry, labels and normalisation
(``in_channels``, ``image_size``, ``labels``, ``mean``, ``std``). Our classifiers have
these attributes; the adapters here give them to a timm model or a transformers
``AutoModelForImageClassification``. Repos keep their library's own format, so what
this project pushes loads with plain ``timm.create_model("hf-hub:...")``, and what timm
or transformers users push loads here.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

TIMM_PREFIX = "timm:"


class Adapted(nn.Module):
    """A foreign classifier with our metadata attributes; ``net`` is the library's own module."""

    def __init__(self, net: nn.Module, in_channels: int, image_size: int, labels: list[str],
                 mean: list[float], std: list[float], crop_pct: float | None = None,
                 interpolation: str | None = None):
        super().__init__()
        self.net = net
        self.in_channels, self.image_size, self.labels = in_channels, image_size, list(labels)
        self.mean, self.std = list(mean), list(std)
        # How the pretrained weights saw their images (inference.classify): the shorter side resized to
        # image_size / crop_pct, then a centre crop; None: resized to the square, as our own models are trained.
        self.crop_pct, self.interpolation = crop_pct, interpolation


class TimmClassifier(Adapted):
    """A timm model. Saved in timm's hub format: ``config.json`` (architecture, model_args,
    label_names, pretrained_cfg with input size and normalisation) + ``model.safetensors``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def save_pretrained(self, folder: str | Path) -> None:
        from timm.models import save_for_hf

        save_for_hf(self.net, str(folder), model_config={"label_names": self.labels}, safe_serialization=True,
                    data_config={"input_size": (self.in_channels, self.image_size, self.image_size),
                                 "mean": tuple(self.mean), "std": tuple(self.std), "crop_pct": 1.0,
                                 "interpolation": "bilinear"})


class TransformersClassifier(Adapted):
    """A transformers ``...ForImageClassification`` model (logits from ``pixel_values``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(pixel_values=x).logits


def timm_arch(name: str) -> str | None:
    """'resnet18' for 'timm:resnet18'; None for names of our registry."""
    return name[len(TIMM_PREFIX):] if name.startswith(TIMM_PREFIX) else None


def check_timm_arch(arch: str) -> None:
    import timm

    if not timm.is_model(arch):
        close = timm.list_models(f"*{arch[:4]}*")[:8] if arch else []
        raise ValueError(f"timm has no architecture {arch!r}"
                         + (f"; similar names: {', '.join(close)}" if close else "") + " (see timm.list_models())")


def create_timm(arch: str, num_classes: int, in_channels: int, image_size: int, labels: list[str],
                mean: list[float], std: list[float], init_from: str | Path | None = None) -> TimmClassifier:
    """A timm classifier, randomly initialised, or from the weights of a timm model folder.

    From a checkpoint, timm adapts what differs: a new head for another number of classes, the
    first conv summed or repeated for another number of channels, position embeddings resampled
    for another image size. The folder's architecture is used (``arch`` is ignored).
    """
    import timm
    from timm.models._factory import resolve_model_input_args

    name = f"local-dir:{init_from}" if init_from else arch
    if not init_from:
        check_timm_arch(arch)
    kwargs = resolve_model_input_args(name, args={"input_size": (in_channels, image_size, image_size)},
                                      num_classes=num_classes)
    net = timm.create_model(**kwargs, pretrained=bool(init_from))
    return TimmClassifier(net, in_channels, image_size, labels, mean, std)


def checkpoint_info(folder: str | Path) -> dict[str, Any]:
    """Architecture, input size and normalisation a timm model folder was saved with."""
    config = json.loads((Path(folder) / "config.json").read_text())
    pcfg = config.get("pretrained_cfg", {})
    c, h, _ = pcfg.get("input_size", (3, 224, 224))
    return {"arch": config["architecture"], "in_channels": int(c), "image_size": int(h),
            "mean": list(pcfg.get("mean", [0.5] * c)), "std": list(pcfg.get("std", [0.5] * c))}


def library_of(config: dict) -> str:
    """Which library a config.json belongs to: 'timm', 'transformers' or 'playground'."""
    if "architecture" in config and "pretrained_cfg" in config:
        return "timm"
    if any(str(a).endswith("ForImageClassification") for a in config.get("architectures") or []):
        return "transformers"
    return "playground"


def load_timm(folder: str | Path) -> TimmClassifier:
    import timm

    info = checkpoint_info(folder)
    net = timm.create_model(f"local-dir:{folder}", pretrained=True)  # safetensors, or torch.load weights_only
    config = json.loads((Path(folder) / "config.json").read_text())
    names = config.get("label_names") or net.pretrained_cfg.get("label_names")
    if isinstance(names, dict):  # {id: name} with gaps allowed
        names = [str(names.get(str(i), names.get(i, i))) for i in range(net.num_classes)]
    labels = [str(n) for n in names] if names and len(names) == net.num_classes else imagenet_labels(net)
    pcfg = config.get("pretrained_cfg", {})
    crop = pcfg.get("crop_pct")  # (the playground saves 1.0: its timm models train on squares)
    return TimmClassifier(net, info["in_channels"], info["image_size"], labels, info["mean"], info["std"],
                          crop_pct=float(crop) if crop and crop < 1 else None,
                          interpolation=pcfg.get("interpolation"))


def imagenet_labels(net: nn.Module) -> list[str]:
    """Class names of a timm model trained on an ImageNet subset (its repo lists none: timm ships them),
    else the class numbers."""
    from timm.data import ImageNetInfo, infer_imagenet_subset

    subset = infer_imagenet_subset(net)
    if subset is None:
        return [str(i) for i in range(net.num_classes)]
    info = ImageNetInfo(subset)
    return [info.index_to_description(i) for i in range(net.num_classes)]  # as transformers' id2label: "tench, Tinca tinca"


def load_transformers(folder: str | Path) -> TransformersClassifier:
    """An AutoModelForImageClassification folder; preprocessing from its preprocessor_config.json."""
    from transformers import AutoModelForImageClassification

    path = Path(folder)
    net = AutoModelForImageClassification.from_pretrained(path)  # no remote code: only built-in classes load
    cfg = net.config
    pre_path = path / "preprocessor_config.json"
    pre = json.loads(pre_path.read_text()) if pre_path.exists() else {}
    channels = int(getattr(cfg, "num_channels", 3))
    size = pre.get("size") or getattr(cfg, "image_size", 224)
    if isinstance(size, dict):
        size = size.get("height") or size.get("shortest_edge") or 224
    if isinstance(size, (list, tuple)):
        size = size[0]
    normalize = pre.get("do_normalize", True)
    mean = pre.get("image_mean", [0.5] * channels) if normalize else [0.0] * channels
    std = pre.get("image_std", [0.5] * channels) if normalize else [1.0] * channels
    n = int(cfg.num_labels)
    labels = [str(cfg.id2label.get(i, i)) for i in range(n)]
    crop_pct = pre.get("crop_pct")  # ConvNeXt: the shorter side to size / crop_pct, then a centre crop
    crop = pre.get("crop_size")
    if crop_pct is None and pre.get("do_center_crop") and crop:  # DeiT, BEiT: resize, then crop a smaller square
        crop = crop.get("height") if isinstance(crop, dict) else crop
        crop_pct, size = int(crop) / int(size), crop
    return TransformersClassifier(net.eval(), channels, int(size), labels, list(mean), list(std),
                                  crop_pct=float(crop_pct) if crop_pct and crop_pct < 1 else None,
                                  interpolation=RESAMPLE_NAMES.get(pre.get("resample")))


RESAMPLE_NAMES = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}  # PIL's numbers
