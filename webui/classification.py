"""Image classification tab: try a model on an image, train one with live curves, push it."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from common.errors import UserError
from hub import client as hubs
from hub_models.catalog import PROJECTIONS
from hub_models.visual import confusion_picture
from training.config import TrainingError
from training.runner import JobRunner
from training.tasks import get_task
from training.tasks.classification import AUGMENTATIONS, BUILTIN, ClassificationConfig

from .common import PREDICT, AppContext, answered, get_hub, hub_picker
from .forms import ConfigForm
from .i18n import L, choice, t
from .inputs import DrawingInput, PhotoInput
from .jobs import JOB_KEY, checked_model_folder, chosen_data, hub_spec, job_panel, model_source, toggle_data_fields

TASK = get_task("classification")
TITLE = TASK.title
EXAMPLES = sorted(str(p) for p in (Path(__file__).resolve().parents[1] / "assets" / "examples").glob("digit-*.png"))
# The radios' values (what the handlers and the API get); the page shows their choice() texts.
SET_SOURCES = {"Its own validation split (trained here)": "own", "Built-in digits": "digits",  # i18n: not shown
               "Upload a zip (one folder per class)": "upload"}  # i18n: not shown
SET_CHOICES = [choice("classification.set_own", "Its own validation split (trained here)"),  # i18n: not shown
               choice("classification.builtin_digits", "Built-in digits"),
               choice("classification.set_upload", "Upload a zip (one folder per class)")]  # i18n: not shown
# A job's name (data, compared below), like the "lenet on digits" of a run started in the form.
STARTER_LABEL = "starter: lenet on digits"  # i18n: not shown
DATA_SOURCES = {"Built-in digits": "digits", "Upload a zip": "upload",
                "Dataset repo on the hub": "hub"}  # i18n: not shown
DATA_CHOICES = [choice("classification.builtin_digits", "Built-in digits"),
                choice("classification.data_upload", "Upload a zip"),
                choice("classification.data_hub", "Dataset repo on the hub")]  # i18n: not shown


# The sketchpad opens with no tool picked ("select the draw tool to start"): one draws a digit with the brush, so
# opening the drawing picks it (its highlighted button is left alone: a second click opens its size menu).
PICK_BRUSH_JS = """() => {
    const pick = (tries) => {
        const brush = document.querySelector('#dlp-drawing button.quite-round');
        if (brush) { if (!brush.classList.contains('highlight')) brush.click(); }
        else if (tries > 0) setTimeout(() => pick(tries - 1), 100);
    };
    pick(50);
}"""

def start_starter_run(runner: JobRunner, hub: hubs.Hub) -> str | None:
    """On a hub with no image classifier yet, queue the run a new user would start first.

    It goes through the same runner, trainer and push path as any job: LeNet on the digits
    (a few seconds on two CPU cores), pushed to the local hub. Returns the job id, or None.
    """
    if any(j.label == STARTER_LABEL and j.status != "failed" for j in runner.jobs()):
        return None  # (a starter that failed, e.g. the app quit before its push, is tried again)
    try:
        if hubs.list_repos(hub, task="image-classification", limit=1):
            return None
        user = hubs.whoami(hub)
    except hubs.HubActionError:
        return None
    if not user:
        return None
    cfg = ClassificationConfig(model="lenet", dataset=BUILTIN, push_to_hub=f"{user}/lenet-digits", hub="local")
    job = runner.submit(cfg, label=STARTER_LABEL, secret_env=hubs.job_env(hub))
    return job.id


def load_classifier_checked(folder: Path) -> None:
    """A pulled repo must load as an image classifier (ours, timm or transformers)."""
    from hub_models.inference import load_classifier

    load_classifier(str(folder))


def build(ctx: AppContext) -> None:
    runner = ctx.runner
    gr.Markdown(L("classification.intro"))
    form = ConfigForm(ClassificationConfig)
    with gr.Tab(L("classification.train")):
        gr.Markdown(L("vision.hub_note"))
        picker = hub_picker(ctx)
        with gr.Row():
            # The full list arrives on page load (listing it imports torch); the config validates the value.
            form.field("model", info=L("classification.model_info"), scale=2)
            form.field("init_from", placeholder="you/resnet18-pets", scale=2,
                       info=L("classification.init_from_info"))
            source_kind = gr.Radio(DATA_CHOICES, value="Built-in digits", label=L("vision.data"), scale=3)
            form.field("epochs", info=None, scale=1)
            form.field("batch_size", info=None, scale=1)
        with gr.Row():
            upload = gr.File(label=L("classification.upload_zip"), file_types=[".zip"],
                             type="filepath", visible=False)
            data_repo = gr.Textbox("", label=L("classification.data_repo"),
                                   placeholder="you/my-images", visible=False)
            form.field("image_size", info=None)
            form.add("augment", gr.CheckboxGroup(list(AUGMENTATIONS), value=[],
                                                 label=L("classification.augment"),
                                                 info=L("classification.augment_info")))
        with gr.Row():
            for name in ("optimizer", "lr", "schedule", "weight_decay", "seed", "export_onnx"):
                form.field(name, info=None)
        panel = job_panel(ctx, TASK.name, picker, metric=TASK.metric, unit="img/s",
                          picture_label=L("classification.confusion"), picture=confusion_picture,
                          repo_placeholder="you/lenet-digits")

    with gr.Tab(L("classification.predict")) as predict_tab:
        source = model_source(ctx, TASK.name, predict_tab, metric=TASK.metric, label=L("classification.model"),
                              pull_label=L("classification.pull_label"),
                              placeholder="you/lenet-digits, timm/resnet18.a1_in1k ...", check=load_classifier_checked)
        with gr.Row():
            with gr.Column():
                # Our checks read the file, not Gradio's decoder: broken or hostile images get their message.
                image = PhotoInput(height=220)
                gr.Examples(EXAMPLES, inputs=image, label=L("classification.examples"))
                with gr.Accordion(L("classification.draw_digit"), open=False) as draw_box:
                    drawing = DrawingInput(label=L("classification.drawing"), elem_id="dlp-drawing",
                                           type="filepath", canvas_size=(280, 280), height=340, layers=False,
                                           brush=gr.Brush(default_size=20, colors=["#000000"], color_mode="fixed"))
                    draw_btn = gr.Button(L("classification.classify_drawing"))
                top_k = gr.Slider(1, 10, value=5, step=1, label=L("classification.top_k"))
                classify_btn = gr.Button(L("classification.classify"), variant="primary")
            with gr.Column():
                labels = gr.Label(label=L("classification.prediction"))
                seen = gr.Image(label=L("classification.seen"),
                                type="pil", height=160, interactive=False)
                summary = gr.Dataframe(headers=[str(L("classification.layer")), str(L("classification.type")),
                                                str(L("classification.parameters"))], interactive=False,
                                       label=L("classification.model_summary"), max_height=300)
        with gr.Accordion(L("classification.inside"), open=False):
            gr.Markdown(L("classification.inside_intro"))
            with gr.Row():
                target = gr.Dropdown([], value=None, allow_custom_value=True, label=L("classification.target"),
                                     info=L("classification.target_info"), scale=2)
                look_btn = gr.Button(L("classification.look_inside"), scale=1)
            inside_note = gr.Markdown()
            with gr.Row():
                filters = gr.Image(label=L("classification.filters"), type="pil", interactive=False)
                maps = gr.Image(label=L("classification.maps"),
                                type="pil", interactive=False)
            with gr.Row():
                salient = gr.Image(label=L("classification.saliency"), type="pil", interactive=False)
                occluded = gr.Image(label=L("classification.occlusion"), type="pil",
                                    interactive=False)
        with gr.Accordion(L("classification.set"), open=False):
            gr.Markdown(L("classification.set_intro"))
            with gr.Row():
                set_kind = gr.Radio(SET_CHOICES, value=next(iter(SET_SOURCES)), label=L("classification.images"),
                                    scale=3)
                set_upload = gr.File(label=L("classification.set_zip"), file_types=[".zip"], type="filepath",
                                     visible=False, scale=2)
                method = gr.Radio(list(PROJECTIONS), value="t-SNE", label=L("classification.projection"), scale=1)
                set_btn = gr.Button(L("classification.run_set"), scale=1)
            set_note = gr.Markdown()
            with gr.Row():
                projection = gr.Image(label=L("classification.projection_label"), type="pil",
                                      interactive=False)
                wrong = gr.Gallery(label=L("classification.mistakes"), columns=4,
                                   height=480)
            per_class = gr.Dataframe(headers=[str(L("classification.class")), str(L("classification.images_count")),
                                              str(L("classification.accuracy"))], interactive=False,
                                     label=L("classification.per_class"), max_height=240)

    # ------------------------------------------------------------------ events
    def start_job(source_kind, upload, data_repo, choice, url, token, **values):
        from training.data import extract_upload, find_class_folders

        form.config(values)  # a bad value is reported before an upload is unpacked
        hub = get_hub(choice, url, token)
        dataset, name, _ = chosen_data(
            DATA_SOURCES, source_kind, upload, data_repo, builtin=BUILTIN, hub=hub,
            missing=t("classification.missing_zip"),
            keep=lambda f: extract_upload(f, runner.root / "uploads"), check=find_class_folders)
        cfg = form.config(values, dataset=dataset, hub=hub_spec(hub))
        if cfg.init_from:
            hubs.check_repo_id(cfg.init_from.removeprefix("hf-hub:"))
        return panel.submit(cfg, f"{cfg.model} on {name}", hub)

    def predict(folder, image_, k):
        from hub_models.classification import model_summary
        from hub_models.inference import classify, load_classifier

        folder = checked_model_folder(runner, folder)
        if not image_:
            raise UserError(t("classification.no_image"))
        model = load_classifier(folder)
        result, network_input = classify(model, image_, top_k=int(k))
        rows = [list(r) for r in model_summary(model)]
        headers = [t("classification.layer"), t("classification.type"), t("classification.parameters")]
        return (result, network_input.resize((140, 140), 0), {"data": rows, "headers": headers},
                gr.update(choices=list(result)))

    def predict_drawing(folder, drawn, k):
        """The drawing, framed as the digits are, into the image input (Look inside explains it from there), and
        classified."""
        from hub_models.inference import centred_drawing

        framed = centred_drawing(drawn) if drawn else None
        if framed is None:
            raise UserError(t("classification.no_drawing"))
        return framed, *predict(folder, framed, k)

    def look(folder, image_, target_):
        from hub_models.inference import load_classifier
        from hub_models.inside import look_inside

        folder = checked_model_folder(runner, folder)
        if not image_:
            raise UserError(t("classification.no_image"))
        seen_ = look_inside(load_classifier(folder), image_, target_ or None)
        values = dict(target=seen_.target, probability=seen_.probability, lowest=seen_.lowest)
        note = (t("classification.explaining", **values) if seen_.filters is not None else
                t("classification.explaining_no_conv", **values))
        return note, seen_.filters, seen_.maps, seen_.saliency, seen_.occlusion

    def run_set(folder, kind_label, upload_, method_):
        from hub_models.inference import load_classifier
        from hub_models.inside import set_views

        picked = folder
        folder = checked_model_folder(runner, folder)
        load = labelled_set(SET_SOURCES.get(kind_label, "own"), picked, upload_)  # checked before the model loads
        model = load_classifier(folder)
        images, y, names = load(model.image_size)
        views = set_views(model, images, y, names, method_)
        note = (t("classification.set_accuracy_shown", accuracy=views.accuracy, count=views.count,
                  shown=len(views.mistakes)) if views.mistakes else
                t("classification.set_accuracy", accuracy=views.accuracy, count=views.count))
        rows = [[c, n, round(a, 3)] for c, n, a in views.per_class]
        headers = [t("classification.class"), t("classification.images_count"), t("classification.accuracy")]
        return note, views.projection, views.mistakes, {"data": rows, "headers": headers}

    def labelled_set(kind: str, picked: str, upload_: str | None):
        """The set views' images, checked now: a function of the model's image size giving (images in [0, 1],
        labels, class names)."""
        from hub_models.inside import MAX_POINTS
        from training.classification import load_digits_tensors, validation_images
        from training.data import extract_upload, image_files, load_dataset_spec
        from training.search import config_of

        if kind == "digits":
            return load_digits_tensors
        if kind == "upload":
            if not upload_:
                raise UserError(t("classification.missing_zip"))
            folder = extract_upload(upload_, runner.root / "uploads")
            count = len(image_files(folder))
            if count > MAX_POINTS:  # decoded, a big zip would fill the memory before a sample is drawn
                raise UserError(t("classification.zip_too_big", count=count, limit=MAX_POINTS))
            return lambda size: load_dataset_spec(str(folder), size, "local")[:3]
        if not picked.startswith(JOB_KEY):
            raise UserError(t("classification.no_split"))
        cfg = config_of(ClassificationConfig, runner.get(picked.removeprefix(JOB_KEY)).config)

        def own(size: int):
            try:
                return validation_images(cfg, size)
            except TrainingError as e:
                raise UserError(t("classification.cannot_reread", error=e)) from None
        return own

    toggle_data_fields(source_kind, DATA_SOURCES, {upload: ("upload",), data_repo: ("hub",)})
    form.submit(panel.start, start_job, panel.job, api_name="classification_train",
                extra={"source_kind": source_kind, "upload": upload, "data_repo": data_repo, **picker.named})

    answered(classify_btn.click, predict, [source, image, top_k], [labels, seen, summary, target],
             api_name="classification_predict", **PREDICT)
    draw_box.expand(None, None, None, js=PICK_BRUSH_JS)
    answered(draw_btn.click, predict_drawing, [source, drawing, top_k], [image, labels, seen, summary, target],
             api_name="classification_drawing", **PREDICT)
    inside_outputs = [inside_note, filters, maps, salient, occluded]
    answered(look_btn.click, look, [source, image, target], inside_outputs, api_name="classification_inside",
             **PREDICT)
    set_outputs = [set_note, projection, wrong, per_class]
    set_kind.change(lambda k: gr.update(visible=SET_SOURCES.get(k) == "upload"), set_kind, set_upload,
                    queue=False, api_visibility="private")
    answered(set_btn.click, run_set, [source, set_kind, set_upload, method], set_outputs,
             api_name="classification_set_views", **PREDICT)

