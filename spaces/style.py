"""Neural style transfer tab: Gatys' optimisation with live images and curves, Gram matrices shown, and
fast feed-forward style networks (train as a job, push, pull, apply)."""
from __future__ import annotations

import time
from pathlib import Path

import gradio as gr

from .common import IN_REQUEST, AppContext, get_hub, hub_picker
from .jobs import checked_model_folder, model_source
from .vision import VisionForm, vision_train

TITLE = "Neural style transfer"
TASK = "style"
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


def style_net_names() -> list[str]:
    from hub_models.style import STYLE_NETS  # imports torch: only once the page is open

    return list(STYLE_NETS)


def _check(folder: Path) -> None:
    from hub_models.style import load_style_net

    load_style_net(folder)


def _check_folder(folder: str) -> str:
    from training.data import require_images

    return require_images(folder, 2, " photos (one is kept to validate)")


def _train_extras() -> dict:
    from hub_models.style_catalog import BUILTIN_IMAGES

    with gr.Row():
        style = gr.Dropdown(list(BUILTIN_IMAGES), value="flower", label="Style (built in)")
        style_file = gr.File(label="...or your style image", file_types=["image"], type="filepath", height=90)
        extractor = gr.Radio(list(EXTRACTOR_CHOICES.values()), value="vgg19-random", label="Scored by",
                             info="vgg19-hub pulls timm/vgg19.tv_in1k from the hub above")
        cw = gr.Number(1.0, label="Content weight", minimum=0)
        sw = gr.Number(10.0, label="Style weight", minimum=0)
        tw = gr.Number(2.0, label="TV weight", minimum=0)
    return {"style": style, "style_file": style_file, "extractor": extractor, "content_weight": cw,
            "style_weight": sw, "tv_weight": tw}


def build(ctx: AppContext) -> None:
    runner = ctx.runner
    gr.Markdown(INTRO)
    with gr.Tab("Optimise (Gatys)"):
        with gr.Row():
            content = gr.File(label="Content image", file_types=["image"], type="filepath", height=120)
            style = gr.File(label="Style image", file_types=["image"], type="filepath", height=120)
        with gr.Row():
            gr.Examples(CONTENT_EXAMPLES, inputs=content, label="Content (photos that ship with scikit-image)")
            gr.Examples(STYLE_EXAMPLES, inputs=style, label="Style (scikit-image, scikit-learn)")
        with gr.Row():
            extractor = gr.Radio(list(EXTRACTOR_CHOICES), value=next(iter(EXTRACTOR_CHOICES)),
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
        source = model_source(ctx, TASK, fast_tab, metric="style_loss", label="Style network (trained here or pulled)",
                              pull_label="Repo id (a style network)", placeholder="you/style-flower", check=_check)
        with gr.Row():
            photo = gr.File(label="Photo", file_types=["image"], type="filepath", height=120)
            max_side = gr.Slider(128, 1024, value=512, step=64, label="Output size (longer side)")
        gr.Examples(CONTENT_EXAMPLES, inputs=photo, label="Photos")
        apply_btn = gr.Button("Stylise", variant="primary")
        took = gr.Markdown()
        stylised = gr.Image(label="Stylised", type="pil", buttons=["download"])
        gr.Markdown("### Train a style network")
        vision_train(ctx, VisionForm(
            task=TASK, names=style_net_names, default_model="style-net", model_label="Style network",
            model_info="style-net: 0.4 M parameters; style-net-wide: Johnson's 1.7 M",
            data_sources=DATA_SOURCES, upload_label="Zip of photos (content to learn on)",
            repo_label="Dataset repo id (images)", repo_placeholder="you/my-photos",
            missing_upload="Upload a zip of photos.", check_folder=_check_folder, epochs=4, batch=4, lr=2e-3,
            metric="style_loss", picture_label="Style, then the network on an unseen photo and on training photos",
            push_placeholder="you/style-flower", picture_file="val_stylized.png", builtin="photos", image_size=96,
            extras=_train_extras, size_info="side of the training crops"))

    # ------------------------------------------------------------------ events
    def images(content_, style_):
        from hub_models.inference import InputError, load_image

        if not content_ or not style_:
            raise gr.Error("Give a content image and a style image (or pick examples).")
        try:
            return load_image(content_, channels=3), load_image(style_, channels=3)
        except InputError as e:
            raise gr.Error(str(e)) from None

    def extractor_for(label, choice, url, token):
        from hub_models.inference import InputError
        from hub_models.style import load_extractor

        name = EXTRACTOR_CHOICES.get(label, "vgg19-random")
        try:
            return load_extractor(name, get_hub(choice, url, token) if name == "vgg19-hub" else None)
        except InputError as e:
            raise gr.Error(str(e)) from None

    def optimise(content_, style_, label, steps_, size_, lr_, cw_, sw_, tw_, c_layers, s_layers, choice, url, token):
        import pandas as pd

        from hub_models.inference import InputError
        from hub_models.style import gatys

        c_img, s_img = images(content_, style_)
        ext = extractor_for(label, choice, url, token)
        rows, t0 = [], time.perf_counter()
        try:
            for ev in gatys(c_img, s_img, ext, content_layers=tuple(c_layers or ()), style_layers=tuple(s_layers or ()),
                            content_weight=float(cw_), style_weight=float(sw_), tv_weight=float(tw_),
                            steps=int(steps_), size=int(size_), lr=float(lr_)):
                rows += [{"step": ev["step"], "loss": name, "value": w * ev[key]} for name, key, w in
                         (("content", "content", float(cw_)), ("style", "style", float(sw_)), ("tv", "tv", float(tw_)))]
                text = (f"Step {ev['step']} / {int(steps_)} · {time.perf_counter() - t0:.0f} s · content "
                        f"{ev['content']:.3f}, style {ev['style']:.4f}, TV {ev['tv']:.4f} (unweighted) · "
                        f"{ext.source}")
                yield ev["image"], pd.DataFrame(rows), text
        except InputError as e:
            raise gr.Error(str(e)) from None

    def show_grams(style_, label, s_layers, size_, choice, url, token):
        from hub_models.inference import InputError, load_image
        from hub_models.style import gram_picture

        if not style_:
            raise gr.Error("Give a style image (or pick an example).")
        ext = extractor_for(label, choice, url, token)
        try:
            return gram_picture(load_image(style_, channels=3), ext, tuple(s_layers or ()), size=int(size_))
        except InputError as e:
            raise gr.Error(str(e)) from None

    def apply(folder, photo_, side):
        from hub_models.inference import InputError
        from hub_models.style import load_cached, stylize

        folder = checked_model_folder(runner, folder)
        if not photo_:
            raise gr.Error("Upload a photo or pick an example.")
        try:
            model = load_cached(folder)
            t0 = time.perf_counter()
            out = stylize(model, photo_, int(side))
        except InputError as e:
            raise gr.Error(str(e)) from None
        return out, f"Style *{model.style_name}*: {out.width}x{out.height} in {time.perf_counter() - t0:.2f} s"

    inputs = [content, style, extractor, steps, size, lr, cw, sw, tw, content_layers, style_layers, *picker.inputs]
    running = run_btn.click(optimise, inputs, [result, curves, status], api_name="style_optimise", **IN_REQUEST)
    stop_btn.click(None, None, None, cancels=[running])
    gram_btn.click(show_grams, [style, extractor, style_layers, size, *picker.inputs], grams, api_name="style_grams")
    apply_btn.click(apply, [source, photo, max_side], [stylised, took], api_name="style_apply")
