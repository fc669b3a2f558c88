"""The object-detection tab through gradio_client: train, detect, re-filter, anchors, push, pull, bad input."""
from __future__ import annotations

import json
import zipfile

import pytest
from conftest import refused, table_rows, wait_job

from webui.detection import EXAMPLES

LOCAL = ("Local hub (offline)", "", "")
URL_HUB = "Hub at a URL"


def _start(client, model, hub=LOCAL, **values) -> str:
    """Start a job by field name: one epoch unless told; the other fields keep the form's defaults (the config's)."""
    choice, url, token = hub
    values = {"upload": None, "epochs": 1, **values}  # a file field has no default
    out = client.predict(model=model, choice=choice, url=url, token=token, **values, api_name="/detection_train")
    return out["value"] if isinstance(out, dict) else out


@pytest.fixture(scope="module")
def trained(tab):
    """A TinySSD trained for one epoch on the built-in shapes at 64 px (weak, but it runs: test_detection checks
    what it learns)."""
    client, runner = tab
    job = _start(client, "tinyssd", image_size=64)
    assert wait_job(runner, job).status == "completed", runner.log_tail(job)
    return job, str(runner.job_dir(job) / "out" / "model")


def test_train_watch_detect_refilter_and_anchors(tab, trained):
    from gradio_client import handle_file

    client, runner = tab
    job, folder = trained
    rows, progress, loss, metrics, picture, log = client.predict(job, api_name="/detection_watch")
    assert [r[2] for r in table_rows(rows) if r[0] == job] == ["completed"]
    assert {r[1] for r in table_rows(metrics)} == {"mAP@0.5", "map"} and picture is not None
    assert "completed" in log

    image = handle_file(EXAMPLES[0])
    drawn, table, steps, = client.predict(folder, image, 0.01, 1.0, api_name="/detection_detect")
    loose = len(table_rows(table))
    assert drawn and loose > 10  # score 0.01, no NMS: every candidate box
    assert table_rows(steps) and all(r[2] == 0 for r in table_rows(steps))  # IoU 1: nothing suppressed
    # The sliders re-filter the same candidates (the handler takes the session's state, no network run).
    _, table, steps = client.predict(0.01, 1.0, api_name="/detection_filter")
    assert len(table_rows(table)) == loose
    _, strict, steps = client.predict(0.01, 0.3, api_name="/detection_filter")
    assert len(table_rows(strict)) < loose and any(r[2] > 0 for r in table_rows(steps))  # NMS at work
    _, strict, _ = client.predict(0.99, 1.0, api_name="/detection_filter")
    assert len(table_rows(strict)) < loose
    anchors = client.predict(folder=folder, scale=1, score=0.5, iou=0.5, image=image, api_name="/detection_anchors")
    assert anchors


def test_push_pull_and_detect_with_the_pulled_model(tab, trained, hub_server, repo_name):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    client, runner = tab
    job, _ = trained
    repo = f"alice/{repo_name}"
    msg = client.predict(job, repo, False, URL_HUB, hub_server.url, hub_server.tokens["alice"],
                         api_name="/detection_push")
    assert f"Pushed to **{repo}**" in msg
    card = hub_server.api().model_info(repo).card_data
    assert card.pipeline_tag == "object-detection"
    pulled = client.predict(repo, URL_HUB, hub_server.url, "", api_name="/detection_pull")
    pulled = pulled["value"] if isinstance(pulled, dict) else pulled
    drawn, _, _ = client.predict(pulled, handle_file(EXAMPLES[1]), 0.3, 0.5, api_name="/detection_detect")
    assert drawn
    with pytest.raises(AppError, match="not found"):
        client.predict("alice/no-such-detector", URL_HUB, hub_server.url, "", api_name="/detection_pull")


def test_bad_input_gets_clear_messages(tab, trained, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    client, runner = tab
    _, folder = trained
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(AppError, match="not an image"):
        client.predict(folder, handle_file(str(tmp_path / "notes.png")), 0.5, 0.5, api_name="/detection_detect")
    with pytest.raises(AppError, match="Upload an image"):
        client.predict(folder, None, 0.5, 0.5, api_name="/detection_detect")
    with pytest.raises(AppError, match="Pick a model"):
        client.predict(None, handle_file(EXAMPLES[0]), 0.5, 0.5, api_name="/detection_detect")
    with refused("TinySSD needs a multiple of 64, not 100"):
        _start(client, "tinyssd", image_size=100)
    with refused("Model: one of tinyssd, .*not 'yolo-v99'"):
        _start(client, "yolo-v99")
    # A zip whose JSON lists images that are not in it: refused before any job starts.
    with zipfile.ZipFile(tmp_path / "coco.zip", "w") as z:
        z.writestr("instances.json", json.dumps({"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [],
                                                 "categories": [{"id": 1, "name": "cat"}]}))
    jobs_before = len(runner.jobs())
    with pytest.raises(AppError, match="none of the 1 images"):
        _start(client, "tinyssd", source_kind="Upload a zip (COCO or YOLO)",
               upload=handle_file(str(tmp_path / "coco.zip")))
    with pytest.raises(AppError, match="not a valid repo id"):  # (a model besides the default reaches the handler)
        _start(client, "fcos-resnet18", source_kind="Dataset repo on the hub", data_repo="../etc")
    assert len(runner.jobs()) == jobs_before
