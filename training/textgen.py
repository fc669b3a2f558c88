"""Language models: train a character/word RNN, GRU, LSTM or a tiny GPT-2 on a corpus.

    python -m training textgen --model char-lstm --dataset python-docs --epochs 5 --output-dir out

The built-in corpus is the Python Language Reference's topic texts (``pydoc_data.topics``, part of
every Python install; PSF License), 465 KB of English technical prose. Metrics: validation loss and
perplexity per token (and bits per character for character models); a sample after each epoch.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from common.i18n import t
from hub.client import local_path

from .config import TrainingError, to_dict
from .engine import TaskSpec, base_model_id, pretrained_transformers
from .tasks.textgen import CORPORA, TextGenConfig
from .bert_data import check_text_file, read_table


def load_corpus(cfg: TextGenConfig) -> tuple[str, str]:
    """(text, name) of the corpus the config names."""
    if cfg.dataset == "python-docs":
        from pydoc_data.topics import topics

        return "\n\n".join(topics[k].strip() for k in sorted(topics)), "python-docs"
    path = local_path(cfg.dataset)
    if path.is_file():
        check_text_file(path)
        try:
            return path.read_text(encoding="utf-8"), path.name
        except UnicodeDecodeError:
            raise TrainingError(t("trainer.not_utf8", name=path.name)) from None
    if path.exists():
        raise TrainingError(t("trainer.not_a_file", path=path))
    df = read_table(cfg.dataset, cfg.hub)
    if cfg.text_column not in df.columns:
        raise TrainingError(t("trainer.no_text_column", spec=cfg.dataset, column=cfg.text_column,
                              columns=", ".join(map(str, df.columns))))
    return "\n\n".join(str(t) for t in df[cfg.text_column] if isinstance(t, str)), cfg.dataset


class Chunks(torch.utils.data.Dataset):
    """Consecutive (input, target) windows of a token stream; the target is the input shifted by one."""

    def __init__(self, ids: torch.Tensor, seq_len: int):
        self.ids, self.seq_len = ids, seq_len
        self.n = max(0, (len(ids) - 1) // seq_len)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        s = i * self.seq_len
        return self.ids[s:s + self.seq_len], self.ids[s + 1:s + self.seq_len + 1]


def pretrained_lm(cfg: TextGenConfig):
    """(model, tokenizer) of the causal LM --init-from names, pulled from --hub if it is a repo id."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    model, tok, _ = pretrained_transformers(cfg.init_from, cfg.hub, "AutoModelForCausalLM",
                                            MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
                                            t("trainer.what_causal_lm"))
    if cfg.seq_len > getattr(model.config, "n_positions", getattr(model.config, "max_position_embeddings", 1 << 30)):
        raise TrainingError(t("trainer.seq_len_too_long", seq_len=cfg.seq_len, model=cfg.init_from))
    return model, tok


def build_task(cfg: TextGenConfig) -> TaskSpec:
    from hub_models.catalog import LANGUAGE_MODELS
    from hub_models.textgen import LM, build_vocab, create_model, generate, train_bpe

    entry = LANGUAGE_MODELS[cfg.model]
    family, level = ("gpt2", None) if cfg.init_from else (entry.family, entry.defaults.get("level"))
    text, name = load_corpus(cfg)
    if cfg.max_chars:
        text = text[:cfg.max_chars]
    if cfg.dry_run:
        text = text[:20_000]
    if len(text.strip()) < 200:
        raise TrainingError(t("trainer.corpus_too_short", count=len(text.strip())))
    notes = [f"corpus: {name}, {len(text):,} characters"]
    torch.manual_seed(cfg.seed)
    overrides: dict[str, Any] = {}
    if family == "rnn":
        if cfg.hidden_size:
            overrides["hidden_size"] = cfg.hidden_size
        if cfg.num_layers:
            overrides["num_layers"] = cfg.num_layers
        model = create_model(cfg.model, build_vocab(text, level), **overrides)
        lm = LM(model, "rnn")
        ids = torch.tensor(model.encode(text), dtype=torch.long)
        notes.append(f"vocabulary: {len(model.vocab)} {'characters' if level == 'char' else 'words'}")
        if level == "word":
            unk = (ids == model.index["<unk>"]).float().mean().item()
            # i18n: not shown (a log line)
            notes.append(f"{unk:.1%} of the words are outside the {len(model.vocab)}-word vocabulary (<unk>)")
    elif cfg.init_from:
        model, tok = pretrained_lm(cfg)
        lm = LM(model, "hf", tok, model.config.n_positions)
        ids = torch.tensor(tok(text)["input_ids"], dtype=torch.long)
        # i18n: not shown (a log line)
        notes.append(f"fine-tuning {cfg.init_from} ({sum(p.numel() for p in model.parameters()):,} parameters) with "
                     f"its own tokenizer: {len(tok):,} tokens, {len(text) / len(ids):.2f} characters per token")
    else:
        tok = train_bpe(text, vocab_size=1024 if not cfg.dry_run else 300)
        if cfg.hidden_size:
            overrides["n_embd"] = cfg.hidden_size
        if cfg.num_layers:
            overrides["n_layer"] = cfg.num_layers
        model = create_model(cfg.model, vocab_size=len(tok), n_positions=max(256, cfg.seq_len),
                             eos_token_id=tok.eos_token_id, **overrides)
        lm = LM(model, "hf", tok, model.config.n_positions)
        ids = torch.tensor(tok(text)["input_ids"], dtype=torch.long)
        # i18n: not shown (a log line)
        notes.append(f"byte-level BPE trained on the corpus: {len(tok)} tokens, {len(text) / len(ids):.2f} "
                     f"characters per token")
    n_val = max(cfg.seq_len + 1, int(len(ids) * cfg.val_fraction))
    if len(ids) < n_val + cfg.seq_len + 1:
        raise TrainingError(t("trainer.corpus_too_few_tokens", count=len(ids), seq_len=cfg.seq_len))
    train_ds, val_ds = Chunks(ids[:-n_val], cfg.seq_len), Chunks(ids[-n_val:], cfg.seq_len)
    chars_per_token = len(text) / len(ids)

    def logits_of(m, x):
        return m(x)[0] if family == "rnn" else m(input_ids=x).logits

    def loss(m, batch) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(logits_of(m, x).flatten(0, 1), y.flatten())

    def evaluate(m, loader, accelerator) -> dict[str, float]:
        m.eval()
        total, n = 0.0, 0
        with torch.no_grad():
            for x, y in loader:
                total += F.cross_entropy(logits_of(m, x).flatten(0, 1), y.flatten(), reduction="sum").item()
                n += y.numel()
        m.train()
        nll = total / max(1, n)
        metrics = {"perplexity": math.exp(min(nll, 50)), "loss": nll}
        if level == "char":
            metrics["bits_per_char"] = nll / math.log(2)
        else:
            metrics["bits_per_char"] = nll / math.log(2) / chars_per_token
        return metrics

    def sample(m) -> str:
        m.eval()
        shown = LM(m, lm.kind, lm.tokenizer, lm.max_context)
        text_ = ""
        for text_, _ in generate(shown, cfg.sample_prompt, cfg.sample_tokens, "sample", temperature=0.8,
                                 seed=cfg.seed):
            pass
        m.train()
        return text_

    def save(m, out: Path, metrics: dict[str, float]) -> None:
        from hub.card import CardInfo, write_card

        m.save_pretrained(out)
        if family != "rnn":
            lm.tokenizer.save_pretrained(out)
        (out / "sample.txt").write_text(sample(m))
        repo = cfg.push_to_hub or f"local/{cfg.model}-{name.replace('/', '-')}"
        n_params = sum(p.numel() for p in m.parameters())
        if family == "rnn":
            library, usage = "pytorch", (
                f"from hub_models.textgen import RNNLM, LM, generate\n"  # i18n: kept (code)
                f"model = RNNLM.from_pretrained(\"{repo}\")\n"
                f"for text, _ in generate(LM(model, \"rnn\"), \"The \", 200): pass\nprint(text)")
        else:
            library, usage = "transformers", (
                # i18n: kept (code)
                f"from transformers import pipeline\ngen = pipeline(\"text-generation\", model=\"{repo}\")\n"
                f"print(gen(\"The \", max_new_tokens=100, do_sample=True, temperature=0.8)[0][\"generated_text\"])")
        base = base_model_id(cfg.init_from)
        kind = {"char": t("card.textgen_model_char"), "word": t("card.textgen_model_word")}.get(
            level, t("card.textgen_model"))
        corpus = {"python-docs": t("card.textgen_data_python_docs")}.get(name, CORPORA.get(name))
        data = t("card.data_described", name=name, description=corpus or t("card.textgen_data_user"))
        facts = dict(model=kind, cls=type(m).__name__, params=n_params, data=data, seq_len=cfg.seq_len)
        summary = (t("card.textgen_summary_finetuned", base=cfg.init_from, **facts) if cfg.init_from
                   else t("card.textgen_summary_scratch", **facts))
        write_card(out, CardInfo(
            repo_id=repo, title=t("card.textgen_title", model=cfg.init_from or cfg.model, data=name),
            base_model=base,
            summary=summary + "\n\n> " + (out / "sample.txt").read_text()[:400].replace("\n", "\n> "),
            pipeline_tag="text-generation", task_name="Text Generation", library_name=library,
            tags=[cfg.model, level], datasets=[] if name in CORPORA or Path(cfg.dataset).exists() else [cfg.dataset],
            dataset_name=name, metrics=metrics,
            training=to_dict(cfg),
            usage=usage))

    return TaskSpec(model=model, train_data=train_ds, val_data=val_ds, loss=loss, evaluate=evaluate, save=save,
                    notes=notes, sample=sample)
