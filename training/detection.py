"""Object-detection trainer: ``python -m training detection --model tinyssd --dataset shapes``.

Trains any detector of ``hub_models.catalog.DETECTORS`` on the built-in shapes, a COCO or YOLO
folder/zip, or a dataset repo; evaluates mAP@0.5 and mAP@0.5:0.95 (COCO protocol) on the
validation split after each epoch; saves the model, a picture of its detections on validation
images and a model card.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from hub_models.catalog import DETECTORS

from .config import to_dict
from .engine import TaskSpec, base_model_id, vision_start
from .tasks.detection import BUILTIN, DetectionConfig

EVAL_IOU = 0.5  # NMS threshold used for the reported mAP


def _flip(images: torch.Tensor, targets: list[dict]) -> tuple[torch.Tensor, list[dict]]:
    """Mirror half the images left-right; x1, x2 of their boxes become W - x2, W - x1."""
    w = images.shape[-1]
    flip = torch.rand(len(images)) < 0.5
    images = torch.where(flip.view(-1, 1, 1, 1).to(images.device), images.flip(-1), images)
    out = []
    for f, t in zip(flip.tolist(), targets):
        if f:
            b = t["boxes"]
            t = {**t, "boxes": torch.stack([w - b[:, 2], b[:, 1], w - b[:, 0], b[:, 3]], 1)}
        out.append(t)
    return images, out


def load_data(cfg: DetectionConfig):
    """(train, validation) DetectionData and a readable dataset name."""
    from .data import dataset_folder
    from .detection_data import from_scenes, load_records, read_folder

    size = cfg.image_size
    if cfg.dataset == BUILTIN:
        from .shapes import CLASSES, shapes_split

        n_train, n_val = (16, 8) if cfg.dry_run else (None, None)
        return (from_scenes(shapes_split("train", size, n_train), list(CLASSES)),
                from_scenes(shapes_split("val", size, n_val), list(CLASSES)), BUILTIN)
    folder = dataset_folder(cfg.dataset, cfg.hub, BUILTIN)
    records, names, notes = read_folder(folder)
    if cfg.dry_run:
        records = records[:16]
    data = load_records(records, names, size, notes)
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(cfg.seed)).tolist()
    n_val = max(1, int(len(data) * cfg.val_split))
    name = Path(cfg.dataset).name if Path(cfg.dataset).exists() else cfg.dataset
    return data.subset(perm[n_val:]), data.subset(perm[:n_val]), name


def prediction_picture(model, data, n: int = 8, score: float = 0.4):
    """Detections of ``model`` on the first ``n`` validation images, tiled: what the user sees first."""
    from PIL import Image

    from hub_models.detection import filter_candidates
    from hub_models.visual import draw_boxes, grid

    model.eval()
    tiles = []
    for i in range(min(n, len(data))):
        x, _ = data[i]
        c = model.candidates(x.unsqueeze(0))[0]
        keep = filter_candidates(c, score, EVAL_IOU)
        img = Image.fromarray(data.images[i].permute(1, 2, 0).numpy())
        tiles.append(draw_boxes(img, c["boxes"][keep].tolist(), c["labels"][keep].tolist(), data.labels,
                                c["scores"][keep].tolist()))
    return grid(tiles, 4)


def build_task(cfg: DetectionConfig) -> TaskSpec:
    from common.i18n import t
    from hub_models.detection import TransformersDetector, create_detector, load_transformers_detector

    from .detection_data import collate

    train_data, val_data, data_name = load_data(cfg)
    labels = train_data.labels
    torch.manual_seed(cfg.seed)
    model, tuned = vision_start(cfg, lambda: create_detector(cfg.model, len(labels), labels, cfg.image_size),
                                "ForObjectDetection", load_transformers_detector, labels, t("trainer.what_detector"))
    foreign = isinstance(model, TransformersDetector)
    name = model.net.config.model_type if foreign else cfg.model
    counts = torch.bincount(torch.cat([t["labels"] for t in train_data.targets]), minlength=len(labels))
    per_class = ", ".join(f"{n}: {int(c)}" for n, c in zip(labels, counts))
    notes = list(train_data.notes) + ([tuned] if tuned else []) + [
        f"{len(train_data)} training and {len(val_data)} validation images, {int(counts.sum())} training boxes "
        f"({per_class})"]

    def loss(m, batch) -> torch.Tensor:
        images, targets = batch
        if cfg.flip:
            images, targets = _flip(images, targets)
        return m.loss(images, targets)

    def evaluate(m, loader, accelerator) -> dict[str, float]:
        from hub_models.boxes import detection_metrics
        from hub_models.detection import filter_candidates

        m.eval()
        dets, targets = [], []
        for images, tgts in loader:
            for c, target in zip(accelerator.unwrap_model(m).candidates(images), tgts):
                keep = filter_candidates(c, 0.0, EVAL_IOU)[:100]
                dets.append({k: v[keep].cpu() for k, v in c.items()})
                targets.append({k: v.cpu() for k, v in target.items()})
        m.train()
        metrics = detection_metrics(dets, targets, len(labels))
        evaluate.per_class = {labels[int(k.rsplit("_", 1)[1])]: v  # type: ignore[attr-defined]
                              for k, v in metrics.items() if k.startswith("ap50_")}
        return {"map50": metrics["map50"], "map": metrics["map"]}

    def save(m, folder: Path, metrics: dict[str, float]) -> None:
        from hub.card import CardInfo, write_card

        m.save_pretrained(folder)
        per_class = getattr(evaluate, "per_class", {})
        (folder / "evaluation.json").write_text(json.dumps({"metrics": metrics, "ap50_per_class": per_class}))
        picture = prediction_picture(m, val_data)
        if picture is not None:
            from hub_models.visual import captioned

            text = f"mAP@0.5 {metrics.get('map50', 0):.3f}, mAP@0.5:0.95 {metrics.get('map', 0):.3f}"
            if per_class:
                text += "\nAP@0.5: " + ", ".join(f"{k} {v:.3f}" for k, v in per_class.items())
            captioned(picture, text).save(folder / "val_predictions.png")
        repo = cfg.push_to_hub or f"local/{name}-{data_name.replace('/', '-')}"
        cls = type(m).__name__
        kind = type(m.net).__name__ if foreign else DETECTORS[cfg.model].summary
        n_params = sum(p.numel() for p in m.parameters())
        facts = dict(name=name, kind=kind, params=n_params, data=data_name, size=cfg.image_size,
                     classes=len(labels), labels=", ".join(labels), iou=EVAL_IOU)
        summary = (t("card.detection_summary_finetuned", base=cfg.init_from, **facts) if cfg.init_from
                   else t("card.detection_summary_scratch", **facts))
        if per_class:
            summary += "\n\n" + t("card.detection_ap_per_class",
                                   values=", ".join(f"{k} {v:.3f}" for k, v in per_class.items()))
        summary += f"\n\n![{t('card.detection_picture')}](val_predictions.png)"
        write_card(folder, CardInfo(
            repo_id=repo, title=t("card.detection_title", name=name, data=data_name), summary=summary,
            base_model=base_model_id(cfg.init_from), pipeline_tag="object-detection", task_name="Object Detection",
            library_name="transformers" if foreign else "pytorch",
            tags=[name, "object-detection"],
            datasets=[] if Path(cfg.dataset).exists() or cfg.dataset == BUILTIN else [cfg.dataset],
            dataset_name=data_name, metrics=metrics,
            training=to_dict(cfg),
            usage=(f"from transformers import pipeline\n"  # i18n: kept (code)
                   f"detector = pipeline(\"object-detection\", model=\"{repo}\")  # or a local folder\n"
                   f"detector(\"photo.jpg\")  # [{{'score': ..., 'label': ..., 'box': {{'xmin': ...}}}}, ...]"
                   if foreign else
                   f"from hub_models.detection import {cls}, filter_candidates\n"  # i18n: kept (code)
                   f"model = {cls}.from_pretrained(\"{repo}\").eval()  # or a local folder\n"
                   f"cands = model.candidates(images)  # images: (B, 3, {cfg.image_size}, {cfg.image_size}) in [0, 1]\n"
                   f"keep = filter_candidates(cands[0], score_threshold=0.5, iou_threshold=0.5)\n"
                   f"boxes, labels = cands[0][\"boxes\"][keep], cands[0][\"labels\"][keep]  # named by model.labels")))

    return TaskSpec(model=model, train_data=train_data, val_data=val_data, loss=loss, evaluate=evaluate, save=save,
                    notes=notes, collate=collate)
