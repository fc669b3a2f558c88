"""Sequence-to-sequence translation: a GRU encoder-decoder with no, additive or dot-product attention.

The encoder is a bidirectional GRU over the source words; the decoder is a GRU that, at each step,
reads the previous target word and a *context* vector. Without attention the context is the same
summary of the whole source at every step (Cho et al., 2014), a bottleneck for long sentences; with
attention it is a weighted mix of the encoder's states, weights recomputed per step from the
decoder's state: additive (Bahdanau et al., 2015: v . tanh(W q + U k)) or scaled dot-product
(Luong et al., 2015; the Transformer's). The weights are what the tab draws as a heat map.
Vocabularies travel in config.json (``Seq2Seq.from_pretrained(repo)`` is the whole model).
"""
from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from .textgen import beam_search, join_words, split_words

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = [PAD, BOS, EOS, UNK]
ATTENTIONS = ("none", "additive", "dot")
MODELS = {"gru": "none", "gru-additive-attention": "additive", "gru-dot-attention": "dot"}
_HUB = dict(library_name="pytorch", tags=["dl-playground", "translation", "seq2seq"], pipeline_tag="translation",
            license="mit")


def build_vocab(sentences: list[str], max_size: int = 20000) -> list[str]:
    from collections import Counter

    counts = Counter(w for s in sentences for w in split_words(s))
    return SPECIALS + sorted(w for w, _ in counts.most_common(max_size - len(SPECIALS)))


class Seq2Seq(nn.Module, PyTorchModelHubMixin, **_HUB):
    def __init__(self, src_vocab: list[str], tgt_vocab: list[str], attention: str = "additive", embed_size: int = 64,
                 hidden_size: int = 128, dropout: float = 0.1, source_lang: str = "", target_lang: str = ""):
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {', '.join(ATTENTIONS)}, got {attention!r}")
        self.src_vocab, self.tgt_vocab, self.attention = list(src_vocab), list(tgt_vocab), attention
        self.source_lang, self.target_lang = source_lang, target_lang
        self.src_index = {w: i for i, w in enumerate(self.src_vocab)}
        self.tgt_index = {w: i for i, w in enumerate(self.tgt_vocab)}
        h = hidden_size
        self.src_embed = nn.Embedding(len(src_vocab), embed_size, padding_idx=0)
        self.tgt_embed = nn.Embedding(len(tgt_vocab), embed_size, padding_idx=0)
        self.encoder = nn.GRU(embed_size, h, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * h, h)  # final encoder states -> the decoder's first state
        self.keys = nn.Linear(2 * h, h, bias=False)  # encoder states in the decoder's space
        if attention == "additive":
            self.query = nn.Linear(h, h, bias=False)
            self.score = nn.Linear(h, 1, bias=False)
        elif attention == "dot":
            self.query = nn.Linear(h, h, bias=False)
        self.decoder = nn.GRUCell(embed_size + h, h)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(2 * h + embed_size, len(tgt_vocab))

    # ---------------------------------------------------------------- tokens
    def encode_source(self, text: str) -> list[int]:
        unk = self.src_index[UNK]
        return [self.src_index.get(w, unk) for w in split_words(text)] + [self.src_index[EOS]]

    def encode_target(self, text: str) -> list[int]:
        unk = self.tgt_index[UNK]
        return [self.tgt_index.get(w, unk) for w in split_words(text)] + [self.tgt_index[EOS]]

    def decode_target(self, ids: list[int]) -> str:
        words = []
        for i in ids:
            if i == self.tgt_index[EOS]:
                break
            if self.tgt_vocab[i] not in (PAD, BOS):
                words.append(self.tgt_vocab[i])
        return join_words(words)

    def source_tokens(self, text: str) -> list[str]:
        return [w if w in self.src_index else UNK for w in split_words(text)] + [EOS]

    # --------------------------------------------------------------- network
    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(keys (B, S, H), mask (B, S), first decoder state (B, H), no-attention context (B, H))."""
        mask = src != 0
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(self.dropout(self.src_embed(src)), lengths, batch_first=True,
                                                   enforce_sorted=False)
        out, last = self.encoder(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        summary = torch.tanh(self.bridge(torch.cat([last[0], last[1]], dim=-1)))  # both directions' ends
        return self.keys(out), mask, summary, summary

    def attend(self, h: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor, fixed: torch.Tensor):
        """Context (B, H) and weights (B, S) for decoder state ``h`` (B, H)."""
        if self.attention == "none":
            return fixed, torch.zeros(keys.shape[:2], device=keys.device)
        if self.attention == "additive":
            scores = self.score(torch.tanh(self.query(h).unsqueeze(1) + keys)).squeeze(-1)
        else:
            scores = (keys @ self.query(h).unsqueeze(-1)).squeeze(-1) / math.sqrt(keys.shape[-1])
        weights = scores.masked_fill(~mask, float("-inf")).softmax(-1)
        return (weights.unsqueeze(1) @ keys).squeeze(1), weights

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor, teacher_forcing: float = 1.0
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, T, V) and attention weights (B, T, S) for target inputs ``tgt_in`` (BOS first).

        With ``teacher_forcing`` < 1, each step feeds the model's own previous guess instead of the
        true word with that probability (scheduled sampling), so training looks more like decoding.
        """
        keys, mask, h, fixed = self.encode(src)
        logits, weights = [], []
        prev = tgt_in[:, 0]
        for t in range(tgt_in.shape[1]):
            if t > 0:
                prev = tgt_in[:, t]
                if teacher_forcing < 1.0 and self.training:
                    own = logits[-1].argmax(-1)
                    prev = torch.where(torch.rand(prev.shape, device=prev.device) < teacher_forcing, prev, own)
            emb = self.dropout(self.tgt_embed(prev))
            ctx, w = self.attend(h, keys, mask, fixed)
            h = self.decoder(torch.cat([emb, ctx], dim=-1), h)
            logits.append(self.out(self.dropout(torch.cat([h, ctx, emb], dim=-1))))
            weights.append(w)
        return torch.stack(logits, 1), torch.stack(weights, 1)

    @torch.no_grad()
    def greedy(self, src: torch.Tensor, max_len: int = 60) -> tuple[list[list[int]], torch.Tensor]:
        """Greedy decoding of a batch: target ids (up to EOS) and the attention weights (B, T, S)."""
        keys, mask, h, fixed = self.encode(src)
        prev = torch.full((src.shape[0],), self.tgt_index[BOS], dtype=torch.long, device=src.device)
        out, weights = [], []
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len):
            ctx, w = self.attend(h, keys, mask, fixed)
            emb = self.tgt_embed(prev)
            h = self.decoder(torch.cat([emb, ctx], dim=-1), h)
            prev = self.out(torch.cat([h, ctx, emb], dim=-1)).argmax(-1)
            out.append(prev)
            weights.append(w)
            done |= prev == self.tgt_index[EOS]
            if done.all():
                break
        ids = torch.stack(out, 1).tolist()
        return [row[:row.index(self.tgt_index[EOS]) + 1] if self.tgt_index[EOS] in row else row for row in ids], \
            torch.stack(weights, 1)


def translate(model: Seq2Seq, text: str, strategy: str = "greedy", beam_width: int = 4, max_len: int = 60
              ) -> dict[str, Any]:
    """Translation, the source and target tokens, attention weights (target x source) and, for beam
    search, the kept beams with their total log-probabilities."""
    model.eval()
    src_ids = model.encode_source(text)
    src = torch.tensor([src_ids])
    beams: list[tuple[str, float]] = []
    if strategy == "beam":
        def step(ids: torch.Tensor, state: Any):
            with torch.no_grad():
                logits, _ = model(src, ids)
            return logits[:, -1].log_softmax(-1), state

        kept = beam_search(step, [model.tgt_index[BOS]], max_len, beam_width, eos=model.tgt_index[EOS])
        beams = [(model.decode_target(t), s) for t, s in kept]
        best = kept[0][0]
        with torch.no_grad():
            _, weights = model(src, torch.tensor([[model.tgt_index[BOS], *best[:-1]]]) if best else
                               torch.tensor([[model.tgt_index[BOS]]]))
        ids = best
    else:
        out, weights = model.greedy(src, max_len)
        ids = out[0]
    tgt_tokens = [model.tgt_vocab[i] for i in ids]
    return {"translation": model.decode_target(ids), "source_tokens": model.source_tokens(text),
            "target_tokens": tgt_tokens, "attention": weights[0, :len(tgt_tokens)].tolist(), "beams": beams}


class LoadError(ValueError):
    """A folder is not a translation model this tab can run."""


def load_translator(folder: str | Path) -> Seq2Seq:
    folder = Path(folder)
    try:
        cfg = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        raise LoadError(f"{folder.name} has no readable config.json: not a model") from None
    if "src_vocab" not in cfg or "tgt_vocab" not in cfg:
        kind = cfg.get("model_type") or (cfg.get("architectures") or ["an unknown kind of"])[0]
        raise LoadError(f"{folder.name} is a {kind} model, not one of this tab's translation models")
    try:
        return Seq2Seq.from_pretrained(str(folder)).eval()
    except (OSError, ValueError, RuntimeError) as e:
        raise LoadError(f"cannot load {folder.name}: {str(e).splitlines()[0]}") from None


@lru_cache(maxsize=4)
def _cached(folder: str, stamp: float) -> Seq2Seq:
    return load_translator(folder)


def load_cached(folder: str | Path) -> Seq2Seq:
    p = Path(folder)
    try:
        return _cached(str(p), (p / "config.json").stat().st_mtime)
    except OSError:
        raise LoadError(f"{p.name} has no config.json: not a model") from None
