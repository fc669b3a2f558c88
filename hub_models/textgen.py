"""Language models for the text generation tab, and the decoding strategies they share.

Two families:
- ``RNNLM``: our character- or word-level RNN / GRU / LSTM (the vocabulary travels in config.json,
  so ``RNNLM.from_pretrained(repo)`` is the whole model);
- a small decoder-only Transformer built with transformers (``GPT2Config``) and a byte-level BPE
  tokenizer trained on the corpus, saved so that ``AutoModelForCausalLM`` / ``AutoTokenizer`` load it.

Decoding (greedy, sampling with temperature / top-k / top-p, beam search) is written once over a
``step(tokens, state) -> (log-probs, state)`` function, so both families use the same code and a
learner can read beam search in thirty lines. ``catalog.LANGUAGE_MODELS`` is the registry the UI, CLI and tests read.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch import nn

from common.i18n import t

from .cache import model_cache
from .catalog import LANGUAGE_MODELS
from .inference import InputError
from .registry import Published

_HUB = dict(library_name="pytorch", tags=["dl-playground", "text-generation"], pipeline_tag="text-generation",
            license="mit")
CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
UNK = "<unk>"

# ------------------------------------------------------------------ tokenisers
WORD_RE = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]|\n")  # "it's" stays one word


def split_words(text: str) -> list[str]:
    """Words, punctuation and line breaks as tokens; other white space is implied between them."""
    return WORD_RE.findall(text)


def join_words(tokens: list[str]) -> str:
    out = ""
    for tok in tokens:
        if not out or out.endswith(("\n", "(", "[", "{")) or tok == "\n" or (
                len(tok) == 1 and not tok.isalnum() and tok not in "([{\"'"):
            out += tok
        else:
            out += " " + tok
    return out


def build_vocab(text: str, level: str, max_words: int = 8000) -> list[str]:
    """The vocabulary of a corpus: every character, or the most frequent words plus ``<unk>``."""
    from collections import Counter

    if level == "char":
        return sorted(set(text))
    counts = Counter(split_words(text))
    return [UNK, *sorted(w for w, _ in counts.most_common(max_words - 1))]


class RNNLM(nn.Module, Published, **_HUB):
    """Embedding -> RNN/GRU/LSTM (stacked) -> linear over the vocabulary; predicts the next token.

    Gradients through long sequences explode in plain RNNs: train with gradient clipping (the
    trainer's default). A bidirectional RNN cannot be a language model (it would read the answer),
    which is why there is no such option here.
    """

    def __init__(self, vocab: list[str], level: str = "char", cell: str = "lstm", embed_size: int = 64,
                 hidden_size: int = 256, num_layers: int = 2, dropout: float = 0.1):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join(CELLS)}")
        if level not in ("char", "word"):
            raise ValueError(f"level must be char or word, got {level!r}")
        self.vocab, self.level, self.cell = list(vocab), level, cell
        self.index = {tok: i for i, tok in enumerate(self.vocab)}
        self.embed = nn.Embedding(len(vocab), embed_size)
        self.rnn = CELLS[cell](embed_size, hidden_size, num_layers, batch_first=True,
                               dropout=dropout if num_layers > 1 else 0.0)
        self.head = nn.Linear(hidden_size, len(vocab))

    def forward(self, ids: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        out, state = self.rnn(self.embed(ids), state)  # (B, T) -> (B, T, H)
        return self.head(out), state  # logits (B, T, V)

    def encode(self, text: str) -> list[int]:
        if self.level == "char":
            return [self.index[c] for c in text if c in self.index]
        unk = self.index.get(UNK, 0)
        return [self.index.get(w, unk) for w in split_words(text)]

    def decode(self, ids: list[int]) -> str:
        tokens = [self.vocab[i] for i in ids]
        return "".join(tokens) if self.level == "char" else join_words(tokens)


def create_model(name: str, vocab: list[str] | None = None, **overrides: Any) -> nn.Module:
    """A fresh registered model; ``vocab`` for RNNs; for GPT-2, ``vocab_size`` and the tokenizer's
    ``eos_token_id`` in overrides (GPT2Config's defaults point at token 50256 of OpenAI's vocabulary)."""
    if name not in LANGUAGE_MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(LANGUAGE_MODELS)}")
    entry = LANGUAGE_MODELS[name]
    return entry.create(vocab=vocab or [], **overrides) if entry.family == "rnn" else entry.create(**overrides)


def tiny_gpt2(vocab_size: int, eos_token_id: int = 0, n_positions: int = 256, **kw: Any):
    """A GPT-2 of the given size (transformers), its begin and end tokens the tokenizer's end of text."""
    from transformers import GPT2Config, GPT2LMHeadModel

    return GPT2LMHeadModel(GPT2Config(vocab_size=vocab_size, n_positions=n_positions, bos_token_id=eos_token_id,
                                      eos_token_id=eos_token_id, **kw))


def train_bpe(text: str, vocab_size: int = 1024):
    """A byte-level BPE tokenizer (GPT-2's scheme) trained on ``text``, as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([text[i:i + 10_000] for i in range(0, len(text), 10_000)], trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   unk_token="<|endoftext|>")


# ------------------------------------------------------------------- loading
class LoadError(InputError):
    """A folder is not a language model this tab can run; the message says why."""


@dataclass
class LM:
    """A loaded language model behind one interface: encode, decode, and one decoding step."""

    model: nn.Module
    kind: str  # "rnn" or "hf"
    tokenizer: Any = None
    max_context: int = 1024

    def encode(self, text: str) -> list[int]:
        if self.kind == "rnn":
            return self.model.encode(text)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def decode(self, ids: list[int]) -> str:
        if self.kind == "rnn":
            return self.model.decode(ids)
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    @property
    def eos(self) -> int | None:
        return None if self.kind == "rnn" else self.tokenizer.eos_token_id

    def step(self, ids: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """Log-probabilities of the next token after ``ids`` (B, T) given ``state`` (the cache of what came
        before, None at first); only the new tokens are fed once a state exists."""
        with torch.no_grad():
            if self.kind == "rnn":
                logits, state = self.model(ids, state)
            else:
                ids = ids[:, -self.max_context:] if state is None else ids
                out = self.model(input_ids=ids, past_key_values=state, use_cache=True)
                logits, state = out.logits, out.past_key_values
        return logits[:, -1].float().log_softmax(-1), state


def load_lm(folder: str | Path) -> LM:
    """Our RNNLM or any transformers causal LM from a folder (trained here or pulled)."""
    folder = Path(folder)
    try:
        cfg = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        raise LoadError(t("textgen.no_config", name=folder.name)) from None
    if "vocab" in cfg and "cell" in cfg:
        try:
            return LM(RNNLM.from_pretrained(str(folder)).eval(), "rnn")
        except (OSError, ValueError, RuntimeError) as e:
            raise LoadError(t("textgen.cannot_load", name=folder.name, reason=str(e).splitlines()[0])) from None
    import transformers
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    model_type = cfg.get("model_type")
    if model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        arch = (cfg.get("architectures") or ["?"])[0]
        raise LoadError(t("textgen.not_causal", name=folder.name, model_type=model_type, arch=arch) if model_type
                        else t("textgen.not_causal_other", name=folder.name, arch=arch))
    transformers.utils.logging.set_verbosity_error()
    try:
        tok = transformers.AutoTokenizer.from_pretrained(str(folder))
        model = transformers.AutoModelForCausalLM.from_pretrained(str(folder)).eval()
    except (OSError, ValueError, RuntimeError) as e:
        raise LoadError(t("textgen.cannot_load", name=folder.name, reason=str(e).splitlines()[0])) from None
    n_ctx = getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", 1024)
    return LM(model, "hf", tok, int(n_ctx))


# ------------------------------------------------------------------ decoding
def _filter(logp: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Keep the k most likely tokens and the smallest set whose probability reaches p; -inf elsewhere."""
    if top_k and top_k < logp.shape[-1]:
        kth = logp.topk(top_k, dim=-1).values[..., -1:]
        logp = logp.masked_fill(logp < kth, float("-inf"))
    if 0 < top_p < 1:
        sorted_lp, order = logp.sort(dim=-1, descending=True)
        cum = sorted_lp.softmax(-1).cumsum(-1)
        drop = cum - sorted_lp.softmax(-1) >= top_p  # tokens after the nucleus is full
        logp = logp.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logp


def sampled(lm: LM, prompt_ids: list[int], max_new: int, *, greedy: bool = False, temperature: float = 1.0,
            top_k: int = 0, top_p: float = 1.0, generator: torch.Generator | None = None,
            stop_at_eos: bool = True) -> Iterator[tuple[int, float]]:
    """Next tokens one by one, each with its log-probability under the model (before temperature and filters):
    greedy (argmax) or sampled from the tempered, filtered distribution."""
    ids = torch.tensor([prompt_ids], dtype=torch.long)
    state = None
    for _ in range(max_new):
        logp, state = lm.step(ids, state)
        if greedy:
            nxt = int(logp.argmax(-1))
        else:
            probs = _filter(logp / max(temperature, 1e-4), top_k, top_p).softmax(-1)
            nxt = int(torch.multinomial(probs, 1, generator=generator))
        yield nxt, float(logp.reshape(-1)[nxt])
        if stop_at_eos and nxt == lm.eos:
            return
        ids = torch.tensor([[nxt]])


def sample_stream(lm: LM, prompt_ids: list[int], max_new: int, **kwargs: Any) -> Iterator[int]:
    """The tokens of ``sampled`` (same options), without their log-probabilities."""
    return (tok for tok, _ in sampled(lm, prompt_ids, max_new, **kwargs))


def beam_search(step: Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]], prompt_ids: list[int], max_new: int,
                beam_width: int, eos: int | None = None, length_penalty: float = 1.0) -> list[tuple[list[int], float]]:
    """Keep the ``beam_width`` best continuations by total log-probability at every step.

    ``step(ids (1, T), state)`` returns log-probs (1, V) and the new state (states are cloned per beam
    by re-running from the prompt, which keeps this readable rather than fast). Finished beams (eos)
    are ranked by score / length ** length_penalty. Returns [(new tokens, score)], best first.
    """
    beams: list[tuple[list[int], float]] = [([], 0.0)]
    finished: list[tuple[list[int], float]] = []
    for _ in range(max_new):
        candidates = []
        for tokens, score in beams:
            logp, _ = step(torch.tensor([prompt_ids + tokens]), None)
            top = logp[0].topk(min(beam_width, logp.shape[-1]))
            candidates += [(tokens + [int(i)], score + float(v)) for v, i in zip(top.values, top.indices)]
        candidates.sort(key=lambda c: c[1], reverse=True)
        beams = []
        for tokens, score in candidates:
            (finished if eos is not None and tokens[-1] == eos else beams).append((tokens, score))
            if len(beams) == beam_width:
                break
        if not beams:
            break
    pool = finished + beams
    pool.sort(key=lambda c: c[1] / max(1, len(c[0])) ** length_penalty, reverse=True)
    return pool[:beam_width]


STRATEGIES = ("greedy", "sample", "beam")


def _prompt_ids(lm: LM, prompt: str, max_new: int) -> tuple[list[int], int]:
    """The prompt's ids and the number of new tokens there is room for."""
    ids = lm.encode(prompt)
    if not ids:  # nothing of the prompt is in the vocabulary (or no prompt): start from a neutral token
        ids = [lm.eos] if lm.eos is not None else lm.encode("\n") or [0]
    if lm.kind == "hf":  # positions are finite: keep the prompt's end and room for the new tokens
        max_new = min(max_new, lm.max_context - 1)
        ids = ids[-(lm.max_context - max_new):]
    return ids, max_new


def stream_tokens(lm: LM, prompt: str, max_new: int = 200, *, greedy: bool = False, temperature: float = 0.8,
                  top_k: int = 0, top_p: float = 0.95, seed: int | None = None) -> Iterator[tuple[int, float, str]]:
    """(token id, its log-probability, the text so far: the prompt and what follows) as tokens are made."""
    ids, max_new = _prompt_ids(lm, prompt, max_new)
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    new: list[int] = []
    for tok, logprob in sampled(lm, ids, max_new, greedy=greedy, temperature=temperature, top_k=top_k, top_p=top_p,
                                generator=gen):
        new.append(tok)
        yield tok, logprob, _continue(prompt, lm.decode(new), lm)


def generate(lm: LM, prompt: str, max_new: int = 200, strategy: str = "sample", *, temperature: float = 0.8,
             top_k: int = 0, top_p: float = 0.95, beam_width: int = 4, seed: int | None = None
             ) -> Iterator[tuple[str, list[tuple[str, float]]]]:
    """(text so far, beams) as tokens are made: sampling and greedy stream token by token; beam
    search yields once, with every kept beam and its total log-probability."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}")
    if strategy == "beam":
        ids, max_new = _prompt_ids(lm, prompt, max_new)
        beams = beam_search(lm.step, ids, max_new, beam_width, eos=lm.eos)
        shown = [(lm.decode(ids), s) for ids, s in beams]
        yield _continue(prompt, shown[0][0], lm), shown
        return
    for _, _, text in stream_tokens(lm, prompt, max_new, greedy=strategy == "greedy", temperature=temperature,
                                    top_k=top_k, top_p=top_p, seed=seed):
        yield text, []


def _continue(prompt: str, new: str, lm: LM) -> str:
    """Words are joined with spaces by the word-level decoder; the prompt needs one before the first."""
    word_level = lm.kind == "rnn" and lm.model.level == "word"
    return prompt + (" " if word_level and prompt and new[:1].isalnum() and not prompt.endswith(("\n", " ")) else "") + new


@model_cache(maxsize=4)
def _cached(folder: str) -> LM:
    return load_lm(folder)


def load_cached(folder: str | Path) -> LM:
    """load_lm, kept for the next request; reloaded when the folder's config changes."""
    p = Path(folder)
    if not (p / "config.json").is_file():
        raise LoadError(t("textgen.no_config_file", name=p.name))
    return _cached(str(p))
