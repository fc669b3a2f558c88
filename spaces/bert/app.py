"""$title: a fine-tuned BERT-family encoder, as its own demo.

It loads $model_id (revision $revision) from $hub_label. The pre-trained encoder turns each token into a
vector that depends on the whole sentence; the fine-tuned head reads the [CLS] vector to label the sentence
(or the pair), each word's first sub-token vector to tag it, or a [MASK]ed position's vector to guess the
word (Devlin et al., 2019). The code under hub_models/ and common/ is DL Playground's own, copied here.
"""
import os
from pathlib import Path

import gradio as gr
from huggingface_hub import snapshot_download

from common.errors import UserError
from common.i18n import MARKERS_HEAD, strings, t
from hub_models.bert import classify_text, fill_mask, model_kind, tag_text

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL, REVISION = "$model_id", "$revision"
HUB = os.environ.get("DLP_MODEL_HUB") or "$endpoint" or None  # None: huggingface.co
FOLDER = snapshot_download(MODEL, revision=REVISION, endpoint=HUB, token=os.environ.get("HF_TOKEN") or None)
KIND = model_kind(Path(FOLDER))  # "sequence", "token" or "mlm"
EXAMPLES = {"sequence": [["The soup was exquisite.", ""],  # i18n: not shown as UI text: English model input
                         ["The lecture was tedious.", ""]],  # i18n: not shown as UI text: English model input
            "token": [["Kenji Tanaka flew from Seoul to Vienna to meet Airbus .", ""]],  # i18n: not shown (model input)
            "mlm": [["The movie was [MASK].", ""]]}[KIND]  # i18n: not shown as UI text: English model input
I18N = gr.I18n(**strings())  # the page's words in every language (common/locales/): the browser picks one


def intro():
    """The page's heading, in the visitor's language."""
    key = {"sequence": "space.bert_sequence", "token": "space.bert_token", "mlm": "space.bert_mlm"}[KIND]
    return "# $title\n" + t(key, model=MODEL, revision=REVISION[:8])


def predict(text, pair):
    """A note, and the labels' probabilities (sentences), the words' tags (tagging) or the words for [MASK]."""
    if not (text or "").strip():
        raise gr.Error(t("space.enter_text"), print_exception=False, title=t("space.error_title"))
    try:
        if KIND == "sequence":
            scores, note = classify_text(FOLDER, text, pair or "")
            return note, scores, None
        if KIND == "token":
            tagged, note = tag_text(FOLDER, text)
            return note, None, tagged
        return t("space.mask_words"), fill_mask(FOLDER, text), None
    except UserError as e:
        raise gr.Error(str(e), print_exception=False, title=t("space.error_title")) from None


with gr.Blocks(title="$title") as demo:
    heading = gr.Markdown(intro())
    with gr.Row():
        with gr.Column():
            text = gr.Textbox(EXAMPLES[0][0], label=I18N("space.text"), lines=2)
            pair = gr.Textbox("", label=I18N("space.bert_pair"), visible=KIND == "sequence")
            button = gr.Button(I18N("space.run"), variant="primary")
        with gr.Column():
            note = gr.Markdown()
            probs = gr.Label(label=I18N("space.probabilities"), visible=KIND != "token")
            tags = gr.HighlightedText(label=I18N("space.tags"), visible=KIND == "token")
    gr.Examples(EXAMPLES, [text, pair], label=I18N("space.examples"))
    button.click(predict, [text, pair], [note, probs, tags], api_name="predict")
    demo.load(intro, None, heading, api_visibility="private", show_progress="hidden")

if __name__ == "__main__":
    demo.launch(i18n=I18N, head=MARKERS_HEAD)
