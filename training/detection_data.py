"""Detection data: the built-in shapes, COCO-format and YOLO-format folders or zips, dataset repos.

Everything is checked before training and reduced to one form: images resized to S x S
(uint8, in memory) with boxes (x1, y1, x2, y2) scaled to match and class indices. What cannot
be used is skipped with a note the user sees (a box with no area, a missing image file, an
unknown class id); what leaves nothing to train on is an error that says why.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from common.i18n import t

from .config import TrainingError
from .data import IMAGE_EXTS

MAX_IMAGES = 20_000


@dataclass
class Record:
    path: Path
    boxes: list[list[float]]  # x1, y1, x2, y2 in the image's pixels
    labels: list[int]


@dataclass
class DetectionData:
    images: torch.Tensor  # (N, 3, S, S) uint8
    targets: list[dict[str, torch.Tensor]]  # "boxes" (n, 4) float in S-pixel units, "labels" (n,) long
    labels: list[str]
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.images[i].float() / 255, self.targets[i]

    def subset(self, idx: list[int]) -> "DetectionData":
        return DetectionData(self.images[idx], [self.targets[i] for i in idx], self.labels, self.notes)


def collate(batch: list) -> tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
    """Images stack (one size); boxes differ in number per image, so targets stay a list."""
    return torch.stack([b[0] for b in batch]), [b[1] for b in batch]


def from_scenes(scenes: list, labels: list[str]) -> DetectionData:
    """The built-in shapes (already S x S) as DetectionData."""
    import numpy as np

    images = torch.from_numpy(np.stack([np.asarray(s.image) for s in scenes])).permute(0, 3, 1, 2).contiguous()
    targets = [{"boxes": torch.tensor(s.boxes, dtype=torch.float32).reshape(-1, 4),
                "labels": torch.tensor(s.labels, dtype=torch.long)} for s in scenes]
    return DetectionData(images, targets, labels)


# ---------------------------------------------------------------------- formats
def _clean_box(box: list[float], w: int, h: int) -> tuple[list[float] | None, str]:
    """The box clipped to the image, or None with the reason it cannot be used."""
    x1, y1, x2, y2 = box
    if not all(map(lambda v: v == v and abs(v) != float("inf"), box)):
        return None, t("trainer.box_not_a_number")
    if x2 <= x1 or y2 <= y1:
        return None, t("trainer.box_zero_area")
    c = [max(0.0, x1), max(0.0, y1), min(float(w), x2), min(float(h), y2)]
    if c[2] - c[0] < 1 or c[3] - c[1] < 1:
        return None, t("trainer.box_outside")
    return c, ""


def _image_size(path: Path) -> tuple[int, int] | None:
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.size
    except Exception:
        return None


def find_coco_json(root: Path) -> Path | None:
    for p in sorted(root.rglob("*.json")):
        if p.stat().st_size > 512 * 1024**2 or "__MACOSX" in p.parts:
            continue
        try:
            head = p.read_text(errors="replace")[:4096]
        except OSError:
            continue
        if '"images"' in head or '"annotations"' in head or '"categories"' in head:
            return p
    return None


def read_coco(json_path: Path, data_root: Path | None = None) -> tuple[list[Record], list[str], list[str]]:
    """Records, class names and notes from a COCO ``instances`` JSON (boxes are [x, y, w, h]).

    An image's ``file_name`` is looked up beside the JSON, in images/ there, then by name anywhere
    under ``data_root`` (COCO zips keep annotations/ and train2017/ side by side)."""
    try:
        data = json.loads(json_path.read_text())
        images, anns, cats = data["images"], data.get("annotations", []), data["categories"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise TrainingError(t("trainer.not_coco", name=json_path.name, error=type(e).__name__,
                              reason=str(e).splitlines()[0] if str(e) else t("trainer.coco_missing"))) from None
    if not cats:
        raise TrainingError(t("trainer.no_categories", name=json_path.name))
    cat_ids = sorted({int(c["id"]) for c in cats})
    names_by_id = {int(c["id"]): str(c.get("name", c["id"])) for c in cats}
    index = {cid: i for i, cid in enumerate(cat_ids)}
    root = json_path.parent
    files = {p.name: p for p in (data_root or root).rglob("*") if p.suffix.lower() in IMAGE_EXTS}
    notes: list[str] = []
    by_id: dict[int, Record] = {}
    sizes: dict[int, tuple[int, int]] = {}
    missing = []
    for im in images:
        name = str(im.get("file_name", ""))
        beside = next((p for p in (root / name, root / "images" / name) if p.is_file()), None)
        path = beside or files.get(Path(name).name)
        if path is None:
            missing.append(name)
            continue
        size = _image_size(path)
        if size is None:
            notes.append(t("trainer.skipped_file", name=name, reason=t("trainer.not_readable_image")))
            continue
        by_id[int(im["id"])] = Record(path, [], [])
        sizes[int(im["id"])] = (int(im.get("width") or size[0]), int(im.get("height") or size[1]))
    if missing:
        notes.append(t("trainer.listed_images_missing", missing=len(missing), total=len(images), example=missing[0]))
    if not by_id:
        raise TrainingError(t("trainer.listed_images_none_example", count=len(images), name=json_path.name,
                              example=missing[0]) if missing else
                            t("trainer.listed_images_none", count=len(images), name=json_path.name))
    for a in anns:
        rec = by_id.get(int(a.get("image_id", -1)))
        if rec is None:
            continue
        cid = int(a.get("category_id", -1))
        if cid not in index:
            notes.append(t("trainer.box_unknown_category", image=a.get("image_id"), id=cid))
            continue
        try:
            x, y, w, h = (float(v) for v in a["bbox"])
        except (KeyError, ValueError, TypeError):
            notes.append(t("trainer.box_no_bbox", image=a.get("image_id")))
            continue
        box, why = _clean_box([x, y, x + w, y + h], *sizes[int(a["image_id"])])
        if box is None:
            notes.append(t("trainer.box_skipped", name=rec.path.name, why=why))
            continue
        rec.boxes.append(box)
        rec.labels.append(index[cid])
    return list(by_id.values()), [names_by_id[c] for c in cat_ids], notes


def _yolo_names(root: Path) -> list[str] | None:
    import yaml

    for p in sorted(root.rglob("*.y*ml")):
        try:
            names = (yaml.safe_load(p.read_text()) or {}).get("names")
        except (OSError, yaml.YAMLError, AttributeError):
            continue
        if isinstance(names, dict):
            return [str(names[k]) for k in sorted(names, key=int)]
        if isinstance(names, list):
            return [str(n) for n in names]
    for pattern in ("classes.txt", "obj.names", "*.names"):
        for p in sorted(root.rglob(pattern)):
            lines = [ln.strip() for ln in p.read_text(errors="replace").splitlines() if ln.strip()]
            if lines:
                return lines
    return None


def _label_file(image: Path) -> Path:
    """YOLO's layout: .../images/x.jpg -> .../labels/x.txt (or x.txt beside the image)."""
    parts = list(image.parts)
    if "images" in parts:
        i = len(parts) - 1 - parts[::-1].index("images")
        candidate = Path(*parts[:i], "labels", *parts[i + 1:]).with_suffix(".txt")
        if candidate.exists():
            return candidate
    return image.with_suffix(".txt")


def read_yolo(root: Path) -> tuple[list[Record], list[str], list[str]]:
    """Records, class names and notes from YOLO text labels: ``class cx cy w h`` per line, fractions of the image."""
    images = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTS and "__MACOSX" not in p.parts)
    names = _yolo_names(root)
    notes: list[str] = []
    records, max_class = [], -1
    for img in images:
        lf = _label_file(img)
        size = _image_size(img)
        if size is None:
            notes.append(f"skipped {img.name}: not a readable image")
            continue
        rec = Record(img, [], [])
        lines = lf.read_text(errors="replace").splitlines() if lf.exists() else []
        for n, line in enumerate(lines, 1):
            fields_ = line.split()
            if not fields_:
                continue
            try:
                c, cx, cy, w, h = int(fields_[0]), *(float(v) for v in fields_[1:5])
                if len(fields_) < 5:
                    raise ValueError
            except (ValueError, IndexError):
                notes.append(t("trainer.yolo_bad_line", name=lf.name, line=n, text=line[:40]))
                continue
            if max(cx, cy, w, h) > 1.0 + 1e-6:
                notes.append(t("trainer.yolo_not_fractions", name=lf.name, line=n))
                continue
            if c < 0 or (names is not None and c >= len(names)):
                notes.append(t("trainer.yolo_unknown_class_names", name=lf.name, line=n, id=c, count=len(names))
                             if names else t("trainer.yolo_unknown_class", name=lf.name, line=n, id=c))
                continue
            W, H = size
            box, why = _clean_box([(cx - w / 2) * W, (cy - h / 2) * H, (cx + w / 2) * W, (cy + h / 2) * H], W, H)
            if box is None:
                notes.append(t("trainer.yolo_box_skipped", name=lf.name, line=n, why=why))
                continue
            rec.boxes.append(box)
            rec.labels.append(c)
            max_class = max(max_class, c)
        records.append(rec)
    if names is None:
        names = [str(i) for i in range(max_class + 1)]
    return records, names, notes


def read_folder(root: Path) -> tuple[list[Record], list[str], list[str]]:
    """COCO if a COCO JSON is there, else YOLO text labels; an error if neither."""
    coco = find_coco_json(root)
    if coco is not None:
        records, names, notes = read_coco(coco, root)
    elif any(p.suffix == ".txt" for p in root.rglob("*.txt")) and any(
            p.suffix.lower() in IMAGE_EXTS for p in root.rglob("*")):
        records, names, notes = read_yolo(root)
    else:
        raise TrainingError(t("trainer.no_annotations"))
    if not records:
        raise TrainingError(t("trainer.no_readable_images"))
    if not any(r.boxes for r in records):
        raise TrainingError(t("trainer.no_usable_boxes") + (f" ({notes[0]}...)" if notes else ""))
    if len(records) > MAX_IMAGES:
        notes.append(t("trainer.first_images", count=MAX_IMAGES, total=len(records)))
        records = records[:MAX_IMAGES]
    return records, names, notes


def load_records(records: list[Record], labels: list[str], size: int, notes: list[str]) -> DetectionData:
    """Images resized to size x size with their boxes scaled the same way."""
    from hub_models.inference import InputError, image_to_tensor, load_image

    images, targets = [], []
    for r in records:
        try:
            img = load_image(r.path, channels=3)
        except InputError as e:
            notes.append(t("trainer.skipped_file", name=r.path.name, reason=e))
            continue
        sx, sy = size / img.width, size / img.height
        images.append(image_to_tensor(img.resize((size, size))))
        b = torch.tensor(r.boxes, dtype=torch.float32).reshape(-1, 4) * torch.tensor([sx, sy, sx, sy])
        targets.append({"boxes": b, "labels": torch.tensor(r.labels, dtype=torch.long)})
    if len(images) < 2:
        raise TrainingError(t("trainer.too_few_readable_images"))
    return DetectionData(torch.stack(images), targets, labels, notes)


def check_detection_folder(folder: str | Path) -> str:
    """A one-line summary of a detection dataset (raises TrainingError with the reason if unusable)."""
    records, names, notes = read_folder(Path(folder))
    n_boxes = sum(len(r.boxes) for r in records)
    facts = dict(images=len(records), boxes=n_boxes, classes=len(names))
    return t("trainer.detection_summary_notes", notes=len(notes), **facts) if notes else t("trainer.detection_summary",
                                                                                            **facts)
