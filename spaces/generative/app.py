"""$title: a generative model, as its own demo.

It loads $model_id (revision $revision) from $hub_label and draws new images from noise: a GAN's generator
maps noise to images in one pass, a diffusion model removes noise step by step (you see x_t, and the clean
image it predicts at each step), a PixelCNN draws one pixel at a time, a VAE decodes points of its latent
space (walk between two of them). The code under hub_models/ and common/ is DL Playground's own, copied
here: it is what defines the network.
"""
import os

import gradio as gr
import torch
from huggingface_hub import snapshot_download

from common.errors import UserError
from common.i18n import MARKERS_HEAD, strings, t
from hub_models.gen_catalog import ALL_CLASSES, MAX_SAMPLES
from hub_models.generative import (
    DCGAN, VAE, describe, image_tensor, latent_map, latent_walk, load_generative, picture_grid, prior_point,
    reconstruct, samples)

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL, REVISION = "$model_id", "$revision"
HUB = os.environ.get("DLP_MODEL_HUB") or "$endpoint" or None  # None: huggingface.co
EXAMPLES = [os.path.join(HERE, "examples", f) for f in ("digit-0.png", "digit-1.png", "digit-2.png",
                                                          "digit-3.png", "digit-4.png", "digit-5.png")]

model = load_generative(snapshot_download(MODEL, revision=REVISION, endpoint=HUB,
                                          token=os.environ.get("HF_TOKEN") or None))
CLASSES = list(model.labels) if isinstance(model, DCGAN) and model.conditional else []
I18N = gr.I18n(**strings())  # the page's words in every language (common/locales/): the browser picks one


def intro():
    """The page's heading, in the visitor's language."""
    return "# $title\n" + t("space.generative_intro", description=describe(model), model=MODEL, revision=REVISION[:8])


def sample_images(count, seed, class_name, sampler, steps):
    """Streams (samples, the clean images a diffusion model predicts, a status line)."""
    try:
        yield from samples(model, int(count), int(seed or 0), class_name or ALL_CLASSES, sampler, int(steps))
    except UserError as e:
        raise gr.Error(str(e), print_exception=False, title=t("space.error_title")) from None


def walk(a, b, n):
    return picture_grid(latent_walk(model, prior_point(model, int(a or 0)), prior_point(model, int(b or 0)), int(n)),
                        columns=int(n), cell=64)


def reconstruct_digits():
    files = [e for e in EXAMPLES if os.path.exists(e)]
    x = torch.cat([image_tensor(model, f) for f in files])
    return picture_grid(torch.cat([x, reconstruct(model, x)[0]]), columns=len(files), cell=64)


with gr.Blocks(title="$title") as demo:
    heading = gr.Markdown(intro())
    with gr.Row():
        count = gr.Slider(1, MAX_SAMPLES, value=36, step=1, label=I18N("space.samples"))
        seed = gr.Number(0, label=I18N("space.seed"), precision=0, info=I18N("space.seed_info"))
        class_name = gr.Dropdown([(str(I18N("space.all_classes")), ALL_CLASSES), *CLASSES], value=ALL_CLASSES,
                                 label=I18N("space.class_conditional"), visible=bool(CLASSES))
        sampler = gr.Radio(["DDIM", "DDPM"], value="DDIM", label=I18N("space.sampler"))
        steps = gr.Slider(1, 1000, value=50, step=1, label=I18N("space.denoising_steps"))
    button = gr.Button(I18N("space.sample"), variant="primary")
    status = gr.Markdown()
    with gr.Row():
        grid = gr.Image(label=I18N("space.samples"), type="pil", height=420, format="png")
        clean = gr.Image(label=I18N("space.clean_images"), type="pil", height=420)
    button.click(sample_images, [count, seed, class_name, sampler, steps], [grid, clean, status], api_name="sample")
    demo.load(intro, None, heading, api_visibility="private", show_progress="hidden")
    if isinstance(model, VAE):
        gr.Markdown(I18N("space.latent_space"))
        with gr.Row():
            walk_a = gr.Number(1, label=I18N("space.walk_from"), precision=0)
            walk_b = gr.Number(2, label=I18N("space.walk_to"), precision=0)
            walk_n = gr.Slider(3, 24, value=12, step=1, label=I18N("space.walk_points"))
        with gr.Row():
            walk_button = gr.Button(I18N("space.walk"))
            map_button = gr.Button(I18N("space.latent_map"), visible=model.latent_dim == 2)
            recon_button = gr.Button(I18N("space.reconstruct"))
        latent = gr.Image(label=I18N("space.latent_picture"), type="pil")
        walk_button.click(walk, [walk_a, walk_b, walk_n], latent, api_name="walk")
        map_button.click(lambda: picture_grid(latent_map(model, 15), columns=15, cell=40), None, latent,
                         api_name="latent_map")
        recon_button.click(reconstruct_digits, None, latent, api_name="reconstruct")

if __name__ == "__main__":
    demo.launch(i18n=I18N, head=MARKERS_HEAD)
