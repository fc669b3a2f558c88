"""Publishing a model as its own Space: one model of each task family is published to the test hub, the Space is
downloaded and its app.py started where none of the playground's packages can be imported (tests/space_host.py),
asked through gradio_client, and its answer compared with the playground's own code on the same input."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ROOT

EX = ROOT / "assets" / "examples"


# ----------------------------------------------------------- one small model of each family, saved to a folder
def _classification(folder: Path) -> None:
    from hub_models.classification import LeNet

    LeNet(num_classes=10, labels=[str(i) for i in range(10)]).save_pretrained(folder)


def _detection(folder: Path) -> None:
    from hub_models.detection import create_detector

    create_detector("tinyssd", 3, ["circle", "square", "triangle"], 64).save_pretrained(folder)


def _segmentation(folder: Path) -> None:
    from hub_models.segmentation import create_segmenter

    create_segmenter("unet", 3, ["background", "circle", "square"], 64).save_pretrained(folder)


def _faces(folder: Path) -> None:
    from hub_models.faces import create_embedder

    model = create_embedder("small-cnn", 24, 64, "none")
    model.save_pretrained(folder, config={**model._hub_mixin_config, "threshold": 0.7})


def _style(folder: Path) -> None:
    from hub_models.style import StyleNet

    StyleNet(width=8, residual_blocks=1).save_pretrained(folder)
    shutil.copyfile(EX / "style-flower.jpg", folder / "style.png")


def _generative(folder: Path) -> None:
    from hub_models.generative import VAE

    VAE(image_size=8, latent_dim=2, kind="mlp", width=8).save_pretrained(folder)


def _textgen(folder: Path) -> None:
    from hub_models.textgen import create_model

    create_model("char-gru", list("abc \n"), hidden_size=16, embed_size=8).save_pretrained(folder)


def _translation(folder: Path) -> None:
    from hub_models.catalog import TRANSLATORS
    from hub_models.translation import Seq2Seq, build_vocab

    Seq2Seq(build_vocab(["the red car ."]), build_vocab(["la voiture rouge ."]),
            **TRANSLATORS["gru-additive-attention"].defaults, hidden_size=16, embed_size=8).save_pretrained(folder)


def _bert(folder: Path) -> None:
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from hub_models.bert import builtin_base_folder

    cfg = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=64, num_labels=2, id2label={0: "negative", 1: "positive"},
                     label2id={"negative": 0, "positive": 1})
    BertForSequenceClassification(cfg).save_pretrained(folder)
    AutoTokenizer.from_pretrained(builtin_base_folder()).save_pretrained(folder)


MAKERS = {"classification": _classification, "detection": _detection, "segmentation": _segmentation,
          "faces": _faces, "style": _style, "generative": _generative, "textgen": _textgen,
          "translation": _translation, "bert": _bert}


@pytest.fixture(scope="module")
def published(hub_server, tmp_path_factory):
    """task -> (the model's pulled folder, a gradio_client on its running Space); the Spaces' files."""
    from gradio_client import Client

    from hub.client import pull, push_folder
    from hub.publish import fetch_space, publish

    hub = hub_server.hub()
    root = tmp_path_factory.mktemp("spaces")
    models, spaces = {}, {}
    for task, make in MAKERS.items():
        torch.manual_seed(0)
        make(root / "src" / task)
        push_folder(root / "src" / task, f"alice/space-{task}", hub)
        models[task] = pull(f"alice/space-{task}", hub)
        revision = json.loads((models[task] / ".complete").read_text())["sha"]
        done = publish(task, models[task], model_id=f"alice/space-{task}", revision=revision,
                       space_id=f"alice/space-{task}-demo", hub=hub)
        assert done.run == f"python -m hub.publish run alice/space-{task}-demo --hub {hub.endpoint}"
        spaces[task] = fetch_space(done.space_id, hub, root / "fetched" / task)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.Popen([sys.executable, "-I", str(ROOT / "tests" / "space_host.py"),
                             *map(str, spaces.values())], cwd=root, env=env, stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        ports = {}
        for line in proc.stdout:
            if line.startswith("SPACE "):  # (the apps print too)
                entry = json.loads(line.removeprefix("SPACE "))
                assert "error" not in entry, f"the {Path(entry['folder']).name} Space did not start: {entry['error']}"
                ports[Path(entry["folder"]).name] = entry["port"]
                if len(ports) == len(MAKERS):
                    break
        assert set(ports) == set(MAKERS), f"the Space host stopped early (exit {proc.poll()})"
        clients = {task: Client(f"http://127.0.0.1:{p}/", verbose=False) for task, p in ports.items()}
        yield {task: (models[task], clients[task]) for task in MAKERS}, spaces
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)


def test_each_family_publishes_a_space_that_answers_as_the_playground(published):
    from gradio_client import handle_file

    from hub_models import bert, detection, faces, generative, inference, segmentation, style, textgen, translation
    from hub_models.gen_catalog import ALL_CLASSES

    runs, _ = published
    digit, scene = str(EX / "digit-3.png"), str(EX / "shapes-1.png")

    folder, space = runs["classification"]
    got = space.predict(handle_file(digit), 3, api_name="/predict")[0]
    want = inference.classify(inference.load_classifier(folder), digit, 3)[0]
    assert [c["label"] for c in got["confidences"]] == list(want)

    folder, space = runs["detection"]
    got = space.predict(handle_file(scene), 0.01, 0.5, api_name="/detect")
    model = detection.load_detector(folder)
    want = detection.show_detections(scene, detection.detect_image(model, scene), 0.01, 0.5)
    assert got[1]["data"] == [list(r) for r in want[1]] and len(got[2]["data"]) == len(want[2])

    folder, space = runs["segmentation"]
    got = space.predict(handle_file(scene), 0.5, api_name="/segment")
    model = segmentation.load_segmenter(folder)
    want = segmentation.class_shares(segmentation.segment_image(model, scene)[0], list(model.labels))
    assert got[2]["data"] == [list(r) for r in want]

    folder, space = runs["faces"]
    a, b = str(EX / "face-visitor-a1.png"), str(EX / "face-visitor-b1.png")
    got = space.predict(handle_file(a), handle_file(b), "As the model was trained", 0.7, api_name="/verify")
    d = faces.verify(faces.load_embedder(folder), a, b)["distance"]
    assert f"distance {d:.3f}" in got[0]

    folder, space = runs["style"]
    photo = str(EX / "content-coffee.jpg")
    got = _pixels(space.predict(handle_file(photo), 128, api_name="/stylize")[0])
    want = np.asarray(style.stylize(style.load_style_net(folder), photo, 128), dtype=np.float32)
    assert got.shape == want.shape and np.abs(got - want).max() <= 1
    assert space.predict(api_name="/grams")  # the style image's Gram matrices

    folder, space = runs["generative"]
    got = _pixels(space.predict(9, 1, ALL_CLASSES, "DDIM", 50, api_name="/sample")[0])
    grid = list(generative.samples(generative.load_generative(folder), 9, 1))[-1][0]
    assert np.abs(got - np.asarray(grid, dtype=np.float32)).max() <= 1
    assert space.predict(1, 2, 5, api_name="/walk")

    folder, space = runs["textgen"]
    got = space.predict("ab", "Greedy", 20, 0.8, 0, 0.95, 4, 0, api_name="/generate")[0]
    want = list(textgen.generate(textgen.load_lm(folder), "ab", 20, "greedy"))[-1][0]
    assert got == want

    folder, space = runs["translation"]
    got = space.predict("the red car .", "Greedy", 4, api_name="/translate")
    want = translation.translate(translation.load_translator(folder), "the red car .")
    assert got[0] == want["translation"] and got[1]  # and the attention heat map

    folder, space = runs["bert"]
    got = space.predict("The soup was exquisite.", "", api_name="/predict")[1]
    want = bert.classify_text(folder, "The soup was exquisite.")[0]
    assert got["label"] == max(want, key=want.get)


def test_a_space_carries_only_what_its_demo_needs(published):
    """Our code the app imports and nothing that trains or serves; requirements by what the model needs."""
    _, spaces = published
    for task, folder in spaces.items():
        files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and ".cache" not in p.parts}
        ours = {f for f in files if f.endswith(".py") and f != "app.py"}
        assert ours and all(f.startswith(("hub_models/", "common/")) for f in ours), (task, ours)
        assert not any("server" in f or "training" in f or "webui" in f for f in files), (task, files)
        readme = (folder / "README.md").read_text()
        assert "sdk: gradio" in readme and f"- alice/space-{task}" in readme and "app_file: app.py" in readme
        assert "$" not in (folder / "app.py").read_text()  # every placeholder filled
        requirements = (folder / "requirements.txt").read_text()
        assert "torch==" in requirements and "pytest" not in requirements and "gradio" not in requirements.split(
            "\n", 1)[1]
    assert "transformers" in (spaces["bert"] / "requirements.txt").read_text()
    assert "timm" not in (spaces["classification"] / "requirements.txt").read_text()  # a LeNet needs no timm
    assert "opencv" in (spaces["faces"] / "requirements.txt").read_text()


def test_publishing_again_makes_a_new_commit_and_bad_requests_are_refused(hub_server, published, tmp_path):
    from huggingface_hub import HfApi

    from hub.client import HubActionError, pull
    from hub.publish import PublishError, publish

    hub = hub_server.hub()
    api = HfApi(endpoint=hub.endpoint, token=hub.token)
    model, space = "alice/space-classification", "alice/space-classification-demo"
    before = [c.commit_id for c in api.list_repo_commits(space, repo_type="space")]
    # The model changes (a new commit): publishing again pins the new revision in a new commit of the Space.
    api.upload_file(path_or_fileobj=b"retrained", path_in_repo="notes.txt", repo_id=model)
    folder = pull(model, hub)
    revision = json.loads((folder / ".complete").read_text())["sha"]
    again = publish("classification", folder, model_id=model, revision=revision, space_id=space, hub=hub)
    after = [c.commit_id for c in api.list_repo_commits(space, repo_type="space")]
    assert len(after) == len(before) + 1 and after[0] == again.commit
    app = api.hf_hub_download(space, "app.py", repo_type="space", local_dir=tmp_path)
    assert f'"{revision}"' in open(app).read()

    def refused(match: str, **changes) -> None:
        args = {"model_id": model, "revision": revision, "space_id": "alice/another-demo", "hub": hub, **changes}
        with pytest.raises((PublishError, HubActionError), match=match):
            publish(changes.pop("task", "classification"), folder, **args)

    refused("your own namespace", space_id="bob/stolen-demo")
    refused("already a model or dataset repo", space_id=model)
    refused("needs a write token", hub=hub_server.hub(None))
    refused("not a valid repo id", space_id="alice/bad name")
    refused("is not on", revision="b" * 40)
    assert not api.repo_exists("alice/another-demo", repo_type="space")  # nothing half-made
