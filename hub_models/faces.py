"""Face verification: find a face, crop and align it, embed it, compare embeddings with a threshold.

Every embedder here maps face crops as floats in [0, 1], (B, 3, S, S), to unit-length embeddings
(B, D): the distance of two faces is the Euclidean distance of their embeddings, between 0 and 2,
and "same person" means distance <= ``threshold``. Our embedders carry in their config the
threshold their training found best and how their training faces were prepared (``face_crop``:
"haar" when a detector cropped them from photos, "none" when the images were crops already).
``catalog.EMBEDDERS`` is the registry the tab's dropdown, the CLI and the tests read.

Detection uses OpenCV's Haar cascades (they ship inside ``opencv-python-headless``): a frontal
face cascade finds faces, an eye cascade inside the face finds the eyes, and the crop is rotated
about the face's centre so the eyes are level (alignment).
"""
from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from common.i18n import t

from .cache import model_cache
from .inference import InputError
from .catalog import EMBEDDERS, ModelEntry
from .registry import Published

_HUB = dict(library_name="pytorch", tags=["dl-playground", "face-verification", "metric-learning"],
            pipeline_tag="image-feature-extraction", license="mit")
_MEAN, _STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
MIN_SIDE = 32  # smaller images hold too few pixels for a face


class Embedder(nn.Module):
    """What every face embedder shares: normalised input, unit-length output, metadata."""

    image_size: int
    threshold: float
    face_crop: str

    mean: tuple[float, ...] = _MEAN
    std: tuple[float, ...] = _STD

    def _norm(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.mean, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std

    def embed(self, features: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.proj(features), dim=1)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                         nn.MaxPool2d(2))


class SmallFaceCNN(Embedder, Published, **_HUB):
    """Four conv-BN-ReLU blocks (each halves the size), global average pooling and a linear layer to the
    embedding: the small CNN of a Siamese network, shared by both branches."""

    def __init__(self, embedding_dim: int = 64, image_size: int = 64, width: int = 16, threshold: float = 1.0,
                 face_crop: str = "haar"):
        super().__init__()
        self.embedding_dim, self.image_size, self.threshold, self.face_crop = embedding_dim, image_size, threshold, face_crop
        w = width
        self.features = nn.Sequential(_block(3, w), _block(w, 2 * w), _block(2 * w, 4 * w), _block(4 * w, 8 * w),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.proj = nn.Linear(8 * w, embedding_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(self.features(self._norm(x)))


class _Residual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                                  nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.skip = nn.Identity() if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + self.skip(x))


class ResNetFaceEmbedder(Embedder, Published, **_HUB):
    """A small ResNet: a stem, stages of two residual blocks (the first of each stage halves the size
    and doubles the width), global average pooling and a linear embedding."""

    def __init__(self, embedding_dim: int = 64, image_size: int = 64, width: int = 16, stages: int = 3,
                 threshold: float = 1.0, face_crop: str = "haar"):
        super().__init__()
        self.embedding_dim, self.image_size, self.threshold, self.face_crop = embedding_dim, image_size, threshold, face_crop
        layers: list[nn.Module] = [nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                                   nn.MaxPool2d(2)]
        c = width
        for i in range(stages):
            cout = width * 2 ** i
            layers += [_Residual(c, cout, 1 if i == 0 else 2), _Residual(cout, cout, 1)]
            c = cout
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.proj = nn.Linear(c, embedding_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(self.features(self._norm(x)))


class TimmFaceEmbedder(Embedder, Published, **_HUB):
    """Any timm backbone (its pooled features, ``num_classes=0``) and a linear embedding; randomly
    initialised here (no download), fine-tuned from a saved embedder with ``--init-from``, or with its backbone
    from a timm repo's pretrained weights (:meth:`from_timm_folder`; ``model_args``, ``mean`` and ``std`` then come
    from that repo's config.json)."""

    def __init__(self, arch: str = "resnet18", embedding_dim: int = 64, image_size: int = 64,
                 threshold: float = 1.0, face_crop: str = "haar", model_args: dict | None = None,
                 mean: list[float] | None = None, std: list[float] | None = None):
        super().__init__()
        import timm

        from .adapters import check_timm_arch

        check_timm_arch(arch)
        self.arch, self.embedding_dim, self.image_size = arch, embedding_dim, image_size
        self.threshold, self.face_crop = threshold, face_crop
        self.mean, self.std = tuple(mean or _MEAN), tuple(std or _STD)
        self._timm_kw = {**(model_args or {}), **({"img_size": image_size} if "vit" in arch or "deit" in arch else {})}
        self.backbone = timm.create_model(arch, pretrained=False, num_classes=0, **self._timm_kw).eval()
        with torch.no_grad():  # pooled width: num_features, or a conv head's (MobileNetV3) when it has one
            width = self.backbone(torch.zeros(1, 3, image_size, image_size)).shape[1]
        self.backbone.train()
        self.proj = nn.Linear(width, embedding_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(self.backbone(self._norm(x)))

    @classmethod
    def from_timm_folder(cls, folder: str | Path, embedding_dim: int, image_size: int,
                         face_crop: str) -> TimmFaceEmbedder:
        """An embedder whose backbone starts from a timm model folder's weights (ImageNet features: faces are
        learnt from there), its classifier dropped; the embedding layer starts fresh."""
        import json

        import timm

        from .adapters import checkpoint_info

        config, info = json.loads((Path(folder) / "config.json").read_text()), checkpoint_info(folder)
        model = cls(info["arch"], embedding_dim, image_size, face_crop=face_crop,
                    model_args=config.get("model_args"), mean=info["mean"], std=info["std"])
        pretrained = timm.create_model(f"local-dir:{folder}", pretrained=True, num_classes=0,
                                       **{k: v for k, v in model._timm_kw.items() if k == "img_size"})
        model.backbone.load_state_dict(pretrained.state_dict())
        return model


class ForeignEmbedder(Embedder):
    """A model of another library used as an embedder: a timm model's pooled features, or a transformers
    vision model's pooled output (CLS token when it has no pooler). No threshold comes with it: the
    tab's slider starts at 1.0 and the user tunes it."""

    def __init__(self, net: nn.Module, image_size: int, mean, std, kind: str):
        super().__init__()
        self.net, self.image_size, self.kind = net, image_size, kind
        self.threshold, self.face_crop, self.mean, self.std = 1.0, "haar", list(mean), list(std)
        self.proj = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._norm(x)
        if self.kind == "timm":
            return self.embed(self.net(x))
        out = self.net(pixel_values=x)
        pooled = getattr(out, "pooler_output", None)
        return self.embed(pooled if pooled is not None else out.last_hidden_state[:, 0])


def _load_foreign(folder: Path, config: dict) -> ForeignEmbedder:
    if "architecture" in config and "pretrained_cfg" in config:  # a timm repo
        import timm

        from .adapters import checkpoint_info

        info = checkpoint_info(folder)
        net = timm.create_model(f"local-dir:{folder}", pretrained=True, num_classes=0)
        return ForeignEmbedder(net, info["image_size"], info["mean"], info["std"], "timm").eval()
    from transformers import AutoModel

    net = AutoModel.from_pretrained(folder)  # built-in classes only, no remote code
    if getattr(net.config, "vision_config", None) is not None and hasattr(net, "vision_model"):
        net = net.vision_model  # CLIP/SigLIP-style: the image tower
    size = getattr(getattr(net, "config", None), "image_size", 224)
    return ForeignEmbedder(net, int(size if isinstance(size, int) else size[0]), [0.5] * 3, [0.5] * 3,
                           "transformers").eval()


# ----------------------------------------------------------------- registry and I/O
CLASSES = {"SmallFaceCNN": SmallFaceCNN, "ResNetFaceEmbedder": ResNetFaceEmbedder, "TimmFaceEmbedder": TimmFaceEmbedder}


def create_embedder(name: str, embedding_dim: int, image_size: int, face_crop: str) -> Embedder:
    """An embedder of the registry, or ``timm:<any timm architecture>``."""
    if name in EMBEDDERS:
        entry = EMBEDDERS[name]
    elif name.startswith("timm:"):
        entry = ModelEntry(f"{__name__}:TimmFaceEmbedder", f"timm {name[5:]} backbone", {"arch": name[5:]})
    else:
        raise ValueError(f"unknown embedder {name!r}; choose one of {', '.join(EMBEDDERS)} or timm:<architecture>")
    return entry.create(embedding_dim=embedding_dim, image_size=image_size, face_crop=face_crop)


def load_embedder(folder: str | Path) -> Embedder:
    """A face embedder folder in eval mode: ours, a timm model or a transformers vision model."""
    import json

    from .registry import class_for

    path = Path(folder)
    try:
        config = json.loads((path / "config.json").read_text())
        if (cls := class_for(config, CLASSES.values())) is not None:
            return cls.from_pretrained(path).eval()
        if ("architecture" in config and "pretrained_cfg" in config) or config.get("model_type"):
            return _load_foreign(path, config)
        raise ValueError("config.json matches no face embedder of this playground")
    except (OSError, ValueError, KeyError, RuntimeError, AttributeError) as e:
        raise InputError(t("faces.not_an_embedder", name=path.name,
                           reason=str(e).splitlines()[0] if str(e) else type(e).__name__)) from None


@model_cache(maxsize=4)
def load_cached(folder: str) -> Embedder:
    return load_embedder(folder)


# ----------------------------------------------------------------- detect, crop, align
@dataclass
class Face:
    crop: Any  # PIL RGB, square, eyes level when both were found
    box: tuple[int, int, int, int]  # x, y, w, h in the photo
    eyes: list[tuple[float, float]]  # eye centres in the photo (0 or 2)
    angle: float  # degrees the crop was rotated by to level the eyes
    others: list[tuple[int, int, int, int]]  # boxes of further faces in the photo (the largest is used)


@lru_cache(maxsize=1)
def _cascades():
    import cv2

    root = cv2.data.haarcascades
    face = cv2.CascadeClassifier(root + "haarcascade_frontalface_default.xml")
    eye = cv2.CascadeClassifier(root + "haarcascade_eye.xml")
    if face.empty() or eye.empty():
        raise RuntimeError(f"OpenCV's Haar cascades are missing from {root}")
    return face, eye


def detect_faces(img, max_side: int = 1024) -> list[tuple[int, int, int, int]]:
    """Boxes (x, y, w, h) of frontal faces in a PIL image, largest first; big photos are searched at
    ``max_side`` pixels (faces smaller than 1/20 of the shorter side are not looked for)."""
    import cv2
    import numpy as np

    f = min(1.0, max_side / max(img.size))
    small = img.resize((max(1, round(img.width * f)), max(1, round(img.height * f)))) if f < 1 else img
    gray = cv2.equalizeHist(np.asarray(small.convert("L")))
    least = max(20, min(small.size) // 20)
    found = _cascades()[0].detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(least, least))
    boxes = [tuple(int(round(v / f)) for v in b) for b in found]
    return sorted(boxes, key=lambda b: -b[2] * b[3])


def _eyes(img, box) -> list[tuple[float, float]]:
    """Centres of the two eyes in the upper two thirds of a face box, left to right; [] unless exactly two
    plausible ones are found."""
    import cv2
    import numpy as np

    x, y, w, h = box
    upper = np.asarray(img.convert("L").crop((x, y, x + w, y + h * 2 // 3)))
    found = _cascades()[1].detectMultiScale(cv2.equalizeHist(upper), 1.1, 5, minSize=(max(8, w // 10),) * 2)
    centres = sorted(((float(x + ex + ew / 2), float(y + ey + eh / 2)) for ex, ey, ew, eh in found), key=lambda c: c[0])
    if len(centres) < 2:
        return []
    left, right = centres[0], centres[-1]
    return [left, right] if right[0] - left[0] > w * 0.2 else []


def face_crop(img, mode: str = "haar", margin: float = 0.15) -> Face:
    """The face of a photo as a square crop. ``mode`` "haar": find it (the largest if several), level
    its eyes; "none": the image is a face crop already (its centre square is used)."""
    import math

    from PIL import Image

    if min(img.size) < MIN_SIDE:
        raise InputError(t("faces.too_small", width=img.width, height=img.height, minimum=MIN_SIDE))
    if mode == "none":
        side = min(img.size)
        x, y = (img.width - side) // 2, (img.height - side) // 2
        return Face(img.crop((x, y, x + side, y + side)), (x, y, side, side), [], 0.0, [])
    boxes = detect_faces(img)
    if not boxes:
        raise InputError(t("faces.no_face"))
    x, y, w, h = boxes[0]
    eyes = _eyes(img, boxes[0])
    angle = math.degrees(math.atan2(eyes[1][1] - eyes[0][1], eyes[1][0] - eyes[0][0])) if eyes else 0.0
    cx, cy = x + w / 2, y + h / 2
    side = max(w, h) * (1 + 2 * margin)
    # rotate a generous square around the face, then cut the face square out of its middle
    big = side * 1.5
    region = img.crop((round(cx - big / 2), round(cy - big / 2), round(cx + big / 2), round(cy + big / 2)))
    region = region.rotate(angle, resample=Image.BILINEAR, center=(big / 2, big / 2))
    off = (big - side) / 2
    crop = region.crop((round(off), round(off), round(off + side), round(off + side)))
    return Face(crop, boxes[0], eyes, angle, boxes[1:])


# ----------------------------------------------------------------- embed and compare
def crops_to_tensor(crops: list, size: int) -> torch.Tensor:
    from .inference import image_to_tensor

    return torch.stack([image_to_tensor(c.convert("RGB").resize((size, size))) for c in crops]).float().div(255)


def embed_crops(model: nn.Module, crops: list) -> torch.Tensor:
    with torch.no_grad():
        return model(crops_to_tensor(crops, int(model.image_size)))


def distance(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm())


def verify(model: Embedder, image_a: Any, image_b: Any, mode: str = "auto") -> dict[str, Any]:
    """Both faces found, cropped and embedded; their distance, and notes for the user (several faces,
    identical images). ``mode`` "auto" prepares faces the way the model's training faces were."""
    from .inference import load_image

    mode = model.face_crop if mode == "auto" else mode
    faces, notes, images = [], [], []
    for name, source in (("A", image_a), ("B", image_b)):
        img = load_image(source, channels=3)
        try:
            face = face_crop(img, mode)
        except InputError as e:
            raise InputError(t("faces.image_problem", name=name, problem=e)) from None
        if face.others:
            notes.append(t("faces.several_faces", name=name, count=len(face.others) + 1))
        faces.append(face)
        images.append(img)
    if images[0].size == images[1].size and images[0].tobytes() == images[1].tobytes():
        notes.append(t("faces.identical"))
    e = embed_crops(model, [f.crop for f in faces])
    return {"distance": distance(e[0], e[1]), "faces": faces, "images": images, "notes": notes, "mode": mode}


def verdict(d: float, threshold: float) -> str:
    if d <= threshold:
        return t("faces.same_person", distance=d, threshold=threshold)
    return t("faces.different_people", distance=d, threshold=threshold)


def verify_picture(result: dict[str, Any]):
    """Both photos with the faces boxed (green: used, grey: others, eyes dotted), and the aligned crops."""
    from PIL import ImageDraw

    from .visual import captioned, enlarged, row

    tiles = []
    for name, img, face in zip("AB", result["images"], result["faces"]):
        shown = img.copy()
        d = ImageDraw.Draw(shown)
        lw = max(2, min(img.size) // 150)
        for x, y, w, h in face.others:
            d.rectangle([x, y, x + w, y + h], outline=(150, 150, 150), width=lw)
        if result["mode"] != "none":
            x, y, w, h = face.box
            d.rectangle([x, y, x + w, y + h], outline=(40, 200, 60), width=lw)
            for ex, ey in face.eyes:
                d.ellipse([ex - 2 * lw, ey - 2 * lw, ex + 2 * lw, ey + 2 * lw], fill=(255, 210, 0))
        tiles.append(captioned(enlarged(shown, 240)[0], t("faces.caption_photo", name=name)))
        caption = t("faces.caption_face_turned", name=name, angle=face.angle) if face.angle else \
            t("faces.caption_face", name=name)
        tiles.append(captioned(face.crop.resize((160, 160)), caption))
    return row([tiles[0], tiles[2], tiles[1], tiles[3]])


# ----------------------------------------------------------------- one-shot recognition
class Gallery:
    """People enrolled with one face crop each, kept on disk: ``gallery.json`` (name -> file, date) and the
    crops as PNG. Crops, not embeddings, are kept, so the gallery serves any model (each embeds them
    itself). Writes go to a temporary file that then replaces the index: a crash never leaves half an index."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _index(self) -> dict[str, dict[str, str]]:
        import json

        p = self.root / "gallery.json"
        try:
            return json.loads(p.read_text()) if p.exists() else {}
        except ValueError:
            return {}

    def _write(self, index: dict[str, dict[str, str]]) -> None:
        import json
        import os

        tmp = self.root / "gallery.json.tmp"
        tmp.write_text(json.dumps(index, indent=1, ensure_ascii=False))
        os.replace(tmp, self.root / "gallery.json")

    def names(self) -> list[str]:
        return sorted(self._index(), key=str.casefold)

    def entries(self) -> list[tuple[str, str, Any]]:
        """(name, enrolled when, crop as PIL) for every person, by name."""
        from PIL import Image

        index = self._index()
        out = []
        for name in self.names():
            p = self.root / index[name]["file"]
            if p.exists():
                with Image.open(p) as im:
                    out.append((name, index[name]["enrolled"], im.convert("RGB")))
        return out

    @staticmethod
    def check_name(name: str) -> str:
        name = " ".join((name or "").split())
        if not name:
            raise InputError(t("faces.no_name"))
        if len(name) > 64:
            raise InputError(t("faces.name_too_long", length=len(name)))
        return name

    def enrol(self, name: str, crop, replace: bool = False) -> str:
        """Add (or, with ``replace``, overwrite) a person; a name already enrolled is refused otherwise,
        whatever its case."""
        import hashlib
        import time

        name = self.check_name(name)
        with _GALLERY_LOCK:
            index = self._index()
            clash = next((n for n in index if n.casefold() == name.casefold()), None)
            if clash and not replace:
                raise InputError(t("faces.already_enrolled", name=clash))
            if clash:
                (self.root / index.pop(clash)["file"]).unlink(missing_ok=True)
            file = hashlib.sha1(f"{name}{time.time_ns()}".encode()).hexdigest()[:16] + ".png"
            crop.convert("RGB").resize((160, 160)).save(self.root / file)
            index[name] = {"file": file, "enrolled": time.strftime("%Y-%m-%d %H:%M")}
            self._write(index)
        return name

    def remove(self, name: str) -> None:
        with _GALLERY_LOCK:
            index = self._index()
            if name not in index:
                raise InputError(t("faces.not_in_gallery", name=name))
            (self.root / index.pop(name)["file"]).unlink(missing_ok=True)
            self._write(index)

    def identify(self, model: nn.Module, crop, threshold: float) -> tuple[str | None, list[tuple[str, float]]]:
        """(the closest person if within ``threshold``, else None; every person with their distance, closest
        first). Each model embeds an enrolled crop once: the embeddings are kept while the model lives."""
        from PIL import Image

        index = self._index()
        if not index:
            raise InputError(t("faces.gallery_empty"))
        known = _EMBEDDED.setdefault(model, {})
        missing = [v["file"] for v in index.values() if v["file"] not in known]
        for start in range(0, len(missing), 64):
            files = missing[start:start + 64]
            crops = []
            for f in files:
                with Image.open(self.root / f) as im:
                    crops.append(im.convert("RGB"))
            known.update(zip(files, embed_crops(model, crops)))
        query = embed_crops(model, [crop])[0]
        ranked = sorted(((name, distance(query, known[v["file"]])) for name, v in index.items()), key=lambda r: r[1])
        return (ranked[0][0] if ranked[0][1] <= threshold else None), ranked


# Every request makes its own Gallery object: the lock that serialises index updates is the process's.
_GALLERY_LOCK = threading.Lock()
# model -> {gallery crop file -> embedding}; crop files are never rewritten (a new photo is a new file)
_EMBEDDED: "weakref.WeakKeyDictionary[nn.Module, dict[str, torch.Tensor]]" = weakref.WeakKeyDictionary()
