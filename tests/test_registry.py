"""Saved folders name their class (config.json's _class_name); folders saved before that still load."""
from __future__ import annotations

import json

import pytest


def test_a_saved_folder_names_its_class_and_loads_by_it(tmp_path):
    from hub_models.classification import LeNet, ResNet
    from hub_models.inference import load_classifier

    LeNet(num_classes=3, labels=["a", "b", "c"]).save_pretrained(tmp_path / "lenet")
    config = json.loads((tmp_path / "lenet" / "config.json").read_text())
    assert config["_class_name"] == "LeNet" and config["num_classes"] == 3
    model = load_classifier(str(tmp_path / "lenet"))
    assert type(model) is LeNet and model.labels == ["a", "b", "c"]
    # The name decides, not the keys: a ResNet's folder stays a ResNet.
    ResNet(num_classes=2, width=8).save_pretrained(tmp_path / "resnet")
    assert type(load_classifier(str(tmp_path / "resnet"))) is ResNet


def test_folders_saved_before_the_class_name_still_load_even_without_an_optional_key(tmp_path):
    from hub_models.classification import LeNet, ResNet
    from hub_models.inference import InputError, load_classifier

    def saved(cls, name: str, drop: tuple[str, ...] = (), config: dict | None = None) -> str:
        """A folder as an older version saved it (load_classifier caches by folder: one per variant)."""
        cls(num_classes=2).save_pretrained(tmp_path / name)
        path = tmp_path / name / "config.json"
        config = config or {k: v for k, v in json.loads(path.read_text()).items() if k not in drop}
        path.write_text(json.dumps(config))
        return str(tmp_path / name)

    for cls in (LeNet, ResNet):
        assert type(load_classifier(saved(cls, f"{cls.__name__}-old", ("_class_name",)))) is cls  # all the keys
        optional = "activation" if cls is LeNet else "width"  # a LeNet saved before it had an activation
        assert type(load_classifier(saved(cls, f"{cls.__name__}-older", ("_class_name", optional)))) is cls
    with pytest.raises(InputError, match="does not hold an image classifier"):  # a key no class takes
        load_classifier(saved(ResNet, "foreign", config={"num_classes": 2, "colour": "red"}))
