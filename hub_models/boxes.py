"""Box maths of the detection lessons, written out: IoU, anchors, offsets, NMS, matching and mAP.

Boxes are ``(x1, y1, x2, y2)`` in pixels, shape (N, 4). The functions follow torchvision's
conventions (tests check them against ``torchvision.ops`` and torchvision's anchor generator
and box coder) but are plain tensor code a learner can read, and :func:`nms` can record
each step so the UI can show which box suppressed which.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

# Offsets are scaled so they have roughly unit variance (Faster R-CNN's and SSD's choice).
BOX_WEIGHTS = (10.0, 10.0, 5.0, 5.0)
_MAX_LOG = math.log(1000.0 / 16)  # clamps exp() of predicted width/height offsets, as torchvision does


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    return (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Intersection over union (Jaccard index) of every box of ``a`` (N, 4) with every box of ``b`` (M, 4): (N, M)."""
    top_left = torch.max(a[:, None, :2], b[None, :, :2])  # (N, M, 2)
    bottom_right = torch.min(a[:, None, 2:], b[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=2)  # (N, M)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return inter / union.clamp(min=1e-9)


def anchors_for(feature_hw: tuple[int, int], image_hw: tuple[int, int], sizes: tuple[float, ...],
                ratios: tuple[float, ...], centred: bool = True) -> torch.Tensor:
    """Anchor boxes (H*W*A, 4) for one feature map: every cell gets A = len(ratios) * len(sizes) boxes.

    A box of size s and aspect ratio r (height / width) is s*sqrt(1/r) wide and s*sqrt(r) high, so
    its area is s^2 whatever r. Cells are ``stride`` = image / feature pixels apart; boxes sit on
    the cell's centre (``centred``) or its top-left corner (torchvision's AnchorGenerator).
    Order: cell by cell (row-major), then ratio, then size, as torchvision orders them.
    """
    fh, fw = feature_hw
    sh, sw = image_hw[0] / fh, image_hw[1] / fw
    r = torch.tensor(ratios, dtype=torch.float32)
    s = torch.tensor(sizes, dtype=torch.float32)
    hs = (torch.sqrt(r)[:, None] * s[None, :]).reshape(-1)  # (A,)
    ws = ((1 / torch.sqrt(r))[:, None] * s[None, :]).reshape(-1)
    base = torch.stack([-ws, -hs, ws, hs], dim=1) / 2  # (A, 4) around (0, 0)
    off = 0.5 if centred else 0.0
    ys = (torch.arange(fh, dtype=torch.float32) + off) * sh
    xs = (torch.arange(fw, dtype=torch.float32) + off) * sw
    cy, cx = torch.meshgrid(ys, xs, indexing="ij")
    centres = torch.stack([cx, cy, cx, cy], dim=-1).reshape(-1, 1, 4)  # (H*W, 1, 4)
    return (centres + base[None]).reshape(-1, 4)


def encode(boxes: torch.Tensor, anchors: torch.Tensor, weights: tuple[float, ...] = BOX_WEIGHTS) -> torch.Tensor:
    """Offsets that turn each anchor into its box: centre shift in anchor widths, log of the size ratio."""
    wx, wy, ww, wh = weights
    aw, ah = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    ax, ay = anchors[:, 0] + 0.5 * aw, anchors[:, 1] + 0.5 * ah
    bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    bx, by = boxes[:, 0] + 0.5 * bw, boxes[:, 1] + 0.5 * bh
    return torch.stack([wx * (bx - ax) / aw, wy * (by - ay) / ah, ww * torch.log(bw / aw), wh * torch.log(bh / ah)],
                       dim=1)


def decode(offsets: torch.Tensor, anchors: torch.Tensor, weights: tuple[float, ...] = BOX_WEIGHTS) -> torch.Tensor:
    """The inverse of :func:`encode`: boxes from anchors and predicted offsets (..., 4)."""
    wx, wy, ww, wh = weights
    aw, ah = anchors[..., 2] - anchors[..., 0], anchors[..., 3] - anchors[..., 1]
    ax, ay = anchors[..., 0] + 0.5 * aw, anchors[..., 1] + 0.5 * ah
    cx = offsets[..., 0] / wx * aw + ax
    cy = offsets[..., 1] / wy * ah + ay
    w = torch.exp((offsets[..., 2] / ww).clamp(max=_MAX_LOG)) * aw
    h = torch.exp((offsets[..., 3] / wh).clamp(max=_MAX_LOG)) * ah
    return torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], dim=-1)


@dataclass
class NMSStep:
    """One round of greedy NMS: the best box left is kept and the boxes overlapping it too much go."""

    kept: int
    suppressed: list[tuple[int, float]] = field(default_factory=list)  # (index, IoU with the kept box)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float,
        steps: list[NMSStep] | None = None) -> torch.Tensor:
    """Greedy non-maximum suppression: indices of the boxes kept, highest score first.

    Repeatedly keep the highest-scoring box left and drop every other box whose IoU with it is
    above ``iou_threshold``. Pass a list as ``steps`` to have each round recorded in it.
    """
    order = scores.argsort(descending=True, stable=True)
    iou = box_iou(boxes, boxes)
    alive = torch.ones(len(boxes), dtype=torch.bool)
    keep = []
    for i in order.tolist():
        if not alive[i]:
            continue
        keep.append(i)
        alive[i] = False
        drop = alive & (iou[i] > iou_threshold)
        if steps is not None:
            steps.append(NMSStep(i, [(j, float(iou[i, j])) for j in drop.nonzero().flatten().tolist()]))
        alive &= ~drop
    return torch.tensor(keep, dtype=torch.long)


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, iou_threshold: float,
                steps: list[NMSStep] | None = None) -> torch.Tensor:
    """NMS within each class only: boxes of different classes never suppress each other.

    (Shifting each class's boxes far apart makes one NMS pass do the work of one per class.)
    """
    if len(boxes) == 0:
        return torch.zeros(0, dtype=torch.long)
    shift = labels.to(boxes) * (boxes.max() + 1)
    return nms(boxes + shift[:, None], scores, iou_threshold, steps)


def match_anchors(anchors: torch.Tensor, boxes: torch.Tensor, iou_threshold: float = 0.5) -> torch.Tensor:
    """For each anchor, the index of the ground-truth box it must predict, or -1 (background).

    Every ground-truth box first takes the anchor that overlaps it most (so no object goes
    unmatched, however odd its shape); other anchors take the box they overlap most if that
    IoU reaches ``iou_threshold``.
    """
    matched = torch.full((len(anchors),), -1, dtype=torch.long)
    if len(boxes) == 0:
        return matched
    iou = box_iou(anchors, boxes)  # (A, G)
    best_iou, best_box = iou.max(dim=1)
    keep = best_iou >= iou_threshold
    matched[keep] = best_box[keep]
    # Greedy: the largest IoU left in the table pairs its anchor and box; both leave the table.
    table = iou.clone()
    for _ in range(len(boxes)):
        flat = int(table.argmax())
        a, g = divmod(flat, table.shape[1])
        if table[a, g] <= 0:
            break
        matched[a] = g
        table[a, :] = -1
        table[:, g] = -1
    return matched


# --------------------------------------------------------------------- evaluation
COCO_IOUS = tuple(0.5 + 0.05 * i for i in range(10))  # 0.50, 0.55, ..., 0.95


def average_precision(detections: list[dict], targets: list[dict], num_classes: int,
                      iou_thresholds: tuple[float, ...] = COCO_IOUS, max_dets: int = 100) -> torch.Tensor:
    """COCO-protocol average precision, (classes, thresholds); NaN where a class has no ground truth.

    ``detections[i]`` holds "boxes", "scores", "labels" for image i and ``targets[i]`` "boxes" and
    "labels". Per class and IoU threshold: detections (the ``max_dets`` best per image) are taken
    by falling score; each matches the unmatched ground-truth box it overlaps most, if that IoU
    reaches the threshold. Precision is made non-increasing and read at 101 recall levels 0..1,
    as pycocotools does (a test checks the two agree).
    """
    recall_levels = torch.linspace(0, 1, 101, dtype=torch.float64)
    ap = torch.full((num_classes, len(iou_thresholds)), float("nan"), dtype=torch.float64)
    for c in range(num_classes):
        n_gt = sum(int((t["labels"] == c).sum()) for t in targets)
        if n_gt == 0:
            continue
        ious, scored = [], []  # per image: IoU of its class-c detections (best first) with its class-c boxes
        for i, (d, t) in enumerate(zip(detections, targets)):
            dm, gm = d["labels"] == c, t["labels"] == c
            order = d["scores"][dm].argsort(descending=True, stable=True)[:max_dets]
            ious.append(box_iou(d["boxes"][dm][order], t["boxes"][gm]))
            scored += [(s, i, j) for j, s in enumerate(d["scores"][dm][order].tolist())]
        scored.sort(key=lambda x: -x[0])  # stable: ties keep image order, as pycocotools' mergesort does
        for k, thr in enumerate(iou_thresholds):
            hit = set()  # (image, detection) pairs that found a box
            for i, iou in enumerate(ious):
                free = torch.ones(iou.shape[1], dtype=torch.bool)
                for j in range(iou.shape[0]):  # within an image, detections claim boxes best first
                    cand = torch.where(free, iou[j], torch.tensor(-1.0))
                    if len(cand) and cand.max() >= min(thr, 1 - 1e-10):
                        free[int(cand.argmax())] = False
                        hit.add((i, j))
            hits = torch.tensor([(i, j) in hit for _, i, j in scored], dtype=torch.float64)
            tp, fp = hits.cumsum(0), (1 - hits).cumsum(0)
            recall = tp / n_gt
            precision = tp / (tp + fp).clamp(min=1e-12)
            precision = precision.flip(0).cummax(0).values.flip(0)  # the envelope: best precision to the right
            idx = torch.searchsorted(recall, recall_levels, side="left")
            padded = torch.cat([precision, torch.zeros(1, dtype=torch.float64)])  # recall never reached: 0
            ap[c, k] = padded[idx.clamp(max=len(precision))].mean()
    return ap


def detection_metrics(detections: list[dict], targets: list[dict], num_classes: int) -> dict[str, float]:
    """mAP@0.5 and mAP@0.5:0.95 (COCO) plus mAP@0.5 per class, averaged over classes with ground truth."""
    ap = average_precision(detections, targets, num_classes)
    present = ~ap[:, 0].isnan()
    if not present.any():
        return {"map50": 0.0, "map": 0.0}
    return {"map50": float(ap[present, 0].mean()), "map": float(ap[present].mean()),
            **{f"ap50_{c}": float(ap[c, 0]) for c in range(num_classes) if present[c]}}
