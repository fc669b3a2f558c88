"""The style-transfer tab through gradio_client: optimise with live updates, Gram matrices, train a fast style
network, apply it, push and pull, bad input."""
from __future__ import annotations

import pytest
from conftest import table_rows, wait_job

from spaces.style import CONTENT_EXAMPLES, STYLE_EXAMPLES

LOCAL = ("Local hub (offline)", "", "")
URL_HUB = "Hub at a URL"
RANDOM = "VGG-19, random weights (offline)"
LAYERS = (["conv4_2"], ["conv1_1", "conv2_1", "conv3_1"])


def test_optimise_and_gram_matrices(tab):
    from gradio_client import handle_file

    client, _ = tab
    c, s = handle_file(CONTENT_EXAMPLES[0]), handle_file(STYLE_EXAMPLES[0])
    job = client.submit(c, s, RANDOM, 20, 64, 0.05, 1.0, 4.0, 2.0, *LAYERS, *LOCAL, api_name="/style_optimise")
    updates = list(job)  # one output per yield: the picture changes while it optimises
    assert len(updates) >= 3
    image, curves, status = updates[-1]
    assert image and "Step 20 / 20" in status
    assert {r[1] for r in table_rows(curves)} == {"content", "style", "tv"}
    assert client.predict(s, RANDOM, ["conv1_1", "conv2_1"], 64, *LOCAL, api_name="/style_grams")


def test_train_apply_push_pull(tab, hub_server, repo_name):
    from gradio_client import handle_file

    client, runner = tab
    out = client.predict("style-net", "", "Built-in photos (scikit-image, scikit-learn)", None, "", 1, 4, 64, 2e-3,
                         True, 0, "stain", None, "vgg19-random", 1.0, 4.0, 2.0, *LOCAL, api_name="/style_train")
    job = out["value"] if isinstance(out, dict) else out
    assert wait_job(runner, job).status == "completed", runner.log_tail(job)
    rows, _, _, metrics, picture, _ = client.predict(job, api_name="/style_watch")
    assert {"style_loss", "content_loss"} <= {r[1] for r in table_rows(metrics)} and picture is not None
    folder = str(runner.job_dir(job) / "out" / "model")
    image, took = client.predict(folder, handle_file(CONTENT_EXAMPLES[1]), 256, api_name="/style_apply")
    assert image and "Style *stain*: 256x256" in took
    repo = f"alice/{repo_name}"
    msg = client.predict(job, repo, False, URL_HUB, hub_server.url, hub_server.tokens["alice"], api_name="/style_push")
    assert f"Pushed to **{repo}**" in msg
    assert hub_server.api().model_info(repo).card_data.pipeline_tag == "image-to-image"
    pulled = client.predict(repo, URL_HUB, hub_server.url, "", api_name="/style_pull")
    pulled = pulled["value"] if isinstance(pulled, dict) else pulled
    image, _ = client.predict(pulled, handle_file(CONTENT_EXAMPLES[2]), 128, api_name="/style_apply")
    assert image


def test_bad_input_gets_clear_messages(tab, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError
    from PIL import Image

    client, _ = tab
    c = handle_file(CONTENT_EXAMPLES[0])
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(AppError, match="damaged|not an image"):
        client.predict(c, handle_file(str(tmp_path / "x.png")), RANDOM, 10, 64, 0.05, 1, 4, 2, *LAYERS, *LOCAL,
                       api_name="/style_optimise")
    Image.new("RGB", (900, 40)).save(tmp_path / "strip.png")
    with pytest.raises(AppError, match="differ more than 8 times"):
        client.predict(c, handle_file(str(tmp_path / "strip.png")), RANDOM, 10, 64, 0.05, 1, 4, 2, *LAYERS, *LOCAL,
                       api_name="/style_optimise")
    with pytest.raises(AppError, match="content image and a style image"):
        client.predict(c, None, RANDOM, 10, 64, 0.05, 1, 4, 2, *LAYERS, *LOCAL, api_name="/style_optimise")
    with pytest.raises(AppError, match="could not be pulled"):  # the local hub has no ImageNet VGG-19
        client.predict(c, c, "VGG-19, ImageNet weights from the hub (timm/vgg19.tv_in1k)", 10, 64, 0.05, 1, 4, 2,
                       *LAYERS, *LOCAL, api_name="/style_optimise")
    with pytest.raises(AppError, match="Pick a model"):
        client.predict(None, c, 256, api_name="/style_apply")
