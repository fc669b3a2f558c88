"""Semantic segmentation tab: segment with an opacity slider and a legend, train U-Net/FCN/torchvision, push."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from common.errors import UserError
from training.tasks import get_task

from .common import PREDICT, AppContext, answered
from .inputs import PhotoInput
from .jobs import checked_model_folder, model_source
from .vision import VisionForm, vision_train

TASK = get_task("segmentation")
TITLE = TASK.title
EXAMPLES = sorted(str(p) for p in (Path(__file__).resolve().parents[1] / "assets" / "examples").glob("shapes-*.png"))
INTRO = """Semantic segmentation labels every **pixel** with a class. An **FCN** (fully convolutional network)
shrinks the image to a coarse map of class scores with a CNN and a 1x1 convolution, then brings it back to
full size with one **transposed convolution** initialised to bilinear upsampling; **U-Net** climbs back in
steps of 2x2 transposed convolutions and, at each step, concatenates the encoder's map of the same size (the
skip connections keep edges sharp: compare the two on the built-in shapes). torchvision's **DeepLabV3**
(atrous spatial pyramid pooling), **LR-ASPP** and **FCN-ResNet50** train the same way; SegFormer-family
repos (`AutoModelForSemanticSegmentation`) pulled from a hub run too, and fine-tune from their ADE20K
weights (*Fine-tune from*). Metric: **IoU** per class (the
overlap of predicted and true pixels over their union) and its mean, **mIoU**, plus pixel accuracy.
Open *Transposed convolution* to see what one does to a small map."""

DATA_SOURCES = {"Built-in shapes": "builtin", "Upload a zip (images/ + masks/)": "upload",
                "Dataset repo on the hub": "hub"}


def _check(folder: Path) -> None:
    from hub_models.segmentation import load_segmenter

    load_segmenter(folder)


def _check_folder(folder: str) -> str:
    from training.segmentation_data import check_segmentation_folder

    return check_segmentation_folder(folder)


def build(ctx: AppContext) -> None:
    runner = ctx.runner
    gr.Markdown(INTRO)
    with gr.Tab("Train"):
        vision_train(ctx, VisionForm(
            task=TASK, model_label="Model", data_sources=DATA_SOURCES,
            upload_label="Zip: images/ and masks/ (PNG class ids or palette; classes.txt, palette.json)",
            repo_label="Dataset repo id (images/ + masks/)", repo_placeholder="you/my-masks",
            missing_upload="Upload a zip with images/ and masks/.", check_folder=_check_folder,
            picture_label="Validation images: image | true mask | predicted mask", push_placeholder="you/unet-shapes"))

    with gr.Tab("Segment") as segment_tab:
        source = model_source(ctx, TASK.name, segment_tab, metric=TASK.metric, label="Model (trained here or pulled)",
                              pull_label="Repo id (ours, or a transformers semantic segmenter: SegFormer...)",
                              placeholder="you/unet-shapes", check=_check)
        result = gr.State(None)  # the class map of the last image: the opacity slider redraws from it
        with gr.Row():
            with gr.Column():
                image = PhotoInput(height=220)
                gr.Examples(EXAMPLES, inputs=image, label="Scenes like the built-in sample")
                opacity = gr.Slider(0, 1, value=0.6, step=0.05, label="Mask opacity")
                segment_btn = gr.Button("Segment", variant="primary")
            with gr.Column():
                overlay = gr.Image(label="Classes over the image", type="pil", buttons=["download"])
                legend = gr.HTML()
                shares = gr.Dataframe(headers=["class", "% of pixels"], interactive=False, label="Pixel share")
        with gr.Accordion("Transposed convolution", open=False):
            gr.Markdown("Each input value scales a copy of the kernel, placed *stride* pixels apart in the output; "
                        "overlaps add up. Padding removes rows and columns from the output's border (a normal "
                        "convolution's padding adds them to its input). With stride 8 and a 16x16 bilinear "
                        "kernel it upsamples a coarse class-score map smoothly: FCN's last layer.")
            with gr.Row():
                t_kernel = gr.Slider(1, 4, value=2, step=1, label="Kernel size")
                t_stride = gr.Slider(1, 3, value=1, step=1, label="Stride")
                t_padding = gr.Slider(0, 2, value=0, step=1, label="Padding")
            t_picture = gr.Image(label="Input * kernel -> output", type="pil")

    # ------------------------------------------------------------------ events
    def draw(found, opacity_):
        from hub_models.segmentation import class_shares
        from hub_models.visual import enlarged, legend_html, mask_overlay

        mask, img, labels = found["mask"], found["image"], found["labels"]
        rows = class_shares(mask, labels)
        present = [labels.index(r[0]) for r in rows if r[0] in labels]
        return enlarged(mask_overlay(img, mask, float(opacity_)))[0], legend_html(labels, present), rows

    def segment(folder, image_, opacity_):
        from hub_models.segmentation import load_cached, segment_image

        folder = checked_model_folder(runner, folder)
        if not image_:
            raise UserError("Upload an image or pick an example.")
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
                    show_progress="hidden")
    image.change(lambda: None, None, result, api_visibility="private")
    for slider in (t_kernel, t_stride, t_padding):
        slider.release(transposed, [t_kernel, t_stride, t_padding], t_picture, api_visibility="private")
    segment_tab.select(transposed, [t_kernel, t_stride, t_padding], t_picture, api_name="segmentation_transposed")
