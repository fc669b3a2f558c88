"""Semantic segmentation tab: segment with an opacity slider and a legend, train U-Net/FCN/torchvision, push."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from common.errors import UserError
from training.tasks import get_task

from .common import INSTANT, PREDICT, AppContext, answered
from .i18n import L, choice, t
from .inputs import PhotoInput
from .jobs import checked_model_folder, model_source
from .vision import VisionForm, vision_train

TASK = get_task("segmentation")
TITLE = TASK.title
EXAMPLES = sorted(str(p) for p in (Path(__file__).resolve().parents[1] / "assets" / "examples").glob("shapes-*.png"))

DATA_SOURCES = {  # (the values are what API calls send)
    choice("segmentation.data_builtin", "Built-in shapes"): "builtin",  # i18n: not shown
    choice("segmentation.data_upload", "Upload a zip (images/ + masks/)"): "upload",  # i18n: not shown
    choice("segmentation.data_hub", "Dataset repo on the hub"): "hub",  # i18n: not shown
}


def _check(folder: Path) -> None:
    from hub_models.segmentation import load_segmenter

    load_segmenter(folder)


def _check_folder(folder: str) -> str:
    from training.segmentation_data import check_segmentation_folder

    return check_segmentation_folder(folder)


def build(ctx: AppContext) -> None:
    runner = ctx.runner
    gr.Markdown(L("segmentation.intro"))
    with gr.Tab(L("segmentation.train")):
        vision_train(ctx, VisionForm(
            task=TASK, model_label=L("segmentation.model_label"), data_sources=DATA_SOURCES,
            upload_label=L("segmentation.upload_label"), repo_label=L("segmentation.repo_label"),
            repo_placeholder="you/my-masks",
            missing_upload=lambda: t("segmentation.missing_upload"), check_folder=_check_folder,
            picture_label=L("segmentation.picture_label"), push_placeholder="you/unet-shapes"))

    with gr.Tab(L("segmentation.segment")) as segment_tab:
        source = model_source(ctx, TASK.name, segment_tab, metric=TASK.metric, label=L("segmentation.model_source"),
                              pull_label=L("segmentation.pull_label"),
                              placeholder="you/unet-shapes", check=_check)
        result = gr.State(None)  # the class map of the last image: the opacity slider redraws from it
        with gr.Row():
            with gr.Column():
                image = PhotoInput(height=220)
                gr.Examples(EXAMPLES, inputs=image, label=L("segmentation.examples"))
                opacity = gr.Slider(0, 1, value=0.6, step=0.05, label=L("segmentation.opacity"))
                segment_btn = gr.Button(L("segmentation.segment"), variant="primary")
            with gr.Column():
                overlay = gr.Image(label=L("segmentation.overlay"), type="pil", buttons=["download"])
                legend = gr.HTML()
                shares = gr.Dataframe(headers=[str(L("segmentation.col_class")), str(L("segmentation.col_share"))],
                                      interactive=False, label=L("segmentation.shares"))
        with gr.Accordion(L("segmentation.transposed"), open=False):
            gr.Markdown(L("segmentation.transposed_text"))
            with gr.Row():
                t_kernel = gr.Slider(1, 4, value=2, step=1, label=L("segmentation.kernel_size"))
                t_stride = gr.Slider(1, 3, value=1, step=1, label=L("segmentation.stride"))
                t_padding = gr.Slider(0, 2, value=0, step=1, label=L("segmentation.padding"))
            t_picture = gr.Image(label=L("segmentation.transposed_picture"), type="pil")

    # ------------------------------------------------------------------ events
    def draw(found, opacity_):
        from hub_models.segmentation import class_shares
        from hub_models.visual import enlarged, legend_html, mask_overlay

        mask, img, labels = found["mask"], found["image"], found["labels"]
        rows = class_shares(mask, labels)
        present = [labels.index(r[0]) for r in rows if r[0] in labels]
        shares_ = {"headers": [t("segmentation.col_class"), t("segmentation.col_share")], "data": rows}
        return enlarged(mask_overlay(img, mask, float(opacity_)))[0], legend_html(labels, present), shares_

    def segment(folder, image_, opacity_):
        from hub_models.segmentation import load_cached, segment_image

        folder = checked_model_folder(runner, folder)
        if not image_:
            raise UserError(t("segmentation.upload_image"))
        model = load_cached(folder)
        mask, img = segment_image(model, image_)
        found = {"mask": mask, "image": img, "labels": list(model.labels)}
        return *draw(found, opacity_), found

    def redraw(found, opacity_):
        """The opacity slider: the same class map drawn again, no network run."""
        if not found:
            return gr.skip(), gr.skip(), gr.skip()
        return draw(found, opacity_)

    def transposed(k, s, p):
        from hub_models.segmentation import transposed_conv_picture

        try:
            return transposed_conv_picture(int(k), int(s), int(p))
        except ValueError as e:  # the sliders allow a padding that removes the whole output: say why
            raise UserError(str(e)) from None

    answered(segment_btn.click, segment, [source, image, opacity], [overlay, legend, shares, result],
             api_name="segmentation_segment", **PREDICT)
    opacity.release(redraw, [result, opacity], [overlay, legend, shares], api_name="segmentation_opacity",
                    **INSTANT)
    image.change(lambda: None, None, result, api_visibility="private")
    for slider in (t_kernel, t_stride, t_padding):
        slider.release(transposed, [t_kernel, t_stride, t_padding], t_picture, api_visibility="private", **INSTANT)
    segment_tab.select(transposed, [t_kernel, t_stride, t_padding], t_picture, api_name="segmentation_transposed")
