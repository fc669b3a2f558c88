"""$title: an object detector, as its own demo.

It loads $model_id (revision $revision) from $hub_label. The network scores many candidate boxes; the
score threshold and non-maximum suppression (NMS) decide which are kept, and the sliders re-decide from the
same candidates without running the network again. The code under hub_models/ and common/ is DL
Playground's own, copied here: it is what defines the network.
"""
import os

import gradio as gr
from huggingface_hub import snapshot_download

from common.errors import UserError
from common.i18n import MARKERS_HEAD, strings, t
from hub_models.detection import TinySSD, anchor_picture, detect_image, load_detector, show_detections

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL, REVISION = "$model_id", "$revision"
HUB = os.environ.get("DLP_MODEL_HUB") or "$endpoint" or None  # None: huggingface.co
EXAMPLES = [os.path.join(HERE, "examples", f) for f in ("shapes-1.png", "shapes-2.png", "shapes-3.png")]

model = load_detector(snapshot_download(MODEL, revision=REVISION, endpoint=HUB,
                                        token=os.environ.get("HF_TOKEN") or None))
I18N = gr.I18n(**strings())  # the page's words in every language (common/locales/): the browser picks one


def intro():
    """The page's heading, in the visitor's language."""
    return "# $title\n" + t("space.detection_intro", labels=", ".join(model.labels), model=MODEL,
                             revision=REVISION[:8])


def tables(picture, rows, nms_rows):
    """show_detections' picture and tables, the tables with headers in the visitor's language."""
    return (picture, {"headers": [t("space.col_class"), t("space.col_score"), "x1", "y1", "x2", "y2"], "data": rows},
            {"headers": [t("space.col_step"), t("space.col_kept"), t("space.col_suppressed"), t("space.col_which")],
             "data": nms_rows})


def detect(image, score, iou):
    """The kept boxes drawn (NMS's victims in grey), their table, NMS step by step; and the candidates."""
    if not image:
        raise gr.Error(t("space.give_image"), print_exception=False, title=t("space.error_title"))
    try:
        found = detect_image(model, image)
        return *tables(*show_detections(image, found, float(score), float(iou))), {**found, "image": image}
    except UserError as e:
        raise gr.Error(str(e), print_exception=False, title=t("space.error_title")) from None


def refilter(found, score, iou):
    if not found:
        return gr.skip(), gr.skip(), gr.skip()
    return tables(*show_detections(found["image"], found, float(score), float(iou)))


def anchors(image, found, scale, score, iou):
    if not image:
        raise gr.Error(t("space.give_image"), print_exception=False, title=t("space.error_title"))
    same = found if found and found.get("image") == image else None
    try:
        return anchor_picture(model, image, int(scale), same, float(score), float(iou))
    except UserError as e:
        raise gr.Error(str(e), print_exception=False, title=t("space.error_title")) from None


with gr.Blocks(title="$title") as demo:
    heading = gr.Markdown(intro())
    found = gr.State(None)
    with gr.Row():
        with gr.Column():
            image = gr.Image(type="filepath", label=I18N("space.your_image"))
            score = gr.Slider(0.01, 0.99, value=0.5, step=0.01, label=I18N("space.score_threshold"))
            iou = gr.Slider(0.05, 1.0, value=0.5, step=0.05, label=I18N("space.nms_iou"),
                            info=I18N("space.nms_iou_info"))
            button = gr.Button(I18N("space.detect"), variant="primary")
        with gr.Column():
            picture = gr.Image(label=I18N("space.detections"), type="pil")
            # (the tables' headers in the visitor's language come with their rows: tables)
            table = gr.Dataframe(headers=[str(I18N("space.col_class")), str(I18N("space.col_score")), "x1", "y1", "x2",
                                          "y2"], interactive=False)
    gr.Examples([[e] for e in EXAMPLES if os.path.exists(e)], image, label=I18N("space.examples"))
    with gr.Accordion(I18N("space.nms_steps"), open=False):
        steps = gr.Dataframe(headers=[str(I18N(f"space.col_{c}")) for c in ("step", "kept", "suppressed", "which")],
                             interactive=False)
    if isinstance(model, TinySSD):
        with gr.Accordion(I18N("space.anchors"), open=False):
            gr.Markdown(I18N("space.anchors_text"))
            scale = gr.Slider(1, len(model.sizes), value=1, step=1, label=I18N("space.scale"))
            anchors_button = gr.Button(I18N("space.show_anchors"))
            anchors_image = gr.Image(label=I18N("space.anchors"), type="pil")
        anchors_button.click(anchors, [image, found, scale, score, iou], anchors_image, api_name="anchors")
    button.click(detect, [image, score, iou], [picture, table, steps, found], api_name="detect")
    for slider in (score, iou):
        slider.release(refilter, [found, score, iou], [picture, table, steps], api_visibility="private",
                       show_progress="hidden")
    demo.load(intro, None, heading, api_visibility="private", show_progress="hidden")

if __name__ == "__main__":
    demo.launch(i18n=I18N, head=MARKERS_HEAD)
