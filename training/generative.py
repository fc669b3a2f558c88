"""Generative models trainer: ``python -m training generative --model dcgan``.

One command for the four families: a DCGAN or conditional GAN (discriminator step, then generator
step, on every batch), a VAE (the negative ELBO: reconstruction + beta * KL), a PixelCNN (the exact
negative log-likelihood of every pixel given the ones before it, in bits) and a DDPM (diffusers'
UNet2DModel learns to predict the noise DDPMScheduler added). Data: the built-in digits (scikit-learn's
8x8 digits, enlarged), or a folder / zip / dataset repo of images (one folder per class gives a
conditional GAN its classes). After each epoch: a grid of samples from fixed noise (watch it improve),
and the FID of samples against the validation split (see training.gen_score for which features).

Each family is one entry in ``FAMILIES``: how its network is built, trained on a batch, evaluated,
pictured and described on its card. The config arrives resolved (``GenerativeConfig.resolved``: the
family's learning rate, Adam beta1 and latent size where the fields were left at 0).
"""
from __future__ import annotations

import dataclasses
import json
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch import nn
from torch.utils.data import TensorDataset

from common.i18n import t
from hub_models.catalog import GENERATIVE_MODELS
from hub_models.generative import (
    DCGAN, DDPM, VAE, PixelCNN, class_rows, describe, gan_losses, generate, latent_map,
    picture_grid, vae_loss)

from .config import TrainingError, to_dict
from .engine import TaskSpec, base_model_id, init_folder, load_matching
from .tasks.generative import BUILTIN, GenerativeConfig

MAX_IMAGES = 20_000


# ---------------------------------------------------------------------- data
def load_images(cfg: GenerativeConfig) -> tuple[torch.Tensor, torch.Tensor, list[str], str, list[str]]:
    """(images (N, C, S, S) in [0, 1], labels (N,), class names ([] when unlabelled), data name, notes)."""
    if cfg.dataset == BUILTIN:
        from .classification import load_digits_tensors

        x, y, names = load_digits_tensors(cfg.image_size)
        return x.clamp(0, 1), y, names, "digits", []
    from .data import dataset_folder, find_class_folders, image_files

    folder = dataset_folder(cfg.dataset, cfg.hub, BUILTIN)
    files = image_files(folder)
    if files:
        try:
            _, classes = find_class_folders(folder)
            items = [(f.name, f, i) for i, d in enumerate(classes) for f in image_files(d)]
            names = [d.name for d in classes]
        except TrainingError:  # no classes: every image of the folder, unlabelled
            items, names = [(f.name, f, 0) for f in files], []
    else:  # a dataset repo of parquet / arrow / csv files: datasets reads the image column
        items, names = table_images(folder, cfg.dataset)
    notes = []
    if len(items) > MAX_IMAGES:
        notes.append(f"{len(items)} images: the first {MAX_IMAGES} are used")  # i18n: not shown (a log line)
        items = items[:MAX_IMAGES]
    x, y, skipped = read_images([source for _, source, _ in items], cfg.image_size), [], []
    images = []
    for (name, _, label), img in zip(items, x):
        if isinstance(img, str):
            skipped.append(f"{name} ({img})")
        else:
            images.append(img)
            y.append(label)
    if len(images) < 10:
        raise TrainingError(t("trainer.too_few_generative_images_skipped", count=len(images), spec=cfg.dataset,
                              skipped=skipped[0]) if skipped else
                            t("trainer.too_few_generative_images", count=len(images), spec=cfg.dataset))
    if skipped:
        notes.append(f"skipped {len(skipped)} files: {', '.join(skipped[:3])}")
    gray = all(bool((im[0] == im[1]).all() and (im[1] == im[2]).all()) for im in images[:200])
    stacked = torch.stack(images)[:, :1] if gray else torch.stack(images)
    name = Path(cfg.dataset).name if Path(cfg.dataset).exists() else cfg.dataset
    return stacked.float() / 255, torch.tensor(y), names, name, notes


def table_images(folder: Path, spec: str) -> tuple[list[tuple[str, Any, int]], list[str]]:
    """(name, PIL image, label) rows of a table ``datasets`` reads (its first image column; labels from
    its first class-label column, if any), and the class names."""
    import datasets

    try:
        ds = datasets.load_dataset(str(folder), split="train")
    except Exception as e:  # datasets raises many kinds; the first line says which
        raise TrainingError(t("trainer.no_images_in_table", spec=spec,
                              reason=str(e).splitlines()[0] if str(e) else type(e).__name__)) from None
    image_col = next((k for k, f in ds.features.items() if isinstance(f, datasets.Image)), None)
    label_col = next((k for k, f in ds.features.items() if isinstance(f, datasets.ClassLabel)), None)
    if image_col is None:
        raise TrainingError(t("trainer.no_image_column", spec=spec, columns=", ".join(ds.features)))
    ds = ds.select(range(min(len(ds), MAX_IMAGES + 1)))
    labels = ds[label_col] if label_col else [0] * len(ds)
    names = ds.features[label_col].names if label_col else []
    return [(f"row {i}", img, label) for i, (img, label) in enumerate(zip(ds[image_col], labels))], names


def read_images(files: list[Any], size: int) -> list[Any]:
    """Each file (or PIL image) as a uint8 tensor (3, size, size), centre-cropped to a square; or why it
    was skipped."""
    from PIL import ImageOps

    from hub_models.inference import InputError, image_to_tensor, load_image

    out: list[Any] = []
    for f in files:
        try:
            out.append(image_to_tensor(ImageOps.fit(load_image(f, channels=3), (size, size))))
        except InputError as e:
            out.append(str(e))
    return out


# ---------------------------------------------------------- what a run shares
@dataclass
class Run:
    """What a family's parts read in one run: the config, the FID's scorer and sample count, the validation
    images, and the fixed noise the epoch pictures start from (the same every epoch: watch it improve)."""

    cfg: GenerativeConfig
    scorer: Any  # training.gen_score.Scorer
    n_fid: int
    x_val: torch.Tensor
    y_val: torch.Tensor
    fixed: torch.Tensor

    @property
    def digits(self) -> bool:
        return self.cfg.dataset == BUILTIN

    def augment(self, xb: torch.Tensor) -> torch.Tensor:
        if not self.cfg.flip:
            return xb
        return torch.where(torch.rand(len(xb), 1, 1, 1) < 0.5, xb.flip(-1), xb)

    def fid_of_samples(self, m: nn.Module) -> float:
        return self.scorer.fid(generate(m, self.n_fid, 1, self.cfg.sample_steps, "ddim"))

    def sampled_grid(self, m: nn.Module, side: int):
        """A side x side grid of samples from the family's own sampler (DDIM for a DDPM)."""
        return picture_grid(generate(m, side * side, self.cfg.seed, self.cfg.sample_steps, "ddim"), columns=side)


@contextmanager
def evaluating(m: nn.Module) -> Iterator[None]:
    """Eval mode without gradients, then back to training."""
    m.eval()
    with torch.no_grad():
        yield
    m.train()


def mean_over(loader, loss_of: Callable[[torch.Tensor], torch.Tensor]) -> float:
    total, count = 0.0, 0
    for xb, _ in loader:
        total += loss_of(xb).item() * len(xb)
        count += len(xb)
    return total / max(1, count)


# ---------------------------------------------------------------------- GAN
def build_gan(cfg: GenerativeConfig, channels: int, labels: list[str], conditional: bool = False) -> DCGAN:
    if conditional and len(labels) < 2:
        raise TrainingError(t("trainer.cgan_needs_classes"))
    return DCGAN(image_size=cfg.image_size, channels=channels, latent_dim=cfg.latent_dim, width=cfg.width,
                 num_classes=len(labels) if conditional else 0, labels=labels if conditional else None,
                 label_smoothing=cfg.label_smoothing)


def gan_step(run: Run, m: DCGAN, batch, update) -> dict[str, torch.Tensor]:
    xb, yb = batch
    z = torch.randn(len(xb), m.latent_dim, device=xb.device)
    d_loss, g_loss = gan_losses(m, run.augment(xb) * 2 - 1, yb if m.conditional else None, z, run.cfg.gan_loss)
    update(d_loss, m.discriminator_parameters())
    g = g_loss()  # after the discriminator's step: the generator answers the updated discriminator
    update(g, m.generator_parameters())
    return {"discriminator": d_loss.detach(), "generator": g.detach()}


def gan_metrics(run: Run, m: DCGAN, loader) -> dict[str, float]:
    """What D makes of held-out real images and of fakes (0.5 each: fooled), and the fakes' FID."""
    n = run.n_fid
    ids = torch.arange(n) % m.num_classes if m.conditional else None
    fake = m.generate(torch.randn(n, m.latent_dim, generator=torch.Generator().manual_seed(1)), ids)
    real_p = torch.sigmoid(m.discriminate(run.x_val[:n] * 2 - 1, run.y_val[:n] if m.conditional else None))
    fake01 = (fake + 1) / 2
    metrics = {"d_real": real_p.mean().item(), "d_fake": torch.sigmoid(m.discriminate(fake, ids)).mean().item(),
               "fid": run.scorer.fid(fake01)}
    if m.conditional and run.digits:
        metrics["class_accuracy"] = run.scorer.class_accuracy(fake01, ids)
    return metrics


def gan_picture(run: Run, m: DCGAN):
    if m.conditional:
        return picture_grid(class_rows(m, 8, run.cfg.seed), columns=8)
    return picture_grid((m.generate(run.fixed) + 1) / 2, columns=8)


# ---------------------------------------------------------------------- VAE
def build_vae(cfg: GenerativeConfig, channels: int, labels: list[str], kind: str) -> VAE:
    return VAE(image_size=cfg.image_size, channels=channels, latent_dim=cfg.latent_dim, kind=kind, width=cfg.width,
               beta=cfg.beta, recon=cfg.recon, labels=labels)


def vae_step(run: Run, m: VAE, batch, update) -> dict[str, torch.Tensor]:
    xb = run.augment(batch[0])
    logits, mu, logvar = m(xb)
    loss, r, kl = vae_loss(logits, xb, mu, logvar, m.beta, m.recon)
    update(loss)
    return {"loss": loss.detach(), "reconstruction": r.detach(), "kl": kl.detach()}


def vae_metrics(run: Run, m: VAE, loader) -> dict[str, float]:
    sums, count = torch.zeros(3), 0
    for xb, _ in loader:
        logits, mu, logvar = m(xb)
        sums += torch.tensor([v.item() for v in vae_loss(logits, xb, mu, logvar, m.beta, m.recon)]) * len(xb)
        count += len(xb)
    metrics = dict(zip(("loss", "reconstruction", "kl"), (sums / max(1, count)).tolist()))
    return {**metrics, "fid": run.fid_of_samples(m)}


def vae_picture(run: Run, m: VAE):
    if m.latent_dim == 2:  # the whole latent space, decoded on a grid
        return picture_grid(latent_map(m, 12), columns=12)
    return picture_grid(m.decode(run.fixed[:, :m.latent_dim]), columns=8)


# ----------------------------------------------------------------- PixelCNN
def build_pixelcnn(cfg: GenerativeConfig, channels: int, labels: list[str]) -> PixelCNN:
    return PixelCNN(image_size=cfg.image_size, channels=channels, levels=cfg.levels, width=cfg.width,
                    layers=cfg.layers, labels=labels)


def pixelcnn_step(run: Run, m: PixelCNN, batch, update) -> dict[str, torch.Tensor]:
    loss = m.nll(run.augment(batch[0]))  # bits per pixel: every pixel predicted at once, the masks keep it causal
    update(loss)
    return {"loss": loss.detach()}


def pixelcnn_metrics(run: Run, m: PixelCNN, loader) -> dict[str, float]:
    bits = mean_over(loader, m.nll)  # its FID is measured once, at the end (fid_at_end)
    return {"loss": bits, "bits_per_pixel": bits}


def pixelcnn_picture(run: Run, m: PixelCNN):
    return run.sampled_grid(m, 6 if run.cfg.image_size <= 16 else 4)  # one pixel at a time: 16 at 32 px


# --------------------------------------------------------------------- DDPM
def build_ddpm(cfg: GenerativeConfig, channels: int, labels: list[str]) -> DDPM:
    model = DDPM.new(cfg.image_size, channels, cfg.width, cfg.timesteps)
    model.labels = labels
    return model


def ddpm_step(run: Run, m: DDPM, batch, update) -> dict[str, torch.Tensor]:
    loss = m.loss(run.augment(batch[0]) * 2 - 1)
    update(loss)
    return {"loss": loss.detach()}


def ddpm_metrics(run: Run, m: DDPM, loader) -> dict[str, float]:
    state = torch.get_rng_state()
    torch.manual_seed(0)  # the same noise and steps every epoch: comparable values
    metrics = {"loss": mean_over(loader, lambda xb: m.loss(xb * 2 - 1))}
    torch.set_rng_state(state)
    return {**metrics, "fid": run.fid_of_samples(m)}


def ddpm_base(cfg: GenerativeConfig) -> DDPM:
    """The DDPM pipeline --init-from names (ours, or google/ddpm-cifar10-32): fine-tuning keeps its UNet and noise
    schedule whole, so its image size and channels rule the data rather than --image-size."""
    from hub_models.generative import load_generative
    from hub_models.inference import InputError

    try:
        source = load_generative(init_folder(cfg.init_from, cfg.hub))
    except InputError as e:
        raise TrainingError(str(e)) from None
    if not isinstance(source, DDPM):
        raise TrainingError(t("trainer.not_ddpm", spec=cfg.init_from))
    return source.train()


def ddpm_usage(cfg: GenerativeConfig, repo: str, m: DDPM) -> str:
    return (f"from diffusers import DDPMPipeline, DDIMScheduler\n"  # i18n: kept (code)
            f"pipe = DDPMPipeline.from_pretrained(\"{repo}\")  # plain diffusers: no custom code\n"
            f"images = pipe(batch_size=16, num_inference_steps={cfg.timesteps}).images  # PIL images\n"
            f"pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)\n"
            f"fast = pipe(batch_size=16, num_inference_steps=50).images  # DDIM's schedule, same model")


# ----------------------------------------------------------------- families
def init_matching(model: nn.Module, cfg: GenerativeConfig) -> str:
    return load_matching(model, cfg.init_from, cfg.hub)


def our_usage(cfg: GenerativeConfig, repo: str, m: nn.Module) -> str:
    cls = type(m).__name__
    return (f"from hub_models.generative import {cls}, generate\n"
            f"model = {cls}.from_pretrained(\"{repo}\").eval()  # or a local folder\n"
            f"images = generate(model, 16, seed=0)  # (16, C, H, W) in [0, 1]")


@dataclass(frozen=True)
class Family:
    """A family's parts. Each takes the Run first; ``evaluate`` and ``picture`` run in eval mode without
    gradients. Adding a family: its network in hub_models.generative (hub_models.catalog.GENERATIVE_MODELS names it), its
    defaults in training.tasks.generative (FAMILY_DEFAULTS), and an entry here."""

    build: Callable[..., nn.Module]  # (cfg, channels, labels, **the registry entry's arguments)
    step: Callable[..., dict[str, torch.Tensor]]  # (run, model, batch, update) -> named losses
    evaluate: Callable[..., dict[str, float]]  # (run, model, validation loader) -> metrics
    picture: Callable[..., Any]  # (run, model) -> the PIL grid of samples shown after each epoch
    tags: Callable[[nn.Module], list[str]]  # the model card's
    init: Callable[[nn.Module, GenerativeConfig], str] = init_matching  # --init-from: a note for the user
    # --init-from brings its own architecture (a diffusers pipeline): the model to train, whose image size and
    # channels the data is then brought to; ``init`` is not used
    base: Callable[[GenerativeConfig], nn.Module] | None = None
    fid_at_end: bool = False  # the FID only once the run completes (a sampler too slow for every epoch)
    library: str = "pytorch"
    usage: Callable[[GenerativeConfig, str, nn.Module], str] = our_usage  # the card's code, loading ``repo``


FAMILIES = {
    "gan": Family(build_gan, gan_step, gan_metrics, gan_picture,
                  tags=lambda m: ["gan", "dcgan"] + (["conditional-gan"] if m.conditional else [])),
    "vae": Family(build_vae, vae_step, vae_metrics, vae_picture, tags=lambda m: ["vae", f"vae-{m.kind}"]),
    "autoregressive": Family(build_pixelcnn, pixelcnn_step, pixelcnn_metrics, pixelcnn_picture,
                             tags=lambda m: ["pixelcnn", "autoregressive"], fid_at_end=True),
    "diffusion": Family(build_ddpm, ddpm_step, ddpm_metrics, lambda run, m: run.sampled_grid(m, 6),
                        tags=lambda m: ["diffusers", "ddpm", "diffusers:DDPMPipeline"], base=ddpm_base,
                        library="diffusers", usage=ddpm_usage),
}


# --------------------------------------------------------------------- task
def build_task(cfg: GenerativeConfig) -> TaskSpec:
    from .classification import split
    from .gen_score import Scorer

    entry = GENERATIVE_MODELS[cfg.model]
    family = FAMILIES[entry.family]
    base = family.base(cfg) if cfg.init_from and family.base else None
    if base is not None and base.image_size != cfg.image_size:
        cfg = dataclasses.replace(cfg, image_size=base.image_size)
    x, y, labels, data_name, notes = load_images(cfg)
    if base is not None and x.shape[1] != base.channels:  # grey digits for an RGB model: three equal channels
        x = x.mean(1, keepdim=True).expand(-1, base.channels, -1, -1).contiguous()
    tr, va = split(len(x), cfg.val_split, cfg.seed)
    channels = x.shape[1]
    torch.manual_seed(cfg.seed)
    if base is not None:
        model, model.labels = base, labels
        # i18n: not shown (a log line)
        notes.append(f"fine-tuning {cfg.init_from}: its network ({sum(p.numel() for p in base.parameters()):,} "
                     f"parameters) and schedule, at its {base.image_size} px and {channels} channel(s); "
                     f"--width and --timesteps are its own")
    else:
        model = family.build(cfg, channels, labels, **entry.defaults)
        if cfg.init_from:
            notes.append(family.init(model, cfg))
    if cfg.dry_run:
        tr, va = tr[:8], va[:8]
    n_fid = max(2, min(cfg.fid_samples, len(va)))
    digits = cfg.dataset == BUILTIN
    scorer = Scorer("digits" if digits else "random", x[va][:n_fid], reference=x[tr])
    # i18n: not shown (a log line)
    notes.append(f"{data_name}: {len(tr)} training and {len(va)} validation images, {channels} channel(s), "
                 # i18n: not shown (a log line)
                 f"{cfg.image_size} px; FID with {'the in-project digit network' if digits else 'random'} "
                 f"features on {n_fid} samples (real held-out images score {scorer.floor:.1f})")
    fixed = torch.randn(64, getattr(model, "latent_dim", 1) or 1, generator=torch.Generator().manual_seed(cfg.seed))
    run = Run(cfg, scorer, n_fid, x[va], y[va], fixed)

    def picture(m):
        with evaluating(m):
            return family.picture(run, m)

    def evaluate(m, loader, accelerator) -> dict[str, float]:
        with evaluating(m):
            return family.evaluate(run, m, loader)

    def final_fid(m) -> dict[str, float]:
        with evaluating(m):
            return {"fid": run.fid_of_samples(m)}

    def save(m, folder: Path, metrics: dict[str, float]) -> None:
        from hub.card import write_card

        m.eval()
        m.save_pretrained(folder)
        picture(m).save(folder / "samples.png")
        (folder / "evaluation.json").write_text(json.dumps({"metrics": metrics, "fid_floor": scorer.floor,
                                                            "fid_features": scorer.kind}))
        write_card(folder, card(cfg, m, family, data_name, metrics, scorer))

    return TaskSpec(model=model, train_data=TensorDataset(x[tr], y[tr]), val_data=TensorDataset(x[va], y[va]),
                    loss=None, train_step=partial(family.step, run), evaluate=evaluate, save=save, notes=notes,
                    sample=picture, final_metrics=final_fid if family.fid_at_end else None)


def card(cfg: GenerativeConfig, m: nn.Module, family: Family, data_name: str, metrics: dict[str, float], scorer):
    from hub.card import CardInfo

    repo = cfg.push_to_hub or f"local/{cfg.model}-{data_name}"
    feats = (t("card.generative_features_digits") if scorer.kind == "digits"
             else t("card.generative_features_random"))
    facts = dict(model=describe(m), data=data_name, epochs=cfg.epochs, features=feats, floor=scorer.floor)
    fid, bits = metrics.get("fid"), metrics.get("bits_per_pixel")
    if fid is not None:
        summary = (t("card.generative_fid_bits", fid=fid, bits=bits, **facts) if bits is not None
                   else t("card.generative_fid", fid=fid, **facts))
    else:
        summary = (t("card.generative_no_fid_bits", bits=bits, **facts) if bits is not None
                   else t("card.generative_no_fid", **facts))
    summary += f"\n\n![{t('card.generative_picture')}](samples.png)"
    return CardInfo(
        repo_id=repo, title=t("card.generative_title", model=cfg.model, data=data_name), summary=summary,
        library_name=family.library,
        pipeline_tag="unconditional-image-generation", task_name="Image generation", tags=family.tags(m),
        base_model=base_model_id(cfg.init_from),
        datasets=[] if Path(cfg.dataset).exists() or cfg.dataset == BUILTIN else [cfg.dataset],
        dataset_name=data_name, metrics={k: v for k, v in metrics.items()},
        training=to_dict(cfg),
        usage=family.usage(cfg, repo, m))
