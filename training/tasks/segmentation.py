"""Semantic segmentation: the config and the declaration (torch-free)."""
from __future__ import annotations

from dataclasses import dataclass

from hub_models.catalog import SEGMENTERS, fine_tune_bases

from ..config import SCHEDULES, TrainConfig, opt
from . import Task


BUILTIN = "shapes"


@dataclass
class SegmentationConfig(TrainConfig):
    epochs: int = opt(14, "passes over the training split", min=1, max=300)
    batch_size: int = opt(16, "images per step", min=1, max=512)
    lr: float = opt(1e-2, "peak learning rate (U-Net from scratch: the classes separate after a few epochs at 1e-2, "
                          "and stall at 3e-3)", label="Learning rate", min=1e-7, max=1)
    schedule: str = opt("onecycle", "learning-rate schedule over the run", SCHEDULES)
    model: str = opt("unet", "segmentation network", tuple(SEGMENTERS))
    dataset: str = opt(BUILTIN, "'shapes' (built in: 1000 + 200 generated scenes with exact masks of ellipses, "
                                "rectangles and triangles), a folder or .zip of images/ + masks/, or a dataset "
                                "repo id on --hub")
    image_size: int = opt(128, "images and masks are resized to this square size", min=32, max=1024)
    val_split: float = opt(0.2, "fraction of an uploaded dataset held out for validation", min=0.01, max=0.99)
    init_from: str = opt("", "fine-tune: start from a segmentation model saved here or on --hub (a folder or repo "
                             "id): one of ours of the same architecture, or a transformers one pretrained on ADE20K "
                             "(SegFormer...), which then replaces --model; class heads for other classes start fresh",
                         suggest=fine_tune_bases("segmentation"))
    flip: bool = opt(True, "mirror training images (and masks) at random")


TASK = Task(name="segmentation", title="Semantic segmentation", config=SegmentationConfig,
            trainer="training.segmentation", metric="miou", dry_run={"batch_size": 4},
            tab="webui.segmentation", space="segmentation", pipelines=("image-segmentation",),
            memory_gb=3.0)
