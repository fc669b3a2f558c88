"""Line fitting tab: the form comes from LineConfig; the panel follows its jobs."""
from __future__ import annotations

import gradio as gr

from webui.common import AppContext, hub_picker
from webui.forms import ConfigForm
from webui.jobs import job_panel
from training.tasks import get_task

TASK = get_task("line")
TITLE = TASK.title


def build(ctx: AppContext) -> None:
    form = ConfigForm(TASK.config)
    picker = hub_picker(ctx)
    with gr.Row():
        for name in ("slope", "noise", "points", "epochs", "lr"):
            form.field(name)
    panel = job_panel(ctx, TASK.name, picker, metric=TASK.metric, unit="points/s")

    def start(**values):
        return panel.submit(form.config(values), label=f"y = {values['slope']} x + 0.5")

    form.submit(panel.start, start, panel.job, api_name="line_train")
