"""Neural style transfer tab: Gatys' optimisation with live images and curves, Gram matrices shown, and
fast feed-forward style networks (train as a job, push, pull, apply)."""
from __future__ import annotations

import time
from functools import partial
from pathlib import Path

import gradio as gr

from common.errors import UserError
from training.tasks import get_task

from .common import IN_REQUEST, PREDICT, AppContext, answered, get_hub, hub_picker
from .forms import ConfigForm
from .inputs import PhotoInput
from .jobs import checked_model_folder, model_source
from .vision import VisionForm, vision_train

TASK = get_task("style")
TITLE = TASK.title
EX = Path(__file__).resolve().parents[1] / "assets" / "examples"
INTRO = """Style transfer paints the **content** of one image in the **style** of another. A frozen CNN (VGG-19)
describes both: the **content loss** compares the synthesised image's features with the content image's at a
deep layer; the **style loss** compares their **Gram matrices** (which channels fire together, wherever they
are) at several layers; the **total-variation loss** keeps neighbouring pixels alike (less noise). In the
optimisation of Gatys et al. the synthesised image itself is the only parameter: it starts as the content
image and gradient descent changes its pixels. A **fast style network** (Johnson et al.) learns that mapping
once for one style, then stylises any photo in one forward pass. Feature extractor: VGG-19 with ImageNet
weights when the hub has `timm/vgg19.tv_in1k`; offline, VGG-19 with random weights, which still matches
colours and textures but keeps objects less faithfully. Losses are relative (1.0 = as far as a black image)."""

CONTENT_EXAMPLES = [str(EX / f"content-{n}.jpg") for n in ("chelsea", "astronaut", "coffee")]
STYLE_EXAMPLES = [str(EX / f"style-{n}.jpg") for n in ("flower", "stain", "hubble", "brick")]
DATA_SOURCES = {"Built-in photos (scikit-image, scikit-learn)": "builtin", "Upload a zip of photos": "upload",
                "Dataset repo on the hub": "hub"}
EXTRACTOR_CHOICES = {"VGG-19, random weights (offline)": "vgg19-random",
                     "VGG-19, ImageNet weights from the hub (timm/vgg19.tv_in1k)": "vgg19-hub"}


def _check(folder: Path) -> None:
    from hub_models.style import load_style_net

    load_style_net(folder)


def _check_folder(folder: str) -> str:
    from training.data import require_images

    return require_images(folder, 2, " photos (one is kept to validate)")


def extras(form: ConfigForm, online: bool = False) -> None:
    from hub_models.style_catalog import BUILTIN_IMAGES

    with gr.Row():
        # Only the built-in names here: the config also takes a file path, which a visitor must not type (it
        # would be read into the model and pushed with it).
        form.field("style", label="Style (built in)", info=None, choices=list(BUILTIN_IMAGES),
                   allow_custom_value=False)
        form.add("style_file", gr.File(label="...or your style image", file_types=["image"], type="filepath",
                                       height=90))
        form.field("extractor", label="Scored by", info="vgg19-hub pulls timm/vgg19.tv_in1k from the hub above",
                   **({"value": "vgg19-hub"} if online else {}))
        for name in ("content_weight", "style_weight", "tv_weight"):
            form.field(name, info=None)


def build(ctx: AppContext) -> None:
    runner = ctx.runner
    online = ctx.default_hub == "hf"
    gr.Markdown(INTRO)
    with gr.Tab("Optimise (Gatys)"):
        with gr.Row():
            content = PhotoInput(label="Content image (a file, the webcam or the clipboard)", height=200)
            style = PhotoInput(label="Style image", height=200)
        with gr.Row():
            gr.Examples(CONTENT_EXAMPLES, inputs=content, label="Content (photos that ship with scikit-image)")
            gr.Examples(STYLE_EXAMPLES, inputs=style, label="Style (scikit-image, scikit-learn)")
        with gr.Row():
            # Online (huggingface.co the default hub), the ImageNet weights the method was made with.
            extractor = gr.Radio(list(EXTRACTOR_CHOICES), value=list(EXTRACTOR_CHOICES)[1 if online else 0],
                                 label="Feature extractor", scale=2)
            steps = gr.Slider(10, 1000, value=100, step=10, label="Steps")
            size = gr.Slider(64, 512, value=160, step=32, label="Image size (longer side)")
            lr = gr.Number(0.02, label="Learning rate (pixels)", minimum=1e-4, maximum=1)
        with gr.Row():
            cw = gr.Number(1.0, label="Content weight", minimum=0)
            sw = gr.Number(10.0, label="Style weight", minimum=0)
            tw = gr.Number(2.0, label="TV weight", minimum=0)
        with gr.Accordion("Layers", open=False):
            from hub_models.style_catalog import CONTENT_LAYERS, CONV_LAYERS, STYLE_LAYERS

            content_layers = gr.CheckboxGroup(CONV_LAYERS, value=list(CONTENT_LAYERS), label="Content layers")
            style_layers = gr.CheckboxGroup(CONV_LAYERS, value=list(STYLE_LAYERS), label="Style layers")
        with gr.Accordion("Hub for the ImageNet VGG-19", open=False):
            picker = hub_picker(ctx)
        with gr.Row():
            run_btn = gr.Button("Start", variant="primary")
            stop_btn = gr.Button("Stop", variant="stop")
            gram_btn = gr.Button("Show the style's Gram matrices")
        status = gr.Markdown()
        with gr.Row():
            result = gr.Image(label="Synthesised image (updates as it optimises)", type="pil", buttons=["download"])
            curves = gr.LinePlot(x="step", y="value", color="loss", title="Weighted losses", height=300)
        grams = gr.Image(label="Gram matrices of the style layers (first 32 channels; bright: channels that fire "
                               "together)", type="pil")
    with gr.Tab("Fast style") as fast_tab:
        source = model_source(ctx, TASK.name, fast_tab, metric=TASK.metric,
                              label="Style network (trained here or pulled)", pull_label="Repo id (a style network)",
                              placeholder="you/style-flower", check=_check)
        with gr.Row():
            photo = PhotoInput(label="Photo (a file, the webcam or the clipboard)", height=200)
            max_side = gr.Slider(128, 1024, value=512, step=64, label="Output size (longer side)")
        gr.Examples(CONTENT_EXAMPLES, inputs=photo, label="Photos")
        apply_btn = gr.Button("Stylise", variant="primary")
        took = gr.Markdown()
        stylised = gr.Image(label="Stylised", type="pil", buttons=["download"])
        gr.Markdown("### Train a style network")
        vision_train(ctx, VisionForm(
            task=TASK, model_label="Style network",
            model_info="style-net: 0.4 M parameters; style-net-wide: Johnson's 1.7 M",
            data_sources=DATA_SOURCES, upload_label="Zip of photos (content to learn on)",
            repo_label="Dataset repo id (images)", repo_placeholder="you/my-photos",
            missing_upload="Upload a zip of photos.", check_folder=_check_folder,
            picture_label="Style, then the network on an unseen photo and on training photos",
            push_placeholder="you/style-flower", picture_file="val_stylized.png",
            extras=partial(extras, online=online),
            size_info="side of the training crops"))

    # ------------------------------------------------------------------ events
    def extractor_for(label, choice, url, token):
        from hub_models.style import load_extractor

        name = EXTRACTOR_CHOICES.get(label, "vgg19-random")
        return load_extractor(name, get_hub(choice, url, token) if name == "vgg19-hub" else None)

    def optimise(content, style, extractor, steps, size, lr, content_weight, style_weight, tv_weight,
                 content_layers, style_layers, choice, url, token):
        import pandas as pd

        from hub_models.inference import load_image
        from hub_models.style import gatys

        if not content or not style:
            raise UserError("Give a content image and a style image (or pick examples).")
        c_img, s_img = load_image(content, channels=3), load_image(style, channels=3)
        ext = extractor_for(extractor, choice, url, token)
        weights = {"content": float(content_weight), "style": float(style_weight), "tv": float(tv_weight)}
        rows, t0 = [], time.perf_counter()
        for ev in gatys(c_img, s_img, ext, content_layers=tuple(content_layers or ()),
                        style_layers=tuple(style_layers or ()), content_weight=weights["content"],
                        style_weight=weights["style"], tv_weight=weights["tv"], steps=int(steps), size=int(size),
                        lr=float(lr)):
            rows += [{"step": ev["step"], "loss": name, "value": w * ev[name]} for name, w in weights.items()]
            text = (f"Step {ev['step']} / {int(steps)} · {time.perf_counter() - t0:.0f} s · content "
                    f"{ev['content']:.3f}, style {ev['style']:.4f}, TV {ev['tv']:.4f} (unweighted) · "
                    f"{ext.source}")
            yield ev["image"], pd.DataFrame(rows), text

    def show_grams(style, extractor, style_layers, size, choice, url, token):
        from hub_models.inference import load_image
        from hub_models.style import gram_picture

        if not style:
            raise UserError("Give a style image (or pick an example).")
        ext = extractor_for(extractor, choice, url, token)
        return gram_picture(load_image(style, channels=3), ext, tuple(style_layers or ()), size=int(size))

    def apply(folder, photo_, side):
        from hub_models.style import load_cached, stylize

        folder = checked_model_folder(runner, folder)
        if not photo_:
            raise UserError("Upload a photo or pick an example.")
        model = load_cached(folder)
        t0 = time.perf_counter()
        out = stylize(model, photo_, int(side))
        return out, f"Style *{model.style_name}*: {out.width}x{out.height} in {time.perf_counter() - t0:.2f} s"

    style_inputs = {"style": style, "extractor": extractor, "style_layers": style_layers, "size": size,
                    **picker.named}
    running = run_btn.click(optimise, None, [result, curves, status], api_name="style_optimise", **IN_REQUEST,
                            inputs_kwargs={"content": content, "steps": steps, "lr": lr, "content_weight": cw,
                                           "style_weight": sw, "tv_weight": tw, "content_layers": content_layers,
                                           **style_inputs})
    stop_btn.click(None, None, None, cancels=[running])
    gram_btn.click(show_grams, None, grams, api_name="style_grams", **PREDICT, inputs_kwargs=style_inputs)
    answered(apply_btn.click, apply, [source, photo, max_side], [stylised, took], api_name="style_apply", **PREDICT)
