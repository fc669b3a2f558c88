"""Box utilities against torchvision.ops / torchvision's detection helpers, and mAP against pycocotools."""
from __future__ import annotations

import pytest
import torch

from hub_models import boxes as B


def random_boxes(n: int, size: float = 100.0, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * size
    wh = torch.rand(n, 2, generator=g) * size / 3 + 1
    return torch.cat([xy, xy + wh], dim=1)


@pytest.mark.parametrize("seed", range(3))
def test_iou_matches_torchvision(seed):
    from torchvision.ops import box_iou

    a, b = random_boxes(40, seed=seed), random_boxes(30, seed=seed + 10)
    torch.testing.assert_close(B.box_iou(a, b), box_iou(a, b))
    assert B.box_iou(a[:1], a[:1]).item() == pytest.approx(1.0)


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_nms_matches_torchvision(threshold):
    from torchvision.ops import batched_nms, nms

    boxes = random_boxes(200, size=60, seed=1)  # crowded: plenty of overlaps
    scores = torch.rand(200, generator=torch.Generator().manual_seed(2))
    assert B.nms(boxes, scores, threshold).tolist() == nms(boxes, scores, threshold).tolist()
    labels = torch.randint(0, 3, (200,), generator=torch.Generator().manual_seed(3))
    assert sorted(B.batched_nms(boxes, scores, labels, threshold).tolist()) == \
        sorted(batched_nms(boxes, scores, labels, threshold).tolist())


def test_nms_records_each_step():
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 9.0]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.95])
    steps: list[B.NMSStep] = []
    keep = B.nms(boxes, scores, 0.5, steps)
    assert keep.tolist() == [3, 2]
    assert [s.kept for s in steps] == [3, 2]
    assert {j for j, _ in steps[0].suppressed} == {0, 1}
    assert steps[0].suppressed[0][1] == pytest.approx(0.9)  # box 0 vs box 3: 90 / 100
    assert steps[1].suppressed == []


@pytest.mark.parametrize("seed", range(3))
def test_encode_decode_match_torchvision_box_coder(seed):
    from torchvision.models.detection._utils import BoxCoder

    anchors, gt = random_boxes(50, seed=seed), random_boxes(50, seed=seed + 5)
    coder = BoxCoder(B.BOX_WEIGHTS)
    offsets = B.encode(gt, anchors)
    torch.testing.assert_close(offsets, coder.encode_single(gt, anchors))
    torch.testing.assert_close(B.decode(offsets, anchors), gt, atol=1e-3, rtol=1e-4)
    torch.testing.assert_close(B.decode(offsets, anchors), coder.decode_single(offsets, anchors), atol=1e-3, rtol=1e-4)


@pytest.mark.parametrize("feature, sizes, ratios", [((4, 5), (32, 64), (0.5, 1.0, 2.0)), ((7, 7), (16,), (1.0,)),
                                                   ((3, 2), (20, 40, 80), (1.0, 2.0))])
def test_anchors_match_torchvision_anchor_generator(feature, sizes, ratios):
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.image_list import ImageList

    image_hw = (feature[0] * 16, feature[1] * 16)
    gen = AnchorGenerator(sizes=(sizes,), aspect_ratios=(ratios,))
    images = ImageList(torch.zeros(1, 3, *image_hw), [image_hw])
    theirs = gen(images, [torch.zeros(1, 8, *feature)])[0]
    ours = B.anchors_for(feature, image_hw, sizes, ratios, centred=False)
    assert ours.shape == theirs.shape == (feature[0] * feature[1] * len(sizes) * len(ratios), 4)
    torch.testing.assert_close(ours, theirs, atol=0.5, rtol=0)  # torchvision rounds its base anchors
    centred = B.anchors_for(feature, image_hw, sizes, ratios)
    torch.testing.assert_close(centred - ours, torch.full_like(ours, 8.0))  # half a stride
    wh = centred[:, 2:] - centred[:, :2]
    torch.testing.assert_close(wh.prod(1).sqrt(), torch.tensor(sizes, dtype=torch.float32).repeat(
        len(ratios) * feature[0] * feature[1]), rtol=1e-5, atol=1e-3)  # area s^2 whatever the ratio


def test_match_anchors_gives_every_box_an_anchor():
    anchors = torch.tensor([[0, 0, 10, 10], [0, 0, 12, 12], [20, 20, 30, 30], [40, 40, 41, 41.0]])
    boxes = torch.tensor([[0, 0, 11, 11], [38, 38, 60, 60.0]])
    matched = B.match_anchors(anchors, boxes, 0.5)
    assert matched.tolist() == [0, 0, -1, 1]  # box 1 overlaps anchor 3 a little, but it is its best
    assert B.match_anchors(anchors, torch.zeros(0, 4)).tolist() == [-1] * 4


def _coco_eval(dets, targets, num_classes):
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def xywh(b):
        return [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]

    gt = COCO()
    anns, aid = [], 1
    for i, t in enumerate(targets):
        for b, lab in zip(t["boxes"], t["labels"]):
            w, h = float(b[2] - b[0]), float(b[3] - b[1])
            anns.append({"id": aid, "image_id": i, "category_id": int(lab), "bbox": xywh(b), "area": w * h,
                         "iscrowd": 0})
            aid += 1
    gt.dataset = {"images": [{"id": i, "width": 200, "height": 200} for i in range(len(targets))],
                  "annotations": anns, "categories": [{"id": c} for c in range(num_classes)]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        results = [{"image_id": i, "category_id": int(lab), "bbox": xywh(b), "score": float(s)}
                   for i, d in enumerate(dets) for b, s, lab in zip(d["boxes"], d["scores"], d["labels"])]
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "bbox")
        ev.params.areaRng = [[0, 1e10]]  # "all" only
        ev.params.areaRngLbl = ["all"]
        ev.params.maxDets = [100]
        ev.evaluate()
        ev.accumulate()
    p = ev.eval["precision"][:, :, :, 0, 0]  # (T, R, K)
    ap = torch.tensor(p).mean(dim=1)  # (T, K); -1 where a class has no ground truth
    return ap.T


@pytest.mark.parametrize("seed", range(4))
def test_average_precision_matches_pycocotools(seed):
    g = torch.Generator().manual_seed(seed)
    num_classes, dets, targets = 3, [], []
    for i in range(6):
        gt = random_boxes(int(torch.randint(0, 6, (1,), generator=g)), seed=seed * 100 + i)
        labels = torch.randint(0, num_classes, (len(gt),), generator=g)
        # Detections: noisy copies of the truth (some with the wrong class) plus random false positives.
        noisy = gt + torch.randn(gt.shape, generator=g) * 4
        fp = random_boxes(4, seed=seed * 100 + i + 50)
        boxes = torch.cat([noisy, fp])
        boxes[:, 2:] = torch.max(boxes[:, 2:], boxes[:, :2] + 1)
        dl = torch.cat([torch.where(torch.rand(len(gt), generator=g) < 0.8, labels, (labels + 1) % num_classes),
                        torch.randint(0, num_classes, (4,), generator=g)])
        dets.append({"boxes": boxes, "scores": torch.rand(len(boxes), generator=g), "labels": dl})
        targets.append({"boxes": gt, "labels": labels})
    ours = B.average_precision(dets, targets, num_classes)
    theirs = _coco_eval(dets, targets, num_classes)
    present = theirs[:, 0] > -1
    assert present.any()
    torch.testing.assert_close(ours[present], theirs[present].to(ours.dtype), atol=1e-9, rtol=0)
    assert ours[~present].isnan().all()


def test_perfect_detections_score_one():
    boxes = random_boxes(5)
    labels = torch.tensor([0, 1, 1, 0, 2])
    t = [{"boxes": boxes, "labels": labels}]
    d = [{"boxes": boxes, "scores": torch.linspace(1, 0.5, 5), "labels": labels}]
    assert B.detection_metrics(d, t, 3) == pytest.approx({"map50": 1.0, "map": 1.0, "ap50_0": 1.0, "ap50_1": 1.0,
                                                          "ap50_2": 1.0})
    empty = [{"boxes": torch.zeros(0, 4), "scores": torch.zeros(0), "labels": torch.zeros(0, dtype=torch.long)}]
    assert B.detection_metrics(empty, t, 3)["map50"] == 0.0
