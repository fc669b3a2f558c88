"""Losses and measures of metric learning (face verification), written out.

Embeddings are rows of a (B, D) tensor; ``labels`` says whose face each row is. Distances are
Euclidean. Triplet loss (FaceNet, Schroff et al. 2015): for an anchor a, a positive p (same
person) and a negative n, ``max(0, d(a,p) - d(a,n) + margin)``. Which negatives a batch uses is
the *mining*:

- "semi-hard" (FaceNet's): for each (a, p), the closest negative that is still farther than p,
  ``argmin d(a,n) subject to d(a,n) > d(a,p)``; when every negative is closer than p, the farthest
  negative (the least hard of the too-hard ones). This is TensorFlow Addons' rule.
- "batch-hard" (Hermans et al. 2017): for each anchor, its farthest positive and closest negative.
- "all": every valid (a, p, n), averaged over those with a positive loss.

Contrastive loss (Hadsell et al. 2006), for every pair of the batch:
``y d^2 + (1 - y) max(0, margin - d)^2`` with y = 1 for the same person; positive and negative
pairs are averaged apart and then summed, so the many negative pairs do not drown the few positive.
"""
from __future__ import annotations

import torch

from .tasks.faces import MINING



def pairwise_distances(e: torch.Tensor) -> torch.Tensor:
    """(B, B) Euclidean distances; exact zeros on the diagonal, and a gradient that stays finite there."""
    sq = (e.unsqueeze(1) - e.unsqueeze(0)).pow(2).sum(-1)
    return sq.clamp(min=1e-12).sqrt() * (1 - torch.eye(len(e), device=e.device, dtype=e.dtype))


def semi_hard_negatives(d: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(anchor, positive, negative) indices, one triplet per anchor-positive pair, by the semi-hard rule."""
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    a_idx, p_idx = torch.nonzero(same & ~eye, as_tuple=True)
    d_ap = d[a_idx, p_idx].unsqueeze(1)  # (P, 1)
    d_an = d[a_idx]  # (P, B)
    neg = ~same[a_idx]
    inf = torch.tensor(float("inf"), device=d.device, dtype=d.dtype)
    outside = torch.where(neg & (d_an > d_ap), d_an, inf)  # farther than the positive
    has_outside = torch.isfinite(outside.min(1).values)
    inside = torch.where(neg, d_an, -inf)
    n_idx = torch.where(has_outside, outside.argmin(1), inside.argmax(1))
    keep = neg.any(1)  # an anchor needs some negative in the batch
    return a_idx[keep], p_idx[keep], n_idx[keep]


def triplet_loss(e: torch.Tensor, labels: torch.Tensor, margin: float = 0.2,
                 mining: str = "semi-hard") -> tuple[torch.Tensor, float]:
    """(mean triplet loss, fraction of the used triplets that still violate the margin)."""
    d = pairwise_distances(e)
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    if mining == "semi-hard":
        a, p, n = semi_hard_negatives(d, labels)
        losses = (d[a, p] - d[a, n] + margin).clamp(min=0)
    elif mining == "batch-hard":
        hardest_pos = torch.where(same & ~eye, d, torch.zeros_like(d)).max(1).values
        hardest_neg = torch.where(~same, d, torch.full_like(d, float("inf"))).min(1).values
        ok = (same & ~eye).any(1) & (~same).any(1)
        losses = (hardest_pos - hardest_neg + margin).clamp(min=0)[ok]
    elif mining == "all":
        valid = (same & ~eye).unsqueeze(2) & (~same).unsqueeze(1)  # [a, p, n]
        all_losses = (d.unsqueeze(2) - d.unsqueeze(1) + margin).clamp(min=0)[valid]
        positive = all_losses[all_losses > 1e-16]
        frac = float(len(positive)) / max(1, len(all_losses))
        return (positive.mean() if len(positive) else all_losses.sum() * 0), frac
    else:
        raise ValueError(f"unknown mining {mining!r}; choose one of {', '.join(MINING)}")
    if len(losses) == 0:
        return e.sum() * 0, 0.0  # no positive pair in the batch: nothing to learn from it
    return losses.mean(), float((losses > 0).float().mean())


def contrastive_loss(e: torch.Tensor, labels: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """Mean contrastive loss of the positive pairs plus that of the negative pairs of a batch."""
    d = pairwise_distances(e)
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    upper = torch.triu(torch.ones_like(same), diagonal=1)  # each pair once
    pos, neg = same & upper, ~same & upper
    loss = e.sum() * 0
    if pos.any():
        loss = loss + d[pos].pow(2).mean()
    if neg.any():
        loss = loss + (margin - d[neg]).clamp(min=0).pow(2).mean()
    return loss


# ----------------------------------------------------------------- verification measures
def verification_pairs(labels: list[int], seed: int = 0, max_pairs: int = 4000) -> tuple[torch.Tensor, torch.Tensor]:
    """(pairs (N, 2), same (N,) bool): every positive pair (up to max_pairs/2) and as many random negative
    pairs, drawn with a fixed seed so every epoch and every model is scored on the same pairs."""
    g = torch.Generator().manual_seed(seed)
    lab = torch.tensor(labels)
    i, j = torch.triu_indices(len(lab), len(lab), offset=1)
    same = lab[i] == lab[j]
    pos = torch.stack([i[same], j[same]], 1)
    negs = torch.stack([i[~same], j[~same]], 1)
    half = max_pairs // 2
    if len(pos) > half:
        pos = pos[torch.randperm(len(pos), generator=g)[:half]]
    negs = negs[torch.randperm(len(negs), generator=g)[:len(pos)]]
    pairs = torch.cat([pos, negs])
    return pairs, torch.cat([torch.ones(len(pos), dtype=torch.bool), torch.zeros(len(negs), dtype=torch.bool)])


def roc(distances: torch.Tensor, same: torch.Tensor) -> dict[str, list[float] | float]:
    """ROC of "same person if distance <= t" over every threshold t: false- and true-positive rates,
    AUC (trapezoids; equals the chance that a random positive pair is closer than a random negative
    one, ties counting half), and the threshold of the best accuracy with that accuracy."""
    d = distances.double()
    order = torch.argsort(d)
    d, y = d[order], same[order].double()
    n_pos, n_neg = float(y.sum()), float((1 - y).sum())
    tp, fp = torch.cumsum(y, 0), torch.cumsum(1 - y, 0)
    last = torch.ones(len(d), dtype=torch.bool)  # one point per distinct distance: ties move together
    last[:-1] = d[1:] != d[:-1]
    tp, fp, t = tp[last], fp[last], d[last]
    tpr = torch.cat([torch.zeros(1, dtype=torch.float64), tp / max(n_pos, 1)])
    fpr = torch.cat([torch.zeros(1, dtype=torch.float64), fp / max(n_neg, 1)])
    auc = float(torch.trapezoid(tpr, fpr))
    # correct answers per cut; the first cut lies below every distance (all pairs called "different")
    correct = torch.cat([torch.tensor([n_neg], dtype=torch.float64), tp + (n_neg - fp)])
    k = int(correct.argmax())
    thresholds = torch.cat([d[:1] - 1e-6, t]) if len(d) else torch.zeros(1, dtype=torch.float64)
    best_t = float(thresholds[k])  # cut k accepts the k smallest distinct distances
    if 0 < k < len(t):  # halfway to the next distance: a margin on both sides
        best_t = float((t[k - 1] + t[k]) / 2)
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "auc": auc, "threshold": best_t,
            "accuracy": float(correct[k]) / max(1.0, n_pos + n_neg)}
