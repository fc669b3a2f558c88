"""$title: a semantic segmentation model, as its own demo.

It loads $model_id (revision $revision) from $hub_label and labels every pixel of your image with a class.
The opacity slider redraws the same class map without running the network again. The code under hub_models/
and common/ is DL Playground's own, copied here: it is what defines the network.
"""
import os

import gradio as gr
from huggingface_hub import snapshot_download

from common.errors import UserError
from common.i18n import MARKERS_HEAD, strings, t
from hub_models.segmentation import class_shares, load_segmenter, segment_image, transposed_conv_picture
from hub_models.visual import enlarged, legend_html, mask_overlay

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL, REVISION = "$model_id", "$revision"
HUB = os.environ.get("DLP_MODEL_HUB") or "$endpoint" or None  # None: huggingface.co
EXAMPLES = [os.path.join(HERE, "examples", f) for f in ("shapes-1.png", "shapes-2.png", "shapes-3.png")]

model = load_segmenter(snapshot_download(MODEL, revision=REVISION, endpoint=HUB,
                                         token=os.environ.get("HF_TOKEN") or None))
LABELS = list(model.labels)
I18N = gr.I18n(**strings())  # the page's words in every language (common/locales/): the browser picks one


def intro():
    """The page's heading, in the visitor's language."""
    return "# $title\n" + t("space.segmentation_intro", labels=", ".join(LABELS), model=MODEL, revision=REVISION[:8])


def draw(found, opacity):
    rows = class_shares(found["mask"], LABELS)
    present = [LABELS.index(r[0]) for r in rows if r[0] in LABELS]
    shares = {"headers": [t("space.col_class"), t("space.col_share")], "data": rows}  # (in the visitor's language)
    picture = enlarged(mask_overlay(found["image"], found["mask"], float(opacity)))[0]
    return picture, legend_html(LABELS, present), shares


def segment(image, opacity):
    """The class map over the image, its legend, each class's share of the pixels; and the map, for redraws."""
    if not image:
        raise gr.Error(t("space.give_image"), print_exception=False, title=t("space.error_title"))
    try:
        mask, img = segment_image(model, image)
    except UserError as e:
        raise gr.Error(str(e), print_exception=False, title=t("space.error_title")) from None
    found = {"mask": mask, "image": img}
    return *draw(found, opacity), found


def redraw(found, opacity):
    return draw(found, opacity) if found else (gr.skip(), gr.skip(), gr.skip())


def transposed(k, s, p):
    try:
        return transposed_conv_picture(int(k), int(s), int(p))
    except ValueError as e:
        raise gr.Error(str(e), print_exception=False, title=t("space.error_title")) from None


with gr.Blocks(title="$title") as demo:
    heading = gr.Markdown(intro())
    found = gr.State(None)
    with gr.Row():
        with gr.Column():
            image = gr.Image(type="filepath", label=I18N("space.your_image"))
            opacity = gr.Slider(0, 1, value=0.55, step=0.05, label=I18N("space.opacity"))
            button = gr.Button(I18N("space.segment"), variant="primary")
        with gr.Column():
            picture = gr.Image(label=I18N("space.classes_over_image"), type="pil")
            legend = gr.HTML()
            shares = gr.Dataframe(headers=[str(I18N("space.col_class")), str(I18N("space.col_share"))],
                                  interactive=False)
    gr.Examples([[e] for e in EXAMPLES if os.path.exists(e)], image, label=I18N("space.examples"))
    with gr.Accordion(I18N("space.upsampling"), open=False):
        with gr.Row():
            k = gr.Slider(1, 4, value=2, step=1, label=I18N("space.kernel_size"))
            s = gr.Slider(1, 3, value=1, step=1, label=I18N("space.stride"))
            p = gr.Slider(0, 2, value=0, step=1, label=I18N("space.padding"))
        lesson = gr.Image(label=I18N("space.transposed_picture"), type="pil")
        for slider in (k, s, p):
            slider.release(transposed, [k, s, p], lesson, api_visibility="private")
        demo.load(transposed, [k, s, p], lesson, api_visibility="private")
    demo.load(intro, None, heading, api_visibility="private", show_progress="hidden")
    button.click(segment, [image, opacity], [picture, legend, shares, found], api_name="segment")
    opacity.release(redraw, [found, opacity], [picture, legend, shares], api_visibility="private",
                    show_progress="hidden")

if __name__ == "__main__":
    demo.launch(i18n=I18N, head=MARKERS_HEAD)
