"""About tab: what the playground is, where its data lives, which versions run it."""
from __future__ import annotations

from functools import partial
from importlib import metadata
from pathlib import Path

import gradio as gr

from hub.client import cache_root

from . import visitors
from .common import AppContext

TITLE = "About"
LIBRARIES = ["torch", "torchvision", "gradio", "transformers", "timm", "diffusers", "huggingface-hub",
             "datasets", "accelerate", "safetensors"]

ABOUT = """
### DL Playground
A browser playground and model hub for the ideas of a deep-learning course: run a model on
your own input, train or fine-tune one while watching its curves, and publish the result
with a proper model card.

**Hubs.** Every push and pull names its hub. *Local hub* is a Hugging Face Hub-compatible
server that runs inside this app on a loopback port and keeps its data on this machine, so
everything works offline and without an account. *huggingface.co* uses your token (the token
field, or `HF_TOKEN`). *Hub at a URL* is a team server started with
`python -m hub.server serve --host 0.0.0.0 --port 8808 --data-dir DIR`; its admin makes
write tokens with `python -m hub.server add-token --data-dir DIR --user NAME`.
Repos pushed to any of them load with the official libraries (`from_pretrained`,
`hf_hub_download`, `timm.create_model("hf-hub:...")`) and no code from this project.

**Tokens** are sent to the hub you chose and nowhere else: they are never logged or stored
by the app. The local hub keeps only hashes of its tokens.
"""


def environment_table() -> list[list[str]]:
    rows = []
    for name in LIBRARIES:
        try:
            rows.append([name, metadata.version(name)])
        except metadata.PackageNotFoundError:
            rows.append([name, "not installed"])
    return rows


def data_note(jobs_root: Path) -> str:
    """Where the data lives: the folder for the owner; a visitor is told what is kept, not where."""
    if visitors.is_owner():
        import os

        runs = os.environ.get("TRACKIO_DIR") or jobs_root / "trackio"
        return (f"**Data folder:** `{cache_root()}` (local hub storage, pulled models, training runs). "
                "Set `DLP_HOME` to move it.\n\n**Experiment tracker:** every training run also logs to trackio in "
                f"`{runs}`: `TRACKIO_DIR={runs} trackio show --project dl-playground-<task>` opens its dashboard, "
                "`trackio sync` sends the runs to a Space or a dataset. Visitors' runs stay in their own jobs' "
                "folders.")
    return ("**Your work here:** the jobs you start and the faces you enrol are kept on this app's server, apart "
            "from other visitors'; push a model to a hub to keep it.")


def build(ctx: AppContext) -> None:
    gr.Markdown(ABOUT)
    note = gr.Markdown()
    ctx.on_load(partial(data_note, ctx.runner.root), note)
    gr.Dataframe(environment_table(), headers=["library", "version"], interactive=False,
                 label="Installed versions")
    if visitors.policy.public and visitors.policy.admin_secret:
        owner_access()


def owner_access() -> None:
    """On a public app, the owner proves who they are with the admin secret (DLP_ADMIN_SECRET); the page reloads
    to show what the owner sees (every visitor's jobs, the data folder) and to use the app's credentials."""
    with gr.Accordion("Owner access", open=False):
        gr.Markdown("The owner of this app can act as the owner from this browser: see and stop every visitor's "
                    "jobs, and push with the app's own credentials.")
        with gr.Row():
            secret = gr.Textbox(label="Admin secret (DLP_ADMIN_SECRET)", type="password", scale=3)
            enter = gr.Button("Act as owner", scale=1)
            leave = gr.Button("Back to visitor", scale=1)
        status = gr.Markdown()
    reload = "() => window.location.reload()"
    enter.click(visitors.prove_owner, secret, status, api_name="prove_owner").success(None, js=reload)
    leave.click(visitors.leave_owner, None, status, api_name="leave_owner").success(None, js=reload)
