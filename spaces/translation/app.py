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
from hub_models.translation import load_translator, translate
from hub_models.visual import attention_image

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL, REVISION = "$model_id", "$revision"
HUB = os.environ.get("DLP_MODEL_HUB") or "$endpoint" or None  # None: huggingface.co
EXAMPLES = ["She does not buy the black hat today .", "We like the green bike , and I see a dog .",
            "They draw my white flower ."]

model = load_translator(snapshot_download(MODEL, revision=REVISION, endpoint=HUB,
                                          token=os.environ.get("HF_TOKEN") or None))


def run(text, strategy, beam_width):
    """The translation, the attention heat map (target words x source words) and the beams kept."""
    text = (text or "").strip()
    if not text:
        raise gr.Error("Enter a sentence to translate.", print_exception=False)
    if len(text) > 2000:
        raise gr.Error(f"The text is {len(text):,} characters; the limit is 2,000.", print_exception=False)
    try:
        result = translate(model, text, "beam" if strategy == "Beam search" else "greedy", int(beam_width))
    except UserError as e:
        raise gr.Error(str(e), print_exception=False) from None
    unknown = result["source_tokens"].count("<unk>")
    if unknown:
        gr.Warning(f"{unknown} word(s) are unknown to the model (<unk> in the heat map).")
    picture = attention_image(result["source_tokens"], result["target_tokens"], result["attention"]) \
        if getattr(model, "attention", "dot") != "none" else None
    return result["translation"], picture, [[b, round(s, 3)] for b, s in result["beams"]] or None


with gr.Blocks(title="$title") as demo:
    gr.Markdown(f"# $title\n`{MODEL}` at `{REVISION[:8]}`.")
    with gr.Row():
        with gr.Column():
            text = gr.Textbox(EXAMPLES[0], label="Sentence", lines=2)
            strategy = gr.Radio(["Greedy", "Beam search"], value="Greedy", label="Decoding")
            beam_width = gr.Slider(2, 10, value=4, step=1, label="Beam width")
            button = gr.Button("Translate", variant="primary")
        with gr.Column():
            output = gr.Textbox(label="Translation", lines=2)
            heat = gr.Image(label="Attention: each target word's weights over the source words", type="pil")
    gr.Examples([[e] for e in EXAMPLES], text)
    with gr.Accordion("Beam search: the translations kept", open=False):
        beams = gr.Dataframe(headers=["translation", "log-probability"], interactive=False)
    button.click(run, [text, strategy, beam_width], [output, heat, beams], api_name="translate")

if __name__ == "__main__":
    demo.launch()
