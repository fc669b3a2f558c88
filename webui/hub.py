"""Hub tab: browse a hub's repos, read a card, its files and metrics, pull, delete your own."""
from __future__ import annotations

from typing import Any

import gradio as gr

from common.errors import UserError
from hub import client as hubs

from . import visitors
from .common import AppContext, get_hub, hub_picker
from .i18n import L, choice, t

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
        return t("hub.active_unreachable", hub=hub.label, error=e)
    if user:
        return t("hub.active_signed_in", hub=hub.label, user=user)
    if hub.kind == "local":
        return t("hub.active_local_read_only", hub=hub.label)
    return t("hub.active_read_only", hub=hub.label)


def list_repos(choice: str, url: str, token: str, search: str, task: str, repo_type: str) -> tuple[Any, str]:
    hub = get_hub(choice, url, token)
    rows = hubs.list_repos(hub, search=search or "", task=task or "", repo_type=repo_type or "model")
    table = [[r[c] for c in LIST_COLUMNS] for r in rows]
    kind = kind_name(repo_type or "model")
    count = t("hub.count_one", kind=kind) if len(rows) == 1 else t("hub.count", n=len(rows), kind=kind)
    found = t("hub.found", count=count, hub=hub.label, matching=t("hub.matching", search=search) if search else "",
              task=t("hub.for_task", task=task) if task else "")
    headers = [t("hub.col_id"), t("hub.col_task"), t("hub.col_library"), t("hub.col_updated"), t("hub.col_private")]
    return _table(table, headers), found


def _table(rows: list[list], headers: list[str]) -> Any:
    """A table with its headers in the visitor's language (an API client gets the same headers and data)."""
    import pandas as pd

    return pd.DataFrame(rows, columns=headers, dtype=object)


def kind_name(repo_type: str) -> str:
    """A repo type (model, dataset, space: the Hub's words) in the visitor's language."""
    return {"model": t("hub.kind.model"), "dataset": t("hub.kind.dataset"),
            "space": t("hub.kind.space")}.get(repo_type, repo_type)


def show_repo(choice: str, url: str, token: str, repo_id: str,
              repo_type: str) -> tuple[str, Any, Any, Any, str]:
    hub = get_hub(choice, url, token)
    d = hubs.repo_details(repo_id, hub, repo_type or "model")
    meta = d.card_data
    facts = [t("hub.at_commit", repo=d.repo_id, commit=d.sha[:10])] + ([t("hub.private")] if d.private else [])
    names = {"pipeline_tag": t("hub.meta.pipeline_tag"), "library_name": t("hub.meta.library_name"),
             "base_model": t("hub.meta.base_model"), "datasets": t("hub.meta.datasets"),
             "license": t("hub.meta.license")}
    for key, name in names.items():
        if meta.get(key):
            value = meta[key] if isinstance(meta[key], str) else ", ".join(map(str, meta[key]))
            facts.append(t("hub.fact", name=name, value=value))
    files = [[f["path"], _size(f["size"])] for f in d.files]
    metrics = [[m["metric"], m["value"], m["dataset"], m["split"], m["task"]] for m in d.metrics]
    history = [[c["commit"][:10], c["message"], c["author"], c["date"]] for c in d.history]
    return (d.card or t("hub.no_card"),
            _table(files, [t("hub.col_file"), t("hub.col_size")]),
            _table(metrics, [t("hub.col_metric"), t("hub.col_value"), t("hub.col_dataset"), t("hub.col_split"),
                             t("hub.col_task")]),
            _table(history, [t("hub.col_commit"), t("hub.col_message"), t("hub.col_author"), t("hub.col_date")]),
            " · ".join(facts))


def select_row(table, evt: gr.SelectData) -> str:
    """Clicking any cell of a row picks that row's repo id."""
    row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
    rows = table.values.tolist() if hasattr(table, "values") else table
    return str(rows[row][0]) if rows and 0 <= row < len(rows) else ""


def pull_repo(choice: str, url: str, token: str, repo_id: str, repo_type: str) -> str:
    hub = get_hub(choice, url, token)
    path = visitors.pull(repo_id, hub, repo_type=repo_type or "model")
    n = sum(1 for p in path.rglob("*") if p.is_file() and p.name != ".complete")
    if visitors.is_owner():  # a server path is the owner's business
        return t("hub.pulled_into", repo=repo_id, n=n, path=path)
    return t("hub.pulled", repo=repo_id, n=n)


def delete_repo(choice: str, url: str, token: str, repo_id: str, confirm: str, repo_type: str) -> str:
    if not repo_id:
        raise UserError(t("hub.pick_repo"))
    if (confirm or "").strip() != repo_id:
        raise UserError(t("hub.type_to_confirm", repo=repo_id))
    hub = get_hub(choice, url, token)
    hubs.delete_repo(repo_id, hub, repo_type or "model")
    return t("hub.deleted", repo=repo_id, hub=hub.label)


def build(ctx: AppContext) -> None:
    gr.Markdown(L("hub.intro"))
    picker = hub_picker(ctx)
    status = gr.Markdown()
    with gr.Row():
        search = gr.Textbox(label=L("hub.search"), placeholder=L("hub.search_placeholder"), scale=3)
        task = gr.Dropdown(TASKS, value="", label=L("hub.task"), scale=2)
        repo_type = gr.Radio([choice("hub.kind.model", "model"), choice("hub.kind.dataset", "dataset"),
                              choice("hub.kind.space", "space")], value="model", label=L("hub.type"), scale=2)
        refresh = gr.Button(L("hub.search_button"), variant="primary", scale=1)
    found = gr.Markdown()
    table = gr.Dataframe(headers=[str(L(f"hub.col_{c}")) for c in LIST_COLUMNS],
                         datatype=["str", "str", "str", "str", "bool"], interactive=False,
                         label=L("hub.repos"), wrap=True)
    with gr.Row():
        repo_id = gr.Textbox(label=L("hub.repo_id"), placeholder="namespace/name", scale=3)
        show = gr.Button(L("hub.show"), scale=1)
        pull = gr.Button(L("hub.pull"), scale=1)
    facts = gr.Markdown()
    with gr.Row():
        with gr.Column(scale=3):
            card = gr.Markdown(label=L("hub.model_card"), container=True)
        with gr.Column(scale=2):
            metrics = gr.Dataframe(headers=[str(L(f"hub.col_{c}")) for c in ("metric", "value", "dataset", "split",
                                                                               "task")],
                                   interactive=False, label=L("hub.metrics"))
            files = gr.Dataframe(headers=[str(L("hub.col_file")), str(L("hub.col_size"))], interactive=False,
                                 label=L("hub.files"))
            history = gr.Dataframe(headers=[str(L(f"hub.col_{c}")) for c in ("commit", "message", "author", "date")],
                                   interactive=False, label=L("hub.history"), wrap=True)
    with gr.Accordion(L("hub.delete_title"), open=False):
        confirm = gr.Textbox(label=L("hub.confirm"))
        delete = gr.Button(L("hub.delete"), variant="stop")
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
