"""Hub tab: browse a hub's repos, read a card, its files and metrics, pull, delete your own."""
from __future__ import annotations

import gradio as gr

from common.errors import UserError
from hub import client as hubs

from . import visitors
from .common import AppContext, get_hub, hub_picker

TITLE = "Hub"
# The pipeline tags of the playground's tasks (the Hub's own names).
TASKS = ["", "image-classification", "object-detection", "image-segmentation", "image-feature-extraction",
         "image-to-image", "text-classification", "token-classification", "fill-mask", "text-generation",
         "translation", "unconditional-image-generation"]
LIST_COLUMNS = ["id", "task", "library", "updated", "private"]


def _size(n: int | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def describe_hub(choice: str, url: str, token: str) -> str:
    hub = get_hub(choice, url, token)
    try:
        user = hubs.whoami(hub)
    except hubs.HubActionError as e:
        return f"**Active hub:** {hub.label}. ⚠️ {e}"
    who = f"signed in as **{user}**" if user else "no token: read-only, public repos only"
    if hub.kind == "local" and not user:
        who += " (this app is shared, so visitors do not act as its owner: paste a write token to push or delete)"
    return f"**Active hub:** {hub.label}, {who}."


def list_repos(choice: str, url: str, token: str, search: str, task: str, repo_type: str) -> tuple[list[list], str]:
    hub = get_hub(choice, url, token)
    rows = hubs.list_repos(hub, search=search or "", task=task or "", repo_type=repo_type or "model")
    table = [[r[c] for c in LIST_COLUMNS] for r in rows]
    what = f"{len(rows)} {repo_type or 'model'} repo{'s' if len(rows) != 1 else ''} on {hub.label}"
    return table, what + (f" matching '{search}'" if search else "") + (f" for {task}" if task else "") + "."


def show_repo(choice: str, url: str, token: str, repo_id: str,
              repo_type: str) -> tuple[str, list[list], list[list], list[list], str]:
    hub = get_hub(choice, url, token)
    d = hubs.repo_details(repo_id, hub, repo_type or "model")
    meta = d.card_data
    facts = [f"**{d.repo_id}** at commit `{d.sha[:10]}`" + (" · private" if d.private else "")]
    for key in ("pipeline_tag", "library_name", "base_model", "datasets", "license"):
        if meta.get(key):
            value = meta[key] if isinstance(meta[key], str) else ", ".join(map(str, meta[key]))
            facts.append(f"{key.replace('_', ' ')}: {value}")
    files = [[f["path"], _size(f["size"])] for f in d.files]
    metrics = [[m["metric"], m["value"], m["dataset"], m["split"], m["task"]] for m in d.metrics]
    history = [[c["commit"][:10], c["message"], c["author"], c["date"]] for c in d.history]
    return d.card or "*This repo has no model card (README.md).*", files, metrics, history, " · ".join(facts)


def select_row(table, evt: gr.SelectData) -> str:
    """Clicking any cell of a row picks that row's repo id."""
    row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
    rows = table.values.tolist() if hasattr(table, "values") else table
    return str(rows[row][0]) if rows and 0 <= row < len(rows) else ""


def pull_repo(choice: str, url: str, token: str, repo_id: str, repo_type: str) -> str:
    hub = get_hub(choice, url, token)
    path = visitors.pull(repo_id, hub, repo_type=repo_type or "model")
    n = sum(1 for p in path.rglob("*") if p.is_file() and p.name != ".complete")
    where = f" into `{path}`" if visitors.is_owner() else ""  # a server path is the owner's business
    return f"Pulled **{repo_id}** ({n} files){where}."


def delete_repo(choice: str, url: str, token: str, repo_id: str, confirm: str, repo_type: str) -> str:
    if not repo_id:
        raise UserError("Pick a repo first.")
    if (confirm or "").strip() != repo_id:
        raise UserError(f"Type the repo id ({repo_id}) in the confirmation box to delete it.")
    hub = get_hub(choice, url, token)
    hubs.delete_repo(repo_id, hub, repo_type or "model")
    return f"Deleted **{repo_id}** from {hub.label}."


def build(ctx: AppContext) -> None:
    gr.Markdown("Browse the models on a hub, read their cards and metrics, pull them, and delete your own. "
                "The local hub runs inside this app and works offline; point at huggingface.co or any "
                "Hub-compatible server to share.")
    picker = hub_picker(ctx)
    status = gr.Markdown()
    with gr.Row():
        search = gr.Textbox(label="Search", placeholder="part of a repo id", scale=3)
        task = gr.Dropdown(TASKS, value="", label="Task", scale=2)
        repo_type = gr.Radio(["model", "dataset", "space"], value="model", label="Type", scale=2)
        refresh = gr.Button("Search", variant="primary", scale=1)
    found = gr.Markdown()
    table = gr.Dataframe(headers=LIST_COLUMNS, datatype=["str", "str", "str", "str", "bool"], interactive=False,
                         label="Repos (click a row)", wrap=True)
    with gr.Row():
        repo_id = gr.Textbox(label="Repo id", placeholder="namespace/name", scale=3)
        show = gr.Button("Show", scale=1)
        pull = gr.Button("Pull to this machine", scale=1)
    facts = gr.Markdown()
    with gr.Row():
        with gr.Column(scale=3):
            card = gr.Markdown(label="Model card", container=True)
        with gr.Column(scale=2):
            metrics = gr.Dataframe(headers=["metric", "value", "dataset", "split", "task"], interactive=False,
                                   label="Metrics (from the card's model-index)")
            files = gr.Dataframe(headers=["file", "size"], interactive=False, label="Files")
            history = gr.Dataframe(headers=["commit", "message", "author", "date"], interactive=False,
                                   label="History (newest first)", wrap=True)
    with gr.Accordion("Delete this repo", open=False):
        confirm = gr.Textbox(label="Type the repo id to confirm")
        delete = gr.Button("Delete repo", variant="stop")
    result = gr.Markdown()

    hub_in = picker.inputs
    for trigger in (picker.choice.change, picker.token.submit, picker.url.submit):
        trigger(describe_hub, hub_in, status, api_visibility="private")
    listing = dict(fn=list_repos, inputs=[*hub_in, search, task, repo_type], outputs=[table, found])
    refresh.click(**listing, api_name="hub_list")
    search.submit(**listing, api_visibility="private")
    task.change(**listing, api_visibility="private")
    repo_type.change(**listing, api_visibility="private")
    details = dict(fn=show_repo, inputs=[*hub_in, repo_id, repo_type], outputs=[card, files, metrics, history, facts])
    table.select(select_row, table, repo_id, api_visibility="private").then(**details, api_visibility="private")
    show.click(**details, api_name="hub_details")
    repo_id.submit(**details, api_visibility="private")
    pull.click(pull_repo, [*hub_in, repo_id, repo_type], result, api_name="hub_pull")
    delete.click(delete_repo, [*hub_in, repo_id, confirm, repo_type], result, api_name="hub_delete").success(
        **listing, api_visibility="private")
    # On page load: who am I on the default hub, and what is there.
    ctx.demo.load(describe_hub, hub_in, status, api_visibility="private")
    ctx.demo.load(**listing, api_visibility="private")
