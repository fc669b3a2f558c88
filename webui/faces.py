"""Face verification tab: verify two photos, recognise people from a one-photo-each gallery, train embedders."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from common.errors import UserError
from training.tasks import get_task

from . import visitors
from .common import INSTANT, PREDICT, AppContext, answered
from .forms import ConfigForm
from .i18n import L, choice, t
from .inputs import PhotoInput
from .jobs import load_checked, model_choices, model_source
from .vision import VisionForm, vision_train

TASK = get_task("faces")
TITLE = TASK.title
EX = Path(__file__).resolve().parents[1] / "assets" / "examples"

# The Data radio: shown words -> kind; the values (what the handler and the API get) stay as they were
DATA_SOURCES = {choice("faces.data_builtin", "Built-in drawn people (80 + 20 unseen)"): "builtin",  # i18n: not shown
                choice("faces.data_upload", "Upload a zip (one folder per person)"): "upload",  # i18n: not shown
                choice("faces.data_hub", "Dataset repo on the hub"): "hub"}  # i18n: not shown
# The Faces radio's values (what its handlers and the API get; the page shows CROP_CHOICES' words)
AUTO = "As the model was trained"  # i18n: not shown
HAAR = "Find the face (Haar cascade)"  # i18n: not shown
CROP_MODES = {AUTO: "auto", HAAR: "haar",
              "The image is a face crop": "none"}  # i18n: not shown
CROP_CHOICES = [choice("faces.crop_auto", AUTO), choice("faces.crop_haar", HAAR),
                choice("faces.crop_none", "The image is a face crop")]  # i18n: not shown
EXAMPLES = [[str(EX / a), str(EX / b), mode] for a, b, mode in [
    ("face-visitor-a1.png", "face-visitor-a2.png", AUTO),
    ("face-visitor-a1.png", "face-visitor-b1.png", AUTO),
    ("face-astronaut.jpg", "face-astronaut-mirrored.jpg", HAAR)]]


def _check(folder: Path) -> None:
    from hub_models.faces import load_embedder

    load_embedder(folder)


def _check_folder(folder: str) -> str:
    from training.face_data import check_face_folder

    return check_face_folder(folder)


def extras(form: ConfigForm) -> None:
    with gr.Row():
        form.field("loss", widget=gr.Radio, info=L("faces.loss_info"))
        form.field("mining", label=L("faces.triplet_mining"), info=None)
        form.field("margin", info=L("faces.margin_info"))
        form.field("embedding_dim", label=L("faces.embedding_size"), info=None)
        form.field("photos_per_person", label=L("faces.photos_per_person"), info=None)
        form.field("face_crop", label=L("faces.face_finding"), info=L("faces.face_crop_info"))


def build(ctx: AppContext) -> None:
    runner = ctx.runner

    def own_gallery():
        """The gallery of the visitor being served (names and photos are theirs; the owner's is the app's)."""
        from hub_models.faces import Gallery

        return Gallery(visitors.own_folder(runner.root / visitors.FACE_GALLERY))
    gr.Markdown(L("faces.intro"))
    source = model_source(ctx, TASK.name, [], metric=TASK.metric, label=L("faces.model_label"),
                          pull_label=L("faces.pull_label"), placeholder="you/faces-small-cnn", check=_check)
    threshold = gr.Slider(0, 2, value=1.0, step=0.005, label=L("faces.threshold"), info=L("faces.threshold_info"))
    with gr.Tab(L("faces.tab_verify")) as verify_tab:
        last = gr.State(None)  # the last distance: the threshold slider re-decides without the network
        with gr.Row():
            image_a = PhotoInput(label=L("faces.photo_a"), height=220)
            image_b = PhotoInput(label=L("faces.photo_b"), height=220)
            mode = gr.Radio(CROP_CHOICES, value=AUTO, label=L("faces.faces"))
        gr.Examples(EXAMPLES, inputs=[image_a, image_b, mode], label=L("faces.verify_examples"))
        verify_btn = gr.Button(L("faces.verify"), variant="primary")
        verdict = gr.Markdown()
        picture = gr.Image(label=L("faces.picture"), type="pil", buttons=["download"])
    with gr.Tab(L("faces.tab_recognise")) as recognise_tab:
        gr.Markdown(L("faces.recognise_intro"))
        with gr.Row():
            with gr.Column():
                enrol_photo = PhotoInput(label=L("faces.enrol_photo"), height=220)
                with gr.Row():
                    enrol_name = gr.Textbox("", label=L("faces.name"), placeholder="Ada", scale=3)
                    replace = gr.Checkbox(label=L("faces.replace"), info=L("faces.replace_info"), scale=1)
                enrol_mode = gr.Radio(CROP_CHOICES, value=AUTO, label=L("faces.faces_enrol_identify"))
                enrol_btn = gr.Button(L("faces.enrol"))
                gr.Examples([[str(EX / f"face-visitor-{p}1.png"), name] for p, name in
                             (("a", "Visitor A"), ("b", "Visitor B"), ("c", "Visitor C"))],
                            inputs=[enrol_photo, enrol_name], label=L("faces.drawn_people"))
            with gr.Column():
                query = PhotoInput(label=L("faces.query_photo"), height=220)
                gr.Examples([[str(EX / "face-visitor-a2.png")], [str(EX / "face-astronaut.jpg")]], inputs=[query],
                            label=L("faces.identify_examples"))
                identify_btn = gr.Button(L("faces.identify"), variant="primary")
                answer = gr.Markdown()
                ranking = gr.Dataframe(headers=[str(L("faces.col_name")), str(L("faces.col_distance"))],
                                       interactive=False, label=L("faces.closest_first"))
        gallery = gr.Gallery(label=L("faces.gallery"), columns=8, height=220, allow_preview=False)
        with gr.Row():
            remove_name = gr.Dropdown(label=L("faces.remove_person"), choices=[], scale=3)
            remove_btn = gr.Button(L("faces.remove"), scale=1)
    with gr.Tab(L("faces.tab_train")):
        vision_train(ctx, VisionForm(
            task=TASK, model_label=L("faces.train_model"), model_info=L("faces.train_model_info"),
            data_sources=DATA_SOURCES, upload_label=L("faces.upload_label"), repo_label=L("faces.repo_label"),
            repo_placeholder="you/my-faces",
            missing_upload=lambda: t("faces.missing_upload"), check_folder=_check_folder,
            picture_label=L("faces.train_picture"), push_placeholder="you/faces-small-cnn",
            picture_file="val_roc.png", extras=extras, size_info=L("faces.size_info")))

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
            raise UserError(t("faces.need_two_photos"))
        result = verify(model, photo_a, photo_b, CROP_MODES.get(faces, "auto"))
        d = result["distance"]
        return (with_notes(say(d, float(threshold)), result["notes"]), verify_picture(result),
                {"distance": d, "notes": result["notes"]})

    def redecide(found, limit):
        from hub_models.faces import verdict as say

        if not found:
            return gr.skip()
        return with_notes(say(found["distance"], float(limit)), found["notes"])

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
            raise UserError(t("faces.need_enrol_photo"))
        face = face_of(model, photo, faces)
        name = own_gallery().enrol(name, face.crop, bool(replace))
        gr.Info(t("faces.enrolled_largest", name=name, count=len(face.others) + 1) if face.others else
                t("faces.enrolled", name=name), title=t("common.info_title"))
        return *gallery_view(), ""

    def identify(folder, photo, limit, mode_):
        import pandas as pd

        model = model_for(folder)
        if not photo:
            raise UserError(t("faces.need_query_photo"))
        face = face_of(model, photo, mode_)
        who, ranked = own_gallery().identify(model, face.crop, float(limit))
        best, d = ranked[0]
        text = t("faces.identified", name=who, distance=d, threshold=float(limit)) if who else \
            t("faces.unknown", name=best, distance=d, threshold=float(limit))
        return text, pd.DataFrame([[n, round(v, 4)] for n, v in ranked],
                                  columns=[t("faces.col_name"), t("faces.col_distance")])

    def remove(name):
        if not name:
            raise UserError(t("faces.pick_person"))
        own_gallery().remove(name)
        return gallery_view()

    def model_threshold(folder):
        """The slider follows the picked model's own threshold."""
        if not folder:
            return gr.skip()
        try:
            return round(float(model_for(folder).threshold), 3)  # (the slider's box shows every digit it is given)
        except UserError:  # not a model of ours (or gone): the slider stays; Verify will say why
            return gr.skip()

    answered(verify_btn.click, run_verify, None, [verdict, picture, last], api_name="faces_verify", **PREDICT,
             inputs_kwargs={"folder": source, "photo_a": image_a, "photo_b": image_b, "faces": mode,
                            "threshold": threshold})
    threshold.release(redecide, [last, threshold], verdict, api_name="faces_threshold", **INSTANT)
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
    for tab in (verify_tab, recognise_tab):
        tab.select(lambda cur: model_choices(runner, TASK.name, TASK.metric, cur), source, source,
                 api_visibility="private")
    ctx.on_load(gallery_view, [gallery, remove_name])
