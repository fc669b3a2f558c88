"""Offline mirrors of famous Hub repos: the same file names and config structure, tiny random weights.

huggingface.co cannot be reached here, so the tests pull these from the session's hub under the real repo ids
(``timm/resnet50.a1_in1k``...). Each keeps what the loaders read: timm's ``config.json`` with its
``pretrained_cfg``; transformers' ``model_type``, ``architectures``, ``id2label`` and preprocessor or tokenizer
files. Where they must differ from the real repo, they do so in the open:

- the networks are shrunk through the config (timm's ``model_args``; transformers' sizes), so the weights are
  kilobytes, and each GPT-2 tokenizer is a byte-level BPE trained on the built-in corpus (Python's docs) (1,024 tokens, not
  OpenAI's 50,257), written to the real file names;
- the heavy extras a lean pull must skip (TensorFlow, Flax, Rust, TFLite, ONNX, PyTorch's .bin beside the
  safetensors) are there by name, filled with a few hundred kilobytes of random bytes: never loaded, only counted.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

EXTRA_BYTES = 200_000  # each heavy file a lean pull skips


def _extras(folder: Path, names: list[str]) -> None:
    import os

    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(os.urandom(EXTRA_BYTES))


def _card(folder: Path, repo_id: str) -> None:
    (folder / "README.md").write_text(f"---\nlicense: other\n---\n# {repo_id} (offline mirror, tiny weights)\n")


def _imagenet_labels() -> dict[str, str]:
    from timm.data import ImageNetInfo

    info = ImageNetInfo("imagenet-1k")
    return {str(i): info.index_to_description(i) for i in range(1000)}


def _timm_resnet(folder: Path, arch: str) -> None:
    """timm/<arch>.a1_in1k: config.json (architecture, num_classes, pretrained_cfg) + model.safetensors."""
    import timm
    from safetensors.torch import save_file

    pretrained_cfg = {"tag": "a1_in1k", "custom_load": False, "input_size": [3, 224, 224],
                      "test_input_size": [3, 288, 288], "fixed_input_size": False, "interpolation": "bicubic",
                      "crop_pct": 0.95, "test_crop_pct": 1.0, "crop_mode": "center",
                      "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "num_classes": 1000,
                      "pool_size": [7, 7], "first_conv": "conv1", "classifier": "fc", "origin_url": "",
                      "paper_ids": "arXiv:2110.00476"}
    model_args = {"channels": [8, 16, 32, 64], "stem_width": 8}  # the mirror's one addition: a tiny ResNet
    net = timm.create_model(arch, **model_args)
    (folder / "config.json").write_text(json.dumps({"architecture": arch, "num_classes": 1000,
                                                    "num_features": net.num_features, "global_pool": "avg",
                                                    "model_args": model_args, "pretrained_cfg": pretrained_cfg},
                                                   indent=2))
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, folder / "model.safetensors")
    _extras(folder, ["pytorch_model.bin"])


def timm_resnet50(folder: Path) -> None:
    _timm_resnet(folder, "resnet50")


def timm_resnet18(folder: Path) -> None:
    _timm_resnet(folder, "resnet18")


def _transformers_classifier(folder: Path, config, preprocessor: dict, extras: list[str]) -> None:
    from transformers import AutoModelForImageClassification

    config.id2label = {int(k): v for k, v in _imagenet_labels().items()}
    config.label2id = {v: k for k, v in config.id2label.items()}
    AutoModelForImageClassification.from_config(config).save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2))
    _extras(folder, extras)


def vit_base(folder: Path) -> None:
    """google/vit-base-patch16-224: ViTForImageClassification, 224 px, mean and std 0.5, resized (no crop)."""
    from transformers import ViTConfig

    _transformers_classifier(folder, ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                               intermediate_size=64, image_size=224, patch_size=16),
                             {"do_normalize": True, "do_resize": True, "image_mean": [0.5, 0.5, 0.5],
                              "image_std": [0.5, 0.5, 0.5], "resample": 2, "size": 224,
                              "feature_extractor_type": "ViTFeatureExtractor"},
                             ["pytorch_model.bin", "tf_model.h5", "flax_model.msgpack"])


def convnext_tiny(folder: Path) -> None:
    """facebook/convnext-tiny-224: ConvNextForImageClassification; resized to 224/0.875 and centre-cropped."""
    from transformers import ConvNextConfig

    _transformers_classifier(folder, ConvNextConfig(hidden_sizes=[8, 16, 32, 64], depths=[1, 1, 1, 1]),
                             {"crop_pct": 0.875, "do_normalize": True, "do_resize": True,
                              "feature_extractor_type": "ConvNextFeatureExtractor",
                              "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
                              "resample": 3, "size": 224},
                             ["pytorch_model.bin", "tf_model.h5"])


def _gpt2(folder: Path, n_layer: int) -> None:
    from pydoc_data.topics import topics

    from hub_models.textgen import tiny_gpt2, train_bpe

    tok = train_bpe("\n\n".join(topics[k] for k in sorted(topics))[:300_000], vocab_size=1024)
    model = tiny_gpt2(len(tok), eos_token_id=tok.eos_token_id, n_positions=1024, n_layer=n_layer, n_head=2,
                      n_embd=32)
    model.save_pretrained(folder)
    tok.save_pretrained(folder, legacy_format=False)
    tok.backend_tokenizer.model.save(str(folder))  # vocab.json and merges.txt, as the real repo has them
    _extras(folder, ["pytorch_model.bin", "tf_model.h5", "flax_model.msgpack", "rust_model.ot", "64.tflite",
                     "64-fp16.tflite", "onnx/decoder_model.onnx", "onnx/decoder_with_past_model.onnx"])


def gpt2(folder: Path) -> None:
    """openai-community/gpt2: GPT2LMHeadModel, tokenizer files, and the TF/Flax/Rust/TFLite/ONNX copies."""
    _gpt2(folder, n_layer=2)


def distilgpt2(folder: Path) -> None:
    _gpt2(folder, n_layer=1)



def _sentencepiece(texts: list[str], prefix: Path, vocab_size: int, **options) -> None:
    import sentencepiece as spm

    spm.SentencePieceTrainer.train(sentence_iterator=iter(texts), model_prefix=str(prefix), vocab_size=vocab_size,
                                   character_coverage=1.0, minloglevel=2, hard_vocab_limit=False,
                                   **options)


def _pairs() -> tuple[list[str], list[str]]:
    from training.translation_data import builtin_pairs

    train, _ = builtin_pairs(2000, 10)
    return [r["source"] for r in train], [r["target"] for r in train]


def opus_mt_en_fr(folder: Path, tmp: Path) -> None:
    """Helsinki-NLP/opus-mt-en-fr: MarianMTModel; source.spm, target.spm and vocab.json (MarianTokenizer needs
    sentencepiece); the .bin, .h5 and .ot copies."""
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    english, french = _pairs()
    _sentencepiece(english, tmp / "source", 200)
    _sentencepiece(french, tmp / "target", 200)
    import sentencepiece as spm

    pieces = ["</s>", "<unk>"]
    for name in ("source", "target"):
        sp = spm.SentencePieceProcessor(model_file=str(tmp / f"{name}.model"))
        pieces += [sp.id_to_piece(i) for i in range(sp.get_piece_size()) if sp.id_to_piece(i) not in pieces]
    pieces = [p for p in pieces if p not in ("<s>",)] + ["<pad>"]  # Marian: the pad token last, the decoder's start
    (tmp / "vocab.json").write_text(json.dumps({p: i for i, p in enumerate(pieces)}))
    tok = MarianTokenizer(str(tmp / "source.model"), str(tmp / "target.model"), str(tmp / "vocab.json"),
                          source_lang="en", target_lang="fr")
    pad = len(pieces) - 1
    config = MarianConfig(vocab_size=len(pieces), d_model=32, encoder_layers=1, decoder_layers=1,
                          encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
                          decoder_ffn_dim=64, max_position_embeddings=128, pad_token_id=pad,
                          decoder_start_token_id=pad, eos_token_id=0, forced_eos_token_id=0)
    MarianMTModel(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    _extras(folder, ["pytorch_model.bin", "tf_model.h5", "rust_model.ot"])


def t5_small(folder: Path, tmp: Path) -> None:
    """google-t5/t5-small: T5ForConditionalGeneration with task_specific_params (the prefix that asks for French),
    spiece.model and tokenizer.json; the .h5, .msgpack, .ot and ONNX copies."""
    import shutil

    from transformers import AutoTokenizer, T5Config, T5ForConditionalGeneration

    english, french = _pairs()
    _sentencepiece(["translate English to French: " + e for e in english] + french, tmp / "spiece", 300,
                   pad_id=0, eos_id=1, unk_id=2, bos_id=-1)
    shutil.copy(tmp / "spiece.model", folder / "spiece.model")
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "T5Tokenizer", "extra_ids": 100,
                                                              "model_max_length": 512}))
    tok = AutoTokenizer.from_pretrained(folder)
    tok.save_pretrained(folder)  # tokenizer.json, as the real repo has it
    config = T5Config(vocab_size=len(tok), d_model=32, d_kv=16, d_ff=64, num_layers=1, num_heads=2,
                      decoder_start_token_id=0, pad_token_id=0, eos_token_id=1, task_specific_params={
                          "translation_en_to_fr": {"early_stopping": True, "max_length": 300, "num_beams": 4,
                                                   "prefix": "translate English to French: "}})
    T5ForConditionalGeneration(config).save_pretrained(folder)
    _extras(folder, ["pytorch_model.bin", "tf_model.h5", "flax_model.msgpack", "rust_model.ot",
                     "onnx/encoder_model.onnx", "onnx/decoder_model.onnx"])



# ADE20K's 150 classes, as nvidia/segformer-*-ade-* list them in id2label.
ADE20K = ("wall building sky floor tree ceiling road bed windowpane grass cabinet sidewalk person earth door table "
          "mountain plant curtain chair car water painting sofa shelf house sea mirror rug field armchair seat fence "
          "desk rock wardrobe lamp bathtub railing cushion base box column signboard chest_of_drawers counter sand "
          "sink skyscraper fireplace refrigerator grandstand path stairs runway case pool_table pillow screen_door "
          "stairway river bridge bookcase blind coffee_table toilet flower book hill bench countertop stove palm "
          "kitchen_island computer swivel_chair boat bar arcade_machine hovel bus towel light truck tower chandelier "
          "awning streetlight booth television_receiver airplane dirt_track apparel pole land bannister escalator "
          "ottoman bottle buffet poster stage van ship fountain conveyer_belt canopy washer plaything swimming_pool "
          "stool barrel basket waterfall tent bag minibike cradle oven ball food step tank trade_name microwave pot "
          "animal bicycle lake dishwasher screen blanket sculpture hood sconce vase traffic_light tray ashcan fan "
          "pier crt_screen plate monitor bulletin_board shower radiator glass clock flag").split()
ADE20K = [name.replace("_", " ") for name in ADE20K]


def _coco() -> list[str]:
    """COCO's 91 category ids as the DETR-family repos name them (N/A in the gaps)."""
    from torchvision.models.detection import FasterRCNN_ResNet50_FPN_Weights

    return ["N/A" if c == "__background__" else c for c in FasterRCNN_ResNet50_FPN_Weights.DEFAULT.meta["categories"]]


def yolos_tiny(folder: Path) -> None:
    """hustvl/yolos-tiny: YolosForObjectDetection with COCO's 91 ids (N/A in the gaps) and its image processor."""
    from transformers import YolosConfig, YolosForObjectDetection

    coco = _coco()
    config = YolosConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                         image_size=[128, 160], num_detection_tokens=10, id2label=dict(enumerate(coco)),
                         label2id={c: i for i, c in enumerate(coco)})
    YolosForObjectDetection(config).save_pretrained(folder)
    # The real processor resizes to 800 x 1333 px; the mirror's to 128 x 160 (its tiny network, the same keys).
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "do_normalize": True, "do_resize": True, "format": "coco_detection", "image_mean": [0.485, 0.456, 0.406],
        "image_std": [0.229, 0.224, 0.225], "image_processor_type": "YolosImageProcessor",
        "size": {"shortest_edge": 128, "longest_edge": 160}}, indent=2))
    _extras(folder, ["pytorch_model.bin"])


def detr_resnet50(folder: Path) -> None:
    """facebook/detr-resnet-50 as its ``no_timm`` revision lays it out: DetrForObjectDetection over transformers' own
    ResNet (``backbone_config``; the main revision names timm's resnet50 instead, which cannot be shrunk through the
    config), COCO's 91 ids, and the processor. The mirror's ResNet has 8-64 channels and one block per stage."""
    from transformers import DetrConfig, DetrForObjectDetection, ResNetConfig

    coco = _coco()
    backbone = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16, 32, 64], depths=[1, 1, 1, 1],
                            layer_type="bottleneck", out_features=["stage1", "stage2", "stage3", "stage4"])
    config = DetrConfig(use_timm_backbone=False, backbone_config=backbone.to_dict(), d_model=32, encoder_layers=1,
                        decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
                        decoder_ffn_dim=64, num_queries=20, id2label=dict(enumerate(coco)),
                        label2id={c: i for i, c in enumerate(coco)})
    DetrForObjectDetection(config).save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "do_normalize": True, "do_resize": True, "do_pad": True, "format": "coco_detection",
        "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
        "image_processor_type": "DetrImageProcessor", "resample": 2, "rescale_factor": 0.00392156862745098,
        "size": {"shortest_edge": 128, "longest_edge": 160}}, indent=2))
    _extras(folder, ["pytorch_model.bin"])


def segformer_b0_ade(folder: Path) -> None:
    """nvidia/segformer-b0-finetuned-ade-512-512: SegformerForSemanticSegmentation, ADE20K's 150 classes."""
    from transformers import SegformerConfig, SegformerForSemanticSegmentation

    assert len(ADE20K) == 150
    config = SegformerConfig(hidden_sizes=[8, 16, 24, 32], depths=[1, 1, 1, 1], num_attention_heads=[1, 1, 1, 1],
                             decoder_hidden_size=32, id2label=dict(enumerate(ADE20K)),
                             label2id={c: i for i, c in enumerate(ADE20K)})
    SegformerForSemanticSegmentation(config).save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "do_normalize": True, "do_reduce_labels": True, "do_resize": True, "image_mean": [0.485, 0.456, 0.406],
        "image_std": [0.229, 0.224, 0.225], "image_processor_type": "SegformerImageProcessor", "resample": 2,
        "size": {"height": 512, "width": 512}}, indent=2))
    _extras(folder, ["pytorch_model.bin", "tf_model.h5"])


def ddpm_cifar10(folder: Path) -> None:
    """google/ddpm-cifar10-32: a diffusers DDPMPipeline (model_index.json, unet/, scheduler/). The real repo predates
    safetensors; whether it holds them beside the .bin cannot be checked offline, so the mirror has both."""
    from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel

    unet = UNet2DModel(sample_size=32, in_channels=3, out_channels=3, block_out_channels=(8, 16),
                       down_block_types=("DownBlock2D", "AttnDownBlock2D"), up_block_types=("AttnUpBlock2D", "UpBlock2D"),
                       layers_per_block=1, norm_num_groups=4)
    DDPMPipeline(unet=unet, scheduler=DDPMScheduler(num_train_timesteps=1000)).save_pretrained(folder)
    _extras(folder, ["unet/diffusion_pytorch_model.bin"])


def _wordpiece(folder: Path, texts: list[str], tokenizer_class: str):
    """vocab.txt (the special tokens, then the words and pieces of ``texts``, lower-cased as the uncased models have
    them) and the tokenizer files made from it; returns the tokenizer."""
    import re

    from transformers import AutoTokenizer

    words = sorted({w for t in texts for w in re.findall(r"\w+|[^\w\s]", t.lower())})
    chars = sorted({c for w in words for c in w})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars, *[f"##{c}" for c in chars], *words]
    (folder / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": tokenizer_class,
                                                              "do_lower_case": True, "model_max_length": 512}))
    tok = AutoTokenizer.from_pretrained(folder)
    tok.save_pretrained(folder)  # tokenizer.json beside vocab.txt, as the real repos have
    return tok


def _reviews() -> list[str]:
    from training.bert_data import builtin_sample

    sample = builtin_sample("sentiment")
    return [r["text"] for r in sample.train + sample.val]


def distilbert_sst2(folder: Path) -> None:
    """distilbert/distilbert-base-uncased-finetuned-sst-2-english: DistilBertForSequenceClassification (NEGATIVE,
    POSITIVE), vocab.txt, tokenizer_config.json; the .h5, .ot and ONNX copies."""
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    tok = _wordpiece(folder, _reviews(), "DistilBertTokenizer")
    config = DistilBertConfig(vocab_size=len(tok), dim=32, n_layers=1, n_heads=2, hidden_dim=64,
                              id2label={0: "NEGATIVE", 1: "POSITIVE"}, label2id={"NEGATIVE": 0, "POSITIVE": 1},
                              finetuning_task="sst-2")
    DistilBertForSequenceClassification(config).save_pretrained(folder)
    _extras(folder, ["pytorch_model.bin", "tf_model.h5", "rust_model.ot", "onnx/model.onnx"])


def bert_base_uncased(folder: Path) -> None:
    """google-bert/bert-base-uncased: BertForMaskedLM, vocab.txt, tokenizer.json; Flax, TF, Rust, Core ML, ONNX."""
    from transformers import BertConfig, BertForMaskedLM

    tok = _wordpiece(folder, _reviews(), "BertTokenizer")
    config = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, architectures=["BertForMaskedLM"])
    BertForMaskedLM(config).save_pretrained(folder)
    _extras(folder, ["pytorch_model.bin", "tf_model.h5", "flax_model.msgpack", "rust_model.ot",
                     "coreml/fill-mask/float32_model.mlpackage/Data/com.apple.CoreML/weights/weight.bin",
                     "model.onnx"])

# Each builder fills a folder (some also use a scratch folder).
MIRRORS: dict[str, Callable[..., None]] = {
    "timm/resnet50.a1_in1k": timm_resnet50,
    "timm/resnet18.a1_in1k": timm_resnet18,
    "google/vit-base-patch16-224": vit_base,
    "facebook/convnext-tiny-224": convnext_tiny,
    "openai-community/gpt2": gpt2,
    "distilbert/distilgpt2": distilgpt2,
    "Helsinki-NLP/opus-mt-en-fr": opus_mt_en_fr,
    "google-t5/t5-small": t5_small,
    "hustvl/yolos-tiny": yolos_tiny,
    "facebook/detr-resnet-50": detr_resnet50,
    "nvidia/segformer-b0-finetuned-ade-512-512": segformer_b0_ade,
    "google/ddpm-cifar10-32": ddpm_cifar10,
    "distilbert/distilbert-base-uncased-finetuned-sst-2-english": distilbert_sst2,
    "google-bert/bert-base-uncased": bert_base_uncased,
}


def push_mirror(hub_fixture, repo_id: str, tmp: Path) -> None:
    """Build ``repo_id``'s mirror and push it to the session's hub under its real id (once per session)."""
    from hub.client import Hub, push_folder
    from hub.server.storage import HubStore

    if hub_fixture.api().repo_exists(repo_id):
        return
    namespace = repo_id.split("/")[0]
    token = HubStore(hub_fixture.data_dir).add_token(namespace)
    folder, scratch = tmp / repo_id.replace("/", "--"), tmp / (repo_id.replace("/", "--") + "-scratch")
    folder.mkdir(parents=True)
    scratch.mkdir()
    build = MIRRORS[repo_id]
    build(folder, scratch) if build.__code__.co_argcount == 2 else build(folder)
    _card(folder, repo_id)
    from huggingface_hub import constants

    # By Git LFS, not Xet: the Xet client reuses chunks it sent before under another namespace's token, which this
    # hub refuses (it keeps each uploader's xorbs apart, docs/ARCHITECTURE.md); the mirrors do not test Xet.
    xet, constants.HF_HUB_DISABLE_XET = constants.HF_HUB_DISABLE_XET, True
    try:
        push_folder(folder, repo_id, Hub("url", hub_fixture.url, token), commit_message="Mirror (tiny weights)")
    finally:
        constants.HF_HUB_DISABLE_XET = xet
