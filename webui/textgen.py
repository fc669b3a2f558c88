"""Text generation tab: train a character/word RNN, GRU, LSTM or a tiny GPT-2; generate with any decoding."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from common.errors import UserError
from training.tasks import get_task

from .common import PREDICT, AppContext, answered, get_hub, hub_picker, throttled
from .forms import ConfigForm
from .i18n import L, choice, t
from .jobs import checked_model_folder, chosen_data, hub_spec, job_panel, model_source, toggle_data_fields

TASK = get_task("textgen")
TITLE = TASK.title
MAX_NEW_TOKENS = 1000
MAX_PROMPT_CHARS = 20_000  # (the HTTP endpoint's too: webui.endpoint)

# The radios' values (what the handlers and the API get) and what they stand for; the page shows them translated
# (source_choices, strategy_choices).
DATA_SOURCES = {"Built-in corpus (Python docs)": "builtin", "Upload a .txt file": "upload",
                "Dataset repo on the hub": "hub"}  # i18n: not shown (values: the page shows source_choices())
STRATEGY_LABELS = {"Sampling": "sample", "Greedy": "greedy", "Beam search": "beam"}


def _check_lm(folder: Path) -> None:
    """A pulled repo must be a language model this tab can run (LoadError is an InputError)."""
    from hub_models.textgen import load_lm

    load_lm(folder)


def source_choices() -> list[tuple[str, str]]:
    value = {kind: label for label, kind in DATA_SOURCES.items()}
    return [choice("textgen.source_builtin", value["builtin"]), choice("textgen.source_upload", value["upload"]),
            choice("textgen.source_hub", value["hub"])]


def strategy_choices() -> list[tuple[str, str]]:
    value = {kind: label for label, kind in STRATEGY_LABELS.items()}
    return [choice("textgen.sampling", value["sample"]), choice("textgen.greedy", value["greedy"]),
            choice("textgen.beam_search", value["beam"])]


def beams_table(kept: list[tuple[str, float]]):
    """The kept beams (none: an empty table) as a table whose headers are in the visitor's language (a DataFrame:
    the API's answer keeps its shape, headers and rows)."""
    import pandas as pd

    return pd.DataFrame([[text, round(score, 3)] for text, score in kept],
                        columns=[t("textgen.beam"), t("textgen.log_probability")])


def build(ctx: AppContext) -> None:
    runner = ctx.runner
    gr.Markdown(L("textgen.intro"))
    form = ConfigForm(TASK.config)
    with gr.Tab(L("textgen.tab_train")):
        gr.Markdown(L("textgen.hub_note"))
        picker = hub_picker(ctx)
        with gr.Row():
            # The registry's names arrive on page load (listing them imports torch); the config validates the value.
            form.field("model", info=None, scale=2)
            form.field("init_from", info=L("textgen.init_from_info"), scale=2)
            source_kind = gr.Radio(source_choices(), value=next(iter(DATA_SOURCES)), label=L("textgen.text"), scale=4)
            upload = gr.File(label=L("textgen.upload"), file_types=[".txt", ".md"], type="filepath", visible=False,
                             scale=3)
            data_repo = gr.Textbox("", label=L("textgen.data_repo"), placeholder="you/my-stories",
                                   visible=False, scale=3)
        with gr.Row():
            for name in ("seq_len", "hidden_size", "num_layers", "max_chars"):
                form.field(name, info=None)
        with gr.Row():
            for name in ("epochs", "batch_size", "lr", "grad_clip", "seed"):
                form.field(name, info=None)
        panel = job_panel(ctx, TASK.name, picker, metric=TASK.metric, unit="seq/s", samples="text",
                          repo_placeholder="you/char-lstm-docs")

    with gr.Tab(L("textgen.tab_generate")) as gen_tab:
        source = model_source(ctx, TASK.name, gen_tab, metric=TASK.metric, label=L("textgen.model"),
                              pull_label=L("textgen.pull_label"),
                              placeholder="you/char-lstm-docs, you/tiny-gpt2", check=_check_lm)
        with gr.Row():
            with gr.Column():
                prompt = gr.Textbox("The ", label=L("textgen.prompt"), lines=3)  # (the model's input: English)
                with gr.Row():
                    strategy = gr.Radio(strategy_choices(), value="Sampling", label=L("textgen.decoding"))
                    max_new = gr.Slider(1, MAX_NEW_TOKENS, value=200, step=1, label=L("textgen.new_tokens"))
                with gr.Row():
                    temperature = gr.Slider(0.05, 2.0, value=0.8, step=0.05, label=L("textgen.temperature"))
                    top_k = gr.Slider(0, 200, value=0, step=1, label=L("textgen.top_k"))
                    top_p = gr.Slider(0.05, 1.0, value=0.95, step=0.05, label=L("textgen.top_p"))
                with gr.Row():
                    beam_width = gr.Slider(1, 16, value=4, step=1, label=L("textgen.beam_width"))
                    seed_gen = gr.Number(0, label=L("textgen.seed"), precision=0)
                go = gr.Button(L("textgen.generate"), variant="primary")
            with gr.Column():
                output = gr.Textbox(label=L("textgen.output"), lines=14, max_lines=30)
                # (the headers in the visitor's language come with the beams: beams_table)
                beams = gr.Dataframe(headers=[str(L("textgen.beam")), str(L("textgen.log_probability"))],
                                     label=L("textgen.beams"), interactive=False, max_height=240)

    # ------------------------------------------------------------------ events
    def start_job(source_kind, upload, data_repo, choice, url, token, **values):
        from training.bert_data import check_text_file, keep_upload

        hub = get_hub(choice, url, token)
        dataset, name, _ = chosen_data(DATA_SOURCES, source_kind, upload, data_repo, builtin=form.defaults.dataset,
                                       hub=hub, missing=t("textgen.missing_upload"),
                                       keep=lambda f: keep_upload(f, runner.root / "uploads"), check=check_text_file)
        cfg = form.config(values, dataset=dataset, hub=hub_spec(hub))
        return panel.submit(cfg, f"{cfg.init_from or cfg.model} on {name}", hub)

    def run_generate(folder, prompt, strategy, max_new_tokens, temperature, top_k, top_p, beam_width, seed):
        from hub_models.textgen import generate, load_cached

        folder = checked_model_folder(runner, folder)
        n = int(max_new_tokens)  # 1 to MAX_NEW_TOKENS: the slider's bounds, enforced by Gradio
        if not (prompt or "").strip():  # checked before the model loads
            raise UserError(t("textgen.enter_prompt"))
        if len(prompt) > MAX_PROMPT_CHARS:
            raise UserError(t("textgen.prompt_too_long", length=len(prompt), limit=MAX_PROMPT_CHARS))
        lm = load_cached(folder)
        kind = STRATEGY_LABELS.get(strategy, "sample")
        if kind == "beam" and int(beam_width) * n > 4000:
            raise UserError(t("textgen.beam_too_big", limit=4000))
        made = generate(lm, prompt or "", n, kind, temperature=float(temperature), top_k=int(top_k),
                        top_p=float(top_p), beam_width=int(beam_width), seed=int(seed))
        for text, kept in throttled(made):
            yield text, beams_table(kept)

    toggle_data_fields(source_kind, DATA_SOURCES, {upload: ("upload",), data_repo: ("hub",)})
    form.submit(panel.start, start_job, panel.job, api_name="textgen_train",
                extra={"source_kind": source_kind, "upload": upload, "data_repo": data_repo, **picker.named})
    answered(go.click, run_generate, None, [output, beams], api_name="textgen_generate", **PREDICT,
             inputs_kwargs={"folder": source, "prompt": prompt, "strategy": strategy, "max_new_tokens": max_new,
                            "temperature": temperature, "top_k": top_k, "top_p": top_p, "beam_width": beam_width,
                            "seed": seed_gen})
