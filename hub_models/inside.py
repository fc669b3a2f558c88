"""Inside an image classifier: what its layers hold and which pixels its answer rests on.

Works on any classifier ``inference.load_classifier`` returns (ours, timm, transformers): it looks for
modules, not for names. First-layer filters and feature maps (Zeiler & Fergus, https://arxiv.org/abs/1311.2901),
a gradient saliency map (Simonyan et al., https://arxiv.org/abs/1312.6034), an occlusion map (Zeiler &
Fergus), and the penultimate features of a labelled set projected to 2-D by PCA or t-SNE (van der Maaten &
Hinton, https://jmlr.org/papers/v9/vandermaaten08a.html) next to the images the model gets wrong.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from common.i18n import t

from .catalog import PROJECTIONS
from .visual import chart, font, grid

CELL = 56  # pixels per filter or feature map in the pictures
MAX_POINTS = 2000  # t-SNE of 2,000 points takes ~4 s on two cores (bench/inside_cnn.py)


def _weighted(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Leaf modules with a weight matrix or kernel, in the order they were registered (= the forward order for
    the sequential networks of the course; timm and transformers register theirs in forward order too)."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _heat(a: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (H, W) as an RGB uint8 colour map (dark blue -> teal -> yellow, like viridis)."""
    stops = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], np.float32)
    pos = np.clip(a, 0, 1) * (len(stops) - 1)
    i = np.minimum(pos.astype(int), len(stops) - 2)
    f = (pos - i)[..., None]
    return (stops[i] * (1 - f) + stops[i + 1] * f).astype(np.uint8)


def _tile(a: np.ndarray, side: int = CELL):
    """An (H, W) map in [0, 1] or an (H, W, 3) uint8 array as a ``side`` square PIL image (nearest: the pixels
    are the lesson)."""
    from PIL import Image

    img = Image.fromarray(_heat(a) if a.ndim == 2 else a)
    return img.resize((side, side), Image.Resampling.NEAREST)


def _spread(a: np.ndarray) -> np.ndarray:
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def _titled(img, title: str):
    from PIL import Image, ImageDraw

    out = Image.new("RGB", (max(img.width, 240), img.height + 24), "white")
    out.paste(img, (0, 24))
    ImageDraw.Draw(out).text((4, 4), title, fill="black", font=font(13))
    return out


def first_filters(model: nn.Module, limit: int = 64):
    """The first convolution's kernels as a picture, or None when the model has none (a plain MLP).

    Each kernel is scaled by the largest weight of the layer, with 0 at mid-grey, so their strengths
    compare; three-channel kernels are drawn in colour, others as the mean over their input channels.
    """
    conv = next((m for _, m in _weighted(model) if isinstance(m, nn.Conv2d)), None)
    if conv is None:
        return None
    w = conv.weight.detach().float()[:limit]  # (O, I, k, k)
    w = w / w.abs().max().clamp(min=1e-12) * 0.5 + 0.5
    tiles = []
    for k in w:
        a = k.permute(1, 2, 0).numpy() if k.shape[0] == 3 else k.mean(0).numpy()
        rgb = (np.clip(a, 0, 1) * 255).astype(np.uint8)
        tiles.append(_tile(np.repeat(rgb[..., None], 3, axis=2) if rgb.ndim == 2 else rgb))
    o, i, kh, kw = conv.weight.shape
    return _titled(grid(tiles, columns=min(8, len(tiles))),
                   t("classification.first_filters_title", filters=o, shape=f"{i}x{kh}x{kw}"))


def feature_maps(model: nn.Module, x: torch.Tensor, layers: int = 6) -> list[tuple[str, torch.Tensor]]:
    """(layer name, its output (C, H, W)) for up to ``layers`` convolutions from the first to the last, for
    one normalised image ``x`` (1, C, H, W)."""
    convs = [(n, m) for n, m in _weighted(model) if isinstance(m, nn.Conv2d)]
    if len(convs) > layers:
        keep = np.linspace(0, len(convs) - 1, layers).round().astype(int)
        convs = [convs[i] for i in sorted(set(keep.tolist()))]
    out: dict[str, torch.Tensor] = {}
    hooks = [m.register_forward_hook(lambda _m, _i, o, n=n: out.__setitem__(n, o.detach()[0]))
             for n, m in convs]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return [(n, out[n]) for n, _ in convs if n in out and out[n].dim() == 3]


def feature_maps_picture(maps: list[tuple[str, torch.Tensor]], channels: int = 8):
    """One row per layer: its ``channels`` most active maps after ReLU, each scaled to its own range."""
    from PIL import Image, ImageDraw

    if not maps:
        return None
    label_w, f, head = 150, font(11), 28
    out = Image.new("RGB", (label_w + channels * (CELL + 4), head + len(maps) * (CELL + 6) + 4), "white")
    d = ImageDraw.Draw(out)
    d.text((label_w, 6), t("classification.maps_title"), fill="black", font=font(13))
    for r, (name, fm) in enumerate(maps):
        act = fm.clamp(min=0)
        top = act.mean(dim=(1, 2)).argsort(descending=True)[:channels]
        y = head + r * (CELL + 6)
        d.text((4, y + 8), name[-22:], fill="black", font=f)
        d.text((4, y + 24), "x".join(str(s) for s in fm.shape), fill=(90, 90, 90), font=f)
        for c, ch in enumerate(top.tolist()):
            out.paste(_tile(_spread(act[ch].numpy())), (label_w + c * (CELL + 4), y))
    return out


def _log_prob(model: nn.Module, x: torch.Tensor, target: int) -> torch.Tensor:
    return F.log_softmax(model(x), dim=1)[:, target]


def saliency(model: nn.Module, x: torch.Tensor, target: int) -> np.ndarray:
    """|d logit_target / d pixel|, the largest over colour channels, scaled to [0, 1]: (H, W)."""
    x = x.clone().requires_grad_(True)
    model.zero_grad(set_to_none=True)
    model(x)[0, target].backward()
    g = x.grad[0].abs().amax(dim=0)
    model.zero_grad(set_to_none=True)
    return (g / g.max().clamp(min=1e-12)).numpy()


def occlusion(model: nn.Module, x: torch.Tensor, target: int, patch: int = 0, stride: int = 0,
              batch: int = 64) -> tuple[np.ndarray, float]:
    """How much the target's log-probability drops when a square of the image is set to the mean colour (0 after
    normalisation), averaged over the squares covering each pixel: (H, W), > 0 where hiding it hurts; and the
    lowest probability any square left. (Log-probability, not probability: a confident model's probability stays
    at 1.00 while the evidence for it is being hidden.)"""
    _, _, h, w = x.shape
    patch = patch or max(2, min(h, w) // 5)
    stride = stride or max(1, patch // 2)
    ys = list(range(0, max(1, h - patch + 1), stride))
    xs = list(range(0, max(1, w - patch + 1), stride))
    spots = [(a, b) for a in ys for b in xs]
    with torch.no_grad():
        base = float(_log_prob(model, x, target))
        drops = []
        for i in range(0, len(spots), batch):
            chunk = spots[i:i + batch]
            xb = x.repeat(len(chunk), 1, 1, 1)
            for j, (a, b) in enumerate(chunk):
                xb[j, :, a:a + patch, b:b + patch] = 0
            drops += (base - _log_prob(model, xb, target)).tolist()
    total, count = np.zeros((h, w), np.float32), np.zeros((h, w), np.float32)
    for (a, b), drop in zip(spots, drops):
        total[a:a + patch, b:b + patch] += drop
        count[a:a + patch, b:b + patch] += 1
    return total / np.maximum(count, 1), float(np.exp(base - max(drops)))


def overlay(img, heat: np.ndarray, side: int = 224, alpha: float = 0.55):
    """``heat`` ((H, W), [0, 1]) coloured over ``img`` (PIL), both enlarged to ``side``."""
    from PIL import Image

    base = img.convert("RGB").resize((side, side), Image.Resampling.NEAREST)
    hm = Image.fromarray(_heat(heat)).resize((side, side), Image.Resampling.BILINEAR)
    return Image.blend(base, hm, alpha)


@dataclass
class Inside:
    """What the tab shows for one image."""
    target: str  # the class the maps explain (the predicted one unless asked)
    probability: float
    filters: Any  # PIL or None
    maps: Any
    saliency: Any
    occlusion: Any
    lowest: float  # the target's probability with the most telling square hidden


def look_inside(model: nn.Module, image: Any, target: str | None = None) -> Inside:
    """Every per-image view for ``image`` (a path or PIL), explaining ``target`` (a label) or the prediction."""
    from common.errors import UserError

    from .inference import network_input

    x, seen = network_input(model, image)
    with torch.no_grad():
        probs = F.softmax(model(x), dim=1)[0]
    if target:
        if target not in model.labels:
            raise UserError(t("classification.not_a_class", target=target, known=", ".join(model.labels[:12])))
        k = model.labels.index(target)
    else:
        k = int(probs.argmax())
    occ, lowest = occlusion(model, x, k)
    name = model.labels[k]
    return Inside(target=name, probability=float(probs[k]), filters=first_filters(model),
                  maps=feature_maps_picture(feature_maps(model, x)),
                  saliency=_titled(overlay(seen, saliency(model, x, k)), t("classification.saliency_title", name=name)),
                  occlusion=_titled(overlay(seen, occ.clip(min=0) / max(float(occ.max()), 1e-6)),
                                    t("classification.occlusion_title", name=name)), lowest=lowest)


def penultimate(model: nn.Module, x: torch.Tensor, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(the features the last layer reads (N, D), the predicted probabilities (N, K)) for normalised images
    ``x`` (N, C, H, W). A last layer that is a convolution (NiN's 1x1 classifier) reads a map: its spatial
    mean is the feature."""
    last = _weighted(model)[-1][1]
    seen: list[torch.Tensor] = []
    hook = last.register_forward_hook(lambda _m, inputs, _o: seen.append(inputs[0].detach()))
    feats, probs = [], []
    try:
        with torch.no_grad():
            for i in range(0, len(x), batch):
                seen.clear()
                probs.append(F.softmax(model(x[i:i + batch]), dim=1))
                f = seen[-1]
                feats.append(f.mean(dim=(2, 3)) if f.dim() == 4 else f.reshape(len(f), -1))
    finally:
        hook.remove()
    return torch.cat(feats).numpy(), torch.cat(probs).numpy()


def project(features: np.ndarray, method: str, seed: int = 0) -> np.ndarray:
    """(N, 2) points: the first two principal components, or t-SNE (on the first 50 components, as its
    authors advise; 500 iterations, which settle at this size)."""
    if method not in PROJECTIONS:
        raise ValueError(f"method must be one of {PROJECTIONS}")
    f = features.astype(np.float64) - features.mean(0)
    u, s, _ = np.linalg.svd(f, full_matrices=False)
    pcs = u * s  # (N, min(N, D)) principal components, largest first
    if method == "PCA" or len(f) < 5:
        return pcs[:, :2] if pcs.shape[1] >= 2 else np.pad(pcs, ((0, 0), (0, 2 - pcs.shape[1])))
    from sklearn.manifold import TSNE

    tsne = TSNE(2, perplexity=min(30.0, (len(f) - 1) / 3), init="pca", max_iter=500, random_state=seed)
    return tsne.fit_transform(pcs[:, :50].astype(np.float32))


def projection_picture(points: np.ndarray, y: np.ndarray, labels: list[str], method: str):
    """The points coloured by true class (one legend entry per class, at most ten)."""
    shown = sorted(set(y.tolist()))[:10]
    scatter = [(labels[c], points[y == c, 0].tolist(), points[y == c, 1].tolist()) for c in shown]
    classes = len(set(y.tolist()))
    title = (t("classification.projection_title_some", method=method, classes=classes) if classes > 10 else
             t("classification.projection_title", method=method))
    return chart(title, [], "", "", size=(560, 480), points=scatter)


def mistakes(images: torch.Tensor, y: np.ndarray, probs: np.ndarray, labels: list[str],
             limit: int = 40) -> list[tuple[Any, str]]:
    """The most confident wrong answers first: (picture, "3 -> 8 0.91": true, predicted, its probability).
    ``images`` are the unnormalised (N, C, H, W) in [0, 1]."""
    from PIL import Image

    pred = probs.argmax(1)
    wrong = np.flatnonzero(pred != y)
    wrong = wrong[np.argsort(-probs[wrong, pred[wrong]])][:limit]
    out = []
    for i in wrong.tolist():
        a = (images[i].clamp(0, 1) * 255).byte().permute(1, 2, 0).numpy()
        img = Image.fromarray(a[..., 0] if a.shape[2] == 1 else a).resize((96, 96), Image.Resampling.NEAREST)
        out.append((img, f"{labels[y[i]]} -> {labels[pred[i]]} {probs[i, pred[i]]:.2f}"))
    return out


@dataclass
class SetViews:
    """What the tab shows for a labelled set of images."""
    projection: Any  # PIL
    mistakes: list[tuple[Any, str]]
    accuracy: float
    count: int
    per_class: list[tuple[str, int, float]]  # (class, images, accuracy)


def set_views(model: nn.Module, images: torch.Tensor, y: torch.Tensor, names: list[str], method: str,
              seed: int = 0) -> SetViews:
    """The labelled images (N, C, H, W) in [0, 1] whose classes are ``names`` through ``model``: projection of
    its penultimate features, the images it gets wrong, accuracy overall and by class. At most MAX_POINTS
    images (a seeded sample) are used; their classes must be the model's (by name)."""
    from common.errors import UserError

    unknown = sorted(set(names) - set(model.labels))
    if unknown:
        known = ", ".join(model.labels[:12]) + (" ..." if len(model.labels) > 12 else "")
        raise UserError(t("classification.classes_not_the_models", unknown=", ".join(unknown[:8]), known=known))
    if len(images) > MAX_POINTS:
        keep = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:MAX_POINTS]
        images, y = images[keep], y[keep]
    if images.shape[1] != model.in_channels:  # digits for an RGB model, or photos for a grayscale one
        images = images.mean(1, keepdim=True) if model.in_channels == 1 else images.expand(-1, 3, -1, -1)
    if images.shape[-1] != model.image_size or images.shape[-2] != model.image_size:
        images = F.interpolate(images, size=(model.image_size, model.image_size), mode="bilinear",
                               align_corners=False)
    target = np.array([model.labels.index(names[int(c)]) for c in y.tolist()])  # data class -> model class
    mean = torch.tensor(model.mean).view(1, -1, 1, 1)
    std = torch.tensor(model.std).view(1, -1, 1, 1)
    feats, probs = penultimate(model, (images - mean) / std)
    points = project(feats, method, seed)
    hit = probs.argmax(1) == target
    per_class = [(model.labels[c], int((target == c).sum()), float(hit[target == c].mean()))
                 for c in sorted(set(target.tolist()))]
    return SetViews(projection=projection_picture(points, target, model.labels, method),
                    mistakes=mistakes(images, target, probs, model.labels), accuracy=float(hit.mean()),
                    count=len(target), per_class=per_class)
