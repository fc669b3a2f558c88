"""Face verification: the config and the declaration (torch-free)."""
from __future__ import annotations

from dataclasses import dataclass

from ..config import TrainConfig, opt
from . import Task

MINING = ("semi-hard", "batch-hard", "all")
BUILTIN = "faces"


@dataclass
class FaceConfig(TrainConfig):
    epochs: int = opt(20, "passes over the training people")
    batch_size: int = opt(16, "people per batch (each with --photos-per-person photos)")
    lr: float = opt(3e-3, "peak learning rate")
    schedule: str = opt("onecycle", "learning-rate schedule over the run", ("constant", "cosine", "step", "onecycle"))
    model: str = opt("small-cnn", "embedding network: small-cnn, resnet (ours), timm:resnet18 ... (the registry in hub_models.faces), or timm:<architecture>")
    loss: str = opt("triplet", "triplet loss (FaceNet) or a Siamese network's contrastive loss",
                    ("triplet", "contrastive"))
    mining: str = opt("semi-hard", "which negatives triplet loss uses", MINING)
    margin: float = opt(0.0, "margin of the loss; 0: 0.2 for triplet, 1.0 for contrastive")
    embedding_dim: int = opt(64, "length of the face embedding")
    photos_per_person: int = opt(4, "photos of each person in a batch (K of P x K)")
    dataset: str = opt(BUILTIN, "'faces' (built in: 80 drawn people to train on and 20 unseen ones to validate, "
                                "10 photos each), a folder or .zip with one folder per person, or a dataset repo "
                                "id on --hub")
    face_crop: str = opt("auto", "how faces are cut from the photos: haar (OpenCV's cascade finds and aligns "
                                 "them), none (the images are crops already), auto (none for the built-in "
                                 "faces, haar otherwise)", ("auto", "haar", "none"))
    image_size: int = opt(64, "face crops are resized to this square size")
    val_split: float = opt(0.2, "fraction of an uploaded dataset's people held out (unseen) for validation")
    init_from: str = opt("", "fine-tune: start from an embedder saved here or on --hub (a folder or repo id)")
    flip: bool = opt(True, "mirror training faces at random")


TASK = Task(name="faces", title="Face verification", config=FaceConfig, trainer="training.face_verification", metric="auc",
            dry_run={"batch_size": 3}, tab="spaces.faces")
