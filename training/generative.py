"""Generative models trainer: ``python -m training generative --model dcgan``.

One command for the four families: a DCGAN or conditional GAN (discriminator step, then generator
step, on every batch), a VAE (the negative ELBO: reconstruction + beta * KL), a PixelCNN (the exact
negative log-likelihood of every pixel given the ones before it, in bits) and a DDPM (diffusers'
UNet2DModel learns to predict the noise DDPMScheduler added). Data: the built-in digits (scikit-learn's
8x8 digits, enlarged), or a folder / zip / dataset repo of images (one folder per class gives a
conditional GAN its classes). After each epoch: a grid of samples from fixed noise (watch it improve),
and the FID of samples against the validation split (see training.gen_score for which features).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import torch
from torch.utils.data import TensorDataset

from hub_models.gen_catalog import PIXELCNN_MAX_SIZE
from hub_models.generative import GENERATIVE_MODELS, SIZES

from .config import TrainingError, to_dict
from .engine import TaskSpec, init_folder, load_matching
from .tasks.generative import GenerativeConfig, BUILTIN

MAX_IMAGES = 20_000
# Per-family defaults where a field is left at 0: GANs want Adam's beta1 at 0.5 (Radford et al.).
DEFAULTS = {"gan": {"lr": 2e-4, "adam_beta1": 0.5, "latent_dim": 64},
            "vae": {"lr": 1e-3, "adam_beta1": 0.9, "latent_dim": 2},
            "autoregressive": {"lr": 1e-3, "adam_beta1": 0.9, "latent_dim": 0},
            "diffusion": {"lr": 1e-3, "adam_beta1": 0.9, "latent_dim": 0}}


def family_of(cfg: GenerativeConfig) -> str:
    if cfg.model not in GENERATIVE_MODELS:
        raise TrainingError(f"unknown model {cfg.model!r}; choose one of {', '.join(GENERATIVE_MODELS)}")
    return GENERATIVE_MODELS[cfg.model][0]


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
        notes.append(f"{len(items)} images: the first {MAX_IMAGES} are used")
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
        raise TrainingError(f"{len(images)} readable images in {cfg.dataset}; give at least 10"
                            + (f" (skipped {skipped[0]})" if skipped else ""))
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
        raise TrainingError(f"no images in {spec}: neither image files nor a table datasets can read "
                            f"({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    image_col = next((k for k, f in ds.features.items() if isinstance(f, datasets.Image)), None)
    label_col = next((k for k, f in ds.features.items() if isinstance(f, datasets.ClassLabel)), None)
    if image_col is None:
        raise TrainingError(f"{spec} has no image column; it has {', '.join(ds.features)}")
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


# -------------------------------------------------------------------- models
def build_model(cfg: GenerativeConfig, fam: str, channels: int, labels: list[str]) -> torch.nn.Module:
    from hub_models.generative import DCGAN, DDPM, VAE, PixelCNN

    kwargs = GENERATIVE_MODELS[cfg.model][1]
    if fam == "gan":
        conditional = kwargs.get("conditional", False)
        if conditional and len(labels) < 2:
            raise TrainingError("cgan needs classes: the built-in digits, or one folder per class")
        return DCGAN(image_size=cfg.image_size, channels=channels, latent_dim=cfg.latent_dim, width=cfg.width,
                     num_classes=len(labels) if conditional else 0, labels=labels if conditional else None,
                     label_smoothing=cfg.label_smoothing)
    if fam == "vae":
        return VAE(image_size=cfg.image_size, channels=channels, latent_dim=cfg.latent_dim, kind=kwargs["kind"],
                   width=cfg.width, beta=cfg.beta, recon=cfg.recon, labels=labels)
    if fam == "autoregressive":
        return PixelCNN(image_size=cfg.image_size, channels=channels, levels=cfg.levels, width=cfg.width,
                        layers=cfg.layers, labels=labels)
    model = DDPM.new(cfg.image_size, channels, cfg.width, cfg.timesteps)
    model.labels = labels
    return model


def check_config(cfg: GenerativeConfig) -> str:
    fam = family_of(cfg)
    for key, value in DEFAULTS[fam].items():
        if not getattr(cfg, key):
            setattr(cfg, key, value)
    if cfg.image_size not in SIZES:
        raise TrainingError(f"--image-size must be one of {', '.join(map(str, SIZES))} (powers of two: the "
                            f"networks halve and double it), got {cfg.image_size}")
    if fam == "autoregressive" and cfg.image_size > PIXELCNN_MAX_SIZE:
        raise TrainingError(f"a PixelCNN draws one pixel at a time: --image-size {PIXELCNN_MAX_SIZE} or less here")
    if fam in ("gan", "vae") and not 1 <= cfg.latent_dim <= 512:
        raise TrainingError(f"--latent-dim must be between 1 and 512, got {cfg.latent_dim}")
    if not 0.5 <= cfg.label_smoothing <= 1:
        raise TrainingError("--label-smoothing is the real images' target: between 0.5 and 1")
    if not 10 <= cfg.timesteps <= 4000 or not 1 <= cfg.sample_steps <= cfg.timesteps:
        raise TrainingError("--timesteps must be 10 to 4000, and --sample-steps 1 to --timesteps")
    if not 2 <= cfg.levels <= 256:
        raise TrainingError(f"--levels must be between 2 and 256, got {cfg.levels}")
    if not 1 <= cfg.layers <= 30:
        raise TrainingError(f"--layers must be between 1 and 30, got {cfg.layers}")
    if not 0 < cfg.beta <= 100:
        raise TrainingError(f"--beta must be above 0 and at most 100, got {cfg.beta}")
    if not 8 <= cfg.width <= 256:
        raise TrainingError(f"--width must be between 8 and 256, got {cfg.width}")
    return fam


def init_ddpm(model, cfg: GenerativeConfig) -> str:
    """Fine-tune a DDPM from a pipeline folder or repo: its UNet's weights, where names and shapes agree."""
    from hub_models.generative import DDPM, load_generative
    from hub_models.inference import InputError

    try:
        source = load_generative(init_folder(cfg.init_from, cfg.hub))
    except InputError as e:
        raise TrainingError(str(e)) from None
    if not isinstance(source, DDPM):
        raise TrainingError(f"{cfg.init_from} is not a DDPM pipeline: fine-tune a ddpm from a ddpm")
    own = model.unet.state_dict()
    match = {k: v for k, v in source.unet.state_dict().items() if k in own and own[k].shape == v.shape}
    if not match:
        raise TrainingError(f"{cfg.init_from}'s UNet shares no weights with this one (another size or width?)")
    model.unet.load_state_dict(match, strict=False)
    return f"fine-tuning from {cfg.init_from}: {len(match)} of {len(own)} UNet tensors loaded"


def build_task(cfg: GenerativeConfig) -> TaskSpec:
    from hub_models.generative import (
        class_rows, gan_losses, generate, latent_map, picture_grid, vae_loss)

    from .classification import split
    from .gen_score import Scorer

    fam = check_config(cfg)
    x, y, labels, data_name, notes = load_images(cfg)
    tr, va = split(len(x), cfg.val_split, cfg.seed)
    channels = x.shape[1]
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, fam, channels, labels)
    if cfg.init_from:
        notes.append(init_ddpm(model, cfg) if fam == "diffusion" else load_matching(model, cfg.init_from, cfg.hub))
    if cfg.dry_run:
        tr, va = tr[:8], va[:8]
    x_val = x[va]
    n_fid = max(2, min(cfg.fid_samples, len(va)))
    digits = cfg.dataset == BUILTIN
    scorer = Scorer("digits" if digits else "random", x_val[:n_fid], reference=x[tr])
    conditional = fam == "gan" and model.conditional
    notes.append(f"{data_name}: {len(tr)} training and {len(va)} validation images, {channels} channel(s), "
                 f"{cfg.image_size} px; FID with {'the in-project digit network' if digits else 'random'} "
                 f"features on {n_fid} samples (real held-out images score {scorer.floor:.1f})")
    fixed = torch.randn(64, getattr(model, "latent_dim", 1) or 1, generator=torch.Generator().manual_seed(cfg.seed))

    def augment(xb: torch.Tensor) -> torch.Tensor:
        if not cfg.flip:
            return xb
        return torch.where(torch.rand(len(xb), 1, 1, 1) < 0.5, xb.flip(-1), xb)

    # ------------------------------------------------------------ one batch
    def gan_step(m, batch, update) -> dict[str, torch.Tensor]:
        xb, yb = batch
        z = torch.randn(len(xb), m.latent_dim, device=xb.device)
        d_loss, g_loss = gan_losses(m, augment(xb) * 2 - 1, yb if m.conditional else None, z, cfg.gan_loss)
        update(d_loss, m.discriminator_parameters())
        g = g_loss()  # after the discriminator's step: the generator answers the updated discriminator
        update(g, m.generator_parameters())
        return {"discriminator": d_loss.detach(), "generator": g.detach()}

    def vae_step(m, batch, update) -> dict[str, torch.Tensor]:
        xb = augment(batch[0])
        logits, mu, logvar = m(xb)
        loss, r, kl = vae_loss(logits, xb, mu, logvar, m.beta, m.recon)
        update(loss)
        return {"loss": loss.detach(), "reconstruction": r.detach(), "kl": kl.detach()}

    def pixelcnn_step(m, batch, update) -> dict[str, torch.Tensor]:
        loss = m.nll(augment(batch[0]))  # bits per pixel: every pixel predicted at once, the masks keep it causal
        update(loss)
        return {"loss": loss.detach()}

    def ddpm_step(m, batch, update) -> dict[str, torch.Tensor]:
        loss = m.loss(augment(batch[0]) * 2 - 1)
        update(loss)
        return {"loss": loss.detach()}

    # -------------------------------------------------------------- samples
    def epoch_picture(m):
        m.eval()
        with torch.no_grad():
            if conditional:
                pic = picture_grid(class_rows(m, 8, cfg.seed), columns=8)
            elif fam in ("diffusion", "autoregressive"):  # slow samplers: fewer pictures (PixelCNN at 32 px: 16)
                side = 6 if fam == "diffusion" or cfg.image_size <= 16 else 4
                pic = picture_grid(generate(m, side * side, cfg.seed, cfg.sample_steps, "ddim"), columns=side)
            elif fam == "vae" and m.latent_dim == 2:  # the whole latent space, decoded on a grid
                pic = picture_grid(latent_map(m, 12), columns=12)
            elif fam == "vae":
                pic = picture_grid(m.decode(fixed[:, :m.latent_dim]), columns=8)
            else:
                pic = picture_grid((m.generate(fixed) + 1) / 2, columns=8)
        m.train()
        return pic

    # ------------------------------------------------------------ validation
    def mean_over(loader, loss_of: Callable[[torch.Tensor], torch.Tensor]) -> float:
        total, count = 0.0, 0
        for xb, _ in loader:
            total += loss_of(xb).item() * len(xb)
            count += len(xb)
        return total / max(1, count)

    def fid_of_samples(m) -> float:
        return scorer.fid(generate(m, n_fid, 1, cfg.sample_steps, "ddim"))

    def evaluate(m, loader, accelerator) -> dict[str, float]:
        m.eval()
        metrics: dict[str, float] = {}
        with torch.no_grad():
            if fam == "vae":
                sums, count = torch.zeros(3), 0
                for xb, _ in loader:
                    logits, mu, logvar = m(xb)
                    sums += torch.tensor([v.item() for v in vae_loss(logits, xb, mu, logvar, m.beta, m.recon)]) * len(xb)
                    count += len(xb)
                metrics = dict(zip(("loss", "reconstruction", "kl"), (sums / max(1, count)).tolist()))
            elif fam == "autoregressive":  # its FID is measured once, at the end (final_fid)
                bits = mean_over(loader, m.nll)
                metrics = {"loss": bits, "bits_per_pixel": bits}
            elif fam == "diffusion":
                state = torch.get_rng_state()
                torch.manual_seed(0)  # the same noise and steps every epoch: comparable values
                metrics = {"loss": mean_over(loader, lambda xb: m.loss(xb * 2 - 1))}
                torch.set_rng_state(state)
            if fam == "gan":  # what D makes of held-out real images and of fakes (0.5 each: fooled)
                ids = torch.arange(n_fid) % m.num_classes if m.conditional else None
                fake = m.generate(torch.randn(n_fid, m.latent_dim, generator=torch.Generator().manual_seed(1)), ids)
                real_p = torch.sigmoid(m.discriminate(x_val[:n_fid] * 2 - 1, y[va][:n_fid] if m.conditional else None))
                fake01 = (fake + 1) / 2
                metrics = {"d_real": real_p.mean().item(), "d_fake": torch.sigmoid(m.discriminate(fake, ids)).mean().item(),
                           "fid": scorer.fid(fake01)}
                if conditional and digits:
                    metrics["class_accuracy"] = scorer.class_accuracy(fake01, ids)
            elif fam != "autoregressive":
                metrics["fid"] = fid_of_samples(m)
        m.train()
        return metrics

    def final_fid(m) -> dict[str, float]:
        m.eval()
        fid = fid_of_samples(m)
        m.train()
        return {"fid": fid}

    # ------------------------------------------------------------------ save
    def save(m, folder: Path, metrics: dict[str, float]) -> None:
        from hub.card import write_card

        m.eval()
        m.save_pretrained(folder)
        epoch_picture(m).save(folder / "samples.png")
        (folder / "evaluation.json").write_text(json.dumps({"metrics": metrics, "fid_floor": scorer.floor,
                                                            "fid_features": scorer.kind}))
        m.train()
        write_card(folder, card(cfg, m, fam, data_name, metrics, scorer))

    step = {"gan": gan_step, "vae": vae_step, "autoregressive": pixelcnn_step, "diffusion": ddpm_step}[fam]
    return TaskSpec(model=model, train_data=TensorDataset(x[tr], y[tr]), val_data=TensorDataset(x[va], y[va]),
                    loss=None, train_step=step, evaluate=evaluate, save=save, notes=notes, sample=epoch_picture,
                    final_metrics=final_fid if fam == "autoregressive" else None)


def card(cfg: GenerativeConfig, m, fam: str, data_name: str, metrics: dict[str, float], scorer):
    from hub.card import CardInfo
    from hub_models.generative import describe

    repo = cfg.push_to_hub or f"local/{cfg.model}-{data_name}"
    feats = ("a small CNN trained in-project on the built-in digits" if scorer.kind == "digits"
             else "a CNN with fixed random weights (comparable between models of this data set only)")
    fid = (f"FID {metrics['fid']:.2f} against the validation split" if "fid" in metrics
           else "FID not measured (a PixelCNN's is, once its run completes)")
    bits = f" It models the validation images at {metrics['bits_per_pixel']:.3f} bits per pixel." \
        if "bits_per_pixel" in metrics else ""
    summary = (f"{describe(m)}, trained with DL Playground on {data_name} ({cfg.epochs} epochs). {fid}, with the "
               f"features of {feats}; held-out real images score {scorer.floor:.2f} with as many samples.{bits}"
               f"\n\n![Samples](samples.png)")
    if fam == "diffusion":
        usage = (f"from diffusers import DDPMPipeline, DDIMScheduler\n"
                 f"pipe = DDPMPipeline.from_pretrained(\"{repo}\")  # plain diffusers: no custom code\n"
                 f"images = pipe(batch_size=16, num_inference_steps={cfg.timesteps}).images  # PIL images\n"
                 f"pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)\n"
                 f"fast = pipe(batch_size=16, num_inference_steps=50).images  # DDIM's schedule, same model")
        library, tags = "diffusers", ["diffusers", "ddpm", "diffusers:DDPMPipeline"]
    else:
        cls = type(m).__name__
        usage = (f"from hub_models.generative import {cls}, generate\n"
                 f"model = {cls}.from_pretrained(\"{repo}\").eval()  # or a local folder\n"
                 f"images = generate(model, 16, seed=0)  # (16, C, H, W) in [0, 1]")
        library, tags = "pytorch", ["pixelcnn", "autoregressive"]
        if fam == "gan":
            tags = ["gan", "dcgan"] + (["conditional-gan"] if m.conditional else [])
        elif fam == "vae":
            tags = ["vae", f"vae-{m.kind}"]
    return CardInfo(
        repo_id=repo, title=f"{cfg.model} on {data_name}", summary=summary, library_name=library,
        pipeline_tag="unconditional-image-generation", task_name="Image generation", tags=tags,
        base_model=cfg.init_from if cfg.init_from and not Path(cfg.init_from).exists() else None,
        datasets=[] if Path(cfg.dataset).exists() or cfg.dataset == BUILTIN else [cfg.dataset],
        dataset_name=data_name, metrics={k: v for k, v in metrics.items()},
        training={k: v for k, v in to_dict(cfg).items() if k not in ("push_to_hub", "hub", "resume")}, usage=usage)
