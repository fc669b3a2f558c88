"""The Train side the vision tabs share (detection, segmentation, faces, style, generative): a form generated
from the task's config (model, fine-tune from, epochs, batch, image size, learning rate, flips, seed and the
task's own fields), built-in / zip / dataset-repo data, the job panel; one start handler."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import gradio as gr

from hub import client as hubs
from training.tasks import Task

from .common import AppContext, get_hub, hub_picker
from .forms import ConfigForm
from .i18n import L
from .jobs import JobPanel, chosen_data, hub_spec, job_panel, toggle_data_fields
from .plots import saved_picture


@dataclass
class VisionForm:
    """What a vision task's Train side differs by, beyond its config (which gives the fields, their
    defaults, choices and bounds, and checks their combinations).

    The labels and infos are layout strings (``L("<area>.<key>")``, translated in the browser). A data source is a
    radio choice: ``choice("<area>.<key>", value)`` (the handler and the API get ``value``, which stays as it was),
    or a plain value shown as it is. ``missing_upload`` is read when the form is sent: ``lambda: t("<area>.<key>")``,
    in the language of the request."""

    task: Task
    model_label: Any
    data_sources: dict[str | tuple[str, str], str]  # radio choice -> "builtin" | "upload" | "hub"; first: the default
    upload_label: Any
    repo_label: Any
    repo_placeholder: str
    missing_upload: str | Callable[[], str]  # the message when "upload" is picked with no file
    check_folder: Callable[[str], str]  # vets an extracted upload (a UserError says why it cannot be used)
    picture_label: Any
    push_placeholder: str
    size_info: Any = None
    model_info: Any = L("vision.model_info")
    picture_file: str | None = "val_predictions.png"  # the picture the trainer saves in the model folder
    extras: Callable[[ConfigForm], None] | None = None  # lays out the task's own fields with form.field/add
    samples: str | None = None  # "image": the grids the trainer makes after each epoch, in a gallery
    loss_parts: bool = False  # plot a step's named losses (a GAN's two players) as separate lines
    metric_apart: str | None = None  # a validation metric with a plot of its own (FID)
    onnx: bool = True  # offer "Export to ONNX" (hub_models.export: one pass of the network, no sampling loop)


def vision_train(ctx: AppContext, vision: VisionForm) -> JobPanel:
    """Lay out and wire the Train tab's contents; the start event is ``<task>_train``. Returns the panel."""
    runner, task = ctx.runner, vision.task
    form = ConfigForm(task.config)
    # The radio's values (what the handler and the API get) -> their kind of data.
    sources = {(c[1] if isinstance(c, tuple) else c): kind for c, kind in vision.data_sources.items()}
    gr.Markdown(L("vision.hub_note"))
    picker = hub_picker(ctx)
    with gr.Row():
        # The registry's names arrive on page load (listing them imports torch); the config validates the value.
        form.field("model", label=vision.model_label, info=vision.model_info, scale=2)
        # A task with famous bases offers them (a dropdown that takes any repo id too); the others a text box.
        bases = {} if form.fields["init_from"].metadata.get("suggest") else \
            {"placeholder": vision.push_placeholder}
        form.field("init_from", label=L("vision.fine_tune_from"), scale=2, **bases, info=L("vision.fine_tune_info"))
        source_kind = gr.Radio(list(vision.data_sources), value=next(iter(sources)), label=L("vision.data"), scale=4)
        upload = gr.File(label=vision.upload_label, file_types=[".zip"], type="filepath", visible=False, scale=3)
        data_repo = gr.Textbox("", label=vision.repo_label, placeholder=vision.repo_placeholder, visible=False,
                               scale=3)
    with gr.Row():
        form.field("epochs", info=None)
        form.field("batch_size", info=None)
        form.field("image_size", label=L("vision.image_size"), info=vision.size_info)
        form.field("lr")
        form.field("flip", label=L("vision.flip"), info=None)
        form.field("seed", info=None)
        if vision.onnx:
            form.field("export_onnx", info=None)
    if vision.extras:
        vision.extras(form)
    panel = job_panel(ctx, task.name, picker, metric=task.metric, unit="img/s", picture_label=vision.picture_label,
                      picture=saved_picture(vision.picture_file) if vision.picture_file else None,
                      samples=vision.samples, loss_parts=vision.loss_parts, metric_apart=vision.metric_apart,
                      repo_placeholder=vision.push_placeholder)

    def start_job(source_kind, upload, data_repo, choice, url, token, **values):
        from training.data import extract_upload

        form.config(values)  # a bad value is reported before an upload is unpacked
        if values.get("init_from"):
            hubs.check_repo_id(values["init_from"].strip())
        hub = get_hub(choice, url, token)
        missing = vision.missing_upload() if callable(vision.missing_upload) else vision.missing_upload
        dataset, name, _ = chosen_data(sources, source_kind, upload, data_repo,
                                       builtin=task.config().dataset, hub=hub, missing=missing,
                                       keep=lambda f: extract_upload(f, runner.root / "uploads"),
                                       check=vision.check_folder)
        cfg = form.config(values, dataset=dataset, hub=hub_spec(hub))
        return panel.submit(cfg, f"{cfg.init_from or cfg.model} on {name}", hub)

    toggle_data_fields(source_kind, sources, {upload: ("upload",), data_repo: ("hub",)})
    form.submit(panel.start, start_job, panel.job, api_name=f"{task.name}_train",
                extra={"source_kind": source_kind, "upload": upload, "data_repo": data_repo, **picker.named})
    return panel
