"""Generative models tab: a GAN learning a Gaussian live, sampling from DCGANs, conditional GANs, VAEs,
PixelCNNs and DDPMs (trained here or pulled), the VAE's latent space, and training any of them as a job."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterator

import gradio as gr

from common.errors import UserError
from hub_models.gen_catalog import ALL_CLASSES, GAN_LOSSES, MAX_SAMPLES, TOY_TARGETS
from training.tasks import get_task

from .common import IN_REQUEST, PREDICT, AppContext, answered
from .forms import ConfigForm
from .jobs import load_checked, model_source
from .vision import VisionForm, vision_train

TASK = get_task("generative")
TITLE = TASK.title
EX = Path(__file__).resolve().parents[1] / "assets" / "examples"
DIGITS = [str(EX / f"digit-{i}.png") for i in range(6)]
INTRO = """A **generative model** learns to make new examples like its training data. A **GAN** pits a
**generator** G (noise z -> image) against a **discriminator** D (image -> probability it is real): D learns to
tell real from fake, G learns to fool D. The generator's loss is usually the **non-saturating** -log D(G(z)):
the minimax log(1 - D(G(z))) is flat exactly when D wins early on. A **conditional GAN** also gives both
players the class. A **VAE** encodes an image as a Gaussian q(z|x) (a mean and a variance per latent
dimension), samples z from it with the **reparameterisation trick** (z = mu + sigma * eps, so gradients flow),
and decodes z; it minimises the **reconstruction loss** plus the **KL divergence** between q(z|x) and the unit
Gaussian prior (times **beta**), so that sampling z from the prior gives images. A **PixelCNN** is the
autoregressive family: it predicts each pixel from the ones above and to its left (masked convolutions), so it
trains on every pixel at once, has an exact likelihood (in bits per pixel), and samples one pixel at a time.
A **DDPM** adds Gaussian
noise to images over T steps and trains a U-Net to predict that noise; sampling walks back from pure noise
(**DDIM** walks the same model in far fewer, deterministic steps). Quality score: **FID** (lower is better)
against held-out images, with features of a small CNN trained in this project on the digits (random-weight
features for other images): Inception's weights cannot be downloaded here."""
TOY_INTRO = """**The course's first GAN.** Both players are small MLPs; the real data is a Gaussian. Each step,
D takes *k* steps on a batch of real and generated samples (real target 1, or 0.9 with **label smoothing**),
then G takes one. Watch the generated histogram move onto the real density while D(x) flattens towards 0.5
(it can no longer tell them apart). The KL divergence between the real Gaussian and a Gaussian fitted to the
generated samples is computed in closed form. Try the **minimax** loss (G barely moves at first), or the
**ring of 8 Gaussians**, where a GAN often covers only some of the modes (**mode collapse**)."""
DATA_SOURCES = {"Built-in digits (scikit-learn, 1797 images)": "builtin",
                "Upload a zip of images (one folder per class for cgan)": "upload", "Dataset repo on the hub": "hub"}


def _check(folder: Path) -> None:
    from hub_models.generative import load_generative

    load_generative(folder)


def _check_folder(folder: str) -> str:
    from training.data import require_images

    return require_images(folder, 10)


def extras(form: ConfigForm) -> None:
    """The families' own fields (each label says which family reads it)."""
    with gr.Row():
        form.field("latent_dim", info="0: GAN 64, VAE 2 (a 2-D latent gets a latent map)")
        form.field("beta", info=None)
        form.field("width", info=None)
        form.field("label_smoothing", widget=gr.Slider, step=0.05, info="0.9: one-sided label smoothing")
        form.field("gan_loss", widget=gr.Radio, info=None)
    with gr.Row():
        form.field("levels", info="the classes of each pixel's softmax")
        form.field("layers", info="a pixel sees 3 + this many rows up")
        form.field("timesteps", info=None)


# ----------------------------------------------------------------- toy GAN
def toy(target: str, mean: float, std: float, steps: int, d_steps: int, loss: str, label_smoothing: float,
        lr: float, seed: int) -> Iterator[tuple]:
    """The toy GAN's picture, loss and D(x) curves and status, every few steps as it trains."""
    import pandas as pd

    from hub_models.toy_gan import ToyConfig, train_toy_gan

    cfg = ToyConfig(target=target, mean=float(mean or 0), std=float(std or 0), steps=int(steps), d_steps=int(d_steps),
                    loss=loss, label_smoothing=float(label_smoothing), lr=float(lr or 0), seed=int(seed or 0),
                    every=max(25, int(steps) // 40))
    losses, probs, t0 = [], [], time.perf_counter()
    for r in train_toy_gan(cfg):
        losses += [{"step": r["step"], "player": "discriminator", "loss": r["d_loss"]},
                   {"step": r["step"], "player": "generator", "loss": r["g_loss"]}]
        probs += [{"step": r["step"], "on": "real samples", "probability": r["d_real"]},
                  {"step": r["step"], "on": "generated", "probability": r["d_fake"]}]
        fmt = ", ".join
        kl = "" if r["kl"] != r["kl"] else f" · KL(real ‖ Gaussian fit of generated) **{r['kl']:.3f}**"
        text = (f"Step {r['step']} / {cfg.steps} · {time.perf_counter() - t0:.0f} s · generated mean "
                f"{fmt(f'{v:.2f}' for v in r['mean'])}, std {fmt(f'{v:.2f}' for v in r['std'])}{kl}")
        yield r["picture"], pd.DataFrame(losses), pd.DataFrame(probs), text


def toy_section() -> None:
    gr.Markdown(TOY_INTRO)
    with gr.Row():
        target = gr.Dropdown(list(TOY_TARGETS), value=TOY_TARGETS[0], label="Real data")
        mean = gr.Number(3.0, label="Real mean", minimum=-10, maximum=10, info="2-D: each coordinate; ring: radius")
        std = gr.Number(0.5, label="Real standard deviation", minimum=0.05, maximum=5)
        steps = gr.Slider(100, 10000, value=2000, step=100, label="Generator steps")
    with gr.Row():
        d_steps = gr.Slider(1, 10, value=1, step=1, label="Discriminator steps per generator step (k)")
        loss = gr.Radio(list(GAN_LOSSES), value=GAN_LOSSES[0], label="Generator loss")
        smooth = gr.Slider(0.5, 1.0, value=1.0, step=0.05, label="Target for real samples", info="0.9: label smoothing")
        lr = gr.Number(1e-3, label="Learning rate", minimum=1e-5, maximum=0.1)
        seed = gr.Number(0, label="Seed", precision=0)
    with gr.Row():
        start = gr.Button("Train", variant="primary")
        stop = gr.Button("Stop", variant="stop")
    status = gr.Markdown()
    with gr.Row():
        picture = gr.Image(label="Real and generated distributions, and D(x)", type="pil", height=420,
                           show_label=False)  # the picture has its own title
        with gr.Column():
            losses = gr.LinePlot(x="step", y="loss", color="player", title="Losses", height=200)
            probs = gr.LinePlot(x="step", y="probability", color="on", title="D's mean output (0.5: fooled)",
                                height=200)
    running = start.click(toy, None, [picture, losses, probs, status], api_name="generative_toy", **IN_REQUEST,
                          inputs_kwargs={"target": target, "mean": mean, "std": std, "steps": steps,
                                         "d_steps": d_steps, "loss": loss, "label_smoothing": smooth, "lr": lr,
                                         "seed": seed})
    stop.click(None, None, None, cancels=[running])


# ------------------------------------------------------------------ sample
def sample_section(source: gr.Dropdown, model_of: Callable[[str | None], Any]) -> None:
    about = gr.Markdown()
    with gr.Row():
        count = gr.Slider(1, MAX_SAMPLES, value=64, step=1, label="Samples")
        seed = gr.Number(0, label="Seed", precision=0, info="the same seed, the same samples")
        class_name = gr.Dropdown([ALL_CLASSES], value=ALL_CLASSES, label="Class (conditional GAN)",
                                 allow_custom_value=True)
        sampler = gr.Radio(["DDIM", "DDPM"], value="DDIM", label="Diffusion sampler",
                           info="DDPM's native schedule is every training step")
        steps = gr.Slider(1, 1000, value=50, step=1, label="Diffusion: denoising steps")
    with gr.Row():
        start = gr.Button("Sample", variant="primary")
        stop = gr.Button("Stop", variant="stop")
    took = gr.Markdown()
    with gr.Row():
        grid = gr.Image(label="Samples (diffusion: x_t as it is denoised; PixelCNN: drawn row by row)", type="pil",
                        height=420, buttons=["download"])
        clean = gr.Image(label="Diffusion: the clean images predicted from x_t", type="pil", height=420)

    def on_model(folder):
        """The model's description, and only the controls that apply to it: classes for a conditional GAN, the
        sampler and its steps for a diffusion model."""
        no_classes = gr.update(choices=[ALL_CLASSES], value=ALL_CLASSES, visible=False)
        unknown = (no_classes, gr.update(visible=True), gr.update(visible=True))
        if not folder:  # (a page opening with no model: no torch import in the page-load path)
            return "", *unknown
        from hub_models.generative import DCGAN, DDPM, describe

        try:
            m = model_of(folder)
        except UserError as e:  # said next to the picker: the model cannot be used
            return f"⚠️ {e}", *unknown
        classes = m.labels if isinstance(m, DCGAN) and m.conditional else []
        diffusion = isinstance(m, DDPM)
        return (describe(m), gr.update(choices=[ALL_CLASSES, *classes], value=ALL_CLASSES, visible=bool(classes)),
                gr.update(visible=diffusion), gr.update(visible=diffusion))

    def sample_images(model, count, seed, class_name, sampler, steps):
        from hub_models.generative import samples

        yield from samples(model_of(model), int(count), int(seed or 0), class_name, sampler, int(steps))

    source.change(on_model, source, [about, class_name, sampler, steps], api_visibility="private")
    sampling = start.click(sample_images, None, [grid, clean, took], api_name="generative_sample", **IN_REQUEST,
                           inputs_kwargs={"model": source, "count": count, "seed": seed, "class_name": class_name,
                                          "sampler": sampler, "steps": steps})
    stop.click(None, None, None, cancels=[sampling])


def latent_section(source: gr.Dropdown, model_of: Callable[[str | None], Any]) -> None:
    """A VAE's latent space: the 2-D map, a walk between two prior points, reconstructions."""
    gr.Markdown("### VAE: the latent space")
    with gr.Row():
        map_btn = gr.Button("Latent map (2-D latent)")
        walk_a = gr.Number(1, label="Walk from the prior point of seed", precision=0)
        walk_b = gr.Number(2, label="to the point of seed", precision=0)
        walk_n = gr.Slider(3, 24, value=12, step=1, label="Points on the way")
        walk_btn = gr.Button("Walk")
    with gr.Row():
        recon_in = gr.File(label="Images to reconstruct (up to 32)", file_count="multiple", file_types=["image"],
                           type="filepath", height=120)
        recon_btn = gr.Button("Reconstruct")
    gr.Examples([[DIGITS]], inputs=recon_in, label="Digits")
    latent_out = gr.Image(label="Latent space (map: z1 left to right, z2 bottom to top; reconstructions: your "
                                "images on top, the VAE's below)", type="pil", buttons=["download"])

    def vae_of(folder):
        from hub_models.generative import VAE

        m = model_of(folder)
        if not isinstance(m, VAE):
            raise UserError("Pick a VAE (vae-mlp or vae-conv) for the latent space.")
        return m

    def latent_map_(folder):
        from hub_models.generative import latent_map, picture_grid

        return picture_grid(latent_map(vae_of(folder), 15), columns=15, cell=40)

    def walk(folder, a, b, n):
        from hub_models.generative import latent_walk, picture_grid, prior_point

        m = vae_of(folder)
        return picture_grid(latent_walk(m, prior_point(m, int(a or 0)), prior_point(m, int(b or 0)), int(n)),
                            columns=int(n), cell=64)

    def reconstruct_(folder, files):
        import torch

        from hub_models.generative import image_tensor, picture_grid, reconstruct

        m = vae_of(folder)
        files = [f for f in (files or []) if f]
        if not files:
            raise UserError("Upload images (or pick the digits example).")
        if len(files) > 32:
            raise UserError(f"{len(files)} images: reconstruct at most 32 at a time.")
        x = torch.cat([image_tensor(m, f) for f in files])
        rec, _ = reconstruct(m, x)
        return picture_grid(torch.cat([x, rec]), columns=len(files), cell=64)  # top: input, bottom: reconstruction

    answered(map_btn.click, latent_map_, source, latent_out, api_name="generative_latent_map", **PREDICT)
    answered(walk_btn.click, walk, [source, walk_a, walk_b, walk_n], latent_out, api_name="generative_walk", **PREDICT)
    answered(recon_btn.click, reconstruct_, [source, recon_in], latent_out, api_name="generative_reconstruct",
             **PREDICT)


# ------------------------------------------------------------------- the tab
def build(ctx: AppContext) -> None:
    gr.Markdown(INTRO)
    with gr.Tab("GAN on a Gaussian"):
        toy_section()
    with gr.Tab("Sample") as sample_tab:
        source = model_source(ctx, TASK.name, sample_tab, metric=TASK.metric, label="Model (trained here or pulled)",
                              pull_label="Repo id (our DCGAN, VAE or PixelCNN, or a diffusers DDPM pipeline)",
                              placeholder="you/dcgan-digits", check=_check)

        def model_of(folder: str | None) -> Any:
            from hub_models.generative import load_cached

            return load_checked(ctx.runner, folder, load_cached)

        sample_section(source, model_of)
        latent_section(source, model_of)
    with gr.Tab("Train"):
        vision_train(ctx, VisionForm(
            task=TASK, model_label="Model",
            model_info="dcgan, cgan (conditional), vae-mlp, vae-conv, pixelcnn, ddpm (diffusers UNet2DModel)",
            data_sources=DATA_SOURCES, upload_label="Zip of images", repo_label="Dataset repo id (images)",
            repo_placeholder="you/my-images", missing_upload="Upload a zip of images.", check_folder=_check_folder,
            picture_label="", push_placeholder="you/dcgan-digits", picture_file=None,
            size_info="8, 16, 32 or 64 (the digits are 8x8, enlarged)", samples="image", loss_parts=True,
            metric_apart="fid", extras=extras, onnx=False))
