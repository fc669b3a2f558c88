"""Classic image classifiers from the course, as hub-publishable modules.

Each class inherits ``registry.Published`` (huggingface_hub's ``PyTorchModelHubMixin``): its constructor arguments are its
config (``config.json``), weights go to ``model.safetensors``, and
``Class.from_pretrained(repo_or_dir)`` loads it back. ``hub_models.catalog.CLASSIFIERS`` is the registry the
UI dropdowns, the CLI choices and the parametrized tests read.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .catalog import CLASSIFIERS
from .registry import Published, class_for

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


class LeNet(ImageClassifier, Published, **_HUB):
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


class ResNet(ImageClassifier, Published, **_HUB):
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


def _norm(batch_norm: bool, n: int) -> nn.Module:
    return nn.BatchNorm2d(n) if batch_norm else nn.Identity()


def _stem(in_channels: int, cout: int, image_size: int, batch_norm: bool) -> list[nn.Module]:
    """Large inputs: 7x7 stride 2 + max pool (/4). Small inputs (digits, CIFAR): a 3x3 conv that keeps the size."""
    if image_size >= 128:
        return [nn.Conv2d(in_channels, cout, 7, 2, 3), _norm(batch_norm, cout), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    return [nn.Conv2d(in_channels, cout, 3, 1, 1), _norm(batch_norm, cout), nn.ReLU()]


class AlexNet(ImageClassifier, Published, **_HUB):
    """AlexNet (Krizhevsky et al., 2012): deeper than LeNet, ReLU, max pooling, dropout in the classifier."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, image_size: int = 224,
                 channels: tuple[int, ...] = (96, 256, 384, 384, 256), hidden: int = 4096, dropout: float = 0.5,
                 labels: list[str] | None = None, mean: list[float] | None = None, std: list[float] | None = None):
        super().__init__()
        self._set_meta(in_channels, image_size, num_classes, labels, mean, std)
        c1, c2, c3, c4, c5 = channels
        first = nn.Conv2d(in_channels, c1, 11, 4, 1) if image_size >= 128 else nn.Conv2d(in_channels, c1, 3, 1, 1)
        self.features = nn.Sequential(
            first, nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(c1, c2, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(), nn.Conv2d(c3, c4, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c4, c5, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True),
            nn.AdaptiveAvgPool2d(6 if image_size >= 128 else 2))
        side = 6 if image_size >= 128 else 2
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(c5 * side * side, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))  # (B, C, H, W) -> (B, num_classes)


class VGG(ImageClassifier, Published, **_HUB):
    """VGG (Simonyan & Zisserman, 2014): repeated blocks of 3x3 convs then a 2x2 max pool.

    ``conv_arch`` lists (number of convs, channels) per block; VGG-11 is the default.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, image_size: int = 224,
                 conv_arch: tuple = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)), hidden: int = 4096,
                 batch_norm: bool = False, dropout: float = 0.5, labels: list[str] | None = None,
                 mean: list[float] | None = None, std: list[float] | None = None):
        super().__init__()
        self._set_meta(in_channels, image_size, num_classes, labels, mean, std)
        if image_size < 2 ** len(conv_arch):
            raise ValueError(f"VGG with {len(conv_arch)} blocks needs images of at least {2 ** len(conv_arch)} px")
        layers, cin = [], in_channels
        for n, cout in conv_arch:
            for _ in range(n):
                layers += [nn.Conv2d(cin, cout, 3, padding=1), _norm(batch_norm, cout), nn.ReLU()]
                cin = cout
            layers.append(nn.MaxPool2d(2))
        side = max(1, image_size // 2 ** len(conv_arch))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(cin * side * side, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class NiN(ImageClassifier, Published, **_HUB):
    """Network in Network (Lin et al., 2013): each block is a conv and two 1x1 convs (a per-pixel MLP);
    the last block outputs one channel per class and global average pooling replaces the dense layers."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, image_size: int = 224,
                 channels: tuple[int, ...] = (96, 256, 384), dropout: float = 0.5, batch_norm: bool = False,
                 labels: list[str] | None = None, mean: list[float] | None = None, std: list[float] | None = None):
        super().__init__()
        self._set_meta(in_channels, image_size, num_classes, labels, mean, std)

        def block(cin: int, cout: int, k: int, stride: int, pad: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, k, stride, pad), _norm(batch_norm, cout), nn.ReLU(),
                    nn.Conv2d(cout, cout, 1), _norm(batch_norm, cout), nn.ReLU(),
                    nn.Conv2d(cout, cout, 1), _norm(batch_norm, cout), nn.ReLU()]

        big = image_size >= 128
        c1, c2, c3 = channels
        self.net = nn.Sequential(
            *block(in_channels, c1, 11 if big else 3, 4 if big else 1, 0 if big else 1), nn.MaxPool2d(3, 2, 1),
            *block(c1, c2, 5, 1, 2), nn.MaxPool2d(3, 2, 1), *block(c2, c3, 3, 1, 1), nn.MaxPool2d(3, 2, 1),
            nn.Dropout(dropout), *block(c3, num_classes, 3, 1, 1),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())  # (B, num_classes, h, w) -> (B, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Inception(nn.Module):
    """GoogLeNet's block: 1x1, 1x1->3x3, 1x1->5x5 and pool->1x1 paths, concatenated on channels."""

    def __init__(self, cin: int, c1: int, c2: tuple[int, int], c3: tuple[int, int], c4: int, batch_norm: bool = False):
        super().__init__()

        def conv(a: int, b: int, k: int) -> list[nn.Module]:
            return [nn.Conv2d(a, b, k, padding=k // 2), _norm(batch_norm, b), nn.ReLU()]

        self.p1 = nn.Sequential(*conv(cin, c1, 1))
        self.p2 = nn.Sequential(*conv(cin, c2[0], 1), *conv(c2[0], c2[1], 3))
        self.p3 = nn.Sequential(*conv(cin, c3[0], 1), *conv(c3[0], c3[1], 5))
        self.p4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), *conv(cin, c4, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.p1(x), self.p2(x), self.p3(x), self.p4(x)], dim=1)


class GoogLeNet(ImageClassifier, Published, **_HUB):
    """GoogLeNet (Szegedy et al., 2014), with a channel ``width`` divisor for small runs."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, image_size: int = 224, width: int = 1,
                 batch_norm: bool = False, labels: list[str] | None = None, mean: list[float] | None = None,
                 std: list[float] | None = None):
        super().__init__()
        self._set_meta(in_channels, image_size, num_classes, labels, mean, std)

        def w(n: int) -> int:
            return max(4, n // width)

        def inc(cin, c1, c2, c3, c4):  # channels of the original paper, scaled
            return Inception(w(cin), w(c1), (w(c2[0]), w(c2[1])), (w(c3[0]), w(c3[1])), w(c4), batch_norm)

        self.net = nn.Sequential(
            *_stem(in_channels, w(64), image_size, batch_norm),
            nn.Conv2d(w(64), w(64), 1), _norm(batch_norm, w(64)), nn.ReLU(),
            nn.Conv2d(w(64), w(192), 3, padding=1), _norm(batch_norm, w(192)), nn.ReLU(),
            nn.MaxPool2d(3, 2, 1),
            inc(192, 64, (96, 128), (16, 32), 32), inc(256, 128, (128, 192), (32, 96), 64), nn.MaxPool2d(3, 2, 1),
            inc(480, 192, (96, 208), (16, 48), 64), inc(512, 256, (160, 320), (32, 128), 128),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(w(256) + w(320) + w(128) + w(128), num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class DenseBlock(nn.Module):
    """DenseNet's block: each BN-ReLU-conv layer sees the concatenation of all earlier outputs."""

    def __init__(self, cin: int, layers: int, growth: int):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Sequential(nn.BatchNorm2d(cin + i * growth), nn.ReLU(), nn.Conv2d(cin + i * growth, growth, 3, padding=1))
            for i in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = torch.cat([x, layer(x)], dim=1)  # (B, C, H, W) -> (B, C + growth, H, W)
        return x


class DenseNet(ImageClassifier, Published, **_HUB):
    """DenseNet (Huang et al., 2017): dense blocks joined by transition layers (1x1 conv + 2x2 avg pool)."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, image_size: int = 224, growth: int = 32,
                 block_layers: tuple[int, ...] = (4, 4, 4, 4), labels: list[str] | None = None,
                 mean: list[float] | None = None, std: list[float] | None = None):
        super().__init__()
        self._set_meta(in_channels, image_size, num_classes, labels, mean, std)
        c = 2 * growth
        layers = _stem(in_channels, c, image_size, True)
        for i, n in enumerate(block_layers):
            layers.append(DenseBlock(c, n, growth))
            c += n * growth
            if i < len(block_layers) - 1:  # transition: halve channels and resolution
                layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c // 2, 1), nn.AvgPool2d(2, ceil_mode=True)]
                c //= 2
        self.net = nn.Sequential(*layers, nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                 nn.Linear(c, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MobileNet(ImageClassifier, Published, **_HUB):
    """MobileNet v1 (Howard et al., 2017): depthwise 3x3 + pointwise 1x1 convs, ``alpha`` the width multiplier."""

    CFG = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1),
           (512, 1), (1024, 2), (1024, 1))

    def __init__(self, num_classes: int = 10, in_channels: int = 3, image_size: int = 224, alpha: float = 1.0,
                 labels: list[str] | None = None, mean: list[float] | None = None, std: list[float] | None = None):
        super().__init__()
        self._set_meta(in_channels, image_size, num_classes, labels, mean, std)
        c = max(8, int(32 * alpha))
        layers = [nn.Conv2d(in_channels, c, 3, 2 if image_size >= 128 else 1, 1, bias=False), nn.BatchNorm2d(c),
                  nn.ReLU()]
        for cout, stride in self.CFG:
            cout = max(8, int(cout * alpha))
            layers += [nn.Conv2d(c, c, 3, stride, 1, groups=c, bias=False), nn.BatchNorm2d(c), nn.ReLU(),  # depthwise
                       nn.Conv2d(c, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]  # pointwise
            c = cout
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


CLASSES = {c.__name__: c for c in (LeNet, ResNet, AlexNet, VGG, NiN, GoogLeNet, DenseNet, MobileNet)}


def class_for_config(config: dict) -> type[ImageClassifier]:
    """The class a saved config.json names (registry.class_for)."""
    if (cls := class_for(config, CLASSES.values())) is not None:
        return cls
    raise ValueError("config.json does not match any image classifier of this playground")


def create_model(name: str, **overrides) -> ImageClassifier:
    """A registered architecture with its defaults, ``overrides`` winning."""
    if name not in CLASSIFIERS:
        raise ValueError(f"Unknown model {name!r}; choose one of: {', '.join(CLASSIFIERS)}")
    return CLASSIFIERS[name].create(**overrides)


def model_summary(model: nn.Module) -> list[tuple[str, str, int]]:
    """(name, layer type, parameter count) for each leaf module, for the UI's summary table."""
    rows = []
    for name, m in model.named_modules():
        if not list(m.children()):
            rows.append((name, type(m).__name__, sum(p.numel() for p in m.parameters())))
    return rows
