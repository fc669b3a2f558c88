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
from hub_models.detection import TinySSD, anchor_picture, detect_image, load_detector, show_detections

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL, REVISION = "$model_id", "$revision"
HUB = os.environ.get("DLP_MODEL_HUB") or "$endpoint" or None  # None: huggingface.co
EXAMPLES = [os.path.join(HERE, "examples", f) for f in ("shapes-1.png", "shapes-2.png", "shapes-3.png")]

model = load_detector(snapshot_download(MODEL, revision=REVISION, endpoint=HUB,
                                        token=os.environ.get("HF_TOKEN") or None))


def detect(image, score, iou):
    """The kept boxes drawn (NMS's victims in grey), their table, NMS step by step; and the candidates."""
    if not image:
        raise gr.Error("Give an image first (upload one or pick an example).", print_exception=False)
    try:
        found = detect_image(model, image)
        return *show_detections(image, found, float(score), float(iou)), {**found, "image": image}
    except UserError as e:
        raise gr.Error(str(e), print_exception=False) from None


def refilter(found, score, iou):
    if not found:
        return gr.skip(), gr.skip(), gr.skip()
    return show_detections(found["image"], found, float(score), float(iou))


def anchors(image, found, scale, score, iou):
    if not image:
        raise gr.Error("Give an image first.", print_exception=False)
    same = found if found and found.get("image") == image else None
    try:
        return anchor_picture(model, image, int(scale), same, float(score), float(iou))
    except UserError as e:
        raise gr.Error(str(e), print_exception=False) from None


with gr.Blocks(title="$title") as demo:
    gr.Markdown(f"# $title\nAn object detector for {', '.join(model.labels)}: `{MODEL}` at `{REVISION[:8]}`.")
    found = gr.State(None)
    with gr.Row():
        with gr.Column():
            image = gr.Image(type="filepath", label="Your image")
            score = gr.Slider(0.01, 0.99, value=0.5, step=0.01, label="Score threshold")
            iou = gr.Slider(0.05, 1.0, value=0.5, step=0.05, label="NMS IoU threshold",
                            info="a box overlapping a better one of its class by more than this is suppressed")
            button = gr.Button("Detect", variant="primary")
        with gr.Column():
            picture = gr.Image(label="Detections (grey: boxes NMS removed)", type="pil")
            table = gr.Dataframe(headers=["class", "score", "x1", "y1", "x2", "y2"], interactive=False)
    gr.Examples([[e] for e in EXAMPLES if os.path.exists(e)], image)
    with gr.Accordion("NMS step by step", open=False):
        steps = gr.Dataframe(headers=["step", "kept (highest score left)", "suppressed", "which (IoU with kept)"],
                             interactive=False)
    if isinstance(model, TinySSD):
        with gr.Accordion("Anchors", open=False):
            gr.Markdown("Dots: the cells of the chosen feature map. White: the anchors of the centre cell. "
                        "Coloured: the anchors matched (IoU >= 0.5) to what was detected.")
            scale = gr.Slider(1, len(model.sizes), value=1, step=1, label="Feature-map scale (1: the finest)")
            anchors_button = gr.Button("Show anchors")
            anchors_image = gr.Image(label="Anchors", type="pil")
        anchors_button.click(anchors, [image, found, scale, score, iou], anchors_image, api_name="anchors")
    button.click(detect, [image, score, iou], [picture, table, steps, found], api_name="detect")
    for slider in (score, iou):
        slider.release(refilter, [found, score, iou], [picture, table, steps], api_visibility="private",
                       show_progress="hidden")

if __name__ == "__main__":
    demo.launch()
