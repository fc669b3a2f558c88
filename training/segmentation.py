"""Semantic-segmentation trainer: ``python -m training segmentation --model unet --dataset shapes``.

Trains any model of ``hub_models.catalog.SEGMENTERS`` on the built-in shapes (masks drawn with
the scenes), an image + mask folder/zip or a dataset repo; reports per-class IoU, mIoU and pixel
accuracy on the validation split after each epoch; saves the model, a picture of its masks on
validation images and a model card.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F

from common.i18n import t
from hub_models.catalog import SEGMENTERS
from hub_models.segmentation import IGNORE

from .config import to_dict
from .engine import TaskSpec, base_model_id, vision_start
from .tasks.segmentation import BUILTIN, SegmentationConfig


def load_data(cfg: SegmentationConfig):
    from .data import dataset_folder
    from .segmentation_data import from_scenes, load_folder

    size = cfg.image_size
    if cfg.dataset == BUILTIN:
        from .shapes import CLASSES, shapes_split

        n_train, n_val = (16, 8) if cfg.dry_run else (None, None)
        return (from_scenes(shapes_split("train", size, n_train), CLASSES),
                from_scenes(shapes_split("val", size, n_val), CLASSES), BUILTIN)
    data = load_folder(dataset_folder(cfg.dataset, cfg.hub, BUILTIN), size)
    if cfg.dry_run:
        data = data.subset(list(range(min(16, len(data)))))
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(cfg.seed)).tolist()
    n_val = max(1, int(len(data) * cfg.val_split))
    name = Path(cfg.dataset).name if Path(cfg.dataset).exists() else cfg.dataset
    return data.subset(perm[n_val:]), data.subset(perm[:n_val]), name


def prediction_picture(model, data, n: int = 4):
    """Rows of image | true mask | predicted mask for the first ``n`` validation images."""
    from PIL import Image

    from hub_models.visual import grid, mask_overlay

    model.eval()
    tiles = []
    with torch.no_grad():
        for i in range(min(n, len(data))):
            x, y = data[i]
            pred = model(x.unsqueeze(0)).argmax(1)[0].to(torch.uint8).numpy()
            img = Image.fromarray(data.images[i].permute(1, 2, 0).numpy())
            tiles += [img, mask_overlay(img, y.to(torch.uint8).numpy(), 1.0), mask_overlay(img, pred, 1.0)]
    return grid([t.resize((160, 160), Image.NEAREST) for t in tiles], 3) if tiles else None


def build_task(cfg: SegmentationConfig) -> TaskSpec:
    from hub_models.segmentation import (TransformersSegmenter, confusion, create_segmenter, iou_table,
                                         load_transformers_segmenter)

    train_data, val_data, data_name = load_data(cfg)
    labels = train_data.labels
    k = len(labels)
    torch.manual_seed(cfg.seed)
    model, tuned = vision_start(cfg, lambda: create_segmenter(cfg.model, k, labels, cfg.image_size),
                                "ForSemanticSegmentation", load_transformers_segmenter, labels,
                                t("trainer.what_segmenter"))
    foreign = isinstance(model, TransformersSegmenter)
    name = model.net.config.model_type if foreign else cfg.model
    share = torch.bincount(train_data.masks[train_data.masks != IGNORE].flatten().long(), minlength=k).double()
    share = share / share.sum().clamp(min=1)
    notes = list(train_data.notes) + ([tuned] if tuned else []) + [
        # i18n: not shown (a log line)
        f"{len(train_data)} training and {len(val_data)} validation images; pixels per class: "
        + ", ".join(f"{n} {100 * float(s):.1f} %" for n, s in zip(labels, share))]

    def loss(m, batch) -> torch.Tensor:
        x, y = batch
        if cfg.flip:
            flip = (torch.rand(len(x)) < 0.5).to(x.device)
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
            y = torch.where(flip.view(-1, 1, 1), y.flip(-1), y)
        return F.cross_entropy(m(x), y, ignore_index=IGNORE)

    def evaluate(m, loader, accelerator) -> dict[str, float]:
        m.eval()
        cm = torch.zeros(k, k, dtype=torch.long)
        total, n = 0.0, 0
        with torch.no_grad():
            for x, y in loader:
                logits = m(x)
                total += F.cross_entropy(logits, y, ignore_index=IGNORE, reduction="sum").item()
                n += int((y != IGNORE).sum())
                cm += confusion(logits.argmax(1).cpu(), y.cpu(), k)
        m.train()
        table = iou_table(cm)
        evaluate.last = table  # type: ignore[attr-defined]
        return {"miou": table["miou"], "pixel_accuracy": table["pixel_accuracy"], "loss": total / max(1, n)}

    def save(m, folder: Path, metrics: dict[str, float]) -> None:
        from hub.card import CardInfo, write_card

        m.save_pretrained(folder)
        table = getattr(evaluate, "last", None) or {"iou": []}
        per_class = {n: v for n, v in zip(labels, table["iou"]) if v == v}
        (folder / "evaluation.json").write_text(json.dumps({"metrics": metrics, "iou_per_class": per_class}))
        picture = prediction_picture(m, val_data)
        if picture is not None:
            from hub_models.visual import captioned

            text = t("card.segmentation_caption", miou=metrics.get("miou", 0),
                     accuracy=metrics.get("pixel_accuracy", 0))
            if per_class:
                text += "\nIoU: " + ", ".join(f"{n} {v:.3f}" for n, v in per_class.items())
            captioned(picture, text).save(folder / "val_predictions.png")
        repo = cfg.push_to_hub or f"local/{name}-{data_name.replace('/', '-')}"
        cls = type(m).__name__
        kind = type(m.net).__name__ if foreign else SEGMENTERS[cfg.model].summary
        n_params = sum(p.numel() for p in m.parameters())
        facts = dict(name=name, kind=kind, params=n_params, data=data_name, size=cfg.image_size, classes=k,
                     labels=", ".join(labels))
        summary = (t("card.segmentation_summary_finetuned", base=cfg.init_from, **facts) if cfg.init_from
                   else t("card.segmentation_summary_scratch", **facts))
        summary += "\n\n" + t("card.segmentation_iou_per_class",
                               values=", ".join(f"{n} {v:.3f}" for n, v in per_class.items()))
        summary += f"\n\n![{t('card.segmentation_picture')}](val_predictions.png)"
        write_card(folder, CardInfo(
            repo_id=repo, title=t("card.segmentation_title", name=name, data=data_name), summary=summary,
            base_model=base_model_id(cfg.init_from), pipeline_tag="image-segmentation",
            library_name="transformers" if foreign else "pytorch",
            task_name="Semantic Segmentation", tags=[name, "semantic-segmentation"],
            datasets=[] if Path(cfg.dataset).exists() or cfg.dataset == BUILTIN else [cfg.dataset],
            dataset_name=data_name, metrics={k_: v for k_, v in metrics.items() if k_ != "loss"},
            training=to_dict(cfg),
            usage=(f"from transformers import pipeline\n"  # i18n: kept (code)
                   f"segmenter = pipeline(\"image-segmentation\", model=\"{repo}\")  # or a local folder\n"
                   f"segmenter(\"photo.jpg\")  # one {{'label': ..., 'mask': PIL image}} per class found"
                   if foreign else
                   f"from hub_models.segmentation import {cls}\n"  # i18n: kept (code)
                   f"model = {cls}.from_pretrained(\"{repo}\").eval()  # or a local folder\n"
                   f"logits = model(images)  # images: (B, 3, H, W) in [0, 1] -> (B, {k}, H, W)\n"
                   f"classes = logits.argmax(1)  # model.labels names them; 0 is {labels[0]}")))

    return TaskSpec(model=model, train_data=train_data, val_data=val_data, loss=loss, evaluate=evaluate, save=save,
                    notes=notes)
