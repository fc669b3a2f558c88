"""The built-in vision sample: scenes of coloured shapes with exact boxes and masks, made offline.

Each scene has a smooth random background with noise and one to ``max_objects`` ellipses,
rectangles and triangles of several sizes (small ones are the hard part), aspect ratios and
colours, never overlapping. Boxes come from the very coordinates the shapes are drawn with,
and the mask from drawing the same shapes with class ids, so both are exact. A seed gives the
same scenes on every machine (numpy's PCG64 and Pillow's rasteriser are deterministic).
The detection and segmentation tabs both train on it.
"""
from __future__ import annotations

from dataclasses import dataclass

CLASSES = ("ellipse", "rectangle", "triangle")
SPLIT_SEEDS = {"train": 0, "val": 1}  # the validation scenes are drawn apart from the training ones
SPLIT_SIZES = {"train": 1000, "val": 200}


@dataclass
class Scene:
    image: "object"  # PIL RGB
    boxes: list[list[float]]  # [x1, y1, x2, y2] in pixels, pixel edges (a 1-px shape at x=3 spans 3..4)
    labels: list[int]  # indices into CLASSES
    mask: "object"  # PIL L: 0 background, c + 1 for class c


def _background(rng, size: int):
    import numpy as np
    from PIL import Image

    a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size] / max(1, size - 1)
    t = (np.cos(angle) * xx + np.sin(angle) * yy + 1.5) / 3  # 0..1 across the image
    img = a * (1 - t[..., None]) + b * t[..., None] + rng.normal(0, 12, (size, size, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype("uint8"), "RGB"), (a + b) / 2


def _colour(rng, avoid) -> tuple[int, int, int]:
    """A colour far enough from the background's mean to be seen."""
    import numpy as np

    for _ in range(50):
        c = rng.uniform(0, 255, 3)
        if np.abs(c - avoid).sum() > 160:
            break
    return tuple(int(v) for v in c)


def make_scene(rng, size: int = 128, max_objects: int = 4, min_side: int = 10, max_side: int = 60) -> Scene:
    """One scene from a ``numpy.random.Generator``."""
    from PIL import Image, ImageDraw

    img, mean = _background(rng, size)
    mask = Image.new("L", (size, size), 0)
    draw, mdraw = ImageDraw.Draw(img), ImageDraw.Draw(mask)
    boxes: list[list[float]] = []
    labels: list[int] = []
    scale = size / 128
    lo, hi = max(4, int(min_side * scale)), max(6, int(max_side * scale))
    for _ in range(int(rng.integers(1, max_objects + 1))):
        for _attempt in range(30):
            side = int(rng.integers(lo, hi + 1))
            aspect = float(rng.uniform(0.6, 1.6))
            w, h = max(4, int(side * aspect ** 0.5)), max(4, int(side / aspect ** 0.5))
            if w >= size - 2 or h >= size - 2:
                continue
            x0, y0 = int(rng.integers(1, size - w)), int(rng.integers(1, size - h))
            box = [x0, y0, x0 + w, y0 + h]
            if all(box[2] + 2 <= b[0] or b[2] + 2 <= box[0] or box[3] + 2 <= b[1] or b[3] + 2 <= box[1]
                   for b in boxes):  # apart, with a 2-px gap
                break
        else:
            continue
        c = int(rng.integers(0, len(CLASSES)))
        colour = _colour(rng, mean)
        x1, y1 = x0 + w - 1, y0 + h - 1  # PIL's shapes include their last pixel
        up = rng.random() < 0.5  # a triangle's apex: up or down
        for d, fill in ((draw, colour), (mdraw, c + 1)):
            if CLASSES[c] == "ellipse":
                d.ellipse([x0, y0, x1, y1], fill=fill)
            elif CLASSES[c] == "rectangle":
                d.rectangle([x0, y0, x1, y1], fill=fill)
            else:
                pts = [(x0, y1), (x1, y1), ((x0 + x1) / 2, y0)] if up else [(x0, y0), (x1, y0), ((x0 + x1) / 2, y1)]
                d.polygon(pts, fill=fill)
        boxes.append([float(v) for v in box])
        labels.append(c)
    return Scene(img, boxes, labels, mask)


def shapes_split(split: str, size: int = 128, n: int | None = None) -> list[Scene]:
    """The built-in "shapes" split ("train" or "val"), ``n`` scenes (default: its full size)."""
    import numpy as np

    rng = np.random.default_rng([SPLIT_SEEDS[split], size])
    return [make_scene(rng, size) for _ in range(SPLIT_SIZES[split] if n is None else n)]
