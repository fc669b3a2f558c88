"""Compare runs and random search: the accordion under every task's job panel.

Compare overlays the loss and metric curves of several jobs of the task and ranks them by the task's metric with
the hyper-parameters beside it; a random search (training.search) queues trials around the watched job's config
as ordinary jobs (each visitor's job limit holds) and selects them for comparison.
"""
from __future__ import annotations

import time
from functools import partial
from typing import Any

import gradio as gr

from common.errors import UserError
from training.runner import JobRunner
from training.search import MAX_TRIALS
from training.tasks import get_task

from .common import AppContext, HubPicker, get_hub
from .i18n import L, t
from .jobs import JobPanel, job_choices, job_metrics, metric_label, metric_name, state, visible_job

MAX_COMPARED = 12
MAX_POINTS = 400  # per job's loss curve: a long run is thinned to this many points, its shape kept
COLUMNS = ("model", "optimizer", "lr", "weight_decay", "batch_size", "epochs")
BATCH_SIZES = (8, 16, 32, 64, 128, 256)


def thinned(items: list, limit: int = MAX_POINTS) -> list:
    """Every k-th item, and always the last, so at most ``limit`` stay."""
    if len(items) <= limit:
        return items
    k = -(-len(items) // limit)
    return items[::k] + ([items[-1]] if (len(items) - 1) % k else [])


def compare(runner: JobRunner, task: str, job_ids: list[str] | None) -> tuple[Any, Any, list[list[Any]], str]:
    """(loss by step, metric by epoch, each coloured by job; the ranked table; a note) for the picked jobs."""
    import pandas as pd

    from training.search import ranked

    spec = get_task(task)
    if not job_ids:
        raise UserError(t("compare.pick_jobs"))
    if len(job_ids) > MAX_COMPARED:
        raise UserError(t("compare.too_many", most=MAX_COMPARED))
    losses, metrics, rows = [], [], []
    for job_id in job_ids:
        try:
            job = visible_job(runner, job_id)
        except KeyError:
            raise UserError(t("compare.no_job", job=job_id)) from None
        # Short enough for a legend: a trial's label without its search's name (the table has the settings).
        name = f"{job.id[-6:]} {job.label.split(': ', 1)[-1]}"[:36]
        run = runner.digest(job_id)
        losses += [{"step": x, "loss": y, "job": name} for x, y in thinned(run.loss.points())]
        evals = [e["metrics"][spec.metric] for e in run.evals if spec.metric in e["metrics"]]
        metrics += [{"epoch": e["epoch"], spec.metric: e["metrics"][spec.metric], "job": name}
                    for e in run.evals if spec.metric in e["metrics"]]
        final = job_metrics(runner, job_id).get(spec.metric)
        if final is None:  # still running: its latest validation
            final = evals[-1] if evals else None
        rows.append({"job": name, "status": state(job.status), **{c: job.config.get(c) for c in COLUMNS},
                     spec.metric: final})
    rows = ranked(rows, spec.metric, spec.lower_is_better)
    table = [[r["job"], r["status"], *[r[c] for c in COLUMNS],
              None if r[spec.metric] is None else round(r[spec.metric], 4)] for r in rows]
    best = rows[0] if rows[0][spec.metric] is not None else None
    if best is None:
        note = t("compare.no_results")
    elif spec.lower_is_better:
        note = t("compare.best_lower", job=best["job"], metric=metric_name(spec.metric), value=best[spec.metric])
    else:
        note = t("compare.best_higher", job=best["job"], metric=metric_name(spec.metric), value=best[spec.metric])
    headers = [t("compare.col_job"), t("compare.col_status"), *COLUMNS, metric_name(spec.metric)]
    return (pd.DataFrame(losses) if losses else None, pd.DataFrame(metrics) if metrics else None,
            pd.DataFrame(table, columns=headers, dtype=object), note)


def launch_search(runner: JobRunner, panel: JobPanel, *, base_job: str | None, trials: float, lr_low: float,
                  lr_high: float, wd_low: float, wd_high: float, batch_sizes: list, seed: float, choice: str, url: str,
                  token: str) -> tuple[Any, str]:
    """Queue the trials around ``base_job``'s config; (the compare picker's update with them, a note)."""
    from training import search

    if not base_job:
        raise UserError(t("compare.watch_first"))
    try:
        job = visible_job(runner, base_job)
    except KeyError:
        raise UserError(t("compare.no_job", job=base_job)) from None
    spec = get_task(job.task)
    if not 1 <= int(trials) <= MAX_TRIALS:
        raise UserError(t("compare.trials_range", most=MAX_TRIALS))
    try:
        settings = search.draw(int(trials), int(seed or 0), lr=(lr_low, lr_high),
                               weight_decay=(wd_low, wd_high) if wd_high > 0 else None,
                               batch_sizes=[int(b) for b in batch_sizes or ()])
        group = f"search-{time.strftime('%m%d-%H%M%S')}"
        configs = search.trial_configs(search.config_of(spec.config, job.config), settings, group)
    except (ValueError, TypeError) as e:
        raise UserError(str(e)) from None
    hub = get_hub(choice, url, token)
    started, why = [], ""
    for k, (cfg, setting) in enumerate(zip(configs, settings), start=1):
        try:
            update = panel.submit(cfg, f"{group} #{k}: {search.describe(setting)}", hub)
        except UserError as e:  # a visitor's job limit: the trials queued so far still run
            why = e
            break
        started.append(update["value"])
    note = t("compare.queued", done=len(started), trials=len(settings), group=group, job=job.label)
    if why:
        note += " " + t("compare.rest_not_queued", why=why)
    return gr.update(choices=job_choices(runner, spec.name), value=started), note


def compare_section(ctx: AppContext, panel: JobPanel, picker: HubPicker) -> None:
    """Lay out and wire the accordion under ``panel``; api names ``<task>_compare`` and ``<task>_search``."""
    runner, task = ctx.runner, panel.task
    spec = get_task(task)
    with gr.Accordion(L("compare.title"), open=False) as box:
        gr.Markdown(L("compare.intro"))
        with gr.Row():
            picked = gr.Dropdown([], value=[], multiselect=True, label=L("compare.jobs_to_compare"), scale=4)
            compare_btn = gr.Button(L("compare.compare"), scale=1)
        note = gr.Markdown()
        with gr.Row():
            loss_plot = gr.LinePlot(x="step", y="loss", color="job", title=L("compare.loss_plot"), height=280)
            # (the metric's name is the plot's y axis)
            metric_plot = gr.LinePlot(x="epoch", y=spec.metric, color="job", title=L("compare.metric_plot"),
                                      height=280, x_axis_format="~g")
            ctx.axis_titles(loss_plot, x="axis.step", y="axis.loss", color="axis.job")
            ctx.axis_titles(metric_plot, x="axis.epoch", color="axis.job")
        table = gr.Dataframe(headers=[str(L("compare.col_job")), str(L("compare.col_status")), *COLUMNS,
                                      metric_label(spec.metric)],
                             interactive=False, label=L("compare.runs_table"))
        with gr.Row():
            trials = gr.Number(6, label=L("compare.trials"), minimum=1, maximum=MAX_TRIALS, precision=0, scale=1)
            lr_low = gr.Number(1e-4, label=L("compare.lr_from"), minimum=0, scale=1)
            lr_high = gr.Number(1e-2, label=L("compare.to"), minimum=0, scale=1)
            wd_low = gr.Number(0.0, label=L("compare.wd_from"), minimum=0, scale=1)
            wd_high = gr.Number(0.0, label=L("compare.wd_to"), minimum=0, scale=1)
            batch_sizes = gr.CheckboxGroup(list(BATCH_SIZES), value=[], label=L("compare.batch_sizes"), scale=3)
            seed = gr.Number(0, label=L("compare.seed"), precision=0, scale=1)
        search_btn = gr.Button(L("compare.start_search"))
    compare_btn.click(partial(compare, runner, task), picked, [loss_plot, metric_plot, table, note],
                      api_name=f"{task}_compare")
    search_inputs = {"base_job": panel.job, "trials": trials, "lr_low": lr_low, "lr_high": lr_high, "wd_low": wd_low,
                     "wd_high": wd_high, "batch_sizes": batch_sizes, "seed": seed, **picker.named}
    search_btn.click(partial(launch_search, runner, panel), None, [picked, note], inputs_kwargs=search_inputs,
                     api_name=f"{task}_search")
    # The picker lists this visitor's jobs of the task, fresh when the accordion opens and when the picker is
    # clicked (not on every change of the panel's job: nine such events on page load kept the browser busy).
    fresh = dict(fn=lambda: gr.update(choices=job_choices(runner, task)), inputs=None, outputs=picked,
                 queue=False, api_visibility="private", show_progress="hidden")
    box.expand(**fresh)
    picked.focus(**fresh)
