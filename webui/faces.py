"""Face verification tab: verify two photos, recognise people from a one-photo-each gallery, train embedders."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from common.errors import UserError
from training.tasks import get_task

from . import visitors
from .common import PREDICT, AppContext, answered
from .forms import ConfigForm
from .inputs import PhotoInput
from .jobs import load_checked, model_choices, model_source
from .vision import VisionForm, vision_train

TASK = get_task("faces")
TITLE = TASK.title
EX = Path(__file__).resolve().parents[1] / "assets" / "examples"
INTRO = """**Verification** answers "are these two photos the same person?"; **recognition** answers "who is
this?" among enrolled people. Both compare **embeddings**: a network maps a face to a vector, and two faces
are the same person when their vectors are closer than a **threshold**. One photo per person is enough to
enrol them (**one-shot learning**): nothing is retrained when someone joins. The network is trained as a
**Siamese network** (the same weights embed both faces) with **contrastive loss** (pull same-person pairs
together, push others beyond a margin) or **triplet loss** (anchor closer to a positive than to a
negative by a margin), using **semi-hard** negatives: farther than the positive, yet inside the margin.
Faces are found by OpenCV's **Haar cascade**, cut out and turned so the eyes are level (**alignment**).
The built-in sample is drawn people (no face data set ships offline); a model trained on it knows drawn
faces. For photographs, train on a zip of photos with one folder per person (LFW's layout)."""

DATA_SOURCES = {"Built-in drawn people (80 + 20 unseen)": "builtin", "Upload a zip (one folder per person)": "upload",
                "Dataset repo on the hub": "hub"}
CROP_MODES = {"As the model was trained": "auto", "Find the face (Haar cascade)": "haar",
              "The image is a face crop": "none"}
EXAMPLES = [[str(EX / a), str(EX / b), mode] for a, b, mode in [
    ("face-visitor-a1.png", "face-visitor-a2.png", "As the model was trained"),
    ("face-visitor-a1.png", "face-visitor-b1.png", "As the model was trained"),
    ("face-astronaut.jpg", "face-astronaut-mirrored.jpg", "Find the face (Haar cascade)")]]


def _check(folder: Path) -> None:
    from hub_models.faces import load_embedder

    load_embedder(folder)


def _check_folder(folder: str) -> str:
    from training.face_data import check_face_folder

    return check_face_folder(folder)


def extras(form: ConfigForm) -> None:
    with gr.Row():
        form.field("loss", widget=gr.Radio, info="triplet: anchor/positive/negative; contrastive: a Siamese pair")
        form.field("mining", label="Triplet mining", info=None)
        form.field("margin", info="0: 0.2 for triplet, 1.0 for contrastive")
        form.field("embedding_dim", label="Embedding size", info=None)
        form.field("photos_per_person", label="Photos per person in a batch", info=None)
        form.field("face_crop", label="Face finding",
                   info="auto: crops as given for the built-in people, Haar cascade for uploads")


def build(ctx: AppContext) -> None:
    runner = ctx.runner

    def own_gallery():
        """The gallery of the visitor being served (names and photos are theirs; the owner's is the app's)."""
        from hub_models.faces import Gallery

        return Gallery(visitors.own_folder(runner.root / visitors.FACE_GALLERY))
    gr.Markdown(INTRO)
    source = model_source(ctx, TASK.name, [], metric=TASK.metric, label="Face embedder (trained here or pulled)",
                          pull_label="Repo id (ours, a timm model or a transformers vision model)",
                          placeholder="you/faces-small-cnn", check=_check)
    threshold = gr.Slider(0, 2, value=1.0, step=0.005, label="Threshold: same person if distance <= this",
                          info="set to the picked model's own threshold (the best on its validation pairs); move it "
                               "to see the verdict change")
    with gr.Tab("Verify") as verify_tab:
        last = gr.State(None)  # the last distance: the threshold slider re-decides without the network
        with gr.Row():
            image_a = PhotoInput(label="Photo A (a file, the webcam or the clipboard)", height=220)
            image_b = PhotoInput(label="Photo B", height=220)
            mode = gr.Radio(list(CROP_MODES), value="As the model was trained", label="Faces")
        gr.Examples(EXAMPLES, inputs=[image_a, image_b, mode],
                    label="Drawn people like the built-in sample; a photograph (NASA, via scikit-image) and a "
                          "mirrored, darker, tilted copy of it")
        verify_btn = gr.Button("Verify", variant="primary")
        verdict = gr.Markdown()
        picture = gr.Image(label="Photos (green: the face used, dots: eyes) and the aligned crops", type="pil",
                           buttons=["download"])
    with gr.Tab("Recognise") as recognise_tab:
        gr.Markdown("Enrol people with **one photo each**; the gallery is kept on disk (the crops, so any model can "
                    "use it). Identify finds the closest enrolled face, or says *unknown* when none is within the "
                    "threshold.")
        with gr.Row():
            with gr.Column():
                enrol_photo = PhotoInput(label="Photo to enrol (a file, the webcam or the clipboard)", height=220)
                with gr.Row():
                    enrol_name = gr.Textbox("", label="Name", placeholder="Ada", scale=3)
                    replace = gr.Checkbox(label="Replace", info="if the name is taken", scale=1)
                enrol_mode = gr.Radio(list(CROP_MODES), value="As the model was trained",
                                      label="Faces (to enrol and to identify)")
                enrol_btn = gr.Button("Enrol")
                gr.Examples([[str(EX / f"face-visitor-{p}1.png"), name] for p, name in
                             (("a", "Visitor A"), ("b", "Visitor B"), ("c", "Visitor C"))],
                            inputs=[enrol_photo, enrol_name], label="Drawn people")
            with gr.Column():
                query = PhotoInput(label="Photo to identify", height=220)
                gr.Examples([[str(EX / "face-visitor-a2.png")], [str(EX / "face-astronaut.jpg")]], inputs=[query],
                            label="Another photo of visitor A; a photograph")
                identify_btn = gr.Button("Identify", variant="primary")
                answer = gr.Markdown()
                ranking = gr.Dataframe(headers=["name", "distance"], interactive=False, label="Closest first")
        gallery = gr.Gallery(label="Gallery", columns=8, height=220, allow_preview=False)
        with gr.Row():
            remove_name = gr.Dropdown(label="Remove a person", choices=[], scale=3)
            remove_btn = gr.Button("Remove", scale=1)
    with gr.Tab("Train"):
        vision_train(ctx, VisionForm(
            task=TASK, model_label="Embedding network",
            model_info="or timm:<any timm architecture>; timm backbones start from random weights (no download)",
            data_sources=DATA_SOURCES, upload_label="Zip: one folder per person, 2+ photos each (LFW's layout)",
            repo_label="Dataset repo id (one folder per person)", repo_placeholder="you/my-faces",
            missing_upload="Upload a zip with one folder of photos per person.", check_folder=_check_folder,
            picture_label="Unseen people: ROC (model vs raw pixels) and distances of same / different pairs",
            push_placeholder="you/faces-small-cnn", picture_file="val_roc.png", extras=extras,
            size_info="faces are resized to this square"))

    # ------------------------------------------------------------------ events
    def model_for(folder):
        from hub_models.faces import load_cached

        return load_checked(runner, folder, load_cached)

    def with_notes(text: str, notes: list[str]) -> str:
        return text + "".join(f"\n\n{n}" for n in notes)

    def run_verify(folder, photo_a, photo_b, faces, threshold):
        from hub_models.faces import verdict as say, verify, verify_picture

        model = model_for(folder)
        if not photo_a or not photo_b:
            raise UserError("Upload two photos (A and B), or pick an example.")
        result = verify(model, photo_a, photo_b, CROP_MODES.get(faces, "auto"))
        d = result["distance"]
        return (with_notes(say(d, float(threshold)), result["notes"]), verify_picture(result),
                {"distance": d, "notes": result["notes"]})

    def redecide(found, t):
        from hub_models.faces import verdict as say

        if not found:
            return gr.skip()
        return with_notes(say(found["distance"], float(t)), found["notes"])

    def gallery_view():
        # On page open, an empty gallery must not import the face code (torch, OpenCV: 1.5 s of the first page).
        if not (visitors.own_folder(runner.root / visitors.FACE_GALLERY) / "gallery.json").exists():
            return [], gr.update(choices=[], value=None)
        entries = own_gallery().entries()
        return ([(crop, f"{name} · {when}") for name, when, crop in entries],
                gr.update(choices=[e[0] for e in entries], value=None))

    def face_of(model, photo, mode_):
        from hub_models.faces import face_crop
        from hub_models.inference import load_image

        mode_ = CROP_MODES.get(mode_, "auto")
        return face_crop(load_image(photo, channels=3), model.face_crop if mode_ == "auto" else mode_)

    def enrol(folder, photo, name, replace, faces):
        model = model_for(folder)
        if not photo:
            raise UserError("Upload a photo of the person to enrol.")
        face = face_of(model, photo, faces)
        name = own_gallery().enrol(name, face.crop, bool(replace))
        gr.Info(f"{name} enrolled" + (f" ({len(face.others) + 1} faces in the photo: the largest was used)"
                                      if face.others else ""))
        return *gallery_view(), ""

    def identify(folder, photo, t, mode_):
        model = model_for(folder)
        if not photo:
            raise UserError("Upload a photo to identify.")
        face = face_of(model, photo, mode_)
        who, ranked = own_gallery().identify(model, face.crop, float(t))
        best, d = ranked[0]
        text = (f"**{who}** (distance {d:.3f} <= threshold {float(t):.3f})" if who else
                f"**Unknown**: the closest is {best} at distance {d:.3f} > threshold {float(t):.3f}")
        return text, [[n, round(v, 4)] for n, v in ranked]

    def remove(name):
        if not name:
            raise UserError("Pick a person to remove.")
        own_gallery().remove(name)
        return gallery_view()

    def model_threshold(folder):
        """The slider follows the picked model's own threshold."""
        if not folder:
            return gr.skip()
        try:
            return float(model_for(folder).threshold)
        except UserError:  # not a model of ours (or gone): the slider stays; Verify will say why
            return gr.skip()

    answered(verify_btn.click, run_verify, None, [verdict, picture, last], api_name="faces_verify", **PREDICT,
             inputs_kwargs={"folder": source, "photo_a": image_a, "photo_b": image_b, "faces": mode,
                            "threshold": threshold})
    threshold.release(redecide, [last, threshold], verdict, api_name="faces_threshold", show_progress="hidden")
    for f in (image_a, image_b):
        f.change(lambda: None, None, last, api_visibility="private")
    source.change(model_threshold, source, threshold, api_name="faces_model_threshold", **PREDICT)
    enrol_btn.click(enrol, None, [gallery, remove_name, enrol_name], api_name="faces_enrol", **PREDICT,
                    inputs_kwargs={"folder": source, "photo": enrol_photo, "name": enrol_name, "replace": replace,
                                   "faces": enrol_mode})
    answered(identify_btn.click, identify, [source, query, threshold, enrol_mode], [answer, ranking],
             api_name="faces_identify", **PREDICT)
    remove_btn.click(remove, remove_name, [gallery, remove_name], api_name="faces_remove")
    recognise_tab.select(gallery_view, None, [gallery, remove_name], api_name="faces_gallery")
    for t in (verify_tab, recognise_tab):
        t.select(lambda cur: model_choices(runner, TASK.name, TASK.metric, cur), source, source,
                 api_visibility="private")
    ctx.on_load(gallery_view, [gallery, remove_name])
