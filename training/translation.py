"""Translation: train a GRU encoder-decoder (no, additive or dot-product attention) on sentence pairs.

    python -m training translation --model gru-additive-attention --dataset en-fr --epochs 5 --output-dir out

Teacher forcing feeds the true previous word while training (``--teacher-forcing`` below 1 mixes in
the model's own guesses). BLEU and chrF (sacrebleu) of greedy translations of the validation split
are computed after every epoch, with a few sample translations to watch.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

from common.i18n import t
from hub_models.catalog import TRANSLATORS

from .config import TrainingError, to_dict
from .engine import TaskSpec, base_model_id, pretrained_transformers
from .tasks.translation import BUILTIN, TranslationConfig
from .translation_data import builtin_pairs, table_pairs


class _Pairs(torch.utils.data.Dataset):
    def __init__(self, pairs: list[tuple[list[int], list[int]]]):
        self.pairs = pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> tuple[list[int], list[int]]:
        return self.pairs[i]


def _pad(rows: list[list[int]]) -> torch.Tensor:
    out = torch.zeros(len(rows), max(len(r) for r in rows), dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, :len(r)] = torch.tensor(r)
    return out


def build_task(cfg: TranslationConfig) -> TaskSpec:
    from hub_models.translation import split_words

    if cfg.dataset in BUILTIN:
        train_rows, val_rows = builtin_pairs(seed=cfg.seed)
        notes, name, langs = [], cfg.dataset, ("en", "fr")
    else:
        train_rows, val_rows, notes = table_pairs(cfg.dataset, cfg.hub, cfg.source_column, cfg.target_column,
                                                  cfg.val_split, cfg.seed)
        name, langs = Path(cfg.dataset).name if Path(cfg.dataset).exists() else cfg.dataset, ("", "")
    if cfg.dry_run:
        train_rows, val_rows = train_rows[:32], val_rows[:8]

    def short(r):
        return len(split_words(r["source"])) <= cfg.max_len and len(split_words(r["target"])) <= cfg.max_len

    kept = [r for r in train_rows if short(r)]
    if len(kept) < len(train_rows):
        # i18n: not shown (a log line)
        notes.append(f"dropped {len(train_rows) - len(kept)} training pairs longer than {cfg.max_len} words")
    train_rows, val_rows = kept, [r for r in val_rows if short(r)] or val_rows[:1]
    if len(train_rows) < 10:
        raise TrainingError(t("trainer.too_few_short_pairs", count=len(train_rows)))
    torch.manual_seed(cfg.seed)
    transformer = cfg.init_from or TRANSLATORS[cfg.model].family == "transformer"
    parts = (_transformer_parts if transformer else _gru_parts)(cfg, train_rows, val_rows, langs)
    model = parts.model
    notes.append(f"{len(train_rows)} training pairs, {len(val_rows)} validation pairs; {parts.vocab_note}")

    def evaluate(m, loader, accelerator) -> dict[str, float]:
        import sacrebleu

        m.eval()
        hyps, refs = [], []
        total, n = 0.0, 0
        with torch.no_grad():
            for batch in loader:
                loss_sum, tokens, h, r = parts.score(m, batch)
                total, n, hyps, refs = total + loss_sum, n + tokens, hyps + h, refs + r
        m.train()
        # force: the built-in pairs are spaced like tokenised text ("chien ."), and that is the data
        return {"bleu": sacrebleu.corpus_bleu(hyps, [refs], force=True).score,
                "chrf": sacrebleu.corpus_chrf(hyps, [refs]).score,
                "loss": total / max(1, n)}

    def sample(m) -> str:
        from hub_models.translation import translate

        return "\n".join(f"{r['source']}\n  -> {translate(parts.wrap(m), r['source'])['translation']}\n"
                         f"     (reference: {r['target']})" for r in val_rows[:3])

    def save(m, out: Path, metrics: dict[str, float]) -> None:
        from hub.card import CardInfo, write_card
        from hub_models.translation import translate

        m.save_pretrained(out)
        if parts.tokenizer is not None:
            parts.tokenizer.save_pretrained(out)
        repo = cfg.push_to_hub or f"local/{cfg.model}-{name.replace('/', '-')}"
        n_params = sum(p.numel() for p in m.parameters())
        base = base_model_id(cfg.init_from)
        described = {"en-fr": t("card.translation_data_en_fr")}.get(name, BUILTIN.get(name))
        data = t("card.data_described", name=name, description=described) if name in BUILTIN else name
        if cfg.init_from:
            summary = t("card.translation_summary_finetuned", cls=type(m).__name__, base=cfg.init_from,
                        params=n_params, data=data)
        else:
            what = TRANSLATORS[cfg.model].summary
            summary = t("card.translation_summary_scratch", what=what[0].upper() + what[1:], params=n_params, data=data)
        summary += "\n\n" + t("card.translation_examples") + "\n\n" + "\n".join(
            t("card.translation_example", source=r["source"],
              translation=translate(parts.wrap(m), r["source"])["translation"], reference=r["target"])
            for r in val_rows[:3])
        write_card(out, CardInfo(
            repo_id=repo, title=t("card.translation_title", model=cfg.init_from or cfg.model, data=name),
            base_model=base, summary=summary,
            pipeline_tag="translation", task_name="Translation", library_name=parts.library,
            tags=[cfg.model, *(f"{lang}" for lang in langs if lang)],
            datasets=[] if name in BUILTIN or Path(cfg.dataset).exists() else [cfg.dataset], dataset_name=name,
            metrics=metrics,
            training=to_dict(cfg),
            usage=parts.usage(repo, val_rows[0]["source"] if val_rows else "Hello .")))

    return TaskSpec(model=model, train_data=parts.train_data, val_data=parts.val_data, loss=parts.loss,
                    evaluate=evaluate, save=save, notes=notes, collate=parts.collate, sample=sample)


@dataclass
class _Parts:
    """What differs between our GRU models and the transformers one."""

    model: torch.nn.Module
    train_data: torch.utils.data.Dataset
    val_data: torch.utils.data.Dataset
    collate: Callable
    loss: Callable  # (model, batch) -> loss
    score: Callable  # (model, batch) -> (summed loss, target tokens, greedy hypotheses, references)
    wrap: Callable  # model -> what hub_models.translation.translate takes
    vocab_note: str
    library: str
    usage: Callable[[str, str], str]  # (repo, example sentence) -> code
    tokenizer: Any = None


def _gru_parts(cfg: TranslationConfig, train_rows: list[dict], val_rows: list[dict], langs) -> _Parts:
    from hub_models.translation import BOS, Seq2Seq, build_vocab

    model = Seq2Seq(build_vocab([r["source"] for r in train_rows]), build_vocab([r["target"] for r in train_rows]),
                    attention=TRANSLATORS[cfg.model].defaults["attention"], embed_size=cfg.embed_size, hidden_size=cfg.hidden_size,
                    source_lang=langs[0], target_lang=langs[1])
    bos = model.tgt_index[BOS]

    def encode(rows):
        return _Pairs([(model.encode_source(r["source"]), model.encode_target(r["target"])) for r in rows])

    def collate(batch):
        src = _pad([s for s, _ in batch])
        tgt = _pad([t for _, t in batch])
        tgt_in = torch.cat([torch.full((len(batch), 1), bos), tgt[:, :-1]], dim=1)
        return src, tgt_in, tgt

    def loss(m, batch) -> torch.Tensor:
        src, tgt_in, tgt = batch
        logits, _ = m(src, tgt_in, teacher_forcing=cfg.teacher_forcing)
        return F.cross_entropy(logits.flatten(0, 1), tgt.flatten(), ignore_index=0)

    def score(m, batch):
        src, tgt_in, tgt = batch
        logits, _ = m(src, tgt_in)
        total = F.cross_entropy(logits.flatten(0, 1), tgt.flatten(), ignore_index=0, reduction="sum").item()
        out, _ = m.greedy(src, max_len=cfg.max_len + 5)
        return (total, int((tgt != 0).sum()), [m.decode_target(ids) for ids in out],
                [m.decode_target(row.tolist()) for row in tgt])

    def usage(repo: str, example: str) -> str:
        return (f"from hub_models.translation import Seq2Seq, translate\n"  # i18n: kept (code)
                f"model = Seq2Seq.from_pretrained(\"{repo}\")\n"
                f"print(translate(model, \"{example}\", \"beam\")[\"translation\"])")

    return _Parts(model, encode(train_rows), encode(val_rows), collate, loss, score, lambda m: m,
                  f"vocabularies: {len(model.src_vocab)} source and {len(model.tgt_vocab)} target words", "pytorch",
                  usage)


def pretrained_seq2seq(cfg: TranslationConfig):
    """(model, tokenizer, task prefix) of the seq2seq model --init-from names, pulled from --hub if a repo id."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES

    from hub_models.translation import task_prefix

    model, tok, config = pretrained_transformers(cfg.init_from, cfg.hub, "AutoModelForSeq2SeqLM",
                                                 MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES,
                                                 t("trainer.what_seq2seq"))
    return model, tok, task_prefix(config)


def _transformer_parts(cfg: TranslationConfig, train_rows: list[dict], val_rows: list[dict], langs) -> _Parts:
    from hub_models.translation import HFTranslator, create_transformer, train_shared_bpe

    prefix = ""
    if cfg.init_from:
        model, tok, prefix = pretrained_seq2seq(cfg)
        limit = min(512, getattr(model.config, "max_position_embeddings", 512) or 512)
        # i18n: not shown (a log line)
        vocab_note = f"fine-tuning {cfg.init_from} with its own tokenizer ({len(tok):,} tokens)"
    else:
        tok = train_shared_bpe([r[k] for r in train_rows for k in ("source", "target")],
                               vocab_size=400 if cfg.dry_run else 2000)
        model = create_transformer(tok, d_model=cfg.hidden_size, max_positions=max(128, 4 * cfg.max_len))
        limit = model.config.max_position_embeddings
        vocab_note = f"shared byte-level BPE of {len(tok)} tokens"  # i18n: not shown (a log line)

    def encode(rows):
        # text_target: Marian reads targets with its target-language SentencePiece model
        return _Pairs([(tok(prefix + r["source"], truncation=True, max_length=limit)["input_ids"],
                        tok(text_target=r["target"], truncation=True, max_length=limit)["input_ids"]) for r in rows])

    def collate(batch):
        src = _pad([s for s, _ in batch]).masked_fill_(_pad([[1] * len(s) for s, _ in batch]) == 0,
                                                       tok.pad_token_id)
        labels = _pad([t for _, t in batch]).masked_fill_(_pad([[1] * len(t) for _, t in batch]) == 0, -100)
        return {"input_ids": src, "attention_mask": (src != tok.pad_token_id).long(), "labels": labels}

    def loss(m, batch) -> torch.Tensor:
        return m(**batch).loss

    def score(m, batch):
        out = m(**batch)
        n = int((batch["labels"] != -100).sum())
        gen = m.generate(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], num_beams=1,
                         max_new_tokens=limit)
        refs = [row[row != -100].tolist() for row in batch["labels"]]
        return (out.loss.item() * n, n, [h.strip() for h in tok.batch_decode(gen, skip_special_tokens=True)],
                [r.strip() for r in tok.batch_decode(refs, skip_special_tokens=True)])

    def usage(repo: str, example: str) -> str:
        return (f"from transformers import AutoModelForSeq2SeqLM, AutoTokenizer\n"  # i18n: kept (code)
                f"model = AutoModelForSeq2SeqLM.from_pretrained(\"{repo}\")\n"
                f"tok = AutoTokenizer.from_pretrained(\"{repo}\")\n"
                f"out = model.generate(**tok(\"{prefix}{example}\", return_tensors=\"pt\"), num_beams=4, max_new_tokens=64)\n"
                f"print(tok.decode(out[0], skip_special_tokens=True))")

    return _Parts(model, encode(train_rows), encode(val_rows), collate, loss, score,
                  lambda m: HFTranslator(m, tok, prefix), vocab_note, "transformers", usage, tokenizer=tok)
