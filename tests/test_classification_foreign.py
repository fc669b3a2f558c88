"""timm and transformers image classifiers: train, fine-tune, push, pull and predict (CPU, tiny, offline)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from hub import client as hubs
from hub_models.adapters import create_timm, library_of
from hub_models.inference import InputError, classify, load_classifier
from training.classification import ClassificationConfig
from training.tasks import train

LABELS = ["cat", "dog", "fox"]


def _end(events: list[dict]) -> dict:
    assert events[-1]["type"] == "end", events[-3:]
    return events[-1]


def test_timm_model_round_trip_in_timms_own_format(hub_server, repo_name, tmp_path):
    import timm

    torch.manual_seed(0)
    model = create_timm("resnet10t", num_classes=3, in_channels=1, image_size=32, labels=LABELS,
                        mean=[0.25], std=[0.5]).eval()
    model.save_pretrained(tmp_path / "m")
    hub = hub_server.hub("alice")
    repo = f"alice/{repo_name}"
    hubs.push_folder(tmp_path / "m", repo, hub)
    folder = hubs.pull(repo, hub)
    loaded = load_classifier(str(folder))
    assert (loaded.labels, loaded.in_channels, loaded.image_size, loaded.mean) == (LABELS, 1, 32, [0.25])
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    # Plain timm, no code from this project, reads the same repo and its preprocessing.
    plain = timm.create_model(f"hf-hub:{repo}", pretrained=True).eval()
    with torch.no_grad():
        torch.testing.assert_close(plain(x), model(x), rtol=0, atol=0)
    assert list(timm.data.resolve_data_config({}, model=plain)["mean"]) == [0.25]
    assert plain.pretrained_cfg["label_names"] == LABELS


def test_timm_from_scratch_trains_and_predicts(tmp_path):
    events = list(train(ClassificationConfig(model="timm:resnet10t", dry_run=True, output_dir=str(tmp_path))))
    assert _end(events)["status"] == "completed"
    folder = tmp_path / "model"
    assert library_of(json.loads((folder / "config.json").read_text())) == "timm"
    assert "library_name: timm" in (folder / "README.md").read_text()
    model = load_classifier(str(folder))
    probs, seen = classify(model, Image.new("L", (20, 20), 30), top_k=3)
    assert len(probs) == 3 and seen.size == (32, 32)


def test_unknown_timm_name_and_init_for_our_models_are_refused(tmp_path):
    from common.errors import UserError

    with pytest.raises(UserError, match="timm has no architecture"):
        list(train(ClassificationConfig(model="timm:resnet9000", dry_run=True, output_dir=str(tmp_path))))
    with pytest.raises(UserError, match="works for timm models"):
        list(train(ClassificationConfig(model="lenet", init_from="x/y", dry_run=True, output_dir=str(tmp_path))))


def test_fine_tune_from_a_timm_checkpoint_on_the_hub(hub_server, repo_name, tmp_path):
    """A 3-channel, 5-class timm repo fine-tuned on the 1-channel, 10-class digits."""
    import timm
    from timm.models import push_to_hf_hub

    torch.manual_seed(0)
    base = timm.create_model("resnet10t", num_classes=5).eval()
    repo = f"alice/{repo_name}"
    push_to_hf_hub(base, repo, token=hub_server.tokens["alice"])
    cfg = ClassificationConfig(model="timm:resnet18", init_from=f"hf-hub:{repo}", hub=hub_server.url,
                               optimizer="sgd", lr=1e-9, dry_run=True, output_dir=str(tmp_path))
    events = list(train(cfg))
    assert _end(events)["status"] == "completed"
    assert any("architecture taken from" in e.get("message", "") and "resnet10t" in e["message"] for e in events)
    tuned = load_classifier(str(tmp_path / "model"))
    assert tuned.net.num_classes == 10 and tuned.in_channels == 1 and len(tuned.labels) == 10
    # The backbone kept the checkpoint's weights (the step barely moved them); the head is new.
    torch.testing.assert_close(tuned.net.layer4[0].conv1.weight, base.layer4[0].conv1.weight, rtol=0, atol=1e-6)
    assert f"base_model: {repo}" in (tmp_path / "model" / "README.md").read_text()


def test_fine_tune_from_a_missing_repo_says_so(hub_server, tmp_path):
    from training.engine import TrainingError

    cfg = ClassificationConfig(model="timm:resnet10t", init_from="alice/no-such-model", hub=hub_server.url,
                               dry_run=True, output_dir=str(tmp_path))
    with pytest.raises(TrainingError, match="cannot start from alice/no-such-model"):
        list(train(cfg))


def _tiny_vit(folder, labels=LABELS):
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    torch.manual_seed(0)
    config = ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                       intermediate_size=64, num_labels=len(labels), id2label=dict(enumerate(labels)),
                       label2id={n: i for i, n in enumerate(labels)})
    model = ViTForImageClassification(config).eval()
    model.save_pretrained(folder)
    processor = ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.4, 0.5, 0.6],
                                  image_std=[0.2, 0.25, 0.3])
    processor.save_pretrained(folder)
    return model, processor


def test_transformers_classifier_pulled_from_the_hub_predicts_like_transformers(hub_server, repo_name, tmp_path):
    model, processor = _tiny_vit(tmp_path / "vit")
    hub = hub_server.hub("alice")
    repo = f"alice/{repo_name}"
    hubs.push_folder(tmp_path / "vit", repo, hub)
    loaded = load_classifier(str(hubs.pull(repo, hub)))
    assert (loaded.labels, loaded.image_size, loaded.mean) == (LABELS, 32, [0.4, 0.5, 0.6])

    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8))
    probs, _ = classify(loaded, img, top_k=3)
    with torch.no_grad():
        expected = model(**processor(images=img, return_tensors="pt")).logits.softmax(-1)[0]
    for i, name in enumerate(LABELS):
        assert probs[name] == pytest.approx(expected[i].item(), abs=1e-5)


def test_a_folder_of_another_kind_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertModel"]}))
    with pytest.raises(InputError, match="can load"):
        load_classifier(str(tmp_path))
