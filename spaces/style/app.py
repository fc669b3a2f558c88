"""$title: a fast style network, as its own demo.

It loads $model_id (revision $revision) from $hub_label: a network trained (Johnson et al., 2016) to paint
any photo in one style in a single pass, where Gatys' method optimises each image for minutes. The style
is summed up by Gram matrices: which feature channels of a VGG network fire together. The code under
hub_models/ and common/ is DL Playground's own, copied here: it is what defines the network.
"""
import os
import time

import gradio as gr
from huggingface_hub import snapshot_download

from common.errors import UserError
from common.i18n import MARKERS_HEAD, strings, t
from hub_models.inference import load_image
from hub_models.style import gram_picture, load_style_net, random_vgg19, stylize

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL, REVISION = "$model_id", "$revision"
HUB = os.environ.get("DLP_MODEL_HUB") or "$endpoint" or None  # None: huggingface.co
EXAMPLES = [os.path.join(HERE, "examples", f) for f in ("content-chelsea.jpg", "content-astronaut.jpg",
                                                          "content-coffee.jpg")]

folder = snapshot_download(MODEL, revision=REVISION, endpoint=HUB, token=os.environ.get("HF_TOKEN") or None)
model = load_style_net(folder)
STYLE = os.path.join(folder, "style.png")  # the style image the network learnt, saved with it
I18N = gr.I18n(**strings())  # the page's words in every language (common/locales/): the browser picks one


def intro():
    """The page's heading, in the visitor's language."""
    return "# $title\n" + t("space.style_intro", style=model.style_name, model=MODEL, revision=REVISION[:8])


def apply(photo, side):
    if not photo:
        raise gr.Error(t("space.give_photo"), print_exception=False, title=t("space.error_title"))
    t0 = time.perf_counter()
    try:
        out = stylize(model, photo, int(side))
    except UserError as e:
        raise gr.Error(str(e), print_exception=False, title=t("space.error_title")) from None
    return out, t("space.style_timing", width=out.width, height=out.height, seconds=time.perf_counter() - t0)


def grams():
    """The Gram matrices of the style image, through a VGG-19 with seeded random weights (no download)."""
    return gram_picture(load_image(STYLE, channels=3), random_vgg19())


with gr.Blocks(title="$title") as demo:
    heading = gr.Markdown(intro())
    with gr.Row():
        with gr.Column():
            photo = gr.Image(type="filepath", label=I18N("space.your_photo"))
            side = gr.Slider(128, 1024, value=512, step=32, label=I18N("space.longer_side"))
            button = gr.Button(I18N("space.paint"), variant="primary")
        with gr.Column():
            result = gr.Image(label=I18N("space.stylised"), type="pil", format="png")
            timing = gr.Markdown()
    gr.Examples([[e] for e in EXAMPLES if os.path.exists(e)], photo, label=I18N("space.examples"))
    if os.path.exists(STYLE):
        with gr.Accordion(I18N("space.style_grams"), open=False):
            gr.Image(STYLE, label=I18N("space.style_image"), height=220)
            gram_button = gr.Button(I18N("space.show_grams"))
            gram_image = gr.Image(label=I18N("space.grams_picture"), type="pil")
            gram_button.click(grams, None, gram_image, api_name="grams")
    button.click(apply, [photo, side], [result, timing], api_name="stylize")
    demo.load(intro, None, heading, api_visibility="private", show_progress="hidden")

if __name__ == "__main__":
    demo.launch(i18n=I18N, head=MARKERS_HEAD)
