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
from .jobs import checked_model_folder, chosen_data, hub_spec, job_panel, model_source, toggle_data_fields

TASK = get_task("bert")
TITLE = TASK.title
INTRO = """**BERT** is a Transformer encoder pre-trained to fill in masked words; fine-tuning adds one small
output layer per task. A sentence label comes from the vector of the first token (`[CLS]`); a **pair**
of sentences is one input split by `[SEP]`, with segment embeddings telling the halves apart (GLUE's
entailment tasks); a **tag per word** comes from every token's vector (named entities). The base here
is **all-MiniLM-L6-v2** (a 6-layer, 22.7 M-parameter BERT whose weights ship inside a Python package,
so it works offline), or any BERT-family model on a hub. The built-in samples hold back words for
validation that training never shows: it gets them right only because pre-training taught the encoder
what they are like. A masked-LM run trains the head that fills `[MASK]`, the pre-training task itself."""

KIND_LABELS = {"sequence": "Sentence or pair label", "token": "Tag each word (entities)",
               "mlm": "Masked LM (fill the mask)"}
DATA_SOURCES = {"Built-in sample": "builtin", "Upload CSV/TSV/JSONL": "upload", "Dataset repo on the hub": "hub"}
TABLE_TYPES = [".csv", ".tsv", ".jsonl", ".json"]
COLUMNS = ("text_column", "pair_column", "label_column")
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
        raise UserError(f"Base model: {e}") from None


def build(ctx: AppContext) -> None:
    runner = ctx.runner
    gr.Markdown(INTRO)
    form = ConfigForm(TASK.config)
    with gr.Tab("Train"):
        gr.Markdown("The hub below is where base models and dataset repos come from and where trained models go.")
        picker = hub_picker(ctx)
        with gr.Row():
            task = form.add("task", gr.Radio([(KIND_LABELS[k], k) for k in KINDS], value=form.defaults.task, label="Task",
                                      scale=3))
            form.field("base", info="built in (offline), or a BERT-family repo id on the hub above", scale=2)
            source_kind = gr.Radio(list(DATA_SOURCES), value=next(iter(DATA_SOURCES)), label="Data", scale=3)
        with gr.Row():
            sample = gr.Dropdown([(f"{k}: {v}", k) for k, v in BUILTIN.items()], value=form.defaults.dataset,
                                 label="Built-in sample", scale=3)
            upload = gr.File(label="Table (.csv, .tsv, .jsonl): a text column and a label column; for tags, "
                                   "words and tags as lists or space-separated", file_types=TABLE_TYPES,
                             type="filepath", visible=False, scale=3)
            data_repo = gr.Textbox("", label="Dataset repo id", placeholder="you/my-reviews", visible=False, scale=3)
        with gr.Row(visible=False) as columns_row:
            # The choices come from an upload's header; any name may be typed (a dataset repo's columns).
            column_fields = [form.field(name, choices=[], allow_custom_value=True, info=None) for name in COLUMNS]
        with gr.Row():
            for name in ("epochs", "batch_size", "lr", "warmup_steps", "max_length", "weight_decay", "seed",
                         "export_onnx"):
                form.field(name, info=None)
        panel = job_panel(ctx, TASK.name, picker, metric=TASK.metric, unit="examples/s",
                          picture_label="Confusion matrix (validation split)", picture=confusion_picture,
                          repo_placeholder="you/minilm-reviews")

    with gr.Tab("Predict") as predict_tab:
        source = model_source(ctx, TASK.name, predict_tab, metric=TASK.metric, label="Model (fine-tuned here or pulled)",
                              pull_label="Repo id (a text classifier, token classifier or masked LM)",
                              placeholder="you/minilm-reviews", check=_text_model_kind)
        with gr.Row():
            with gr.Column():
                text = gr.Textbox("", label="Text", lines=3, placeholder="The soup was exquisite.")
                text_pair = gr.Textbox("", label="Second sentence (pair models)", lines=2)
                gr.Examples([["The soup was exquisite.", ""], ["The lecture was tedious.", ""],
                             ["The pizza was splendid.", "The pizza was dismal."],
                             ["Kenji Tanaka flew from Seoul to Vienna to meet Airbus .", ""]],
                            inputs=[text, text_pair], label="Examples (words the built-in training never saw)")
                run = gr.Button("Run", variant="primary")
            with gr.Column():
                note = gr.Markdown()
                probs = gr.Label(label="Label probabilities")
                tags = gr.HighlightedText(label="Tags", combine_adjacent=True)
        with gr.Accordion("Fill the mask: what the masked-LM head predicts", open=False):
            gr.Markdown("BERT's pre-training task: hide a word behind `[MASK]` and predict it from both sides. "
                        "Needs a model with a masked-LM head (a masked-LM run here, or e.g. "
                        "`google-bert/bert-base-uncased` pulled from a hub).")
            with gr.Row():
                masked = gr.Textbox("The movie was [MASK].", label="Text with [MASK]", scale=3)
                fill_btn = gr.Button("Fill", scale=1)
            filled = gr.Label(label="Top predictions for [MASK]")

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
            DATA_SOURCES, source_kind, upload, data_repo, builtin=sample, missing="Upload a .csv, .tsv or .jsonl file.",
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
            raise UserError("Enter some text.")
        kind = model_kind(Path(folder))
        if kind == "sequence":
            result, msg = classify_text(folder, text_, pair_)
            return msg, result, None
        if kind == "token":
            tagged, msg = tag_text(folder, text_)
            return msg, None, tagged
        return "A masked LM: it fills `[MASK]`.", fill_mask(folder, text_), None

    def fill(folder, text_):
        from hub_models.bert import fill_mask

        folder = checked_model_folder(runner, folder)
        if not (text_ or "").strip():
            raise UserError("Enter a sentence with [MASK] where a word is missing.")
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
