"""Metrics every classifier task shares (image classes, text labels, token tags)."""
from __future__ import annotations

import torch


def confusion_matrix(preds: torch.Tensor, targets: torch.Tensor, k: int) -> torch.Tensor:
    """(k, k) counts; row = true class, column = predicted class."""
    return torch.bincount(targets * k + preds, minlength=k * k).reshape(k, k)


def classification_metrics(cm: torch.Tensor) -> dict[str, float]:
    tp = cm.diag().float()
    precision = tp / cm.sum(0).clamp(min=1)
    recall = tp / cm.sum(1).clamp(min=1)
    f1 = 2 * precision * recall / (precision + recall).clamp(min=1e-12)
    return {"accuracy": (tp.sum() / cm.sum().clamp(min=1)).item(), "f1_macro": f1.mean().item()}


def bio_spans(tags: list[str]) -> set[tuple[int, int, str]]:
    """Entity spans (start, end exclusive, type) of a BIO tag sequence; an I- without its B- starts a span."""
    spans, start, kind = set(), None, None
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, name = tag.partition("-")
        if start is not None and (prefix != "I" or name != kind):
            spans.add((start, i, kind))
            start = None
        if prefix in ("B", "I") and start is None:
            start, kind = i, name
    return spans


def entity_f1(true_seqs: list[list[str]], pred_seqs: list[list[str]]) -> float:
    """Exact-match entity F1 (the CoNLL measure): a span counts only with the right bounds and type."""
    tp = n_true = n_pred = 0
    for t, p in zip(true_seqs, pred_seqs):
        ts, ps = bio_spans(t), bio_spans(p)
        tp += len(ts & ps)
        n_true += len(ts)
        n_pred += len(ps)
    return 2 * tp / (n_true + n_pred) if n_true + n_pred else 1.0
