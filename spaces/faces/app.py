"""$title: face verification, as its own demo.

It loads $model_id (revision $revision) from $hub_label. Each photo's face is found, cut out and turned so
the eyes are level, then embedded; two faces are "the same person" when their embeddings are closer than a
threshold (the one the model's training found best; the slider re-decides without running it again). The
code under hub_models/ and common/ is DL Playground's own, copied here: it is what defines the network.
"""
import os

import gradio as gr
from huggingface_hub import snapshot_download

from common.errors import UserError
from common.i18n import MARKERS_HEAD, strings, t
from hub_models.faces import load_embedder, verdict, verify, verify_picture

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL, REVISION = "$model_id", "$revision"
HUB = os.environ.get("DLP_MODEL_HUB") or "$endpoint" or None  # None: huggingface.co
I18N = gr.I18n(**strings())  # the page's words in every language (common/locales/): the browser picks one
# The Faces radio's values (what the handler and the API get; the page shows CROP_CHOICES' words)
AUTO, HAAR, NONE = ("As the model was trained", "Find the face (Haar cascade)",  # i18n: not shown
                    "The image is a face crop")  # i18n: not shown
CROP_MODES = {AUTO: "auto", HAAR: "haar", NONE: "none"}
CROP_CHOICES = [(str(I18N("space.crop_auto")), AUTO), (str(I18N("space.crop_haar")), HAAR),
                (str(I18N("space.crop_none")), NONE)]
EXAMPLES = [[os.path.join(HERE, "examples", a), os.path.join(HERE, "examples", b), mode] for a, b, mode in (
    ("face-visitor-a1.png", "face-visitor-a2.png", AUTO),
    ("face-visitor-a1.png", "face-visitor-b1.png", AUTO),
    ("face-astronaut.jpg", "face-astronaut-mirrored.jpg", HAAR))]

model = load_embedder(snapshot_download(MODEL, revision=REVISION, endpoint=HUB,
                                        token=os.environ.get("HF_TOKEN") or None))


def intro():
    """The page's heading, in the visitor's language."""
    return "# $title\n" + t("space.faces_intro", model=MODEL, revision=REVISION[:8])


def say(found, threshold):
    return "\n\n".join([verdict(found["distance"], float(threshold)), *found["notes"]])


def run_verify(photo_a, photo_b, faces, threshold):
    """The verdict, the two photos with their faces and the aligned crops; and the distance, for the slider."""
    if not photo_a or not photo_b:
        raise gr.Error(t("space.give_two_photos"), print_exception=False, title=t("space.error_title"))
    try:
        result = verify(model, photo_a, photo_b, CROP_MODES.get(faces, "auto"))
    except UserError as e:
        raise gr.Error(str(e), print_exception=False, title=t("space.error_title")) from None
    found = {"distance": result["distance"], "notes": result["notes"]}
    return say(found, threshold), verify_picture(result), found


with gr.Blocks(title="$title") as demo:
    heading = gr.Markdown(intro())
    found = gr.State(None)
    with gr.Row():
        photo_a = gr.Image(type="filepath", label=I18N("space.photo_a"))
        photo_b = gr.Image(type="filepath", label=I18N("space.photo_b"))
    with gr.Row():
        faces = gr.Radio(CROP_CHOICES, value=AUTO, label=I18N("space.faces"))
        threshold = gr.Slider(0.0, 2.0, value=round(float(model.threshold), 3), step=0.005,
                              label=I18N("space.threshold"))
    gr.Examples([e for e in EXAMPLES if os.path.exists(e[0])], [photo_a, photo_b, faces],
                label=I18N("space.examples"))
    button = gr.Button(I18N("space.verify"), variant="primary")
    answer = gr.Markdown()
    picture = gr.Image(label=I18N("space.faces_picture"), type="pil")
    button.click(run_verify, [photo_a, photo_b, faces, threshold], [answer, picture, found], api_name="verify")
    threshold.release(lambda f, limit: say(f, limit) if f else gr.skip(), [found, threshold], answer,
                      api_visibility="private", show_progress="hidden")
    demo.load(intro, None, heading, api_visibility="private", show_progress="hidden")

if __name__ == "__main__":
    demo.launch(i18n=I18N, head=MARKERS_HEAD)
