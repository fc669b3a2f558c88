"""Neural style transfer: the config and the declaration (torch-free)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common.errors import ConfigError
from common.i18n import t
from hub_models.catalog import STYLE_NETS
from hub_models.style_catalog import BUILTIN_IMAGES, EXTRACTORS

from ..config import SCHEDULES, TrainConfig, field_label, opt
from . import Task


BUILTIN = "photos"


@dataclass
class StyleConfig(TrainConfig):
    epochs: int = opt(4, "passes of --crops-per-epoch content crops", min=1, max=300)
    batch_size: int = opt(4, "content crops per step", min=1, max=512)
    lr: float = opt(2e-3, "peak learning rate", label="Learning rate", min=1e-7, max=1)
    schedule: str = opt("cosine", "learning-rate schedule over the run", SCHEDULES)
    model: str = opt("style-net", "the style network: style-net (0.4 M parameters) or style-net-wide (1.7 M, "
                                  "Johnson's size)", tuple(STYLE_NETS))
    style: str = opt("flower", "the style image: " + ", ".join(BUILTIN_IMAGES) + " (built in), or an image file")
    style_file: str = opt("", "an image file for the style (overrides --style)")
    dataset: str = opt(BUILTIN, "content images: 'photos' (built in: crops of astronaut, coffee, rocket and china, "
                                "photos that ship with scikit-image and scikit-learn), or a folder, .zip or "
                                "dataset repo of images")
    extractor: str = opt("vgg19-random", "the frozen network that scores style and content", tuple(EXTRACTORS))
    content_weight: float = opt(1.0, "weight of the content loss (relative MSE of features)", min=0)
    style_weight: float = opt(10.0, "weight of the style loss (relative MSE of Gram matrices)", min=0)
    tv_weight: float = opt(2.0, "weight of the total-variation loss (smoothness)", label="TV weight", min=0)
    image_size: int = opt(96, "side of the square content crops it trains on", min=32, max=512)
    crops_per_epoch: int = opt(320, "content crops in one epoch", min=1)
    init_from: str = opt("", "fine-tune: start from a style network saved here or on --hub (a folder or repo id)")
    flip: bool = opt(True, "mirror content crops at random")

    def check(self) -> None:
        if self.style_file:
            if not Path(self.style_file).is_file():
                raise ConfigError("style_file", t("trainer.task_no_style_file", label=field_label(type(self), "style_file"),
                                                  path=self.style_file))
        elif self.style not in BUILTIN_IMAGES and not Path(self.style).is_file():
            raise ConfigError("style", t("trainer.task_style", label=field_label(type(self), "style"), name=self.style,
                                         choices=", ".join(BUILTIN_IMAGES)))


# i18n: not shown (the tab's name is tab.style)
TASK = Task(name="style", title="Neural style transfer", config=StyleConfig, trainer="training.style",
            metric="style_loss", lower_is_better=True, dry_run={"batch_size": 2, "image_size": 64}, tab="webui.style",
            space="style", pipelines=("image-to-image",))
