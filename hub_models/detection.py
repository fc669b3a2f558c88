"""Object detectors behind one interface: our TinySSD, torchvision's detectors, transformers' DETR family.

Every detector here takes images as floats in [0, 1], (B, 3, S, S), and offers
``loss(images, targets)`` for training and ``candidates(images)``: its scored boxes *before*
non-maximum suppression, so the UI can re-filter them with score and IoU sliders without
running the network again (``filter_candidates``). ``catalog.DETECTORS`` is the registry the tab's
dropdown, the CLI and the tests read. Our classes inherit ``PyTorchModelHubMixin``: the
constructor arguments are ``config.json``, the weights ``model.safetensors``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from common.i18n import t

from .cache import model_cache
from . import boxes as B
from .catalog import DETECTORS
from .registry import Published

_HUB = dict(library_name="pytorch", tags=["dl-playground", "object-detection"], pipeline_tag="object-detection",
            license="mit")
MIN_SCORE = 0.01  # candidates below this are never worth a slider position
MAX_CANDIDATES = 300


def _labels(labels: list[str] | None, num_classes: int) -> list[str]:
    names = list(labels) if labels else [f"class {i}" for i in range(num_classes)]
    if len(names) != num_classes:
        raise ValueError(f"{len(names)} labels given for {num_classes} classes")
    return names


def _down(cin: int, cout: int) -> nn.Sequential:
    """Two 3x3 conv-BN-ReLU, then a 2x2 max pool: half the resolution."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                         nn.MaxPool2d(2))


class TinySSD(nn.Module, Published, **_HUB):
    """A single-shot multibox detector (Liu et al., 2016), small enough to train on a CPU in minutes.

    A base network brings the image to 1/8 of its size; each further block halves it again. Every
    cell of these feature maps (one per scale) carries ``len(ratios) * len(sizes)`` anchor boxes,
    and two 3x3 convs per scale predict, for each anchor, its class (background or an object
    class) and the offsets from the anchor to the object's box. Small objects are found on the
    fine maps with small anchors, big ones on the coarse maps. ``sizes`` are fractions of the
    image side, one tuple per scale.
    """

    def __init__(self, num_classes: int = 3, labels: list[str] | None = None, image_size: int = 128,
                 width: int = 32, sizes: tuple = ((0.08, 0.13), (0.2, 0.28), (0.38, 0.5), (0.65, 0.85)),
                 ratios: tuple[float, ...] = (1.0, 2.0, 0.5)):
        super().__init__()
        self.num_classes, self.labels, self.image_size = num_classes, _labels(labels, num_classes), image_size
        self.sizes, self.ratios = tuple(tuple(s) for s in sizes), tuple(ratios)
        if image_size % 2 ** (2 + len(self.sizes)):
            raise ValueError(f"TinySSD with {len(self.sizes)} scales needs an image size divisible by "
                             f"{2 ** (2 + len(self.sizes))}, got {image_size}")
        w = width
        self.base = nn.Sequential(_down(3, w // 2), _down(w // 2, w), _down(w, 2 * w))  # stride 8
        self.blocks = nn.ModuleList([nn.Identity()] + [_down(2 * w, 2 * w) for _ in self.sizes[1:]])
        a = len(self.ratios) * len(self.sizes[0])
        self.cls_heads = nn.ModuleList(nn.Conv2d(2 * w, a * (num_classes + 1), 3, padding=1) for _ in self.sizes)
        self.box_heads = nn.ModuleList(nn.Conv2d(2 * w, a * 4, 3, padding=1) for _ in self.sizes)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)
        self._anchors: dict[tuple[int, int], torch.Tensor] = {}

    def feature_sizes(self, hw: tuple[int, int]) -> list[tuple[int, int]]:
        return [(hw[0] // 2 ** (3 + i), hw[1] // 2 ** (3 + i)) for i in range(len(self.sizes))]

    def anchors(self, hw: tuple[int, int]) -> list[torch.Tensor]:
        """The anchors of each scale, (cells * A, 4) in pixels, for an input of ``hw`` pixels."""
        side = min(hw)
        return [B.anchors_for(f, hw, tuple(s * side for s in sizes), self.ratios)
                for f, sizes in zip(self.feature_sizes(hw), self.sizes)]

    def all_anchors(self, hw: tuple[int, int]) -> torch.Tensor:
        if hw not in self._anchors:
            self._anchors[hw] = torch.cat(self.anchors(hw))
        return self._anchors[hw]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) in [0, 1] -> class logits (B, anchors, classes + 1), box offsets (B, anchors, 4)."""
        f = self.base((x - self.mean) / self.std)
        cls, box = [], []
        for block, ch, bh in zip(self.blocks, self.cls_heads, self.box_heads):
            f = block(f)
            n = f.shape[0]
            # (B, A*(K+1), h, w) -> (B, h, w, A*(K+1)) -> (B, h*w*A, K+1): cell by cell, anchor by anchor.
            cls.append(ch(f).permute(0, 2, 3, 1).reshape(n, -1, self.num_classes + 1))
            box.append(bh(f).permute(0, 2, 3, 1).reshape(n, -1, 4))
        return torch.cat(cls, 1), torch.cat(box, 1)

    def loss(self, images: torch.Tensor, targets: list[dict[str, torch.Tensor]]) -> torch.Tensor:
        """Cross-entropy over anchor classes with hard negative mining (3 negatives per positive, SSD's
        rule: most anchors are background and would drown the objects) + smooth L1 on the offsets of
        the anchors matched to an object."""
        cls, box = self(images)
        anchors = self.all_anchors(tuple(images.shape[-2:])).to(images.device)
        cls_t = torch.zeros(cls.shape[:2], dtype=torch.long, device=images.device)
        box_t = torch.zeros_like(box)
        for i, target in enumerate(targets):
            m = B.match_anchors(anchors, target["boxes"])
            pos = m >= 0
            cls_t[i, pos] = target["labels"][m[pos]] + 1
            box_t[i, pos] = B.encode(target["boxes"][m[pos]], anchors[pos])
        pos = cls_t > 0
        n_pos = pos.sum().clamp(min=1)
        ce = F.cross_entropy(cls.reshape(-1, cls.shape[-1]), cls_t.reshape(-1), reduction="none").view_as(cls_t)
        neg_ce = ce.detach().masked_fill(pos, 0)
        rank = neg_ce.argsort(1, descending=True).argsort(1)
        hard_neg = rank < 3 * pos.sum(1, keepdim=True).clamp(min=1)
        cls_loss = ce[pos | hard_neg].sum() / n_pos
        box_loss = F.smooth_l1_loss(box[pos], box_t[pos], beta=1.0, reduction="sum") / n_pos
        return cls_loss + box_loss

    @torch.no_grad()
    def candidates(self, images: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """Scored boxes per image before NMS: every (anchor, class) whose probability passes MIN_SCORE."""
        cls, box = self(images)
        anchors = self.all_anchors(tuple(images.shape[-2:])).to(images.device)
        probs = cls.softmax(-1)[..., 1:]  # (B, N, K) without the background column
        h, w = images.shape[-2:]
        out = []
        for p, off in zip(probs, box):
            scores, flat = p.flatten().topk(min(MAX_CANDIDATES, p.numel()))
            keep = scores >= MIN_SCORE
            scores, flat = scores[keep], flat[keep]
            idx, labels = flat // self.num_classes, flat % self.num_classes
            boxes = B.decode(off[idx], anchors[idx])
            boxes = torch.stack([boxes[:, 0].clamp(0, w), boxes[:, 1].clamp(0, h), boxes[:, 2].clamp(0, w),
                                 boxes[:, 3].clamp(0, h)], 1)
            out.append({"boxes": boxes, "scores": scores, "labels": labels})
        return out


# ----------------------------------------------------------------- torchvision


def _torchvision_net(arch: str, num_classes: int, image_size: int) -> nn.Module:
    """A torchvision detector for ``num_classes`` + background at ``image_size`` pixels, randomly initialised
    (no download: ``weights=None`` everywhere), with anchors sized for that image size and its own NMS
    turned off (threshold 1) so that :meth:`TorchvisionDetector.candidates` gets every scored box."""
    from torchvision.models.detection import FCOS, FasterRCNN, RetinaNet, ssdlite320_mobilenet_v3_large
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.backbone_utils import mobilenet_backbone, resnet_fpn_backbone
    from torchvision.ops.feature_pyramid_network import LastLevelP6P7

    k, s = num_classes + 1, image_size
    loose = dict(min_size=s, max_size=s)
    if arch == "fasterrcnn-mobilenet":
        backbone = mobilenet_backbone(backbone_name="mobilenet_v3_large", weights=None, fpn=True, trainable_layers=6)
        sizes = tuple(int(s * f) for f in (0.08, 0.16, 0.32, 0.64, 1.0))
        return FasterRCNN(backbone, k, rpn_anchor_generator=AnchorGenerator((sizes,) * 3, ((0.5, 1.0, 2.0),) * 3),
                          box_score_thresh=MIN_SCORE, box_nms_thresh=1.0, box_detections_per_img=MAX_CANDIDATES,
                          **loose)
    if arch in ("retinanet-resnet18", "fcos-resnet18"):
        backbone = resnet_fpn_backbone(backbone_name="resnet18", weights=None, trainable_layers=5,
                                       returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(256, 256))
        common = dict(score_thresh=MIN_SCORE, nms_thresh=1.0, detections_per_img=MAX_CANDIDATES,
                      topk_candidates=MAX_CANDIDATES, **loose)
        if arch == "fcos-resnet18":
            return FCOS(backbone, k, **common)
        base = [s / 16 * 2 ** i for i in range(5)]  # P3..P7 for this image size
        sizes = tuple(tuple(int(b * 2 ** (j / 3)) for j in range(3)) for b in base)
        return RetinaNet(backbone, k, anchor_generator=AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * 5), **common)
    if arch == "ssdlite-mobilenet":
        net = ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=k,
                                            score_thresh=MIN_SCORE, nms_thresh=1.0, detections_per_img=MAX_CANDIDATES,
                                            topk_candidates=MAX_CANDIDATES)
        net.transform.fixed_size = (s, s)  # its default boxes are fractions of the image: any size works
        net.transform.min_size, net.transform.max_size = (s,), s
        return net
    raise ValueError(f"unknown torchvision detector {arch!r}")


class TorchvisionDetector(nn.Module, Published, **_HUB):
    """One of torchvision's detectors (``arch``: a name of catalog.DETECTORS); class 0 is background inside it."""

    def __init__(self, arch: str = "fasterrcnn-mobilenet", num_classes: int = 3, labels: list[str] | None = None,
                 image_size: int = 128):
        super().__init__()
        self.arch, self.num_classes, self.image_size = arch, num_classes, image_size
        self.labels = _labels(labels, num_classes)
        self.net = _torchvision_net(arch, num_classes, image_size)

    def loss(self, images: torch.Tensor, targets: list[dict[str, torch.Tensor]]) -> torch.Tensor:
        losses = self.net(list(images), [{"boxes": target["boxes"], "labels": target["labels"] + 1}
                                         for target in targets])
        return sum(losses.values())

    @torch.no_grad()
    def candidates(self, images: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        was_training = self.net.training
        self.net.eval()
        out = self.net(list(images))
        self.net.train(was_training)
        return [{"boxes": o["boxes"], "scores": o["scores"], "labels": o["labels"] - 1} for o in out]


# ----------------------------------------------------------------- transformers
class TransformersDetector(nn.Module):
    """A transformers ``AutoModelForObjectDetection`` (DETR, Conditional/Deformable DETR, YOLOS, RT-DETR...)
    with its image processor; DETR-style models predict a set of boxes and need no NMS."""

    def __init__(self, net: nn.Module, processor: Any):
        super().__init__()
        self.net, self.processor = net, processor
        cfg = net.config
        self.num_classes = int(cfg.num_labels)
        self.labels = [str(cfg.id2label.get(i, i)) for i in range(self.num_classes)]
        from .inference import processor_side

        self.image_size = processor_side(processor, "shortest_edge", "height")

    def _inputs(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        inputs = self.processor(images=list(images.cpu()), return_tensors="pt", do_rescale=False)
        return {k: v.to(images.device) for k, v in inputs.items()}

    def loss(self, images: torch.Tensor, targets: list[dict[str, torch.Tensor]]) -> torch.Tensor:
        """The model's own set loss (Hungarian matching of predictions to boxes, then class + L1 + GIoU terms:
        Carion et al., 2020, https://arxiv.org/abs/2005.12872); boxes go in as (cx, cy, w, h) fractions of the image."""
        h, w = images.shape[-2:]
        scale = torch.tensor([w, h, w, h], dtype=torch.float32, device=images.device)
        labels = []
        for target in targets:
            b = target["boxes"].float() / scale
            labels.append({"class_labels": target["labels"].long(),
                           "boxes": torch.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2,
                                                 b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], 1)})
        return self.net(**self._inputs(images), labels=labels).loss

    def save_pretrained(self, folder: str | Path) -> None:
        """config.json + model.safetensors + preprocessor_config.json: transformers' own layout, so the folder loads
        with ``pipeline("object-detection", model=...)`` as well as here."""
        self.net.save_pretrained(folder)
        self.processor.save_pretrained(folder)

    @torch.no_grad()
    def candidates(self, images: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        h, w = images.shape[-2:]
        inputs = self._inputs(images)
        outputs = self.net(**inputs)
        results = self.processor.post_process_object_detection(outputs, threshold=MIN_SCORE,
                                                               target_sizes=[(h, w)] * len(images))
        return [{"boxes": r["boxes"], "scores": r["scores"], "labels": r["labels"]} for r in results]


def load_transformers_detector(folder: str | Path, labels: list[str] | None = None,
                               image_size: int | None = None) -> TransformersDetector:
    """A transformers object detector; with ``labels`` (and ``image_size``), ready to fine-tune on those classes."""
    from .inference import load_transformers_vision

    net, processor = load_transformers_vision(folder, "AutoModelForObjectDetection", labels, image_size)
    return TransformersDetector(net.train(labels is not None), processor)


# ----------------------------------------------------------------- registry and I/O
CLASSES = {"TinySSD": TinySSD, "TorchvisionDetector": TorchvisionDetector}


def create_detector(name: str, num_classes: int, labels: list[str], image_size: int) -> nn.Module:
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; choose one of {', '.join(DETECTORS)}")
    return DETECTORS[name].create(num_classes=num_classes, labels=labels, image_size=image_size)


def load_detector(folder: str | Path) -> nn.Module:
    """A detector folder in eval mode: ours (TinySSD, torchvision) or a transformers object detector."""
    from .inference import load_by_config

    return load_by_config(folder, CLASSES, "ForObjectDetection", load_transformers_detector, "object detector")


def filter_candidates(cands: dict[str, torch.Tensor], score_threshold: float, iou_threshold: float,
                      steps: list[B.NMSStep] | None = None) -> torch.Tensor:
    """Indices (into ``cands``) of the detections shown: score above the threshold, then NMS per class."""
    above = (cands["scores"] >= score_threshold).nonzero().flatten()
    keep = B.batched_nms(cands["boxes"][above], cands["scores"][above], cands["labels"][above], iou_threshold, steps)
    if steps is not None:  # indices of the filtered subset -> indices of the candidates
        for s in steps:
            s.kept = int(above[s.kept])
            s.suppressed = [(int(above[j]), iou) for j, iou in s.suppressed]
    return above[keep]


# ----------------------------------------------------------------- predict on one image
def detect_image(model: nn.Module, image: Any) -> dict[str, Any]:
    """The candidates of one user image, JSON-able, boxes in the image's own pixels: what the UI keeps so
    that the sliders re-filter them without running the network again."""
    from .inference import image_to_tensor, load_image

    img = load_image(image, channels=3)
    s = int(model.image_size)
    x = image_to_tensor(img.resize((s, s))).float().div(255).unsqueeze(0)
    c = model.candidates(x)[0]
    scale = torch.tensor([img.width / s, img.height / s, img.width / s, img.height / s])
    return {"boxes": (c["boxes"] * scale).tolist(), "scores": c["scores"].tolist(), "labels": c["labels"].tolist(),
            "names": list(model.labels), "size": [img.width, img.height]}


def detections(cands: dict[str, Any], score_threshold: float = 0.5, iou_threshold: float = 0.5) -> list[dict]:
    """The detections kept by the two thresholds as the Inference API reports them: label, score and the box in
    whole pixels of the image ({xmin, ymin, xmax, ymax}), best first."""
    tensors = {"boxes": torch.tensor(cands["boxes"], dtype=torch.float32).reshape(-1, 4),
               "scores": torch.tensor(cands["scores"], dtype=torch.float32),
               "labels": torch.tensor(cands["labels"], dtype=torch.long)}
    keep = sorted(filter_candidates(tensors, score_threshold, iou_threshold).tolist(),
                  key=lambda i: -cands["scores"][i])
    return [{"label": cands["names"][cands["labels"][i]], "score": cands["scores"][i],
             "box": dict(zip(("xmin", "ymin", "xmax", "ymax"), (round(v) for v in cands["boxes"][i])))}
            for i in keep]


def show_detections(image: Any, cands: dict[str, Any], score_threshold: float, iou_threshold: float):
    """(picture, rows of detections, rows of NMS steps) for candidates kept by the two thresholds.

    The picture draws kept boxes in their class colours over the boxes NMS removed (thin, grey).
    """
    from .inference import load_image
    from .visual import captioned, draw_boxes, enlarged

    tensors = {"boxes": torch.tensor(cands["boxes"], dtype=torch.float32).reshape(-1, 4),
               "scores": torch.tensor(cands["scores"], dtype=torch.float32),
               "labels": torch.tensor(cands["labels"], dtype=torch.long)}
    names = cands["names"]
    steps: list[B.NMSStep] = []
    keep = filter_candidates(tensors, score_threshold, iou_threshold, steps).tolist()
    removed = [j for s in steps for j, _ in s.suppressed]
    img, k = enlarged(load_image(image, channels=3))
    picture = draw_boxes(img, [[v * k for v in cands["boxes"][i]] for i in keep], [cands["labels"][i] for i in keep],
                         names, [cands["scores"][i] for i in keep], faint=[[v * k for v in cands["boxes"][j]]
                                                                           for j in removed])

    if not keep:  # said under the picture, where the boxes would be: an empty table alone says nothing
        best = max(cands["scores"], default=None)
        picture = captioned(picture, t("detection.no_box_above", threshold=score_threshold, best=best)
                            if best is not None else t("detection.no_candidate"), wrap=True)

    def label(i: int) -> str:
        return f"{names[cands['labels'][i]]} {cands['scores'][i]:.2f}"

    rows = [[names[cands["labels"][i]], round(cands["scores"][i], 3), *[round(v, 1) for v in cands["boxes"][i]]]
            for i in keep]
    nms_rows = [[n + 1, label(s.kept), len(s.suppressed),
                 ", ".join(f"{label(j)} (IoU {iou:.2f})" for j, iou in s.suppressed[:6])
                 + (" ..." if len(s.suppressed) > 6 else "")] for n, s in enumerate(steps)]
    return picture, rows, nms_rows


def anchor_picture(model: nn.Module, image: Any, scale: int, cands: dict[str, Any] | None = None,
                   score_threshold: float = 0.5, iou_threshold: float = 0.5):
    """TinySSD's anchors at one scale (1 = the finest feature map) drawn on the image: a dot per
    feature-map cell, the anchors of the centre cell in white, and, in class colours, the anchors
    that would be matched (IoU >= 0.5) to the objects detected with the given thresholds."""
    from PIL import ImageDraw

    from .inference import InputError, load_image
    from .visual import colour, enlarged

    if not isinstance(model, TinySSD):
        raise InputError(t("detection.anchors_tinyssd_only"))
    if not 1 <= scale <= len(model.sizes):
        raise InputError(t("detection.scale_range", n=len(model.sizes)))
    img, k = enlarged(load_image(image, channels=3))
    s = model.image_size
    fh, fw = model.feature_sizes((s, s))[scale - 1]
    anchors = model.anchors((s, s))[scale - 1]  # (fh * fw * A, 4) in network pixels
    sx, sy = img.width / s, img.height / s
    scaled = anchors * torch.tensor([sx, sy, sx, sy])  # in display pixels
    per_cell = len(anchors) // (fh * fw)
    out = img.copy()
    draw = ImageDraw.Draw(out)
    r = max(1, min(img.size) // 200)
    for i in range(fh):
        for j in range(fw):
            cx, cy = (j + 0.5) * img.width / fw, (i + 0.5) * img.height / fh
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(255, 255, 255))
    centre = (fh // 2) * fw + fw // 2
    for b in scaled[centre * per_cell:(centre + 1) * per_cell].tolist():
        draw.rectangle(b, outline=(255, 255, 255), width=max(1, r))
    if cands:
        tensors = {key: torch.tensor(cands[key]) for key in ("boxes", "scores", "labels")}
        tensors["boxes"] = tensors["boxes"].reshape(-1, 4).float() * k
        keep = filter_candidates(tensors, score_threshold, iou_threshold)
        if len(keep):
            iou = B.box_iou(scaled, tensors["boxes"][keep])
            best, which = iou.max(1)
            for b, w in zip(scaled[best >= 0.5].tolist(), which[best >= 0.5].tolist()):
                draw.rectangle(b, outline=colour(int(tensors["labels"][keep][w])), width=max(1, r))
    return out


@model_cache(maxsize=4)
def load_cached(folder: str) -> nn.Module:
    """load_detector, kept for the next request."""
    return load_detector(folder)
