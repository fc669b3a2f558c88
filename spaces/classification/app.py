"""$title: an image classifier, as its own demo.

It loads $model_id (revision $revision) from $hub_label and classifies the pictures you give it. The code
under hub_models/ and common/ is DL Playground's own, copied here: it is what defines the network.
"""
import os

import gradio as gr
from huggingface_hub import snapshot_download

from common.errors import UserError
from common.i18n import MARKERS_HEAD, strings, t
from hub_models.classification import model_summary
from hub_models.inference import classify, load_classifier

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL, REVISION = "$model_id", "$revision"
HUB = os.environ.get("DLP_MODEL_HUB") or "$endpoint" or None  # None: huggingface.co
EXAMPLES = [os.path.join(HERE, "examples", f) for f in ("digit-0.png", "digit-3.png", "digit-5.png")]

model = load_classifier(snapshot_download(MODEL, revision=REVISION, endpoint=HUB,
                                          token=os.environ.get("HF_TOKEN") or None))
I18N = gr.I18n(**strings())  # the page's words in every language (common/locales/): the browser picks one


def intro():
    """The page's heading and the network's layers, in the visitor's language."""
    labels = f"{', '.join(model.labels[:10])}{'...' if len(model.labels) > 10 else ''}"
    heading = "# $title\n" + t("space.classification_intro", count=len(model.labels), labels=labels, model=MODEL,
                                revision=REVISION[:8])
    return heading, {"headers": [t("space.col_layer"), t("space.col_type"), t("space.col_parameters")],
                     "data": [list(r) for r in model_summary(model)]}


def predict(image, top_k):
    """Top-k classes with their probabilities, and the image the network saw."""
    if image is None:
        raise gr.Error(t("space.give_image"), print_exception=False, title=t("space.error_title"))
    try:
        scores, seen = classify(model, image, int(top_k))
    except UserError as e:
        raise gr.Error(str(e), print_exception=False, title=t("space.error_title")) from None
    return scores, seen.resize((140, 140), 0)


with gr.Blocks(title="$title") as demo:
    heading = gr.Markdown(intro()[0])
    with gr.Row():
        with gr.Column():
            image = gr.Image(type="pil", label=I18N("space.your_image"))
            top_k = gr.Slider(1, min(10, len(model.labels)), value=min(3, len(model.labels)), step=1,
                              label=I18N("space.top_k"))
            button = gr.Button(I18N("space.classify"), variant="primary")
        with gr.Column():
            label = gr.Label(label=I18N("space.prediction"))
            seen = gr.Image(label=I18N("space.network_sees"), height=160)
    gr.Examples([[e] for e in EXAMPLES if os.path.exists(e)], image, label=I18N("space.examples"))
    with gr.Accordion(I18N("space.layers"), open=False):
        # (the headers in the visitor's language come with the page's load: intro)
        layers = gr.Dataframe([list(r) for r in model_summary(model)],
                              headers=[str(I18N(f"space.col_{c}")) for c in ("layer", "type", "parameters")])
    button.click(predict, [image, top_k], [label, seen], api_name="predict")
    image.upload(predict, [image, top_k], [label, seen], api_visibility="private")
    demo.load(intro, None, [heading, layers], api_visibility="private", show_progress="hidden")

if __name__ == "__main__":
    demo.launch(i18n=I18N, head=MARKERS_HEAD)
