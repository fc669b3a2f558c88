"""The Train side the vision tabs share (detection, segmentation, faces): model, built-in / zip / dataset-repo
data, epochs, batch, image size, learning rate, flips, seed, and the job panel; one start handler."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import gradio as gr

from hub import client as hubs
from training.tasks import get_task

from .common import AppContext, get_hub, hub_picker
from .jobs import chosen_data, hub_spec, job_panel, toggle_data_fields
from .plots import saved_picture


@dataclass
class VisionForm:
    """What a vision task's Train form differs by."""

    task: str
    names: Callable[[], list[str]]  # the model registry's names (imports torch: called once the page is open)
    default_model: str
    model_label: str
    data_sources: dict[str, str]  # radio label -> "builtin" | "upload" | "hub"; the first is the default
    upload_label: str
    repo_label: str
    repo_placeholder: str
    missing_upload: str  # the message when "upload" is picked with no file
    check_folder: Callable[[str], str]  # vets an extracted upload (TrainingError says why it cannot be used)
    epochs: int
    batch: int
    lr: float
    metric: str
    picture_label: str
    push_placeholder: str
    check_options: Callable[[str, int], None] = lambda model, size: None  # raise gr.Error for bad combinations
    size_info: str | None = None
    model_info: str = "torchvision's start from random weights here (no download)"
    picture_file: str | None = "val_predictions.png"  # the picture the trainer saves in the model folder
    builtin: str = "shapes"  # the trainer's --dataset value for the built-in sample
    image_size: int = 128
    extras: Callable[[], dict[str, Any]] | None = None  # lays out task-specific fields: {config field: component}
    sizes: tuple[int, int] = (32, 1024)  # the image size field's range
    lr_info: str | None = None  # with lr 0: what 0 means (the trainer picks per model)
    flip: bool = True  # random flips on by default
    samples: str | None = None  # "image": the grids the trainer makes after each epoch, in a gallery
    loss_parts: bool = False  # plot a step's named losses (a GAN's two players) as separate lines
    metric_apart: str | None = None  # a validation metric with a plot of its own (FID)


def vision_train(ctx: AppContext, form: VisionForm):
    """Lay out and wire the Train tab's contents; the start event is ``<task>_train``. Returns the panel."""
    runner = ctx.runner
    gr.Markdown("The hub below is where dataset repos come from and where trained models go.")
    picker = hub_picker(ctx)
    with gr.Row():
        # The full list arrives on page load (listing it imports torch); the handler validates the value.
        model = gr.Dropdown([form.default_model], value=form.default_model, label=form.model_label, scale=2,
                            allow_custom_value=True, info=form.model_info)
        init_from = gr.Textbox(label="Fine-tune from (optional)", placeholder=form.push_placeholder, scale=2,
                               info="a model of the same kind on the hub above; its class heads adapt to your classes")
        source_kind = gr.Radio(list(form.data_sources), value=next(iter(form.data_sources)), label="Data", scale=4)
        upload = gr.File(label=form.upload_label, file_types=[".zip"], type="filepath", visible=False, scale=3)
        data_repo = gr.Textbox(label=form.repo_label, placeholder=form.repo_placeholder, visible=False, scale=3)
    with gr.Row():
        epochs = gr.Number(form.epochs, label="Epochs", precision=0, minimum=1, maximum=300)
        batch = gr.Number(form.batch, label="Batch size", precision=0, minimum=1, maximum=512)
        image_size = gr.Number(form.image_size, label="Image size", precision=0, minimum=form.sizes[0],
                               maximum=form.sizes[1], info=form.size_info)
        lr = gr.Number(form.lr, label="Learning rate", minimum=0 if form.lr == 0 else 1e-7, maximum=1, info=form.lr_info)
        flip = gr.Checkbox(form.flip, label="Random horizontal flips")
        seed = gr.Number(0, label="Seed", precision=0)
    extra = form.extras() if form.extras else {}
    panel = job_panel(ctx, form.task, picker, metric=form.metric, unit="img/s", picture_label=form.picture_label,
                      picture=saved_picture(form.picture_file) if form.picture_file else None,
                      samples=form.samples, loss_parts=form.loss_parts, metric_apart=form.metric_apart,
                      repo_placeholder=form.push_placeholder)

    def start_job(model_, init_, kind, upload_, repo_, epochs_, batch_, size_, lr_, flip_, seed_, *rest):
        *extra_values, choice, url, token = rest
        from training.data import extract_upload

        if model_ not in form.names():
            raise gr.Error(f"Pick a model: {', '.join(form.names())}.")
        size_ = int(size_ or form.image_size)
        form.check_options(model_, size_)
        hub = get_hub(choice, url, token)
        init_ = (init_ or "").strip()
        if init_:
            try:
                hubs.check_repo_id(init_)
            except hubs.HubActionError as e:
                raise gr.Error(f"Fine-tune from: {e}") from None
        dataset, name, _ = chosen_data(form.data_sources, kind, upload_, repo_, builtin=form.builtin,
                                       missing=form.missing_upload,
                                       keep=lambda f: extract_upload(f, runner.root / "uploads"),
                                       check=form.check_folder)
        cfg = {"model": model_, "init_from": init_, "dataset": dataset, "epochs": int(epochs_),
               "batch_size": int(batch_),
               "image_size": size_, "lr": float(lr_), "flip": bool(flip_), "seed": int(seed_), "hub": hub_spec(hub),
               **dict(zip(extra, extra_values))}
        j = runner.submit(get_task(form.task).config_of(cfg), label=f"{model_} on {name}", secret_env=hubs.job_env(hub))
        return gr.update(choices=panel.choices(), value=j.id)

    toggle_data_fields(source_kind, form.data_sources, {upload: ("upload",), data_repo: ("hub",)})
    inputs = [model, init_from, source_kind, upload, data_repo, epochs, batch, image_size, lr, flip, seed,
              *extra.values(), *picker.inputs]
    panel.start.click(start_job, inputs, panel.job, api_name=f"{form.task}_train")
    ctx.demo.load(lambda: gr.update(choices=form.names()), None, model, api_visibility="private")
    return panel
