"""The style-transfer tab through gradio_client: optimise with live updates, Gram matrices, train a fast style
network, apply it, push and pull, bad input."""
from __future__ import annotations

import pytest
from conftest import table_rows, wait_job

from webui.style import CONTENT_EXAMPLES, STYLE_EXAMPLES

LOCAL = {"choice": "Local hub (offline)", "url": "", "token": ""}
URL_HUB = "Hub at a URL"
RANDOM = "VGG-19, random weights (offline)"
LAYERS = {"content_layers": ["conv4_2"], "style_layers": ["conv1_1", "conv2_1", "conv3_1"]}


def _optimise(content, style, extractor=RANDOM, **values) -> dict:
    """The Gatys inputs by name: a short, small run unless ``values`` say otherwise."""
    return {"content": content, "style": style, "extractor": extractor, "steps": 10, "size": 64, "lr": 0.05,
            "content_weight": 1.0, "style_weight": 4.0, "tv_weight": 2.0, **LAYERS, **LOCAL, **values}


def _start(client, **values) -> str:
    """Start a job by field name; the fields left out keep the form's defaults (the config's)."""
    values = {"source_kind": "Built-in photos (scikit-image, scikit-learn)", "upload": None, "style_file": None,
              **LOCAL, **values}
    out = client.predict(**values, api_name="/style_train")
    return out["value"] if isinstance(out, dict) else out


def test_optimise_and_gram_matrices(tab):
    from gradio_client import handle_file

    client, _ = tab
    c, s = handle_file(CONTENT_EXAMPLES[0]), handle_file(STYLE_EXAMPLES[0])
    job = client.submit(**_optimise(c, s, steps=20), api_name="/style_optimise")
    updates = list(job)  # one output per yield: the picture changes while it optimises
    assert len(updates) >= 3
    image, curves, status = updates[-1]
    assert image and "Step 20 / 20" in status
    assert {r[1] for r in table_rows(curves)} == {"content", "style", "tv"}
    assert client.predict(style=s, extractor=RANDOM, style_layers=["conv1_1", "conv2_1"], size=64, **LOCAL,
                          api_name="/style_grams")


def test_train_apply_push_pull(tab, hub_server, repo_name):
    from gradio_client import handle_file

    client, runner = tab
    job = _start(client, model="style-net", epochs=1, image_size=64, style="stain", style_weight=4.0)
    assert wait_job(runner, job).status == "completed", runner.log_tail(job)
    rows, _, _, metrics, picture, _ = client.predict(job, api_name="/style_watch")
    assert {"style loss", "content_loss"} <= {r[1] for r in table_rows(metrics)} and picture is not None
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
    import httpx
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError
    from PIL import Image

    client, runner = tab
    c = handle_file(CONTENT_EXAMPLES[0])
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(AppError, match="damaged|not an image"):
        client.predict(**_optimise(c, handle_file(str(tmp_path / "x.png"))), api_name="/style_optimise")
    Image.new("RGB", (900, 40)).save(tmp_path / "strip.png")
    with pytest.raises(AppError, match="differ more than 8 times"):
        client.predict(**_optimise(c, handle_file(str(tmp_path / "strip.png"))), api_name="/style_optimise")
    with pytest.raises(AppError, match="content image and a style image"):
        client.predict(**_optimise(c, None), api_name="/style_optimise")
    with pytest.raises(AppError, match="could not be pulled"):  # the local hub has no ImageNet VGG-19
        client.predict(**_optimise(c, c, "VGG-19, ImageNet weights from the hub (timm/vgg19.tv_in1k)"),
                       api_name="/style_optimise")
    with pytest.raises(AppError, match="at least one"):
        client.predict(**_optimise(c, c, content_layers=[], style_layers=[]), api_name="/style_optimise")
    with pytest.raises(AppError, match="Give a style image"):
        client.predict(style=None, extractor=RANDOM, style_layers=["conv1_1"], size=64, **LOCAL,
                       api_name="/style_grams")
    with pytest.raises(AppError, match="Pick a model"):
        client.predict(None, c, 256, api_name="/style_apply")
    # The train form offers only the built-in styles (a typed name could be a path on the server).
    jobs_before = len(runner.jobs())
    with pytest.raises(httpx.HTTPStatusError) as refusal:  # Gradio's own check of a dropdown: a 400 before any handler
        _start(client, style="mona-lisa")
    assert "mona-lisa is not in the list of choices" in refusal.value.response.text
    assert len(runner.jobs()) == jobs_before
