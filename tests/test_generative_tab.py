"""The generative tab through gradio_client: the toy GAN streams, a model trains as a job with both losses
and per-epoch sample grids, samples (per class, diffusion steps), the VAE's latent space, push and pull,
bad input."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import refused, table_rows, wait_job

from hub_models.gen_catalog import ALL_CLASSES
from webui.generative import DIGITS

URL_HUB = "Hub at a URL"
# Small and quick: 8 px, narrow networks, a 2-layer PixelCNN, a 50-step DDPM; the other fields keep the form's
# defaults (the config's: built-in digits, the family's learning rate...).
SMALL = {"image_size": 8, "width": 8, "layers": 2, "timesteps": 50}


def start(client, model: str, **values) -> str:
    """Start a job by field name on the local hub; returns its id."""
    values = {"upload": None, "choice": "Local hub (offline)", "url": "", "token": "", **SMALL, **values}
    out = client.predict(model=model, **values, api_name="/generative_train")
    return out["value"] if isinstance(out, dict) else out


def train(client, runner, model: str, epochs: int = 1) -> str:
    job = start(client, model, epochs=epochs)
    assert wait_job(runner, job).status == "completed", runner.log_tail(job)
    return job


def sample(client, folder: str, count: int = 4, **values):
    """The Sample button's streamed updates (grid, clean grid, status); the app's error, if it refuses."""
    job = client.submit(model=folder, count=count, **values, api_name="/generative_sample")
    job.result()
    return job.outputs()


def test_toy_gan_streams(tab):
    client, _ = tab
    job = client.submit(target="1-D Gaussian", mean=3.0, std=0.5, steps=200, d_steps=1, loss="non-saturating",
                        label_smoothing=0.9, lr=1e-3, seed=0, api_name="/generative_toy")
    updates = list(job)
    assert len(updates) >= 3  # the picture and curves change while it trains
    picture, losses, probs, status = updates[-1]
    assert picture and "Step 200 / 200" in status and "KL(real" in status
    assert {r[1] for r in table_rows(losses)} == {"discriminator", "generator"}
    assert {r[1] for r in table_rows(probs)} == {"real samples", "generated"}


def test_cgan_trains_samples_push_pull(tab, hub_server, repo_name):
    client, runner = tab
    job = train(client, runner, "cgan", epochs=2)
    rows, _, losses, metrics, fid, gallery, _ = client.predict(job, api_name="/generative_watch")
    assert {r[1] for r in table_rows(losses)} == {"discriminator", "generator"}
    assert {r[1] for r in table_rows(metrics)} == {"class_accuracy", "d_real", "d_fake"}  # 0-1 rates, one plot
    assert [r[0] for r in table_rows(fid)] == [1, 2] and all(r[1] > 0 for r in table_rows(fid))  # FID apart
    assert len(gallery) == 2 and gallery[0]["caption"] == "epoch 2"  # newest first
    folder = str(runner.job_dir(job) / "out" / "model")
    grid, clean, took = sample(client, folder, 30, class_name=ALL_CLASSES)[-1]
    assert grid and clean is None and "10 classes x 3 · one row per class" in took
    grid, _, took = sample(client, folder, 8, class_name="7")[-1]
    assert grid and "8 samples" in took
    repo = f"alice/{repo_name}"
    msg = client.predict(job, repo, False, URL_HUB, hub_server.url, hub_server.tokens["alice"],
                         api_name="/generative_push")
    assert f"Pushed to **{repo}**" in msg
    assert hub_server.api().model_info(repo).card_data.pipeline_tag == "unconditional-image-generation"
    pulled = client.predict(repo, URL_HUB, hub_server.url, "", api_name="/generative_pull")
    pulled = pulled["value"] if isinstance(pulled, dict) else pulled
    assert sample(client, pulled, 4, seed=1)[-1][0]


def test_vae_latent_space_and_ddpm_steps(tab):
    from gradio_client import handle_file

    client, runner = tab
    vae = str(runner.job_dir(train(client, runner, "vae-mlp")) / "out" / "model")
    assert client.predict(vae, api_name="/generative_latent_map")
    assert client.predict(vae, 1, 2, 8, api_name="/generative_walk")
    assert client.predict(vae, [handle_file(p) for p in DIGITS[:3]], api_name="/generative_reconstruct")
    job = train(client, runner, "ddpm")
    _, _, _, metrics, fid, _, _ = client.predict(job, api_name="/generative_watch")
    assert not table_rows(metrics) and len(table_rows(fid)) == 1  # a DDPM logs a loss and the FID: FID only
    ddpm = str(runner.job_dir(job) / "out" / "model")
    updates = sample(client, ddpm, 4, sampler="DDIM", steps=20)
    assert len(updates) >= 3 and "DDIM step 20 / 20" in updates[-1][2]  # x_t shown as it is denoised
    assert updates[-1][0] and updates[-1][1]


def test_pixelcnn_trains_and_draws_row_by_row(tab, hub_server, repo_name, tmp_path):
    from gradio_client.exceptions import AppError

    from hub import client as hubs
    from hub_models.generative import PixelCNN

    client, runner = tab
    job = train(client, runner, "pixelcnn")
    rows, _, losses, metrics, fid, gallery, _ = client.predict(job, api_name="/generative_watch")
    assert {r[1] for r in table_rows(metrics)} == {"bits_per_pixel"}  # the exact likelihood, every epoch
    assert len(table_rows(fid)) == 1 and len(gallery) == 1  # FID once the run completes
    folder = str(runner.job_dir(job) / "out" / "model")
    assert json.loads((Path(folder) / "config.json").read_text())["layers"] == 2  # the form's value
    updates = sample(client, folder, 4)
    assert [u[2].split(" · ")[0] for u in updates] == [f"PixelCNN row {i} / 8" for i in range(1, 9)]
    # A pulled 32 px PixelCNN: the sample count is bounded by the pixels to draw one at a time.
    PixelCNN(image_size=32, width=8, layers=2).save_pretrained(tmp_path / "p")
    hubs.push_folder(tmp_path / "p", f"alice/{repo_name}", hub_server.hub("alice"))
    pulled = client.predict(f"alice/{repo_name}", URL_HUB, hub_server.url, "", api_name="/generative_pull")
    pulled = pulled["value"] if isinstance(pulled, dict) else pulled
    with pytest.raises(AppError, match="at 32 px, at most 64 samples"):
        sample(client, pulled, 100)
    with refused("train it at 32 px or less"):
        start(client, "pixelcnn", image_size=64)


def test_bad_input_gets_clear_messages(tab, hub_server, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    client, runner = tab
    with refused("Image size: one of 8, 16, 32, 64"):
        start(client, "dcgan", image_size=12)
    with pytest.raises(AppError, match="Pick a model"):
        sample(client, None)
    with pytest.raises(AppError, match="greater than maximum value 5"):  # the std field says so before the handler
        client.predict(target="1-D Gaussian", std=50, steps=100, loss="minimax", api_name="/generative_toy")
    done = [j for j in runner.jobs() if j.task == "generative" and j.status == "completed"]
    if done:
        folder = str(runner.job_dir(done[0].id) / "out" / "model")
        with pytest.raises(AppError, match="greater than maximum value 256"):
            sample(client, folder, 10_000)
        (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
        with pytest.raises(AppError, match="Pick a VAE|damaged|not an image"):
            client.predict(folder, [handle_file(str(tmp_path / "x.png"))], api_name="/generative_reconstruct")
    with pytest.raises(AppError, match="does not hold a generative model|not found|404"):
        hub_server.api().create_repo("alice/not-generative", exist_ok=True)
        hub_server.api().upload_file(path_or_fileobj=b'{"width": 8}', path_in_repo="config.json",
                                     repo_id="alice/not-generative")
        client.predict("alice/not-generative", URL_HUB, hub_server.url, "", api_name="/generative_pull")
