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
from hub_models.faces import load_embedder, verdict, verify, verify_picture

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL, REVISION = "$model_id", "$revision"
HUB = os.environ.get("DLP_MODEL_HUB") or "$endpoint" or None  # None: huggingface.co
CROP_MODES = {"As the model was trained": "auto", "Find the face (Haar cascade)": "haar",
              "The image is a face crop": "none"}
EXAMPLES = [[os.path.join(HERE, "examples", a), os.path.join(HERE, "examples", b), mode] for a, b, mode in (
    ("face-visitor-a1.png", "face-visitor-a2.png", "As the model was trained"),
    ("face-visitor-a1.png", "face-visitor-b1.png", "As the model was trained"),
    ("face-astronaut.jpg", "face-astronaut-mirrored.jpg", "Find the face (Haar cascade)"))]

model = load_embedder(snapshot_download(MODEL, revision=REVISION, endpoint=HUB,
                                        token=os.environ.get("HF_TOKEN") or None))


def say(found, threshold):
    return "\n\n".join([verdict(found["distance"], float(threshold)), *found["notes"]])


def run_verify(photo_a, photo_b, faces, threshold):
    """The verdict, the two photos with their faces and the aligned crops; and the distance, for the slider."""
    if not photo_a or not photo_b:
        raise gr.Error("Give two photos (A and B), or pick an example.", print_exception=False)
    try:
        result = verify(model, photo_a, photo_b, CROP_MODES.get(faces, "auto"))
    except UserError as e:
        raise gr.Error(str(e), print_exception=False) from None
    found = {"distance": result["distance"], "notes": result["notes"]}
    return say(found, threshold), verify_picture(result), found


with gr.Blocks(title="$title") as demo:
    gr.Markdown(f"# $title\nFace verification with `{MODEL}` at `{REVISION[:8]}`.")
    found = gr.State(None)
    with gr.Row():
        photo_a = gr.Image(type="filepath", label="Photo A")
        photo_b = gr.Image(type="filepath", label="Photo B")
    with gr.Row():
        faces = gr.Radio(list(CROP_MODES), value="As the model was trained", label="Faces")
        threshold = gr.Slider(0.0, 2.0, value=round(float(model.threshold), 3), step=0.005,
                              label="Threshold (same person when the distance is at most this)")
    gr.Examples([e for e in EXAMPLES if os.path.exists(e[0])], [photo_a, photo_b, faces])
    button = gr.Button("Verify", variant="primary")
    answer = gr.Markdown()
    picture = gr.Image(label="The faces found (green) and the aligned crops the network compares", type="pil")
    button.click(run_verify, [photo_a, photo_b, faces, threshold], [answer, picture, found], api_name="verify")
    threshold.release(lambda f, t: say(f, t) if f else gr.skip(), [found, threshold], answer,
                      api_visibility="private", show_progress="hidden")

if __name__ == "__main__":
    demo.launch()
