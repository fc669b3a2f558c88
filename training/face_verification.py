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

    left = chart("ROC on unseen people", [
        (f"model, AUC {result['auc']:.3f}", result["fpr"], result["tpr"]),
        (f"raw pixels, AUC {baseline['auc']:.3f}", baseline["fpr"], baseline["tpr"]),
        ("chance", [0.0, 1.0], [0.0, 1.0])], "false-positive rate", "true-positive rate")
    hi = float(max(2.0, distances.max())) if len(distances) else 2.0
    bins = torch.linspace(0, hi, 31)
    centres = ((bins[1:] + bins[:-1]) / 2).tolist()
    pos = torch.histc(distances[same], 30, 0, hi)
    neg = torch.histc(distances[~same], 30, 0, hi)
    right = chart("Distances of validation pairs", [
        ("same person", centres, (pos / max(1, int(same.sum()))).tolist()),
        ("different people", centres, (neg / max(1, int((~same).sum()))).tolist())],
        "embedding distance", "share of pairs", bars=True,
        vline=(f"threshold {result['threshold']:.2f}", result["threshold"]))
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
                raise TrainingError(f"cannot load {cfg.init_from}: {str(e).splitlines()[0]}") from None
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
        f"{len(train_crops.names)} people ({len(train_crops)} faces) to train on, {len(val_crops.names)} unseen people "
        f"({len(val_crops)} faces) to validate on; faces "
        + ("found by the Haar cascade" if mode == "haar" else "used as given (crops)"),
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
            captioned(pic, f"unseen people: AUC {result['auc']:.3f}, accuracy {result['accuracy']:.3f} at distance "
                           f"<= {threshold:.3f}; raw pixels: AUC {baseline['auc']:.3f}, accuracy "
                           f"{baseline['accuracy']:.3f}").save(folder / "val_roc.png")
        name = f"timm:{m.arch}" if isinstance(m, TimmFaceEmbedder) else cfg.model
        repo = cfg.push_to_hub or f"local/{name.replace(':', '-')}-{data_name.replace('/', '-')}"
        cls = type(m).__name__
        origin = f"fine-tuned from `{cfg.init_from}`" if cfg.init_from else "trained from scratch"
        how = (f"triplet loss (margin {margin:g}, {cfg.mining} mining)" if cfg.loss == "triplet"
               else f"a Siamese contrastive loss (margin {margin:g})")
        write_card(folder, CardInfo(
            repo_id=repo, title=f"{name} face embedder on {data_name}",
            summary=(f"A `{name}` face embedding network ({sum(p.numel() for p in m.parameters()):,} parameters, "
                     f"{cfg.embedding_dim}-d unit-length embeddings of {cfg.image_size}x{cfg.image_size} face crops) "
                     f"{origin} with DL Playground on {data_name} with {how}, batches of {cfg.batch_size} people x "
                     f"{cfg.photos_per_person} photos.\n\nOn {len(val_crops.names)} people it never saw: verification "
                     f"AUC **{metrics.get('auc', 0):.3f}**, accuracy **{metrics.get('accuracy', 0):.3f}** at the "
                     f"saved threshold (same person if distance <= {threshold:.3f}; chosen on these pairs). Raw-pixel "
                     f"distance on the same pairs: AUC {baseline['auc']:.3f}, accuracy {baseline['accuracy']:.3f}."
                     "\n\nFaces: " + ("found and aligned with OpenCV Haar cascades" if mode == "haar"
                                       else "face crops used as given") +
                     f" (`face_crop=\"{mode}\"` in config.json).\n\n![ROC and distance histograms](val_roc.png)"),
            base_model=base_model_id(cfg.init_from),
            pipeline_tag="image-feature-extraction", task_name="Face verification",
            tags=[name, "face-verification", "metric-learning", cfg.loss],
            datasets=[] if Path(cfg.dataset).exists() or cfg.dataset == BUILTIN else [cfg.dataset],
            dataset_name=data_name,
            metrics={k_: v for k_, v in metrics.items() if k_ in ("auc", "accuracy")},
            training={k_: v for k_, v in to_dict(cfg).items() if k_ not in ("push_to_hub", "hub", "resume")},
            usage=(f"from hub_models.faces import {cls}, verify\n"
                   f"model = {cls}.from_pretrained(\"{repo}\").eval()  # or a local folder\n"
                   f"emb = model(faces)  # faces: (B, 3, {cfg.image_size}, {cfg.image_size}) in [0, 1] -> (B, "
                   f"{cfg.embedding_dim}), unit length\n"
                   f"result = verify(model, \"a.jpg\", \"b.jpg\")  # finds, aligns and compares the faces\n"
                   f"same = result[\"distance\"] <= model.threshold")))

    return TaskSpec(model=model, train_data=PersonGroups(train_crops, cfg.photos_per_person),
                    val_data=Crops(val_crops), loss=loss, evaluate=evaluate, save=save, notes=notes,
                    collate=collate_groups)
