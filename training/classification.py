"""Image classification: data, loss, metrics and the publishable model folder.

    python -m training classification --model lenet --dataset digits --epochs 5 --output-dir out
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from common.i18n import t
from hub_models.adapters import timm_arch
from hub_models.catalog import CLASSIFIERS
from hub_models.classification import create_model

from .config import to_dict
from .engine import TaskSpec, TrainingError, init_folder
from .metrics import classification_metrics, confusion_matrix
from .tasks.classification import BUILTIN, ClassificationConfig

def load_digits_tensors(image_size: int) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """scikit-learn's bundled digits (no download), scaled to [0, 1] and resized: (N, 1, S, S), (N,)."""
    import numpy as np

    from common.packaged import package_file

    # The file load_digits reads (64 pixels and the digit per row), read without importing sklearn.
    rows = np.loadtxt(package_file("sklearn", "datasets", "data", "digits.csv.gz"), delimiter=",", dtype=np.float32)
    x = torch.from_numpy(rows[:, :-1]).reshape(-1, 1, 8, 8) / 16.0  # (N, 1, 8, 8)
    if image_size != 8:
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False)
    return x, torch.from_numpy(rows[:, -1].astype(np.int64)), [str(n) for n in range(10)]


def split(n: int, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    if not 0 < val_fraction < 1:
        raise TrainingError(t("trainer.val_split", value=val_fraction))
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = max(1, int(n * val_fraction))
    return perm[n_val:], perm[:n_val]


def augment_batch(x: torch.Tensor, ops: tuple[str, ...]) -> torch.Tensor:
    """Random flips, shifts and brightness/contrast changes of a batch (B, C, H, W), drawn per image.

    Done on tensors in the training step (not in a data loader) so it costs nothing to set up and
    draws from the RNG that checkpoints save, keeping resumed runs exact.
    """
    b = x.shape[0]
    if "flip" in ops:
        flip = torch.rand(b, 1, 1, 1) < 0.5
        x = torch.where(flip, x.flip(-1), x)
    if "crop" in ops:
        h, w = x.shape[-2:]
        pad = max(1, h // 8)
        padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")  # (B, C, H + 2p, W + 2p)
        dy, dx = torch.randint(0, 2 * pad + 1, (2,)).tolist()  # one shift per batch: cheap, still varied
        x = padded[..., dy:dy + h, dx:dx + w]
    if "jitter" in ops:
        scale = 1 + (torch.rand(b, 1, 1, 1) - 0.5) * 0.4  # contrast x0.8..1.2
        shift = (torch.rand(b, 1, 1, 1) - 0.5) * 0.4  # brightness +-0.2 (in normalised units)
        x = x * scale + shift
    return x


def _make_model(cfg: ClassificationConfig, x: torch.Tensor, train_idx: torch.Tensor, labels: list[str], size: int,
                init: Path | None) -> torch.nn.Module:
    """The network, with the normalisation it will see: the checkpoint's when fine-tuning with the same
    channels (its weights expect it), else computed on the training split."""
    from hub_models.adapters import checkpoint_info, create_timm

    mean = x[train_idx].mean(dim=(0, 2, 3)).tolist()
    std = x[train_idx].std(dim=(0, 2, 3)).clamp(min=1e-6).tolist()
    if init is not None and checkpoint_info(init)["in_channels"] == x.shape[1]:
        mean, std = checkpoint_info(init)["mean"], checkpoint_info(init)["std"]
    torch.manual_seed(cfg.seed)  # the initial weights depend on the seed only
    geometry = dict(num_classes=len(labels), in_channels=x.shape[1], image_size=size, labels=labels, mean=mean, std=std)
    arch = timm_arch(cfg.model)
    if arch is not None:
        try:
            return create_timm(arch, init_from=init, **geometry)
        except (ValueError, RuntimeError) as e:
            raise TrainingError(t("trainer.cannot_build", model=cfg.model, reason=str(e).splitlines()[0])) from None
    return create_model(cfg.model, **geometry)


def labelled_images(cfg: ClassificationConfig, size: int) -> tuple[torch.Tensor, torch.Tensor, list[str], list[str]]:
    """The run's images (N, C, size, size) in [0, 1], labels, class names and notes, before the split."""
    if cfg.dataset == BUILTIN:
        x, y, labels = load_digits_tensors(size)
        warnings: list[str] = []
    else:
        from .data import load_dataset_spec

        x, y, labels, warnings = load_dataset_spec(cfg.dataset, size, cfg.hub)
    if len(x) < 4:
        raise TrainingError(t("trainer.too_few_images", count=len(x)))
    if cfg.dry_run:
        x, y = x[:32], y[:32]
    return x, y, labels, warnings


def validation_images(cfg: ClassificationConfig, size: int) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """The validation split a run of ``cfg`` held out, unnormalised: what its model never trained on."""
    x, y, labels, _ = labelled_images(cfg, size)
    _, val_idx = split(len(x), cfg.val_split, cfg.seed)
    return x[val_idx], y[val_idx], labels


def build_task(cfg: ClassificationConfig) -> TaskSpec:
    """(The config was validated: the model exists, augmentations are known, init_from goes with timm.)"""
    from hub_models.adapters import checkpoint_info

    notes: list[str] = []
    arch = timm_arch(cfg.model)
    init = None
    if cfg.init_from:
        init = init_folder(cfg.init_from, cfg.hub)
        try:
            info = checkpoint_info(init)
        except (OSError, ValueError, KeyError):
            raise TrainingError(t("trainer.not_timm", spec=cfg.init_from)) from None
        if info["arch"] != arch:
            # i18n: not shown (a log line)
            notes.append(f"architecture taken from {cfg.init_from}: {info['arch']} (not {arch})")
        default_size = info["image_size"]
    elif arch is not None:
        default_size = 32  # small enough to train on a CPU; set --image-size for more
    else:
        entry = CLASSIFIERS[cfg.model]
        default_size = entry.defaults.get("image_size") or entry.sizes[1 if len(entry.sizes) > 1 else 0]
    size = cfg.image_size or default_size
    x, y, labels, warnings = labelled_images(cfg, size)
    notes += warnings
    local = Path(cfg.dataset).exists()
    data_name = Path(cfg.dataset).name if local else cfg.dataset  # a user's folder path is not metadata
    train_idx, val_idx = split(len(x), cfg.val_split, cfg.seed)
    model = _make_model(cfg, x, train_idx, labels, size, init)
    mean, std = model.mean, model.std
    norm_mean, norm_std = torch.tensor(mean).view(1, -1, 1, 1), torch.tensor(std).view(1, -1, 1, 1)
    x = (x - norm_mean) / norm_std

    ops = cfg.augmentations
    # Training accuracy as d2l's train_ch6 reports it: the running share of the epoch's training batches the model
    # got right as it trained (free: the logits are there; measuring it apart cost 5 % of a LeNet epoch).
    running: list[Any] = [0, 0]  # hits (a tensor on the model's device: no sync per step), images seen

    def loss(m: torch.nn.Module, batch: Any) -> torch.Tensor:
        xb, yb = batch
        if ops:
            xb = augment_batch(xb, ops)
        logits = m(xb)
        running[0], running[1] = running[0] + (logits.detach().argmax(1) == yb).sum(), running[1] + len(yb)
        return F.cross_entropy(logits, yb, label_smoothing=cfg.label_smoothing)

    def evaluate(m: torch.nn.Module, loader, accelerator) -> dict[str, float]:
        m.eval()
        k = len(labels)
        cm = torch.zeros(k, k, dtype=torch.long)
        total_loss, n = 0.0, 0
        with torch.no_grad():
            for xb, yb in loader:
                logits = m(xb)
                logits, yb = accelerator.gather_for_metrics((logits, yb))
                total_loss += F.cross_entropy(logits, yb, reduction="sum").item()
                n += len(yb)
                cm += confusion_matrix(logits.argmax(1).cpu(), yb.cpu(), k)
        m.train()
        evaluate.last_confusion = cm.tolist()  # type: ignore[attr-defined]
        hits, seen = int(running[0]), running[1]
        running[:] = [0, 0]  # (the gap between the two accuracies is over-fitting)
        return {**classification_metrics(cm), **({"train_accuracy": hits / seen} if seen else {}),
                "loss": total_loss / max(1, n)}

    def save(m: torch.nn.Module, folder: Path, metrics: dict[str, float]) -> None:
        from hub.card import CardInfo, write_card

        m.save_pretrained(folder)
        cm = getattr(evaluate, "last_confusion", None)
        if cm is not None:
            (folder / "confusion_matrix.json").write_text(json.dumps({"labels": labels, "matrix": cm}))
        repo = cfg.push_to_hub or f"local/{cfg.model.replace(':', '-')}-{data_name.replace('/', '-')}"
        n_params = sum(p.numel() for p in m.parameters())
        base = cfg.init_from.removeprefix("hf-hub:") if cfg.init_from and not Path(cfg.init_from).exists() else None
        arch = type(getattr(m, 'net', m)).__name__
        summary = (t("card.classification_summary_finetuned", model=cfg.model, arch=arch, params=n_params,
                     base=cfg.init_from, data=data_name, size=size, classes=len(labels)) if cfg.init_from else
                   t("card.classification_summary_scratch", model=cfg.model, arch=arch, params=n_params,
                     data=data_name, size=size, classes=len(labels)))
        if timm_arch(cfg.model) is not None:
            library, usage = "timm", (
                # i18n: kept (code)
                f"import timm\nmodel = timm.create_model(\"hf-hub:{repo}\", pretrained=True).eval()\n"
                f"cfg = timm.data.resolve_data_config({{}}, model=model)  # input size, mean, std\n"
                f"logits = model(timm.data.create_transform(**cfg)(image).unsqueeze(0))")
        else:
            library, usage = "pytorch", (
                f"from hub_models.classification import {type(m).__name__}\n"  # i18n: kept (code)
                f"model = {type(m).__name__}.from_pretrained(\"{repo}\")  # or a local folder\n"
                f"logits = model(images)  # (B, {m.in_channels}, {size}, {size}), normalised with "
                f"model.mean / model.std")
        write_card(folder, CardInfo(
            repo_id=repo, title=t("card.classification_title", model=cfg.model, data=data_name), summary=summary,
            pipeline_tag="image-classification", task_name="Image Classification", library_name=library,
            tags=[cfg.model], base_model=base,
            datasets=[] if local else [cfg.dataset], dataset_name=data_name,
            metrics={k: v for k, v in metrics.items() if not k.startswith("train_")},
            training=to_dict(cfg),
            usage=usage))

    return TaskSpec(model=model, train_data=TensorDataset(x[train_idx], y[train_idx]),
                    val_data=TensorDataset(x[val_idx], y[val_idx]), loss=loss, evaluate=evaluate, save=save,
                    notes=notes)
