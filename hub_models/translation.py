"""Sequence-to-sequence translation: a GRU encoder-decoder with no, additive or dot-product attention.

The encoder is a bidirectional GRU over the source words; the decoder is a GRU that, at each step,
reads the previous target word and a *context* vector. Without attention the context is the same
summary of the whole source at every step (Cho et al., 2014), a bottleneck for long sentences; with
attention it is a weighted mix of the encoder's states, weights recomputed per step from the
decoder's state: additive (Bahdanau et al., 2015: v . tanh(W q + U k)) or scaled dot-product
(Luong et al., 2015; the Transformer's). The weights are what the tab draws as a heat map.
Vocabularies travel in config.json (``Seq2Seq.from_pretrained(repo)`` is the whole model).

``transformer-tiny`` is a small encoder-decoder Transformer (BART's architecture via ``BartConfig``:
self-attention, multi-head cross-attention, learned positions) with a byte-level BPE shared by both
languages; it saves as a transformers folder that ``AutoModelForSeq2SeqLM`` loads, and any seq2seq
repo pulled from a hub (Marian, BART, T5...) runs through the same ``HFTranslator`` adapter.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from common.i18n import t

from .cache import model_cache
from .inference import InputError
from .textgen import beam_search, join_words, split_words
from .registry import Published

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = [PAD, BOS, EOS, UNK]
ATTENTIONS = ("none", "additive", "dot")
_HUB = dict(library_name="pytorch", tags=["dl-playground", "translation", "seq2seq"], pipeline_tag="translation",
            license="mit")


def build_vocab(sentences: list[str], max_size: int = 20000) -> list[str]:
    from collections import Counter

    counts = Counter(w for s in sentences for w in split_words(s))
    return SPECIALS + sorted(w for w, _ in counts.most_common(max_size - len(SPECIALS)))


class Seq2Seq(nn.Module, Published, **_HUB):
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
        for step in range(tgt_in.shape[1]):
            if step > 0:
                prev = tgt_in[:, step]
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


def train_shared_bpe(texts: list[str], vocab_size: int = 2000):
    """One byte-level BPE for both languages (BART's scheme), wrapped for transformers: <s> text </s>."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>")


def create_transformer(tokenizer, d_model: int = 128, layers: int = 2, heads: int = 4, max_positions: int = 128):
    from transformers import BartConfig, BartForConditionalGeneration

    cfg = BartConfig(vocab_size=len(tokenizer), d_model=d_model, encoder_layers=layers, decoder_layers=layers,
                     encoder_attention_heads=heads, decoder_attention_heads=heads, encoder_ffn_dim=4 * d_model,
                     decoder_ffn_dim=4 * d_model, max_position_embeddings=max_positions,
                     pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                     eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.eos_token_id,
                     forced_eos_token_id=tokenizer.eos_token_id, dropout=0.1)
    return BartForConditionalGeneration(cfg)


class HFTranslator:
    """A transformers seq2seq model and its tokenizer, behind the interface ``translate`` needs."""

    attention = "transformer"

    def __init__(self, model, tokenizer, prefix: str = ""):
        self.model, self.tokenizer = model.eval(), tokenizer
        self.prefix = prefix  # T5 is told the task in words: "translate English to French: "

    def tokens(self, ids: list[int]) -> list[str]:
        out = []
        for tok in self.tokenizer.convert_ids_to_tokens(ids):
            out.append(self.tokenizer.convert_tokens_to_string([tok]).strip() or tok)
        return out

    def translate(self, text: str, strategy: str, beam_width: int, max_len: int) -> dict[str, Any]:
        import torch

        enc = self.tokenizer(self.prefix + text, return_tensors="pt", truncation=True, max_length=512)
        n = beam_width if strategy == "beam" else 1
        with torch.no_grad():
            out = self.model.generate(**enc, num_beams=n, num_return_sequences=n, max_new_tokens=max_len,
                                      output_scores=True, return_dict_in_generate=True)
            best = out.sequences[:1]
            # Cross-attention of the last decoder layer, averaged over heads, for the chosen output.
            # Fused attention kernels return no weights. Models the UI loads are eager from the start
            # (load_translator), so this switch only happens to a model being trained, in its own thread.
            before = self.model.config._attn_implementation
            if before != "eager":
                self.model.set_attn_implementation("eager")
            try:
                fwd = self.model(**enc, decoder_input_ids=best[:, :-1], output_attentions=True)
            finally:
                if before != "eager":
                    self.model.set_attn_implementation(before)
        cross = fwd.cross_attentions or ()
        weights = cross[-1][0].mean(0) if cross else torch.zeros(best.shape[1] - 1, enc["input_ids"].shape[1])
        texts = self.tokenizer.batch_decode(out.sequences, skip_special_tokens=True)
        beams = []
        if strategy == "beam":
            scores = out.sequences_scores.tolist()  # length-normalised log-probabilities
            beams = [(text.strip(), s) for text, s in zip(texts, scores)]
        return {"translation": texts[0].strip(), "source_tokens": self.tokens(enc["input_ids"][0].tolist()),
                "target_tokens": self.tokens(best[0, 1:].tolist()), "attention": weights.tolist(), "beams": beams}


def translate(model: "Seq2Seq | HFTranslator", text: str, strategy: str = "greedy", beam_width: int = 4,
              max_len: int = 60) -> dict[str, Any]:
    """Translation, the source and target tokens, attention weights (target x source) and, for beam
    search, the kept beams with their log-probabilities."""
    if isinstance(model, HFTranslator):
        return model.translate(text, strategy, beam_width, max_len)
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
        beams = [(model.decode_target(ids), s) for ids, s in kept]
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


class LoadError(InputError):
    """A folder is not a translation model this tab can run."""


def load_translator(folder: str | Path) -> "Seq2Seq | HFTranslator":
    """Our Seq2Seq, or any transformers seq2seq model (with its tokenizer) from a folder."""
    folder = Path(folder)
    try:
        cfg = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        raise LoadError(t("translation.no_config", name=folder.name)) from None
    if "src_vocab" not in cfg or "tgt_vocab" not in cfg:
        import transformers
        from transformers.models.auto.modeling_auto import MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES

        kind = cfg.get("model_type") or (cfg.get("architectures") or [None])[0]
        if kind not in MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES:
            raise LoadError(t("translation.not_seq2seq", name=folder.name, kind=kind) if kind else
                            t("translation.not_seq2seq_unknown", name=folder.name))
        transformers.utils.logging.set_verbosity_error()
        try:
            model = transformers.AutoModelForSeq2SeqLM.from_pretrained(str(folder), attn_implementation="eager")
            return HFTranslator(model, transformers.AutoTokenizer.from_pretrained(str(folder)),
                                prefix=task_prefix(cfg))
        except (OSError, ValueError, RuntimeError, ImportError) as e:  # (ImportError: a tokenizer's library)
            raise LoadError(t("translation.cannot_load", name=folder.name, reason=str(e).splitlines()[0])) from None
    try:
        return Seq2Seq.from_pretrained(str(folder)).eval()
    except (OSError, ValueError, RuntimeError) as e:
        raise LoadError(t("translation.cannot_load", name=folder.name, reason=str(e).splitlines()[0])) from None


def task_prefix(config: dict) -> str:
    """The words a multi-task model (T5) is asked to translate with: English to French where it has them, else its
    first translation task's; "" for models that only translate."""
    tasks = config.get("task_specific_params") or {}
    chosen = tasks.get("translation_en_to_fr") or next(
        (v for k, v in sorted(tasks.items()) if k.startswith("translation_")), {})
    return chosen.get("prefix", "") if isinstance(chosen, dict) else ""


@model_cache(maxsize=4)
def _cached(folder: str) -> "Seq2Seq | HFTranslator":
    return load_translator(folder)


def load_cached(folder: str | Path) -> "Seq2Seq | HFTranslator":
    p = Path(folder)
    if not (p / "config.json").is_file():
        raise LoadError(t("translation.no_config_file", name=p.name))
    return _cached(str(p))
