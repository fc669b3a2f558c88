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


def test_yolos_and_segformer_run_in_the_vision_tabs(mirrors, hub_server):
    from hub_models.detection import detect_image, load_detector
    from hub_models.segmentation import load_segmenter, segment_image
    from hub_models.style import builtin_image

    photo = builtin_image("chelsea")
    mirrors("hustvl/yolos-tiny")
    detector = load_detector(hubs.pull("hustvl/yolos-tiny", hub_server.hub(None)))
    assert detector.labels[1] == "person" and len(detector.labels) == 91
    assert set(detect_image(detector, photo)) >= {"boxes", "scores", "labels"}
    mirrors("nvidia/segformer-b0-finetuned-ade-512-512")
    segmenter = load_segmenter(hubs.pull("nvidia/segformer-b0-finetuned-ade-512-512", hub_server.hub(None)))
    assert segmenter.labels[:3] == ["wall", "building", "sky"] and len(segmenter.labels) == 150
    mask, *_ = segment_image(segmenter, photo)
    assert int(mask.max()) < 150


@pytest.mark.parametrize("repo_id,task", [("facebook/detr-resnet-50", "detection"), ("hustvl/yolos-tiny", "detection"),
                                          ("nvidia/segformer-b0-finetuned-ade-512-512", "segmentation")])
def test_detection_and_segmentation_fine_tune_from_coco_and_ade20k_bases(mirrors, hub_server, tmp_path, repo_id, task):
    """A transformers base (the form offers it) replaces --model; its backbone is kept, its head made for the
    shapes' classes; the result loads with transformers' own pipeline and its card names the base."""
    import torch
    from transformers import pipeline

    from hub_models.catalog import fine_tune_bases
    from hub_models.detection import load_transformers_detector
    from hub_models.segmentation import load_transformers_segmenter
    from hub_models.style import builtin_image
    from training.tasks import TASKS, train

    assert repo_id in {value for _, value in fine_tune_bases(task)}
    mirrors(repo_id)
    base = hubs.pull(repo_id, hub_server.hub(None))
    assert _files(base) == ["README.md", "config.json", "model.safetensors", "preprocessor_config.json"]
    load = load_transformers_detector if task == "detection" else load_transformers_segmenter
    labels = ["ellipse", "rectangle", "triangle"]
    start, pretrained = load(base, labels, 64).net.state_dict(), load(base).net.state_dict()
    head = "class_labels_classifier" if task == "detection" else "decode_head.classifier"
    fresh = [k for k, v in start.items() if v.shape != pretrained[k].shape]  # the head's last layer
    assert fresh and all(k.startswith(head) for k in fresh)
    assert all(torch.equal(v, pretrained[k]) for k, v in start.items() if k not in fresh)  # the rest: pretrained
    assert start[fresh[0]].shape[0] == len(labels) + (task == "detection")  # (+ the "no object" class)
    cfg = TASKS[task].config(init_from=repo_id, hub=hub_server.url, dry_run=True, epochs=1, batch_size=4,
                             output_dir=str(tmp_path / "out"))
    events = list(train(cfg))
    assert events[-1]["status"] == "completed", events[-1]
    assert any(f"fine-tuning {repo_id}" in (e.get("message") or "") for e in events)
    folder = tmp_path / "out" / "model"
    card = (folder / "README.md").read_text()
    assert f"base_model: {repo_id}" in card and "library_name: transformers" in card
    kind = "object-detection" if task == "detection" else "image-segmentation"
    found = pipeline(kind, model=str(folder), **({"threshold": 0.0} if task == "detection" else {}))(
        builtin_image("chelsea"))
    names = set(labels) | ({"background"} if task == "segmentation" else set())
    assert found and {r["label"] for r in found} <= names


def test_detection_refuses_an_image_classifier_as_its_base(mirrors, hub_server, tmp_path):
    from training.config import TrainingError
    from training.tasks import train
    from training.tasks.detection import DetectionConfig

    mirrors("google/vit-base-patch16-224")
    cfg = DetectionConfig(init_from="google/vit-base-patch16-224", hub=hub_server.url, dry_run=True,
                          output_dir=str(tmp_path / "out"))
    with pytest.raises(TrainingError, match="^google/vit-base-patch16-224 is a ViTForImageClassification, not an "
                                            "object detector$"):
        list(train(cfg))


def test_faces_train_an_embedder_from_a_timm_imagenet_backbone(mirrors, hub_server, tmp_path):
    """The faces form offers timm/resnet18.a1_in1k: the embedder starts from its backbone (its normalisation too);
    the same repo pulled as it is verifies faces with ImageNet features."""
    import timm
    import torch

    from hub_models.catalog import fine_tune_bases
    from hub_models.faces import TimmFaceEmbedder, load_embedder
    from training.tasks import train
    from training.tasks.faces import FaceConfig

    repo_id = "timm/resnet18.a1_in1k"
    assert repo_id in {value for _, value in fine_tune_bases("faces")}
    mirrors(repo_id)
    base = hubs.pull(repo_id, hub_server.hub(None))
    assert load_embedder(base).image_size == 224  # pulled as it is: a foreign embedder
    start = TimmFaceEmbedder.from_timm_folder(base, 32, 64, "none")
    pretrained = timm.create_model(f"local-dir:{base}", pretrained=True, num_classes=0).state_dict()
    assert all(torch.equal(v, pretrained[k]) for k, v in start.backbone.state_dict().items())
    assert start.mean == (0.485, 0.456, 0.406)
    cfg = FaceConfig(init_from=repo_id, hub=hub_server.url, dry_run=True, epochs=1, batch_size=3,
                     output_dir=str(tmp_path / "out"))
    events = list(train(cfg))
    assert events[-1]["status"] == "completed", events[-1]
    assert any(f"backbone from {repo_id} (resnet18" in (e.get("message") or "") for e in events)
    model = load_embedder(tmp_path / "out" / "model")
    assert isinstance(model, TimmFaceEmbedder) and model.arch == "resnet18" and model.mean == start.mean
    assert f"base_model: {repo_id}" in (tmp_path / "out" / "model" / "README.md").read_text()


def test_ddpm_cifar10_samples(mirrors, hub_server):
    from hub_models.generative import load_generative, samples

    mirrors("google/ddpm-cifar10-32")
    folder = hubs.pull("google/ddpm-cifar10-32", hub_server.hub(None))
    assert "unet/diffusion_pytorch_model.safetensors" in _files(folder)
    assert "unet/diffusion_pytorch_model.bin" not in _files(folder)
    *_, (grid, clean, status) = samples(load_generative(folder), 2, steps=2)
    assert grid.size[0] >= 64 and "step 2 / 2" in status


def test_ddpm_fine_tunes_from_the_cifar10_pipeline(mirrors, hub_server, tmp_path):
    """Its UNet and schedule are kept whole: the grey 8x8 digits become 32 px RGB, and the result is a plain
    DDPMPipeline folder whose card names the base."""
    from diffusers import DDPMPipeline

    from training.tasks import train
    from training.tasks.generative import GenerativeConfig

    mirrors("google/ddpm-cifar10-32")
    cfg = GenerativeConfig(model="ddpm", init_from="google/ddpm-cifar10-32", image_size=16, hub=hub_server.url,
                           dry_run=True, epochs=1, batch_size=4, output_dir=str(tmp_path / "out"))
    events = list(train(cfg))
    assert events[-1]["status"] == "completed", events[-1]
    assert any("fine-tuning google/ddpm-cifar10-32" in (e.get("message") or "") and "at its 32 px and 3 channel(s)"
               in e["message"] for e in events)
    pipe = DDPMPipeline.from_pretrained(tmp_path / "out" / "model")
    assert (pipe.unet.config.sample_size, pipe.unet.config.in_channels) == (32, 3)
    assert "base_model: google/ddpm-cifar10-32" in (tmp_path / "out" / "model" / "README.md").read_text()


def test_distilbert_sst2_classifies_and_bert_fills_the_mask(mirrors, hub_server):
    from hub_models.bert import classify_text, fill_mask, model_kind

    mirrors("distilbert/distilbert-base-uncased-finetuned-sst-2-english")
    sst2 = hubs.pull("distilbert-base-uncased-finetuned-sst-2-english", hub_server.hub(None))  # the short id
    assert model_kind(sst2) == "sequence"
    probs, _ = classify_text(sst2, "The soup was wonderful.")
    assert set(probs) == {"NEGATIVE", "POSITIVE"}
    mirrors("google-bert/bert-base-uncased")
    bert = hubs.pull("bert-base-uncased", hub_server.hub(None))
    assert not any(f.startswith(("coreml/", "onnx/")) or f.endswith((".h5", ".msgpack", ".ot", ".onnx", ".bin"))
                   for f in _files(bert))
    assert model_kind(bert) == "mlm" and len(fill_mask(bert, "The movie was [MASK].")) == 8

def test_the_tab_offers_its_famous_models_and_pulls_one(tab, mirrors, hub_server):
    """The pull field lists the task's famous models (any other id can be typed); a pull of one reaches Predict."""
    from gradio_client import handle_file

    from conftest import ROOT
    from test_app import english

    client, _ = tab
    offered = {tuple(c) for comp in client.config["components"] if comp.get("props", {}).get("choices")
               for c in comp["props"]["choices"]}
    for task in HUB_MODELS:
        assert {m.repo_id for m in HUB_MODELS[task]} <= {value for _, value in offered}, task
    fine_tune = [{value for _, value in comp["props"]["choices"]} for comp in client.config["components"]
                 if english(comp.get("props", {}).get("label")) == "Fine-tune from (optional)"
                 and comp["props"].get("choices")]
    assert {"", "facebook/detr-resnet-50", "hustvl/yolos-tiny"} in fine_tune  # the detection form's bases
    repo_id = HUB_MODELS["classification"][0].repo_id
    mirrors(repo_id)
    pulled = client.predict(repo_id, URL_HUB, hub_server.url, "", api_name="/classification_pull")
    pulled = pulled["value"] if isinstance(pulled, dict) else pulled
    photo = ROOT / "assets" / "examples"
    label, *_ = client.predict(pulled, handle_file(str(next(photo.glob("*.jpg")))), 3,
                                 api_name="/classification_predict")
    assert label["label"] in load_labels(repo_id, hub_server)


def load_labels(repo_id: str, hub_server) -> list[str]:
    from hub_models.inference import load_classifier

    return load_classifier(str(hubs.pull(repo_id, hub_server.hub(None)))).labels


def test_text_generation_fine_tunes_gpt2(mirrors, hub_server, tmp_path):
    """The trainer starts from a GPT-2 repo (the legacy id), keeps its tokenizer, and says so in the card."""
    from training.tasks import train
    from training.tasks.textgen import TextGenConfig

    mirrors("openai-community/gpt2")
    corpus = tmp_path / "hello.txt"
    corpus.write_text("hello world, hello there.\n" * 300)
    cfg = TextGenConfig(init_from="gpt2", dataset=str(corpus), epochs=2, seq_len=32, batch_size=8, lr=1e-2,
                        hub=hub_server.url, output_dir=str(tmp_path / "out"), sample_tokens=5)
    events = list(train(cfg))
    evals = [e["metrics"]["perplexity"] for e in events if e["type"] == "eval"]
    assert events[-1]["status"] == "completed", events[-1]
    assert evals[-1] < 102.4, evals  # the random-weight mirror learns the phrase: a blind guess is 1,024
    assert any("fine-tuning gpt2" in (e.get("message") or "") for e in events)
    model = tmp_path / "out" / "model"
    from transformers import AutoTokenizer

    base = hubs.pull("gpt2", hub_server.hub(None))
    phrase = "hello world, the corpus"
    assert AutoTokenizer.from_pretrained(model)(phrase).input_ids == AutoTokenizer.from_pretrained(base)(phrase).input_ids
    assert "base_model: openai-community/gpt2" in (model / "README.md").read_text()


@pytest.mark.parametrize("repo_id", ["Helsinki-NLP/opus-mt-en-fr", "t5-small"])
def test_translation_fine_tunes_marian_and_t5(mirrors, hub_server, repo_id, tmp_path):
    """From a Marian (its two SentencePiece models) or a T5 (asked in words) repo, on the built-in pairs."""
    from hub_models.translation import load_translator, translate
    from training.tasks import train
    from training.tasks.translation import TranslationConfig

    mirrors(hubs.LEGACY_IDS.get(repo_id, repo_id))
    cfg = TranslationConfig(init_from=repo_id, epochs=1, batch_size=32, lr=3e-3, hub=hub_server.url,
                            dry_run=True, output_dir=str(tmp_path / "out"))
    events = list(train(cfg))
    assert events[-1]["status"] == "completed", events[-1]
    assert any(f"fine-tuning {repo_id}" in (e.get("message") or "") for e in events)
    model = load_translator(tmp_path / "out" / "model")
    assert model.prefix == ("translate English to French: " if "t5" in repo_id else "")
    assert translate(model, "She finds an apple .")["source_tokens"]
    card = (tmp_path / "out" / "model" / "README.md").read_text()
    assert f"base_model: {hubs.LEGACY_IDS.get(repo_id, repo_id)}" in card


def test_online_the_style_tab_scores_with_imagenet_vgg19(tmp_path, monkeypatch):
    """With huggingface.co as the default hub, Gatys and the style networks use timm/vgg19.tv_in1k by default;
    offline, the seeded random VGG-19."""
    monkeypatch.setenv("DLP_HOME", str(tmp_path))
    from app import build_app

    def defaults(hub: str) -> tuple:
        blocks = build_app(default_hub=hub).config["components"]
        from test_app import english

        by_label = {english(c["props"].get("label")): c["props"].get("value") for c in blocks}
        return by_label["Feature extractor"], by_label["Scored by"]

    assert defaults("hf") == ("VGG-19, ImageNet weights from the hub (timm/vgg19.tv_in1k)", "vgg19-hub")
    assert defaults("http://127.0.0.1:9") == ("VGG-19, random weights (offline)", "vgg19-random")
