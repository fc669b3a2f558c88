"""Translation tab: train a GRU encoder-decoder with or without attention; translate and see where it looks."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from common.errors import UserError
from hub_models.visual import attention_image
from training.tasks import get_task

from .common import PREDICT, AppContext, answered, get_hub, hub_picker
from .forms import ConfigForm
from .jobs import checked_model_folder, chosen_data, hub_spec, job_panel, model_source, toggle_data_fields

TASK = get_task("translation")
TITLE = TASK.title
INTRO = """An **encoder-decoder** reads a sentence into vectors and writes its translation word by word.
Without **attention** the decoder sees one vector for the whole source (a bottleneck: train `gru` on
the built-in pairs and BLEU stalls near 50); with attention it takes, at every step, a weighted mix of
the encoder's states, **additive** (Bahdanau) or **scaled dot-product** (the Transformer's), and
reaches 100 in two epochs. The heat map shows the weights: *noir* looks at *black*, and the colour
and the noun swap places between English and French. Training uses **teacher forcing** (the true
previous word is fed in); decoding is **greedy** or **beam search**. BLEU and chrF (sacrebleu) on the
validation split. **transformer-tiny** is an encoder-decoder Transformer (BART's architecture: multi-head
self- and cross-attention, positional embeddings) that any seq2seq tool can load; the heat map then
shows its last layer's cross-attention. The built-in pairs come from a small English -> French grammar the project wrote:
agreement, gender, negation (*ne ... pas de*), one or two clauses."""

DATA_SOURCES = {"Built-in English -> French": "builtin", "Upload TSV/CSV/JSONL pairs": "upload",
                "Dataset repo on the hub": "hub"}
MAX_CHARS = 2000


def _check(folder: Path) -> None:
    """A pulled repo must be a translation model (LoadError is an InputError)."""
    from hub_models.translation import load_translator

    load_translator(folder)


def build(ctx: AppContext) -> None:
    runner = ctx.runner
    gr.Markdown(INTRO)
    form = ConfigForm(TASK.config)
    with gr.Tab("Train"):
        gr.Markdown("The hub below is where dataset repos come from and where trained models go.")
        picker = hub_picker(ctx)
        with gr.Row():
            # The registry's names arrive on page load (listing them imports torch); the config validates the value.
            form.field("model", info=None, scale=2)
            form.field("init_from", info="its tokenizer and size replace the model's; or type any repo id", scale=2)
            source_kind = gr.Radio(list(DATA_SOURCES), value=next(iter(DATA_SOURCES)), label="Sentence pairs",
                                   scale=4)
            upload = gr.File(label="Pairs: a source and a target column (.tsv, .csv, .jsonl)",
                             file_types=[".tsv", ".csv", ".jsonl", ".json"], type="filepath", visible=False, scale=3)
            data_repo = gr.Textbox("", label="Dataset repo id", placeholder="you/en-de-pairs", visible=False, scale=3)
        with gr.Row(visible=False) as columns_row:
            form.field("source_column", label="Source column (empty: guess)", placeholder="source", info=None)
            form.field("target_column", label="Target column (empty: guess)", placeholder="target", info=None)
        with gr.Row():
            for name in ("epochs", "batch_size", "lr", "hidden_size", "seed"):
                form.field(name, info=None)
            form.field("teacher_forcing", widget=gr.Slider, step=0.05, info=None)
        panel = job_panel(ctx, TASK.name, picker, metric=TASK.metric, unit="pairs/s", samples="text",
                          repo_placeholder="you/gru-attention-en-fr")

    with gr.Tab("Translate") as translate_tab:
        source = model_source(ctx, TASK.name, translate_tab, metric=TASK.metric, label="Model (trained here or pulled)",
                              pull_label="Repo id (ours, or any transformers seq2seq model: Marian, BART, T5...)",
                              placeholder="you/gru-attention-en-fr", check=_check)
        with gr.Row():
            with gr.Column():
                text = gr.Textbox("", label="Sentence", lines=2, placeholder="She does not buy the black hat today .")
                gr.Examples([["She does not buy the black hat today ."], ["We like the green bike , and I see a dog ."],
                             ["They draw my white flower ."]], inputs=text,
                            label="Examples (the built-in grammar's words)")
                with gr.Row():
                    strategy = gr.Radio(["Greedy", "Beam search"], value="Greedy", label="Decoding")
                    beam_width = gr.Slider(1, 10, value=4, step=1, label="Beam width")
                go = gr.Button("Translate", variant="primary")
            with gr.Column():
                output = gr.Textbox(label="Translation", lines=2)
                heat = gr.Image(label="Attention (rows: target words, columns: source words)", type="pil",
                                buttons=["download"])
                beams = gr.Dataframe(headers=["beam", "log-probability"], label="Beams kept (beam search)",
                                     interactive=False, max_height=200)

    # ------------------------------------------------------------------ events
    def start_job(source_kind, upload, data_repo, choice, url, token, **values):
        from training.bert_data import keep_upload, table_columns
        from training.translation_data import pair_columns

        asked = form.config(values)  # the column names as the job gets them (trimmed)
        hub = get_hub(choice, url, token)
        # An upload's header is checked now (the named or guessed columns); the job reads its rows.
        dataset, name, kind = chosen_data(
            DATA_SOURCES, source_kind, upload, data_repo, builtin=form.defaults.dataset,
            missing="Upload a file of sentence pairs.", keep=lambda f: keep_upload(f, runner.root / "uploads"),
            check=lambda d: pair_columns(table_columns(d), asked.source_column, asked.target_column))
        # The column fields are hidden for the built-in pairs: what they still hold is not for these.
        unused = {"source_column": "", "target_column": ""} if kind == "builtin" else {}
        cfg = form.config(values, dataset=dataset, hub=hub_spec(hub), **unused)
        return panel.submit(cfg, f"{cfg.init_from or cfg.model} on {name}", hub)

    def run_translate(folder, text, strategy, beam_width):
        from hub_models.translation import load_cached, translate

        folder = checked_model_folder(runner, folder)
        text = (text or "").strip()
        if not text:
            raise UserError("Enter a sentence to translate.")
        if len(text) > MAX_CHARS:
            raise UserError(f"The text is {len(text):,} characters; the limit is {MAX_CHARS:,} (one or two "
                            f"sentences: the models here are trained on short ones).")
        model = load_cached(folder)
        result = translate(model, text, "beam" if strategy == "Beam search" else "greedy", int(beam_width))
        unknown = result["source_tokens"].count("<unk>")
        if unknown == len(result["source_tokens"]) - 1:
            gr.Warning("None of these words are in the model's vocabulary: it cannot translate them.")
        elif unknown:
            gr.Warning(f"{unknown} word(s) are unknown to the model (shown as <unk> in the heat map).")
        picture = attention_image(result["source_tokens"], result["target_tokens"], result["attention"]) \
            if model.attention != "none" else None
        return result["translation"], picture, [[b, round(s, 3)] for b, s in result["beams"]] or None

    toggle_data_fields(source_kind, DATA_SOURCES,
                       {upload: ("upload",), data_repo: ("hub",), columns_row: ("upload", "hub")})
    form.submit(panel.start, start_job, panel.job, api_name="translation_train",
                extra={"source_kind": source_kind, "upload": upload, "data_repo": data_repo, **picker.named})
    translate_inputs = {"folder": source, "text": text, "strategy": strategy, "beam_width": beam_width}
    answered(go.click, run_translate, None, [output, heat, beams], api_name="translation_translate", **PREDICT,
             inputs_kwargs=translate_inputs)
    text.submit(run_translate, None, [output, heat, beams], api_visibility="private", inputs_kwargs=translate_inputs)
