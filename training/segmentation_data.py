"""Segmentation data: the built-in shapes, image + mask folders or zips, dataset repos.

Layout of user data: images in one folder and masks in another (``images/`` + ``masks/``, or
``JPEGImages/`` + ``SegmentationClass/`` as in Pascal VOC), paired by file stem. A mask is a PNG
whose pixel values are class ids: palette ("P") PNGs store the id as the palette index (VOC does),
grayscale PNGs as the grey level; 255 marks pixels to ignore. RGB masks are read through the
colours of a palette (``palette.json``: ``[[r, g, b], ...]`` in class order). Class names come from
``classes.txt`` / ``labels.txt`` (one per line, line i names id i) when there is one. What cannot be
used is skipped with a note; what leaves nothing to train on is an error that says why.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from common.i18n import t

from .config import TrainingError
from .data import IMAGE_EXTS

IMAGE_DIRS = ("images", "JPEGImages", "imgs", "img")
MASK_DIRS = ("masks", "SegmentationClass", "annotations", "labels", "mask")
MAX_IMAGES = 20_000
IGNORE = 255


@dataclass
class SegmentationData:
    images: torch.Tensor  # (N, 3, S, S) uint8
    masks: torch.Tensor  # (N, S, S) uint8 class ids, IGNORE for void
    labels: list[str]
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.images[i].float() / 255, self.masks[i].long()

    def subset(self, idx: list[int]) -> "SegmentationData":
        return SegmentationData(self.images[idx], self.masks[idx], self.labels, self.notes)


def from_scenes(scenes: list, classes: tuple[str, ...]) -> SegmentationData:
    import numpy as np

    images = torch.from_numpy(np.stack([np.asarray(s.image) for s in scenes])).permute(0, 3, 1, 2).contiguous()
    masks = torch.from_numpy(np.stack([np.asarray(s.mask) for s in scenes]))
    return SegmentationData(images, masks, ["background", *classes])


def _find_dir(root: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        hits = sorted(p for p in root.rglob(name) if p.is_dir() and "__MACOSX" not in p.parts)
        if hits:
            return hits[0]
    return None


def _class_names(root: Path) -> list[str] | None:
    for pattern in ("classes.txt", "labels.txt", "class_names.txt"):
        for p in sorted(root.rglob(pattern)):
            names = [ln.strip() for ln in p.read_text(errors="replace").splitlines() if ln.strip()]
            if names:
                return names
    return None


def _palette(root: Path) -> list[tuple[int, int, int]] | None:
    for p in sorted(root.rglob("palette.json")):
        try:
            colours = [tuple(int(v) for v in c[:3]) for c in json.loads(p.read_text())]
        except (ValueError, TypeError, OSError):
            raise TrainingError(t("trainer.bad_palette", name=p.name)) from None
        return colours
    return None


def pairs(root: Path) -> tuple[list[tuple[Path, Path]], list[str]]:
    """(image, mask) pairs by file stem, and notes for images without a mask."""
    img_dir, mask_dir = _find_dir(root, IMAGE_DIRS), _find_dir(root, MASK_DIRS)
    if img_dir is None or mask_dir is None:
        raise TrainingError(t("trainer.no_mask_folders"))
    masks = {p.stem: p for p in mask_dir.rglob("*") if p.suffix.lower() in IMAGE_EXTS}
    images = sorted(p for p in img_dir.rglob("*") if p.suffix.lower() in IMAGE_EXTS)
    found, missing = [], []
    for img in images:
        if img.stem in masks:
            found.append((img, masks[img.stem]))
        else:
            missing.append(img.name)
    notes = [t("trainer.images_without_mask", count=len(missing), example=missing[0])] if missing else []
    if not found:
        raise TrainingError(t("trainer.no_matching_masks", count=len(images), images=img_dir.name, masks=mask_dir.name))
    return found[:MAX_IMAGES], notes


def read_mask(path: Path, palette: list[tuple[int, int, int]] | None):
    """Class ids (H, W) uint8 numpy from a mask file; raises ValueError with the reason."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as m:
        if m.mode in ("P", "L", "I", "I;16"):
            a = np.asarray(m if m.mode in ("P", "L") else m.convert("I"))
            if a.max() > 255:
                raise ValueError(f"class ids up to {int(a.max())}; masks hold ids 0-254 (255: ignore)")
            return a.astype("uint8")
        rgb = np.asarray(m.convert("RGB"))
    if palette is None:
        raise ValueError("an RGB mask needs a palette.json (the colour of each class, in class order)")
    out = np.full(rgb.shape[:2], IGNORE, dtype="uint8")
    for i, c in enumerate(palette):
        out[(rgb == c).all(-1)] = i
    unknown = (out == IGNORE) & ~(rgb == 255).all(-1)  # white outlines stay ignored
    if unknown.mean() > 0.01:
        colours = {tuple(v) for v in rgb[unknown][:1000].tolist()}
        raise ValueError(f"{unknown.mean():.0%} of its pixels have colours not in palette.json, e.g. "
                         f"{sorted(colours)[:3]}")
    return out


def load_folder(root: Path, size: int) -> SegmentationData:
    """Pairs resized to size x size (images bilinear, masks nearest), checked."""
    import numpy as np

    from hub_models.inference import InputError, image_to_tensor, load_image

    found, notes = pairs(root)
    names, palette = _class_names(root), _palette(root)
    images, masks, top = [], [], 0
    for img_path, mask_path in found:
        try:
            img = load_image(img_path, channels=3)
            mask = read_mask(mask_path, palette)
        except (InputError, ValueError, OSError) as e:
            notes.append(t("trainer.skipped_file", name=img_path.name, reason=e))
            continue
        if mask.shape != (img.height, img.width):
            notes.append(t("trainer.mask_size", name=img_path.name, mask_width=mask.shape[1], mask_height=mask.shape[0],
                           width=img.width, height=img.height))
            continue
        valid = mask[mask != IGNORE]
        if names is not None and valid.size and valid.max() >= len(names):
            notes.append(t("trainer.mask_class", name=img_path.name, id=int(valid.max()), count=len(names)))
            continue
        top = max(top, int(valid.max()) if valid.size else 0)
        from PIL import Image

        images.append(image_to_tensor(img.resize((size, size))))
        masks.append(torch.from_numpy(np.asarray(Image.fromarray(mask).resize((size, size), Image.NEAREST)).copy()))
    if len(images) < 2:
        raise TrainingError(t("trainer.too_few_mask_pairs") + (f" ({notes[-1]})" if notes else ""))
    labels = names or ["background", *[f"class {i}" for i in range(1, top + 1)]]
    if len(labels) < 2:
        raise TrainingError(t("trainer.single_class_masks"))
    return SegmentationData(torch.stack(images), torch.stack(masks), labels, notes)


def check_segmentation_folder(folder: str | Path) -> str:
    found, notes = pairs(Path(folder))
    return f"{len(found)} image + mask pairs" + (f"; {len(notes)} notes" if notes else "")
