"""Classic image classifiers from the course, as hub-publishable modules.

Each class inherits ``PyTorchModelHubMixin``: its constructor arguments are its
config (``config.json``), weights go to ``model.safetensors``, and
``Class.from_pretrained(repo_or_dir)`` loads it back. ``MODELS`` is the registry the
UI dropdowns, the CLI choices and the parametrized tests read.
"""
from __future__ import annotations

from typing import Callable

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

_HUB = dict(library_name="pytorch", tags=["dl-playground", "image-classification"],
            pipeline_tag="image-classification", license="mit")


def _act(name: str) -> nn.Module:
    return {"relu": nn.ReLU(), "sigmoid": nn.Sigmoid()}[name]


class ImageClassifier(nn.Module):
    """What every classifier here records besides its weights: input geometry and labels."""

    in_channels: int
    image_size: int
    labels: list[str]

    mean: list[float]
    std: list[float]

    def _set_meta(self, in_channels: int, image_size: int, num_classes: int, labels: list[str] | None,
                  mean: list[float] | None, std: list[float] | None) -> None:
        """Preprocessing travels with the weights (config.json), as in timm's pretrained_cfg."""
        self.in_channels, self.image_size = in_channels, image_size
        self.labels = list(labels) if labels else [str(i) for i in range(num_classes)]
        if len(self.labels) != num_classes:
            raise ValueError(f"{len(self.labels)} labels given for {num_classes} classes")
        self.mean = list(mean) if mean else [0.5] * in_channels
        self.std = list(std) if std else [0.5] * in_channels


class LeNet(ImageClassifier, PyTorchModelHubMixin, **_HUB):
    """LeNet-5 (LeCun et al., 1998): two conv + pool stages, three fully connected layers.

    ``batch_norm`` adds BatchNorm after each conv/linear layer, before the activation
    (the course's BatchNorm lesson uses exactly this network). Works from 16 px up.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, image_size: int = 28,
                 batch_norm: bool = False, activation: str = "relu", labels: list[str] | None = None,
                 mean: list[float] | None = None, std: list[float] | None = None):
        super().__init__()
        self._set_meta(in_channels, image_size, num_classes, labels, mean, std)

        def bn(kind: Callable[[int], nn.Module], n: int) -> list[nn.Module]:
            return [kind(n)] if batch_norm else []

        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2), *bn(nn.BatchNorm2d, 6), _act(activation), nn.AvgPool2d(2, 2),
            nn.Conv2d(6, 16, 5), *bn(nn.BatchNorm2d, 16), _act(activation), nn.AvgPool2d(2, 2),
        )
        side = ((image_size // 2) - 4) // 2  # conv5(pad 2) keeps size, pool halves, conv5 -4, pool halves
        if side < 1:
            raise ValueError(f"LeNet needs images of at least 16 px, got {image_size}")
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * side * side, 120), *bn(nn.BatchNorm1d, 120), _act(activation),
            nn.Linear(120, 84), *bn(nn.BatchNorm1d, 84), _act(activation), nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))  # (B, C, H, W) -> (B, num_classes)


class Residual(nn.Module):
    """A residual block (He et al., 2016): two 3x3 convs plus a shortcut, 1x1 conv when the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int, batch_norm: bool):
        super().__init__()
        norm = nn.BatchNorm2d if batch_norm else (lambda n: nn.Identity())
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=not batch_norm), norm(cout), nn.ReLU(),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=not batch_norm), norm(cout))
        self.shortcut = (nn.Identity() if stride == 1 and cin == cout
                         else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=not batch_norm), norm(cout)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class ResNet(ImageClassifier, PyTorchModelHubMixin, **_HUB):
    """ResNet-18 layout (2 residual blocks per stage) with a width and a stem for small or 224 px inputs."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, image_size: int = 32,
                 width: int = 64, blocks: tuple[int, ...] = (2, 2, 2, 2), batch_norm: bool = True,
                 labels: list[str] | None = None, mean: list[float] | None = None, std: list[float] | None = None):
        super().__init__()
        self._set_meta(in_channels, image_size, num_classes, labels, mean, std)
        norm = nn.BatchNorm2d if batch_norm else (lambda n: nn.Identity())
        if image_size >= 128:  # ImageNet stem: 7x7 stride 2 + max pool
            stem = [nn.Conv2d(in_channels, width, 7, 2, 3, bias=not batch_norm), norm(width), nn.ReLU(),
                    nn.MaxPool2d(3, 2, 1)]
        else:  # small images: keep resolution
            stem = [nn.Conv2d(in_channels, width, 3, 1, 1, bias=not batch_norm), norm(width), nn.ReLU()]
        layers, cin = [], width
        for i, n in enumerate(blocks):
            cout = width * 2**i
            for j in range(n):
                layers.append(Residual(cin, cout, 2 if (j == 0 and i > 0) else 1, batch_norm))
                cin = cout
        self.net = nn.Sequential(*stem, *layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, C, H, W) -> (B, num_classes)


# name -> (class, defaults for the built-in sample, input sizes the tests try)
MODELS: dict[str, tuple[type[ImageClassifier], dict, tuple[int, ...]]] = {
    "lenet": (LeNet, {}, (16, 28, 32)),
    "lenet-bn": (LeNet, {"batch_norm": True}, (28, 32)),
    "resnet18-small": (ResNet, {"width": 16}, (8, 32, 224)),
}


def create_model(name: str, **overrides) -> ImageClassifier:
    """A registered architecture with its defaults, ``overrides`` winning."""
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}; choose one of: {', '.join(MODELS)}")
    cls, defaults, _ = MODELS[name]
    return cls(**{**defaults, **overrides})


def model_summary(model: nn.Module) -> list[tuple[str, str, int]]:
    """(name, layer type, parameter count) for each leaf module, for the UI's summary table."""
    rows = []
    for name, m in model.named_modules():
        if not list(m.children()):
            rows.append((name, type(m).__name__, sum(p.numel() for p in m.parameters())))
    return rows
