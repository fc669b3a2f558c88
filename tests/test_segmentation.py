"""Segmentation: mask parsing good and broken, IoU maths, transposed convolution, every model's hub round
trip, trainer dry runs, and U-Net learning."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import assert_refused
from hub_models.catalog import SEGMENTERS
from hub_models.segmentation import (bilinear_kernel, confusion, create_segmenter, iou_table,
                                     load_segmenter, transposed_conv_demo)
from training.config import TrainingError
from training.tasks import train
from training.tasks.segmentation import SegmentationConfig
from training.segmentation_data import check_segmentation_folder, load_folder
from training.shapes import CLASSES, make_scene


def _write(root, n=5, size=64, mask_mode="P", names=True, palette=False):
    rng = np.random.default_rng(3)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(exist_ok=True)
    scenes = [make_scene(rng, size) for _ in range(n)]
    colours = [(0, 0, 0), (200, 0, 0), (0, 200, 0), (0, 0, 200)]
    for i, s in enumerate(scenes):
        s.image.save(root / "images" / f"s{i}.jpg")
        ids = np.asarray(s.mask)
        if mask_mode == "P":
            m = Image.fromarray(ids, "P")
            m.putpalette([v for c in colours for v in c] + [255] * 3 * 252)
        elif mask_mode == "L":
            m = Image.fromarray(ids, "L")
        else:  # RGB through palette.json
            m = Image.fromarray(np.array(colours, dtype=np.uint8)[ids], "RGB")
        m.save(root / "masks" / f"s{i}.png")
    if names:
        (root / "classes.txt").write_text("\n".join(["background", *CLASSES]) + "\n")
    if palette:
        (root / "palette.json").write_text(json.dumps(colours))
    return scenes


@pytest.mark.parametrize("mode", ["P", "L", "RGB"])
def test_mask_folders_load_in_every_mode(tmp_path, mode):
    scenes = _write(tmp_path, mask_mode=mode, palette=mode == "RGB")
    data = load_folder(tmp_path, 32)
    assert data.labels == ["background", *CLASSES] and not data.notes
    assert data.images.shape == (5, 3, 32, 32) and data.masks.shape == (5, 32, 32)
    want = np.asarray(scenes[0].mask.resize((32, 32), Image.NEAREST))
    assert (data.masks[0].numpy() == want).all()


def test_broken_pairs_are_skipped_with_notes(tmp_path):
    _write(tmp_path, n=6)
    Image.new("P", (10, 10)).save(tmp_path / "masks" / "s0.png")  # another size than its image
    (tmp_path / "masks" / "s1.png").unlink()  # no mask
    bad = np.zeros((64, 64), dtype=np.uint8)
    bad[0, 0] = 9
    Image.fromarray(bad, "L").save(tmp_path / "masks" / "s2.png")  # class 9: classes.txt names 4
    data = load_folder(tmp_path, 32)
    text = " | ".join(data.notes)
    assert len(data) == 3
    assert "mask is 10x10" in text and "have no mask" in text and "class id 9" in text


@pytest.mark.parametrize("case, message", [
    ("no_dirs", "no image and mask folders"),
    ("no_pairs", "none of the 5 images"),
    ("rgb_no_palette", "fewer than two usable"),
    ("palette_mismatch", "not in palette.json"),  # (the reason of the last skipped pair)
])
def test_unusable_datasets_say_why(tmp_path, case, message):
    if case == "no_dirs":
        Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    elif case == "no_pairs":
        _write(tmp_path)
        for p in (tmp_path / "masks").iterdir():
            p.rename(p.with_name("other-" + p.name))
    elif case == "rgb_no_palette":
        _write(tmp_path, mask_mode="RGB")
    elif case == "palette_mismatch":
        _write(tmp_path, mask_mode="RGB")
        (tmp_path / "palette.json").write_text(json.dumps([[1, 2, 3], [4, 5, 6]]))
    with pytest.raises(TrainingError, match=message):
        load_folder(tmp_path, 32)


def test_iou_against_hand_computed_values():
    pred = torch.tensor([[0, 0, 1, 1], [0, 2, 2, 1]])
    target = torch.tensor([[0, 0, 1, 255], [0, 0, 2, 2]])  # one ignored pixel
    cm = confusion(pred, target, 3)
    assert cm.sum() == 7
    table = iou_table(cm)
    # Counted pixels only. Class 0: 3 right, predicted 3, true 4 -> 3 / 4. Class 1: 1 right, predicted 2
    # (one where the truth is 2), true 1 -> 1 / 2. Class 2: 1 right, predicted 2, true 2 -> 1 / 3.
    assert table["iou"] == pytest.approx([3 / 4, 1 / 2, 1 / 3])
    assert table["miou"] == pytest.approx((3 / 4 + 1 / 2 + 1 / 3) / 3)
    assert table["pixel_accuracy"] == pytest.approx(5 / 7)
    absent = iou_table(confusion(torch.zeros(4, dtype=torch.long), torch.zeros(4, dtype=torch.long), 3))
    assert absent["miou"] == 1.0 and np.isnan(absent["iou"][1])


def test_transposed_convolution_matches_the_lesson():
    d = transposed_conv_demo(2, 1, 0)  # the seeds' example: [[0,1],[2,3]] with kernel [[0,1],[2,3]]
    assert d["output"] == [[0, 0, 1], [0, 4, 6], [4, 12, 9]]
    assert transposed_conv_demo(2, 1, 1)["output"] == [[4]]  # padding removes the border
    assert len(transposed_conv_demo(2, 2, 0)["output"]) == 4
    with pytest.raises(ValueError, match="padding"):
        transposed_conv_demo(1, 1, 2)
    # A bilinear kernel with stride 8 upsamples a constant map to the same constant inside.
    up = torch.nn.functional.conv_transpose2d(torch.ones(1, 1, 4, 4), bilinear_kernel(1, 16), stride=8, padding=4)
    assert up.shape[-1] == 32 and torch.allclose(up[0, 0, 8:24, 8:24], torch.ones(16, 16))


@pytest.mark.parametrize("name", list(SEGMENTERS))
def test_every_model_saves_pushes_pulls_and_loads(name, hub_server, repo_name, tmp_path):
    from hub.client import pull, push_folder

    torch.manual_seed(0)
    model = create_segmenter(name, 3, ["background", "cat", "dog"], 64).eval()
    x = torch.rand(2, 3, 64, 48)
    with torch.no_grad():
        before = model(x)
    assert before.shape == (2, 3, 64, 48)
    model.save_pretrained(tmp_path / "m")
    repo = f"alice/{repo_name}"
    push_folder(tmp_path / "m", repo, hub_server.hub())
    loaded = load_segmenter(pull(repo, hub_server.hub()))
    assert type(loaded) is type(model) and loaded.labels == ["background", "cat", "dog"]
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), before)


def test_transformers_segformer_loads_and_segments(tmp_path):
    from transformers import SegformerConfig, SegformerForSemanticSegmentation, SegformerImageProcessor

    cfg = SegformerConfig(num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16],
                          patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 1], mlp_ratios=[2, 2],
                          decoder_hidden_size=16, id2label={0: "background", 1: "ellipse"})
    SegformerForSemanticSegmentation(cfg).save_pretrained(tmp_path)
    SegformerImageProcessor(size={"height": 64, "width": 64}).save_pretrained(tmp_path)
    model = load_segmenter(tmp_path)
    assert model.labels == ["background", "ellipse"] and model.image_size == 64
    with torch.no_grad():
        assert model(torch.rand(1, 3, 64, 64)).shape == (1, 2, 64, 64)


@pytest.mark.parametrize("name", list(SEGMENTERS))
def test_trainer_dry_run(name, tmp_path):
    cfg = SegmentationConfig(model=name, output_dir=str(tmp_path), dry_run=True, image_size=64, device="cpu")
    end = list(train(cfg))[-1]
    assert end["type"] == "end" and end["status"] == "completed", end
    assert {"miou", "pixel_accuracy"} <= set(end["metrics"])
    folder = tmp_path / "model"
    assert "image-segmentation" in (folder / "README.md").read_text()
    assert (folder / "val_predictions.png").exists()
    assert load_segmenter(folder).labels == ["background", *CLASSES]


def test_trainer_refuses_bad_options(tmp_path):
    assert_refused(lambda **v: list(train(SegmentationConfig(output_dir=str(tmp_path), dry_run=True, **v))), (
        ({"model": "segnet9000"}, "model", "Model: one of unet, .*not 'segnet9000'"),
        ({"image_size": 2048}, "image_size", "Image size: at most 1024"),
        ({"val_split": 0.0}, "val_split", "Val split: at least 0.01")))
    assert not any(tmp_path.iterdir())  # refused before anything is written


def test_trainer_reads_a_zip(tmp_path):
    _write(tmp_path / "ds", n=6)
    with zipfile.ZipFile(tmp_path / "masks.zip", "w") as z:
        for p in (tmp_path / "ds").rglob("*"):
            z.write(p, p.relative_to(tmp_path / "ds"))
    assert "6 image + mask pairs" in check_segmentation_folder(tmp_path / "ds")
    cfg = SegmentationConfig(dataset=str(tmp_path / "masks.zip"), output_dir=str(tmp_path / "out"), dry_run=True,
                             image_size=32, device="cpu")
    assert list(train(cfg))[-1]["status"] == "completed"


def test_unet_learns_a_few_scenes():
    from training.segmentation_data import from_scenes
    from training.shapes import shapes_split

    torch.manual_seed(0)
    data = from_scenes(shapes_split("train", 64, n=8), CLASSES)
    x, y = data.images.float() / 255, data.masks.long()
    model = create_segmenter("unet", 4, data.labels, 64)
    opt = torch.optim.AdamW(model.parameters(), 1e-2)
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        table = iou_table(confusion(model(x).argmax(1), y, 4))
    assert table["miou"] > 0.6, table
