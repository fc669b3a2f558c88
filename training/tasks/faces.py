"""Face verification: the config and the declaration (torch-free)."""
from __future__ import annotations

from dataclasses import dataclass

from common.errors import ConfigError
from common.i18n import t
from hub_models.catalog import EMBEDDERS, fine_tune_bases

from ..config import SCHEDULES, TrainConfig, field_label, opt
from . import Task
from .classification import TIMM_PREFIX, check_timm_name

MINING = ("semi-hard", "batch-hard", "all")
BUILTIN = "faces"


@dataclass
class FaceConfig(TrainConfig):
    epochs: int = opt(20, "passes over the training people", min=1, max=300)
    # Two people at least: a batch of one has no negatives, so triplet and contrastive loss are zero.
    batch_size: int = opt(16, "people per batch (each with --photos-per-person photos)", min=2, max=512)
    lr: float = opt(3e-3, "peak learning rate", label="Learning rate", min=1e-7, max=1)
    schedule: str = opt("onecycle", "learning-rate schedule over the run", SCHEDULES)
    model: str = opt("small-cnn", f"embedding network: small-cnn, resnet (ours), timm:resnet18 ... (the registry in "
                                  f"hub_models.faces), or {TIMM_PREFIX}<any timm architecture>",
                     suggest=tuple(EMBEDDERS))
    loss: str = opt("triplet", "triplet loss (FaceNet) or a Siamese network's contrastive loss",
                    ("triplet", "contrastive"))
    mining: str = opt("semi-hard", "which negatives triplet loss uses", MINING)
    margin: float = opt(0.0, "margin of the loss; 0: 0.2 for triplet, 1.0 for contrastive", min=0, max=4)
    embedding_dim: int = opt(64, "length of the face embedding", min=2, max=1024)
    # Two at least: a batch needs pairs of the same person.
    photos_per_person: int = opt(4, "photos of each person in a batch (K of P x K)", min=2, max=32)
    dataset: str = opt(BUILTIN, "'faces' (built in: 80 drawn people to train on and 20 unseen ones to validate, "
                                "10 photos each), a folder or .zip with one folder per person, or a dataset repo "
                                "id on --hub")
    face_crop: str = opt("auto", "how faces are cut from the photos: haar (OpenCV's cascade finds and aligns "
                                 "them), none (the images are crops already), auto (none for the built-in "
                                 "faces, haar otherwise)", ("auto", "haar", "none"))
    image_size: int = opt(64, "face crops are resized to this square size", min=32, max=256)
    val_split: float = opt(0.2, "fraction of an uploaded dataset's people held out (unseen) for validation",
                           min=0.01, max=0.99)
    init_from: str = opt("", "fine-tune: start from an embedder saved here or on --hub (a folder or repo id), or "
                             "from a timm ImageNet classifier's backbone (timm/resnet18.a1_in1k), which then "
                             "replaces --model", suggest=fine_tune_bases("faces"))
    flip: bool = opt(True, "mirror training faces at random")

    def check(self) -> None:
        if not self.model.startswith(TIMM_PREFIX) and self.model not in (names := tuple(EMBEDDERS)):
            raise ConfigError("model", t("trainer.task_embedder", label=field_label(type(self), "model"), name=self.model,
                                         choices=", ".join(names), prefix=TIMM_PREFIX))

    def check_deep(self) -> None:
        check_timm_name(self, "model")


TASK = Task(name="faces", title="Face verification", config=FaceConfig, trainer="training.face_verification",
            metric="auc", dry_run={"batch_size": 3}, tab="webui.faces", space="faces",
            pipelines=("image-feature-extraction",))
