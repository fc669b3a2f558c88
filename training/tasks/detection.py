"""Object detection: the config and the declaration (torch-free)."""
from __future__ import annotations

from dataclasses import dataclass

from ..config import TrainConfig, opt, registry_names
from . import Task

DETECTORS = registry_names("hub_models.detection", "DETECTORS")

BUILTIN = "shapes"


@dataclass
class DetectionConfig(TrainConfig):
    epochs: int = opt(8, "passes over the training split")
    batch_size: int = opt(32, "images per step")
    lr: float = opt(3e-3, "peak learning rate")
    schedule: str = opt("onecycle", "learning-rate schedule over the run (warm-up then decay suits detectors "
                                    "trained from scratch)", ("constant", "cosine", "step", "onecycle"))
    model: str = opt("tinyssd", "detector", DETECTORS)
    dataset: str = opt(BUILTIN, "'shapes' (built in: 1000 + 200 generated scenes of ellipses, rectangles and "
                                "triangles with exact boxes), a COCO or YOLO folder or .zip, or a dataset repo id on "
                                "--hub")
    image_size: int = opt(128, "images are resized to this square size (a multiple of 64 for tinyssd)")
    val_split: float = opt(0.2, "fraction of an uploaded dataset held out for validation")
    init_from: str = opt("", "fine-tune: start from a detector of the same architecture saved here or on --hub (a "
                             "folder or repo id); tensors whose shapes differ (class heads, for other classes) start "
                             "fresh")
    flip: bool = opt(True, "mirror training images (and their boxes) at random")

TASK = Task(name="detection", title="Object detection", config=DetectionConfig, trainer="training.detection", metric="map50",
            dry_run={"batch_size": 4}, tab="spaces.detection")
