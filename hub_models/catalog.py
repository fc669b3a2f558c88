"""Every model family's registry, in one shape and without importing torch.

A registry maps the names the dropdowns, the CLI's choices and the parametrized tests list to a
:class:`ModelEntry`: the class it is built with (named ``"module:Class"``, imported on first use),
the constructor arguments that set it apart, one line of description, and where a task's trainer
differs within it, the family (a GAN or a VAE; an RNN or GPT-2). Networks live in the family's
module (``hub_models.<family>``); this file only names them, so a tab or a config can list them
before torch is loaded.
"""
from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from common.i18n import t


@dataclass(frozen=True)
class ModelEntry:
    cls: str  # "hub_models.<module>:<Class>", imported when the model is made
    summary: str  # one line: what it is, in English (model cards say it; the app does not show it)
    defaults: Mapping[str, Any] = field(default_factory=dict)  # constructor arguments of this entry
    family: str = ""  # the trainer's branch within a task (gan, vae ...; rnn, gpt2; gru, transformer)
    sizes: tuple[int, ...] = ()  # input sizes the tests try (classifiers)

    def load(self) -> type:
        module, name = self.cls.split(":")
        return getattr(importlib.import_module(module), name)

    def create(self, **kwargs: Any) -> Any:
        """The network with this entry's arguments, ``kwargs`` winning."""
        return self.load()(**{**self.defaults, **kwargs})


def _entries(cls: str, described: Mapping[str, str], key: str) -> dict[str, ModelEntry]:
    """One entry per name of ``described``, told apart by the constructor argument ``key``."""
    return {name: ModelEntry(cls, summary, {key: name}) for name, summary in described.items()}


_C = "hub_models.classification:"
# Defaults for the built-in sample; sizes: the input sizes the tests try.
CLASSIFIERS: dict[str, ModelEntry] = {
    "lenet": ModelEntry(_C + "LeNet", "LeNet-5: two conv + pool stages, three dense layers",  # i18n: not shown
                        {}, sizes=(16, 28, 32)),
    "lenet-bn": ModelEntry(_C + "LeNet", "LeNet-5 with BatchNorm", {"batch_norm": True}, sizes=(28, 32)),
    "alexnet-small": ModelEntry(_C + "AlexNet", "AlexNet, narrow: ReLU, dropout",  # i18n: not shown
                                {"channels": (24, 64, 96, 96, 64), "hidden": 256, "image_size": 32},
                                sizes=(16, 32, 224)),
    "vgg11-small": ModelEntry(_C + "VGG", "VGG-11, narrow: blocks of 3x3 convs",  # i18n: not shown
                              {"conv_arch": ((1, 16), (1, 32), (2, 64), (2, 64), (2, 64)), "hidden": 256,
                               "image_size": 32}, sizes=(32, 224)),
    "vgg11-bn-small": ModelEntry(_C + "VGG", "VGG-11, narrow, with BatchNorm",  # i18n: not shown
                                 {"conv_arch": ((1, 16), (1, 32), (2, 64), (2, 64), (2, 64)), "hidden": 256,
                                  "batch_norm": True, "image_size": 32}, sizes=(32, 224)),
    "nin-small": ModelEntry(_C + "NiN", "Network in Network: 1x1 convs, global average pooling",  # i18n: not shown
                            {"channels": (32, 64, 96), "image_size": 32}, sizes=(16, 32, 224)),
    "nin-bn-small": ModelEntry(_C + "NiN", "Network in Network with BatchNorm",  # i18n: not shown
                               {"channels": (32, 64, 96), "batch_norm": True, "image_size": 32},
                               sizes=(16, 32, 224)),
    "googlenet-bn-small": ModelEntry(_C + "GoogLeNet",
                                     "GoogLeNet, narrow: Inception blocks, BatchNorm",  # i18n: not shown
                                     {"width": 8, "batch_norm": True, "image_size": 32}, sizes=(16, 32, 224)),
    "resnet18-small": ModelEntry(_C + "ResNet", "ResNet-18, narrow: residual blocks", {"width": 16},  # i18n: not shown
                                 sizes=(8, 32, 224)),
    "densenet-small": ModelEntry(_C + "DenseNet", "DenseNet, small: dense blocks, transition layers",  # i18n: not shown
                                 {"growth": 8, "block_layers": (2, 2, 2, 2), "image_size": 32}, sizes=(8, 32, 224)),
    "mobilenet-small": ModelEntry(_C + "MobileNet", "MobileNet x0.25: depthwise separable convs",  # i18n: not shown
                                  {"alpha": 0.25, "image_size": 32}, sizes=(16, 32, 224)),
}

# How the classification tab draws a set's penultimate features in 2-D (hub_models.inside.project).
PROJECTIONS = ("PCA", "t-SNE")

DETECTORS: dict[str, ModelEntry] = {
    "tinyssd": ModelEntry("hub_models.detection:TinySSD",
                          "TinySSD, ours: multiscale anchors, IoU matching, NMS, from the lessons"),  # i18n: not shown
    **_entries("hub_models.detection:TorchvisionDetector", {
        "fasterrcnn-mobilenet":
            "Faster R-CNN (two stages: region proposals, then RoI heads), MobileNetV3 + FPN",  # i18n: not shown
        "retinanet-resnet18": "RetinaNet (one stage, focal loss), ResNet-18 + FPN",  # i18n: not shown
        "fcos-resnet18": "FCOS (anchor-free: a box per feature-map point), ResNet-18 + FPN",  # i18n: not shown
        "ssdlite-mobilenet": "SSDlite (SSD with depthwise convs), MobileNetV3",  # i18n: not shown
    }, "arch"),
}

SEGMENTERS: dict[str, ModelEntry] = {
    "unet": ModelEntry("hub_models.segmentation:UNet",
                       "U-Net, ours: encoder-decoder with skip connections and transposed "  # i18n: not shown
                       "convolutions"),
    "fcn": ModelEntry("hub_models.segmentation:FCN",
                      "FCN, ours: 1x1 class scores and one bilinear-initialised transposed "  # i18n: not shown
                      "convolution"),
    **_entries("hub_models.segmentation:TorchvisionSegmenter", {
        "deeplabv3-mobilenet": "DeepLabV3 (atrous spatial pyramid pooling), MobileNetV3",  # i18n: not shown
        "lraspp-mobilenet": "LR-ASPP (lite reduced ASPP), MobileNetV3",  # i18n: not shown
        "fcn-resnet50": "FCN, ResNet-50 (dilated)",
    }, "arch"),
}

_F = "hub_models.faces:"
EMBEDDERS: dict[str, ModelEntry] = {
    "small-cnn": ModelEntry(_F + "SmallFaceCNN",
                            "small CNN, ours: four conv blocks, global pooling, linear embedding"),  # i18n: not shown
    "resnet": ModelEntry(_F + "ResNetFaceEmbedder",
                         "ResNet-style, ours: three stages of residual blocks"),  # i18n: not shown
    "timm:resnet18": ModelEntry(_F + "TimmFaceEmbedder", "timm ResNet-18 backbone", {"arch": "resnet18"}),
    "timm:mobilenetv3_small_050": ModelEntry(_F + "TimmFaceEmbedder", "timm MobileNetV3-small backbone",
                                             {"arch": "mobilenetv3_small_050"}),
}

STYLE_NETS: dict[str, ModelEntry] = {
    "style-net": ModelEntry("hub_models.style:StyleNet", "16-32-64 channels, 5 residual blocks (0.4 M parameters)",
                            {"width": 16, "residual_blocks": 5}),
    "style-net-wide": ModelEntry("hub_models.style:StyleNet",
                                 "32-64-128 channels, 5 residual blocks (1.7 M, Johnson's size)",
                                 {"width": 32, "residual_blocks": 5}),
}

_G = "hub_models.generative:"
# Sizes and widths come from the config; defaults are what sets an entry apart within its class.
GENERATIVE_MODELS: dict[str, ModelEntry] = {
    "dcgan": ModelEntry(_G + "DCGAN", "DCGAN: transposed-conv generator, conv discriminator",  # i18n: not shown
                        family="gan"),
    "cgan": ModelEntry(_G + "DCGAN", "conditional DCGAN: one row per class (needs classes)",  # i18n: not shown
                       {"conditional": True}, family="gan"),
    "vae-mlp": ModelEntry(_G + "VAE", "VAE with MLP encoder and decoder",  # i18n: not shown
                          {"kind": "mlp"}, family="vae"),
    "vae-conv": ModelEntry(_G + "VAE", "VAE with convolutional encoder and decoder",  # i18n: not shown
                           {"kind": "conv"}, family="vae"),
    "pixelcnn": ModelEntry(_G + "PixelCNN",
                           "PixelCNN: one pixel at a time, masked convolutions, exact likelihood",  # i18n: not shown
                           family="autoregressive"),
    "ddpm": ModelEntry(_G + "DDPM", "DDPM: a diffusers UNet2DModel + DDPMScheduler", family="diffusion"),
}

_T = "hub_models.textgen:"
# family: the trainer's branch (rnn or gpt2); an RNN's "level" (char or word tokens) is a constructor argument.
LANGUAGE_MODELS: dict[str, ModelEntry] = {
    "char-rnn": ModelEntry(_T + "RNNLM", "character-level vanilla RNN",  # i18n: not shown
                           {"cell": "rnn", "hidden_size": 256, "num_layers": 1, "level": "char"}, family="rnn"),
    "char-gru": ModelEntry(_T + "RNNLM", "character-level GRU",
                           {"cell": "gru", "hidden_size": 256, "num_layers": 2, "level": "char"}, family="rnn"),
    "char-lstm": ModelEntry(_T + "RNNLM", "character-level LSTM",
                            {"cell": "lstm", "hidden_size": 256, "num_layers": 2, "level": "char"}, family="rnn"),
    "word-lstm": ModelEntry(_T + "RNNLM", "word-level LSTM",
                            {"cell": "lstm", "hidden_size": 256, "num_layers": 2, "level": "word"}, family="rnn"),
    "gpt2-tiny": ModelEntry(_T + "tiny_gpt2",
                            "a small GPT-2 (transformers) with a BPE trained on the corpus",  # i18n: not shown
                            {"n_layer": 4, "n_head": 4, "n_embd": 128}, family="gpt2"),
}

_S = "hub_models.translation:"
TRANSLATORS: dict[str, ModelEntry] = {
    "gru": ModelEntry(_S + "Seq2Seq", "a GRU encoder-decoder with no attention",  # i18n: not shown
                      {"attention": "none"}, family="gru"),
    "gru-additive-attention": ModelEntry(_S + "Seq2Seq",
                                         "a GRU encoder-decoder with additive (Bahdanau) attention",  # i18n: not shown
                                         {"attention": "additive"}, family="gru"),
    "gru-dot-attention": ModelEntry(_S + "Seq2Seq",
                                    "a GRU encoder-decoder with scaled dot-product attention",  # i18n: not shown
                                    {"attention": "dot"}, family="gru"),
    "transformer-tiny": ModelEntry(_S + "create_transformer",
                                   "an encoder-decoder Transformer (BART architecture, "  # i18n: not shown
                                   "byte-level BPE shared by both languages)", family="transformer"),
}


def L(key: str) -> str:  # noqa: N802 (webui.i18n.L's name: the registries import no gradio)
    """A line a page shows as it is built (a Dropdown's choice), translated in the browser: ``str(webui.i18n.L(key))``,
    Gradio's marker for its front end's translation (tests/test_classification_tab.py checks they agree)."""
    return "__i18n__" + json.dumps({"__type__": "translation_metadata", "key": key})


@dataclass(frozen=True)
class HubModel:
    """A well-known model on huggingface.co that a task's loaders run: offered in its tab's pull list."""

    repo_id: str
    line: str  # how the lists show it, "<repo id> · <what it is>": L("catalog.<key>") (common/locales/*/catalog.yaml)
    base: bool = True  # the task's trainer can start from it (--init-from): offered in the Train form too

    @property
    def key(self) -> str:
        return json.loads(self.line.removeprefix("__i18n__"))["key"]

    @property
    def choice(self) -> tuple[str, str]:
        """A Dropdown's choice: its line shown (translated in the browser), its repo id the value."""
        return self.line, self.repo_id

    @property
    def summary(self) -> str:
        """What it is (its line without the repo id), in the language of the request being served."""
        return t(self.key).removeprefix(f"{self.repo_id} · ")


def fine_tune_bases(task: str) -> tuple[tuple[str, str], ...]:
    """(label, value) choices of a Train form's "Fine-tune from" field: from scratch, then the famous bases (the
    labels translated in the browser)."""
    return ((L("catalog.from_scratch"), ""), *(m.choice for m in HUB_MODELS.get(task, ()) if m.base))


# Per task, the famous models its Predict side loads (each has an offline mirror in tests/mirrors.py, with the
# same file names and config structure, that the tests pull, run and fine-tune from).
HUB_MODELS: dict[str, tuple[HubModel, ...]] = {
    "classification": (
        HubModel("timm/resnet50.a1_in1k", L("catalog.resnet50_a1_in1k")),
        HubModel("google/vit-base-patch16-224", L("catalog.vit_base_patch16_224"), base=False),
        HubModel("facebook/convnext-tiny-224", L("catalog.convnext_tiny_224"), base=False),
    ),
    "detection": (
        HubModel("facebook/detr-resnet-50", L("catalog.detr_resnet_50")),
        HubModel("hustvl/yolos-tiny", L("catalog.yolos_tiny")),
    ),
    "segmentation": (
        HubModel("nvidia/segformer-b0-finetuned-ade-512-512", L("catalog.segformer_b0_ade")),
    ),
    "faces": (
        HubModel("timm/resnet18.a1_in1k", L("catalog.resnet18_a1_in1k")),
    ),
    "generative": (
        HubModel("google/ddpm-cifar10-32", L("catalog.ddpm_cifar10_32")),
    ),
    "bert": (
        HubModel("distilbert/distilbert-base-uncased-finetuned-sst-2-english", L("catalog.distilbert_sst2")),
        HubModel("google-bert/bert-base-uncased", L("catalog.bert_base_uncased")),
    ),
    "textgen": (
        HubModel("openai-community/gpt2", L("catalog.gpt2")),
        HubModel("distilbert/distilgpt2", L("catalog.distilgpt2")),
    ),
    "translation": (
        HubModel("Helsinki-NLP/opus-mt-en-fr", L("catalog.opus_mt_en_fr")),
        HubModel("google-t5/t5-small", L("catalog.t5_small")),
    ),
}
