"""Image-classification data from users: zips, folders and hub dataset repos, checked before use.

Layout everywhere: one folder per class with images inside (``cats/1.jpg``, ``dogs/2.png``),
optionally under a single top folder. A hub dataset repo may instead hold files that
``datasets`` reads (parquet, csv...) with an image column and a class-label column.
"""
from __future__ import annotations

import hashlib
import re
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

import torch

from common.i18n import t
from hub.client import local_path

from .engine import TrainingError

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
MAX_FILES = 200_000
MAX_BYTES = 4 * 1024**3  # uncompressed
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def safe_extract(zip_path: str | Path, dest: str | Path) -> Path:
    """Extract a zip into ``dest`` after checking every entry; nothing lands outside ``dest``.

    Refuses absolute paths, '..' (zip-slip), symlinks, more than MAX_FILES entries or
    MAX_BYTES uncompressed. The folder appears whole (extracted aside, then renamed).
    """
    dest = Path(dest)
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as e:
        raise TrainingError(t("trainer.zip_unreadable", reason=e)) from None
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if not infos:
            raise TrainingError(t("trainer.zip_empty"))
        if len(infos) > MAX_FILES:
            raise TrainingError(t("trainer.zip_too_many", count=len(infos), limit=MAX_FILES))
        if sum(i.file_size for i in infos) > MAX_BYTES:
            raise TrainingError(t("trainer.zip_too_big", gb=MAX_BYTES // 1024**3))
        for info in infos:
            name = info.filename
            parts = PurePosixPath(name).parts
            if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or "\\" in name or ".." in parts:
                raise TrainingError(t("trainer.zip_unsafe_path", name=name))
            if stat.S_ISLNK(info.external_attr >> 16):
                raise TrainingError(t("trainer.zip_symlink", name=name))
        if dest.exists():
            return dest
        tmp = dest.with_name(dest.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            for info in infos:
                target = tmp.joinpath(*PurePosixPath(info.filename).parts)
                if not target.resolve().is_relative_to(tmp.resolve()):
                    raise TrainingError(t("trainer.zip_unsafe_target", name=info.filename))
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise TrainingError(t("trainer.zip_damaged", reason=e)) from None
        except TrainingError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        tmp.rename(dest)
    return dest


def extract_upload(zip_path: str | Path, uploads_dir: str | Path) -> Path:
    """Extract an uploaded zip into a folder named by its content hash (the same upload is reused)."""
    h = hashlib.sha256()
    with open(zip_path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return safe_extract(zip_path, Path(uploads_dir) / h.hexdigest()[:16])


def image_files(root: str | Path) -> list[Path]:
    """Every image file under ``root``, sorted; hidden folders and macOS zip debris left out."""
    root = Path(root)
    return [f for f in sorted(root.rglob("*")) if f.is_file() and f.suffix.lower() in IMAGE_EXTS
            and not any(part.startswith((".", "__MACOSX")) for part in f.relative_to(root).parts)]


def require_images(folder: str, minimum: int, why: str = "") -> str:
    """``folder`` if it holds at least ``minimum`` images; else a TrainingError saying how many it has."""
    n = len(image_files(folder))
    if n < minimum:
        raise TrainingError(t("trainer.zip_too_few_images", count=n, minimum=minimum, why=why))
    return folder


def find_class_folders(root: str | Path) -> tuple[Path, list[Path]]:
    """(dataset root, class folders) of a one-folder-per-class tree; descends a single wrapper folder."""
    root = Path(root)
    if not root.is_dir():
        raise TrainingError(t("trainer.not_a_folder", path=root))

    def subdirs(p: Path) -> list[Path]:
        return sorted(d for d in p.iterdir() if d.is_dir() and not d.name.startswith((".", "__MACOSX")))

    def has_images(d: Path) -> bool:
        return any(f.suffix.lower() in IMAGE_EXTS for f in d.rglob("*") if f.is_file())

    while True:
        classes = [d for d in subdirs(root) if has_images(d)]
        if len(classes) == 1 and subdirs(classes[0]) and not any(
                f.suffix.lower() in IMAGE_EXTS for f in classes[0].iterdir() if f.is_file()):
            root = classes[0]  # a single wrapper folder, as zipping a folder makes
            continue
        break
    if not classes:
        raise TrainingError(t("trainer.no_class_folders"))
    if len(classes) == 1:
        raise TrainingError(t("trainer.one_class_folder", name=classes[0].name))
    return root, classes


def load_image_folder(root: str | Path, image_size: int) -> tuple[torch.Tensor, torch.Tensor, list[str], list[str]]:
    """Images as (N, C, S, S) floats in [0, 1], labels, class names and warnings (skipped files)."""
    from hub_models.inference import InputError, image_to_tensor, load_image

    _, classes = find_class_folders(root)
    files = [(f, i) for i, d in enumerate(classes) for f in sorted(d.rglob("*"))
             if f.is_file() and f.suffix.lower() in IMAGE_EXTS]
    gray = all(_mode(f) in ("1", "L", "I;16", "I", "LA") for f, _ in files[:50])
    channels = 1 if gray else 3
    xs, ys, warnings = [], [], []
    for f, label in files:
        try:
            img = load_image(f, channels=channels).resize((image_size, image_size))
        except InputError as e:
            warnings.append(t("trainer.skipped_file", name=f.relative_to(classes[label].parent), reason=e))
            continue
        xs.append(image_to_tensor(img))
        ys.append(label)
    counts = torch.bincount(torch.tensor(ys, dtype=torch.long), minlength=len(classes)) if ys else None
    if counts is None or (counts > 0).sum() < 2:
        raise TrainingError(t("trainer.too_few_classes") +
                            (f" ({warnings[0]}...)" if warnings else ""))
    return torch.stack(xs).float() / 255, torch.tensor(ys), [d.name for d in classes], warnings


def _mode(path: Path) -> str:
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.mode
    except Exception:
        return "?"


def load_dataset_spec(spec: str, image_size: int, hub: str) -> tuple[torch.Tensor, torch.Tensor, list[str], list[str]]:
    """A folder, a .zip (extracted next to it), or a dataset repo id on ``hub``."""
    path = local_path(spec)
    if path.is_dir():
        return load_image_folder(path, image_size)
    if path.suffix.lower() == ".zip" and path.is_file():
        return load_image_folder(safe_extract(path, path.with_suffix("")), image_size)
    if _REPO_ID.match(spec):
        return load_hub_dataset(spec, image_size, hub)
    raise TrainingError(t("trainer.no_dataset", spec=spec, builtin="digits"))


def dataset_folder(spec: str, hub: str, builtin: str) -> Path:
    """The folder a --dataset names: a folder, a .zip (extracted next to it) or a dataset repo pulled from
    ``hub``; ``builtin`` names the task's built-in sample in the message for anything else."""
    path = local_path(spec)
    if path.is_dir():
        return path
    if path.suffix.lower() == ".zip" and path.is_file():
        return safe_extract(path, path.with_suffix(""))
    if _REPO_ID.match(spec):
        from hub.client import HubActionError, pull, resolve_hub

        try:
            return pull(spec, resolve_hub(hub), repo_type="dataset")
        except HubActionError as e:
            raise TrainingError(t("trainer.dataset_error", spec=spec, reason=e)) from None
    raise TrainingError(t("trainer.no_dataset", spec=spec, builtin=builtin))


def load_hub_dataset(repo_id: str, image_size: int, hub_spec: str):
    """Pull a dataset repo (explicit endpoint) and read it as an image folder or with ``datasets``."""
    folder = dataset_folder(repo_id, hub_spec, "digits")
    try:
        return load_image_folder(folder, image_size)
    except TrainingError:
        pass  # not one folder per class: let `datasets` read the files
    import datasets

    try:
        ds = datasets.load_dataset(str(folder), split="train")
    except Exception as e:
        raise TrainingError(t("trainer.dataset_not_images", spec=repo_id, reason=str(e).splitlines()[0])) from None
    image_col = next((k for k, f in ds.features.items() if isinstance(f, datasets.Image)), None)
    label_col = next((k for k, f in ds.features.items() if isinstance(f, datasets.ClassLabel)), None)
    if image_col is None or label_col is None:
        raise TrainingError(t("trainer.dataset_needs_columns", spec=repo_id, columns=", ".join(ds.features)))
    names = ds.features[label_col].names
    channels = 1 if ds[0][image_col].mode in ("1", "L") else 3
    from hub_models.inference import image_to_tensor, load_image

    xs = [image_to_tensor(load_image(img, channels=channels).resize((image_size, image_size)))
          for img in ds[image_col]]
    return torch.stack(xs).float() / 255, torch.tensor(ds[label_col]), names, []
