"""The built-in face sample: synthetic people drawn offline, several photos each.

No face data set ships with an installable package (Olivetti and LFW are downloads), so the
project draws its own. An *identity* is a set of fixed traits: head shape, skin tone, hair
style and colour, eye spacing, size and colour, brows, nose, mouth, ears, and optional beard,
glasses and a mole. A *photo* of that identity varies what a camera varies: position, scale,
in-plane tilt, lighting (brightness, a shading gradient, white balance), background, expression
(smile, gaze), glasses put on or taken off, something in front of the face, blur and sensor noise.
Raw pixels of two photos of one person therefore differ a lot
while the traits stay: a network must learn which differences matter. The faces are drawn
as face crops (like Olivetti's), roughly centred with the eyes near one height: what the
detect -> crop -> align steps make of a photograph. Haar cascades find few of these drawn faces
(15 % in a test), so models trained on them record that their faces come cropped
(``face_crop="none"``). A seed gives the same people on every machine.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SKIN = [(255, 224, 196), (241, 194, 160), (224, 172, 130), (198, 140, 100), (160, 110, 75), (120, 80, 56),
        (250, 210, 180), (210, 160, 120)]
HAIR = [(25, 20, 18), (70, 45, 30), (120, 80, 45), (200, 160, 90), (160, 60, 30), (150, 150, 150), (230, 220, 200)]
IRIS = [(60, 40, 25), (40, 90, 140), (60, 110, 70), (100, 80, 50), (30, 30, 30)]
HAIR_STYLES = ("short", "long", "bald", "fringe", "side-part", "bun")
SPLIT_SEEDS = {"train": 0, "val": 1}  # validation people are drawn apart from the training ones: unseen faces
SPLIT_PEOPLE = {"train": 80, "val": 20}
PHOTOS_PER_PERSON = 10


@dataclass
class Identity:
    traits: dict[str, Any]
    name: str


def make_identity(rng, name: str) -> Identity:
    """The fixed traits of one person from a ``numpy.random.Generator``."""
    t: dict[str, Any] = {
        "face_w": rng.uniform(0.33, 0.43), "face_h": rng.uniform(0.44, 0.54), "jaw": rng.uniform(0.0, 1.0),
        "skin": SKIN[rng.integers(len(SKIN))], "hair": HAIR[rng.integers(len(HAIR))],
        "hair_style": HAIR_STYLES[rng.integers(len(HAIR_STYLES))], "eye_gap": rng.uniform(0.17, 0.27),
        "eye_y": rng.uniform(-0.08, 0.02), "eye_w": rng.uniform(0.07, 0.11), "eye_h": rng.uniform(0.035, 0.06),
        "iris": IRIS[rng.integers(len(IRIS))], "brow_t": rng.uniform(0.012, 0.035), "brow_tilt": rng.uniform(-0.04, 0.04),
        "brow_gap": rng.uniform(0.04, 0.08), "nose_len": rng.uniform(0.09, 0.17), "nose_w": rng.uniform(0.04, 0.09),
        "mouth_w": rng.uniform(0.12, 0.24), "mouth_y": rng.uniform(0.2, 0.28), "lip": rng.uniform(0.012, 0.03),
        "ear": rng.uniform(0.05, 0.1), "beard": bool(rng.random() < 0.2), "moustache": bool(rng.random() < 0.2),
        "glasses": bool(rng.random() < 0.2), "mole": (rng.uniform(-0.25, 0.25), rng.uniform(-0.1, 0.3))
        if rng.random() < 0.3 else None,
    }
    t["skin"] = tuple(int(min(255, max(0, c + rng.normal(0, 8)))) for c in t["skin"])
    return Identity(t, name)


def _shade(c, f: float) -> tuple[int, int, int]:
    return tuple(int(min(255, max(0, v * f))) for v in c)


def render(person: Identity, rng, size: int = 128):
    """One photo of ``person`` (PIL RGB, ``size`` x ``size``)."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    t = person.traits
    s = 4 * size  # drawn at 4x and shrunk: smooth edges
    bg_a, bg_b = rng.uniform(40, 230, 3), rng.uniform(40, 230, 3)
    yy, xx = np.mgrid[0:s, 0:s] / s
    ang = rng.uniform(0, 2 * np.pi)
    g = (np.cos(ang) * xx + np.sin(ang) * yy + 1.5) / 3
    bg = bg_a * (1 - g[..., None]) + bg_b * g[..., None]
    background = Image.fromarray(bg.astype("uint8"), "RGB")
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))  # the head on its own layer: it tilts over the background
    d = ImageDraw.Draw(img)

    scale = s * rng.uniform(0.78, 1.02)
    cx, cy = s / 2 + rng.normal(0, 0.05) * s, s * 0.54 + rng.normal(0, 0.05) * s
    fw, fh = t["face_w"] * scale, t["face_h"] * scale
    skin, hair = t["skin"], t["hair"]

    def box(x, y, w, h):
        return [cx + (x - w) * scale, cy + (y - h) * scale, cx + (x + w) * scale, cy + (y + h) * scale]

    style = t["hair_style"]
    if style in ("long", "bun"):
        d.ellipse(box(0, -0.04, t["face_w"] * 1.22, t["face_h"] * 1.05), fill=hair)
        if style == "long":
            d.rectangle(box(0, 0.12, t["face_w"] * 1.22, 0.22), fill=hair)
        else:
            d.ellipse(box(0, -t["face_h"] * 1.05, 0.09, 0.08), fill=hair)
    # ears, then the head: an ellipse blended towards a rounder jaw
    for side in (-1, 1):
        d.ellipse(box(side * t["face_w"] * 0.98, -0.01, t["ear"] * 0.55, t["ear"]), fill=_shade(skin, 0.92))
    d.ellipse([cx - fw, cy - fh, cx + fw, cy + fh], fill=skin)
    if t["jaw"] > 0.5:
        d.rounded_rectangle([cx - fw * 0.93, cy, cx + fw * 0.93, cy + fh * 0.98], radius=fw * 0.5, fill=skin)
    if style in ("short", "fringe", "side-part", "bun"):
        d.chord([cx - fw * 1.04, cy - fh * 1.08, cx + fw * 1.04, cy + fh * 0.3], 180, 360, fill=hair)
        if style == "fringe":
            d.rectangle([cx - fw * 0.85, cy - fh * 0.62, cx + fw * 0.85, cy - fh * 0.4], fill=hair)
        if style == "side-part":
            d.polygon([(cx - fw * 0.9, cy - fh * 0.45), (cx + fw * 0.3, cy - fh * 0.75),
                       (cx + fw * 0.95, cy - fh * 0.5), (cx + fw, cy - fh * 0.62), (cx - fw, cy - fh * 0.6)],
                      fill=hair)
    # eyes: white, iris (gaze shifts per photo), dark pupil; brows above
    gaze = rng.normal(0, 0.2)
    glasses = t["glasses"] != (rng.random() < 0.25)  # wearers take them off, others put some on, now and then
    smile = rng.uniform(-0.3, 1.0)
    for side in (-1, 1):
        ex, ey = side * t["eye_gap"], t["eye_y"]
        d.ellipse(box(ex, ey, t["eye_w"], t["eye_h"]), fill=(245, 245, 240), outline=_shade(skin, 0.55),
                  width=max(1, int(0.006 * scale)))
        r = t["eye_h"] * 0.95
        ix = ex + gaze * (t["eye_w"] - r)
        d.ellipse(box(ix, ey, r, r), fill=t["iris"])
        d.ellipse(box(ix, ey, r * 0.45, r * 0.45), fill=(10, 10, 10))
        by = ey - t["eye_h"] - t["brow_gap"]
        tilt = side * t["brow_tilt"]
        d.polygon([(cx + (ex - t["eye_w"] * 1.1) * scale, cy + (by + tilt) * scale),
                   (cx + (ex + t["eye_w"] * 1.1) * scale, cy + (by - tilt) * scale),
                   (cx + (ex + t["eye_w"] * 1.1) * scale, cy + (by - tilt + t["brow_t"]) * scale),
                   (cx + (ex - t["eye_w"] * 1.1) * scale, cy + (by + tilt + t["brow_t"]) * scale)],
                  fill=_shade(hair, 0.7) if hair[0] < 200 else (120, 100, 80))
        if glasses:
            d.ellipse(box(ex, ey, t["eye_w"] * 1.5, t["eye_w"] * 1.2), outline=(30, 30, 30),
                      width=max(2, int(0.012 * scale)))
    if glasses:
        d.line([cx - (t["eye_gap"] - t["eye_w"] * 1.5) * scale, cy + t["eye_y"] * scale,
                cx + (t["eye_gap"] - t["eye_w"] * 1.5) * scale, cy + t["eye_y"] * scale], fill=(30, 30, 30),
               width=max(2, int(0.012 * scale)))
    # nose: a shaded wedge; mouth: a curve whose bend is the expression
    nl, nw = t["nose_len"], t["nose_w"]
    d.polygon([(cx, cy + (t["eye_y"] + 0.03) * scale), (cx - nw * scale, cy + (t["eye_y"] + nl) * scale),
               (cx + nw * scale, cy + (t["eye_y"] + nl) * scale)], fill=_shade(skin, 0.85))
    my, mw = t["mouth_y"], t["mouth_w"]
    bend = smile * 0.05
    lip = (int(skin[0] * 0.7 + 60), int(skin[1] * 0.45), int(skin[2] * 0.45))
    pts = [(cx + (x * mw) * scale, cy + (my + bend * (1 - x * x)) * scale) for x in np.linspace(-1, 1, 9)]
    d.line(pts, fill=lip, width=max(2, int(t["lip"] * scale)), joint="curve")
    if t["moustache"]:
        d.polygon([(cx - mw * 0.8 * scale, cy + (my - 0.01) * scale), (cx, cy + (my - 0.05) * scale),
                   (cx + mw * 0.8 * scale, cy + (my - 0.01) * scale), (cx, cy + (my - 0.025) * scale)],
                  fill=_shade(hair, 0.8))
    if t["beard"]:
        d.chord([cx - fw * 0.95, cy - fh * 0.2, cx + fw * 0.95, cy + fh * 1.02], 20, 160, fill=_shade(hair, 0.85))
    if t["mole"] is not None:
        mx, my2 = t["mole"]
        d.ellipse(box(mx * t["face_w"] * 2, my2, 0.012, 0.012), fill=(70, 45, 35))

    img = img.rotate(rng.normal(0, 10), resample=Image.BILINEAR, center=(cx, cy))
    img = Image.alpha_composite(background.convert("RGBA"), img).convert("RGB").resize((size, size), Image.LANCZOS)
    # light: overall brightness and a gradient from one side; then blur and sensor noise
    a = np.asarray(img, dtype=np.float32)
    yy, xx = np.mgrid[0:size, 0:size] / size
    ang = rng.uniform(0, 2 * np.pi)
    light = rng.uniform(0.6, 1.25) * (1 + rng.uniform(0, 0.35) * (np.cos(ang) * (xx - 0.5) + np.sin(ang) * (yy - 0.5)))
    cast = rng.uniform(0.85, 1.15, 3)  # the white balance of the camera
    a = a * light[..., None] * cast + rng.normal(0, rng.uniform(2, 10), a.shape)
    img = Image.fromarray(np.clip(a, 0, 255).astype("uint8"), "RGB")
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    if rng.random() < 0.2:  # something in front of the face: a hand, a cup, a scarf
        d = ImageDraw.Draw(img)
        x, y, r = rng.uniform(0.1, 0.9) * size, rng.uniform(0.55, 1.0) * size, rng.uniform(0.1, 0.22) * size
        d.ellipse([x - r, y - r, x + r, y + r], fill=tuple(int(v) for v in rng.uniform(30, 220, 3)))
    return img


def people(split: str, n: int | None = None) -> list[Identity]:
    import numpy as np

    rng = np.random.default_rng(1000 + SPLIT_SEEDS[split])
    n = SPLIT_PEOPLE[split] if n is None else n
    prefix = "person" if split == "train" else "visitor"
    return [make_identity(rng, f"{prefix}-{i:03d}") for i in range(n)]


GENERATOR_VERSION = 1  # bump when the drawing changes: cached samples of older versions are ignored


def face_split(split: str, size: int = 128, n_people: int | None = None, photos: int = PHOTOS_PER_PERSON):
    """(PIL images, person index per image, names) of a split; each photo has its own seed. Drawing a
    thousand photos takes seconds, so a split is kept as a .npz in the app's cache and read back."""
    import os

    import numpy as np
    from PIL import Image

    from hub.client import cache_root

    crowd = people(split, n_people)
    names = [p.name for p in crowd]
    cache = cache_root() / "builtin" / f"faces-v{GENERATOR_VERSION}-{split}-{size}-{len(crowd)}x{photos}.npz"
    if cache.exists():
        try:
            with np.load(cache) as z:
                return [Image.fromarray(a) for a in z["images"]], z["labels"].tolist(), names
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache file: draw again
    images, labels = [], []
    for i, person in enumerate(crowd):
        for k in range(photos):
            rng = np.random.default_rng([SPLIT_SEEDS[split], i, k])
            images.append(render(person, rng, size))
            labels.append(i)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(tmp, images=np.stack([np.asarray(im) for im in images]), labels=np.array(labels))
    os.replace(tmp, cache)
    return images, labels, names
