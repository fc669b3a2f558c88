"""Text generation tab: train a character/word RNN, GRU, LSTM or a tiny GPT-2; generate with any decoding."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from common.errors import UserError
from training.tasks import get_task

from .common import PREDICT, AppContext, answered, get_hub, hub_picker, throttled
from .forms import ConfigForm
from .jobs import checked_model_folder, chosen_data, hub_spec, job_panel, model_source, toggle_data_fields

TASK = get_task("textgen")
TITLE = TASK.title
MAX_NEW_TOKENS = 1000
MAX_PROMPT_CHARS = 20_000  # (the HTTP endpoint's too: webui.endpoint)
INTRO = """A **language model** predicts the next token from the ones before it; generating text is asking
it again and again. Train a character-level **RNN**, **GRU** or **LSTM** (gates let gradients survive
long sequences; plain RNNs need **gradient clipping**, on by default), a word-level LSTM, or a small
decoder-only **Transformer** (GPT-2 architecture, with a BPE tokenizer trained on your text). The
built-in corpus is the Python Language Reference that ships with every Python (PSF License). Watch
the sample after each epoch go from noise to words; **perplexity** on held-out text measures how
surprised the model is. Then decode: **greedy** (always the likeliest token: safe, repetitive),
**sampling** (temperature sharpens or flattens the distribution; top-k and top-p cut its tail) or
**beam search** (keeps the k best partial sequences by total log-probability)."""

DATA_SOURCES = {"Built-in corpus (Python docs)": "builtin", "Upload a .txt file": "upload",
                "Dataset repo on the hub": "hub"}
STRATEGY_LABELS = {"Sampling": "sample", "Greedy": "greedy", "Beam search": "beam"}


def _check_lm(folder: Path) -> None:
    """A pulled repo must be a language model this tab can run (LoadError is an InputError)."""
    from hub_models.textgen import load_lm

    load_lm(folder)


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
            source_kind = gr.Radio(list(DATA_SOURCES), value=next(iter(DATA_SOURCES)), label="Text", scale=4)
            upload = gr.File(label="A UTF-8 text file", file_types=[".txt", ".md"], type="filepath", visible=False,
                             scale=3)
            data_repo = gr.Textbox("", label="Dataset repo id (a 'text' column)", placeholder="you/my-stories",
                                   visible=False, scale=3)
        with gr.Row():
            for name in ("seq_len", "hidden_size", "num_layers", "max_chars"):
                form.field(name, info=None)
        with gr.Row():
            for name in ("epochs", "batch_size", "lr", "grad_clip", "seed"):
                form.field(name, info=None)
        panel = job_panel(ctx, TASK.name, picker, metric=TASK.metric, unit="seq/s", samples="text",
                          repo_placeholder="you/char-lstm-docs")

    with gr.Tab("Generate") as gen_tab:
        source = model_source(ctx, TASK.name, gen_tab, metric=TASK.metric, label="Model (trained here or pulled)",
                              pull_label="Repo id (ours, or a transformers causal LM)",
                              placeholder="you/char-lstm-docs, you/tiny-gpt2", check=_check_lm)
        with gr.Row():
            with gr.Column():
                prompt = gr.Textbox("The ", label="Prompt", lines=3)
                with gr.Row():
                    strategy = gr.Radio(list(STRATEGY_LABELS), value="Sampling", label="Decoding")
                    max_new = gr.Slider(1, MAX_NEW_TOKENS, value=200, step=1, label="New tokens")
                with gr.Row():
                    temperature = gr.Slider(0.05, 2.0, value=0.8, step=0.05, label="Temperature")
                    top_k = gr.Slider(0, 200, value=0, step=1, label="Top-k (0: off)")
                    top_p = gr.Slider(0.05, 1.0, value=0.95, step=0.05, label="Top-p")
                with gr.Row():
                    beam_width = gr.Slider(1, 16, value=4, step=1, label="Beam width")
                    seed_gen = gr.Number(0, label="Seed (sampling)", precision=0)
                go = gr.Button("Generate", variant="primary")
            with gr.Column():
                output = gr.Textbox(label="Text (streams as it is made)", lines=14, max_lines=30)
                beams = gr.Dataframe(headers=["beam", "log-probability"], label="Beams kept (beam search)",
                                     interactive=False, max_height=240)

    # ------------------------------------------------------------------ events
    def start_job(source_kind, upload, data_repo, choice, url, token, **values):
        from training.bert_data import check_text_file, keep_upload

        hub = get_hub(choice, url, token)
        dataset, name, _ = chosen_data(DATA_SOURCES, source_kind, upload, data_repo, builtin=form.defaults.dataset,
                                       missing="Upload a .txt file.",
                                       keep=lambda f: keep_upload(f, runner.root / "uploads"), check=check_text_file)
        cfg = form.config(values, dataset=dataset, hub=hub_spec(hub))
        return panel.submit(cfg, f"{cfg.init_from or cfg.model} on {name}", hub)

    def run_generate(folder, prompt, strategy, max_new_tokens, temperature, top_k, top_p, beam_width, seed):
        from hub_models.textgen import generate, load_cached

        folder = checked_model_folder(runner, folder)
        n = int(max_new_tokens)  # 1 to MAX_NEW_TOKENS: the slider's bounds, enforced by Gradio
        if not (prompt or "").strip():  # checked before the model loads
            raise UserError("Enter a prompt: the first words for the model to continue.")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise UserError(f"The prompt is {len(prompt):,} characters; the limit is {MAX_PROMPT_CHARS:,}.")
        lm = load_cached(folder)
        kind = STRATEGY_LABELS.get(strategy, "sample")
        if kind == "beam" and int(beam_width) * n > 4000:
            raise UserError("Beam search re-reads every beam at every step: keep beam width x tokens under 4000.")
        made = generate(lm, prompt or "", n, kind, temperature=float(temperature), top_k=int(top_k),
                        top_p=float(top_p), beam_width=int(beam_width), seed=int(seed))
        for text, kept in throttled(made):
            yield text, [[t, round(s, 3)] for t, s in kept] or None

    toggle_data_fields(source_kind, DATA_SOURCES, {upload: ("upload",), data_repo: ("hub",)})
    form.submit(panel.start, start_job, panel.job, api_name="textgen_train",
                extra={"source_kind": source_kind, "upload": upload, "data_repo": data_repo, **picker.named})
    answered(go.click, run_generate, None, [output, beams], api_name="textgen_generate", **PREDICT,
             inputs_kwargs={"folder": source, "prompt": prompt, "strategy": strategy, "max_new_tokens": max_new,
                            "temperature": temperature, "top_k": top_k, "top_p": top_p, "beam_width": beam_width,
                            "seed": seed_gen})
