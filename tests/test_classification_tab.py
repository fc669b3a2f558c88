"""The image-classification tab through gradio_client, and image inputs good and bad."""
from __future__ import annotations

import struct
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image

from conftest import refused
from webui.classification import EXAMPLES
from webui.jobs import JOB_KEY

URL_HUB = "Hub at a URL"


LOCAL_HUB = ("Local hub (offline)", "", "")


def _start(client, model, hub=LOCAL_HUB, **values) -> str:
    """Start a job by field name; the fields left out keep the form's defaults (the config's)."""
    choice, url, token = hub
    values.setdefault("upload", None)  # a file field has no default
    out = client.predict(model=model, choice=choice, url=url, token=token, **values,
                         api_name="/classification_train")
    return out["value"] if isinstance(out, dict) else out  # the job dropdown's update


def _rows(table):
    return table["data"] if isinstance(table, dict) else table


def _png_claiming(width: int, height: int) -> bytes:
    """A valid 1x1 PNG whose header claims another size (a decompression bomb's calling card)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0\0"))
            + chunk(b"IEND", b""))


def test_train_watch_predict_push_and_pull(tab, hub_server, repo_name, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    client, runner = tab
    job = _start(client, "lenet-bn", epochs=3, batch_size=64)
    deadline = time.monotonic() + 180
    while runner.get(job).status in ("queued", "running", "stopping"):
        assert time.monotonic() < deadline, runner.log_tail(job)
        time.sleep(0.5)
    assert runner.get(job).status == "completed", runner.log_tail(job)
    rows, progress, loss, metrics, confusion, log = client.predict(job, api_name="/classification_watch")
    assert [r[2] for r in _rows(rows) if r[0] == job] == ["completed"]
    assert "Completed" in progress and "step" in progress
    assert len(_rows(loss)) > 5 and {r[1] for r in _rows(metrics)} == {"accuracy", "f1_macro", "train_accuracy"}
    assert confusion is not None and "completed" in log
    accuracy = float([r[4] for r in _rows(rows) if r[0] == job][0])
    assert accuracy > 0.9

    folder = str(runner.job_dir(job) / "out" / "model")
    for example in EXAMPLES:
        label, seen, summary, top = client.predict(folder, handle_file(example), 3, api_name="/classification_predict")
        assert seen
        assert len(label["confidences"]) == 3 and len(_rows(summary)) > 5
        assert [c[0] for c in top["choices"]] == [c["label"] for c in label["confidences"]]  # classes to explain
    correct = sum(client.predict(folder, handle_file(e), 1, api_name="/classification_predict")[0]["label"]
                  == e.rsplit("-", 1)[1][0] for e in EXAMPLES)
    assert correct >= len(EXAMPLES) - 1
    # Drawn on the sketchpad: dark strokes on a transparent canvas, small, in a corner. It is framed as the digits
    # are, shown in the image input, and read.
    read = 0
    for e in EXAMPLES:
        ink = Image.open(e).convert("L").resize((64, 64))  # light ink on dark
        canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
        canvas.paste(Image.merge("RGBA", [ink.point(lambda _: 0)] * 3 + [ink]), (200, 12))  # black, ink as alpha
        canvas.save(drawn := tmp_path / f"drawn-{Path(e).name}")
        shown, label, *_ = client.predict(JOB_KEY + job, {"background": None, "layers": [], "composite": handle_file(
            str(drawn))}, 1, api_name="/classification_drawing")
        assert shown and Image.open(shown).size[0] == Image.open(shown).size[1]
        read += label["label"] == e.rsplit("-", 1)[1][0]
    assert read >= len(EXAMPLES) - 1

    # Inside the network: per-image pictures, then the job's own validation split projected, with its mistakes.
    note, filters, maps, salient, occluded = client.predict(JOB_KEY + job, handle_file(EXAMPLES[3]), "",
                                                            api_name="/classification_inside")
    assert "Explaining **3**" in note and all((filters, maps, salient, occluded))
    note, *_ = client.predict(JOB_KEY + job, handle_file(EXAMPLES[3]), "8", api_name="/classification_inside")
    assert "Explaining **8**" in note
    with refused("not one of this model's classes"):
        client.predict(JOB_KEY + job, handle_file(EXAMPLES[3]), "cat", api_name="/classification_inside")
    own = "Its own validation split (trained here)"
    note, picture, wrong, per_class = client.predict(JOB_KEY + job, own, None, "t-SNE",
                                                     api_name="/classification_set_views")
    shown = float(note.split("**")[1].rstrip("%")) / 100
    assert abs(shown - accuracy) < 0.002 and picture  # the same split the job validated on
    assert [r[0] for r in _rows(per_class)] == [str(d) for d in range(10)] and len(wrong) > 0
    assert all(" -> " in item["caption"] for item in wrong)
    with refused("Upload a zip"):
        client.predict(JOB_KEY + job, "Upload a zip (one folder per class)", None, "PCA",
                       api_name="/classification_set_views")
    big = tmp_path / "big.zip"  # more images than the views take: refused before anything is decoded
    png = tmp_path / "one.png"
    Image.new("L", (8, 8)).save(png)
    with zipfile.ZipFile(big, "w") as z:
        for i in range(2001):
            z.write(png, f"{i % 2}/{i}.png")
    with refused("holds 2,001 images; the set views take up to 2,000"):
        client.predict(JOB_KEY + job, "Upload a zip (one folder per class)", handle_file(str(big)), "PCA",
                       api_name="/classification_set_views")

    repo = f"alice/{repo_name}"
    with pytest.raises(AppError, match="needs a write token"):
        client.predict(job, repo, False, URL_HUB, hub_server.url, "", api_name="/classification_push")
    msg = client.predict(job, repo, True, URL_HUB, hub_server.url, hub_server.tokens["alice"],
                         api_name="/classification_push")
    assert f"Pushed to **{repo}**" in msg
    assert hub_server.api().model_info(repo).private
    pulled = client.predict(repo, URL_HUB, hub_server.url, hub_server.tokens["alice"],
                            api_name="/classification_pull")
    pulled = pulled["value"] if isinstance(pulled, dict) else pulled
    label, *_ = client.predict(pulled, handle_file(EXAMPLES[0]), 1, api_name="/classification_predict")
    assert label["label"] == "0"
    with refused("no validation split here"):
        client.predict(pulled, own, None, "PCA", api_name="/classification_set_views")
    note, picture, _, _ = client.predict(pulled, "Built-in digits", None, "PCA", api_name="/classification_set_views")
    assert "on 1797 images" in note and picture
    with pytest.raises(AppError, match="not found"):
        client.predict(repo, URL_HUB, hub_server.url, "", api_name="/classification_pull")  # private

    # Publish the trained model as a Space: the model goes to the hub first, then its demo (tests/test_spaces.py
    # runs such demos); without a token, nothing is made.
    with pytest.raises(AppError, match="needs a write token"):
        client.predict(JOB_KEY + job, "", False, URL_HUB, hub_server.url, "", api_name="/classification_publish")
    answer = client.predict(JOB_KEY + job, f"alice/{repo_name}-demo", False, URL_HUB, hub_server.url,
                            hub_server.tokens["alice"], api_name="/classification_publish")
    assert f"alice/{repo_name}-demo" in answer and "python -m hub.publish run" in answer
    space = hub_server.api().space_info(f"alice/{repo_name}-demo")
    assert {"app.py", "README.md", "requirements.txt"} <= {s.rfilename for s in space.siblings}


def test_stop_from_the_ui(tab):
    client, runner = tab
    job = _start(client, "lenet", epochs=300, batch_size=8, optimizer="sgd", lr=0.01,
                 schedule="constant")
    deadline = time.monotonic() + 120
    while not any(e["type"] == "step" for e in runner.events(job)[0]):
        assert time.monotonic() < deadline, runner.log_tail(job)
        time.sleep(0.2)
    client.predict(job, api_name="/classification_stop")
    assert runner.wait(job, timeout=30).status == "stopped"


@pytest.mark.parametrize("make", ["cmyk", "rgba", "gray16", "gray", "palette"])
def test_odd_image_modes_are_classified(tab, tmp_path, make):
    from gradio_client import handle_file

    client, runner = tab
    folder = next((runner.job_dir(j.id) / "out" / "model" for j in runner.jobs()
                   if (runner.job_dir(j.id) / "out" / "model" / "model.safetensors").exists()), None)
    if folder is None:
        pytest.skip("needs the trained model of test_train_watch_predict_push_and_pull")
    base = Image.open(EXAMPLES[2])
    img = {"cmyk": base.convert("CMYK"), "rgba": base.convert("RGBA"), "gray": base.convert("L"),
           "gray16": base.convert("I;16"), "palette": base.convert("P")}[make]
    path = tmp_path / f"x.{'tiff' if make in ('cmyk', 'gray16') else 'png'}"
    img.save(path)
    label, *_ = client.predict(str(folder), handle_file(str(path)), 2, api_name="/classification_predict")
    assert len(label["confidences"]) == 2


def test_bad_images_get_clear_messages(tab, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    client, runner = tab
    folder = next((runner.job_dir(j.id) / "out" / "model" for j in runner.jobs()
                   if (runner.job_dir(j.id) / "out" / "model" / "model.safetensors").exists()), None)
    if folder is None:
        pytest.skip("needs the trained model of test_train_watch_predict_push_and_pull")
    (tmp_path / "notes.png").write_text("this is not an image")
    (tmp_path / "empty.png").write_bytes(b"")
    good = open(EXAMPLES[0], "rb").read()
    (tmp_path / "truncated.png").write_bytes(good[: len(good) // 2])
    (tmp_path / "bomb.png").write_bytes(_png_claiming(20000, 20000))
    cases = {"notes.png": "not an image", "empty.png": "empty", "truncated.png": "damaged or truncated",
             "bomb.png": "limit"}
    for name, message in cases.items():
        with pytest.raises(AppError, match=message):
            client.predict(str(folder), handle_file(str(tmp_path / name)), 3, api_name="/classification_predict")
    with pytest.raises(AppError, match="Pick a model"):
        client.predict(None, handle_file(EXAMPLES[0]), 3, api_name="/classification_predict")
    with pytest.raises(AppError, match="not a valid repo id"):
        client.predict("../etc", URL_HUB, "http://127.0.0.1:9", "", api_name="/classification_pull")
    # Still serving.
    label, *_ = client.predict(str(folder), handle_file(EXAMPLES[0]), 1, api_name="/classification_predict")
    assert label["label"]


def test_model_paths_and_choices_are_validated(tab, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    client, _ = tab
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(AppError, match="not one trained here"):
        client.predict(str(tmp_path), handle_file(EXAMPLES[0]), 3, api_name="/classification_predict")
    with refused("unknown architecture 'vgg-9000'"):
        _start(client, "vgg-9000", epochs=1)
    with pytest.raises(AppError, match="no job"):
        client.predict("../../etc", api_name="/classification_stop")


def test_train_on_an_uploaded_zip_and_refuse_a_hostile_one(tab, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from test_classification_data import _zip, make_folder, zip_folder

    client, runner = tab
    upload = dict(source_kind="Upload a zip", image_size=16, epochs=1, batch_size=8)
    with pytest.raises(AppError, match="unsafe path"):
        _start(client, "lenet", upload=handle_file(str(_zip(tmp_path / "evil.zip", {"../x.png": b"x"}))), **upload)
    with pytest.raises(AppError, match="Upload a zip"):
        _start(client, "lenet", **upload)
    with pytest.raises(AppError, match="not a valid repo id"):
        _start(client, "lenet", source_kind="Dataset repo on the hub", data_repo="no repo", epochs=1)
    jobs_before = len(runner.jobs())
    with pytest.raises(AppError, match="nobody/does-not-exist"):  # a job used to start, only to fail on it
        _start(client, "lenet", source_kind="Dataset repo on the hub", data_repo="nobody/does-not-exist", epochs=1)
    assert len(runner.jobs()) == jobs_before
    z = zip_folder(make_folder(tmp_path / "data"), tmp_path / "colours.zip")
    job = _start(client, "lenet", upload=handle_file(str(z)), augment=["crop", "jitter"], **{**upload, "epochs": 8})
    done = runner.wait(job, timeout=180)
    assert done.status == "completed", runner.log_tail(job)
    assert runner.get(job).label == "lenet on colours.zip" and "crop,jitter" in runner.get(job).argv
    # The extracted upload stays inside the app's own folder.
    assert all(p.resolve().is_relative_to(runner.root.resolve()) for p in (runner.root / "uploads").rglob("*"))


def test_fine_tune_timm_from_the_hub_then_pull_timm_and_transformers_repos(tab, hub_server, repo_name, tmp_path):
    import timm
    import torch
    from gradio_client import handle_file
    from timm.models import push_to_hf_hub

    from hub import client as hubs
    from test_classification_foreign import _tiny_vit

    client, runner = tab
    torch.manual_seed(0)
    base = f"alice/{repo_name}-base"
    push_to_hf_hub(timm.create_model("resnet10t", num_classes=5), base, token=hub_server.tokens["alice"])
    hub = (URL_HUB, hub_server.url, hub_server.tokens["alice"])
    with refused("timm:<name>"):
        _start(client, "lenet", hub=hub, init_from=base, epochs=1)
    with refused("timm has no architecture"):
        _start(client, "timm:resnet9000", hub=hub, epochs=1)
    job = _start(client, "timm:resnet10t", hub=hub, init_from=f"hf-hub:{base}", image_size=16, epochs=1,
                 batch_size=32, schedule="constant")
    assert runner.wait(job, timeout=180).status == "completed", runner.log_tail(job)
    tuned = f"alice/{repo_name}-tuned"
    client.predict(job, tuned, False, *hub, api_name="/classification_push")
    assert timm.create_model(f"hf-hub:{tuned}", pretrained=True).num_classes == 10  # plain timm loads it

    vit_repo = f"alice/{repo_name}-vit"
    _tiny_vit(tmp_path / "vit")
    hubs.push_folder(tmp_path / "vit", vit_repo, hub_server.hub("alice"))
    for repo, labels in ((f"hf-hub:{tuned}", set("0123456789")), (vit_repo, {"cat", "dog", "fox"})):
        pulled = client.predict(repo, *hub, api_name="/classification_pull")
        pulled = pulled["value"] if isinstance(pulled, dict) else pulled
        label, seen, summary, top = client.predict(pulled, handle_file(EXAMPLES[3]), 3, api_name="/classification_predict")
        assert {c["label"] for c in label["confidences"]} <= labels and len(label["confidences"]) == 3
        assert len(_rows(summary)) > 5
        note, filters, maps, salient, occluded = client.predict(pulled, handle_file(EXAMPLES[3]), "",
                                                                api_name="/classification_inside")
        assert f"Explaining **{label['label']}**" in note and all((filters, maps, salient, occluded))


def test_the_registries_layout_strings_are_the_pages():
    """hub_models.catalog writes webui.i18n.L's marker itself (the registries import no gradio): the famous models'
    lines, translated in the browser, start with their repo ids in every language."""
    from common.i18n import strings
    from hub_models.catalog import HUB_MODELS, L as catalog_L, fine_tune_bases
    from webui.i18n import L

    assert catalog_L("catalog.from_scratch") == str(L("catalog.from_scratch"))
    for models in HUB_MODELS.values():
        for m in models:
            for locale in ("en", "zh-CN"):
                assert strings()[locale][m.key].startswith(f"{m.repo_id} · "), (locale, m.key)
    assert fine_tune_bases("classification")[0] == (str(L("catalog.from_scratch")), "")
    assert HUB_MODELS["classification"][0].summary == "ResNet-50, ImageNet-1k, timm (98 MB)"
