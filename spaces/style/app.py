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


def apply(photo, side):
    if not photo:
        raise gr.Error("Give a photo first (upload one or pick an example).", print_exception=False)
    t0 = time.perf_counter()
    try:
        out = stylize(model, photo, int(side))
    except UserError as e:
        raise gr.Error(str(e), print_exception=False) from None
    return out, f"{out.width}x{out.height} in {time.perf_counter() - t0:.2f} s"


def grams():
    """The Gram matrices of the style image, through a VGG-19 with seeded random weights (no download)."""
    return gram_picture(load_image(STYLE, channels=3), random_vgg19())


with gr.Blocks(title="$title") as demo:
    gr.Markdown(f"# $title\nThe style *{model.style_name}*, learnt by `{MODEL}` at `{REVISION[:8]}`.")
    with gr.Row():
        with gr.Column():
            photo = gr.Image(type="filepath", label="Your photo")
            side = gr.Slider(128, 1024, value=512, step=32, label="Longer side of the result (pixels)")
            button = gr.Button("Paint it", variant="primary")
        with gr.Column():
            result = gr.Image(label="Stylised", type="pil", format="png")
            timing = gr.Markdown()
    gr.Examples([[e] for e in EXAMPLES if os.path.exists(e)], photo)
    if os.path.exists(STYLE):
        with gr.Accordion("The style, and its Gram matrices", open=False):
            gr.Image(STYLE, label="The style image", height=220)
            gram_button = gr.Button("Show the Gram matrices of its style layers")
            gram_image = gr.Image(label="Gram matrices (bright: channels that fire together)", type="pil")
            gram_button.click(grams, None, gram_image, api_name="grams")
    button.click(apply, [photo, side], [result, timing], api_name="stylize")

if __name__ == "__main__":
    demo.launch()
