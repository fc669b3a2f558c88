"""Generative models: the Gaussian KL and the VAE loss against hand values and Monte Carlo, the toy GAN,
FID, the engine's multi-update steps, save -> push -> pull -> load round trips (the DDPM through plain
diffusers), trainer dry runs and bad options."""
from __future__ import annotations

import math
import zipfile

import pytest
import torch

from conftest import assert_refused
from hub_models import generative as gen
from hub_models.catalog import GENERATIVE_MODELS


def test_gaussian_kl_closed_form_matches_monte_carlo():
    g = torch.Generator().manual_seed(0)
    for mu1, s1, mu2, s2 in [(1.0, 2.0, 0.0, 1.0), (-0.5, 0.3, 0.4, 1.7), (3.0, 0.5, 3.0, 0.5)]:
        x = mu1 + s1 * torch.randn(400_000, generator=g, dtype=torch.float64)
        log_p = -0.5 * ((x - mu1) / s1) ** 2 - math.log(s1)
        log_q = -0.5 * ((x - mu2) / s2) ** 2 - math.log(s2)
        assert gen.gaussian_kl(mu1, s1, mu2, s2).item() == pytest.approx((log_p - log_q).mean().item(), abs=0.01)
    # the seed's special case: KL(N(mu, s^2) || N(0, 1)) = -log s + (s^2 + mu^2) / 2 - 1/2
    assert gen.gaussian_kl(1.0, 2.0).item() == pytest.approx(-math.log(2) + 2.5 - 0.5)
    mu, logvar = torch.tensor([[1.0, -0.5]]), torch.tensor([[math.log(4.0), 0.0]])
    expected = gen.gaussian_kl(1.0, 2.0) + gen.gaussian_kl(-0.5, 1.0)
    assert gen.kl_to_unit(mu, logvar).item() == pytest.approx(expected.item())


def test_vae_loss_against_hand_computed_values():
    logits = torch.zeros(1, 1, 1, 2)  # p = 0.5 per pixel: each costs log 2 whatever the pixel
    x = torch.tensor([[[[1.0, 0.0]]]])
    mu, logvar = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, math.log(4.0)]])
    # KL = -1/2 [(1 + 0 - 1 - 1) + (1 + log 4 - 0 - 4)] = 2 - log 2
    loss, recon, kl = gen.vae_loss(logits, x, mu, logvar, beta=2.0)
    assert recon.item() == pytest.approx(2 * math.log(2))
    assert kl.item() == pytest.approx(2 - math.log(2))
    assert loss.item() == pytest.approx(4.0)  # 2 log 2 + 2 (2 - log 2)
    _, recon_mse, _ = gen.vae_loss(torch.zeros(1, 1, 1, 2), x, mu, logvar, recon="mse")
    assert recon_mse.item() == pytest.approx(0.5)  # (0.5 - 1)^2 + (0.5 - 0)^2


def test_toy_gan_moves_the_generated_mean_to_the_real_one():
    from hub_models.toy_gan import ToyConfig, train_toy_gan

    reports = list(train_toy_gan(ToyConfig(mean=3.0, std=0.5, steps=600, every=300)))
    first, last = reports[0], reports[-1]
    assert abs(first["mean"][0] - 3.0) > 2  # it starts near 0
    assert abs(last["mean"][0] - 3.0) < 0.5 and last["kl"] < first["kl"]
    assert last["picture"].size == (640, 380)
    ring = list(train_toy_gan(ToyConfig(target="2-D ring of 8 Gaussians", steps=50, every=50)))
    assert math.isnan(ring[-1]["kl"]) and ring[-1]["picture"].width == 420


def test_frechet_distance_matches_scipy_and_is_zero_for_equal_sets():
    import numpy as np
    from scipy import linalg

    from training.gen_score import frechet_distance, stats

    g = torch.Generator().manual_seed(0)
    a = torch.randn(500, 6, generator=g, dtype=torch.float64)
    b = torch.randn(500, 6, generator=g, dtype=torch.float64) @ torch.randn(6, 6, generator=g, dtype=torch.float64) + 1
    (m1, s1), (m2, s2) = stats(a), stats(b)
    root = linalg.sqrtm(s1.numpy() @ s2.numpy()).real
    expected = float(((m1 - m2) ** 2).sum() + np.trace(s1.numpy() + s2.numpy() - 2 * root))
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(m1, s1, m1, s1) == pytest.approx(0, abs=1e-6)


def test_update_with_params_changes_only_those():
    """The engine's update(loss, params): the other parameters keep their values (a GAN's two players)."""
    from torch import nn
    from torch.utils.data import TensorDataset

    from training.engine import TaskSpec, fit
    from training.config import TrainConfig

    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    before = [p.detach().clone() for p in model.parameters()]

    def step(m, batch, update):
        loss = m(batch[0]).pow(2).mean()
        update(loss, list(m[1].parameters()))
        return {"a": loss.detach(), "b": loss.detach() * 2}

    spec = TaskSpec(model=model, train_data=TensorDataset(torch.randn(8, 2), torch.zeros(8)),
                    val_data=TensorDataset(torch.randn(4, 2), torch.zeros(4)), loss=None, train_step=step,
                    evaluate=lambda m, loader, acc: {}, save=lambda m, folder, metrics: None)
    import tempfile

    with tempfile.TemporaryDirectory() as out:
        events = list(fit(TrainConfig(output_dir=out, epochs=1, batch_size=4, optimizer="adam", lr=0.1), spec))
    after = list(model.parameters())
    assert torch.equal(before[0], after[0]) and torch.equal(before[1], after[1])  # the first layer did not move
    assert not torch.equal(before[2], after[2])
    steps = [e for e in events if e["type"] == "step"]
    assert steps and set(steps[-1]["parts"]) == {"a", "b"} and steps[-1]["loss"] == steps[-1]["parts"]["a"]


def _tiny(name: str):
    fam, kwargs = GENERATIVE_MODELS[name].family, GENERATIVE_MODELS[name].defaults
    if fam == "gan":
        k = 3 if kwargs.get("conditional") else 0
        return gen.DCGAN(image_size=8, latent_dim=4, width=8, num_classes=k, labels=["a", "b", "c"][:k] or None)
    if fam == "vae":
        return gen.VAE(image_size=8, latent_dim=2, kind=kwargs["kind"], width=8)
    if fam == "autoregressive":
        return gen.PixelCNN(image_size=8, levels=4, width=8, layers=2)
    return gen.DDPM.new(image_size=8, channels=1, width=8, timesteps=20)


@pytest.mark.parametrize("name", list(GENERATIVE_MODELS))
def test_save_push_pull_load_round_trip(name, hub_server, repo_name, tmp_path):
    from hub import client as hubs

    torch.manual_seed(0)
    model = _tiny(name).eval()
    model.save_pretrained(tmp_path / "m")
    repo = f"alice/{repo_name}"
    hubs.push_folder(tmp_path / "m", repo, hub_server.hub("alice"))
    loaded = gen.load_generative(hubs.pull(repo, hub_server.hub("alice")))
    assert type(loaded) is type(model)
    a = gen.generate(model, 4, seed=3, steps=5)
    b = gen.generate(loaded, 4, seed=3, steps=5)
    assert a.shape == (4, 1, 8, 8) and torch.equal(a, b)
    if name == "ddpm":  # plain diffusers loads the pushed pipeline and makes the same images
        from diffusers import DDIMScheduler, DDPMPipeline

        pipe = DDPMPipeline.from_pretrained(repo)
        pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
        images = pipe(batch_size=2, num_inference_steps=5, generator=torch.Generator().manual_seed(0),
                      output_type="np").images
        assert images.shape == (2, 8, 8, 1)


def test_wrong_kind_of_repo_is_refused(tmp_path):
    from hub_models.inference import InputError
    from hub_models.style import StyleNet

    StyleNet(width=8, residual_blocks=1).save_pretrained(tmp_path / "style")
    with pytest.raises(InputError, match="does not hold a generative model"):
        gen.load_generative(tmp_path / "style")
    (tmp_path / "sd").mkdir()
    (tmp_path / "sd" / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    with pytest.raises(InputError, match="not a DDPM"):
        gen.load_generative(tmp_path / "sd")


def test_sampling_helpers():
    from hub_models.inference import InputError

    torch.manual_seed(0)
    cgan = _tiny("cgan").eval()
    rows = gen.class_rows(cgan, 4, seed=1)
    assert rows.shape == (12, 1, 8, 8) and 0 <= rows.min() and rows.max() <= 1
    assert torch.equal(gen.sample(cgan, 6, seed=2), gen.sample(cgan, 6, seed=2))  # a seed gives the same grid
    with pytest.raises(InputError, match="not one of them"):
        gen.class_index(cgan, "z")
    vae = _tiny("vae-mlp").eval()
    assert gen.latent_map(vae, side=5).shape == (25, 1, 8, 8)
    walk = gen.latent_walk(vae, gen.prior_point(vae, 1), gen.prior_point(vae, 2), steps=6)
    torch.testing.assert_close(walk[0], vae.decode(gen.prior_point(vae, 1)[None])[0])
    with pytest.raises(InputError, match="needs a 2-D latent"):
        gen.latent_map(gen.VAE(image_size=8, latent_dim=3))
    steps = list(gen.diffusion_steps(_tiny("ddpm").eval(), 2, steps=6, every=3))
    assert [s for s, _, _ in steps] == [3, 6]
    with pytest.raises(InputError, match="Steps must be between 1 and 20"):
        list(gen.diffusion_steps(_tiny("ddpm"), 2, steps=50))


@pytest.mark.parametrize("name", list(GENERATIVE_MODELS))
def test_trainer_dry_runs(name, tmp_path):
    from training.tasks import train
    from training.tasks.generative import GenerativeConfig

    events = list(train(GenerativeConfig(model=name, dry_run=True, image_size=8, width=8,
                                         output_dir=str(tmp_path / "run"))))
    end = events[-1]
    assert end["status"] == "completed", end
    assert "fid" in end["metrics"]
    samples = [e for e in events if e["type"] == "sample"]
    assert samples and samples[0]["kind"] == "image" and (tmp_path / "run" / samples[0]["data"]).exists()
    model = gen.load_generative(end["model_dir"])
    assert gen.generate(model, 2, steps=2).shape == (2, 1, 8, 8)
    card = (tmp_path / "run" / "model" / "README.md").read_text()
    assert "unconditional-image-generation" in card and "FID" in card
    if name == "cgan":
        assert "class_accuracy" in end["metrics"]
    if name == "pixelcnn":  # bits per pixel every epoch; the FID, which samples pixel by pixel, once at the end
        evals = [e["metrics"] for e in events if e["type"] == "eval"]
        assert "bits_per_pixel" in evals[0] and "fid" not in evals[0] and set(evals[-1]) == {"fid"}
        assert "bits per pixel" in card


def test_pixelcnn_sees_only_the_pixels_before_each_one():
    torch.manual_seed(0)
    m = gen.PixelCNN(image_size=8, levels=4, width=8, layers=3).eval()
    x = torch.rand(2, 1, 8, 8)
    base = m(x)
    for i, j in [(0, 0), (3, 5), (7, 7), (5, 0)]:
        later = x.clone()  # the pixel itself and every one after it in raster order: unseen
        later[:, :, i, j:] = torch.rand(2, 1, 8 - j)
        later[:, :, i + 1:] = torch.rand(2, 1, 7 - i, 8)
        torch.testing.assert_close(m(later)[..., i, j], base[..., i, j])
        if (i, j) != (0, 0):  # the pixel to its left (or above it) is seen
            earlier = x.clone()
            r, c = (i, j - 1) if j else (i - 1, j)
            earlier[:, :, r, c] = 1 - (x[:, :, r, c] > 0.5).float()  # another intensity level for sure
            assert not torch.allclose(m(earlier)[..., i, j], base[..., i, j])
    top = 7 - m.reach  # the sampler feeds only the rows a pixel can see: the same logits
    torch.testing.assert_close(m(x[:, :, top:8])[..., -1, :], base[..., 7, :])
    with torch.no_grad():  # uniform logits: log2(levels) bits per pixel
        m.head[-1].weight.zero_()
        m.head[-1].bias.zero_()
    torch.testing.assert_close(m.nll(x).item(), 2.0)
    steps = list(gen.pixel_steps(m, 3, seed=1, every=3))
    assert [r for r, _ in steps] == [3, 6, 8]
    drawn = steps[-1][1] * 3
    assert torch.allclose(drawn, drawn.round()) and len(drawn.round().unique()) > 1  # four levels, drawn at random


def test_zero_fields_take_the_family_defaults_in_a_new_config():
    from training.tasks import get_task
    from training.tasks.generative import GenerativeConfig

    cfg = GenerativeConfig(model="dcgan", dry_run=True)
    run = get_task("generative").prepared(cfg)
    assert (run.lr, run.adam_beta1, run.latent_dim, run.batch_size) == (2e-4, 0.5, 64, 4)  # and the dry-run sizes
    assert (cfg.lr, cfg.adam_beta1, cfg.latent_dim) == (0, 0, 0)  # the caller's config is left alone
    vae = GenerativeConfig(model="vae-conv", lr=5e-3, latent_dim=8).resolved()
    assert (vae.lr, vae.adam_beta1, vae.latent_dim) == (5e-3, 0.9, 8)  # a value given stays


def test_vae_learns_and_gan_logs_both_players(tmp_path):
    from training.tasks import train
    from training.tasks.generative import GenerativeConfig

    events = list(train(GenerativeConfig(model="vae-mlp", epochs=3, image_size=8, output_dir=str(tmp_path / "v"))))
    evals = [e["metrics"] for e in events if e["type"] == "eval"]
    assert evals[-1]["loss"] < evals[0]["loss"] and evals[-1]["kl"] > 0
    steps = [e for e in events if e["type"] == "step"]
    assert set(steps[-1]["parts"]) == {"loss", "reconstruction", "kl"}
    events = list(train(GenerativeConfig(model="dcgan", image_size=8, max_steps=3, fid_samples=20,
                                         output_dir=str(tmp_path / "g"))))
    steps = [e for e in events if e["type"] == "step"]
    assert set(steps[-1]["parts"]) == {"discriminator", "generator"}
    assert {"d_real", "d_fake", "fid"} <= set(events[-1]["metrics"])


def test_folder_data_and_bad_options(tmp_path):
    from PIL import Image

    from training.config import TrainingError
    from training.generative import load_images
    from training.tasks import train
    from training.tasks.generative import GenerativeConfig

    z = tmp_path / "flat.zip"
    with zipfile.ZipFile(z, "w") as f:
        for i in range(12):
            img = Image.new("RGB", (20, 12), (20 * i, 100, 200 - 10 * i))
            path = tmp_path / f"{i}.png"
            img.save(path)
            f.write(path, f"pics/{i}.png")
        f.writestr("pics/notes.txt", "not an image")
        f.writestr("pics/broken.png", b"\x89PNG broken")
    x, y, names, _, notes = load_images(GenerativeConfig(dataset=str(z), image_size=8))
    assert x.shape == (12, 3, 8, 8) and names == [] and "skipped 1 files" in notes[0]
    with pytest.raises(TrainingError, match="cgan needs classes"):
        list(train(GenerativeConfig(model="cgan", dataset=str(z), image_size=8, dry_run=True,
                                    output_dir=str(tmp_path / "r"))))
    # Refused before any data is read.
    assert_refused(lambda **v: list(train(GenerativeConfig(**v, dry_run=True, output_dir=str(tmp_path / "r")))), (
        ({"image_size": 12}, "image_size", "Image size: one of 8, 16, 32, 64"),
        ({"model": "pixelcnn", "image_size": 64}, "image_size", "train it at 32 px or less"),
        ({"model": "pixelcnn", "levels": 1}, "levels", "intensity levels: at least 2"),
        ({"model": "vae-mlp", "latent_dim": 1000}, "latent_dim", "Latent size: at most 512"),
        ({"model": "ddpm", "timesteps": 20, "sample_steps": 25}, "sample_steps", "at most the noise steps")))
    with pytest.raises(TrainingError, match="at least 10"):
        (tmp_path / "few").mkdir()
        Image.new("L", (8, 8)).save(tmp_path / "few" / "a.png")
        load_images(GenerativeConfig(dataset=str(tmp_path / "few")))


def test_dataset_repo_of_parquet_rows_trains_a_cgan(hub_server, repo_name, tmp_path):
    import datasets
    from PIL import Image

    from training.generative import load_images
    from training.tasks import train
    from training.tasks.generative import GenerativeConfig

    images = [Image.new("L", (12, 12), 20 * i) for i in range(12)]
    ds = datasets.Dataset.from_dict({"image": images, "label": [i % 2 for i in range(12)]},
                                    features=datasets.Features({"image": datasets.Image(),
                                                                "label": datasets.ClassLabel(names=["dark", "light"])}))
    ds.to_parquet(str(tmp_path / "train.parquet"))
    api = hub_server.api()
    repo = f"alice/{repo_name}"
    api.create_repo(repo, repo_type="dataset")
    api.upload_file(path_or_fileobj=str(tmp_path / "train.parquet"), path_in_repo="data/train.parquet", repo_id=repo,
                    repo_type="dataset")
    cfg = GenerativeConfig(model="cgan", dataset=repo, hub=hub_server.url, image_size=8, dry_run=True,
                           output_dir=str(tmp_path / "run"))
    x, y, names, _, _ = load_images(cfg)
    assert x.shape == (12, 1, 8, 8) and names == ["dark", "light"] and y.tolist() == [i % 2 for i in range(12)]
    assert list(train(cfg))[-1]["status"] == "completed"
