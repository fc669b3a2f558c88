"""Detection: the shapes generator, COCO/YOLO parsers good and broken, every detector's hub round trip,
trainer dry runs, and TinySSD learning."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ROOT, assert_refused
from hub_models.catalog import DETECTORS
from hub_models.detection import create_detector, filter_candidates, load_detector
from training.config import TrainingError
from training.tasks import train
from training.tasks.detection import DetectionConfig
from training.data import dataset_folder
from training.detection_data import check_detection_folder, load_records, read_folder
from training.shapes import CLASSES, make_scene, shapes_split


def test_shapes_boxes_and_masks_are_exact_and_reproducible():
    scenes = shapes_split("val", 96, n=20)
    for s in scenes:
        mask = np.asarray(s.mask)
        assert s.image.size == (96, 96) and len(s.boxes) >= 1
        for box, label in zip(s.boxes, s.labels):
            x1, y1, x2, y2 = map(int, box)
            inside = mask[y1:y2, x1:x2] == label + 1
            assert inside.any(0).all() and inside.any(1).all()  # the shape touches all four sides of its box
            mask_outside = (mask == label + 1).copy()
            mask_outside[y1:y2, x1:x2] = False
            assert not mask_outside[max(0, y1 - 1):y2 + 1, max(0, x1 - 1):x2 + 1].any()
    again = shapes_split("val", 96, n=20)
    assert all(a.image.tobytes() == b.image.tobytes() and a.boxes == b.boxes for a, b in zip(scenes, again))
    assert shapes_split("train", 96, n=1)[0].image.tobytes() != scenes[0].image.tobytes()


def _scenes(tmp_path, n=6, size=80):
    rng = np.random.default_rng(7)
    scenes = [make_scene(rng, size) for _ in range(n)]
    (tmp_path / "images").mkdir(parents=True, exist_ok=True)
    for i, s in enumerate(scenes):
        s.image.save(tmp_path / "images" / f"im{i}.png")
    return scenes


def _coco(tmp_path, scenes, **changes):
    images = [{"id": i + 1, "file_name": f"im{i}.png", "width": s.image.width, "height": s.image.height}
              for i, s in enumerate(scenes)]
    anns = [{"id": 100 * i + k, "image_id": i + 1, "category_id": lab + 10,  # ids need not start at 0
             "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "iscrowd": 0}
            for i, s in enumerate(scenes) for k, (b, lab) in enumerate(zip(s.boxes, s.labels))]
    data = {"images": images, "annotations": anns,
            "categories": [{"id": c + 10, "name": n} for c, n in enumerate(CLASSES)], **changes}
    (tmp_path / "instances.json").write_text(json.dumps(data))
    return data


def test_coco_folder_round_trip(tmp_path):
    scenes = _scenes(tmp_path)
    _coco(tmp_path, scenes)
    records, names, notes = read_folder(tmp_path)
    assert names == list(CLASSES) and not notes
    by_name = {r.path.name: r for r in records}
    for i, s in enumerate(scenes):
        np.testing.assert_allclose(by_name[f"im{i}.png"].boxes, s.boxes)
        assert by_name[f"im{i}.png"].labels == s.labels
    data = load_records(records, names, 40, [])  # resized to half: boxes halve too
    assert data.images.shape == (6, 3, 40, 40)
    i = [r.path.name for r in records].index("im0.png")
    torch.testing.assert_close(data.targets[i]["boxes"], torch.tensor(scenes[0].boxes) / 2)


def test_yolo_zip_round_trip(tmp_path):
    scenes = _scenes(tmp_path / "ds")
    (tmp_path / "ds" / "labels").mkdir()
    for i, s in enumerate(scenes):
        lines = [f"{lab} {(b[0] + b[2]) / 160} {(b[1] + b[3]) / 160} {(b[2] - b[0]) / 80} {(b[3] - b[1]) / 80}"
                 for b, lab in zip(s.boxes, s.labels)]
        (tmp_path / "ds" / "labels" / f"im{i}.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "ds" / "data.yaml").write_text("names:\n  0: ellipse\n  1: rectangle\n  2: triangle\n")
    with zipfile.ZipFile(tmp_path / "yolo.zip", "w") as z:
        for p in (tmp_path / "ds").rglob("*"):
            z.write(p, p.relative_to(tmp_path))
    folder = dataset_folder(str(tmp_path / "yolo.zip"), "local", "shapes")
    records, names, notes = read_folder(folder)
    assert names == list(CLASSES) and not notes
    got = {r.path.name: r for r in records}
    for i, s in enumerate(scenes):
        np.testing.assert_allclose(got[f"im{i}.png"].boxes, s.boxes, atol=1e-3)
    assert "6 images" in check_detection_folder(folder)


def test_broken_annotations_are_skipped_with_notes(tmp_path):
    scenes = _scenes(tmp_path)
    data = _coco(tmp_path, scenes)
    data["images"].append({"id": 99, "file_name": "gone.png", "width": 80, "height": 80})
    data["annotations"] += [
        {"id": 1, "image_id": 1, "category_id": 10, "bbox": [5, 5, 0, 10]},  # zero area
        {"id": 2, "image_id": 1, "category_id": 10, "bbox": [200, 200, 10, 10]},  # outside the image
        {"id": 3, "image_id": 1, "category_id": 77, "bbox": [5, 5, 10, 10]},  # unknown class
        {"id": 4, "image_id": 1, "category_id": 10, "bbox": [70, 70, 30, 30]},  # partly outside: clipped
    ]
    (tmp_path / "instances.json").write_text(json.dumps(data))
    records, _, notes = read_folder(tmp_path)
    text = " | ".join(notes)
    assert "gone.png" in text and "zero area" in text and "outside the image" in text and "unknown category id 77" in text
    first = next(r for r in records if r.path.name == "im0.png")
    assert first.boxes[-1] == [70, 70, 80, 80]


@pytest.mark.parametrize("case, message", [
    ("empty", "no annotations found"),
    ("no_images", "none of the 6 images"),
    ("not_json", "not a COCO annotation file"),
    ("yolo_bad", "no usable boxes"),
    ("no_categories", "lists no categories"),
])
def test_unusable_datasets_say_why(tmp_path, case, message):
    scenes = _scenes(tmp_path)
    if case == "empty":
        pass  # images only
    elif case == "no_images":
        _coco(tmp_path, scenes)
        for p in (tmp_path / "images").iterdir():
            p.unlink()
        Image.new("RGB", (8, 8)).save(tmp_path / "other.png")
    elif case == "not_json":
        (tmp_path / "instances.json").write_text('{"images": [1, 2')
    elif case == "yolo_bad":
        (tmp_path / "images" / "im0.txt").write_text("0 40 40 10 10\n9 0.5\n")  # pixels, not fractions; short line
        (tmp_path / "classes.txt").write_text("a\n")
    elif case == "no_categories":
        _coco(tmp_path, scenes, categories=[])
    with pytest.raises(TrainingError, match=message):
        read_folder(tmp_path)


def test_bad_zips_are_refused(tmp_path):
    (tmp_path / "x.zip").write_text("not a zip")
    with pytest.raises(TrainingError, match="not a readable zip"):
        dataset_folder(str(tmp_path / "x.zip"), "local", "shapes")
    with zipfile.ZipFile(tmp_path / "empty.zip", "w"):
        pass
    with pytest.raises(TrainingError, match="empty"):
        dataset_folder(str(tmp_path / "empty.zip"), "local", "shapes")
    with pytest.raises(TrainingError, match="no dataset"):
        dataset_folder("not a repo id!", "local", "shapes")


@pytest.mark.parametrize("name", list(DETECTORS))
def test_every_detector_saves_pushes_pulls_and_loads(name, hub_server, repo_name, tmp_path):
    from hub.client import pull, push_folder

    torch.manual_seed(0)
    model = create_detector(name, 2, ["cat", "dog"], 64).eval()
    x = torch.rand(2, 3, 64, 64)
    targets = [{"boxes": torch.tensor([[4.0, 4, 30, 40]]), "labels": torch.tensor([1])},
               {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}]
    model.train()
    assert torch.isfinite(model.loss(x, targets))
    model.eval()
    before = model.candidates(x)
    assert len(before) == 2 and set(before[0]) == {"boxes", "scores", "labels"}
    model.save_pretrained(tmp_path / "m")
    repo = f"alice/{repo_name}"
    push_folder(tmp_path / "m", repo, hub_server.hub())
    loaded = load_detector(pull(repo, hub_server.hub()))
    assert type(loaded) is type(model) and loaded.labels == ["cat", "dog"]
    after = loaded.candidates(x)
    torch.testing.assert_close(after[0]["scores"], before[0]["scores"])
    torch.testing.assert_close(after[0]["boxes"], before[0]["boxes"])


def test_transformers_detr_loads_and_predicts(tmp_path):
    from transformers import DetrConfig, DetrForObjectDetection, DetrImageProcessor, ResNetConfig

    backbone = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16, 16, 32], depths=[1, 1, 1, 1],
                            out_features=["stage4"])
    cfg = DetrConfig(backbone_config=backbone, d_model=32, encoder_layers=1, decoder_layers=1, encoder_ffn_dim=32,
                     decoder_ffn_dim=32, encoder_attention_heads=2, decoder_attention_heads=2, num_queries=10,
                     id2label={0: "ellipse", 1: "rectangle", 2: "triangle"})
    DetrForObjectDetection(cfg).save_pretrained(tmp_path)
    DetrImageProcessor(size={"shortest_edge": 64, "longest_edge": 64}).save_pretrained(tmp_path)
    det = load_detector(tmp_path)
    assert det.labels == list(CLASSES) and det.image_size == 64
    c = det.candidates(torch.rand(1, 3, 64, 64))[0]
    assert c["boxes"].shape[1] == 4 and len(c["scores"]) == len(c["labels"]) <= 10


def test_not_a_detector_is_a_clear_error(tmp_path):
    from hub_models.inference import InputError

    (tmp_path / "config.json").write_text('{"num_classes": 10, "in_channels": 1}')
    with pytest.raises(InputError, match="does not hold an object detector"):
        load_detector(tmp_path)


@pytest.mark.parametrize("name", list(DETECTORS))
def test_trainer_dry_run(name, tmp_path):
    cfg = DetectionConfig(model=name, output_dir=str(tmp_path), dry_run=True, image_size=64, device="cpu")
    events = list(train(cfg))
    end = events[-1]
    assert end["type"] == "end" and end["status"] == "completed", end
    assert {"map50", "map"} <= set(end["metrics"])
    folder = tmp_path / "model"
    assert (folder / "README.md").read_text().count("object-detection") >= 1
    assert (folder / "val_predictions.png").exists()
    assert load_detector(folder).labels == list(CLASSES)


def test_trainer_refuses_bad_options(tmp_path):
    assert_refused(lambda **v: list(train(DetectionConfig(output_dir=str(tmp_path), dry_run=True, **v))), (
        ({"image_size": 100}, "image_size", "TinySSD needs a multiple of 64, not 100"),
        ({"model": "yolo9000"}, "model", "Model: one of tinyssd, .*not 'yolo9000'"),
        ({"image_size": 16}, "image_size", "Image size: at least 32"),
        ({"val_split": 1.0}, "val_split", "Val split: at most 0.99")))
    assert not any(tmp_path.iterdir())  # refused before anything is written
    DetectionConfig(model="fasterrcnn-mobilenet", image_size=100).validate()  # the multiple is TinySSD's rule


def test_tinyssd_learns_a_few_scenes():
    """Overfitting eight scenes: the loss falls and the boxes come out where the shapes are."""
    from hub_models.boxes import detection_metrics
    from training.detection_data import collate, from_scenes

    torch.manual_seed(0)
    data = from_scenes(shapes_split("train", 64, n=8), list(CLASSES))
    x, targets = collate([data[i] for i in range(8)])
    model = create_detector("tinyssd", 3, list(CLASSES), 64)
    opt = torch.optim.AdamW(model.parameters(), 5e-3)
    first = None
    for _ in range(120):
        loss = model.loss(x, targets)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first / 4
    model.eval()
    dets = []
    for c in model.candidates(x):
        keep = filter_candidates(c, 0.0, 0.5)
        dets.append({k: v[keep] for k, v in c.items()})
    assert detection_metrics(dets, targets, 3)["map50"] > 0.5


def test_trains_from_a_dataset_repo(hub_server, repo_name, tmp_path):
    """A COCO folder pushed as a dataset repo trains by its id (the hub picked by --hub)."""
    scenes = _scenes(tmp_path / "ds", n=8, size=64)
    _coco(tmp_path / "ds", scenes)
    repo = f"alice/{repo_name}"
    api = hub_server.api()
    api.create_repo(repo, repo_type="dataset")
    api.upload_folder(folder_path=str(tmp_path / "ds"), repo_id=repo, repo_type="dataset")
    cfg = DetectionConfig(dataset=repo, hub=hub_server.url, output_dir=str(tmp_path / "out"), image_size=64,
                          dry_run=True, device="cpu")
    end = list(train(cfg))[-1]
    assert end["status"] == "completed", end
    assert load_detector(tmp_path / "out" / "model").labels == list(CLASSES)


def test_fine_tunes_from_a_saved_detector_and_refuses_another_kind(tmp_path):
    from training.tasks.segmentation import SegmentationConfig

    first = DetectionConfig(output_dir=str(tmp_path / "a"), dry_run=True, image_size=64, device="cpu")
    assert list(train(first))[-1]["status"] == "completed"
    tuned = DetectionConfig(output_dir=str(tmp_path / "b"), dry_run=True, image_size=64, device="cpu",
                            init_from=str(tmp_path / "a" / "model"))
    events = list(train(tuned))
    assert events[-1]["status"] == "completed"
    assert any(e["type"] == "log" and "tensors loaded" in e["message"] for e in events)
    assert "fine-tuned from" in (tmp_path / "b" / "model" / "README.md").read_text()
    with pytest.raises(TrainingError, match="shares no weights"):
        list(train(SegmentationConfig(output_dir=str(tmp_path / "c"), dry_run=True, image_size=64,
                                      init_from=str(tmp_path / "a" / "model"))))


def test_no_box_above_the_threshold_is_said_on_the_picture():
    from hub_models.detection import show_detections

    scene = str(ROOT / "assets" / "examples" / "shapes-1.png")
    cands = {"boxes": [[2.0, 2.0, 20.0, 20.0]], "scores": [0.31], "labels": [0], "names": ["ellipse"]}
    shown, rows, _ = show_detections(scene, cands, 0.3, 0.5)
    assert len(rows) == 1
    picture, rows, steps = show_detections(scene, cands, 0.5, 0.5)
    assert rows == [] and steps == []
    # "No box scores 0.50 or more ... 0.31" under the picture (Gradio's label covers its top-left corner), wrapped
    # to the picture's width: in two or more lines of dark text on white
    assert picture.width == shown.width and picture.height >= shown.height + 2 * 20
    band = picture.crop((0, shown.height, picture.width, picture.height)).convert("L")
    assert band.getextrema() == (0, 255) and band.getpixel((picture.width - 1, band.height - 1)) == 255


def test_the_image_size_hint_names_tinyssds_stride():
    """The Train form's hint on the image size (common/locales) says the multiple the config checks, in every
    language."""
    from common.i18n import strings
    from training.tasks.detection import TINYSSD_STRIDE

    assert all(str(TINYSSD_STRIDE) in table["detection.size_info"] for table in strings().values())
