"""Object detection tab: detect with sliders that re-filter, see anchors and NMS at work, train, push."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from hub_models import hub as hubs

from .common import AppContext, get_hub, hub_picker
from .jobs import checked_model_folder, chosen_data, hub_spec, job_panel, model_source, toggle_data_fields
from .plots import saved_picture

TITLE = "Object detection"
TASK = "detection"
EXAMPLES = sorted(str(p) for p in (Path(__file__).resolve().parents[1] / "assets" / "examples").glob("shapes-*.png"))
INTRO = """A detector predicts **bounding boxes** and their classes. **TinySSD**, written from the lessons,
puts **anchor boxes** of several sizes and shapes on every cell of feature maps at four scales (fine maps
for small objects, coarse ones for big objects); training **matches** each object to the anchors it
overlaps most (**IoU**, intersection over union) and learns, per anchor, a class and the **offsets** to the
object's box. At prediction many anchors fire on the same object: **non-maximum suppression** keeps the
best box and drops those overlapping it by more than the IoU threshold. Move the sliders to re-filter the
same predictions, open *NMS step by step* to see who suppressed whom, and *Anchors* to see the boxes one
scale offers. torchvision's **Faster R-CNN** (two stages: proposals, then RoI heads), **RetinaNet**
(focal loss), **FCOS** (anchor-free) and **SSDlite** train the same way; DETR-family models pulled from
a hub run too. Metric: **mAP** (COCO protocol) at IoU 0.5 and averaged over IoU 0.5:0.95. The built-in
data are scenes of ellipses, rectangles and triangles drawn with exact boxes."""

DATA_SOURCES = {"Built-in shapes": "builtin", "Upload a zip (COCO or YOLO)": "upload", "Dataset repo on the hub": "hub"}
MAX_CANDIDATES_SHOWN = 300


def _check(folder: Path) -> None:
    """A pulled repo must load as a detector (InputError says why not)."""
    from hub_models.detection import load_detector

    load_detector(folder)


def detector_names() -> list[str]:
    from hub_models.detection import DETECTORS  # imports torch: only once the page is open

    return list(DETECTORS)


def build(ctx: AppContext) -> None:
    runner = ctx.runner
    gr.Markdown(INTRO)
    with gr.Tab("Train"):
        gr.Markdown("The hub below is where dataset repos come from and where trained models go.")
        picker = hub_picker(ctx)
        with gr.Row():
            # The full list arrives on page load (listing it imports torch); the handler validates the value.
            model = gr.Dropdown(["tinyssd"], value="tinyssd", label="Detector", scale=2, allow_custom_value=True,
                                info="torchvision's start from random weights here (no download)")
            source_kind = gr.Radio(list(DATA_SOURCES), value="Built-in shapes", label="Data", scale=4)
            upload = gr.File(label="Zip: images + a COCO instances JSON, or YOLO images/ + labels/ (+ data.yaml)",
                             file_types=[".zip"], type="filepath", visible=False, scale=3)
            data_repo = gr.Textbox(label="Dataset repo id (COCO or YOLO layout)", placeholder="you/my-boxes",
                                   visible=False, scale=3)
        with gr.Row():
            epochs = gr.Number(8, label="Epochs", precision=0, minimum=1, maximum=300)
            batch = gr.Number(32, label="Batch size", precision=0, minimum=1, maximum=512)
            image_size = gr.Number(128, label="Image size", precision=0, minimum=64, maximum=1024,
                                   info="a multiple of 64 for TinySSD")
            lr = gr.Number(3e-3, label="Learning rate", minimum=1e-7, maximum=1)
            flip = gr.Checkbox(True, label="Random horizontal flips")
            seed = gr.Number(0, label="Seed", precision=0)
        panel = job_panel(ctx, TASK, picker, metric="map50", unit="img/s",
                          picture_label="Detections on validation images (score >= 0.4)",
                          picture=saved_picture("val_predictions.png"), repo_placeholder="you/tinyssd-shapes")

    with gr.Tab("Detect") as detect_tab:
        source = model_source(ctx, TASK, detect_tab, metric="map50", label="Model (trained here or pulled)",
                              pull_label="Repo id (ours, or a transformers object detector: DETR, YOLOS...)",
                              placeholder="you/tinyssd-shapes", check=_check)
        cands = gr.State(None)  # the network's scored boxes before NMS: the sliders re-filter these
        with gr.Row():
            with gr.Column():
                image = gr.File(label="Image (PNG, JPEG, BMP, GIF, TIFF, WebP)", file_types=["image"],
                                type="filepath", height=140)
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
    def start_job(model_, kind, upload_, repo_, epochs_, batch_, size_, lr_, flip_, seed_, choice, url, token):
        from training.data import extract_upload
        from training.detection_data import check_detection_folder

        if model_ not in detector_names():
            raise gr.Error(f"Pick a detector: {', '.join(detector_names())}.")
        size_ = int(size_ or 128)
        if model_ == "tinyssd" and size_ % 64:
            raise gr.Error(f"TinySSD needs an image size that is a multiple of 64 (not {size_}): try 128 or 256.")
        hub = get_hub(choice, url, token)
        dataset, name, _ = chosen_data(DATA_SOURCES, kind, upload_, repo_, builtin="shapes",
                                       missing="Upload a zip with images and COCO or YOLO annotations.",
                                       keep=lambda f: extract_upload(f, runner.root / "uploads"),
                                       check=check_detection_folder)
        cfg = {"model": model_, "dataset": dataset, "epochs": int(epochs_), "batch_size": int(batch_),
               "image_size": size_, "lr": float(lr_), "flip": bool(flip_), "seed": int(seed_), "hub": hub_spec(hub)}
        j = runner.submit(TASK, cfg, label=f"{model_} on {name}", secret_env=hubs.job_env(hub))
        return gr.update(choices=panel.choices(), value=j.id)

    def detect(folder, image_, score_, iou_):
        from hub_models.detection import detect_image, load_cached, show_detections
        from hub_models.inference import InputError

        folder = checked_model_folder(runner, folder)
        if not image_:
            raise gr.Error("Upload an image or pick an example.")
        try:
            found = detect_image(load_cached(folder), image_)
            shown = show_detections(image_, found, float(score_), float(iou_))
        except InputError as e:
            raise gr.Error(str(e)) from None
        return *shown, {**found, "image": image_}

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

    def show_anchors(folder, found, scale_, score_, iou_, image_):
        from hub_models.detection import anchor_picture, load_cached
        from hub_models.inference import InputError

        folder = checked_model_folder(runner, folder)
        image_ = image_ or (found or {}).get("image")
        if not image_:
            raise gr.Error("Upload an image or pick an example.")
        same = found if found and found.get("image") == image_ else None
        try:
            return anchor_picture(load_cached(folder), image_, int(scale_), same, float(score_), float(iou_))
        except InputError as e:
            raise gr.Error(str(e)) from None

    toggle_data_fields(source_kind, DATA_SOURCES, {upload: ("upload",), data_repo: ("hub",)})
    form = [model, source_kind, upload, data_repo, epochs, batch, image_size, lr, flip, seed, *picker.inputs]
    panel.start.click(start_job, form, panel.job, api_name="detection_train")
    outputs = [picture, table, steps]
    detect_btn.click(detect, [source, image, score, iou], [*outputs, cands], api_name="detection_detect")
    score.release(refilter, [cands, score, iou], outputs, api_name="detection_filter", show_progress="hidden")
    iou.release(refilter, [cands, score, iou], outputs, api_visibility="private", show_progress="hidden")
    image.change(lambda: None, None, cands, api_visibility="private")
    ctx.demo.load(lambda: gr.update(choices=detector_names()), None, model, api_visibility="private")
    anchors_btn.click(show_anchors, [source, cands, scale, score, iou, image], anchors_img, api_name="detection_anchors")
