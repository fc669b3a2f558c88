"""Face-verification trainer: ``python -m training faces --model small-cnn --loss triplet``.

Learns an embedding where photos of one person lie close together: triplet loss with semi-hard
(or batch-hard, or all-triplet) mining, or a Siamese network with contrastive loss, on batches of
P people x K photos. After each epoch it scores the *unseen* validation people: pairs of their
photos (every same-person pair and as many different-person ones), the ROC curve and its AUC,
and the distance threshold with the best accuracy, which is saved in the model's config so the
pushed model verifies with it. A raw-pixel distance on the same pairs is the baseline.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from common.i18n import t

from .config import TrainingError, to_dict
from .engine import TaskSpec, base_model_id, init_folder, load_matching
from .metric_learning import contrastive_loss, roc, triplet_loss, verification_pairs
from .tasks.faces import BUILTIN, FaceConfig


def load_data(cfg: FaceConfig):
    from .data import dataset_folder
    from .face_data import from_pil, load_folder, split_people

    size = cfg.image_size
    builtin = cfg.dataset == BUILTIN
    mode = cfg.face_crop if cfg.face_crop != "auto" else ("none" if builtin else "haar")
    if builtin:
        from .face_sample import face_split

        people, photos = (6, 4) if cfg.dry_run else (None, 10)
        train = from_pil(*face_split("train", size, people, photos), size, mode)
        val = from_pil(*face_split("val", size, people, photos), size, mode)
        return train, val, BUILTIN, mode
    data = load_folder(dataset_folder(cfg.dataset, cfg.hub, BUILTIN), size, mode)
    train, val = split_people(data, cfg.val_split, cfg.seed)
    train.notes = data.notes
    name = Path(cfg.dataset).name if Path(cfg.dataset).exists() else cfg.dataset
    return train, val, name, mode


def pair_distances(emb: torch.Tensor, labels: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    pairs, same = verification_pairs(labels)
    return (emb[pairs[:, 0]] - emb[pairs[:, 1]]).norm(dim=1), same


def pixel_baseline(val) -> dict[str, Any]:
    """The ROC of raw pixels: each crop a unit vector of its (mean-removed) pixels."""
    x = val.images.float().flatten(1)
    x = torch.nn.functional.normalize(x - x.mean(1, keepdim=True), dim=1)
    return roc(*pair_distances(x, val.labels))


def roc_picture(result: dict, baseline: dict, distances: torch.Tensor, same: torch.Tensor):
    """ROC of the model against raw pixels, beside the histograms of same / different distances."""
    from hub_models.visual import chart, row

    left = chart(t("card.faces_roc_title"), [
        (t("card.faces_roc_model", auc=result["auc"]), result["fpr"], result["tpr"]),
        (t("card.faces_roc_pixels", auc=baseline["auc"]), baseline["fpr"], baseline["tpr"]),
        (t("card.faces_roc_chance"), [0.0, 1.0], [0.0, 1.0])], t("card.faces_roc_x"), t("card.faces_roc_y"))
    hi = float(max(2.0, distances.max())) if len(distances) else 2.0
    bins = torch.linspace(0, hi, 31)
    centres = ((bins[1:] + bins[:-1]) / 2).tolist()
    pos = torch.histc(distances[same], 30, 0, hi)
    neg = torch.histc(distances[~same], 30, 0, hi)
    right = chart(t("card.faces_distances_title"), [
        (t("card.faces_distances_same"), centres, (pos / max(1, int(same.sum()))).tolist()),
        (t("card.faces_distances_different"), centres, (neg / max(1, int((~same).sum()))).tolist())],
        t("card.faces_distances_x"), t("card.faces_distances_y"), bars=True,
        vline=(t("card.faces_threshold", threshold=result["threshold"]), result["threshold"]))
    return row([left, right])


def start_model(cfg: FaceConfig, mode: str) -> tuple[Any, str | None]:
    """(embedder, note): from scratch (cfg.validate() vetted the name), from a saved embedder (load_matching), or
    with its backbone from a timm repo (an ImageNet classifier: timm/resnet18.a1_in1k), whose architecture then
    replaces --model."""
    from hub_models.adapters import library_of
    from hub_models.faces import TimmFaceEmbedder, create_embedder

    if cfg.init_from:
        folder = init_folder(cfg.init_from, cfg.hub)
        try:
            timm_repo = library_of(json.loads((folder / "config.json").read_text())) == "timm"
        except (OSError, ValueError):
            timm_repo = False  # load_matching says what is missing
        if timm_repo:
            try:
                model = TimmFaceEmbedder.from_timm_folder(folder, cfg.embedding_dim, cfg.image_size, mode)
            except (OSError, ValueError, RuntimeError) as e:
                raise TrainingError(t("trainer.cannot_load", spec=cfg.init_from, reason=str(e).splitlines()[0])) from None
            # i18n: not shown (a log line)
            return model, (f"backbone from {cfg.init_from} ({model.arch}, its classifier dropped; its own "
                           f"normalisation), a fresh {cfg.embedding_dim}-d embedding layer; not --model {cfg.model}")
    model = create_embedder(cfg.model, cfg.embedding_dim, cfg.image_size, mode)
    return model, load_matching(model, cfg.init_from, cfg.hub) if cfg.init_from else None


def build_task(cfg: FaceConfig) -> TaskSpec:
    from hub_models.faces import TimmFaceEmbedder

    from .face_data import Crops, PersonGroups, collate_groups

    train_crops, val_crops, data_name, mode = load_data(cfg)
    torch.manual_seed(cfg.seed)
    model, tuned = start_model(cfg, mode)
    margin = cfg.margin or (0.2 if cfg.loss == "triplet" else 1.0)
    baseline = pixel_baseline(val_crops)
    notes = list(train_crops.notes) + ([tuned] if tuned else []) + [
        # i18n: not shown (a log line)
        f"{len(train_crops.names)} people ({len(train_crops)} faces) to train on, {len(val_crops.names)} unseen people "
        f"({len(val_crops)} faces) to validate on; faces "
        + ("found by the Haar cascade" if mode == "haar" else "used as given (crops)"),  # i18n: not shown (a log line)
        # i18n: not shown (a log line)
        f"baseline, raw-pixel distance on the validation pairs: AUC {baseline['auc']:.3f}, "
        f"accuracy {baseline['accuracy']:.3f}"]
    state: dict[str, Any] = {}

    def loss(m, batch) -> torch.Tensor:
        x, y = batch
        if cfg.flip:
            flip = (torch.rand(len(x)) < 0.5).to(x.device)
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
        e = m(x)
        if cfg.loss == "contrastive":
            return contrastive_loss(e, y, margin)
        value, _ = triplet_loss(e, y, margin, cfg.mining)
        return value

    def evaluate(m, loader, accelerator) -> dict[str, float]:
        m.eval()
        with torch.no_grad():
            emb = torch.cat([m(x).cpu() for x, _ in loader])
        m.train()
        d, same = pair_distances(emb, val_crops.labels)
        result = roc(d, same)
        state.update(result=result, distances=d, same=same)
        return {"auc": result["auc"], "accuracy": result["accuracy"], "threshold": result["threshold"],
                "same_mean": float(d[same].mean()), "different_mean": float(d[~same].mean())}

    def save(m, folder: Path, metrics: dict[str, float]) -> None:
        from hub.card import CardInfo, write_card
        from hub_models.visual import captioned

        threshold = float(metrics.get("threshold", 1.0))
        m.threshold = threshold
        m.save_pretrained(folder, config={**m._hub_mixin_config, "threshold": threshold, "face_crop": mode})
        result = state.get("result") or {}
        (folder / "evaluation.json").write_text(json.dumps({
            "metrics": metrics, "roc": {k: result.get(k) for k in ("fpr", "tpr")},
            "baseline_raw_pixels": {k: baseline[k] for k in ("auc", "accuracy", "threshold")}}))
        if result:
            pic = roc_picture(result, baseline, state["distances"], state["same"])
            captioned(pic, t("card.faces_caption", auc=result["auc"], accuracy=result["accuracy"], threshold=threshold,
                             baseline_auc=baseline["auc"], baseline_accuracy=baseline["accuracy"])
                      ).save(folder / "val_roc.png")
        name = f"timm:{m.arch}" if isinstance(m, TimmFaceEmbedder) else cfg.model
        repo = cfg.push_to_hub or f"local/{name.replace(':', '-')}-{data_name.replace('/', '-')}"
        cls = type(m).__name__
        how = (t("card.faces_loss_triplet", margin=margin, mining=cfg.mining) if cfg.loss == "triplet"
               else t("card.faces_loss_contrastive", margin=margin))
        facts = dict(name=name, params=sum(p.numel() for p in m.parameters()), dim=cfg.embedding_dim,
                     size=cfg.image_size, data=data_name, loss=how, people=cfg.batch_size,
                     photos=cfg.photos_per_person)
        summary = "\n\n".join([
            t("card.faces_summary_finetuned", base=cfg.init_from, **facts) if cfg.init_from
            else t("card.faces_summary_scratch", **facts),
            t("card.faces_results", people=len(val_crops.names), auc=metrics.get("auc", 0),
              accuracy=metrics.get("accuracy", 0), threshold=threshold, baseline_auc=baseline["auc"],
              baseline_accuracy=baseline["accuracy"]),
            t("card.faces_crop_haar", mode=mode) if mode == "haar" else t("card.faces_crop_none", mode=mode),
            f"![{t('card.faces_picture')}](val_roc.png)"])
        write_card(folder, CardInfo(
            repo_id=repo, title=t("card.faces_title", name=name, data=data_name), summary=summary,
            base_model=base_model_id(cfg.init_from),
            pipeline_tag="image-feature-extraction", task_name="Face verification",
            tags=[name, "face-verification", "metric-learning", cfg.loss],
            datasets=[] if Path(cfg.dataset).exists() or cfg.dataset == BUILTIN else [cfg.dataset],
            dataset_name=data_name,
            metrics={k_: v for k_, v in metrics.items() if k_ in ("auc", "accuracy")},
            training=to_dict(cfg),
            usage=(f"from hub_models.faces import {cls}, verify\n"  # i18n: kept (code)
                   f"model = {cls}.from_pretrained(\"{repo}\").eval()  # or a local folder\n"
                   f"emb = model(faces)  # faces: (B, 3, {cfg.image_size}, {cfg.image_size}) in [0, 1] -> (B, "
                   f"{cfg.embedding_dim}), unit length\n"
                   f"result = verify(model, \"a.jpg\", \"b.jpg\")  # finds, aligns and compares the faces\n"
                   f"same = result[\"distance\"] <= model.threshold")))

    return TaskSpec(model=model, train_data=PersonGroups(train_crops, cfg.photos_per_person),
                    val_data=Crops(val_crops), loss=loss, evaluate=evaluate, save=save, notes=notes,
                    collate=collate_groups)
