"""Neural style transfer: VGG-19 features, Gram matrices, the three losses, Gatys' optimisation and
Johnson's feed-forward style network.

Images are floats in [0, 1], (B, 3, H, W). The feature extractor is VGG-19's convolutional part, its
layers named as in the papers (``conv1_1`` ... ``conv5_4``). Its weights come from the hub repo
``timm/vgg19.tv_in1k`` (torchvision's ImageNet weights in timm's format) when the hub has it; offline
the extractor is VGG-19 with seeded random weights: random convolutions still measure local colour
and texture statistics (He, Wang & Hopcroft, 2016, "A powerful generative model using random weights
for the deep image representation"), so textures and colours transfer, while object-level content
is kept less faithfully than with ImageNet features.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from common.i18n import t

from .cache import model_cache
from .inference import InputError
from .registry import Published
from .style_catalog import (  # noqa: F401
    BUILTIN_IMAGES, CONTENT_LAYERS, CONV_LAYERS, EXTRACTORS, STYLE_LAYERS, VGG_REPO, vgg19_names)

_MEAN, _STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class VGGFeatures(nn.Module):
    """VGG-19's feature layers, frozen; ``forward(x, names)`` returns the named layers' outputs. ``source`` says
    where the weights came from, in English (a job's log and card); ``describe()`` in the reader's language."""

    def __init__(self, features: nn.Sequential, source: str, repo: str | None = None):
        super().__init__()
        self.features, self.source, self.repo = features.eval(), source, repo  # repo: None for random weights
        self.names = vgg19_names()
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor, names: list[str] | tuple[str, ...]) -> dict[str, torch.Tensor]:
        unknown = [n for n in names if n not in self.names]
        if unknown:
            raise InputError(t("style.no_layer", layer=unknown[0], layers=", ".join(CONV_LAYERS)))
        mean = torch.tensor(_MEAN, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(_STD, device=x.device).view(1, 3, 1, 1)
        h, out, last = (x - mean) / std, {}, max(self.names.index(n) for n in names)
        for i, layer in enumerate(self.features[:last + 1]):
            h = layer(h)
            if self.names[i] in names:
                out[self.names[i]] = h
        return out

    def describe(self) -> str:
        """Where the weights came from, in the language of the request being served."""
        return t("style.source_random") if self.repo is None else t("style.source_imagenet", repo=self.repo)


def random_vgg19(seed: int = 0) -> VGGFeatures:
    """VGG-19 with torchvision's initialisation (Kaiming normal, fan-out), the same on every machine."""
    import torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        features = torchvision.models.vgg19(weights=None).features
    return VGGFeatures(features, "VGG-19, random weights (seed 0)")  # (English: a job's log and card)


def vgg19_from_folder(folder: str | Path) -> VGGFeatures:
    """The feature layers of a timm VGG-19 checkpoint folder (``timm/vgg19.tv_in1k`` pulled from a hub)."""
    import timm

    net = timm.create_model(f"local-dir:{folder}", pretrained=True)  # safetensors, no pickle
    features = getattr(net, "features", None)
    if not isinstance(features, nn.Sequential) or len(features) != 37:
        raise InputError(t("style.not_vgg19", name=Path(folder).name))
    repo = f"{Path(folder).parent.parent.name}/{Path(folder).parent.name}"
    return VGGFeatures(features, f"VGG-19, ImageNet weights ({repo})", repo)  # (English: a job's log and card)


@lru_cache(maxsize=4)
def _cached_extractor(name: str, hub) -> VGGFeatures:  # hub: a frozen (hashable) Hub, None for random weights
    if name == "vgg19-random":
        return random_vgg19()
    from hub.client import HubActionError, pull

    try:
        return vgg19_from_folder(pull(VGG_REPO, hub))
    except HubActionError as e:
        raise InputError(t("style.vgg_pull_failed", repo=VGG_REPO, hub=hub.label, error=e)) from None


def load_extractor(name: str, hub=None) -> VGGFeatures:
    """``vgg19-random`` (offline) or ``vgg19-hub`` (pulled from ``hub``, a ``hub.client.Hub``)."""
    if name not in EXTRACTORS:
        raise InputError(t("style.unknown_extractor", name=name, choices=", ".join(EXTRACTORS)))
    if name == "vgg19-hub" and hub is None:
        raise InputError(t("style.extractor_needs_hub"))
    return _cached_extractor(name, hub if name == "vgg19-hub" else None)


def builtin_image(name: str):
    """A built-in image as PIL RGB, read from the package that ships it (scikit-image, scikit-learn)."""
    from PIL import Image

    if name not in BUILTIN_IMAGES:
        raise InputError(t("style.no_builtin_image", name=name, choices=", ".join(BUILTIN_IMAGES)))
    from common.packaged import package_file

    package, file, _ = BUILTIN_IMAGES[name]
    with Image.open(package_file(package, *file.split("/"))) as img:
        return img.convert("RGB")


# ----------------------------------------------------------------- the losses
def gram(f: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) features -> (B, C, C) Gram matrices: channel i and j's products summed over the
    positions, divided by C*H*W so layers of any size weigh alike."""
    b, c, h, w = f.shape
    x = f.reshape(b, c, h * w)
    return x @ x.transpose(1, 2) / (c * h * w)


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    """Total variation: the mean absolute difference of vertical and of horizontal neighbours, halved."""
    return 0.5 * ((x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean())


def relative_mse(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the target's mean square: 1.0 means "as far as zero is". Layers (and
    extractors: random weights give far smaller Gram matrices than ImageNet's) then weigh alike, and
    the loss weights mean the same whatever the extractor."""
    return F.mse_loss(x, target.expand_as(x)) / target.pow(2).mean().clamp(min=1e-20)


def content_loss(f: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> torch.Tensor:
    """Relative MSE of the features at the content layers, averaged over the layers."""
    return sum(relative_mse(f[k], target[k]) for k in target) / max(1, len(target))


def style_loss(f: dict[str, torch.Tensor], target_grams: dict[str, torch.Tensor]) -> torch.Tensor:
    """Relative MSE of the Gram matrices at the style layers, averaged over the layers."""
    return sum(relative_mse(gram(f[k]), target_grams[k]) for k in target_grams) / max(1, len(target_grams))


# ----------------------------------------------------------------- images
def to_tensor(img, side: int) -> torch.Tensor:
    """A PIL image resized so its longer side is ``side`` (multiple of 4), as (1, 3, H, W) in [0, 1]."""
    from .inference import image_to_tensor

    k = side / max(img.size)
    w, h = max(4, round(img.width * k / 4) * 4), max(4, round(img.height * k / 4) * 4)
    return image_to_tensor(img.convert("RGB").resize((w, h))).float().div(255).unsqueeze(0)


def to_image(x: torch.Tensor):
    from PIL import Image

    a = (x.detach()[0].clamp(0, 1).permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    return Image.fromarray(a)


def check_image(img, what: str):
    """Refuse images a style transfer cannot use: too small, or so thin that resizing ruins them. ``what``:
    "content" or "style"."""
    which = (lambda: t("style.what_content") if what == "content" else t("style.what_style"))
    if min(img.size) < 16:
        raise InputError(t("style.image_too_small", what=which(), width=img.width, height=img.height))
    if max(img.size) / min(img.size) > 8:
        raise InputError(t("style.image_too_thin", what=which(), width=img.width, height=img.height))
    return img


# ----------------------------------------------------------------- Gatys et al.
def gatys(content, style, extractor: VGGFeatures, *, content_layers=CONTENT_LAYERS, style_layers=STYLE_LAYERS,
          content_weight: float = 1.0, style_weight: float = 10.0, tv_weight: float = 2.0, steps: int = 100,
          size: int = 160, lr: float = 0.02, every: int = 10, init: str = "content") -> Iterator[dict[str, Any]]:
    """Optimise the pixels of one image (the only parameter) so its features match the content image's
    at ``content_layers`` and its Gram matrices the style image's at ``style_layers``, with total
    variation against noise. Yields {step, image, content, style, tv, total} every ``every`` steps and at
    the end; the losses are unweighted (the weights are the caller's)."""
    if not content_layers and not style_layers:
        raise InputError(t("style.no_layers"))
    if steps < 1:
        raise InputError(t("style.no_steps"))
    c = to_tensor(check_image(content, "content"), size)
    s = to_tensor(check_image(style, "style"), size)  # the same scale as the content: Gram matrices ignore size
    with torch.no_grad():
        c_target = {k: v.detach() for k, v in extractor(c, list(content_layers)).items()}
        s_target = {k: gram(v).detach() for k, v in extractor(s, list(style_layers)).items()}
    x = (c.clone() if init == "content" else torch.rand_like(c)).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    layers = list(dict.fromkeys([*content_layers, *style_layers]))
    for step in range(1, steps + 1):
        f = extractor(x, layers)
        lc = content_loss(f, c_target) if content_layers else x.sum() * 0
        ls = style_loss(f, s_target) if style_layers else x.sum() * 0
        lt = tv_loss(x)
        total = content_weight * lc + style_weight * ls + tv_weight * lt
        opt.zero_grad()
        total.backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(0, 1)
        if step % every == 0 or step == steps or step == 1:
            yield {"step": step, "image": to_image(x), "content": lc.item(), "style": ls.item(), "tv": lt.item(),
                   "total": total.item()}


def gram_picture(style, extractor: VGGFeatures, layers=STYLE_LAYERS, channels: int = 32, size: int = 256):
    """The Gram matrix of each style layer (its first ``channels`` channels), as a heat map: bright cells are
    channel pairs that fire together in the style image."""
    import numpy as np
    from PIL import Image

    from .visual import captioned, row

    if not layers:
        raise InputError(t("style.no_style_layer"))
    with torch.no_grad():
        feats = extractor(to_tensor(check_image(style, "style"), size), list(layers))
    tiles = []
    for name in layers:
        g = gram(feats[name])[0, :channels, :channels]
        g = (g - g.min()) / (g.max() - g.min()).clamp(min=1e-12)
        g = g.numpy()
        heat = (np.stack([g, g ** 0.5, 1 - g], -1) * 255).astype("uint8")  # dark blue -> yellow-white
        img = Image.fromarray(heat).resize((160, 160), Image.NEAREST)
        tiles.append(captioned(img, t("style.gram_caption", layer=name, channels=feats[name].shape[1])))
    return row(tiles, pad=8)


# ----------------------------------------------------------------- Johnson et al.
class _Residual(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c, affine=True),
                                  nn.ReLU(), nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c, affine=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _conv(cin: int, cout: int, k: int, stride: int = 1, up: bool = False) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Upsample(scale_factor=2, mode="nearest")] if up else []
    return layers + [nn.ReflectionPad2d(k // 2), nn.Conv2d(cin, cout, k, stride), nn.InstanceNorm2d(cout, affine=True),
                     nn.ReLU()]


class StyleNet(nn.Module, Published, library_name="pytorch", license="mit", pipeline_tag="image-to-image",
               tags=["dl-playground", "style-transfer", "fast-neural-style"]):
    """Johnson et al.'s image transformation network, for one style: two stride-2 convs down, residual
    blocks, two nearest-neighbour upsamplings + convs back (no checkerboard artefacts), instance norm.
    It outputs a change to the photo (in logit space), zero at the start: a short CPU training keeps the
    content from the first step instead of having to learn to copy it. Any image size; one forward pass."""

    def __init__(self, width: int = 16, residual_blocks: int = 5, style_name: str = "style",
                 content_weight: float = 1.0, style_weight: float = 10.0, extractor: str = "vgg19-random"):
        super().__init__()
        self.style_name, self.extractor = style_name, extractor
        w = width
        self.net = nn.Sequential(*_conv(3, w, 9), *_conv(w, 2 * w, 3, 2), *_conv(2 * w, 4 * w, 3, 2),
                                 *[_Residual(4 * w) for _ in range(residual_blocks)],
                                 *_conv(4 * w, 2 * w, 3, up=True), *_conv(2 * w, w, 3, up=True),
                                 nn.ReflectionPad2d(4), nn.Conv2d(w, 3, 9))
        nn.init.zeros_(self.net[-1].weight)  # starts as the identity: content is kept, style is learnt on top
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = F.pad(x, (0, (-w) % 4, 0, (-h) % 4), mode="reflect")
        # the network predicts a change of the image's logits: zero change returns the photo itself
        return torch.sigmoid(torch.logit(x.clamp(0.004, 0.996)) + self.net(x * 2 - 1))[..., :h, :w]


def load_style_net(folder: str | Path) -> StyleNet:
    import json

    from .registry import class_for

    path = Path(folder)
    try:
        config = json.loads((path / "config.json").read_text())
        if class_for(config, [StyleNet]) is None:
            raise ValueError("config.json is not a style network's")
        return StyleNet.from_pretrained(path).eval()
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise InputError(t("style.not_a_style_net", name=path.name,
                           reason=str(e).splitlines()[0] if str(e) else type(e).__name__)) from None


@model_cache(maxsize=4)
def load_cached(folder: str) -> StyleNet:
    return load_style_net(folder)


def stylize(model: StyleNet, image: Any, max_side: int = 512):
    """One image through a style network, its longer side at most ``max_side`` pixels."""
    from .inference import load_image

    img = check_image(load_image(image, channels=3), "content")
    with torch.no_grad():
        return to_image(model(to_tensor(img, min(max_side, max(img.size)))))
