"""BERT fine-tuning tab: fine-tune a pre-trained encoder for labels, pairs or tags; try it; fill the mask."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from hub import client as hubs
from training.tasks import get_task

from .common import AppContext, get_hub, hub_picker
from .jobs import checked_model_folder, chosen_data, hub_spec, job_panel, model_source, toggle_data_fields
from .plots import confusion_picture

TITLE = "BERT fine-tuning"
TASK = "bert"
INTRO = """**BERT** is a Transformer encoder pre-trained to fill in masked words; fine-tuning adds one small
output layer per task. A sentence label comes from the vector of the first token (`[CLS]`); a **pair**
of sentences is one input split by `[SEP]`, with segment embeddings telling the halves apart (GLUE's
entailment tasks); a **tag per word** comes from every token's vector (named entities). The base here
is **all-MiniLM-L6-v2** (a 6-layer, 22.7 M-parameter BERT whose weights ship inside a Python package,
so it works offline), or any BERT-family model on a hub. The built-in samples hold back words for
validation that training never shows: it gets them right only because pre-training taught the encoder
what they are like. A masked-LM run trains the head that fills `[MASK]`, the pre-training task itself."""

TASKS = {"Sentence or pair label": "sequence", "Tag each word (entities)": "token",
         "Masked LM (fill the mask)": "mlm"}
SAMPLE_FOR = {"sequence": "sentiment", "token": "entities", "mlm": "sentiment"}
DATA_SOURCES = {"Built-in sample": "builtin", "Upload CSV/TSV/JSONL": "upload", "Dataset repo on the hub": "hub"}
TABLE_TYPES = [".csv", ".tsv", ".jsonl", ".json"]


def _builtin() -> dict[str, str]:
    from training.text_data import BUILTIN

    return BUILTIN


def _text_model_kind(folder: Path) -> None:
    """A pulled repo must be a sequence or token classifier, or a masked LM."""
    from hub_models.text import model_kind

    model_kind(folder)


def build(ctx: AppContext) -> None:
    runner = ctx.runner
    gr.Markdown(INTRO)
    with gr.Tab("Train"):
        gr.Markdown("The hub below is where base models and dataset repos come from and where trained models go.")
        picker = hub_picker(ctx)
        with gr.Row():
            task = gr.Radio(list(TASKS), value="Sentence or pair label", label="Task", scale=3)
            base = gr.Textbox("all-MiniLM-L6-v2", label="Base model", scale=2,
                              info="built in (offline), or a BERT-family repo id on the hub above")
            source_kind = gr.Radio(list(DATA_SOURCES), value="Built-in sample", label="Data", scale=3)
        with gr.Row():
            sample = gr.Dropdown([(f"{k}: {v}", k) for k, v in _builtin().items()], value="sentiment",
                                 label="Built-in sample", scale=3)
            upload = gr.File(label="Table (.csv, .tsv, .jsonl): a text column and a label column; for tags, "
                                   "words and tags as lists or space-separated", file_types=TABLE_TYPES,
                             type="filepath", visible=False, scale=3)
            data_repo = gr.Textbox(label="Dataset repo id", placeholder="you/my-reviews", visible=False, scale=3)
        with gr.Row(visible=False) as columns_row:
            text_col = gr.Dropdown([], label="Text column", allow_custom_value=True)
            pair_col = gr.Dropdown([], label="Second-sentence column (pairs)", allow_custom_value=True)
            label_col = gr.Dropdown([], label="Label column", allow_custom_value=True)
        with gr.Row():
            epochs = gr.Number(3, label="Epochs", precision=0, minimum=1, maximum=100)
            batch = gr.Number(16, label="Batch size", precision=0, minimum=1, maximum=512)
            lr = gr.Number(5e-5, label="Learning rate", minimum=1e-7, maximum=1)
            warmup = gr.Number(10, label="Warm-up steps", precision=0, minimum=0)
            max_length = gr.Number(128, label="Max length (tokens)", precision=0, minimum=8, maximum=512)
            weight_decay = gr.Number(0.01, label="Weight decay", minimum=0, maximum=1)
            seed = gr.Number(0, label="Seed", precision=0)
        panel = job_panel(ctx, TASK, picker, metric="accuracy", unit="examples/s",
                          picture_label="Confusion matrix (validation split)", picture=confusion_picture,
                          repo_placeholder="you/minilm-reviews")

    with gr.Tab("Predict") as predict_tab:
        source = model_source(ctx, TASK, predict_tab, metric="accuracy", label="Model (fine-tuned here or pulled)",
                              pull_label="Repo id (a text classifier, token classifier or masked LM)",
                              placeholder="you/minilm-reviews", check=_text_model_kind)
        with gr.Row():
            with gr.Column():
                text = gr.Textbox(label="Text", lines=3, placeholder="The soup was exquisite.")
                text_pair = gr.Textbox(label="Second sentence (pair models)", lines=2)
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
    def on_task(task_):
        return gr.update(value=SAMPLE_FOR[TASKS[task_]])

    def on_upload(path):
        from training.engine import TrainingError
        from training.text_data import LABEL_COLUMNS, PAIR_COLUMNS, TEXT_COLUMNS, table_columns

        if not path:
            return gr.update(), gr.update(), gr.update()
        try:
            cols = table_columns(path)
        except TrainingError as e:
            raise gr.Error(str(e)) from None

        def guess(cands):
            return next((c for c in cands if c in cols), None)

        return (gr.update(choices=cols, value=guess(TEXT_COLUMNS)), gr.update(choices=["", *cols],
                value=guess(PAIR_COLUMNS) or ""), gr.update(choices=cols, value=guess(LABEL_COLUMNS)))

    def start_job(task_, base_, kind, sample_, upload_, repo_, text_c, pair_c, label_c, epochs_, batch_, lr_,
                  warmup_, maxlen_, wd_, seed_, choice, url, token):
        from hub_models.text import BUILTIN_BASE, is_builtin
        from training.text_data import BUILTIN, BUILTIN_KIND, keep_upload, table_data

        t = TASKS.get(task_)
        if t is None:
            raise gr.Error(f"Pick a task: {', '.join(TASKS)}.")
        hub = get_hub(choice, url, token)
        base_ = (base_ or "").strip()
        if is_builtin(base_):
            base_ = BUILTIN_BASE
        else:  # pulled now (the job reuses the copy), so a missing or non-text base is a message here
            from hub_models.inference import InputError
            from hub_models.text import check_text_model

            try:
                folder = hubs.pull(hubs.check_repo_id(base_), hub)
                check_text_model(folder, "token" if t == "token" else "sequence", base_)
            except (hubs.HubActionError, InputError) as e:
                raise gr.Error(f"Base model: {e}") from None
        columns = {"text_column": text_c or "", "pair_column": pair_c or "", "label_column": label_c or ""}
        dataset, name, source = chosen_data(
            DATA_SOURCES, kind, upload_, repo_, builtin=sample_, missing="Upload a .csv, .tsv or .jsonl file.",
            keep=lambda f: keep_upload(f, runner.root / "uploads"),
            check=lambda d: table_data(d, "sequence" if t == "mlm" else t, hub_spec(hub), **columns))
        if source == "builtin":
            if sample_ not in BUILTIN:
                raise gr.Error(f"Pick a built-in sample: {', '.join(BUILTIN)}.")
            if t != "mlm" and BUILTIN_KIND[sample_] != t:
                raise gr.Error(f"The sample {sample_!r} is for {BUILTIN_KIND[sample_]} labels; pick "
                               f"{SAMPLE_FOR[t]!r} for this task.")
            columns = {}
        cfg = {"task": t, "base": base_, "dataset": dataset, **columns, "epochs": int(epochs_),
               "batch_size": int(batch_), "lr": float(lr_), "warmup_steps": int(warmup_),
               "max_length": int(maxlen_), "weight_decay": float(wd_), "seed": int(seed_), "hub": hub_spec(hub)}
        j = runner.submit(get_task(TASK).config_of(cfg), label=f"{base_} · {t} on {name}", secret_env=hubs.job_env(hub))
        return gr.update(choices=panel.choices(), value=j.id)

    def predict(folder, text_, pair_):
        from hub_models.inference import InputError
        from hub_models.text import classify_text, fill_mask, model_kind, tag_text

        folder = checked_model_folder(runner, folder)
        try:
            kind = model_kind(Path(folder))
            if kind == "sequence":
                result, msg = classify_text(folder, text_, pair_)
                return msg, result, None
            if kind == "token":
                tagged, msg = tag_text(folder, text_)
                return msg, None, tagged
            return "A masked LM: it fills `[MASK]`.", fill_mask(folder, text_), None
        except InputError as e:
            raise gr.Error(str(e)) from None

    def fill(folder, text_):
        from hub_models.inference import InputError
        from hub_models.text import fill_mask

        try:
            return fill_mask(checked_model_folder(runner, folder), text_)
        except InputError as e:
            raise gr.Error(str(e)) from None

    task.change(on_task, task, sample, api_visibility="private")
    toggle_data_fields(source_kind, DATA_SOURCES, {sample: ("builtin",), upload: ("upload",), data_repo: ("hub",),
                                                   columns_row: ("upload", "hub")})
    upload.change(on_upload, upload, [text_col, pair_col, label_col], api_visibility="private")
    form = [task, base, source_kind, sample, upload, data_repo, text_col, pair_col, label_col, epochs, batch, lr,
            warmup, max_length, weight_decay, seed, *picker.inputs]
    panel.start.click(start_job, form, panel.job, api_name="bert_train")
    run.click(predict, [source, text, text_pair], [note, probs, tags], api_name="bert_predict")
    text.submit(predict, [source, text, text_pair], [note, probs, tags], api_visibility="private")
    fill_btn.click(fill, [source, masked], filled, api_name="bert_fill_mask")
