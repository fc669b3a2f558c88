"""Object detection tab: detect with sliders that re-filter, see anchors and NMS at work, train, push."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from common.errors import UserError
from training.tasks import get_task
from training.tasks.detection import TINYSSD_STRIDE

from .common import PREDICT, AppContext, answered
from .inputs import PhotoInput
from .jobs import checked_model_folder, model_source
from .vision import VisionForm, vision_train

TASK = get_task("detection")
TITLE = TASK.title
EXAMPLES = sorted(str(p) for p in (Path(__file__).resolve().parents[1] / "assets" / "examples").glob("shapes-*.png"))
INTRO = """A detector predicts **bounding boxes** and their classes. **TinySSD**, written from the lessons,
puts **anchor boxes** of several sizes and shapes on every cell of feature maps at four scales (fine maps
for small objects, coarse ones for big objects); training **matches** each object to the anchors it
overlaps most (**IoU**, intersection over union) and learns, per anchor, a class and the **offsets** to the
object's box. At prediction many anchors fire on the same object: **non-maximum suppression** keeps the
best box and drops those overlapping it by more than the IoU threshold. Move the sliders to re-filter the
same predictions, open *NMS step by step* to see who suppressed whom, and *Anchors* to see the boxes one
scale offers. torchvision's **Faster R-CNN** (two stages: proposals, then RoI heads), **RetinaNet**
(focal loss), **FCOS** (anchor-free) and **SSDlite** train the same way. **DETR** (Carion et al., 2020) has no
anchors and no NMS: a transformer predicts a set of boxes, matched one-to-one to the true ones for the loss;
pull one (or YOLOS) from a hub, or fine-tune from its COCO weights (*Fine-tune from*). Metric: **mAP** (COCO protocol) at IoU 0.5 and averaged over IoU 0.5:0.95. The built-in
data are scenes of ellipses, rectangles and triangles drawn with exact boxes."""

DATA_SOURCES = {"Built-in shapes": "builtin", "Upload a zip (COCO or YOLO)": "upload", "Dataset repo on the hub": "hub"}
MAX_CANDIDATES_SHOWN = 300


def _check(folder: Path) -> None:
    """A pulled repo must load as a detector (InputError says why not)."""
    from hub_models.detection import load_detector

    load_detector(folder)


def _check_folder(folder: str) -> str:
    from training.detection_data import check_detection_folder

    return check_detection_folder(folder)


def build(ctx: AppContext) -> None:
    runner = ctx.runner
    gr.Markdown(INTRO)
    with gr.Tab("Train"):
        vision_train(ctx, VisionForm(
            task=TASK, model_label="Detector", data_sources=DATA_SOURCES,
            upload_label="Zip: images + a COCO instances JSON, or YOLO images/ + labels/ (+ data.yaml)",
            repo_label="Dataset repo id (COCO or YOLO layout)", repo_placeholder="you/my-boxes",
            missing_upload="Upload a zip with images and COCO or YOLO annotations.",
            check_folder=_check_folder, picture_label="Detections on validation images (score >= 0.4)",
            push_placeholder="you/tinyssd-shapes", size_info=f"a multiple of {TINYSSD_STRIDE} for TinySSD"))

    with gr.Tab("Detect") as detect_tab:
        source = model_source(ctx, TASK.name, detect_tab, metric=TASK.metric, label="Model (trained here or pulled)",
                              pull_label="Repo id (ours, or a transformers object detector: DETR, YOLOS...)",
                              placeholder="you/tinyssd-shapes", check=_check)
        cands = gr.State(None)  # the network's scored boxes before NMS: the sliders re-filter these
        with gr.Row():
            with gr.Column():
                image = PhotoInput(height=220)
                gr.Examples(EXAMPLES, inputs=image, label="Scenes like the built-in sample")
                score = gr.Slider(0.01, 0.99, value=0.5, step=0.01, label="Score threshold")
                iou = gr.Slider(0.05, 1.0, value=0.5, step=0.05, label="NMS IoU threshold",
                                info="1: no suppression (every overlapping box stays)")
                detect_btn = gr.Button("Detect", variant="primary")
            with gr.Column():
                picture = gr.Image(label="Detections (grey: boxes NMS removed)", type="pil", buttons=["download"])
                table = gr.Dataframe(headers=["class", "score", "x1", "y1", "x2", "y2"], interactive=False,
                                     label="Detections", max_height=240)
        with gr.Accordion("NMS step by step", open=False):
            steps = gr.Dataframe(headers=["step", "kept (highest score left)", "suppressed", "which (IoU with kept)"],
                                 interactive=False, max_height=300)
        with gr.Accordion("Anchors (TinySSD)", open=False):
            gr.Markdown("Dots: the cells of the chosen feature map. White: the anchors of the centre cell. "
                        "Coloured: anchors with IoU >= 0.5 with a detected object, the ones training would "
                        "have matched to it. Scale 1 is the finest map (small objects).")
            with gr.Row():
                scale = gr.Slider(1, 4, value=1, step=1, label="Feature-map scale")
                anchors_btn = gr.Button("Show anchors")
            anchors_img = gr.Image(label="Anchors", type="pil")

    # ------------------------------------------------------------------ events
    def detect(folder, image_, score_, iou_):
        from hub_models.detection import detect_image, load_cached, show_detections

        folder = checked_model_folder(runner, folder)
        if not image_:
            raise UserError("Upload an image or pick an example.")
        found = detect_image(load_cached(folder), image_)
        return *show_detections(image_, found, float(score_), float(iou_)), {**found, "image": image_}

    def refilter(found, score_, iou_):
        """The sliders: the same candidates through new thresholds, no network run."""
        from hub_models.detection import show_detections
        from hub_models.inference import InputError

        if not found:
            return gr.skip(), gr.skip(), gr.skip()
        try:
            return show_detections(found["image"], found, float(score_), float(iou_))
        except InputError:  # the uploaded file is gone (a new upload replaced it): wait for Detect
            return gr.skip(), gr.skip(), gr.skip()

    def show_anchors(folder, found, scale, score, iou, image):
        from hub_models.detection import anchor_picture, load_cached

        folder = checked_model_folder(runner, folder)
        image = image or (found or {}).get("image")
        if not image:
            raise UserError("Upload an image or pick an example.")
        same = found if found and found.get("image") == image else None  # the boxes detected on this image
        return anchor_picture(load_cached(folder), image, int(scale), same, float(score), float(iou))

    outputs = [picture, table, steps]
    answered(detect_btn.click, detect, [source, image, score, iou], [*outputs, cands], api_name="detection_detect",
             **PREDICT)
    score.release(refilter, [cands, score, iou], outputs, api_name="detection_filter", show_progress="hidden")
    iou.release(refilter, [cands, score, iou], outputs, api_visibility="private", show_progress="hidden")
    image.change(lambda: None, None, cands, api_visibility="private")
    anchors_btn.click(show_anchors, None, anchors_img, api_name="detection_anchors",
                      inputs_kwargs={"folder": source, "found": cands, "scale": scale, "score": score, "iou": iou,
                                     "image": image})
