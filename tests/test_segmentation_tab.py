"""The semantic-segmentation tab through gradio_client: train, segment, opacity, transposed conv, push, pull,
bad input."""
from __future__ import annotations

import zipfile

import pytest
from conftest import refused, table_rows, wait_job

from webui.segmentation import EXAMPLES

LOCAL = ("Local hub (offline)", "", "")
URL_HUB = "Hub at a URL"


def _start(client, model, hub=LOCAL, **values) -> str:
    """Start a job by field name: one epoch at 64 px unless told; the other fields keep the form's defaults."""
    choice, url, token = hub
    values = {"upload": None, "epochs": 1, "image_size": 64, "lr": 3e-3, **values}  # a file field has no default
    out = client.predict(model=model, choice=choice, url=url, token=token, **values, api_name="/segmentation_train")
    return out["value"] if isinstance(out, dict) else out


@pytest.fixture(scope="module")
def trained(tab):
    """A U-Net trained for one epoch on the built-in shapes at 64 px (weak, but it runs)."""
    client, runner = tab
    job = _start(client, "unet")
    assert wait_job(runner, job).status == "completed", runner.log_tail(job)
    return job, str(runner.job_dir(job) / "out" / "model")


def test_train_segment_opacity_and_transposed_conv(tab, trained, hub_server, repo_name):
    from gradio_client import handle_file

    client, runner = tab
    job, folder = trained
    rows, progress, loss, metrics, picture, log = client.predict(job, api_name="/segmentation_watch")
    assert [r[2] for r in table_rows(rows) if r[0] == job] == ["completed"]
    assert {r[1] for r in table_rows(metrics)} == {"mIoU", "pixel_accuracy"} and picture is not None

    overlay, legend, shares = client.predict(folder, handle_file(EXAMPLES[0]), 0.6, api_name="/segmentation_segment")
    shares = table_rows(shares)
    assert overlay and shares and sum(r[1] for r in shares) == pytest.approx(100, abs=0.1)
    assert all(r[0] in legend for r in shares)
    again, _, same = client.predict(0.0, api_name="/segmentation_opacity")  # redrawn from the kept mask
    assert again and table_rows(same) == shares
    assert client.predict(api_name="/segmentation_transposed")

    repo = f"alice/{repo_name}"
    msg = client.predict(job, repo, False, URL_HUB, hub_server.url, hub_server.tokens["alice"],
                         api_name="/segmentation_push")
    assert f"Pushed to **{repo}**" in msg
    assert hub_server.api().model_info(repo).card_data.pipeline_tag == "image-segmentation"
    pulled = client.predict(repo, URL_HUB, hub_server.url, "", api_name="/segmentation_pull")
    pulled = pulled["value"] if isinstance(pulled, dict) else pulled
    overlay, _, _ = client.predict(pulled, handle_file(EXAMPLES[1]), 0.5, api_name="/segmentation_segment")
    assert overlay


def test_bad_input_gets_clear_messages(tab, trained, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    client, runner = tab
    _, folder = trained
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(AppError, match="damaged|not an image"):
        client.predict(folder, handle_file(str(tmp_path / "x.png")), 0.5, api_name="/segmentation_segment")
    with refused("Model: one of unet, .*not 'segnet-9000'"):
        _start(client, "segnet-9000")
    with zipfile.ZipFile(tmp_path / "flat.zip", "w") as z:  # images but no masks/ folder
        z.writestr("a.png", (tmp_path / "x.png").read_bytes())
    jobs_before = len(runner.jobs())
    with pytest.raises(AppError, match="no image and mask folders"):
        _start(client, "unet", source_kind="Upload a zip (images/ + masks/)",
               upload=handle_file(str(tmp_path / "flat.zip")))
    with pytest.raises(AppError, match="Upload a zip"):  # (a model besides the default reaches the handler)
        _start(client, "deeplabv3-mobilenet", source_kind="Upload a zip (images/ + masks/)")
    assert len(runner.jobs()) == jobs_before
