"""Generative models tab: a GAN learning a Gaussian live, sampling from DCGANs, conditional GANs, VAEs,
PixelCNNs and DDPMs (trained here or pulled), the VAE's latent space, and training any of them as a job."""
from __future__ import annotations

import time
from pathlib import Path

import gradio as gr

from hub_models.gen_catalog import GAN_LOSSES, MAX_SAMPLES, PIXELCNN_MAX_SIZE, SIZES, TOY_TARGETS

from .common import IN_REQUEST, AppContext
from .jobs import load_checked, model_source
from .vision import VisionForm, vision_train

TITLE = "Generative models"
TASK = "generative"
EX = Path(__file__).resolve().parents[1] / "assets" / "examples"
DIGITS = [str(EX / f"digit-{i}.png") for i in range(6)]
ALL_CLASSES = "all classes: one row each"
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


def model_names() -> list[str]:
    from hub_models.generative import GENERATIVE_MODELS  # imports torch: only once the page is open

    return list(GENERATIVE_MODELS)


def _check(folder: Path) -> None:
    from hub_models.generative import load_generative

    load_generative(folder)


def _check_folder(folder: str) -> str:
    from training.data import require_images

    return require_images(folder, 10)


def _check_options(model: str, size: int) -> None:
    if size not in SIZES:
        raise gr.Error(f"Image size must be one of {', '.join(map(str, SIZES))}: the networks halve and double it.")
    if model == "pixelcnn" and size > PIXELCNN_MAX_SIZE:
        raise gr.Error(f"A PixelCNN draws one pixel at a time: train it at {PIXELCNN_MAX_SIZE} px or less.")


def _train_extras() -> dict:
    with gr.Row():
        latent = gr.Number(0, label="Latent size", precision=0, minimum=0, maximum=512,
                           info="0: GAN 64, VAE 2 (a 2-D latent gets a latent map)")
        beta = gr.Number(1.0, label="VAE: beta (KL weight)", minimum=0.01, maximum=100)
        width = gr.Number(32, label="Width (channels)", precision=0, minimum=8, maximum=256)
        smooth = gr.Slider(0.5, 1.0, value=0.9, step=0.05, label="GAN: target for real images",
                           info="0.9: one-sided label smoothing")
        g_loss = gr.Radio(list(GAN_LOSSES), value=GAN_LOSSES[0], label="GAN: generator loss")
    with gr.Row():
        levels = gr.Number(8, label="PixelCNN: intensity levels", precision=0, minimum=2, maximum=256,
                           info="the classes of each pixel's softmax")
        layers = gr.Number(5, label="PixelCNN: masked layers", precision=0, minimum=1, maximum=30,
                           info="a pixel sees 3 + this many rows up")
        timesteps = gr.Number(1000, label="DDPM: noise steps", precision=0, minimum=10, maximum=4000)
    return {"latent_dim": latent, "beta": beta, "width": width, "label_smoothing": smooth, "gan_loss": g_loss,
            "levels": levels, "layers": layers, "timesteps": timesteps}


def build(ctx: AppContext) -> None:
    runner = ctx.runner
    gr.Markdown(INTRO)
    with gr.Tab("GAN on a Gaussian"):
        gr.Markdown(TOY_INTRO)
        with gr.Row():
            target = gr.Dropdown(list(TOY_TARGETS), value=TOY_TARGETS[0], label="Real data")
            mean = gr.Number(3.0, label="Real mean", minimum=-10, maximum=10, info="2-D: each coordinate; ring: radius")
            std = gr.Number(0.5, label="Real standard deviation", minimum=0.05, maximum=5)
            steps = gr.Slider(100, 10000, value=2000, step=100, label="Generator steps")
        with gr.Row():
            d_steps = gr.Slider(1, 10, value=1, step=1, label="Discriminator steps per generator step (k)")
            g_loss = gr.Radio(list(GAN_LOSSES), value=GAN_LOSSES[0], label="Generator loss")
            smooth = gr.Slider(0.5, 1.0, value=1.0, step=0.05, label="Target for real samples",
                               info="0.9: label smoothing")
            toy_lr = gr.Number(1e-3, label="Learning rate", minimum=1e-5, maximum=0.1)
            toy_seed = gr.Number(0, label="Seed", precision=0)
        with gr.Row():
            toy_start = gr.Button("Train", variant="primary")
            toy_stop = gr.Button("Stop", variant="stop")
        toy_status = gr.Markdown()
        with gr.Row():
            toy_picture = gr.Image(label="Real and generated distributions, and D(x)", type="pil", height=420,
                                   show_label=False)  # the picture has its own title
            with gr.Column():
                toy_losses = gr.LinePlot(x="step", y="loss", color="player", title="Losses", height=200)
                toy_probs = gr.LinePlot(x="step", y="probability", color="on", title="D's mean output (0.5: fooled)",
                                        height=200)
    with gr.Tab("Sample") as sample_tab:
        source = model_source(ctx, TASK, sample_tab, metric="fid", label="Model (trained here or pulled)",
                              pull_label="Repo id (our DCGAN, VAE or PixelCNN, or a diffusers DDPM pipeline)",
                              placeholder="you/dcgan-digits", check=_check)
        about = gr.Markdown()
        with gr.Row():
            count = gr.Slider(1, MAX_SAMPLES, value=64, step=1, label="Samples")
            seed = gr.Number(0, label="Seed", precision=0, info="the same seed, the same samples")
            klass = gr.Dropdown([ALL_CLASSES], value=ALL_CLASSES, label="Class (conditional GAN)", allow_custom_value=True)
            sampler = gr.Radio(["DDIM", "DDPM"], value="DDIM", label="Diffusion sampler",
                               info="DDPM's native schedule is every training step")
            d_steps_n = gr.Slider(1, 1000, value=50, step=1, label="Diffusion: denoising steps")
        with gr.Row():
            sample_btn = gr.Button("Sample", variant="primary")
            sample_stop = gr.Button("Stop", variant="stop")
        took = gr.Markdown()
        with gr.Row():
            grid_out = gr.Image(label="Samples (diffusion: x_t as it is denoised; PixelCNN: drawn row by row)",
                                type="pil", height=420,
                                buttons=["download"])
            clean_out = gr.Image(label="Diffusion: the clean images predicted from x_t", type="pil", height=420)
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
    with gr.Tab("Train"):
        vision_train(ctx, VisionForm(
            task=TASK, names=model_names, default_model="dcgan", model_label="Model",
            model_info="dcgan, cgan (conditional), vae-mlp, vae-conv, pixelcnn, ddpm (diffusers UNet2DModel)",
            data_sources=DATA_SOURCES, upload_label="Zip of images", repo_label="Dataset repo id (images)",
            repo_placeholder="you/my-images", missing_upload="Upload a zip of images.", check_folder=_check_folder,
            check_options=_check_options, epochs=20, batch=64, lr=0,
            lr_info="0: the model's default (GAN 2e-4, the others 1e-3)", metric="fid",
            picture_label="", push_placeholder="you/dcgan-digits", picture_file=None, builtin="digits",
            image_size=16, sizes=(8, 64), size_info="8, 16, 32 or 64 (the digits are 8x8, enlarged)", flip=False,
            samples="image", loss_parts=True, metric_apart="fid", extras=_train_extras))

    # ------------------------------------------------------------------ events
    def toy(target_, mean_, std_, steps_, k, loss, smooth_, lr_, seed_):
        import pandas as pd

        from hub_models.inference import InputError
        from hub_models.toy_gan import ToyConfig, train_toy_gan

        cfg = ToyConfig(target=target_, mean=float(mean_ or 0), std=float(std_ or 0), steps=int(steps_),
                        d_steps=int(k), loss=loss, label_smoothing=float(smooth_), lr=float(lr_ or 0),
                        seed=int(seed_ or 0), every=max(25, int(steps_) // 40))
        losses, probs, t0 = [], [], time.perf_counter()
        try:
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
        except InputError as e:
            raise gr.Error(str(e)) from None

    def model_of(folder):
        from hub_models.generative import load_cached

        return load_checked(runner, folder, load_cached)

    def on_model(folder):
        if not folder:
            return "", gr.update(choices=[ALL_CLASSES], value=ALL_CLASSES)
        from hub_models.generative import DCGAN, describe

        try:
            m = model_of(folder)
        except gr.Error as e:
            return f"⚠️ {e.message}", gr.update(choices=[ALL_CLASSES], value=ALL_CLASSES)
        classes = m.labels if isinstance(m, DCGAN) and m.conditional else []
        return describe(m), gr.update(choices=[ALL_CLASSES, *classes], value=ALL_CLASSES)

    def sample_images(folder, n, seed_, cls, sampler_, steps_):
        import torch

        from hub_models.generative import (
            DCGAN, DDPM, PixelCNN, class_index, class_rows, diffusion_steps, picture_grid, pixel_steps, sample)
        from hub_models.inference import InputError

        m = model_of(folder)
        n, seed_, t0 = int(n), int(seed_ or 0), time.perf_counter()
        try:
            if isinstance(m, DDPM):
                steps_ = int(steps_)
                every = max(1, steps_ // 20)
                for i, x, x0 in diffusion_steps(m, n, seed_, steps_, sampler_.lower(), every):
                    yield (picture_grid(x), picture_grid(x0),
                           f"{sampler_} step {i} / {steps_} · {time.perf_counter() - t0:.1f} s")
                return
            if isinstance(m, PixelCNN):
                side = m.image_size
                if n * side * side > MAX_SAMPLES * 256:
                    raise gr.Error(f"A PixelCNN draws one pixel at a time: at {side} px, at most "
                                   f"{MAX_SAMPLES * 256 // (side * side)} samples per request.")
                for rows, x in pixel_steps(m, n, seed_, every=max(1, side // 16)):
                    yield picture_grid(x), None, f"PixelCNN row {rows} / {side} · {time.perf_counter() - t0:.1f} s"
                return
            if isinstance(m, DCGAN) and m.conditional:
                if cls == ALL_CLASSES or not cls:
                    per = max(1, n // m.num_classes)
                    x = class_rows(m, per, seed_)
                    yield picture_grid(x, columns=per), None, (f"{m.num_classes} classes x {per} · one row per class "
                                                               f"({', '.join(m.labels)}) · "
                                                               f"{time.perf_counter() - t0:.2f} s")
                    return
                x = sample(m, n, seed_, labels=torch.full((n,), class_index(m, cls)))
            else:
                x = sample(m, n, seed_)
        except InputError as e:
            raise gr.Error(str(e)) from None
        yield picture_grid(x), None, f"{n} samples in {time.perf_counter() - t0:.2f} s"

    def vae_of(folder):
        from hub_models.generative import VAE

        m = model_of(folder)
        if not isinstance(m, VAE):
            raise gr.Error("Pick a VAE (vae-mlp or vae-conv) for the latent space.")
        return m

    def latent_map_(folder):
        from hub_models.generative import latent_map, picture_grid
        from hub_models.inference import InputError

        m = vae_of(folder)
        try:
            return picture_grid(latent_map(m, 15), columns=15, cell=40)
        except InputError as e:
            raise gr.Error(str(e)) from None

    def walk(folder, a, b, n):
        from hub_models.generative import latent_walk, picture_grid, prior_point

        m = vae_of(folder)
        return picture_grid(latent_walk(m, prior_point(m, int(a or 0)), prior_point(m, int(b or 0)), int(n)),
                            columns=int(n), cell=64)

    def reconstruct_(folder, files):
        import torch

        from hub_models.generative import image_tensor, picture_grid, reconstruct
        from hub_models.inference import InputError

        m = vae_of(folder)
        files = [f for f in (files or []) if f]
        if not files:
            raise gr.Error("Upload images (or pick the digits example).")
        if len(files) > 32:
            raise gr.Error(f"{len(files)} images: reconstruct at most 32 at a time.")
        try:
            x = torch.cat([image_tensor(m, f) for f in files])
        except InputError as e:
            raise gr.Error(str(e)) from None
        rec, _ = reconstruct(m, x)
        return picture_grid(torch.cat([x, rec]), columns=len(files), cell=64)  # top: input, bottom: reconstruction

    inputs = [target, mean, std, steps, d_steps, g_loss, smooth, toy_lr, toy_seed]
    running = toy_start.click(toy, inputs, [toy_picture, toy_losses, toy_probs, toy_status], api_name="generative_toy",
                              **IN_REQUEST)
    toy_stop.click(None, None, None, cancels=[running])
    source.change(on_model, source, [about, klass], api_visibility="private")
    sampling = sample_btn.click(sample_images, [source, count, seed, klass, sampler, d_steps_n],
                                [grid_out, clean_out, took], api_name="generative_sample", **IN_REQUEST)
    sample_stop.click(None, None, None, cancels=[sampling])
    map_btn.click(latent_map_, source, latent_out, api_name="generative_latent_map")
    walk_btn.click(walk, [source, walk_a, walk_b, walk_n], latent_out, api_name="generative_walk")
    recon_btn.click(reconstruct_, [source, recon_in], latent_out, api_name="generative_reconstruct")
