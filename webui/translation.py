"""Translation tab: train a GRU encoder-decoder with or without attention; translate and see where it looks."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from common.errors import UserError
from hub_models.visual import attention_image
from training.tasks import get_task

from .common import PREDICT, AppContext, answered, get_hub, hub_picker
from .forms import ConfigForm
from .i18n import L, choice, t
from .jobs import checked_model_folder, chosen_data, hub_spec, job_panel, model_source, toggle_data_fields

TASK = get_task("translation")
TITLE = TASK.title

# The data-source radio's values (what the handlers and the API get) and their kinds; source_choices() shows them.
DATA_SOURCES = {"Built-in English -> French": "builtin", "Upload TSV/CSV/JSONL pairs": "upload",
                "Dataset repo on the hub": "hub"}  # i18n: not shown (values: the page shows source_choices())
STRATEGIES = {"Greedy": "greedy", "Beam search": "beam"}  # the decoding radio's values, and what they stand for
# The translators' input, in English as the built-in pairs are (the grammar's words): data the model reads, not the
# page's words, so they stay as they are in every language.
EXAMPLES = [["She does not buy the black hat today ."],  # i18n: not shown as UI text: English model input
            ["We like the green bike , and I see a dog ."],  # i18n: not shown as UI text: English model input
            ["They draw my white flower ."]]  # i18n: not shown as UI text: English model input
MAX_CHARS = 2000


def _check(folder: Path) -> None:
    """A pulled repo must be a translation model (LoadError is an InputError)."""
    from hub_models.translation import load_translator

    load_translator(folder)


def source_choices() -> list[tuple[str, str]]:
    value = {kind: label for label, kind in DATA_SOURCES.items()}
    return [choice("translation.source_builtin", value["builtin"]),
            choice("translation.source_upload", value["upload"]), choice("translation.source_hub", value["hub"])]


def strategy_choices() -> list[tuple[str, str]]:
    value = {kind: label for label, kind in STRATEGIES.items()}
    return [choice("translation.greedy", value["greedy"]), choice("translation.beam_search", value["beam"])]


def beams_table(kept: list[tuple[str, float]]):
    """The kept beams (none: an empty table) as a table whose headers are in the visitor's language (a DataFrame:
    the API's answer keeps its shape, headers and rows)."""
    import pandas as pd

    return pd.DataFrame([[text, round(score, 3)] for text, score in kept],
                        columns=[t("translation.beam"), t("translation.log_probability")])


def build(ctx: AppContext) -> None:
    runner = ctx.runner
    gr.Markdown(L("translation.intro"))
    form = ConfigForm(TASK.config)
    with gr.Tab(L("translation.tab_train")):
        gr.Markdown(L("translation.hub_note"))
        picker = hub_picker(ctx)
        with gr.Row():
            # The registry's names arrive on page load (listing them imports torch); the config validates the value.
            form.field("model", info=None, scale=2)
            form.field("init_from", info=L("translation.init_from_info"), scale=2)
            source_kind = gr.Radio(source_choices(), value=next(iter(DATA_SOURCES)), label=L("translation.pairs"),
                                   scale=4)
            upload = gr.File(label=L("translation.upload"), file_types=[".tsv", ".csv", ".jsonl", ".json"],
                             type="filepath", visible=False, scale=3)
            data_repo = gr.Textbox("", label=L("translation.data_repo"), placeholder="you/en-de-pairs", visible=False,
                                   scale=3)
        with gr.Row(visible=False) as columns_row:
            form.field("source_column", label=L("translation.source_column"), placeholder="source", info=None)
            form.field("target_column", label=L("translation.target_column"), placeholder="target", info=None)
        with gr.Row():
            for name in ("epochs", "batch_size", "lr", "hidden_size", "seed"):
                form.field(name, info=None)
            form.field("teacher_forcing", widget=gr.Slider, step=0.05, info=None)
        panel = job_panel(ctx, TASK.name, picker, metric=TASK.metric, unit="pairs/s", samples="text",
                          repo_placeholder="you/gru-attention-en-fr")

    with gr.Tab(L("translation.tab_translate")) as translate_tab:
        source = model_source(ctx, TASK.name, translate_tab, metric=TASK.metric, label=L("translation.model"),
                              pull_label=L("translation.pull_label"),
                              placeholder="you/gru-attention-en-fr", check=_check)
        with gr.Row():
            with gr.Column():
                text = gr.Textbox("", label=L("translation.sentence"), lines=2, placeholder=EXAMPLES[0][0])
                gr.Examples(EXAMPLES, inputs=text, label=L("translation.examples"))
                with gr.Row():
                    strategy = gr.Radio(strategy_choices(), value="Greedy", label=L("translation.decoding"))
                    beam_width = gr.Slider(1, 10, value=4, step=1, label=L("translation.beam_width"))
                go = gr.Button(L("translation.translate"), variant="primary")
            with gr.Column():
                output = gr.Textbox(label=L("translation.translation"), lines=2)
                heat = gr.Image(label=L("translation.heat_map"), type="pil", buttons=["download"])
                # (the headers in the visitor's language come with the beams: beams_table)
                beams = gr.Dataframe(headers=[str(L("translation.beam")), str(L("translation.log_probability"))],
                                     label=L("translation.beams"), interactive=False, max_height=200)

    # ------------------------------------------------------------------ events
    def start_job(source_kind, upload, data_repo, choice, url, token, **values):
        from training.bert_data import keep_upload, table_columns
        from training.translation_data import pair_columns

        asked = form.config(values)  # the column names as the job gets them (trimmed)
        hub = get_hub(choice, url, token)
        # An upload's header is checked now (the named or guessed columns); the job reads its rows.
        dataset, name, kind = chosen_data(
            DATA_SOURCES, source_kind, upload, data_repo, builtin=form.defaults.dataset, hub=hub,
            missing=t("translation.missing_upload"), keep=lambda f: keep_upload(f, runner.root / "uploads"),
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
            raise UserError(t("translation.enter_sentence"))
        if len(text) > MAX_CHARS:
            raise UserError(t("translation.too_long", length=len(text), limit=MAX_CHARS))
        model = load_cached(folder)
        result = translate(model, text, STRATEGIES.get(strategy, "greedy"), int(beam_width))
        unknown = result["source_tokens"].count("<unk>")
        if unknown == len(result["source_tokens"]) - 1:
            gr.Warning(t("translation.all_unknown"), title=t("common.warning_title"))
        elif unknown:
            gr.Warning(t("translation.some_unknown", count=unknown), title=t("common.warning_title"))
        picture = attention_image(result["source_tokens"], result["target_tokens"], result["attention"]) \
            if model.attention != "none" else None
        return result["translation"], picture, beams_table(result["beams"])

    toggle_data_fields(source_kind, DATA_SOURCES,
                       {upload: ("upload",), data_repo: ("hub",), columns_row: ("upload", "hub")})
    form.submit(panel.start, start_job, panel.job, api_name="translation_train",
                extra={"source_kind": source_kind, "upload": upload, "data_repo": data_repo, **picker.named})
    translate_inputs = {"folder": source, "text": text, "strategy": strategy, "beam_width": beam_width}
    answered(go.click, run_translate, None, [output, heat, beams], api_name="translation_translate", **PREDICT,
             inputs_kwargs=translate_inputs)
    text.submit(run_translate, None, [output, heat, beams], api_visibility="private", inputs_kwargs=translate_inputs)
