"""BERT fine-tuning tab: fine-tune a pre-trained encoder for labels, pairs or tags; try it; fill the mask."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from common.errors import UserError
from hub import client as hubs
from hub_models.visual import confusion_picture
from training.tasks import get_task
from training.tasks.bert import KINDS
from training.bert_data import BUILTIN, BUILTIN_KIND

from . import visitors
from .common import PREDICT, AppContext, answered, get_hub, hub_picker
from .forms import ConfigForm
from .i18n import L, choice, t
from .jobs import checked_model_folder, chosen_data, hub_spec, job_panel, model_source, toggle_data_fields

TASK = get_task("bert")
TITLE = TASK.title

# The data-source radio's values (what the handlers and the API get) and their kinds; source_choices() shows them.
DATA_SOURCES = {"Built-in sample": "builtin", "Upload CSV/TSV/JSONL": "upload",
                "Dataset repo on the hub": "hub"}  # i18n: not shown (values: the page shows source_choices())
TABLE_TYPES = [".csv", ".tsv", ".jsonl", ".json"]
COLUMNS = ("text_column", "pair_column", "label_column")
# The models' inputs, in English as the built-in samples are (words their training never saw): data the model reads,
# not the page's words, so they stay as they are in every language.
EXAMPLES = [["The soup was exquisite.", ""],  # i18n: not shown as UI text: English model input
            ["The lecture was tedious.", ""],  # i18n: not shown as UI text: English model input
            ["The pizza was splendid.", "The pizza was dismal."],  # i18n: not shown as UI text: English model input
            ["Kenji Tanaka flew from Seoul to Vienna to meet Airbus .", ""]]  # i18n: not shown as UI text: model input
MASKED_EXAMPLE = "The movie was [MASK]."  # i18n: not shown as UI text: English model input
# What the tab reads of a base on the hub to check it early; the job pulls the weights.
BASE_CHECK_FILES = ["config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"]


def _text_model_kind(folder: Path) -> None:
    """A pulled repo must be a sequence or token classifier, or a masked LM."""
    from hub_models.bert import model_kind

    model_kind(folder)


def _check_base(base: str, task: str, hub: hubs.Hub) -> None:
    """A base repo on the hub must be a text encoder for ``task``: its config and tokenizer files say so."""
    from hub_models.bert import check_text_model

    try:
        folder = visitors.pull(base, hub, allow_patterns=BASE_CHECK_FILES)  # (pull checks the id)
        check_text_model(folder, "token" if task == "token" else "sequence", base)
    except UserError as e:
        raise UserError(t("bert.base_error", error=e)) from None


def kind_choices() -> list[tuple[str, str]]:
    labels = {"sequence": choice("bert.kind_sequence", "sequence"), "token": choice("bert.kind_token", "token"),
              "mlm": choice("bert.kind_mlm", "mlm")}
    return [labels[k] for k in KINDS]


def source_choices() -> list[tuple[str, str]]:
    value = {kind: label for label, kind in DATA_SOURCES.items()}
    return [choice("bert.source_builtin", value["builtin"]), choice("bert.source_upload", value["upload"]),
            choice("bert.source_hub", value["hub"])]


def sample_choices() -> list[tuple[str, str]]:
    shown = {"sentiment": choice("bert.sample_sentiment", "sentiment"),
             "sentiment-pairs": choice("bert.sample_sentiment_pairs", "sentiment-pairs"),
             "entities": choice("bert.sample_entities", "entities")}
    return [shown.get(k, (f"{k}: {v}", k)) for k, v in BUILTIN.items()]


def build(ctx: AppContext) -> None:
    runner = ctx.runner
    gr.Markdown(L("bert.intro"))
    form = ConfigForm(TASK.config)
    with gr.Tab(L("bert.tab_train")):
        gr.Markdown(L("bert.hub_note"))
        picker = hub_picker(ctx)
        with gr.Row():
            task = form.add("task", gr.Radio(kind_choices(), value=form.defaults.task, label=L("bert.task"), scale=3))
            form.field("base", info=L("bert.base_info"), scale=2)
            source_kind = gr.Radio(source_choices(), value=next(iter(DATA_SOURCES)), label=L("bert.data"), scale=3)
        with gr.Row():
            sample = gr.Dropdown(sample_choices(), value=form.defaults.dataset, label=L("bert.builtin_sample"),
                                 scale=3)
            upload = gr.File(label=L("bert.upload"), file_types=TABLE_TYPES, type="filepath", visible=False, scale=3)
            data_repo = gr.Textbox("", label=L("bert.data_repo"), placeholder="you/my-reviews", visible=False,
                                   scale=3)
        with gr.Row(visible=False) as columns_row:
            # The choices come from an upload's header; any name may be typed (a dataset repo's columns).
            column_fields = [form.field(name, choices=[], allow_custom_value=True, info=None) for name in COLUMNS]
        with gr.Row():
            for name in ("epochs", "batch_size", "lr", "warmup_steps", "max_length", "weight_decay", "seed",
                         "export_onnx"):
                form.field(name, info=None)
        panel = job_panel(ctx, TASK.name, picker, metric=TASK.metric, unit="examples/s",
                          picture_label=L("bert.confusion"), picture=confusion_picture,
                          repo_placeholder="you/minilm-reviews")

    with gr.Tab(L("bert.tab_predict")) as predict_tab:
        source = model_source(ctx, TASK.name, predict_tab, metric=TASK.metric, label=L("bert.model"),
                              pull_label=L("bert.pull_label"),
                              placeholder="you/minilm-reviews", check=_text_model_kind)
        with gr.Row():
            with gr.Column():
                text = gr.Textbox("", label=L("bert.text"), lines=3, placeholder=EXAMPLES[0][0])
                text_pair = gr.Textbox("", label=L("bert.text_pair"), lines=2)
                gr.Examples(EXAMPLES, inputs=[text, text_pair], label=L("bert.examples"))
                run = gr.Button(L("bert.run"), variant="primary")
            with gr.Column():
                note = gr.Markdown()
                probs = gr.Label(label=L("bert.probabilities"))
                tags = gr.HighlightedText(label=L("bert.tags"), combine_adjacent=True)
        with gr.Accordion(L("bert.fill_title"), open=False):
            gr.Markdown(L("bert.fill_text"))
            with gr.Row():
                masked = gr.Textbox(MASKED_EXAMPLE, label=L("bert.masked"), scale=3)
                fill_btn = gr.Button(L("bert.fill"), scale=1)
            filled = gr.Label(label=L("bert.top_predictions"))

    # ------------------------------------------------------------------ events
    def on_task(kind):
        """The first built-in sample made for the task (any sample trains a masked LM)."""
        return next((n for n, k in BUILTIN_KIND.items() if k == kind), form.defaults.dataset)

    def on_upload(path):
        from training.bert_data import LABEL_COLUMNS, PAIR_COLUMNS, TEXT_COLUMNS, table_columns

        if not path:
            return gr.update(), gr.update(), gr.update()
        cols = table_columns(path)

        def guess(cands):
            return next((c for c in cands if c in cols), "")

        return (gr.update(choices=cols, value=guess(TEXT_COLUMNS)),
                gr.update(choices=["", *cols], value=guess(PAIR_COLUMNS)),
                gr.update(choices=cols, value=guess(LABEL_COLUMNS)))

    def start_job(source_kind, sample, upload, data_repo, choice, url, token, **values):
        from hub_models.bert import BUILTIN_BASE, is_builtin
        from training.bert_data import keep_upload, pick_columns, table_columns

        hub = get_hub(choice, url, token)
        base = (values["base"] or "").strip()
        if is_builtin(base):
            base = BUILTIN_BASE
        else:
            _check_base(base, values["task"], hub)
        # An upload's type, size and header (the named or guessed columns) are checked now; the job reads its rows.
        columns = {k: (values[k] or "").strip() for k in COLUMNS}
        kind = "sequence" if values["task"] == "mlm" else values["task"]
        dataset, name, source = chosen_data(
            DATA_SOURCES, source_kind, upload, data_repo, builtin=sample, hub=hub, missing=t("bert.missing_upload"),
            keep=lambda f: keep_upload(f, runner.root / "uploads"),
            check=lambda d: pick_columns(table_columns(d), kind, **columns))
        # The column fields are hidden for a built-in sample: what they still hold is not for it.
        unused = dict.fromkeys(COLUMNS, "") if source == "builtin" else {}
        cfg = form.config(values, base=base, dataset=dataset, hub=hub_spec(hub), **unused)
        return panel.submit(cfg, f"{cfg.base} · {cfg.task} on {name}", hub)

    def predict(folder, text_, pair_):
        from hub_models.bert import classify_text, fill_mask, model_kind, tag_text

        folder = checked_model_folder(runner, folder)
        if not (text_ or "").strip():  # before any model loads: the answer is immediate
            raise UserError(t("bert.enter_text"))
        kind = model_kind(Path(folder))
        if kind == "sequence":
            result, msg = classify_text(folder, text_, pair_)
            return msg, result, None
        if kind == "token":
            tagged, msg = tag_text(folder, text_)
            return msg, None, tagged
        return t("bert.is_mlm"), fill_mask(folder, text_), None

    def fill(folder, text_):
        from hub_models.bert import fill_mask

        folder = checked_model_folder(runner, folder)
        if not (text_ or "").strip():
            raise UserError(t("bert.enter_masked"))
        return fill_mask(folder, text_)

    task.change(on_task, task, sample, api_visibility="private")
    toggle_data_fields(source_kind, DATA_SOURCES, {sample: ("builtin",), upload: ("upload",), data_repo: ("hub",),
                                                   columns_row: ("upload", "hub")})
    upload.change(on_upload, upload, column_fields, api_visibility="private")
    form.submit(panel.start, start_job, panel.job, api_name="bert_train",
                extra={"source_kind": source_kind, "sample": sample, "upload": upload, "data_repo": data_repo,
                       **picker.named})
    answered(run.click, predict, [source, text, text_pair], [note, probs, tags], api_name="bert_predict", **PREDICT)
    text.submit(predict, [source, text, text_pair], [note, probs, tags], api_visibility="private")
    answered(fill_btn.click, fill, [source, masked], filled, api_name="bert_fill_mask", **PREDICT)
