"""Face data for metric learning: aligned crops with a person index, and batches of P people x K photos.

Layout of an upload or a dataset repo: one folder per person with their photos inside
(``ada/1.jpg``, ``ada/2.jpg``, ``bob/1.png`` ...), as LFW is laid out. Each photo goes through the
same face finding the Verify tab uses; photos where no face is found are skipped with a note.
Validation people are kept apart from training people: the measures are on *unseen* faces.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import Dataset

from common.i18n import t

from .config import TrainingError


@dataclass
class FaceCrops:
    """Aligned face crops (N, 3, S, S) uint8 and whose face each is."""

    images: torch.Tensor
    labels: list[int]
    names: list[str]
    notes: list[str] = field(default_factory=list)

    def people(self, keep: list[int]) -> "FaceCrops":
        """The crops of the people with these indices, renumbered 0..len(keep)-1."""
        new = {old: i for i, old in enumerate(keep)}
        idx = [i for i, lab in enumerate(self.labels) if lab in new]
        return FaceCrops(self.images[idx], [new[self.labels[i]] for i in idx], [self.names[k] for k in keep])

    def __len__(self) -> int:
        return len(self.labels)


def from_pil(images: list, labels: list[int], names: list[str], size: int, mode: str) -> FaceCrops:
    from hub_models.faces import face_crop
    from hub_models.inference import InputError, image_to_tensor, load_image

    xs, ys, skipped = [], [], []
    for k, (img, lab) in enumerate(zip(images, labels)):
        try:
            face = face_crop(load_image(img, channels=3), mode)
        except InputError as e:
            skipped.append(f"{names[lab]}/{getattr(img, 'filename', None) and Path(img.filename).name or k}: {e}")
            continue
        xs.append(image_to_tensor(face.crop.resize((size, size))))
        ys.append(lab)
    notes = [t("trainer.skipped_photos", count=len(skipped), total=len(images), first=skipped[0])
             + (" ..." if len(skipped) > 1 else "")] \
        if skipped else []
    if not xs:
        raise TrainingError(t("trainer.no_face") + (f" ({skipped[0]})" if skipped else ""))
    return FaceCrops(torch.stack(xs), ys, names, notes)


def load_folder(root: str | Path, size: int, mode: str) -> FaceCrops:
    """One folder per person; photos opened lazily (a broken file is skipped with a note)."""
    from PIL import Image

    from .data import IMAGE_EXTS, find_class_folders

    _, people = find_class_folders(root)
    images, labels, broken = [], [], []
    for i, person in enumerate(people):
        for f in sorted(person.rglob("*")):
            if not (f.is_file() and f.suffix.lower() in IMAGE_EXTS):
                continue
            try:
                img = Image.open(f)
                img.filename = str(f)
                images.append(img)
                labels.append(i)
            except Exception:
                broken.append(f"{person.name}/{f.name}")
    crops = from_pil(images, labels, [p.name for p in people], size, mode)
    if broken:
        crops.notes.insert(0, t("trainer.not_images", count=len(broken), names=", ".join(broken[:3])))
    counts = torch.bincount(torch.tensor(crops.labels), minlength=len(people))
    if int((counts >= 2).sum()) < 4:
        raise TrainingError(t("trainer.too_few_people", count=int((counts >= 2).sum()))
                            + (f"; {crops.notes[-1]}" if crops.notes else ""))
    return crops


def check_face_folder(folder: str | Path) -> str:
    """An upload's problem, found before a job starts (TrainingError), else its root."""
    from .data import find_class_folders

    root, people = find_class_folders(folder)
    if len(people) < 4:
        raise TrainingError(t("trainer.too_few_person_folders", count=len(people)))
    return str(root)


def split_people(data: FaceCrops, val_fraction: float, seed: int) -> tuple[FaceCrops, FaceCrops]:
    """Training and validation people, disjoint; only people with 2+ photos validate (pairs need them)."""
    counts = torch.bincount(torch.tensor(data.labels), minlength=len(data.names))
    g = torch.Generator().manual_seed(seed)
    multi = [int(i) for i in torch.nonzero(counts >= 2).flatten()[torch.randperm(int((counts >= 2).sum()), generator=g)]]
    n_val = min(len(multi) - 2, max(2, round(len(multi) * val_fraction)))
    val = sorted(multi[:n_val])
    train = [i for i in range(len(data.names)) if i not in set(val)]
    return data.people(train), data.people(val)


class PersonGroups(Dataset):
    """Item i: ``k`` photos of one person (drawn at random, with repeats when they have fewer), so a
    batch of P items holds P people x k photos: every anchor has positives and negatives. People with
    more photos come up more often (one item per k of their photos)."""

    def __init__(self, data: FaceCrops, k: int):
        self.data, self.k = data, k
        by = torch.tensor(data.labels)
        self.members = [torch.nonzero(by == p).flatten() for p in range(len(data.names))]
        self.index = [p for p, m in enumerate(self.members) if len(m) >= 2 for _ in range(max(1, len(m) // k))]
        if not self.index:
            raise TrainingError(t("trainer.no_training_pair"))

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int):
        m = self.members[self.index[i]]
        pick = m[torch.randperm(len(m))[:self.k]] if len(m) >= self.k else m[torch.randint(len(m), (self.k,))]
        return self.data.images[pick].float().div(255), torch.full((self.k,), self.index[i])


def collate_groups(items):
    return torch.cat([x for x, _ in items]), torch.cat([y for _, y in items])


class Crops(Dataset):
    """Validation: each crop with its person, shaped as a group of one (the same collate serves both)."""

    def __init__(self, data: FaceCrops):
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int):
        return self.data.images[i : i + 1].float().div(255), torch.tensor([self.data.labels[i]])
