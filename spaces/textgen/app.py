"""$title: a language model, as its own demo.

It loads $model_id (revision $revision) from $hub_label and continues your text one token at a time: greedy
takes the most likely token, sampling draws one (temperature sharpens or flattens the distribution, top-k and
top-p cut its tail), beam search keeps the best few continuations. The code under hub_models/ and common/ is
DL Playground's own, copied here: it is what defines the network.
"""
import os
import time

import gradio as gr
from huggingface_hub import snapshot_download

from common.errors import UserError
from hub_models.textgen import generate, load_lm

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL, REVISION = "$model_id", "$revision"
HUB = os.environ.get("DLP_MODEL_HUB") or "$endpoint" or None  # None: huggingface.co
STRATEGIES = {"Sampling": "sample", "Greedy": "greedy", "Beam search": "beam"}
EXAMPLES = [["The ", "Sampling"], ["The ", "Greedy"]]

lm = load_lm(snapshot_download(MODEL, revision=REVISION, endpoint=HUB, token=os.environ.get("HF_TOKEN") or None))


def run(prompt, strategy, max_new, temperature, top_k, top_p, beam_width, seed):
    """Streams (text, beams); the page is updated at most every 0.1 s, however fast the model is."""
    kind = STRATEGIES.get(strategy, "sample")
    if kind == "beam" and int(beam_width) * int(max_new) > 4000:
        raise gr.Error("Beam search re-reads every beam at every step: keep beam width x tokens under 4000.",
                       print_exception=False)
    last, shown = 0.0, None
    try:
        for text, kept in generate(lm, prompt or "", int(max_new), kind, temperature=float(temperature),
                                   top_k=int(top_k), top_p=float(top_p), beam_width=int(beam_width),
                                   seed=int(seed or 0)):
            shown = (text, [[t, round(s, 3)] for t, s in kept] or None)
            if time.perf_counter() - last > 0.1:
                last = time.perf_counter()
                yield shown
    except UserError as e:
        raise gr.Error(str(e), print_exception=False) from None
    if shown is not None:
        yield shown


with gr.Blocks(title="$title") as demo:
    gr.Markdown(f"# $title\nA {lm.kind} language model: `{MODEL}` at `{REVISION[:8]}`.")
    with gr.Row():
        with gr.Column():
            prompt = gr.Textbox("The ", label="Start of the text", lines=3)
            strategy = gr.Radio(list(STRATEGIES), value="Sampling", label="Decoding")
            max_new = gr.Slider(1, 1000, value=200, step=1, label="New tokens")
            with gr.Row():
                temperature = gr.Slider(0.1, 2.0, value=0.8, step=0.05, label="Temperature")
                top_k = gr.Slider(0, 100, value=0, step=1, label="Top-k (0: off)")
                top_p = gr.Slider(0.05, 1.0, value=0.95, step=0.05, label="Top-p")
            with gr.Row():
                beam_width = gr.Slider(2, 10, value=4, step=1, label="Beam width")
                seed = gr.Number(0, label="Seed", precision=0)
            button = gr.Button("Generate", variant="primary")
        with gr.Column():
            output = gr.Textbox(label="Text", lines=14)
            beams = gr.Dataframe(headers=["beam", "log-probability"], label="Beam search: the beams kept",
                                 interactive=False)
    gr.Examples(EXAMPLES, [prompt, strategy])
    button.click(run, [prompt, strategy, max_new, temperature, top_k, top_p, beam_width, seed], [output, beams],
                 api_name="generate")

if __name__ == "__main__":
    demo.launch()
