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
from .i18n import L, choice, t
from .jobs import load_checked, model_source
from .vision import VisionForm, vision_train

TASK = get_task("generative")
TITLE = TASK.title
EX = Path(__file__).resolve().parents[1] / "assets" / "examples"
DIGITS = [str(EX / f"digit-{i}.png") for i in range(6)]
# (shown text, value): the values are what the handlers and the API compare (hub_models.gen_catalog).
TARGET_CHOICES = [choice("generative.target_1d", TOY_TARGETS[0]), choice("generative.target_2d", TOY_TARGETS[1]),
                  choice("generative.target_ring", TOY_TARGETS[2])]
LOSS_CHOICES = [choice("generative.loss_non_saturating", GAN_LOSSES[0]),
                choice("generative.loss_minimax", GAN_LOSSES[1])]
DATA_SOURCES = {
    choice("generative.data_builtin", "Built-in digits (scikit-learn, 1797 images)"): "builtin",  # i18n: not shown
    choice("generative.data_upload",
           "Upload a zip of images (one folder per class for cgan)"): "upload",  # i18n: not shown
    choice("generative.data_hub", "Dataset repo on the hub"): "hub"}  # i18n: not shown


def _check(folder: Path) -> None:
    from hub_models.generative import load_generative

    load_generative(folder)


def _check_folder(folder: str) -> str:
    from training.data import require_images

    return require_images(folder, 10)


def extras(form: ConfigForm) -> None:
    """The families' own fields (each label says which family reads it)."""
    with gr.Row():
        form.field("latent_dim", info=L("generative.latent_dim_info"))
        form.field("beta", info=None)
        form.field("width", info=None)
        form.field("label_smoothing", widget=gr.Slider, step=0.05, info=L("generative.label_smoothing_info"))
        form.field("gan_loss", widget=gr.Radio, info=None, choices=LOSS_CHOICES)
    with gr.Row():
        form.field("levels", info=L("generative.levels_info"))
        form.field("layers", info=L("generative.layers_info"))
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
        losses += [{"step": r["step"], "player": t("generative.discriminator"), "loss": r["d_loss"]},
                   {"step": r["step"], "player": t("generative.generator"), "loss": r["g_loss"]}]
        probs += [{"step": r["step"], "on": t("generative.on_real"), "probability": r["d_real"]},
                  {"step": r["step"], "on": t("generative.on_generated"), "probability": r["d_fake"]}]
        fmt = ", ".join
        text = t("generative.toy_status", step=r["step"], steps=cfg.steps, seconds=time.perf_counter() - t0,
                 mean=fmt(f"{v:.2f}" for v in r["mean"]), std=fmt(f"{v:.2f}" for v in r["std"]))
        if r["kl"] == r["kl"]:  # (NaN for the ring: no closed form)
            text += " · " + t("generative.toy_kl", kl=r["kl"])
        yield r["picture"], pd.DataFrame(losses), pd.DataFrame(probs), text


def toy_section(ctx: AppContext) -> None:
    gr.Markdown(L("generative.toy_intro"))
    with gr.Row():
        target = gr.Dropdown(TARGET_CHOICES, value=TOY_TARGETS[0], label=L("generative.real_data"))
        mean = gr.Number(3.0, label=L("generative.real_mean"), minimum=-10, maximum=10,
                         info=L("generative.real_mean_info"))
        std = gr.Number(0.5, label=L("generative.real_std"), minimum=0.05, maximum=5)
        steps = gr.Slider(100, 10000, value=2000, step=100, label=L("generative.generator_steps"))
    with gr.Row():
        d_steps = gr.Slider(1, 10, value=1, step=1, label=L("generative.d_steps"))
        loss = gr.Radio(LOSS_CHOICES, value=GAN_LOSSES[0], label=L("generative.generator_loss"))
        smooth = gr.Slider(0.5, 1.0, value=1.0, step=0.05, label=L("generative.real_target"),
                           info=L("generative.real_target_info"))
        lr = gr.Number(1e-3, label=L("generative.learning_rate"), minimum=1e-5, maximum=0.1)
        seed = gr.Number(0, label=L("generative.seed"), precision=0)
    with gr.Row():
        start = gr.Button(L("generative.train"), variant="primary")
        stop = gr.Button(L("generative.stop"), variant="stop")
    status = gr.Markdown()
    with gr.Row():
        picture = gr.Image(label=L("generative.toy_picture"), type="pil", height=420,
                           show_label=False)  # the picture has its own title
        with gr.Column():
            losses = gr.LinePlot(x="step", y="loss", color="player", title=L("generative.losses"), height=200)
            probs = gr.LinePlot(x="step", y="probability", color="on", title=L("generative.d_output"), height=200)
            ctx.axis_titles(losses, x="axis.step", y="axis.loss", color="axis.player")
            ctx.axis_titles(probs, x="axis.step", y="axis.probability", color="axis.on")
    running = start.click(toy, None, [picture, losses, probs, status], api_name="generative_toy", **IN_REQUEST,
                          inputs_kwargs={"target": target, "mean": mean, "std": std, "steps": steps,
                                         "d_steps": d_steps, "loss": loss, "label_smoothing": smooth, "lr": lr,
                                         "seed": seed})
    stop.click(None, None, None, cancels=[running])


# ------------------------------------------------------------------ sample
def sample_section(source: gr.Dropdown, model_of: Callable[[str | None], Any]) -> None:
    about = gr.Markdown()
    with gr.Row():
        count = gr.Slider(1, MAX_SAMPLES, value=64, step=1, label=L("generative.samples"))
        seed = gr.Number(0, label=L("generative.seed"), precision=0, info=L("generative.seed_info"))
        class_name = gr.Dropdown([choice("generative.all_classes", ALL_CLASSES)], value=ALL_CLASSES,
                                 label=L("generative.class_name"), allow_custom_value=True)
        sampler = gr.Radio(["DDIM", "DDPM"], value="DDIM", label=L("generative.sampler"),
                           info=L("generative.sampler_info"))
        steps = gr.Slider(1, 1000, value=50, step=1, label=L("generative.denoising_steps"))
    with gr.Row():
        start = gr.Button(L("generative.sample"), variant="primary")
        stop = gr.Button(L("generative.stop"), variant="stop")
    took = gr.Markdown()
    with gr.Row():
        grid = gr.Image(label=L("generative.samples_picture"), type="pil",
                        height=420, buttons=["download"])
        clean = gr.Image(label=L("generative.clean_picture"), type="pil", height=420)

    def on_model(folder):
        """The model's description, and only the controls that apply to it: classes for a conditional GAN, the
        sampler and its steps for a diffusion model."""
        every_class = (t("generative.all_classes"), ALL_CLASSES)
        no_classes = gr.update(choices=[every_class], value=ALL_CLASSES, visible=False)
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
        return (describe(m), gr.update(choices=[every_class, *classes], value=ALL_CLASSES, visible=bool(classes)),
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
    gr.Markdown(L("generative.latent_title"))
    with gr.Row():
        map_btn = gr.Button(L("generative.latent_map"))
        walk_a = gr.Number(1, label=L("generative.walk_from"), precision=0)
        walk_b = gr.Number(2, label=L("generative.walk_to"), precision=0)
        walk_n = gr.Slider(3, 24, value=12, step=1, label=L("generative.walk_points"))
        walk_btn = gr.Button(L("generative.walk"))
    with gr.Row():
        recon_in = gr.File(label=L("generative.reconstruct_images"), file_count="multiple", file_types=["image"],
                           type="filepath", height=120)
        recon_btn = gr.Button(L("generative.reconstruct"))
    gr.Examples([[DIGITS]], inputs=recon_in, label=L("generative.digits"))
    latent_out = gr.Image(label=L("generative.latent_picture"), type="pil", buttons=["download"])

    def vae_of(folder):
        from hub_models.generative import VAE

        m = model_of(folder)
        if not isinstance(m, VAE):
            raise UserError(t("generative.pick_vae"))
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
            raise UserError(t("generative.upload_images"))
        if len(files) > 32:
            raise UserError(t("generative.too_many_images", count=len(files)))
        x = torch.cat([image_tensor(m, f) for f in files])
        rec, _ = reconstruct(m, x)
        return picture_grid(torch.cat([x, rec]), columns=len(files), cell=64)  # top: input, bottom: reconstruction

    answered(map_btn.click, latent_map_, source, latent_out, api_name="generative_latent_map", **PREDICT)
    answered(walk_btn.click, walk, [source, walk_a, walk_b, walk_n], latent_out, api_name="generative_walk", **PREDICT)
    answered(recon_btn.click, reconstruct_, [source, recon_in], latent_out, api_name="generative_reconstruct",
             **PREDICT)


# ------------------------------------------------------------------- the tab
def build(ctx: AppContext) -> None:
    gr.Markdown(L("generative.intro"))
    with gr.Tab(L("generative.tab_toy")):
        toy_section(ctx)
    with gr.Tab(L("generative.tab_sample")) as sample_tab:
        source = model_source(ctx, TASK.name, sample_tab, metric=TASK.metric, label=L("generative.model_source"),
                              pull_label=L("generative.pull_label"),
                              placeholder="you/dcgan-digits", check=_check)

        def model_of(folder: str | None) -> Any:
            from hub_models.generative import load_cached

            return load_checked(ctx.runner, folder, load_cached)

        sample_section(source, model_of)
        latent_section(source, model_of)
    with gr.Tab(L("generative.tab_train")):
        vision_train(ctx, VisionForm(
            task=TASK, model_label=L("generative.model"), model_info=L("generative.model_info"),
            data_sources=DATA_SOURCES, upload_label=L("generative.upload_label"),
            repo_label=L("generative.repo_label"), repo_placeholder="you/my-images",
            missing_upload=lambda: t("generative.missing_upload"), check_folder=_check_folder,
            picture_label="", push_placeholder="you/dcgan-digits", picture_file=None,
            size_info=L("generative.size_info"), samples="image", loss_parts=True,
            metric_apart="fid", extras=extras, onnx=False))
