"""Style transfer: Gram matrix, TV and relative losses against hand-computed values, VGG-19 layers and
loading, Gatys' optimisation lowering its loss, bad images, style networks' hub round trips, trainer dry
runs and a style network learning its style."""
from __future__ import annotations

import zipfile

import pytest
import torch
from PIL import Image

from conftest import assert_refused
from hub_models.catalog import STYLE_NETS
from hub_models.inference import InputError
from hub_models.style import (StyleNet, VGGFeatures, builtin_image, gatys, gram, gram_picture,
                              load_extractor, load_style_net, random_vgg19, relative_mse, stylize, tv_loss,
                              vgg19_from_folder)
from hub_models.style_catalog import vgg19_names
from training.config import TrainingError
from training.style import StyleConfig
from training.tasks import train


def test_gram_tv_and_relative_mse_against_hand_values():
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)  # 2 channels over 2 positions
    # X X^T = [[1+4, 3+8], [3+8, 9+16]], divided by C*H*W = 4
    assert torch.allclose(gram(f)[0], torch.tensor([[1.25, 2.75], [2.75, 6.25]]))
    x = torch.tensor([[0.0, 1.0], [3.0, 5.0]]).view(1, 1, 2, 2)
    # vertical |3-0|, |5-1| -> mean 3.5; horizontal |1-0|, |5-3| -> mean 1.5; halved sum 2.5
    assert tv_loss(x).item() == pytest.approx(2.5)
    assert relative_mse(torch.ones(2), torch.full((2,), 2.0)).item() == pytest.approx(0.25)
    # The Gram matrix forgets where things are: shuffling positions does not change it.
    g = torch.rand(1, 8, 5, 5)
    perm = torch.randperm(25)
    assert torch.allclose(gram(g), gram(g.flatten(2)[..., perm].view(1, 8, 5, 5)), atol=1e-6)


def test_vgg19_layers_and_extractors(tmp_path, hub_server):
    names = vgg19_names()
    assert len(names) == 37 and names.index("conv4_2") == 21 and names.index("conv5_1") == 28
    ext = random_vgg19()
    out = ext(torch.rand(1, 3, 32, 32), ["conv1_1", "conv3_1", "conv4_2"])
    assert out["conv1_1"].shape == (1, 64, 32, 32) and out["conv3_1"].shape == (1, 256, 8, 8)
    assert torch.equal(random_vgg19().features[0].weight, ext.features[0].weight)  # seeded: the same everywhere
    with pytest.raises(InputError, match="no layer"):
        ext(torch.rand(1, 3, 32, 32), ["conv9_9"])
    import timm
    from timm.models import save_for_hf

    net = timm.create_model("vgg19", pretrained=False)
    save_for_hf(net, str(tmp_path / "vgg"), safe_serialization=True)
    loaded = vgg19_from_folder(tmp_path / "vgg")
    assert isinstance(loaded, VGGFeatures) and torch.equal(loaded.features[28].weight, net.features[28].weight)
    with pytest.raises(InputError, match="could not be pulled"):  # this hub has no timm/vgg19.tv_in1k
        load_extractor("vgg19-hub", hub_server.hub())
    with pytest.raises(InputError, match="unknown feature extractor"):
        load_extractor("alexnet")


def test_gatys_lowers_its_loss_and_checks_input():
    ext = random_vgg19()
    content, style = builtin_image("chelsea"), builtin_image("hubble")
    events = list(gatys(content, style, ext, steps=12, size=48, every=4, lr=0.05))
    assert [e["step"] for e in events] == [1, 4, 8, 12]
    first, last = events[0], events[-1]
    assert last["style"] < first["style"] and last["image"].size == (48, 32)  # chelsea is 451x300
    with pytest.raises(InputError, match="at least 16"):
        next(gatys(content, style.resize((10, 10)), ext, steps=1, size=48))
    with pytest.raises(InputError, match="differ more than 8 times"):
        next(gatys(content, style.resize((900, 30)), ext, steps=1, size=48))
    with pytest.raises(InputError, match="at least one"):
        next(gatys(content, style, ext, content_layers=(), style_layers=(), steps=1, size=48))
    pic = gram_picture(style, ext, ("conv1_1", "conv2_1"), size=64)
    assert pic.width > 300
    with pytest.raises(InputError, match="at least one style layer"):
        gram_picture(style, ext, ())


@pytest.mark.parametrize("name", list(STYLE_NETS))
def test_style_nets_save_push_pull_and_load(name, hub_server, repo_name, tmp_path):
    from hub.client import pull, push_folder

    torch.manual_seed(0)
    model = StyleNet(**STYLE_NETS[name].defaults, style_name="hubble").eval()
    x = torch.rand(1, 3, 37, 53)  # any size: padded to a multiple of 4 and cropped back
    with torch.no_grad():
        y = model(x)
    assert y.shape == x.shape and 0 <= y.min() and y.max() <= 1
    model.save_pretrained(tmp_path / "m")
    repo = f"alice/{repo_name}"
    push_folder(tmp_path / "m", repo, hub_server.hub())
    loaded = load_style_net(pull(repo, hub_server.hub()))
    assert loaded.style_name == "hubble"
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), y)
    assert stylize(loaded, builtin_image("coffee"), 96).size == (96, 64)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text('{"num_classes": 3}')
    with pytest.raises(InputError, match="style network"):
        load_style_net(tmp_path / "other")


def test_trainer_dry_runs_and_bad_data(tmp_path):
    end = list(train(StyleConfig(output_dir=str(tmp_path / "a"), dry_run=True, device="cpu")))[-1]
    assert end["status"] == "completed", end
    assert {"style_loss", "content_loss"} <= set(end["metrics"])
    folder = tmp_path / "a" / "model"
    assert load_style_net(folder).style_name == "flower" and (folder / "val_stylized.png").exists()
    assert "style-transfer" in (folder / "README.md").read_text()
    photos = tmp_path / "photos"
    photos.mkdir()
    for n in ("astronaut", "coffee", "rocket"):
        builtin_image(n).resize((96, 96)).save(photos / f"{n}.jpg")
    (photos / "broken.jpg").write_text("no image")
    Image.new("RGB", (20, 20)).save(photos / "tiny.png")
    with zipfile.ZipFile(tmp_path / "photos.zip", "w") as z:
        for p in photos.iterdir():
            z.write(p, p.name)
    builtin_image("brick").save(tmp_path / "my-style.png")
    events = list(train(StyleConfig(dataset=str(tmp_path / "photos.zip"), style_file=str(tmp_path / "my-style.png"),
                                    output_dir=str(tmp_path / "b"), dry_run=True, device="cpu")))
    assert events[-1]["status"] == "completed", events[-1]
    assert load_style_net(tmp_path / "b" / "model").style_name == "my-style"
    assert "skipped 2 files" in " ".join(e.get("message", "") for e in events if e["type"] == "log")
    # Bad values are refused (next to their field) before anything runs; a style file that is not an image,
    # once the trainer opens it.
    assert_refused(lambda **v: list(train(StyleConfig(**v, output_dir=str(tmp_path / "c"), dry_run=True))), (
        ({"style": "mona-lisa"}, "style", "Style: 'mona-lisa' is neither a built-in image"),
        ({"style_file": str(tmp_path / "none.png")}, "style_file", "Style file: no file"),
        ({"image_size": 16}, "image_size", "at least 32"),
        ({"model": "style-net-9000"}, "model", "style-net, style-net-wide")))
    assert not (tmp_path / "c").exists()
    with pytest.raises(TrainingError, match="--style .*broken.jpg"):
        list(train(StyleConfig(style_file=str(photos / "broken.jpg"), output_dir=str(tmp_path / "c"), dry_run=True,
                               device="cpu")))
    (tmp_path / "one").mkdir()
    builtin_image("coffee").save(tmp_path / "one" / "a.jpg")
    with pytest.raises(TrainingError, match="at least 2"):
        list(train(StyleConfig(dataset=str(tmp_path / "one"), output_dir=str(tmp_path / "d"), dry_run=True)))


def test_style_network_learns_its_style(tmp_path):
    """A few dozen steps at 64 px: the style loss on crops of the unseen photo falls well below the
    untrained network's."""
    from training.engine import fit
    from training.style import build_task

    cfg = StyleConfig(output_dir=str(tmp_path), epochs=2, crops_per_epoch=96, image_size=64, device="cpu")
    spec = build_task(cfg)
    loader = torch.utils.data.DataLoader(spec.val_data, batch_size=8)
    before = spec.evaluate(spec.model, loader, None)
    end = list(fit(cfg, spec))[-1]
    assert end["status"] == "completed"
    assert end["metrics"]["style_loss"] < 0.7 * before["style_loss"], (before, end["metrics"])
