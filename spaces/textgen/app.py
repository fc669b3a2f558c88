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
from common.i18n import MARKERS_HEAD, strings, t
from hub_models.textgen import generate, load_lm

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL, REVISION = "$model_id", "$revision"
HUB = os.environ.get("DLP_MODEL_HUB") or "$endpoint" or None  # None: huggingface.co
STRATEGIES = {"Sampling": "sample", "Greedy": "greedy", "Beam search": "beam"}  # the radio's values (the API's)
I18N = gr.I18n(**strings())  # the page's words in every language (common/locales/): the browser picks one
STRATEGY_CHOICES = [(str(I18N("space.sampling")), "Sampling"), (str(I18N("space.greedy")), "Greedy"),
                    (str(I18N("space.beam_search")), "Beam search")]
EXAMPLES = [["The ", "Sampling"], ["The ", "Greedy"]]

lm = load_lm(snapshot_download(MODEL, revision=REVISION, endpoint=HUB, token=os.environ.get("HF_TOKEN") or None))


def intro():
    """The page's heading, in the visitor's language."""
    return "# $title\n" + t("space.textgen_intro", kind=lm.kind, model=MODEL, revision=REVISION[:8])


def beams_table(kept):
    """The kept beams as a table whose headers are in the visitor's language (none: no table)."""
    rows = [[text, round(score, 3)] for text, score in kept]
    return {"headers": [t("space.col_beam"), t("space.col_log_probability")], "data": rows} if rows else None


def run(prompt, strategy, max_new, temperature, top_k, top_p, beam_width, seed):
    """Streams (text, beams); the page is updated at most every 0.1 s, however fast the model is."""
    kind = STRATEGIES.get(strategy, "sample")
    if kind == "beam" and int(beam_width) * int(max_new) > 4000:
        raise gr.Error(t("space.beam_too_big"), print_exception=False, title=t("space.error_title"))
    last, shown = 0.0, None
    try:
        for text, kept in generate(lm, prompt or "", int(max_new), kind, temperature=float(temperature),
                                   top_k=int(top_k), top_p=float(top_p), beam_width=int(beam_width),
                                   seed=int(seed or 0)):
            shown = (text, beams_table(kept))
            if time.perf_counter() - last > 0.1:
                last = time.perf_counter()
                yield shown
    except UserError as e:
        raise gr.Error(str(e), print_exception=False, title=t("space.error_title")) from None
    if shown is not None:
        yield shown


with gr.Blocks(title="$title") as demo:
    heading = gr.Markdown(intro())
    with gr.Row():
        with gr.Column():
            prompt = gr.Textbox("The ", label=I18N("space.prompt"), lines=3)
            strategy = gr.Radio(STRATEGY_CHOICES, value="Sampling", label=I18N("space.decoding"))
            max_new = gr.Slider(1, 1000, value=200, step=1, label=I18N("space.new_tokens"))
            with gr.Row():
                temperature = gr.Slider(0.1, 2.0, value=0.8, step=0.05, label=I18N("space.temperature"))
                top_k = gr.Slider(0, 100, value=0, step=1, label=I18N("space.top_k_off"))
                top_p = gr.Slider(0.05, 1.0, value=0.95, step=0.05, label=I18N("space.top_p"))
            with gr.Row():
                beam_width = gr.Slider(2, 10, value=4, step=1, label=I18N("space.beam_width"))
                seed = gr.Number(0, label=I18N("space.seed"), precision=0)
            button = gr.Button(I18N("space.generate"), variant="primary")
        with gr.Column():
            output = gr.Textbox(label=I18N("space.text"), lines=14)
            # (the headers in the visitor's language come with the beams: beams_table)
            beams = gr.Dataframe(headers=[str(I18N("space.col_beam")), str(I18N("space.col_log_probability"))],
                                 label=I18N("space.beams_kept"),
                                 interactive=False)
    gr.Examples(EXAMPLES, [prompt, strategy], label=I18N("space.examples"))
    button.click(run, [prompt, strategy, max_new, temperature, top_k, top_p, beam_width, seed], [output, beams],
                 api_name="generate")
    demo.load(intro, None, heading, api_visibility="private", show_progress="hidden")

if __name__ == "__main__":
    demo.launch(i18n=I18N, head=MARKERS_HEAD)
