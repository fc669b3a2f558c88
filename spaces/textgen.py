"""Text generation tab: train a character/word RNN, GRU, LSTM or a tiny GPT-2; generate with any decoding."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from hub import client as hubs
from training.tasks import get_task

from .common import AppContext, get_hub, hub_picker
from .jobs import checked_model_folder, chosen_data, hub_spec, job_panel, model_source, toggle_data_fields

TITLE = "Text generation"
TASK = "textgen"
MAX_NEW_TOKENS = 1000
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
    with gr.Tab("Train"):
        gr.Markdown("The hub below is where dataset repos come from and where trained models go.")
        picker = hub_picker(ctx)
        with gr.Row():
            model = gr.Dropdown(["char-rnn", "char-gru", "char-lstm", "word-lstm", "gpt2-tiny"], value="char-lstm",
                                label="Model", scale=2)
            source_kind = gr.Radio(list(DATA_SOURCES), value="Built-in corpus (Python docs)", label="Text", scale=4)
            upload = gr.File(label="A UTF-8 text file", file_types=[".txt", ".md"], type="filepath", visible=False,
                             scale=3)
            data_repo = gr.Textbox(label="Dataset repo id (a 'text' column)", placeholder="you/my-stories",
                                   visible=False, scale=3)
        with gr.Row():
            seq_len = gr.Number(128, label="Sequence length (tokens)", precision=0, minimum=8, maximum=1024)
            hidden = gr.Number(0, label="Hidden size (0: default)", precision=0, minimum=0, maximum=2048)
            layers = gr.Number(0, label="Layers (0: default)", precision=0, minimum=0, maximum=12)
            max_chars = gr.Number(300_000, label="Use at most (characters)", precision=0, minimum=1000)
        with gr.Row():
            epochs = gr.Number(5, label="Epochs", precision=0, minimum=1, maximum=200)
            batch = gr.Number(32, label="Batch size", precision=0, minimum=1, maximum=1024)
            lr = gr.Number(3e-3, label="Learning rate", minimum=1e-7, maximum=1)
            grad_clip = gr.Number(1.0, label="Gradient clipping (0: off)", minimum=0)
            seed = gr.Number(0, label="Seed", precision=0)
        panel = job_panel(ctx, TASK, picker, metric="perplexity", unit="seq/s", samples="text",
                          repo_placeholder="you/char-lstm-docs")

    with gr.Tab("Generate") as gen_tab:
        source = model_source(ctx, TASK, gen_tab, metric="perplexity", label="Model (trained here or pulled)",
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
    def check_utf8(path: str) -> None:
        from hub_models.inference import InputError

        raw = Path(path).read_bytes()[:1 << 20]
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as e:
            if e.start < len(raw) - 4:  # a multi-byte character cut at the 1 MB mark is fine
                raise InputError(f"{Path(path).name} is not UTF-8 text.") from None

    def start_job(model_, kind, upload_, repo_, seq_, hidden_, layers_, chars_, epochs_, batch_, lr_, clip_, seed_,
                  choice, url, token):
        from training.text_data import keep_upload

        hub = get_hub(choice, url, token)
        dataset, name, _ = chosen_data(DATA_SOURCES, kind, upload_, repo_, builtin="python-docs",
                                       missing="Upload a .txt file.",
                                       keep=lambda f: keep_upload(f, runner.root / "uploads"), check=check_utf8)
        cfg = {"model": model_, "dataset": dataset, "seq_len": int(seq_), "hidden_size": int(hidden_ or 0),
               "num_layers": int(layers_ or 0), "max_chars": int(chars_ or 0), "epochs": int(epochs_),
               "batch_size": int(batch_), "lr": float(lr_), "grad_clip": float(clip_ or 0), "seed": int(seed_),
               "hub": hub_spec(hub)}
        j = runner.submit(get_task(TASK).config_of(cfg), label=f"{model_} on {name}", secret_env=hubs.job_env(hub))
        return gr.update(choices=panel.choices(), value=j.id)

    def run_generate(folder, prompt_, strategy_, max_new_, temp_, top_k_, top_p_, beam_, seed_):
        from hub_models.textgen import LoadError, generate, load_cached

        folder = checked_model_folder(runner, folder)
        n = int(max_new_ or 0)
        if not 1 <= n <= MAX_NEW_TOKENS:
            raise gr.Error(f"Ask for 1 to {MAX_NEW_TOKENS} new tokens.")
        if len(prompt_ or "") > 20_000:
            raise gr.Error(f"The prompt is {len(prompt_):,} characters; the limit is 20,000.")
        try:
            lm = load_cached(folder)
        except LoadError as e:
            raise gr.Error(str(e)) from None
        kind = STRATEGY_LABELS.get(strategy_, "sample")
        if kind == "beam" and int(beam_) * n > 4000:
            raise gr.Error("Beam search re-reads every beam at every step: keep beam width x tokens under 4000.")
        for text_, kept in generate(lm, prompt_ or "", n, kind, temperature=float(temp_), top_k=int(top_k_),
                                    top_p=float(top_p_), beam_width=int(beam_), seed=int(seed_)):
            yield text_, [[t, round(s, 3)] for t, s in kept] or None

    toggle_data_fields(source_kind, DATA_SOURCES, {upload: ("upload",), data_repo: ("hub",)})
    form = [model, source_kind, upload, data_repo, seq_len, hidden, layers, max_chars, epochs, batch, lr, grad_clip,
            seed, *picker.inputs]
    panel.start.click(start_job, form, panel.job, api_name="textgen_train")
    go.click(run_generate, [source, prompt, strategy, max_new, temperature, top_k, top_p, beam_width, seed_gen],
             [output, beams], api_name="textgen_generate")
