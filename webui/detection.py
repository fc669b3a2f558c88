"""Object detection tab: detect with sliders that re-filter, see anchors and NMS at work, train, push."""
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

TASK = get_task("detection")
TITLE = TASK.title
EXAMPLES = sorted(str(p) for p in (Path(__file__).resolve().parents[1] / "assets" / "examples").glob("shapes-*.png"))
DATA_SOURCES = {  # (the values are what API calls send)
    choice("detection.data_builtin", "Built-in shapes"): "builtin",  # i18n: not shown
    choice("detection.data_upload", "Upload a zip (COCO or YOLO)"): "upload",  # i18n: not shown
    choice("detection.data_hub", "Dataset repo on the hub"): "hub",  # i18n: not shown
}
MAX_CANDIDATES_SHOWN = 300


def _check(folder: Path) -> None:
    """A pulled repo must load as a detector (InputError says why not)."""
    from hub_models.detection import load_detector

    load_detector(folder)


def _check_folder(folder: str) -> str:
    from training.detection_data import check_detection_folder

    return check_detection_folder(folder)


def _tables(picture, rows, nms_rows):
    """show_detections' picture and tables, the tables with headers in the visitor's language."""
    return (picture, {"headers": [t("detection.col_class"), t("detection.col_score"), "x1", "y1", "x2", "y2"],
                      "data": rows},
            {"headers": [t("detection.col_step"), t("detection.col_kept"), t("detection.col_suppressed"),
                         t("detection.col_which")], "data": nms_rows})


def build(ctx: AppContext) -> None:
    runner = ctx.runner
    gr.Markdown(L("detection.intro"))
    with gr.Tab(L("detection.train")):
        vision_train(ctx, VisionForm(
            task=TASK, model_label=L("detection.model_label"), data_sources=DATA_SOURCES,
            upload_label=L("detection.upload_label"), repo_label=L("detection.repo_label"),
            repo_placeholder="you/my-boxes",
            missing_upload=lambda: t("detection.missing_upload"),
            check_folder=_check_folder, picture_label=L("detection.picture_label"),
            push_placeholder="you/tinyssd-shapes", size_info=L("detection.size_info")))

    with gr.Tab(L("detection.detect")) as detect_tab:
        source = model_source(ctx, TASK.name, detect_tab, metric=TASK.metric, label=L("detection.model_source"),
                              pull_label=L("detection.pull_label"),
                              placeholder="you/tinyssd-shapes", check=_check)
        cands = gr.State(None)  # the network's scored boxes before NMS: the sliders re-filter these
        with gr.Row():
            with gr.Column():
                image = PhotoInput(height=220)
                gr.Examples(EXAMPLES, inputs=image, label=L("detection.examples"))
                score = gr.Slider(0.01, 0.99, value=0.5, step=0.01, label=L("detection.score"))
                iou = gr.Slider(0.05, 1.0, value=0.5, step=0.05, label=L("detection.iou"),
                                info=L("detection.iou_info"))
                detect_btn = gr.Button(L("detection.detect"), variant="primary")
            with gr.Column():
                picture = gr.Image(label=L("detection.picture"), type="pil", buttons=["download"])
                table = gr.Dataframe(headers=[str(L("detection.col_class")), str(L("detection.col_score")), "x1", "y1",
                                              "x2", "y2"], interactive=False,
                                     label=L("detection.table"), max_height=240)
        with gr.Accordion(L("detection.nms_steps"), open=False):
            steps = gr.Dataframe(headers=[str(L("detection.col_step")), str(L("detection.col_kept")),
                                          str(L("detection.col_suppressed")), str(L("detection.col_which"))],
                                 interactive=False, max_height=300)
        with gr.Accordion(L("detection.anchors_title"), open=False):
            gr.Markdown(L("detection.anchors_text"))
            with gr.Row():
                scale = gr.Slider(1, 4, value=1, step=1, label=L("detection.scale"))
                anchors_btn = gr.Button(L("detection.show_anchors"))
            anchors_img = gr.Image(label=L("detection.anchors"), type="pil")

    # ------------------------------------------------------------------ events
    def detect(folder, image_, score_, iou_):
        from hub_models.detection import detect_image, load_cached, show_detections

        folder = checked_model_folder(runner, folder)
        if not image_:
            raise UserError(t("detection.upload_image"))
        found = detect_image(load_cached(folder), image_)
        return *_tables(*show_detections(image_, found, float(score_), float(iou_))), {**found, "image": image_}

    def refilter(found, score_, iou_):
        """The sliders: the same candidates through new thresholds, no network run."""
        from hub_models.detection import show_detections
        from hub_models.inference import InputError

        if not found:
            return gr.skip(), gr.skip(), gr.skip()
        try:
            return _tables(*show_detections(found["image"], found, float(score_), float(iou_)))
        except InputError:  # the uploaded file is gone (a new upload replaced it): wait for Detect
            return gr.skip(), gr.skip(), gr.skip()

    def show_anchors(folder, found, scale, score, iou, image):
        from hub_models.detection import anchor_picture, load_cached

        folder = checked_model_folder(runner, folder)
        image = image or (found or {}).get("image")
        if not image:
            raise UserError(t("detection.upload_image"))
        same = found if found and found.get("image") == image else None  # the boxes detected on this image
        return anchor_picture(load_cached(folder), image, int(scale), same, float(score), float(iou))

    outputs = [picture, table, steps]
    answered(detect_btn.click, detect, [source, image, score, iou], [*outputs, cands], api_name="detection_detect",
             **PREDICT)
    score.release(refilter, [cands, score, iou], outputs, api_name="detection_filter", **INSTANT)
    iou.release(refilter, [cands, score, iou], outputs, api_visibility="private", **INSTANT)
    image.change(lambda: None, None, cands, api_visibility="private")
    anchors_btn.click(show_anchors, None, anchors_img, api_name="detection_anchors",
                      inputs_kwargs={"folder": source, "found": cands, "scale": scale, "score": score, "iou": iou,
                                     "image": image})
