"""Object detection: the config and the declaration (torch-free)."""
from __future__ import annotations

from dataclasses import dataclass

from common.errors import ConfigError
from common.i18n import t
from hub_models.catalog import DETECTORS, fine_tune_bases

from ..config import SCHEDULES, TrainConfig, field_label, opt
from . import Task


BUILTIN = "shapes"
TINYSSD_STRIDE = 64  # the side of a cell of TinySSD's coarsest feature map, in pixels


@dataclass
class DetectionConfig(TrainConfig):
    epochs: int = opt(8, "passes over the training split", min=1, max=300)
    batch_size: int = opt(32, "images per step", min=1, max=512)
    lr: float = opt(3e-3, "peak learning rate", label="Learning rate", min=1e-7, max=1)
    schedule: str = opt("onecycle", "learning-rate schedule over the run (warm-up then decay suits detectors "
                                    "trained from scratch)", SCHEDULES)
    model: str = opt("tinyssd", "detector", tuple(DETECTORS))
    dataset: str = opt(BUILTIN, "'shapes' (built in: 1000 + 200 generated scenes of ellipses, rectangles and "
                                "triangles with exact boxes), a COCO or YOLO folder or .zip, or a dataset repo id on "
                                "--hub")
    image_size: int = opt(128, f"images are resized to this square size (a multiple of {TINYSSD_STRIDE} for "
                               f"tinyssd)", min=32, max=1024)
    val_split: float = opt(0.2, "fraction of an uploaded dataset held out for validation", min=0.01, max=0.99)
    init_from: str = opt("", "fine-tune: start from a detector saved here or on --hub (a folder or repo id): one of "
                             "ours of the same architecture, or a transformers one pretrained on COCO (DETR, YOLOS...), "
                             "which then replaces --model; class heads for other classes start fresh",
                         suggest=fine_tune_bases("detection"))
    flip: bool = opt(True, "mirror training images (and their boxes) at random")

    def check(self) -> None:
        if self.model == "tinyssd" and self.image_size % TINYSSD_STRIDE:
            k = max(1, round(self.image_size / TINYSSD_STRIDE))
            raise ConfigError("image_size", t("trainer.task_tinyssd_size", label=field_label(type(self), "image_size"),
                                              unit=TINYSSD_STRIDE, size=self.image_size, good=k * TINYSSD_STRIDE))


TASK = Task(name="detection", title="Object detection", config=DetectionConfig, trainer="training.detection",
            metric="map50", dry_run={"batch_size": 4}, tab="webui.detection", space="detection",
            pipelines=("object-detection",), memory_gb=3.0)
