"""The famous models each tab offers, pulled lean from offline mirrors (tests/mirrors.py) and run."""
from __future__ import annotations

import pytest

from hub import client as hubs
from hub_models.catalog import HUB_MODELS

URL_HUB = "Hub at a URL"


def _files(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != ".complete")


@pytest.mark.parametrize("repo_id,crop_pct,interpolation", [
    ("timm/resnet50.a1_in1k", 0.95, "bicubic"),
    ("google/vit-base-patch16-224", None, "bilinear"),
    ("facebook/convnext-tiny-224", 0.875, "bicubic"),
])
def test_imagenet_classifiers_name_their_classes_and_preprocess_as_trained(mirrors, hub_server, repo_id, crop_pct,
                                                                            interpolation):
    from hub_models.inference import classify, load_classifier
    from hub_models.style import builtin_image

    mirrors(repo_id)
    folder = hubs.pull(repo_id, hub_server.hub(None))
    assert not any(f.endswith((".bin", ".h5", ".msgpack")) for f in _files(folder))  # one weight format
    model = load_classifier(str(folder))
    assert len(model.labels) == 1000 and model.labels[0] == "tench, Tinca tinca"  # names, not "0".."999"
    assert (model.crop_pct, model.interpolation) == (crop_pct, interpolation)
    probs, seen = classify(model, builtin_image("coffee"))
    assert seen.size == (224, 224) and len(probs) == 5 and set(probs) <= set(model.labels)


def test_the_centre_crop_keeps_the_middle_of_a_wide_photo():
    from PIL import Image

    from hub_models.inference import fit_image

    wide = Image.new("RGB", (400, 200), (255, 0, 0))
    wide.paste((0, 0, 255), (100, 0, 300, 200))  # a blue middle between red sides
    cropped = fit_image(wide, 100, crop_pct=0.875)
    assert cropped.size == (100, 100) and cropped.getpixel((0, 50)) == (0, 0, 255)  # the sides are cut off
    assert fit_image(wide, 100).getpixel((0, 50)) == (255, 0, 0)  # a plain resize keeps them


def test_gpt2_pulls_lean_and_generates(mirrors, hub_server):
    from hub_models.textgen import generate, load_lm

    for repo_id in ("openai-community/gpt2", "distilbert/distilgpt2"):
        mirrors(repo_id)
        folder = hubs.pull(repo_id, hub_server.hub(None))
        assert _files(folder) == ["README.md", "config.json", "generation_config.json", "merges.txt",
                                  "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.json"]
        *_, (text, _) = generate(load_lm(folder), "The", max_new=10, strategy="greedy")
        assert text.startswith("The") and len(text) > 3
    # The short ids huggingface.co still resolves: gpt2, distilgpt2 (refused as invalid before).
    assert hubs.pull("gpt2", hub_server.hub(None)) == hubs.pull("openai-community/gpt2", hub_server.hub(None))
    assert hubs.canonical_repo_id("distilbert-base-uncased-finetuned-sst-2-english", hub_server.hub(None)) == \
        "distilbert/distilbert-base-uncased-finetuned-sst-2-english"
    with pytest.raises(hubs.HubActionError, match="not a valid repo id"):
        hubs.pull("no-such-short-id", hub_server.hub(None))  # a short id only huggingface.co could resolve



@pytest.mark.parametrize("repo_id,tokenizer_files", [
    ("Helsinki-NLP/opus-mt-en-fr", ["source.spm", "target.spm", "vocab.json"]),
    ("google-t5/t5-small", ["spiece.model", "tokenizer.json"]),
])
def test_marian_and_t5_translate(mirrors, hub_server, repo_id, tokenizer_files):
    """Marian's tokenizer needs sentencepiece (it reached the user as a raw ImportError); T5 is asked in words."""
    from hub_models.translation import HFTranslator, load_translator, translate

    mirrors(repo_id)
    folder = hubs.pull(repo_id, hub_server.hub(None))
    assert set(tokenizer_files) <= set(_files(folder))
    assert not any(f.endswith((".bin", ".h5", ".ot", ".msgpack", ".onnx")) for f in _files(folder))
    model = load_translator(folder)
    assert isinstance(model, HFTranslator)
    assert model.prefix == ("translate English to French: " if "t5" in repo_id else "")
    out = translate(model, "She finds an apple .", strategy="beam", beam_width=2, max_len=8)
    assert out["source_tokens"] and len(out["beams"]) == 2  # (tiny random weights: any words)
    if model.prefix:
        assert "".join(out["source_tokens"]).startswith("translate")  # the prefix goes in front of the sentence

def test_the_tab_offers_its_famous_models_and_pulls_one(tab, mirrors, hub_server):
    """The pull field lists the task's famous models (any other id can be typed); a pull of one reaches Predict."""
    from gradio_client import handle_file

    from conftest import ROOT

    client, _ = tab
    offered = {tuple(c) for comp in client.config["components"] if comp.get("props", {}).get("choices")
               for c in comp["props"]["choices"]}
    for task in HUB_MODELS:
        assert {m.repo_id for m in HUB_MODELS[task]} <= {value for _, value in offered}, task
    repo_id = HUB_MODELS["classification"][0].repo_id
    mirrors(repo_id)
    pulled = client.predict(repo_id, URL_HUB, hub_server.url, "", api_name="/classification_pull")
    pulled = pulled["value"] if isinstance(pulled, dict) else pulled
    photo = ROOT / "assets" / "examples"
    label, _, _ = client.predict(pulled, handle_file(str(next(photo.glob("*.jpg")))), 3,
                                 api_name="/classification_predict")
    assert label["label"] in load_labels(repo_id, hub_server)


def load_labels(repo_id: str, hub_server) -> list[str]:
    from hub_models.inference import load_classifier

    return load_classifier(str(hubs.pull(repo_id, hub_server.hub(None)))).labels
