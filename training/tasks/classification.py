"""Image classification: the config and the declaration (torch-free)."""
from __future__ import annotations

from dataclasses import dataclass

from common.errors import ConfigError
from common.i18n import t
from hub_models.catalog import CLASSIFIERS

from ..config import TrainConfig, field_label, opt
from . import Task

TIMM_PREFIX = "timm:"  # timm:<any timm architecture> (hub_models.adapters reads the same prefix)
# Offered in the architecture dropdown: small enough to train on a CPU in minutes. Any other timm name works too.
TIMM_SUGGESTED = ("timm:resnet18", "timm:mobilenetv3_small_050", "timm:efficientnet_b0", "timm:convnext_atto",
                  "timm:vit_tiny_patch16_224")
AUGMENTATIONS = ("flip", "crop", "jitter")
BUILTIN = "digits"


def check_timm_name(cfg: TrainConfig, name: str) -> None:
    """A ``timm:<architecture>`` value of field ``name`` must be one timm has (check_deep: imports timm)."""
    value = getattr(cfg, name)
    if value.startswith(TIMM_PREFIX):
        from hub_models.adapters import check_timm_arch

        try:
            check_timm_arch(value[len(TIMM_PREFIX):])
        except ValueError as e:
            raise ConfigError(name, f"{field_label(type(cfg), name)}: {e}") from None


@dataclass
class ClassificationConfig(TrainConfig):
    # Defaults that take LeNet past 97% on the digits in a few seconds on two CPU cores.
    epochs: int = opt(10, "passes over the training split", min=1, max=500)
    batch_size: int = opt(32, "examples per step", min=1, max=4096)
    lr: float = opt(3e-3, "peak learning rate (a huge one diverges: the run stops with a message)",
                    label="Learning rate", min=0)
    model: str = opt("lenet", f"architecture: one of ours (lenet, resnet18-small ...: see the registry in "
                              f"hub_models.classification), or any timm model as {TIMM_PREFIX}<name> "
                              f"(e.g. {TIMM_PREFIX}resnet18)", label="Architecture", suggest=(*CLASSIFIERS, *TIMM_SUGGESTED))
    init_from: str = opt("", "fine-tune: start from the weights of a timm model, a repo id on --hub (hf-hub: "
                             "prefix allowed) or a folder; its head is replaced to fit your classes",
                         label="Fine-tune from (timm models)")
    dataset: str = opt(BUILTIN, "'digits' (built in: scikit-learn's 8x8 digits, 1797 images, 10 classes), a folder "
                                "or .zip with one folder per class, or a dataset repo id on --hub")
    image_size: int = opt(0, "input size in pixels (0: the model's default)",
                          label="Image size (0: the model's default)", min=0, max=512)
    val_split: float = opt(0.2, "fraction of the data held out for validation", min=0.01, max=0.99)
    augment: str = opt("", "training-time augmentation, comma-separated: flip (horizontal), crop (pad 1/8 and "
                           "crop back, a small shift), jitter (brightness and contrast)")
    label_smoothing: float = opt(0.0, "label smoothing of the cross-entropy loss", min=0, max=0.99)

    def check(self) -> None:
        if unknown := set(self.augmentations) - set(AUGMENTATIONS):
            raise ConfigError("augment", t("trainer.task_augment", names=", ".join(sorted(unknown)),
                                           choices=", ".join(AUGMENTATIONS)))
        if not self.model.startswith(TIMM_PREFIX):
            if self.model not in CLASSIFIERS:
                raise ConfigError("model", t("trainer.task_architecture", name=self.model, choices=", ".join(CLASSIFIERS),
                                             prefix=TIMM_PREFIX))
            if self.init_from:
                raise ConfigError("init_from", t("trainer.task_init_timm", prefix=TIMM_PREFIX))

    def check_deep(self) -> None:
        check_timm_name(self, "model")

    @property
    def augmentations(self) -> tuple[str, ...]:
        return tuple(a.strip() for a in self.augment.split(",") if a.strip())


TASK = Task(name="classification", title="Image classification", config=ClassificationConfig,
            trainer="training.classification", metric="accuracy", dry_run={"batch_size": 8},
            tab="webui.classification", space="classification", pipelines=("image-classification",))
