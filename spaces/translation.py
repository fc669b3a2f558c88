"""Translation tab: train a GRU encoder-decoder with or without attention; translate and see where it looks."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from hub import client as hubs
from training.tasks import get_task

from .common import AppContext, get_hub, hub_picker
from .jobs import checked_model_folder, chosen_data, hub_spec, job_panel, model_source, toggle_data_fields
from .plots import attention_image

TITLE = "Translation"
TASK = "translation"
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
MODEL_NAMES = ["gru-additive-attention", "gru-dot-attention", "gru", "transformer-tiny"]
MAX_CHARS = 2000


def _check(folder: Path) -> None:
    """A pulled repo must be a translation model (LoadError is an InputError)."""
    from hub_models.translation import load_translator

    load_translator(folder)


def build(ctx: AppContext) -> None:
    runner = ctx.runner
    gr.Markdown(INTRO)
    with gr.Tab("Train"):
        gr.Markdown("The hub below is where dataset repos come from and where trained models go.")
        picker = hub_picker(ctx)
        with gr.Row():
            model = gr.Dropdown(MODEL_NAMES, value="gru-additive-attention", label="Model", scale=2)
            source_kind = gr.Radio(list(DATA_SOURCES), value="Built-in English -> French", label="Sentence pairs",
                                   scale=4)
            upload = gr.File(label="Pairs: a source and a target column (.tsv, .csv, .jsonl)",
                             file_types=[".tsv", ".csv", ".jsonl", ".json"], type="filepath", visible=False, scale=3)
            data_repo = gr.Textbox(label="Dataset repo id", placeholder="you/en-de-pairs", visible=False, scale=3)
        with gr.Row(visible=False) as columns_row:
            src_col = gr.Textbox(label="Source column (empty: guess)", placeholder="source")
            tgt_col = gr.Textbox(label="Target column (empty: guess)", placeholder="target")
        with gr.Row():
            epochs = gr.Number(5, label="Epochs", precision=0, minimum=1, maximum=200)
            batch = gr.Number(64, label="Batch size", precision=0, minimum=1, maximum=1024)
            lr = gr.Number(3e-3, label="Learning rate", minimum=1e-7, maximum=1)
            hidden = gr.Number(128, label="Hidden size", precision=0, minimum=8, maximum=2048)
            teacher = gr.Slider(0, 1, value=1.0, step=0.05, label="Teacher forcing")
            seed = gr.Number(0, label="Seed", precision=0)
        panel = job_panel(ctx, TASK, picker, metric="bleu", unit="pairs/s", samples="text",
                          repo_placeholder="you/gru-attention-en-fr")

    with gr.Tab("Translate") as translate_tab:
        source = model_source(ctx, TASK, translate_tab, metric="bleu", label="Model (trained here or pulled)",
                              pull_label="Repo id (ours, or any transformers seq2seq model: Marian, BART, T5...)",
                              placeholder="you/gru-attention-en-fr", check=_check)
        with gr.Row():
            with gr.Column():
                text = gr.Textbox(label="Sentence", lines=2, placeholder="She does not buy the black hat today .")
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

    def start_job(model_, kind, upload_, repo_, src_c, tgt_c, epochs_, batch_, lr_, hidden_, teacher_, seed_,
                  choice, url, token):
        from training.text_data import keep_upload
        from training.translation_data import table_pairs

        if model_ not in MODEL_NAMES:
            raise gr.Error(f"Pick a model: {', '.join(MODEL_NAMES)}.")
        hub = get_hub(choice, url, token)
        columns = {"source_column": (src_c or "").strip(), "target_column": (tgt_c or "").strip()}
        dataset, name, k = chosen_data(DATA_SOURCES, kind, upload_, repo_, builtin="en-fr",
                                       missing="Upload a file of sentence pairs.",
                                       keep=lambda f: keep_upload(f, runner.root / "uploads"),
                                       check=lambda d: table_pairs(d, hub_spec(hub), **columns))
        if k == "builtin":
            columns = {}
        cfg = {"model": model_, "dataset": dataset, **columns, "epochs": int(epochs_), "batch_size": int(batch_),
               "lr": float(lr_), "hidden_size": int(hidden_), "teacher_forcing": float(teacher_), "seed": int(seed_),
               "hub": hub_spec(hub)}
        j = runner.submit(get_task(TASK).config_of(cfg), label=f"{model_} on {name}", secret_env=hubs.job_env(hub))
        return gr.update(choices=panel.choices(), value=j.id)

    def run_translate(folder, text_, strategy_, width):
        from hub_models.translation import LoadError, load_cached, translate

        folder = checked_model_folder(runner, folder)
        text_ = (text_ or "").strip()
        if not text_:
            raise gr.Error("Enter a sentence to translate.")
        if len(text_) > MAX_CHARS:
            raise gr.Error(f"The text is {len(text_):,} characters; the limit is {MAX_CHARS:,} (one or two "
                           f"sentences: the models here are trained on short ones).")
        try:
            model = load_cached(folder)
        except LoadError as e:
            raise gr.Error(str(e)) from None
        result = translate(model, text_, "beam" if strategy_ == "Beam search" else "greedy", int(width))
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
    form = [model, source_kind, upload, data_repo, src_col, tgt_col, epochs, batch, lr, hidden, teacher, seed,
            *picker.inputs]
    panel.start.click(start_job, form, panel.job, api_name="translation_train")
    go.click(run_translate, [source, text, strategy, beam_width], [output, heat, beams], api_name="translation_translate")
    text.submit(run_translate, [source, text, strategy, beam_width], [output, heat, beams], api_visibility="private")
