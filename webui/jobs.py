"""The training-job panel every task tab shares: Start/Stop, the jobs table, live curves, log, push.

A tab lays out its own form and wires ``panel.start`` to a handler that submits a job; the
panel follows jobs of its task through the runner (one scan per tick), draws the loss and
validation curves, an optional picture from the finished model folder (e.g. a confusion matrix)
and the text samples a trainer logs, and pushes a finished model to a hub.
"""
from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable

import gradio as gr
from starlette.requests import Request as HttpRequest  # (FastAPI reads the route's annotations)

from common.errors import UserError
from hub import client as hubs
from hub.lean import size_text
from hub_models.catalog import HUB_MODELS
from training.events import RunDigest
from training.layout import model_marker
from training.runner import Job, JobRunner

from . import endpoint, visitors
from .common import AppContext, HubPicker, get_hub, hub_picker, on_zero_gpu
from common.i18n import DEFAULT, strings

from .i18n import L, request_locale, t
from .plots import picture_file


def hub_spec(hub: hubs.Hub) -> str:
    """The --hub value that names ``hub`` for a training process."""
    return hub.kind if hub.kind in ("local", "hf") else hub.endpoint


def model_dir(runner: JobRunner, job_id: str) -> Path:
    return runner.folder(job_id).run.model


def job_metrics(runner: JobRunner, job_id: str) -> dict:
    p = runner.folder(job_id).run.metrics
    return json.loads(p.read_text()) if p.exists() else {}


def visible_jobs(runner: JobRunner, jobs: list[Job] | None = None) -> list[Job]:
    """The jobs the visitor being served may see: their own; the owner sees all."""
    return [j for j in (runner.jobs() if jobs is None else jobs) if visitors.sees(j.owner)]


def visible_job(runner: JobRunner, job_id: str) -> Job:
    """``job_id`` if the visitor being served may see it, else KeyError, as for a job that does not exist."""
    job = runner.get(job_id)
    if not visitors.sees(job.owner):
        raise KeyError(f"no job {job_id!r}")
    return job


def metric_key(metric: str) -> str | None:
    """The key of a task's metric's shown name (jobs.metric.<name>: "mAP@0.5" for map50, 准确率 for accuracy); None
    for a metric of a task kept outside the repo, shown as it is named."""
    key = f"jobs.metric.{metric}"
    return key if key in strings()[DEFAULT] else None


def metric_name(metric: str) -> str:
    """A task's metric as the visitor reads it."""
    return t(key) if (key := metric_key(metric)) else metric


def metric_label(metric: str) -> str:
    """A task's metric in the layout (a table's header), translated in the browser."""
    return str(L(key)) if (key := metric_key(metric)) else metric


def trained_models(runner: JobRunner, task: str, metric: str) -> list[tuple[str, str]]:
    """(label, folder) for every visible job of ``task`` that left a model, the most recently made first (a job
    stopped early made its model when it stopped, before a later job that ran to the end)."""
    made = []
    for job in visible_jobs(runner):
        folder = model_dir(runner, job.id)
        if job.task == task and model_marker(folder) is not None:
            value = job_metrics(runner, job.id).get(metric)
            shown = f", {metric_name(metric)} {value:.3f}" if value is not None else ""
            made.append((job.ended or job.created, f"{job.label} · {job.id} ({state(job.status)}{shown})",
                         JOB_KEY + job.id))
    return [(label, key) for _, label, key in sorted(made, key=lambda m: m[0], reverse=True)]


# A model picker's values name models by id, not by server path: a visitor sees every value the page holds.
JOB_KEY, PULLED_KEY = "job:", "pulled:"


def model_key(runner: JobRunner, folder: str | Path) -> str:
    """The picker value for a model folder the app made: ``job:<id>`` or ``pulled:<hub>/<type>s/<repo>/<commit>``."""
    p = Path(folder).resolve()
    jobs, pulled = (runner.root / "jobs").resolve(), visitors.pulls_root().resolve()
    if p.is_relative_to(jobs):
        return JOB_KEY + p.relative_to(jobs).parts[0]
    if p.is_relative_to(pulled):
        return PULLED_KEY + p.relative_to(pulled).as_posix()
    return str(folder)


def model_path(runner: JobRunner, value: str) -> Path:
    """The folder a picker value names (a folder path, from the API, names itself; is_model_folder vets it)."""
    if value.startswith(JOB_KEY):
        try:
            return model_dir(runner, value.removeprefix(JOB_KEY))
        except KeyError:
            return Path("/nonexistent")
    if value.startswith(PULLED_KEY):
        return visitors.pulls_root() / value.removeprefix(PULLED_KEY)
    return Path(value)


def is_model_folder(runner: JobRunner, folder: str) -> bool:
    """Only folders the app made load (a visible job's, a pull's): a model path from a request is never taken on
    trust."""
    p = Path(folder).resolve()
    jobs = (runner.root / "jobs").resolve()
    if p.is_relative_to(jobs):
        try:
            visible_job(runner, p.relative_to(jobs).parts[0])
        except (KeyError, IndexError, TypeError, ValueError):
            return False
    elif not p.is_relative_to(visitors.pulls_root().resolve()):
        return False
    return model_marker(p) is not None


def checked_model_folder(runner: JobRunner, picked: str | None) -> str:
    """The folder of the picked model (a picker value or a folder path), or a message: none picked, or not a
    model the app made for this visitor."""
    if not picked:
        raise UserError(t("error.pick_model"))
    folder = str(model_path(runner, picked))
    if not is_model_folder(runner, folder):
        raise UserError(t("error.not_our_model"))
    return folder


def load_checked(runner: JobRunner, folder: str | None, load: Callable[[str], Any]) -> Any:
    """The picked model folder vetted (checked_model_folder) and loaded by ``load``."""
    return load(checked_model_folder(runner, folder))


def pulled_label(value: str) -> str:
    p = Path(value)  # .../<namespace>/<name>/<commit>
    return f"{p.parent.parent.name}/{p.parent.name} @ {p.name[:8]}"


def model_choices(runner: JobRunner, task: str, metric: str, current: str | None):
    """Dropdown update: the newest trained model first, and picked: the picker follows the model the user just
    made (a starter model, or last hour's, must not answer for it). A pulled model stays picked."""
    choices = trained_models(runner, task, metric)
    if current and current not in {c[1] for c in choices} and model_path(runner, current).exists():
        choices.append((pulled_label(current), current))
    known = {c[1] for c in choices}
    pulled = current in known and not current.startswith(JOB_KEY)
    return gr.update(choices=choices, value=current if pulled else (choices[0][1] if choices else None))


@dataclass
class JobPanel:
    start: gr.Button
    job: gr.Dropdown
    runner: JobRunner
    task: str

    def submit(self, cfg: Any, label: str, hub: hubs.Hub | None = None):
        """Queue a job for ``cfg`` (its pushes and pulls use ``hub``'s token, passed in the job's environment);
        the job dropdown's update that picks it, which starts the watch."""
        limits = visitors.job_limits(self.runner)
        # The job writes its model card in the page's language (common.i18n reads DLP_LANG outside a request).
        limits["env"] = {**limits.get("env", {}), "DLP_LANG": request_locale()}
        job = self.runner.submit(cfg, label=label, secret_env=hubs.job_env(hub) if hub else None, **limits)
        return gr.update(choices=job_choices(self.runner, self.task), value=job.id)


@dataclass(frozen=True)
class PanelView:
    """What a task's panel shows; the layout and the watch both follow it."""

    task: str
    metric: str  # the jobs table's last column
    unit: str  # of the throughput in the progress line
    picture: Callable[[Path], Any] | None = None  # model folder -> PIL image or None
    samples: str | None = None  # "text" or "image": what the trainer makes after each epoch
    loss_parts: bool = False  # plot a step's named losses as lines of one chart
    metric_apart: str | None = None  # a validation metric drawn on a plot of its own

    @property
    def optional(self) -> list[tuple[str, str, Any]]:
        """The outputs only some panels have, in order: (name, the files a tick follows for it, its value
        with no job picked)."""
        image = self.samples == "image"
        return [(name, group, empty) for name, group, empty, shown in (
            ("apart", "run", None, bool(self.metric_apart)),
            ("picture", "pic", None, self.picture is not None),
            ("samples", "samples" if image else "run", None if image else "", self.samples in ("text", "image")))
            if shown]

    @property
    def groups(self) -> list[str]:
        """For each output of the watch, in order, the files it is drawn from."""
        return ["rows", "run", "run", "run", *[group for _, group, _ in self.optional], "log"]


def job_choices(runner: JobRunner, task: str, jobs: list[Job] | None = None) -> list[tuple[str, str]]:
    """The job dropdown's (label, id) for ``task``, newest first."""
    return [(f"{j.label} · {j.id}", j.id) for j in visible_jobs(runner, jobs) if j.task == task]


def watched_job(runner: JobRunner, task: str):
    """Dropdown update for a reopened page: it watches the job that is running (else the newest one)."""
    mine = [j for j in visible_jobs(runner) if j.task == task]
    watched = next((j.id for j in mine if j.status in ("running", "stopping")), mine[0].id if mine else None)
    return gr.update(choices=job_choices(runner, task, mine), value=watched)


def state(status: str) -> str:
    """A job's status (queued, running...: the runner's words) in the visitor's language."""
    return {"queued": t("jobs.state.queued"), "running": t("jobs.state.running"),
            "stopping": t("jobs.state.stopping"), "completed": t("jobs.state.completed"),
            "stopped": t("jobs.state.stopped"), "failed": t("jobs.state.failed")}.get(status, status)


def stop_job(runner: JobRunner, job_id: str | None) -> str:
    if not job_id:
        raise UserError(t("jobs.pick_job_to_stop"))
    try:
        visible_job(runner, job_id)
        j = runner.stop(job_id)
    except KeyError:
        raise UserError(t("jobs.no_such_job", job=job_id)) from None
    return t("jobs.job_status", job=job_id, status=state(j.status))


def jobs_table_on_load(runner: JobRunner, view: PanelView):
    """The jobs table as a page opens, with its headers in the visitor's language: the page's copy of the table
    keeps them for the rows the watch sends later (a list, as the API gives it)."""
    jobs = runner.jobs()
    rows = job_rows(runner, view, visible_jobs(runner, jobs), runner.queue_positions(jobs))
    return gr.update(value=rows, headers=[t("jobs.col_job"), t("jobs.col_model"), t("jobs.col_status"),
                                          t("jobs.col_queue"), metric_name(view.metric)])


def job_rows(runner: JobRunner, view: PanelView, jobs: list[Job], positions: dict[str, int]) -> list[list]:
    """The jobs table: one row per job of the task."""
    rows = []
    for j in jobs:
        if j.task == view.task:
            value = job_metrics(runner, j.id).get(view.metric)
            rows.append([j.id, j.label, state(j.status), positions.get(j.id, ""),
                         f"{value:.4f}" if value is not None else ""])
    return rows


def progress_text(job: Job, last: dict | None, total: int, position: int | None, unit: str) -> str:
    """The progress line: the queue position, or the status, step, throughput, ETA and final message."""
    if job.status == "queued":
        return t("jobs.progress_queued", position=position)
    if not total and job.status == "running":  # (before its start event: a step 0/0 said nothing)
        return t("jobs.progress_starting")
    done = last["step"] if last else 0
    pct = 100 * done / total if total else 0
    eta = last.get("eta_s") if last and job.status == "running" else None
    status = state(job.status)
    parts = [t("jobs.progress", status=status[:1].upper() + status[1:], done=done, total=total, pct=pct)]
    if eta:
        parts.append(t("jobs.progress_eta", throughput=last["throughput"], unit=unit, eta=eta))
    if job.message and job.status not in ("running", "queued"):
        said = job.extra.get("said")  # the runner's own words (training.runner._say), else the job's: its log's
        parts.append(t(said[0], **said[1]) if said else job.message)
    return " · ".join(parts)


# The plots get None, not an empty frame, until there is data: a plot first drawn empty keeps an empty legend.
def loss_frame(run: RunDigest, parts: bool):
    """The loss curve(s), at most RunDigest's limit of points each (bucket means: a long run keeps its shape)."""
    import pandas as pd

    if not len(run.loss):
        return None
    if parts:  # (a step without parts is drawn as its one loss, as the trainer named none)
        return pd.DataFrame([{"step": x, "part": name, "loss": y}
                             for name, series in list((run.parts or {"loss": run.loss}).items())  # (a tick may add one)
                             for x, y in series.points()])
    x, y = zip(*run.loss.points())
    return pd.DataFrame({"step": x, "loss": y})


def metric_frames(evals: list[dict], apart: str | None) -> tuple[Any, Any]:
    """(the validation metrics but the loss and ``apart``, ``apart`` alone) as frames for their plots."""
    import pandas as pd

    shown = [{"epoch": e["epoch"], "metric": metric_name(k), "value": v} for e in evals
             for k, v in e["metrics"].items() if k not in ("loss", apart)]
    alone = [{"epoch": e["epoch"], apart: e["metrics"][apart]} for e in evals if apart in e["metrics"]]
    return pd.DataFrame(shown) if shown else None, pd.DataFrame(alone) if alone else None


def samples_output(runner: JobRunner, job_id: str, run: RunDigest, kind: str) -> Any:
    """The samples of ``kind`` made after each epoch, newest first: gallery items or one text."""
    if kind == "image":  # from the folder its tick stamps (an event could lag the file: a tick would miss it)
        saved = runner.folder(job_id).run.sample_pictures()
        return [(picture_file(path), t("jobs.sample_epoch", epoch=epoch)) for epoch, path in reversed(saved)] or None
    return "\n\n".join(t("jobs.samples_of_epoch", epoch=e["epoch"], samples=e["data"]) for e in reversed(run.samples))


NO_JOB = t("jobs.no_job")  # the English, for code that compares; a handler says t("jobs.no_job")


def watch(runner: JobRunner, view: PanelView, job_id: str | None) -> tuple:
    """The panel's outputs for ``job_id``, in the order of the ``<task>_watch`` API: jobs table, progress,
    loss plot, metrics plot, the view's optional outputs, log."""
    # Runs every second for every open page: one scan of the jobs serves the table and the queue.
    jobs = runner.jobs()
    positions = runner.queue_positions(jobs)  # places in the one queue every visitor's jobs wait in
    rows = job_rows(runner, view, visible_jobs(runner, jobs), positions)
    empty = [value for *_, value in view.optional]
    if not job_id:
        return rows, t("jobs.no_job"), None, None, *empty, ""
    try:
        j = visible_job(runner, job_id)
    except KeyError:
        return rows, t("jobs.no_job_id", job=job_id), None, None, *empty, ""
    run = runner.digest(job_id)  # reads only the events written since the last look at this job
    total = run.start["total_steps"] if run.start else 0
    metrics, apart = metric_frames(run.evals, view.metric_apart)
    out: list[Any] = [rows, progress_text(j, run.last_step, total, positions.get(job_id), view.unit),
                      loss_frame(run, view.loss_parts), metrics]
    for name, _, _ in view.optional:
        out.append(apart if name == "apart" else view.picture(model_dir(runner, job_id)) if name == "picture"
                   else samples_output(runner, job_id, run, view.samples))
    return *out, runner.log_tail(job_id)


def watch_and_stamp(runner: JobRunner, view: PanelView, job_id: str | None) -> tuple:
    """watch(), and the stamps of the files it drew from for the page to keep (``seen``): the timer's next tick
    then skips what has not changed. (A page opens with nine panels picking their job: one event each, where a
    second one to reset ``seen`` kept the browser busy for 3 s.)"""
    stamps = file_stamps(runner, view.task, job_id)  # before reading: a change in between is drawn again
    return *watch(runner, view, job_id), stamps


def _stamp(path: Path) -> tuple[float, int] | None:
    try:
        st = path.stat()
        return st.st_mtime, st.st_size
    except OSError:
        return None


def file_stamps(runner: JobRunner, task: str, job_id: str | None) -> dict[str, Any]:
    """For each group of outputs (PanelView.groups), a stamp of what it is drawn from: the jobs' states
    or the (mtime, size) of the job's files. An unchanged stamp means nothing to redraw."""
    try:
        d = runner.folder(visible_job(runner, job_id).id) if job_id else None
    except KeyError:
        d = None
    return {
        "rows": tuple((j.id, j.status) for j in visible_jobs(runner) if j.task == task),
        "run": (job_id, runner.get(job_id).status if d and d.record.exists() else None,
                _stamp(d.run.events) if d else None),
        "pic": (job_id, _stamp(d.run.metrics) if d else None),  # written once the model is saved
        "log": (job_id, _stamp(d.log) if d else None),
        "samples": (job_id, _stamp(d.run.samples) if d else None),
    }


# ------------------------------------------------------------------ the timer's look, outside Gradio's events
LOOK_ROUTE = "/dlp/look"
# A panel's tick in the browser: the stamp of what the panel draws (the route answers an opaque hash for the page's
# pass); a new one starts the Gradio event that draws (the hidden stamp box's change). Without a pass yet, or when
# the route fails, an always-new value: the Gradio event then runs, as every tick used to.
LOOK_JS = """async (pass, job) => {
    const task = %s, root = ((window.gradio_config || {}).root || '').replace(/\\/$/, '');
    if (!pass) return String(Date.now());
    try {
        const query = `?pass=${encodeURIComponent(pass)}&job=${encodeURIComponent(job || '')}`;
        const r = await fetch(`${root}""" + LOOK_ROUTE + """/${task}${query}`);
        return r.ok ? await r.text() : String(Date.now());
    } catch (e) { return String(Date.now()); }
}"""
_passes: OrderedDict[str, visitors.Visitor] = OrderedDict()  # a page's pass -> who the page serves (bounded)
_passes_lock = threading.Lock()
MAX_PASSES = 20_000


def _pass_for_page(held: str | None) -> str | None:
    """The pass the page should hold: a new one (returned) unless ``held`` is already this visitor's."""
    who = visitors.who()
    with _passes_lock:
        if held and _passes.get(held) == who:
            _passes.move_to_end(held)
            return None
        issued = secrets.token_urlsafe(24)
        _passes[issued] = who
        while len(_passes) > MAX_PASSES:
            _passes.popitem(last=False)
    return issued


def look_routes(runner: JobRunner) -> list:
    """LOOK_ROUTE: for a page's pass, the stamp of what a task's panel draws (file_stamps, as the visitor the pass
    was given to sees them), hashed: it says that something changed, and nothing of what."""
    from fastapi.responses import PlainTextResponse
    from fastapi.routing import APIRoute

    from training.tasks import TASKS

    async def look(task: str, request: HttpRequest):
        import anyio

        with _passes_lock:
            who = _passes.get(request.query_params.get("pass", ""))
        job_id = request.query_params.get("job") or None
        if who is None or task not in TASKS:
            return PlainTextResponse("", status_code=404)

        def stamp() -> str:
            with visitors.acting_as(who):
                return hashlib.sha256(repr(file_stamps(runner, task, job_id)).encode()).hexdigest()[:20]

        return PlainTextResponse(await anyio.to_thread.run_sync(stamp), headers={"Cache-Control": "no-store"})

    return [APIRoute(LOOK_ROUTE + "/{task}", look, methods=["GET"], include_in_schema=False)]


def tick(runner: JobRunner, view: PanelView, job_id: str | None, seen: dict | None, held: str | None = None) -> tuple:
    """The timer's watch: outputs whose files have not changed since this page last drew them are
    skipped, so idle panels cost the server and the browser (plots, pictures) next to nothing.
    Returns the outputs, the stamps to remember as ``seen`` and the page's pass (or a skip)."""
    stamps = file_stamps(runner, view.task, job_id)
    seen = seen or {}
    issued = _pass_for_page(held)
    pass_out = gr.skip() if issued is None else issued
    if stamps == seen:
        return *[gr.skip()] * len(view.groups), seen, pass_out
    out = watch(runner, view, job_id)
    if not job_id:
        # The table, and the hint only where there is no job the page could pick: a tick sent before a reopened
        # page picked its job can land after the pick's own watch, and would blank what it drew.
        rows = out[0]
        return rows, gr.skip() if rows else t("jobs.no_job"), *[gr.skip()] * (len(view.groups) - 2), stamps, pass_out
    return *[v if stamps[g] != seen.get(g) else gr.skip() for v, g in zip(out, view.groups)], stamps, pass_out


def push_job(runner: JobRunner, job_id: str | None, repo_id: str, private_: bool, choice: str, url: str,
             token: str) -> str:
    """Push the finished model of ``job_id`` to ``repo_id`` on the picked hub."""
    if not job_id:
        raise UserError(t("jobs.pick_job_to_push"))
    try:
        folder = model_dir(runner, visible_job(runner, job_id).id)
    except KeyError:
        raise UserError(t("jobs.no_such_job", job=job_id)) from None
    if model_marker(folder) is None:
        raise UserError(t("jobs.no_model_yet"))
    hub = get_hub(choice, url, token)
    url_ = hubs.push_folder(folder, repo_id, hub, private=bool(private_),
                            commit_message=f"Upload {job_id} from DL Playground")  # i18n: not shown (a commit message)
    return t("jobs.pushed", repo=repo_id, hub=hub.label, url=url_)


def push_target(placeholder: str, choice: str, url: str, token: str, repo: str) -> tuple[str, Any]:
    """Who a push acts as, said where one pushes, and an empty repo id filled in their namespace (a push to
    another namespace is refused by the hub) with a name none of their repos has yet."""
    try:
        hub = get_hub(choice, url, token)
        user = hubs.whoami(hub)
        if not user:
            return t("jobs.push_needs_token", hub=hub.label), gr.update()
        repo = (repo or "").strip() or f"{user}/{hubs.free_repo_name(hub, user, placeholder.split('/', 1)[-1])}"
    except UserError as e:
        return f"⚠️ {e}", gr.update()
    return t("jobs.pushes_as", hub=hub.label, user=user), gr.update(value=repo)


def jobs_run_where(runner: JobRunner) -> str | None:
    """The key of what the panel says about where training jobs run, wherever it is not where a visitor would
    guess: a ZeroGPU Space's CPU, a Ray cluster's nodes."""
    if on_zero_gpu():
        return "jobs.zero_gpu_note"
    if runner.backend.name == "ray":
        return "jobs.ray_note"
    return None


def job_panel(ctx: AppContext, task: str, picker: HubPicker, *, metric: str, unit: str,
              picture_label: str | None = None,
              picture: Callable[[Path], Any] | None = None, samples: str | None = None,
              loss_parts: bool = False, metric_apart: str | None = None,
              repo_placeholder: str = "you/my-model") -> JobPanel:
    """Lay out and wire the panel for ``task``.

    ``picker`` is the tab's hub picker, where pushes go; ``metric`` fills the jobs table's last column;
    ``picture(model_folder)`` returns a PIL image (or None) shown under ``picture_label``; ``samples`` ("text" or "image") shows the samples the
    trainer makes after each epoch; ``loss_parts`` plots the named losses of a step (a GAN's
    discriminator and generator, a VAE's reconstruction and KL) as lines of one chart; ``metric_apart``
    names a validation metric drawn on a plot of its own (FID in the hundreds would flatten 0-1 rates). The
    panel's timer ticks only while its tab is shown (``ctx.timers``). Events get api
    names ``<task>_stop``, ``<task>_watch`` and ``<task>_push``.
    """
    runner = ctx.runner
    view = PanelView(task, metric, unit, picture=picture, samples=samples, loss_parts=loss_parts,
                     metric_apart=metric_apart)
    with gr.Row():
        start = gr.Button(L("jobs.start_training"), variant="primary")
        stop = gr.Button(L("jobs.stop"), variant="stop")
    if where := jobs_run_where(runner):
        gr.Markdown(L(where))
    jobs_table = gr.Dataframe(headers=[str(L("jobs.col_job")), str(L("jobs.col_model")), str(L("jobs.col_status")),
                                       str(L("jobs.col_queue")), metric_label(metric)], interactive=False,
                              label=L("jobs.jobs_table"))
    ctx.on_load(partial(jobs_table_on_load, runner, view), jobs_table)
    job = gr.Dropdown(label=L("jobs.job_to_watch"), choices=[], value=None, allow_custom_value=True)
    progress = gr.Markdown()  # (not NO_JOB: a reopened page shows it until its pick is watched, over a picked job)
    optional: dict[str, gr.components.Component] = {}  # by name, as view.optional lists them
    with gr.Row():
        loss_plot = gr.LinePlot(x="step", y="loss", color="part" if loss_parts else None,
                                title=L("jobs.training_losses") if loss_parts else L("jobs.training_loss"), height=260)
        metric_plot = gr.LinePlot(x="epoch", y="value", color="metric", title=L("jobs.metrics_by_epoch"), height=260,
                                  x_axis_format="~g")  # (Vega-Lite writes a one-epoch axis as "1.000000")
        if metric_apart:  # (its name is the plot's y axis)
            optional["apart"] = gr.LinePlot(x="epoch", y=metric_apart, title=L("jobs.metric_apart"), height=260,
                                            x_axis_format="~g")
            ctx.axis_titles(optional["apart"], x="axis.epoch")
    ctx.axis_titles(loss_plot, x="axis.step", y="axis.loss", **({"color": "axis.part"} if loss_parts else {}))
    ctx.axis_titles(metric_plot, x="axis.epoch", y="axis.value", color="axis.metric")
    with gr.Row():
        if picture is not None:
            optional["picture"] = gr.Image(label=picture_label, type="pil", height=320, buttons=["download"])
        if samples == "text":
            optional["samples"] = gr.Textbox(label=L("jobs.samples_text"), lines=12, max_lines=12)
        elif samples == "image":
            optional["samples"] = gr.Gallery(label=L("jobs.samples_images"), columns=4, height=320,
                                             object_fit="contain")
        log = gr.Textbox(label=L("jobs.log"), lines=12, max_lines=12, autoscroll=True)
    with gr.Accordion(L("jobs.push_title"), open=False) as push_box:
        who = gr.Markdown()
        with gr.Row():
            repo = gr.Textbox(label=L("jobs.repo_id"), placeholder=repo_placeholder, scale=3)
            private = gr.Checkbox(label=L("jobs.private"), scale=1)
            push = gr.Button(L("jobs.push"), scale=1)
        pushed = gr.Markdown()

    outputs = [jobs_table, progress, loss_plot, metric_plot, *[optional[name] for name, _, _ in view.optional], log]
    stop.click(partial(stop_job, runner), job, progress, api_name=f"{task}_stop")
    seen = gr.State(None)
    job.change(partial(watch_and_stamp, runner, view), job, [*outputs, seen], api_name=f"{task}_watch")
    # Only the shown tab's timer runs (app.py switches them): nine panels ticking every second slowed the page.
    # A tick only looks, in the browser, at LOOK_ROUTE: a Gradio event starts when something the panel draws has
    # changed, not every second (each event costs the page's main thread ~100 ms: the front end updates the loading
    # status of every component the page's events touched).
    timer = gr.Timer(1.0, active=ctx.tab == ctx.first_tab)
    ctx.timers[ctx.tab] = timer
    page_pass, stamp = gr.Textbox(visible=False), gr.Textbox(visible=False)
    timer.tick(None, [page_pass, job], stamp, js=LOOK_JS % json.dumps(task), api_visibility="private")
    stamp.change(partial(tick, runner, view), [job, seen, page_pass], [*outputs, seen, page_pass],
                 api_name=f"{task}_tick", api_visibility="private", show_progress="hidden")
    push.click(partial(push_job, runner), [job, repo, private, *picker.inputs], pushed, api_name=f"{task}_push")
    push_box.expand(partial(push_target, repo_placeholder), [*picker.inputs, repo], [who, repo],
                    api_visibility="private")
    ctx.on_load(partial(watched_job, runner, task), job)
    ctx.on_load(lambda: gr.update(placeholder=visitors.namespaced(repo_placeholder)), repo)
    panel = JobPanel(start=start, job=job, runner=runner, task=task)
    from .compare import compare_section  # (it imports this module)

    compare_section(ctx, panel, picker)
    return panel


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
        refresh_btn = gr.Button(L("jobs.refresh"), scale=1)
    famous = [m.choice for m in HUB_MODELS.get(task, ())]
    with gr.Accordion(L("jobs.pull_title"), open=False) as pull_box:
        picker = hub_picker(ctx)
        with gr.Row():
            # The hub's own repos of the task when the accordion opens, the famous models, or any repo id typed in.
            repo = gr.Dropdown(famous, value=None, label=pull_label, allow_custom_value=True, scale=3)
            pull_btn = gr.Button(L("jobs.pull"), scale=1)
        gr.Markdown(L("jobs.pull_note"))
    if famous:  # an example repo id, said in the visitor's language
        ctx.on_load(lambda: gr.update(info=t("jobs.pull_example", example=placeholder)), repo)
    publish_section(ctx, task, source)
    if endpoint.serves(task):
        with gr.Accordion(L("jobs.call_from_code"), open=False):
            code = gr.Markdown()  # (why nothing can be called yet, in the visitor's language: page load)
        ctx.on_load(lambda: endpoint.call_from_code(runner, ctx.default_hub, None, ""), code)

        def call_from_code(value: str | None, request: gr.Request) -> str:
            return endpoint.call_from_code(runner, ctx.default_hub, value, endpoint.origin(request.headers))

        source.change(call_from_code, source, code, api_visibility="private", show_progress="hidden")

    def pull_model(repo_id, choice, url, token, progress=gr.Progress()):
        hub = get_hub(choice, url, token)
        repo_id = (repo_id or "").strip().removeprefix("hf-hub:")  # timm's spelling of a hub repo

        def show(done: int, total: int, what: str) -> None:
            progress((done // 2**20, max(1, total // 2**20)), desc=t("jobs.pulling", what=what), unit="MB")

        folder = visitors.pull(repo_id, hub, progress=show)
        check(folder)
        if (done := folder / ".complete").exists() and (made := json.loads(done.read_text())).get("bytes"):
            gr.Info(t("jobs.pulled", repo=repo_id, size=size_text(made["bytes"]), files=made["files"]),
                    title=t("common.info_title"))
        key = model_key(runner, folder)
        choices = trained_models(runner, task, metric) + [(f"{repo_id} ({hub.label})", key)]
        return gr.update(choices=choices, value=key)

    def offered(choice, url, token):
        """The picked hub's repos of this task first (a newcomer finds the starter model there), then the famous
        ones. A hub that cannot be listed offers the famous ones alone: Pull says what is wrong with it."""
        from training.tasks import get_task

        try:
            hub = get_hub(choice, url, token)
            own = [r["id"] for tag in get_task(task).pipelines for r in hubs.list_repos(hub, task=tag, limit=50)]
        except UserError:
            return gr.update(choices=famous)
        return gr.update(choices=[(t("jobs.repo_on_hub", repo=r, hub=hub.name), r) for r in own] + famous)

    def refresh(current):
        return model_choices(runner, task, metric, current)

    def on_load():
        trained = trained_models(runner, task, metric)
        return gr.update(choices=trained, value=trained[0][1] if trained else None)

    refresh_btn.click(refresh, source, source, api_visibility="private")
    for shown in tab if isinstance(tab, list) else [tab]:
        shown.select(refresh, source, source, api_visibility="private")
    pull_btn.click(pull_model, [repo, *picker.inputs], source, api_name=f"{task}_pull")
    pull_box.expand(offered, picker.inputs, repo, api_name=f"{task}_offered", show_progress="hidden")
    ctx.on_load(on_load, source)
    return source


def publish_section(ctx: AppContext, task: str, source: gr.Dropdown) -> None:
    """"Publish as a Space": the model picked in ``source`` as a demo of its own (hub.publish), on the hub picked
    here: a link on huggingface.co, or the command that runs it from a local or team hub. The event is
    ``<task>_publish``."""
    runner = ctx.runner
    with gr.Accordion(L("jobs.publish_title"), open=False):
        gr.Markdown(L("jobs.publish_text"))
        picker = hub_picker(ctx)
        with gr.Row():
            space_id = gr.Textbox(label=L("jobs.space_repo_id"), placeholder=L("jobs.space_repo_placeholder"),
                                  scale=3)
            private = gr.Checkbox(label=L("jobs.private"), value=False, scale=1)
            publish_btn = gr.Button(L("jobs.publish"), scale=1)
        answer = gr.Markdown()

    def publish_model(model, space, private_, choice, url, token):
        from hub import publish as spaces

        folder = checked_model_folder(runner, model)
        hub = get_hub(choice, url, token)
        job_id = (model or "").removeprefix(JOB_KEY) if (model or "").startswith(JOB_KEY) else None
        name = visible_job(runner, job_id).label if job_id else Path(folder).parent.name
        model_id, revision = spaces.model_on_hub(folder, hub, name, private=bool(private_))
        space = (space or "").strip() or spaces.default_space_id(model_id, model_id.split("/")[0])
        done = spaces.publish(task, folder, model_id=model_id, revision=revision, space_id=space, hub=hub,
                              private=bool(private_))
        if done.run is None:
            return t("jobs.published_link", space=done.space_id, url=done.url, commit=done.commit[:8],
                     model=model_id, revision=revision[:8])
        return t("jobs.published_run", space=done.space_id, hub=hub.label, commit=done.commit[:8], model=model_id,
                 revision=revision[:8], command=done.run)

    publish_btn.click(lambda: "", None, answer, api_visibility="private").then(
        publish_model, None, answer, api_name=f"{task}_publish",
        inputs_kwargs={"model": source, "space": space_id, "private_": private, **picker.named})


def toggle_data_fields(radio: gr.Radio, sources: dict[str, str], shown: dict[Any, tuple[str, ...]]) -> None:
    """Show each field of ``shown`` only while the data source picked in ``radio`` is one of its kinds
    (``sources`` maps the radio's labels to "builtin", "upload" or "hub")."""
    fields = list(shown)
    radio.change(lambda label: [gr.update(visible=sources.get(label) in shown[f]) for f in fields], radio, fields,
                 api_visibility="private")


def chosen_data(sources: dict[str, str], label: str, upload: str | None, repo: str | None, *, builtin: str,
                hub: hubs.Hub, keep: Callable[[str], Path], check: Callable[[str], Any] | None = None,
                missing: str | None = None) -> tuple[str, str, str]:
    """(dataset for the trainer, name for the job label, kind) from a tab's data-source fields.

    An upload is kept in the app's folder by ``keep`` and vetted by ``check`` now, so a bad file is
    a message here rather than a failed job later; a dataset repo must be on ``hub`` (the job's) already.
    ``missing`` is the message when no file was uploaded (a t() string; by default, "Upload a file.").
    """
    kind = sources.get(label, "builtin")
    if kind == "upload":
        if not upload:
            raise UserError(missing or t("jobs.upload_a_file"))
        dataset = str(keep(upload))
        if check is not None:
            check(dataset)
        return dataset, Path(upload).name, kind
    if kind == "hub":
        repo_id = hubs.check_exists(repo or "", hub, "dataset")
        return repo_id, repo_id, kind
    return builtin, builtin, kind
