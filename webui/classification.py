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
from training.tasks.classification import AUGMENTATIONS, BUILTIN, TIMM_PREFIX, ClassificationConfig

from .common import PREDICT, AppContext, answered, get_hub, hub_picker
from .forms import ConfigForm
from .inputs import DrawingInput, PhotoInput
from .jobs import JOB_KEY, checked_model_folder, chosen_data, hub_spec, job_panel, model_source, toggle_data_fields

TASK = get_task("classification")
TITLE = TASK.title
EXAMPLES = sorted(str(p) for p in (Path(__file__).resolve().parents[1] / "assets" / "examples").glob("digit-*.png"))
INTRO = """The convolutional networks of the course, sized to train in seconds on a CPU: **LeNet**,
**AlexNet** (ReLU, dropout), **VGG** (blocks of 3x3 convs), **NiN** (1x1 convs, global average pooling
instead of dense layers), **GoogLeNet** (Inception blocks), **ResNet** (residual blocks), **DenseNet**
(dense blocks, transition layers) and **MobileNet** (depthwise separable convs). Several come with and
without **BatchNorm**: train both on the built-in digits (scikit-learn's 8x8 handwritten digits,
offline) and compare their curves. NiN without BatchNorm barely moves in a few epochs; with it, it
passes 96 %. Any **timm** architecture trains too (`timm:<name>`, from scratch or fine-tuned from a
timm checkpoint on a hub), and Predict takes classifiers pulled from a hub: ours, timm's and
transformers' (`AutoModelForImageClassification`)."""


INSIDE_INTRO = """What the network learned, for the image above. **First-layer filters**: the kernels the first
convolution slides over the image (edges and colour blobs in a trained network, noise in an untrained one).
**Feature maps**: each convolution's output for this image, its most active channels, from the first layer
(edges) to the last (parts that only fire for some classes). **Saliency** (Simonyan et al., 2014): how much the
class score changes per pixel, |∂s/∂x|. **Occlusion** (Zeiler & Fergus, 2014): a grey square slides over the
image, and the map shows how far the class probability drops when each spot is hidden."""
SET_INTRO = """A labelled set through the network. Each image becomes the vector the last layer reads (the
**penultimate features**), drawn in 2-D by **PCA** (the two directions of largest variance) or **t-SNE**
(neighbours stay neighbours; distances between clusters mean little). Classes the network separates form
islands. Below: the images it gets wrong, most confident first: the error analysis that tells you whether to
collect data, fix labels, or change the model."""
SET_SOURCES = {"Its own validation split (trained here)": "own", "Built-in digits": "digits",
               "Upload a zip (one folder per class)": "upload"}
STARTER_LABEL = "starter: lenet on digits"
DATA_SOURCES = {"Built-in digits": "digits", "Upload a zip": "upload", "Dataset repo on the hub": "hub"}


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
    gr.Markdown(INTRO)
    form = ConfigForm(ClassificationConfig)
    with gr.Tab("Train"):
        gr.Markdown("The hub below is where dataset repos come from and where trained models go.")
        picker = hub_picker(ctx)
        with gr.Row():
            # The full list arrives on page load (listing it imports torch); the config validates the value.
            form.field("model", info=f"ours, or {TIMM_PREFIX}<any timm model>", scale=2)
            form.field("init_from", placeholder="you/resnet18-pets", scale=2,
                       info="a timm repo on the hub above; its head is replaced for your classes")
            source_kind = gr.Radio(list(DATA_SOURCES), value="Built-in digits", label="Data", scale=3)
            form.field("epochs", info=None, scale=1)
            form.field("batch_size", info=None, scale=1)
        with gr.Row():
            upload = gr.File(label="Zip with one folder per class (cats/1.jpg, dogs/2.png ...)", file_types=[".zip"],
                             type="filepath", visible=False)
            data_repo = gr.Textbox("", label="Dataset repo id (one folder per class, or image + label columns)",
                                   placeholder="you/my-images", visible=False)
            form.field("image_size", info=None)
            form.add("augment", gr.CheckboxGroup(list(AUGMENTATIONS), value=[],
                                                 label="Augmentation (training only)",
                                                 info="flip: mirror (not for digits!), crop: small shifts, jitter: "
                                                      "brightness and contrast"))
        with gr.Row():
            for name in ("optimizer", "lr", "schedule", "weight_decay", "seed", "export_onnx"):
                form.field(name, info=None)
        panel = job_panel(ctx, TASK.name, picker, metric=TASK.metric, unit="img/s",
                          picture_label="Confusion matrix (validation split)", picture=confusion_picture,
                          repo_placeholder="you/lenet-digits")

    with gr.Tab("Predict") as predict_tab:
        source = model_source(ctx, TASK.name, predict_tab, metric=TASK.metric, label="Model (trained here or pulled)",
                              pull_label="Repo id (ours, timm or transformers)",
                              placeholder="you/lenet-digits, timm/resnet18.a1_in1k ...", check=load_classifier_checked)
        with gr.Row():
            with gr.Column():
                # Our checks read the file, not Gradio's decoder: broken or hostile images get their message.
                image = PhotoInput(height=220)
                gr.Examples(EXAMPLES, inputs=image, label="Digits from the built-in sample")
                with gr.Accordion("Draw a digit", open=False):
                    drawing = DrawingInput(label="Pick the brush on the left, draw a digit, then Classify the drawing",
                                           type="filepath", canvas_size=(280, 280), height=340, layers=False,
                                           brush=gr.Brush(default_size=20, colors=["#000000"], color_mode="fixed"))
                    draw_btn = gr.Button("Classify the drawing")
                top_k = gr.Slider(1, 10, value=5, step=1, label="Top k")
                classify_btn = gr.Button("Classify", variant="primary")
            with gr.Column():
                labels = gr.Label(label="Prediction")
                seen = gr.Image(label="What the network sees (resized, grayscale models: light ink on dark)",
                                type="pil", height=160, interactive=False)
                summary = gr.Dataframe(headers=["layer", "type", "parameters"], interactive=False,
                                       label="Model summary", max_height=300)
        with gr.Accordion("Inside the network: filters, feature maps, saliency, occlusion", open=False):
            gr.Markdown(INSIDE_INTRO)
            with gr.Row():
                target = gr.Dropdown([], value=None, allow_custom_value=True, label="Class to explain",
                                     info="empty: the predicted one; Classify lists the top classes", scale=2)
                look_btn = gr.Button("Look inside", scale=1)
            inside_note = gr.Markdown()
            with gr.Row():
                filters = gr.Image(label="First-layer filters", type="pil", interactive=False)
                maps = gr.Image(label="Feature maps: the 8 most active channels of each layer (after ReLU)",
                                type="pil", interactive=False)
            with gr.Row():
                salient = gr.Image(label="Saliency |∂ score / ∂ pixel|", type="pil", interactive=False)
                occluded = gr.Image(label="Occlusion: the probability lost when each spot is hidden", type="pil",
                                    interactive=False)
        with gr.Accordion("A labelled set through the network: embeddings and mistakes", open=False):
            gr.Markdown(SET_INTRO)
            with gr.Row():
                set_kind = gr.Radio(list(SET_SOURCES), value=next(iter(SET_SOURCES)), label="Images", scale=3)
                set_upload = gr.File(label="Zip with one folder per class", file_types=[".zip"], type="filepath",
                                     visible=False, scale=2)
                method = gr.Radio(list(PROJECTIONS), value="t-SNE", label="Projection", scale=1)
                set_btn = gr.Button("Run the set through", scale=1)
            set_note = gr.Markdown()
            with gr.Row():
                projection = gr.Image(label="Penultimate features in 2-D, coloured by true class", type="pil",
                                      interactive=False)
                wrong = gr.Gallery(label="Misclassified, most confident first (true -> predicted)", columns=4,
                                   height=480)
            per_class = gr.Dataframe(headers=["class", "images", "accuracy"], interactive=False,
                                     label="Accuracy by class", max_height=240)

    # ------------------------------------------------------------------ events
    def start_job(source_kind, upload, data_repo, choice, url, token, **values):
        from training.data import extract_upload, find_class_folders

        form.config(values)  # a bad value is reported before an upload is unpacked
        hub = get_hub(choice, url, token)
        dataset, name, _ = chosen_data(
            DATA_SOURCES, source_kind, upload, data_repo, builtin=BUILTIN,
            missing="Upload a zip with one folder per class.",
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
            raise UserError("Upload an image or pick an example.")
        model = load_classifier(folder)
        result, network_input = classify(model, image_, top_k=int(k))
        return (result, network_input.resize((140, 140), 0), [list(r) for r in model_summary(model)],
                gr.update(choices=list(result)))

    def predict_drawing(folder, drawn, k):
        """The drawing, framed as the digits are, into the image input (Look inside explains it from there), and
        classified."""
        from hub_models.inference import centred_drawing

        framed = centred_drawing(drawn) if drawn else None
        if framed is None:
            raise UserError("Draw a digit first: pick the brush on the left of the canvas.")
        return framed, *predict(folder, framed, k)

    def look(folder, image_, target_):
        from hub_models.inference import load_classifier
        from hub_models.inside import look_inside

        folder = checked_model_folder(runner, folder)
        if not image_:
            raise UserError("Upload an image or pick an example.")
        seen_ = look_inside(load_classifier(folder), image_, target_ or None)
        note = (f"Explaining **{seen_.target}** (probability {seen_.probability:.2f}). Hiding the most telling "
                f"spot leaves {seen_.lowest:.2f}.")
        if seen_.filters is None:
            note += " This model has no convolution: no filters or feature maps to show."
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
        note = (f"Accuracy **{views.accuracy:.1%}** on {views.count} images; {len(views.mistakes)} of the wrong "
                f"ones shown." if views.mistakes else f"Accuracy **{views.accuracy:.1%}** on {views.count} images.")
        return note, views.projection, views.mistakes, [[c, n, round(a, 3)] for c, n, a in views.per_class]

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
                raise UserError("Upload a zip with one folder per class.")
            folder = extract_upload(upload_, runner.root / "uploads")
            count = len(image_files(folder))
            if count > MAX_POINTS:  # decoded, a big zip would fill the memory before a sample is drawn
                raise UserError(f"The zip holds {count:,} images; the set views take up to {MAX_POINTS:,}: zip a "
                                "sample of each class.")
            return lambda size: load_dataset_spec(str(folder), size, "local")[:3]
        if not picked.startswith(JOB_KEY):
            raise UserError("A pulled model has no validation split here: pick the built-in digits or upload a zip.")
        cfg = config_of(ClassificationConfig, runner.get(picked.removeprefix(JOB_KEY)).config)

        def own(size: int):
            try:
                return validation_images(cfg, size)
            except TrainingError as e:
                raise UserError(f"cannot read the job's data again ({e}): upload it as a zip instead") from None
        return own

    toggle_data_fields(source_kind, DATA_SOURCES, {upload: ("upload",), data_repo: ("hub",)})
    form.submit(panel.start, start_job, panel.job, api_name="classification_train",
                extra={"source_kind": source_kind, "upload": upload, "data_repo": data_repo, **picker.named})

    answered(classify_btn.click, predict, [source, image, top_k], [labels, seen, summary, target],
             api_name="classification_predict", **PREDICT)
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

