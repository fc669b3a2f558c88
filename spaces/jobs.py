"""The training-job panel every task tab shares: Start/Stop, the jobs table, live curves, log, push.

A tab lays out its own form and wires ``panel.start`` to a handler that submits a job; the
panel follows jobs of its task through the runner (one scan per tick), draws the loss and
validation curves, an optional picture from the finished model folder (e.g. a confusion matrix)
and the text samples a trainer logs, and pushes a finished model to a hub.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from common.errors import UserError
from hub import client as hubs
from training.layout import model_marker
from training.runner import JobRunner

from .common import AppContext, HubPicker, get_hub, hub_picker
from .plots import picture_file


def hub_spec(hub: hubs.Hub) -> str:
    """The --hub value that names ``hub`` for a training process."""
    return hub.kind if hub.kind in ("local", "hf") else hub.endpoint


def model_dir(runner: JobRunner, job_id: str) -> Path:
    return runner.folder(job_id).run.model


def job_metrics(runner: JobRunner, job_id: str) -> dict:
    p = runner.folder(job_id).run.metrics
    return json.loads(p.read_text()) if p.exists() else {}


def trained_models(runner: JobRunner, task: str, metric: str) -> list[tuple[str, str]]:
    """(label, folder) for every job of ``task`` that left a model, newest first."""
    out = []
    for job in runner.jobs():
        folder = model_dir(runner, job.id)
        if job.task == task and model_marker(folder) is not None:
            value = job_metrics(runner, job.id).get(metric)
            shown = f", {metric} {value:.3f}" if value is not None else ""
            out.append((f"{job.label} · {job.id} ({job.status}{shown})", str(folder)))
    return out


def is_model_folder(runner: JobRunner, folder: str) -> bool:
    """Only folders the app made (jobs, pulls) load: a model path from a request is never taken on trust."""
    p = Path(folder).resolve()
    roots = (runner.root.resolve(), (hubs.cache_root() / "pulled").resolve())
    return any(p.is_relative_to(r) for r in roots) and model_marker(p) is not None


def checked_model_folder(runner: JobRunner, folder: str | None) -> str:
    """The picked model folder, or a message: none picked, or a path the app did not make."""
    if not folder:
        raise UserError("Pick a model: train one in the Train tab or pull one from a hub.")
    if not is_model_folder(runner, folder):
        raise UserError("That model is not one trained here or pulled from a hub.")
    return folder


def load_checked(runner: JobRunner, folder: str | None, load: Callable[[str], Any]) -> Any:
    """The picked model folder vetted (checked_model_folder) and loaded by ``load``."""
    return load(checked_model_folder(runner, folder))


def pulled_label(folder: str) -> str:
    p = Path(folder)  # .../<namespace>/<name>/<commit>
    return f"{p.parent.parent.name}/{p.parent.name} @ {p.name[:8]}"


def model_choices(runner: JobRunner, task: str, metric: str, current: str | None):
    """Dropdown update: the newest trained model first; a model picked before (maybe pulled) stays picked."""
    choices = trained_models(runner, task, metric)
    if current and current not in {c[1] for c in choices} and Path(current).exists():
        choices.append((pulled_label(current), current))
    known = {c[1] for c in choices}
    return gr.update(choices=choices, value=current if current in known else (choices[0][1] if choices else None))


@dataclass
class JobPanel:
    start: gr.Button
    job: gr.Dropdown
    choices: Callable[[], list[tuple[str, str]]]  # the job dropdown's choices now


def job_panel(ctx: AppContext, task: str, picker: HubPicker, *, metric: str, unit: str,
              picture_label: str | None = None,
              picture: Callable[[Path], Any] | None = None, samples: str | None = None,
              loss_parts: bool = False, metric_apart: str | None = None,
              repo_placeholder: str = "you/my-model") -> JobPanel:
    """Lay out and wire the panel for ``task``.

    ``picker`` is the tab's hub picker, where pushes go; ``metric`` fills the jobs table's last column; ``picture(model_folder)`` returns a PIL image
    (or None) shown under ``picture_label``; ``samples`` ("text" or "image") shows the samples the
    trainer makes after each epoch; ``loss_parts`` plots the named losses of a step (a GAN's
    discriminator and generator, a VAE's reconstruction and KL) as lines of one chart; ``metric_apart``
    names a validation metric drawn on a plot of its own (FID in the hundreds would flatten 0-1 rates). The
    panel's timer ticks only while its tab is shown (``ctx.timers``). Events get api
    names ``<task>_stop``, ``<task>_watch`` and ``<task>_push``.
    """
    runner = ctx.runner
    with gr.Row():
        start = gr.Button("Start training", variant="primary")
        stop = gr.Button("Stop", variant="stop")
    jobs_table = gr.Dataframe(headers=["job", "model", "status", "queue", metric], interactive=False,
                              label="Jobs (they keep running when you close the page)")
    job = gr.Dropdown(label="Job to watch", choices=[], value=None, allow_custom_value=True)
    progress = gr.Markdown()
    with gr.Row():
        loss_plot = gr.LinePlot(x="step", y="loss", color="part" if loss_parts else None,
                                title="Training losses" if loss_parts else "Training loss", height=260)
        metric_plot = gr.LinePlot(x="epoch", y="value", color="metric", title="Validation metrics", height=260)
        apart_plot = gr.LinePlot(x="epoch", y=metric_apart, title=f"Validation {metric_apart.upper()}",
                                 height=260) if metric_apart else None
    with gr.Row():
        pic = gr.Image(label=picture_label, type="pil", height=320, buttons=["download"]) if picture else None
        sample_box = gr.Textbox(label="Samples after each epoch", lines=12, max_lines=12) if samples == "text" \
            else gr.Gallery(label="Samples after each epoch (newest first)", columns=4, height=320,
                            object_fit="contain") if samples == "image" else None
        log = gr.Textbox(label="Log", lines=12, max_lines=12, autoscroll=True)
    with gr.Accordion("Push the trained model to the hub above", open=False):
        with gr.Row():
            repo = gr.Textbox(label="Repo id", placeholder=repo_placeholder, scale=3)
            private = gr.Checkbox(label="Private", scale=1)
            push = gr.Button("Push", scale=1)
        pushed = gr.Markdown()
    # The outputs only some panels have, in order: (component, the files tick follows for it, its value
    # with no job picked).
    optional = [(c, group, empty) for c, group, empty in (
        (apart_plot, "run", None), (pic, "pic", None),
        (sample_box, "samples" if samples == "image" else "run", None if samples == "image" else ""))
        if c is not None]

    def choices():
        return [(f"{j.label} · {j.id}", j.id) for j in runner.jobs() if j.task == task]

    def stop_job(job_id):
        if not job_id:
            raise UserError("Pick a job to stop.")
        try:
            j = runner.stop(job_id)
        except KeyError as e:
            raise UserError(str(e)) from None
        return f"Job {job_id}: {j.status}."

    def watch(job_id):
        import pandas as pd

        # Runs every second for every open page: one scan of the jobs serves the table and the queue.
        jobs = runner.jobs()
        positions = runner.queue_positions(jobs)
        rows = []
        for j in jobs:
            if j.task == task:
                value = job_metrics(runner, j.id).get(metric)
                rows.append([j.id, j.label, j.status, positions.get(j.id, ""),
                             f"{value:.4f}" if value is not None else ""])
        extras = [empty for *_, empty in optional]
        if not job_id:
            return rows, "Start a job, or pick one to watch.", None, None, *extras, ""
        try:
            j = runner.get(job_id)
        except KeyError:
            return rows, f"No job {job_id}.", None, None, *extras, ""
        events, _ = runner.events(job_id)
        steps = [e for e in events if e["type"] == "step"]
        evals = [e for e in events if e["type"] == "eval"]
        start_ev = next((e for e in events if e["type"] == "start"), None)
        total = start_ev["total_steps"] if start_ev else 0
        done = steps[-1]["step"] if steps else 0
        if j.status == "queued":
            text = f"**Queued**, position {positions.get(job_id)}: one training job runs per device at a time."
        else:
            pct = 100 * done / total if total else 0
            eta = steps[-1].get("eta_s") if steps and j.status == "running" else None
            text = (f"**{j.status.capitalize()}** · step {done}/{total} ({pct:.0f}%)"
                    + (f" · {steps[-1]['throughput']:.0f} {unit} · ETA {eta:.0f} s" if eta else "")
                    + (f" · {j.message}" if j.message and j.status not in ("running", "queued") else ""))
        # None, not an empty frame, until there is data: a plot first drawn empty keeps an empty legend.
        if loss_parts:
            loss_df = pd.DataFrame([{"step": e["step"], "part": k, "loss": v} for e in steps
                                    for k, v in (e.get("parts") or {"loss": e["loss"]}).items()]) if steps else None
        else:
            loss_df = pd.DataFrame({"step": [e["step"] for e in steps], "loss": [e["loss"] for e in steps]}) \
                if steps else None
        shown = [{"epoch": e["epoch"], "metric": k, "value": v} for e in evals
                 for k, v in e["metrics"].items() if k not in ("loss", metric_apart)]
        out: list[Any] = [rows, text, loss_df, pd.DataFrame(shown) if shown else None]
        if apart_plot is not None:
            apart = [{"epoch": e["epoch"], metric_apart: e["metrics"][metric_apart]} for e in evals
                     if metric_apart in e["metrics"]]
            out.append(pd.DataFrame(apart) if apart else None)
        if pic is not None:
            out.append(picture(model_dir(runner, job_id)))
        if sample_box is not None:
            made = [e for e in events if e["type"] == "sample" and e.get("kind") == samples]
            if samples == "image":
                out.append([(picture_file(runner.folder(job_id).run.root / e["data"]), f"epoch {e['epoch']}")
                            for e in reversed(made)] or None)
            else:
                out.append("\n\n".join(f"— epoch {e['epoch']} —\n{e['data']}" for e in reversed(made)))
        return *out, runner.log_tail(job_id)

    def _stamp(path: Path) -> tuple[float, int] | None:
        try:
            st = path.stat()
            return st.st_mtime, st.st_size
        except OSError:
            return None

    def tick(job_id, seen):
        """The timer's watch: parts whose files have not changed since this page last drew them are
        skipped, so idle panels cost the server and the browser (plots, pictures) next to nothing."""
        try:
            d = runner.folder(job_id) if job_id else None
        except KeyError:
            d = None
        jobs = runner.jobs()
        stamps = {
            "rows": tuple((j.id, j.status) for j in jobs if j.task == task),
            "run": (job_id, runner.get(job_id).status if d and d.record.exists() else None,
                    _stamp(d.run.events) if d else None),
            "pic": (job_id, _stamp(d.run.metrics) if d else None),  # written once the model is saved
            "log": (job_id, _stamp(d.log) if d else None),
            "samples": (job_id, _stamp(d.run.samples) if d else None),
        }
        seen = seen or {}
        if stamps == seen:
            return *[gr.skip()] * len(outputs), seen
        out = list(watch(job_id))
        groups = ["rows", "run", "run", "run", *[group for _, group, _ in optional], "log"]
        return *[v if stamps[g] != seen.get(g) else gr.skip() for v, g in zip(out, groups)], stamps

    def push_job(job_id, repo_id, private_, choice, url, token):
        if not job_id:
            raise UserError("Pick a finished job to push.")
        folder = model_dir(runner, job_id)
        if model_marker(folder) is None:
            raise UserError("This job has no trained model yet: wait for it to finish.")
        hub = get_hub(choice, url, token)
        url_ = hubs.push_folder(folder, repo_id, hub, private=bool(private_),
                                commit_message=f"Upload {job_id} from DL Playground")
        return f"Pushed to **{repo_id}** on {hub.label}: {url_}"

    def on_load():
        """A reopened page watches the job that is running (else the newest one) with its curves."""
        mine = [j for j in runner.jobs() if j.task == task]
        watched = next((j.id for j in mine if j.status in ("running", "stopping")), mine[0].id if mine else None)
        return gr.update(choices=choices(), value=watched)

    outputs = [jobs_table, progress, loss_plot, metric_plot, *[c for c, _, _ in optional], log]
    stop.click(stop_job, job, progress, api_name=f"{task}_stop")
    seen = gr.State(None)
    job.change(watch, job, outputs, api_name=f"{task}_watch").then(lambda: None, None, seen)
    # Only the shown tab's timer runs (app.py switches them): nine panels ticking every second slowed the page.
    timer = gr.Timer(1.0, active=ctx.tab == ctx.first_tab)
    ctx.timers[ctx.tab] = timer
    timer.tick(tick, [job, seen], [*outputs, seen], api_visibility="private", show_progress="hidden")
    push.click(push_job, [job, repo, private, *picker.inputs], pushed, api_name=f"{task}_push")
    ctx.demo.load(on_load, None, job, api_visibility="private")
    return JobPanel(start=start, job=job, choices=choices)


def model_source(ctx: AppContext, task: str, tab: gr.Tab | list[gr.Tab], *, metric: str, label: str, pull_label: str,
                 placeholder: str, check: Callable[[Path], Any]) -> gr.Dropdown:
    """The Predict side's model picker: models this task's jobs left, plus repos pulled from a hub.

    Lays out the dropdown, a Refresh button and a "Pull a model from a hub" accordion; ``check(folder)``
    vets a pulled folder (raising a UserError with a message when the repo is of the wrong kind).
    The list is refreshed on page load and whenever ``tab`` (or one of a list of tabs) is selected (a job
    just finished: try it).
    The pull event is ``<task>_pull``.
    """
    runner = ctx.runner
    with gr.Row():
        source = gr.Dropdown(label=label, choices=[], value=None, allow_custom_value=True, scale=3)
        refresh_btn = gr.Button("Refresh", scale=1)
    with gr.Accordion("Pull a model from a hub", open=False):
        picker = hub_picker(ctx)
        with gr.Row():
            repo = gr.Textbox(label=pull_label, placeholder=placeholder, scale=3)
            pull_btn = gr.Button("Pull", scale=1)

    def pull_model(repo_id, choice, url, token):
        hub = get_hub(choice, url, token)
        repo_id = (repo_id or "").strip().removeprefix("hf-hub:")  # timm's spelling of a hub repo
        folder = hubs.pull(repo_id, hub)
        check(folder)
        choices = trained_models(runner, task, metric) + [(f"{repo_id} ({hub.label})", str(folder))]
        return gr.update(choices=choices, value=str(folder))

    def refresh(current):
        return model_choices(runner, task, metric, current)

    def on_load():
        trained = trained_models(runner, task, metric)
        return gr.update(choices=trained, value=trained[0][1] if trained else None)

    refresh_btn.click(refresh, source, source, api_visibility="private")
    for t in tab if isinstance(tab, list) else [tab]:
        t.select(refresh, source, source, api_visibility="private")
    pull_btn.click(pull_model, [repo, *picker.inputs], source, api_name=f"{task}_pull")
    ctx.demo.load(on_load, None, source, api_visibility="private")
    return source


def toggle_data_fields(radio: gr.Radio, sources: dict[str, str], shown: dict[Any, tuple[str, ...]]) -> None:
    """Show each field of ``shown`` only while the data source picked in ``radio`` is one of its kinds
    (``sources`` maps the radio's labels to "builtin", "upload" or "hub")."""
    fields = list(shown)
    radio.change(lambda label: [gr.update(visible=sources.get(label) in shown[f]) for f in fields], radio, fields,
                 api_visibility="private")


def chosen_data(sources: dict[str, str], label: str, upload: str | None, repo: str | None, *, builtin: str,
                keep: Callable[[str], Path], check: Callable[[str], Any] | None = None,
                missing: str = "Upload a file.") -> tuple[str, str, str]:
    """(dataset for the trainer, name for the job label, kind) from a tab's data-source fields.

    An upload is kept in the app's folder by ``keep`` and vetted by ``check`` now, so a bad file is
    a message here rather than a failed job later; a repo id is checked for its form.
    """
    kind = sources.get(label, "builtin")
    if kind == "upload":
        if not upload:
            raise UserError(missing)
        dataset = str(keep(upload))
        if check is not None:
            check(dataset)
        return dataset, Path(upload).name, kind
    if kind == "hub":
        repo_id = hubs.check_repo_id(repo)
        return repo_id, repo_id, kind
    return builtin, builtin, kind
