"""The training loop every task shares: a generator of progress events.

A task describes itself with a :class:`TaskSpec` (model, data, loss, evaluation,
how to save); :func:`fit` runs it with Accelerate (device placement, mixed precision,
several GPUs under ``accelerate launch``), checkpoints every epoch atomically,
resumes exactly (optimizer, scheduler and RNG state), stops on request or on a
non-finite loss, and yields events the CLI prints and the UI plots.
"""
from __future__ import annotations

import json
import math
import os
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from common.i18n import t
from hub.client import local_path

from .config import TrainConfig, TrainingError, to_dict
from .events import event
from .layout import RunFolder


@dataclass
class TaskSpec:
    model: nn.Module
    train_data: Dataset
    val_data: Dataset
    loss: Callable[[nn.Module, Any], torch.Tensor] | None  # (model, batch) -> scalar loss; None with train_step
    evaluate: Callable[[nn.Module, DataLoader, Any], dict[str, float]]  # (model, loader, accelerator) -> metrics
    save: Callable[[nn.Module, Path, dict[str, float]], None]  # write the publishable model folder
    notes: list[str] = field(default_factory=list)  # what the user should know about the data (skipped files...)
    collate: Callable[[list], Any] | None = None  # batches of variable-length examples (text: pad per batch)
    sample: Callable[[nn.Module], Any] | None = None  # text or a PIL image the model makes after each epoch
    # Tasks with more than one update per batch (a GAN: the discriminator, then the generator) give
    # train_step(model, batch, update) -> {name: loss}; update(loss, params) steps only ``params``.
    train_step: Callable[[nn.Module, Any, Callable[..., None]], dict[str, torch.Tensor]] | None = None
    # Metrics too slow for every epoch, measured once when a run completes (a PixelCNN's FID: its samples
    # are drawn one pixel at a time).
    final_metrics: Callable[[nn.Module], dict[str, float]] | None = None
    epochs: int | None = None  # passes the task chose from its data (a config's epochs of 0: auto); else cfg.epochs


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def make_optimizer(cfg: TrainConfig, params) -> torch.optim.Optimizer:
    # Fused kernels (CPU and CUDA): one pass over all parameters instead of one per tensor; AdamW's step
    # on a 22M-parameter BERT drops from 130 ms to 20 ms on two CPU cores.
    params = [p for p in params if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    if cfg.optimizer == "momentum":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay, fused=True)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    betas = (cfg.adam_beta1, 0.999)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=betas, weight_decay=cfg.weight_decay, fused=True)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, betas=betas, weight_decay=cfg.weight_decay, fused=True)
    raise TrainingError(t("trainer.unknown_optimizer", name=cfg.optimizer))


def lr_factor(cfg: TrainConfig, step: int, total: int) -> float:
    """Multiplier of the peak learning rate at ``step``: linear warm-up, then the schedule."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    t = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
    if cfg.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * min(1.0, t)))
    if cfg.schedule == "step":
        return 0.1 ** int(t * 3)  # /10 at one and two thirds of the run
    if cfg.schedule == "onecycle":
        return min(1.0, 4 * t) if t < 0.25 else max(0.0, (1 - t) / 0.75)
    return 1.0


# ----------------------------------------------------------------- checkpoints


def save_checkpoint(folder: Path, model: nn.Module, optimizer, scheduler, epoch: int, step: int) -> Path:
    """Weights (safetensors) and training state in a new epoch folder; then the "latest" pointer moves.

    The pointer is replaced atomically and only once the folder is complete, so a kill at any
    moment leaves a pointer to a whole checkpoint. Older epoch folders are removed afterwards.
    """
    from safetensors.torch import save_model

    root = RunFolder(folder).checkpoints
    final = root / f"epoch-{epoch:04d}"
    tmp = root / f".tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_model(model, str(tmp / "model.safetensors"))
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "epoch": epoch,
                "step": step, "torch_rng": torch.get_rng_state(), "python_rng": random.getstate()},
               tmp / "training_state.pt")
    shutil.rmtree(final, ignore_errors=True)  # a leftover of a run that died after writing it
    os.rename(tmp, final)
    pointer = root / ".latest.tmp"
    pointer.write_text(final.name)
    os.replace(pointer, root / "latest")
    for old in root.glob("epoch-*"):
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(folder: Path) -> Path | None:
    """The checkpoint the "latest" pointer of an output folder names, if any."""
    pointer = RunFolder(folder).checkpoints / "latest"
    if not pointer.exists():
        return None
    path = pointer.parent / pointer.read_text().strip()
    return path if (path / "training_state.pt").exists() else None


def load_checkpoint(path: Path, model: nn.Module, optimizer, scheduler) -> tuple[int, int]:
    """Restore a checkpoint folder; returns (epochs done, steps done)."""
    from safetensors.torch import load_model

    try:
        load_model(model, str(path / "model.safetensors"))
        state = torch.load(path / "training_state.pt", weights_only=True)
    except (OSError, RuntimeError, KeyError) as e:
        raise TrainingError(t("trainer.cannot_resume", path=path, reason=e).splitlines()[0]) from None
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    random.setstate(state["python_rng"])
    return int(state["epoch"]), int(state["step"])


def find_resume(cfg: TrainConfig) -> Path | None:
    """The checkpoint folder ``--resume`` names: auto, a folder, or a hub repo id."""
    if not cfg.resume:
        return None
    if cfg.resume == "auto":
        return latest_checkpoint(Path(cfg.output_dir))
    p = local_path(cfg.resume)
    if p.is_dir() and (found := latest_checkpoint(p)) is not None:
        return found
    for candidate in (p / "last-checkpoint", p):
        if (candidate / "training_state.pt").exists():
            return candidate
    if p.exists():
        raise TrainingError(t("trainer.no_checkpoint", path=p))
    from hub.client import HubActionError, pull, resolve_hub

    try:
        snap = pull(cfg.resume, resolve_hub(cfg.hub), lean=False)  # the checkpoint too
    except HubActionError as e:
        raise TrainingError(t("trainer.cannot_resume_hub", repo=cfg.resume, reason=e)) from None
    if not (snap / "last-checkpoint" / "training_state.pt").exists():
        raise TrainingError(t("trainer.no_last_checkpoint", repo=cfg.resume))
    return snap / "last-checkpoint"


# ------------------------------------------------------------------- fine-tuning
def init_folder(spec: str, hub_spec: str) -> Path:
    """The folder of the model --init-from names: a local folder, or a repo pulled from the hub."""
    if local_path(spec).is_dir():
        return local_path(spec)
    from hub.client import HubActionError, pull, resolve_hub

    repo = spec.removeprefix("hf-hub:")
    try:
        return pull(repo, resolve_hub(hub_spec))
    except HubActionError as e:
        raise TrainingError(t("trainer.cannot_start_from", repo=repo, reason=e)) from None



def pretrained_transformers(spec: str, hub_spec: str, auto_class: str, kinds: Any, what: str) -> tuple[Any, Any, dict]:
    """(model, tokenizer, config.json) of the transformers model --init-from names (a folder, or a repo pulled from
    the hub), refused unless its ``model_type`` is one of ``kinds``; ``auto_class`` is the transformers class that
    loads it (built-in classes only, no remote code), ``what`` the kind a user reads in the refusal."""
    import transformers

    folder = init_folder(spec, hub_spec)
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        raise TrainingError(t("trainer.not_transformers", spec=spec)) from None
    if config.get("model_type") not in kinds:
        raise TrainingError(t("trainer.wrong_model_type", spec=spec, kind=config.get("model_type") or t("trainer.headless"),
                                             what=what))
    transformers.utils.logging.set_verbosity_error()
    try:
        tok = transformers.AutoTokenizer.from_pretrained(str(folder))
        model = getattr(transformers, auto_class).from_pretrained(str(folder))
    except (OSError, ValueError, ImportError) as e:  # (ImportError: a tokenizer's library)
        raise TrainingError(t("trainer.cannot_load", spec=spec, reason=str(e).splitlines()[0])) from None
    return model, tok, config


def base_model_id(spec: str) -> str | None:
    """The card's ``base_model`` for --init-from ``spec``: its repo id (a short id under its current name), or None
    for a local folder."""
    from hub.client import LEGACY_IDS

    return LEGACY_IDS.get(spec, spec) if spec and not local_path(spec).is_dir() else None

def vision_start(cfg: TrainConfig, create: Callable[[], nn.Module], suffix: str, load_foreign: Callable[..., nn.Module],
                 labels: list[str], what: str) -> tuple[nn.Module, str | None]:
    """(model, note) a vision trainer starts from. Without --init-from, ``create()`` from scratch. With it: our own
    saved model of the same architecture (:func:`load_matching`), or a transformers model whose ``architectures``
    end with ``suffix`` (``load_foreign(folder, labels, image_size)``: a COCO- or ADE20K-pretrained DETR, YOLOS,
    SegFormer... with a fresh head for ``labels``); the architecture is then the base's, whatever --model says."""
    if not cfg.init_from:
        return create(), None
    folder = init_folder(cfg.init_from, cfg.hub)
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        raise TrainingError(t("trainer.not_saved_model", spec=cfg.init_from)) from None
    archs = [str(a) for a in config.get("architectures") or []]
    if "_class_name" in config or not archs:
        model = create()
        return model, load_matching(model, cfg.init_from, cfg.hub)
    if not any(a.endswith(suffix) for a in archs):
        raise TrainingError(t("trainer.wrong_architecture", spec=cfg.init_from, arch=archs[0], what=what))
    try:
        model = load_foreign(folder, labels, cfg.image_size)
    except (OSError, ValueError, ImportError, RuntimeError) as e:
        raise TrainingError(t("trainer.cannot_load", spec=cfg.init_from, reason=str(e).splitlines()[0])) from None
    n = sum(p.numel() for p in model.parameters())
    # i18n: not shown (a log line)
    return model, (f"fine-tuning {cfg.init_from} ({archs[0]}, {n:,} parameters; its head starts fresh for "
                   f"{len(labels)} classes; images at {cfg.image_size} px), not --model {cfg.model}")


def load_matching(model: nn.Module, spec: str, hub_spec: str) -> str:
    """Fine-tuning: copy the weights of a saved model (``model.safetensors`` of a folder or hub repo) into
    ``model`` wherever a tensor's name and shape agree; the rest (a head for other classes) starts fresh.
    Returns a note for the user; refuses a model that shares nothing (another architecture)."""
    from safetensors.torch import load_file

    folder = init_folder(spec, hub_spec)
    try:
        saved = load_file(str(folder / "model.safetensors"))
    except (OSError, ValueError) as e:
        raise TrainingError(t("trainer.no_safetensors", spec=spec, reason=str(e).splitlines()[0])) from None
    own = model.state_dict()
    match = {k: v for k, v in saved.items() if k in own and own[k].shape == v.shape}
    if not match:
        raise TrainingError(t("trainer.shares_no_weights", spec=spec))
    model.load_state_dict(match, strict=False)
    fresh = [k for k in own if k not in match and own[k].is_floating_point()]
    return (f"fine-tuning from {spec}: {len(match)} tensors loaded"
            + (f", {len(fresh)} start fresh ({', '.join(fresh[:4])}{'...' if len(fresh) > 4 else ''})" if fresh else ""))


# ------------------------------------------------------------------------ loop
def _cache_accelerate_probe() -> None:
    """Accelerate 1.15's optimizer wrapper asks importlib whether `lomo_optim` is installed twice per
    step, uncached: 10 % of a LeNet step on a CPU. The answer cannot change within a process."""
    import functools

    import accelerate.optimizer as wrapper

    if hasattr(wrapper, "is_lomo_available") and not hasattr(wrapper.is_lomo_available, "cache_info"):
        wrapper.is_lomo_available = functools.cache(wrapper.is_lomo_available)


def fit(cfg: TrainConfig, spec: TaskSpec, stop: Callable[[], bool] = lambda: False) -> Iterator[dict[str, Any]]:
    """Train ``spec`` under ``cfg``, yielding events; the last one has type "end"."""
    from accelerate import Accelerator, DataLoaderConfiguration
    from accelerate.utils import DistributedType

    _cache_accelerate_probe()

    run = RunFolder(Path(cfg.output_dir))
    out = run.root
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg.seed)
    cpu = cfg.device == "cpu" or (cfg.device == "auto" and not torch.cuda.is_available())
    # A seedable sampler makes epoch e's shuffle depend only on (seed, e): a resumed run sees the same batches.
    accelerator = Accelerator(cpu=cpu, mixed_precision=cfg.mixed_precision if not cpu else "no",
                              dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=cfg.seed))
    train_loader = DataLoader(spec.train_data, batch_size=cfg.batch_size, shuffle=True, collate_fn=spec.collate,
                              num_workers=cfg.num_workers, drop_last=len(spec.train_data) > cfg.batch_size)
    val_loader = DataLoader(spec.val_data, batch_size=max(cfg.batch_size, 256), num_workers=cfg.num_workers,
                            collate_fn=spec.collate)
    steps_per_epoch = len(train_loader)
    epochs = spec.epochs or cfg.epochs
    total = steps_per_epoch * epochs
    if cfg.max_steps:
        total = min(total, cfg.max_steps)
    model = spec.model
    optimizer = make_optimizer(cfg, model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(cfg, s, total))
    start_epoch, step = 0, 0
    resume_from = find_resume(cfg)
    if resume_from is not None:
        start_epoch, step = load_checkpoint(resume_from, model, optimizer, scheduler)
    if accelerator.num_processes == 1 and accelerator.scaler is None:
        # Accelerate's scheduler wrapper re-reads its global state every step (1.5 % of a LeNet step on a CPU); it
        # is needed only to step once per process, or to skip a step the fp16 scaler skipped.
        model, optimizer, train_loader, val_loader = accelerator.prepare(model, optimizer, train_loader, val_loader)
    else:
        model, optimizer, train_loader, val_loader, scheduler = accelerator.prepare(
            model, optimizer, train_loader, val_loader, scheduler)
    yield event("start", config=to_dict(cfg), total_steps=total, resumed_from_step=step,
                device=str(accelerator.device), parameters=sum(p.numel() for p in model.parameters()))
    for note in spec.notes[:20]:
        yield event("log", message=note)
    if len(spec.notes) > 20:
        yield event("log", message=f"... and {len(spec.notes) - 20} more")

    metrics: dict[str, float] = {}
    status, message = "completed", ""
    t0, seen, first_step = time.perf_counter(), 0, step
    saved_at = t0

    def update(loss: torch.Tensor, params=None) -> None:
        """One optimizer step on ``loss``; with ``params``, only those change (the others' gradients are
        dropped, and Adam keeps per-tensor state, so this is exactly two optimizers in one)."""
        model.zero_grad(set_to_none=True)  # Accelerate's optimizer.zero_grad inspects signatures
        if plain_backward:
            loss.backward()
        else:
            accelerator.backward(loss)
        if params is not None:
            keep = {id(p) for p in params}
            for p in model.parameters():
                if id(p) not in keep:
                    p.grad = None
        if cfg.grad_clip:
            accelerator.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()

    def plain_step(m: nn.Module, batch: Any, update_: Callable[..., None]) -> dict[str, torch.Tensor]:
        loss = spec.loss(m, batch)
        update_(loss)
        return {"loss": loss.detach()}

    train_step = spec.train_step or plain_step
    # What accelerator.backward does without a scaler, DeepSpeed or accumulation, less its per-step division by 1
    # and flag reads (3 % of a LeNet step on a CPU).
    plain_backward = accelerator.scaler is None and accelerator.gradient_accumulation_steps == 1 and \
        accelerator.distributed_type in (DistributedType.NO, DistributedType.MULTI_CPU, DistributedType.MULTI_GPU)
    log_every = max(1, steps_per_epoch // 20)
    for epoch in range(start_epoch, epochs):
        if step >= total or status != "completed":
            break
        train_loader.set_epoch(epoch)
        model.train()
        for batch in train_loader:
            if stop():
                status, message = "stopped", t("trainer.stopped_at", step=step)
                break
            parts = train_step(model, batch, update)
            scheduler.step()
            step += 1
            seen += _batch_len(batch)
            # The loss is read (a device sync) only when logged: a NaN is caught at most log_every steps late, and
            # a failed run saves no model, so the steps in between change nothing anyone keeps.
            if step % log_every == 0 or step == total:
                elapsed = time.perf_counter() - t0
                rate = (step - first_step) / elapsed if elapsed > 0 else 0.0
                values = {k: float(v) for k, v in parts.items()}
                if not all(math.isfinite(v) for v in values.values()):
                    status = "failed"
                    message = t("trainer.loss_not_finite", loss=next(iter(values.values())), step=step,
                                epoch=epoch + 1, lr=cfg.lr)
                    break
                yield event("step", step=step, epoch=epoch + 1, loss=next(iter(values.values())),
                            lr=scheduler.get_last_lr()[0], throughput=seen / elapsed if elapsed > 0 else 0.0,
                            eta_s=(total - step) / rate if rate else None,
                            **({"parts": values} if len(values) > 1 else {}))
            if step >= total:
                break
        if status != "completed":
            break
        metrics = spec.evaluate(model, val_loader, accelerator)
        yield event("eval", step=step, epoch=epoch + 1, metrics=metrics)
        if spec.sample is not None and accelerator.is_main_process:
            rng = torch.get_rng_state()  # sampling must not change the training run (exact resume)
            made = spec.sample(accelerator.unwrap_model(model))
            torch.set_rng_state(rng)
            if isinstance(made, str):
                yield event("sample", step=step, epoch=epoch + 1, kind="text", data=made)
            else:  # a picture: saved next to the events, which name it
                picture = run.sample(epoch + 1)
                picture.parent.mkdir(exist_ok=True)
                # Whole or absent: the app draws the gallery from this folder while the job runs.
                made.save(part := picture.with_suffix(".part"), format="PNG")
                os.replace(part, picture)
                yield event("sample", step=step, epoch=epoch + 1, kind="image", data=str(picture.relative_to(out)))
        last_epoch = epoch + 1 == epochs or step >= total
        # Each checkpoint cost ~4 % of a LeNet epoch: like transformers' save_steps, they are spaced (here in time).
        due = last_epoch or time.perf_counter() - saved_at >= cfg.checkpoint_every_s
        if accelerator.is_main_process and due:
            saved_at = time.perf_counter()
            ckpt = save_checkpoint(out, accelerator.unwrap_model(model), optimizer, scheduler, epoch + 1, step)
            pushed = _push_checkpoint(cfg, ckpt) if cfg.hub_strategy == "checkpoint" and cfg.push_to_hub else None
            yield event("checkpoint", step=step, epoch=epoch + 1, path=str(ckpt), pushed=pushed)

    model_dir = run.model
    if status == "completed" and spec.final_metrics is not None and accelerator.is_main_process:
        extra = spec.final_metrics(accelerator.unwrap_model(model))
        metrics = {**metrics, **extra}
        yield event("eval", step=step, epoch=epochs, metrics=extra)
    if status != "failed" and accelerator.is_main_process:
        if not metrics:
            metrics = spec.evaluate(model, val_loader, accelerator)
        spec.save(accelerator.unwrap_model(model), model_dir, metrics)
        run.metrics.write_text(json.dumps(metrics, indent=2))
        if cfg.export_onnx:
            yield event("log", message=_export_onnx(accelerator.unwrap_model(model), model_dir))
        if cfg.push_to_hub and status == "completed":
            from hub.client import HubActionError, push_folder, resolve_hub

            try:
                url = _patiently(lambda: push_folder(model_dir, cfg.push_to_hub, resolve_hub(cfg.hub),
                                                     private=cfg.private,
                                                     # i18n: not shown (a commit message)
                                                     commit_message=f"Trained with DL Playground ({metrics})"))
                yield event("log", message=f"pushed to {url}")
            except HubActionError as e:
                status, message = "failed", t("trainer.push_failed", reason=e)
    yield event("end", status=status, metrics=metrics, model_dir=str(model_dir) if model_dir.exists() else None,
                message=message)


def _export_onnx(model: nn.Module, folder: Path) -> str:
    """model.onnx beside the weights, checked against PyTorch and added to the card; a failure is a line of the
    log, not a failed run (the model itself is saved)."""
    from hub_models.export import card_section, export_onnx, onnx_difference

    try:
        path, sig = export_onnx(model.cpu(), folder)
        difference = onnx_difference(path, sig)
    except Exception as e:  # the exporter's own errors are many and deep: the run's result stands without it
        (folder / "model.onnx").unlink(missing_ok=True)
        # i18n: not shown (a log line)
        return f"ONNX export skipped: {str(e).splitlines()[0][:300] if str(e) else type(e).__name__}"
    readme = folder / "README.md"
    if readme.exists():
        readme.write_text(readme.read_text() + card_section(sig, difference))
    return f"exported {path.name} (outputs within {difference:.1e} of PyTorch's)"


def _batch_len(batch: Any) -> int:
    first = batch[0] if isinstance(batch, (list, tuple)) else next(iter(batch.values()))
    return len(first)


HUB_PATIENCE_S = 60.0


def _patiently(push: Callable[[], str], patience_s: float | None = None) -> str:
    """``push()``, tried again for up to a minute while the hub does not answer: the embedded hub restarts with its
    app, and a job outlives the app (a hub that answers with an error is not waited for)."""
    from hub.client import HubUnreachable

    deadline = time.monotonic() + (HUB_PATIENCE_S if patience_s is None else patience_s)
    while True:
        try:
            return push()
        except HubUnreachable:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)


def _push_checkpoint(cfg: TrainConfig, ckpt: Path) -> str:
    """Like transformers' hub_strategy="checkpoint": the last checkpoint lives in last-checkpoint/."""
    from hub.client import HubActionError, push_folder, resolve_hub

    try:
        return _patiently(lambda: push_folder(ckpt, cfg.push_to_hub, resolve_hub(cfg.hub), private=cfg.private,
                                              commit_message="Training checkpoint", path_in_repo="last-checkpoint"))
    except HubActionError as e:
        raise TrainingError(t("trainer.cannot_push_checkpoint", reason=e)) from None
