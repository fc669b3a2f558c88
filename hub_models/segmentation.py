"""Semantic segmentation networks behind one interface: our U-Net and FCN, torchvision's, transformers'.

Every segmenter here maps images as floats in [0, 1], (B, 3, H, W), to class logits at the same
resolution, (B, K, H, W), class 0 being the background. ``catalog.SEGMENTERS`` is the registry the tab's
dropdown, the CLI and the tests read. Our classes inherit ``PyTorchModelHubMixin``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from common.i18n import t

from .cache import model_cache
from .catalog import SEGMENTERS
from .registry import Published

_HUB = dict(library_name="pytorch", tags=["dl-playground", "image-segmentation"], pipeline_tag="image-segmentation",
            license="mit")
IGNORE = 255  # mask value of pixels that count for nothing (VOC's object outlines)
_MEAN, _STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _labels(labels: list[str] | None, num_classes: int) -> list[str]:
    names = list(labels) if labels else ["background", *[f"class {i}" for i in range(1, num_classes)]]
    if len(names) != num_classes:
        raise ValueError(f"{len(names)} labels given for {num_classes} classes")
    return names


class _Normalised(nn.Module):
    def _norm(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(_MEAN, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(_STD, device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class UNet(_Normalised, Published, **_HUB):
    """U-Net (Ronneberger et al., 2015): an encoder halves the resolution ``depth`` times, a decoder
    doubles it back with 2x2 transposed convolutions, and each decoder stage also sees the encoder's
    feature map of the same size (the skip connections that keep edges sharp)."""

    def __init__(self, num_classes: int = 4, labels: list[str] | None = None, image_size: int = 128,
                 width: int = 8, depth: int = 3):
        super().__init__()
        self.num_classes, self.labels, self.image_size = num_classes, _labels(labels, num_classes), image_size
        self.depth = depth
        chans = [width * 2 ** i for i in range(depth + 1)]
        self.down = nn.ModuleList([_double_conv(3, chans[0])] +
                                  [_double_conv(chans[i], chans[i + 1]) for i in range(depth)])
        self.up = nn.ModuleList(nn.ConvTranspose2d(chans[i + 1], chans[i], 2, stride=2) for i in reversed(range(depth)))
        self.merge = nn.ModuleList(_double_conv(2 * chans[i], chans[i]) for i in reversed(range(depth)))
        self.head = nn.Conv2d(chans[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = 2 ** self.depth
        pad = ((-w) % m, (-h) % m)  # any size: pad to a multiple of 2^depth, crop back at the end
        f = F.pad(self._norm(x), (0, pad[0], 0, pad[1]), mode="replicate")
        skips = []
        for i, block in enumerate(self.down):
            f = block(f if i == 0 else F.max_pool2d(f, 2))
            skips.append(f)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips[:-1])):
            f = merge(torch.cat([up(f), skip], dim=1))
        return self.head(f)[..., :h, :w]


def bilinear_kernel(channels: int, kernel_size: int) -> torch.Tensor:
    """Weights (C, C, k, k) that make a transposed convolution upsample each channel bilinearly (FCN's init)."""
    factor = (kernel_size + 1) // 2
    centre = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    og = torch.arange(kernel_size, dtype=torch.float32)
    filt = (1 - (og - centre).abs() / factor)
    weight = torch.zeros(channels, channels, kernel_size, kernel_size)
    weight[range(channels), range(channels)] = filt[:, None] * filt[None, :]
    return weight


class FCN(_Normalised, Published, **_HUB):
    """A fully convolutional network (Long et al., 2015): a CNN brings the image to 1/8 of its size, a 1x1
    conv turns each feature vector into class scores, and one transposed convolution (kernel 16, stride 8,
    initialised to bilinear upsampling) brings the score map back to the input size. No skips: edges
    are blurrier than U-Net's, the point of comparing them."""

    def __init__(self, num_classes: int = 4, labels: list[str] | None = None, image_size: int = 128,
                 width: int = 16):
        super().__init__()
        self.num_classes, self.labels, self.image_size = num_classes, _labels(labels, num_classes), image_size
        w = width
        self.backbone = nn.Sequential(
            _double_conv(3, w), nn.MaxPool2d(2), _double_conv(w, 2 * w), nn.MaxPool2d(2),
            _double_conv(2 * w, 4 * w), nn.MaxPool2d(2), _double_conv(4 * w, 4 * w))
        self.score = nn.Conv2d(4 * w, num_classes, 1)
        self.upsample = nn.ConvTranspose2d(num_classes, num_classes, 16, stride=8, padding=4, bias=False)
        with torch.no_grad():
            self.upsample.weight.copy_(bilinear_kernel(num_classes, 16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        f = F.pad(self._norm(x), (0, (-w) % 8, 0, (-h) % 8), mode="replicate")
        return self.upsample(self.score(self.backbone(f)))[..., :h, :w]


# ----------------------------------------------------------------- torchvision
class TorchvisionSegmenter(_Normalised, Published, **_HUB):
    """One of torchvision's segmentation models, randomly initialised (``weights=None``: no download)."""

    def __init__(self, arch: str = "deeplabv3-mobilenet", num_classes: int = 4, labels: list[str] | None = None,
                 image_size: int = 128):
        super().__init__()
        from torchvision.models import segmentation as seg

        self.arch, self.num_classes, self.image_size = arch, num_classes, image_size
        self.labels = _labels(labels, num_classes)
        builders = {"deeplabv3-mobilenet": seg.deeplabv3_mobilenet_v3_large, "lraspp-mobilenet":
                    seg.lraspp_mobilenet_v3_large, "fcn-resnet50": seg.fcn_resnet50}
        if arch not in builders:
            raise ValueError(f"unknown torchvision segmenter {arch!r}; choose one of {', '.join(builders)}")
        extra = {} if arch == "lraspp-mobilenet" else {"aux_loss": False}
        self.net = builders[arch](weights=None, weights_backbone=None, num_classes=num_classes, **extra)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self._norm(x))["out"]


# ----------------------------------------------------------------- transformers
class TransformersSegmenter(nn.Module):
    """A transformers ``AutoModelForSemanticSegmentation`` (SegFormer, DPT, UperNet...): its logits come
    at a fraction of the input size and are upsampled bilinearly."""

    def __init__(self, net: nn.Module, processor: Any):
        super().__init__()
        self.net, self.processor = net, processor
        cfg = net.config
        self.num_classes = int(cfg.num_labels)
        self.labels = [str(cfg.id2label.get(i, i)) for i in range(self.num_classes)]
        from .inference import processor_side

        self.image_size = processor_side(processor, "height", "shortest_edge")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inputs = self.processor(images=list(x.cpu()), return_tensors="pt", do_rescale=False)
        logits = self.net(pixel_values=inputs["pixel_values"].to(x.device)).logits
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)

    def save_pretrained(self, folder: str | Path) -> None:
        """transformers' own layout: the folder loads with ``pipeline("image-segmentation", model=...)`` too."""
        self.net.save_pretrained(folder)
        self.processor.save_pretrained(folder)


def load_transformers_segmenter(folder: str | Path, labels: list[str] | None = None,
                                image_size: int | None = None) -> TransformersSegmenter:
    """A transformers semantic segmenter; with ``labels`` (and ``image_size``), ready to fine-tune on those classes."""
    from .inference import load_transformers_vision

    net, processor = load_transformers_vision(folder, "AutoModelForSemanticSegmentation", labels, image_size)
    return TransformersSegmenter(net.train(labels is not None), processor)


# ----------------------------------------------------------------- registry and I/O
CLASSES = {"UNet": UNet, "FCN": FCN, "TorchvisionSegmenter": TorchvisionSegmenter}


def create_segmenter(name: str, num_classes: int, labels: list[str], image_size: int) -> nn.Module:
    if name not in SEGMENTERS:
        raise ValueError(f"unknown segmenter {name!r}; choose one of {', '.join(SEGMENTERS)}")
    return SEGMENTERS[name].create(num_classes=num_classes, labels=labels, image_size=image_size)


def load_segmenter(folder: str | Path) -> nn.Module:
    """A segmentation folder in eval mode: ours, torchvision's, or a transformers semantic segmenter."""
    from .inference import load_by_config

    return load_by_config(folder, CLASSES, "ForSemanticSegmentation", load_transformers_segmenter,
                          "segmentation model")


@model_cache(maxsize=4)
def load_cached(folder: str) -> nn.Module:
    return load_segmenter(folder)


def iou_table(confusion: torch.Tensor) -> dict[str, Any]:
    """Per-class IoU (NaN for a class absent from both truth and prediction), mIoU over the others,
    pixel accuracy, from a (K, K) confusion matrix of pixel counts (rows: truth)."""
    cm = confusion.double()
    tp = cm.diag()
    union = cm.sum(0) + cm.sum(1) - tp
    iou = torch.where(union > 0, tp / union.clamp(min=1), torch.tensor(float("nan"), dtype=torch.float64))
    valid = ~iou.isnan()
    return {"iou": iou.tolist(), "miou": float(iou[valid].mean()) if valid.any() else 0.0,
            "pixel_accuracy": float(tp.sum() / cm.sum().clamp(min=1))}


def confusion(pred: torch.Tensor, target: torch.Tensor, k: int) -> torch.Tensor:
    """(K, K) pixel counts; target pixels equal to IGNORE are left out."""
    keep = target != IGNORE
    idx = target[keep].long() * k + pred[keep].long()
    return torch.bincount(idx, minlength=k * k).view(k, k)


# ----------------------------------------------------------------- predict on one image
def segment_image(model: nn.Module, image: Any):
    """(class map (H, W) uint8 numpy at the image's own size, the image as PIL RGB)."""
    from .inference import image_to_tensor, load_image

    img = load_image(image, channels=3)
    s = int(model.image_size)
    x = image_to_tensor(img.resize((s, s))).float().div(255).unsqueeze(0)
    with torch.no_grad():
        logits = model(x)
        logits = F.interpolate(logits, size=(img.height, img.width), mode="bilinear", align_corners=False)
    return logits.argmax(1)[0].to(torch.uint8).numpy(), img


def transposed_conv_demo(kernel_size: int, stride: int, padding: int) -> dict[str, Any]:
    """The lesson's example, computed: a 2x2 input, a kernel of 0..k^2-1, and the transposed convolution's
    output; plus what stride 8 with a bilinear kernel does to a coarse map (FCN's upsampling)."""
    x = torch.tensor([[0.0, 1.0], [2.0, 3.0]]).view(1, 1, 2, 2)
    k = torch.arange(kernel_size * kernel_size, dtype=torch.float32).view(1, 1, kernel_size, kernel_size)
    if padding * 2 >= (2 - 1) * stride + kernel_size:
        # (a message, not a bug: the tab's sliders reach this and show it)
        raise ValueError(t("segmentation.padding_too_big", padding=padding,
                           limit=((2 - 1) * stride + kernel_size + 1) // 2))
    y = F.conv_transpose2d(x, k, stride=stride, padding=padding)
    coarse = torch.tensor([[0.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]).view(1, 1, 3, 3)
    up = F.conv_transpose2d(coarse, bilinear_kernel(1, 16), stride=8, padding=4)
    return {"input": x[0, 0].tolist(), "kernel": k[0, 0].tolist(), "output": y[0, 0].tolist(),
            "coarse": coarse[0, 0].tolist(), "upsampled": up[0, 0].tolist()}


def transposed_conv_picture(kernel_size: int, stride: int, padding: int):
    """transposed_conv_demo drawn: input * kernel -> output, then a 3x3 score map upsampled x8 (bilinear)."""
    from .visual import number_grid, row

    d = transposed_conv_demo(kernel_size, stride, padding)
    return row([number_grid(t("segmentation.grid_input"), d["input"]),
                number_grid(t("segmentation.grid_kernel", k=kernel_size), d["kernel"]),
                number_grid(t("segmentation.grid_output", stride=stride, padding=padding), d["output"]),
                number_grid(t("segmentation.grid_scores"), d["coarse"]),
                number_grid(t("segmentation.grid_upsampled"), d["upsampled"], cell=7)])


def class_shares(mask, labels: list[str]) -> list[list[Any]]:
    """[class, share of the image's pixels in %] for the classes present, largest first."""
    import numpy as np

    counts = np.bincount(mask.flatten(), minlength=len(labels))
    total = max(1, int(counts.sum()))
    rows = [[labels[i] if i < len(labels) else str(i), round(100 * int(c) / total, 2)]
            for i, c in enumerate(counts) if c]
    return sorted(rows, key=lambda r: -r[1])
