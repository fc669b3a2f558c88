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
from .i18n import L, choice, t
from .inputs import PhotoInput
from .jobs import checked_model_folder, model_source
from .vision import VisionForm, vision_train

TASK = get_task("style")
TITLE = TASK.title
EX = Path(__file__).resolve().parents[1] / "assets" / "examples"

CONTENT_EXAMPLES = [str(EX / f"content-{n}.jpg") for n in ("chelsea", "astronaut", "coffee")]
STYLE_EXAMPLES = [str(EX / f"style-{n}.jpg") for n in ("flower", "stain", "hubble", "brick")]
# The Data radio: shown words -> kind; the values (what the handler and the API get) stay as they were
DATA_SOURCES = {choice("style.data_builtin", "Built-in photos (scikit-image, scikit-learn)"): "builtin",
                choice("style.data_upload", "Upload a zip of photos"): "upload",  # i18n: not shown
                choice("style.data_hub", "Dataset repo on the hub"): "hub"}  # i18n: not shown
# The Feature extractor radio: its values (what the handlers and the API get, as they were) -> extractor
RANDOM_VALUE = "VGG-19, random weights (offline)"
HUB_VALUE = "VGG-19, ImageNet weights from the hub (timm/vgg19.tv_in1k)"  # i18n: not shown
EXTRACTOR_CHOICES = {RANDOM_VALUE: "vgg19-random", HUB_VALUE: "vgg19-hub"}
EXTRACTOR_RADIO = [choice("style.extractor_random", RANDOM_VALUE), choice("style.extractor_hub", HUB_VALUE)]


def _check(folder: Path) -> None:
    from hub_models.style import load_style_net

    load_style_net(folder)


def _check_folder(folder: str) -> str:
    from training.data import image_files

    if (n := len(image_files(folder))) < 2:
        raise UserError(t("style.too_few_photos", count=n))
    return folder


def extras(form: ConfigForm, online: bool = False) -> None:
    from hub_models.style_catalog import BUILTIN_IMAGES

    with gr.Row():
        # Only the built-in names here: the config also takes a file path, which a visitor must not type (it
        # would be read into the model and pushed with it).
        form.field("style", label=L("style.builtin_style"), info=None, choices=list(BUILTIN_IMAGES),
                   allow_custom_value=False)
        form.add("style_file", gr.File(label=L("style.style_file"), file_types=["image"], type="filepath",
                                       height=90))
        form.field("extractor", label=L("style.scored_by"), info=L("style.scored_by_info"),
                   **({"value": "vgg19-hub"} if online else {}))
        for name in ("content_weight", "style_weight", "tv_weight"):
            form.field(name, info=None)


def build(ctx: AppContext) -> None:
    runner = ctx.runner
    online = ctx.default_hub == "hf"
    gr.Markdown(L("style.intro"))
    with gr.Tab(L("style.tab_optimise")):
        with gr.Row():
            content = PhotoInput(label=L("style.content_image"), height=200)
            style = PhotoInput(label=L("style.style_image"), height=200)
        with gr.Row():
            gr.Examples(CONTENT_EXAMPLES, inputs=content, label=L("style.content_examples"))
            gr.Examples(STYLE_EXAMPLES, inputs=style, label=L("style.style_examples"))
        with gr.Row():
            # Online (huggingface.co the default hub), the ImageNet weights the method was made with.
            extractor = gr.Radio(EXTRACTOR_RADIO, value=list(EXTRACTOR_CHOICES)[1 if online else 0],
                                 label=L("style.feature_extractor"), scale=2)
            steps = gr.Slider(10, 1000, value=100, step=10, label=L("style.steps"))
            size = gr.Slider(64, 512, value=160, step=32, label=L("style.image_size"))
            lr = gr.Number(0.02, label=L("style.lr"), minimum=1e-4, maximum=1)
        with gr.Row():
            cw = gr.Number(1.0, label=L("style.content_weight"), minimum=0)
            sw = gr.Number(10.0, label=L("style.style_weight"), minimum=0)
            tw = gr.Number(2.0, label=L("style.tv_weight"), minimum=0)
        with gr.Accordion(L("style.layers"), open=False):
            from hub_models.style_catalog import CONTENT_LAYERS, CONV_LAYERS, STYLE_LAYERS

            content_layers = gr.CheckboxGroup(CONV_LAYERS, value=list(CONTENT_LAYERS),
                                              label=L("style.content_layers"))
            style_layers = gr.CheckboxGroup(CONV_LAYERS, value=list(STYLE_LAYERS), label=L("style.style_layers"))
        with gr.Accordion(L("style.vgg_hub"), open=False):
            picker = hub_picker(ctx)
        with gr.Row():
            run_btn = gr.Button(L("style.start"), variant="primary")
            stop_btn = gr.Button(L("style.stop"), variant="stop")
            gram_btn = gr.Button(L("style.show_grams"))
        status = gr.Markdown()
        with gr.Row():
            result = gr.Image(label=L("style.result"), type="pil", buttons=["download"])
            curves = gr.LinePlot(x="step", y="value", color="loss", title=L("style.curves_title"), height=300)
            ctx.axis_titles(curves, x="axis.step", y="axis.value", color="axis.loss")
        grams = gr.Image(label=L("style.grams"), type="pil")
    with gr.Tab(L("style.tab_fast")) as fast_tab:
        source = model_source(ctx, TASK.name, fast_tab, metric=TASK.metric, label=L("style.model_label"),
                              pull_label=L("style.pull_label"), placeholder="you/style-flower", check=_check)
        with gr.Row():
            photo = PhotoInput(label=L("style.photo"), height=200)
            max_side = gr.Slider(128, 1024, value=512, step=64, label=L("style.output_size"))
        gr.Examples(CONTENT_EXAMPLES, inputs=photo, label=L("style.photos"))
        apply_btn = gr.Button(L("style.stylise"), variant="primary")
        took = gr.Markdown()
        stylised = gr.Image(label=L("style.stylised"), type="pil", buttons=["download"])
        gr.Markdown(L("style.train_heading"))
        vision_train(ctx, VisionForm(
            task=TASK, model_label=L("style.train_model"), model_info=L("style.train_model_info"),
            data_sources=DATA_SOURCES, upload_label=L("style.upload_label"), repo_label=L("style.repo_label"),
            repo_placeholder="you/my-photos", missing_upload=lambda: t("style.missing_upload"),
            check_folder=_check_folder,
            picture_label=L("style.train_picture"), push_placeholder="you/style-flower",
            picture_file="val_stylized.png", extras=partial(extras, online=online), size_info=L("style.size_info")))

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
            raise UserError(t("style.need_both"))
        c_img, s_img = load_image(content, channels=3), load_image(style, channels=3)
        ext = extractor_for(extractor, choice, url, token)
        weights = {"content": float(content_weight), "style": float(style_weight), "tv": float(tv_weight)}
        rows, t0 = [], time.perf_counter()
        names = {"content": t("style.loss_content"), "style": t("style.loss_style"), "tv": t("style.loss_tv")}
        source = ext.describe()
        for ev in gatys(c_img, s_img, ext, content_layers=tuple(content_layers or ()),
                        style_layers=tuple(style_layers or ()), content_weight=weights["content"],
                        style_weight=weights["style"], tv_weight=weights["tv"], steps=int(steps), size=int(size),
                        lr=float(lr)):
            rows += [{"step": ev["step"], "loss": names[name], "value": w * ev[name]} for name, w in weights.items()]
            text = t("style.progress", step=ev["step"], steps=int(steps), seconds=time.perf_counter() - t0,
                     content=ev["content"], style=ev["style"], tv=ev["tv"], source=source)
            yield ev["image"], pd.DataFrame(rows), text

    def show_grams(style, extractor, style_layers, size, choice, url, token):
        from hub_models.inference import load_image
        from hub_models.style import gram_picture

        if not style:
            raise UserError(t("style.need_style"))
        ext = extractor_for(extractor, choice, url, token)
        return gram_picture(load_image(style, channels=3), ext, tuple(style_layers or ()), size=int(size))

    def apply(folder, photo_, side):
        from hub_models.style import load_cached, stylize

        folder = checked_model_folder(runner, folder)
        if not photo_:
            raise UserError(t("style.need_photo"))
        model = load_cached(folder)
        t0 = time.perf_counter()
        out = stylize(model, photo_, int(side))
        return out, t("style.applied", style=model.style_name, width=out.width, height=out.height,
                      seconds=time.perf_counter() - t0)

    style_inputs = {"style": style, "extractor": extractor, "style_layers": style_layers, "size": size,
                    **picker.named}
    running = run_btn.click(optimise, None, [result, curves, status], api_name="style_optimise", **IN_REQUEST,
                            inputs_kwargs={"content": content, "steps": steps, "lr": lr, "content_weight": cw,
                                           "style_weight": sw, "tv_weight": tw, "content_layers": content_layers,
                                           **style_inputs})
    stop_btn.click(None, None, None, cancels=[running])
    gram_btn.click(show_grams, None, grams, api_name="style_grams", **PREDICT, inputs_kwargs=style_inputs)
    answered(apply_btn.click, apply, [source, photo, max_side], [stylised, took], api_name="style_apply", **PREDICT)
