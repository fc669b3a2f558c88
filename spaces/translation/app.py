"""$title: a translation model, as its own demo.

It loads $model_id (revision $revision) from $hub_label. An encoder reads the sentence, a decoder writes the
translation word by word; with attention, each target word looks back at the source words, and the heat
map shows where (Bahdanau et al., 2015). Beam search keeps the best few translations as it goes. The code
under hub_models/ and common/ is DL Playground's own, copied here: it is what defines the network.
"""
import os

import gradio as gr
from huggingface_hub import snapshot_download

from common.errors import UserError
from common.i18n import MARKERS_HEAD, strings, t
from hub_models.translation import load_translator, translate
from hub_models.visual import attention_image

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL, REVISION = "$model_id", "$revision"
HUB = os.environ.get("DLP_MODEL_HUB") or "$endpoint" or None  # None: huggingface.co
EXAMPLES = ["She does not buy the black hat today .",  # i18n: not shown as UI text: English model input
            "We like the green bike , and I see a dog .",  # i18n: not shown as UI text: English model input
            "They draw my white flower ."]  # i18n: not shown as UI text: English model input
I18N = gr.I18n(**strings())  # the page's words in every language (common/locales/): the browser picks one
# The Decoding radio's values (what the handler and the API get); the page shows their words
STRATEGY_CHOICES = [(str(I18N("space.greedy")), "Greedy"), (str(I18N("space.beam_search")), "Beam search")]

model = load_translator(snapshot_download(MODEL, revision=REVISION, endpoint=HUB,
                                          token=os.environ.get("HF_TOKEN") or None))


def intro():
    """The page's heading, in the visitor's language."""
    return "# $title\n" + t("space.model_at", model=MODEL, revision=REVISION[:8])


def run(text, strategy, beam_width):
    """The translation, the attention heat map (target words x source words) and the beams kept."""
    text = (text or "").strip()
    if not text:
        raise gr.Error(t("space.enter_sentence"), print_exception=False, title=t("space.error_title"))
    if len(text) > 2000:
        raise gr.Error(t("space.text_too_long", count=len(text)), print_exception=False, title=t("space.error_title"))
    try:
        result = translate(model, text, "beam" if strategy == "Beam search" else "greedy", int(beam_width))
    except UserError as e:
        raise gr.Error(str(e), print_exception=False, title=t("space.error_title")) from None
    unknown = result["source_tokens"].count("<unk>")
    if unknown:
        gr.Warning(t("space.unknown_words", count=unknown), title=t("space.warning_title"))
    picture = attention_image(result["source_tokens"], result["target_tokens"], result["attention"]) \
        if getattr(model, "attention", "dot") != "none" else None
    rows = [[b, round(s, 3)] for b, s in result["beams"]]
    beams = {"headers": [t("space.col_translation"), t("space.col_log_probability")], "data": rows} if rows else None
    return result["translation"], picture, beams


with gr.Blocks(title="$title") as demo:
    heading = gr.Markdown(intro())
    with gr.Row():
        with gr.Column():
            text = gr.Textbox(EXAMPLES[0], label=I18N("space.sentence"), lines=2)
            strategy = gr.Radio(STRATEGY_CHOICES, value="Greedy", label=I18N("space.decoding"))
            beam_width = gr.Slider(2, 10, value=4, step=1, label=I18N("space.beam_width"))
            button = gr.Button(I18N("space.translate"), variant="primary")
        with gr.Column():
            output = gr.Textbox(label=I18N("space.translation"), lines=2)
            heat = gr.Image(label=I18N("space.attention_picture"), type="pil")
    gr.Examples([[e] for e in EXAMPLES], text, label=I18N("space.examples"))
    with gr.Accordion(I18N("space.translations_kept"), open=False):
        # (the headers in the visitor's language come with the beams: run)
        beams = gr.Dataframe(headers=[str(I18N("space.col_translation")), str(I18N("space.col_log_probability"))],
                             interactive=False)
    button.click(run, [text, strategy, beam_width], [output, heat, beams], api_name="translate")
    demo.load(intro, None, heading, api_visibility="private", show_progress="hidden")

if __name__ == "__main__":
    demo.launch(i18n=I18N, head=MARKERS_HEAD)
