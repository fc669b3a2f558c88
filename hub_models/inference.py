"""Inference entry points, apart from networks and trainers: load a model folder, run one input.

Images from users are untrusted: :func:`load_image` refuses decompression bombs, truncated
or non-image files, and converts any mode (16-bit, CMYK, palette, alpha, grayscale) to
what the model takes.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from common.errors import UserError
from common.i18n import t

from .cache import model_cache
from .registry import class_for

MAX_PIXELS = 40_000_000  # about 6300x6300; a 20000x20000 "image" is refused before decoding


class InputError(UserError, ValueError):
    """The user's input cannot be used; the message says why."""


def load_image(source: Any, channels: int = 3):
    """A PIL image in mode L (1 channel) or RGB (3 channels) from a path, bytes or PIL image."""
    import io

    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        if isinstance(source, Image.Image):
            img = source
        elif isinstance(source, (bytes, bytearray)):
            img = Image.open(io.BytesIO(source))
        else:
            path = Path(source)
            if not path.is_file() or path.stat().st_size == 0:
                raise InputError(t("inference.empty_file"))
            img = Image.open(path)
        if img.width * img.height > MAX_PIXELS:
            raise InputError(t("inference.too_many_pixels", width=img.width, height=img.height, limit=MAX_PIXELS))
        img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(t("inference.too_large", limit=MAX_PIXELS)) from None
    except UnidentifiedImageError:
        raise InputError(t("inference.not_an_image")) from None
    except OSError as e:
        raise InputError(t("inference.damaged", error=e)) from None
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16/32-bit grayscale: scale to 8 bits
        import numpy as np

        a = np.asarray(img, dtype=np.float32)
        a = (a - a.min()) / max(1.0, float(a.max() - a.min())) * 255
        img = Image.fromarray(a.astype("uint8"), mode="L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))  # transparent pixels become white
        img = Image.alpha_composite(bg, rgba)
    return img.convert("L" if channels == 1 else "RGB")


def image_to_tensor(img):
    """A PIL image in mode L or RGB as a uint8 tensor (C, H, W)."""
    import torch

    channels = 1 if img.mode == "L" else 3
    t = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8)
    return t.view(img.height, img.width, channels).permute(2, 0, 1)  # (H, W, C) -> (C, H, W)


@model_cache(maxsize=8)
def load_classifier(folder: str):
    """An image classifier folder, in eval mode: one of ours (``config.json`` + ``model.safetensors``),
    a timm model, or a transformers ``AutoModelForImageClassification``."""
    from . import adapters
    from .classification import class_for_config

    path = Path(folder)
    try:
        config = json.loads((path / "config.json").read_text())
        library = adapters.library_of(config)
        if library == "timm":
            return adapters.load_timm(path).eval()
        if library == "transformers":
            return adapters.load_transformers(path).eval()
        cls = class_for_config(config)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise InputError(t("inference.not_a_classifier", folder=folder,
                           why=str(e).splitlines()[0] if str(e) else type(e).__name__)) from None
    return cls.from_pretrained(path).eval()


def network_input(model, image: Any):
    """(the normalised batch of one (1, C, H, W), the PIL image the network sees) for an image classifier.

    Grayscale models here learn light ink on a dark ground (the digits); a drawing or a
    scan with a light background is inverted to match.
    """
    import torch
    from PIL import ImageOps, ImageStat

    img = load_image(image, channels=model.in_channels)
    if model.in_channels == 1 and ImageStat.Stat(img).mean[0] > 127:
        img = ImageOps.invert(img)
    img = fit_image(img, model.image_size, getattr(model, "crop_pct", None), getattr(model, "interpolation", None))
    x = image_to_tensor(img).float().div(255).unsqueeze(0)  # (1, C, H, W)
    mean = torch.tensor(model.mean).view(1, -1, 1, 1)
    std = torch.tensor(model.std).view(1, -1, 1, 1)
    return (x - mean) / std, img


def centred_drawing(image: Any, margin: float = 0.08):
    """A drawing framed as the digits are: its ink's bounding box, padded to a square with ``margin`` on each side
    (the built-in digits fill their 8x8 frames, as MNIST's are centred in theirs; one drawn small in a corner of a
    large canvas looks like none of them). Dark ink on a light ground, in mode L; None when nothing is drawn."""
    from PIL import Image, ImageOps, ImageStat

    img = load_image(image, channels=1)
    if ImageStat.Stat(img).mean[0] < 128:  # light ink on dark: the same picture the other way round
        img = ImageOps.invert(img)
    box = ImageOps.invert(img).point(lambda v: 255 if v > 64 else 0).getbbox()
    if box is None:
        return None
    ink = img.crop(box)
    side = int(max(ink.size) * (1 + 2 * margin))
    framed = Image.new("L", (side, side), 255)
    framed.paste(ink, ((side - ink.width) // 2, (side - ink.height) // 2))
    return framed


def classify(model, image: Any, top_k: int = 5):
    """({label: probability} of the ``top_k`` most likely classes, the image the network saw)."""
    import torch
    import torch.nn.functional as F

    x, img = network_input(model, image)
    with torch.no_grad():
        probs = F.softmax(model(x), dim=1)[0]
    k = min(top_k, len(model.labels))
    values, idx = probs.topk(k)
    return {model.labels[i]: float(v) for v, i in zip(values.tolist(), idx.tolist())}, img


def fit_image(img, size: int, crop_pct: float | None = None, interpolation: str | None = None):
    """``img`` as a ``size`` square: resized to it, or as timm and ConvNeXt evaluate (``crop_pct``): the shorter
    side resized to size / crop_pct, then the centre cropped."""
    from PIL import Image

    resample = getattr(Image.Resampling, (interpolation or "bicubic").upper(), Image.Resampling.BICUBIC)
    if not crop_pct:
        return img.resize((size, size), resample)
    short = int(size / crop_pct)  # timm: scale_size = floor(img_size / crop_pct)
    scale = short / min(img.size)
    w, h = max(size, round(img.width * scale)), max(size, round(img.height * scale))
    img = img.resize((w, h), resample)
    left, top = (w - size) // 2, (h - size) // 2
    return img.crop((left, top, left + size, top + size))


def load_by_config(folder: str | Path, classes: dict, transformers_suffix: str, load_transformers, what: str):
    """A model folder of one task in eval mode: a transformers model whose ``architectures`` end with
    ``transformers_suffix`` (loaded by ``load_transformers``), or the one of our ``classes`` whose
    config.json names (or, for older folders, whose constructor its keys fit: registry.class_for)."""
    path = Path(folder)
    try:
        config = json.loads((path / "config.json").read_text())
        if any(str(a).endswith(transformers_suffix) for a in config.get("architectures") or []):
            return load_transformers(path)
        if (cls := class_for(config, classes.values())) is not None:
            return cls.from_pretrained(path).eval()
        raise ValueError(f"config.json matches no {what} of this playground")
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        # (``what`` is the caller's name for the kind: "object detector")
        raise InputError(t("inference.not_loadable_an", name=path.name, what=what, why=why) if what[0] in "aeiou"
                         else t("inference.not_loadable_a", name=path.name, what=what, why=why)) from None


def processor_side(processor: Any, *keys: str, default: int = 512) -> int:
    """The input side an image processor resizes to; its ``size`` is a dict or a SizeDict, keyed by
    height/width or shortest_edge depending on the model type."""
    size = getattr(processor, "size", None) or {}
    for key in keys:
        value = size.get(key) if isinstance(size, dict) else getattr(size, key, None)
        if value:
            return int(value)
    return default


def load_transformers_vision(folder: str | Path, auto_class: str, labels: list[str] | None = None,
                             image_size: int | None = None) -> tuple[Any, Any]:
    """(model, image processor) of a transformers vision folder, by ``auto_class`` (built-in classes only, no remote
    code). For fine-tuning, ``labels`` gives the model a head for those classes (tensors whose shape then differs start
    fresh; the rest, backbone and all, keep their pretrained weights) and ``image_size`` makes the processor resize to
    the square the model trains at, so that what it learns is what it is later shown."""
    import transformers

    transformers.utils.logging.set_verbosity_error()  # "some weights were newly initialised": the head, on purpose
    head = {} if labels is None else {"id2label": dict(enumerate(labels)), "label2id": {n: i for i, n in
                                                                                     enumerate(labels)},
                                      "num_labels": len(labels), "ignore_mismatched_sizes": True}
    net = getattr(transformers, auto_class).from_pretrained(folder, **head)
    resize = {} if image_size is None else {"size": {"height": image_size, "width": image_size}}
    try:
        processor = transformers.AutoImageProcessor.from_pretrained(folder, **resize)
    except (OSError, ValueError):  # a repo without preprocessor_config.json: the model type's defaults
        processor = transformers.AutoImageProcessor.for_model(net.config.model_type, **resize)
    if labels is not None and hasattr(processor, "do_reduce_labels"):
        processor.do_reduce_labels = False  # (ADE20K's processors shift its labels; ours start at the background)
    return net, processor
