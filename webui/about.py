"""About tab: what the playground is, where its data lives, which versions run it."""
from __future__ import annotations

from functools import partial
from importlib import metadata
from pathlib import Path

import gradio as gr

from hub.client import cache_root

from . import visitors
from .common import AppContext
from .i18n import L, t

TITLE = "About"
LIBRARIES = ["torch", "torchvision", "gradio", "transformers", "timm", "diffusers", "huggingface-hub",
             "datasets", "accelerate", "safetensors"]

def environment_table() -> dict:
    """The libraries' versions, with headers in the visitor's language."""
    rows = []
    for name in LIBRARIES:
        try:
            rows.append([name, metadata.version(name)])
        except metadata.PackageNotFoundError:
            rows.append([name, t("about.not_installed")])
    return gr.update(value=rows, headers=[t("about.library"), t("about.version")])


def data_note(jobs_root: Path) -> str:
    """Where the data lives: the folder for the owner; a visitor is told what is kept, not where."""
    if visitors.is_owner():
        import os

        runs = os.environ.get("TRACKIO_DIR") or jobs_root / "trackio"
        return t("about.data_owner", folder=cache_root(), runs=runs)
    return t("about.data_visitor")


def build(ctx: AppContext) -> None:
    gr.Markdown(L("about.body"))
    note = gr.Markdown()
    ctx.on_load(partial(data_note, ctx.runner.root), note)
    versions = gr.Dataframe(headers=[str(L("about.library")), str(L("about.version"))], interactive=False,
                            label=L("about.versions"))
    ctx.on_load(environment_table, versions)
    if visitors.policy.public and visitors.policy.admin_secret:
        owner_access()


def owner_access() -> None:
    """On a public app, the owner proves who they are with the admin secret (DLP_ADMIN_SECRET); the page reloads
    to show what the owner sees (every visitor's jobs, the data folder) and to use the app's credentials."""
    with gr.Accordion(L("about.owner_access"), open=False):
        gr.Markdown(L("about.owner_access_text"))
        with gr.Row():
            secret = gr.Textbox(label=L("about.admin_secret"), type="password", scale=3)
            enter = gr.Button(L("about.act_as_owner"), scale=1)
            leave = gr.Button(L("about.back_to_visitor"), scale=1)
        status = gr.Markdown()
    reload = "() => window.location.reload()"
    enter.click(visitors.prove_owner, secret, status, api_name="prove_owner").success(None, js=reload)
    leave.click(visitors.leave_owner, None, status, api_name="leave_owner").success(None, js=reload)
