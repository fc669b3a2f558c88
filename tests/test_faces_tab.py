"""The face-verification tab through gradio_client: train, verify, threshold, gallery (enrol, clash, identify,
remove), push and pull, bad input."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from conftest import refused, table_rows, wait_job

from webui.faces import EX

LOCAL = {"choice": "Local hub (offline)", "url": "", "token": ""}
BUILTIN = "Built-in drawn people (80 + 20 unseen)"
URL_HUB = "Hub at a URL"
AUTO = "As the model was trained"


def _start(client, model, source_kind=BUILTIN, upload=None, **values):
    """Start a job by field name; the fields left out keep the form's defaults (the config's)."""
    values = {"epochs": 1, "embedding_dim": 32, **values}
    out = client.predict(model=model, source_kind=source_kind, upload=upload, **values, **LOCAL,
                         api_name="/faces_train")
    return out["value"] if isinstance(out, dict) else out


def _verify(client, folder, a, b, faces=AUTO, threshold=1.0):
    return client.predict(folder=folder, photo_a=a, photo_b=b, faces=faces, threshold=threshold,
                          api_name="/faces_verify")


def _enrol(client, folder, photo, name, replace=False):
    return client.predict(folder=folder, photo=photo, name=name, replace=replace, faces=AUTO,
                          api_name="/faces_enrol")


@pytest.fixture(scope="module")
def trained(tab):
    """A small CNN trained for two epochs on the built-in people (good enough to tell most apart)."""
    client, runner = tab
    job = _start(client, "small-cnn", epochs=2)
    assert wait_job(runner, job).status == "completed", runner.log_tail(job)
    return job, str(runner.job_dir(job) / "out" / "model")


def test_train_verify_and_threshold(tab, trained, hub_server, repo_name):
    from gradio_client import handle_file

    client, runner = tab
    job, folder = trained
    rows, progress, loss, metrics, picture, log = client.predict(job, api_name="/faces_watch")
    assert [r[2] for r in table_rows(rows) if r[0] == job] == ["completed"] and picture is not None
    assert {"AUC", "accuracy", "threshold"} <= {r[1] for r in table_rows(metrics)}

    a1, a2, b1 = (handle_file(str(EX / f"face-visitor-{n}.png")) for n in ("a1", "a2", "b1"))
    threshold = client.predict(folder, api_name="/faces_model_threshold")  # the slider follows the model
    saved = json.loads((Path(folder) / "config.json").read_text())["threshold"]
    assert 0 < threshold < 2 and threshold == pytest.approx(saved, abs=5e-4)  # (shown to 3 places)
    text, pic = _verify(client, folder, a1, a2, threshold=threshold)
    assert pic and "distance" in text and f"threshold {threshold:.3f}" in text
    same = float(text.split("distance ")[1].split()[0])
    text_b, _ = _verify(client, folder, a1, b1, threshold=threshold)
    other = float(text_b.split("distance ")[1].split()[0])
    # The verdict follows the threshold (how well a 2-epoch model tells these apart is test_faces' to judge: on
    # some machines its a1-a2 distance came out above a1-b1's).
    assert ("Same person" in text) == (same <= threshold) and ("Same person" in text_b) == (other <= threshold)
    # The slider re-decides the last pair without the network: a threshold below the distance says "different".
    assert "Different people" in client.predict(other / 2, api_name="/faces_threshold")
    assert "Same person" in client.predict(other + 0.01, api_name="/faces_threshold")
    # A photograph through the Haar cascade: found, aligned, compared.
    text, pic = _verify(client, folder, handle_file(str(EX / "face-astronaut.jpg")),
                        handle_file(str(EX / "face-astronaut-mirrored.jpg")), "Find the face (Haar cascade)")
    assert pic and "distance" in text

    repo = f"alice/{repo_name}"
    msg = client.predict(job, repo, False, URL_HUB, hub_server.url, hub_server.tokens["alice"],
                         api_name="/faces_push")
    assert f"Pushed to **{repo}**" in msg
    info = hub_server.api().model_info(repo)
    assert info.card_data.pipeline_tag == "image-feature-extraction" and "face-verification" in info.tags
    pulled = client.predict(repo, URL_HUB, hub_server.url, "", api_name="/faces_pull")
    pulled = pulled["value"] if isinstance(pulled, dict) else pulled
    assert client.predict(pulled, api_name="/faces_model_threshold") == pytest.approx(threshold)
    text, _ = _verify(client, pulled, a1, a2, threshold=threshold)
    assert text.split("distance ")[1].split()[0] == f"{same:.3f}"


def test_gallery_enrol_identify_remove(tab, trained):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    client, runner = tab
    _, folder = trained
    photo = {n: handle_file(str(EX / f"face-visitor-{n}.png")) for n in ("a1", "a2", "b1", "c1")}
    for key, name in (("a1", "Visitor A"), ("b1", "Visitor B"), ("c1", "Visitor C")):
        gallery, names, cleared = _enrol(client, folder, photo[key], name)
    assert len(gallery) == 3 and cleared == ""
    with pytest.raises(AppError, match="already enrolled"):
        _enrol(client, folder, photo["a2"], "visitor a")
    answer, ranking = client.predict(folder, photo["a2"], 2.0, AUTO, api_name="/faces_identify")
    ranked = table_rows(ranking)
    assert sorted(r[0] for r in ranked) == ["Visitor A", "Visitor B", "Visitor C"]
    assert [r[1] for r in ranked] == sorted(r[1] for r in ranked) and f"**{ranked[0][0]}**" in answer
    answer, ranking = client.predict(folder, photo["a1"], 2.0, AUTO, api_name="/faces_identify")
    assert table_rows(ranking)[0][0] == "Visitor A" and table_rows(ranking)[0][1] < 0.05  # the enrolled photo
    answer, _ = client.predict(folder, photo["a2"], 0.0, AUTO, api_name="/faces_identify")
    assert "Unknown" in answer
    gallery, _ = client.predict("Visitor B", api_name="/faces_remove")
    assert len(gallery) == 2
    # The gallery is on disk: what a reload (or a restart) reads back.
    gallery, _ = client.predict(api_name="/faces_gallery")
    assert sorted(g["caption"].split(" · ")[0] for g in gallery) == ["Visitor A", "Visitor C"]


def test_bad_input_gets_clear_messages(tab, trained, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError
    from PIL import Image

    client, runner = tab
    _, folder = trained
    a1 = handle_file(str(EX / "face-visitor-a1.png"))
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(AppError, match="damaged|not an image"):
        _verify(client, folder, a1, handle_file(str(tmp_path / "x.png")))
    Image.new("RGB", (300, 300), (90, 140, 200)).save(tmp_path / "sky.png")
    with pytest.raises(AppError, match="Image B: No face found"):
        _verify(client, folder, handle_file(str(EX / "face-astronaut.jpg")), handle_file(str(tmp_path / "sky.png")),
                "Find the face (Haar cascade)")
    Image.new("RGB", (16, 16)).save(tmp_path / "tiny.png")
    with pytest.raises(AppError, match="at least 32x32"):
        _verify(client, folder, handle_file(str(tmp_path / "tiny.png")), a1)
    with pytest.raises(AppError, match="two photos"):
        _verify(client, folder, a1, None)
    with pytest.raises(AppError, match="Pick a model"):
        _verify(client, None, a1, a1)
    with pytest.raises(AppError, match="Give the person a name"):
        _enrol(client, folder, a1, "  ")
    jobs_before = len(runner.jobs())
    # Bad config values: refused before any job exists (the cheap checks next to their field).
    with refused("unknown embedding network 'facenet-9000'"):
        _start(client, "facenet-9000")
    with refused("timm has no architecture 'resnet-9000'"):  # a deep check: the handler's, once queued
        _start(client, "timm:resnet-9000")
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as z:  # two people: too few to validate on unseen ones
        for person in ("ada", "bob"):
            z.writestr(f"{person}/1.png", (tmp_path / "sky.png").read_bytes())
    with pytest.raises(AppError, match="at least 4"):
        _start(client, "small-cnn", source_kind="Upload a zip (one folder per person)",
               upload=handle_file(str(tmp_path / "two.zip")))
    assert len(runner.jobs()) == jobs_before
    assert _verify(client, folder, a1, a1)  # still serving
