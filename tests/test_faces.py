"""Face verification: losses and mining against hand-computed values, ROC/AUC, detection and alignment,
bad photos, the gallery on disk, every embedder's hub round trip, trainer dry runs, and learning."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from conftest import assert_refused
from common.errors import ConfigError
from hub_models.catalog import EMBEDDERS
from hub_models.faces import Gallery, create_embedder, face_crop, load_embedder, verify
from hub_models.inference import InputError, load_image
from training.config import TrainingError
from training.face_verification import FaceConfig
from training.metric_learning import contrastive_loss, roc, semi_hard_negatives, triplet_loss, pairwise_distances
from training.tasks import train

EX = Path(__file__).resolve().parents[1] / "assets" / "examples"
# Five faces on a line (x only): A at 0.0 and 0.3, B at 0.4 and 1.0, C alone at 0.1.
POINTS = torch.tensor([[0.0, 0.0], [0.3, 0.0], [0.4, 0.0], [0.1, 0.0], [1.0, 0.0]])
LABELS = torch.tensor([0, 0, 1, 2, 1])


def test_semi_hard_mining_picks_the_right_negatives():
    a, p, n = semi_hard_negatives(pairwise_distances(POINTS), LABELS)
    # (0,1): d_ap 0.3, negatives 0.4/0.1/1.0 -> the closest farther than 0.3 is 2 (0.4)
    # (1,0): negatives of 1 at 0.1/0.2/0.7 -> 4 (0.7)
    # (2,4): d_ap 0.6, negatives of 2 at 0.4/0.1/0.3, none farther -> the farthest, 0 (0.4)
    # (4,2): negatives of 4 at 1.0/0.7/0.9 -> 1 (0.7)
    assert set(zip(a.tolist(), p.tolist(), n.tolist())) == {(0, 1, 2), (1, 0, 4), (2, 4, 0), (4, 2, 1)}


def test_triplet_losses_against_hand_values():
    loss, violating = triplet_loss(POINTS, LABELS, margin=0.2, mining="semi-hard")
    assert loss.item() == pytest.approx((0.1 + 0.0 + 0.4 + 0.1) / 4) and violating == pytest.approx(0.75)
    loss, _ = triplet_loss(POINTS, LABELS, margin=0.2, mining="batch-hard")  # anchor 3 has no positive
    assert loss.item() == pytest.approx((0.4 + 0.4 + 0.7 + 0.1) / 4)
    loss, frac = triplet_loss(POINTS, LABELS, margin=0.2, mining="all")
    assert loss.item() == pytest.approx(2.9 / 8) and frac == pytest.approx(8 / 12)
    # A batch of one person per face has no positive pair: zero loss, and a gradient that exists.
    e = torch.rand(4, 3, requires_grad=True)
    zero, _ = triplet_loss(e, torch.arange(4))
    zero.backward()
    assert zero.item() == 0 and e.grad is not None
    with pytest.raises(ValueError, match="mining"):
        triplet_loss(POINTS, LABELS, mining="hardest")


def test_contrastive_loss_against_hand_values():
    # positive pairs (0,1) d 0.3 and (2,4) d 0.6: (0.09 + 0.36) / 2; the 8 negative pairs: max(0, 1 - d)^2
    negatives = [0.36, 0.81, 0.0, 0.81, 0.64, 0.09, 0.49, 0.01]
    want = (0.09 + 0.36) / 2 + sum(negatives) / 8
    assert contrastive_loss(POINTS, LABELS, margin=1.0).item() == pytest.approx(want)


def test_distances_have_finite_gradients_on_the_diagonal():
    e = torch.tensor([[1.0, 0.0], [1.0, 0.0]], requires_grad=True)  # identical embeddings: d = 0
    triplet_loss(e, torch.tensor([0, 1]))[0].backward()
    contrastive_loss(e, torch.tensor([0, 0])).backward()
    assert torch.isfinite(e.grad).all()


def test_roc_auc_and_best_threshold():
    r = roc(torch.tensor([0.1, 0.2, 0.3, 0.4]), torch.tensor([True, False, True, False]))
    assert r["auc"] == pytest.approx(0.75) and r["accuracy"] == pytest.approx(0.75)
    assert r["threshold"] == pytest.approx(0.15)  # halfway between the best cut's two distances
    assert r["fpr"] == pytest.approx([0, 0, 0.5, 0.5, 1]) and r["tpr"] == pytest.approx([0, 0.5, 0.5, 1, 1])
    from sklearn.metrics import roc_auc_score

    g = torch.Generator().manual_seed(0)
    d = torch.randint(0, 20, (300,), generator=g).float() / 10  # many ties
    same = torch.rand(300, generator=g) < 0.4
    assert roc(d, same)["auc"] == pytest.approx(roc_auc_score(same.numpy(), -d.numpy()))


# ----------------------------------------------------------------- detection and bad photos
def test_the_photograph_is_found_and_aligned():
    face = face_crop(load_image(EX / "face-astronaut.jpg"))
    x, y, w, h = face.box
    assert 150 < x < 200 and 40 < y < 90 and 80 < w < 120 and len(face.eyes) == 2 and not face.others
    tilted = face_crop(load_image(EX / "face-astronaut-mirrored.jpg"))  # turned 8 degrees anticlockwise
    assert len(tilted.eyes) == 2 and -16 < tilted.angle < -6  # levelled by turning it back
    assert tilted.crop.width == tilted.crop.height


def test_bad_photos_get_clear_messages(tmp_path):
    photo = load_image(EX / "face-astronaut.jpg")
    with pytest.raises(InputError, match="No face found"):
        face_crop(Image.new("RGB", (200, 200), (120, 160, 200)))
    with pytest.raises(InputError, match="at least 32x32"):
        face_crop(photo.resize((20, 20)))
    two = Image.new("RGB", (1024, 512))
    two.paste(photo, (0, 0))
    two.paste(ImageOps.mirror(photo), (512, 0))
    assert len(face_crop(two).others) == 1  # several faces: the largest is used, the others reported
    big = photo.resize((4000, 4000))  # searched at 1024 px, boxes given in the photo's own pixels
    assert face_crop(big).box[2] > 600
    gray = tmp_path / "g.png"
    photo.convert("L").save(gray)
    alpha = tmp_path / "a.png"
    photo.convert("RGBA").save(alpha)
    model = create_embedder("small-cnn", 16, 32, "haar").eval()
    result = verify(model, gray, alpha)
    assert result["distance"] < 2 and not result["notes"]
    same = verify(model, EX / "face-astronaut.jpg", EX / "face-astronaut.jpg")
    assert same["distance"] == pytest.approx(0, abs=1e-5) and "identical" in same["notes"][0]
    with pytest.raises(InputError, match="Image B: No face found"):
        verify(model, EX / "face-astronaut.jpg", EX / "face-visitor-a1.png", "haar")


# ----------------------------------------------------------------- gallery
def test_gallery_persists_refuses_clashes_and_identifies(tmp_path):
    crops = [load_image(EX / f"face-visitor-{p}.png") for p in ("a1", "b1", "a2")]
    g = Gallery(tmp_path / "gallery")
    g.enrol("Ada", crops[0])
    g.enrol("  Bob   Smith ", crops[1])
    again = Gallery(tmp_path / "gallery")  # another process, later
    assert again.names() == ["Ada", "Bob Smith"] and all(e[2].size == (160, 160) for e in again.entries())
    with pytest.raises(InputError, match="already enrolled"):
        again.enrol("ada", crops[2])
    again.enrol("ADA", crops[2], replace=True)
    assert again.names() == ["ADA", "Bob Smith"] and len(list((tmp_path / "gallery").glob("*.png"))) == 2
    for bad in ("", "   ", "x" * 65):
        with pytest.raises(InputError):
            again.enrol(bad, crops[0])

    class Pixels(torch.nn.Module):  # a stand-in embedder: the crop's pixels, unit length
        image_size = 16

        def forward(self, x):
            return torch.nn.functional.normalize(x.flatten(1), dim=1)

    who, ranked = again.identify(Pixels(), crops[2], threshold=0.01)
    assert who == "ADA" and ranked[0][1] < 0.01 and len(ranked) == 2
    who, _ = again.identify(Pixels(), crops[0], threshold=0.0001)
    assert who is None  # nobody close enough: unknown
    again.remove("Bob Smith")
    assert Gallery(tmp_path / "gallery").names() == ["ADA"]
    with pytest.raises(InputError, match="not in the gallery"):
        again.remove("Bob Smith")
    again.remove("ADA")
    with pytest.raises(InputError, match="empty"):
        again.identify(Pixels(), crops[0], 1.0)


# ----------------------------------------------------------------- models, hub, trainer
@pytest.mark.parametrize("name", list(EMBEDDERS))
def test_every_embedder_saves_pushes_pulls_and_loads(name, hub_server, repo_name, tmp_path):
    from hub.client import pull, push_folder

    torch.manual_seed(0)
    model = create_embedder(name, 24, 64, "none").eval()
    x = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        before = model(x)
    assert before.shape == (3, 24) and torch.allclose(before.norm(dim=1), torch.ones(3))
    model.save_pretrained(tmp_path / "m", config={**model._hub_mixin_config, "threshold": 0.7})
    repo = f"alice/{repo_name}"
    push_folder(tmp_path / "m", repo, hub_server.hub())
    loaded = load_embedder(pull(repo, hub_server.hub()))
    assert type(loaded) is type(model) and loaded.threshold == 0.7 and loaded.face_crop == "none"
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), before)


def test_foreign_timm_and_transformers_models_embed(tmp_path):
    import timm
    from timm.models import save_for_hf
    from transformers import ViTConfig, ViTModel

    save_for_hf(timm.create_model("resnet18", pretrained=False, num_classes=5), str(tmp_path / "timm"),
                safe_serialization=True)
    ViTModel(ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                       image_size=32, patch_size=8)).save_pretrained(tmp_path / "vit")
    for folder, dim in ((tmp_path / "timm", 512), (tmp_path / "vit", 32)):
        model = load_embedder(folder)
        with torch.no_grad():
            e = model(torch.rand(2, 3, model.image_size, model.image_size))
        assert e.shape == (2, dim) and torch.allclose(e.norm(dim=1), torch.ones(2), atol=1e-5)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text('{"num_classes": 3}')
    with pytest.raises(InputError, match="face embedder"):
        load_embedder(tmp_path / "other")


def test_config_checks_its_values(tmp_path):
    for name in [*EMBEDDERS, "timm:efficientnet_b0"]:  # the registry, and any timm architecture
        FaceConfig(model=name).validate()
    assert_refused(lambda **v: FaceConfig(**v).validate(), (
        ({"model": "facenet-9000"}, "model", "unknown embedding network 'facenet-9000'.*timm:<any timm"),
        ({"model": "timm:resnet-9000"}, "model", "timm has no architecture 'resnet-9000'"),
        ({"photos_per_person": 1}, "photos_per_person", "at least 2"),
        ({"batch_size": 1}, "batch_size", "at least 2"),
        ({"image_size": 300}, "image_size", "at most 256"),
        ({"val_split": 1.0}, "val_split", "at most 0.99"),
        ({"mining": "hardest"}, "mining", "semi-hard, batch-hard, all")))
    # train() refuses a bad config before it builds or writes anything.
    with pytest.raises(ConfigError, match="facenet-9000"):
        list(train(FaceConfig(model="facenet-9000", output_dir=str(tmp_path / "out"), dry_run=True)))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("loss,mining,model", [("triplet", "semi-hard", "small-cnn"), ("triplet", "batch-hard", "resnet"),
                                                ("contrastive", "semi-hard", "timm:mobilenetv3_small_050")])
def test_trainer_dry_run(loss, mining, model, tmp_path):
    cfg = FaceConfig(model=model, loss=loss, mining=mining, output_dir=str(tmp_path), dry_run=True, device="cpu")
    end = list(train(cfg))[-1]
    assert end["status"] == "completed", end
    assert {"auc", "accuracy", "threshold"} <= set(end["metrics"])
    folder = tmp_path / "model"
    loaded = load_embedder(folder)
    assert loaded.threshold == pytest.approx(end["metrics"]["threshold"]) and loaded.face_crop == "none"
    card = (folder / "README.md").read_text()
    assert "Raw-pixel distance" in card and "val_roc.png" in card and (folder / "val_roc.png").exists()


def _people_zip(tmp_path, people=5, photos=3, bad=False) -> Path:
    from training.face_sample import people as crowd, render

    root = tmp_path / "people"
    for i, person in enumerate(crowd("train", people)):
        (root / person.name).mkdir(parents=True)
        for k in range(photos):
            render(person, np.random.default_rng([9, i, k]), 96).save(root / person.name / f"{k}.jpg")
    if bad:
        (root / "person-000" / "notes.jpg").write_text("not an image")
    with zipfile.ZipFile(tmp_path / "people.zip", "w") as z:
        for p in root.rglob("*"):
            z.write(p, p.relative_to(tmp_path))
    return tmp_path / "people.zip"


def test_trainer_reads_a_zip_of_people(tmp_path):
    from training.face_data import check_face_folder

    zip_path = _people_zip(tmp_path, bad=True)
    assert check_face_folder(tmp_path / "people")
    cfg = FaceConfig(dataset=str(zip_path), face_crop="none", output_dir=str(tmp_path / "out"), dry_run=True,
                     device="cpu", image_size=32)
    events = list(train(cfg))
    assert events[-1]["status"] == "completed", events[-1]
    logs = " ".join(e.get("message", "") for e in events if e["type"] == "log")
    assert "not images" in logs and "unseen people" in logs
    # Haar finds few drawn faces: most photos are skipped, and the run says so.
    with pytest.raises(TrainingError, match="at least 4.*skipped .* No face found"):
        list(train(FaceConfig(dataset=str(zip_path), face_crop="haar", output_dir=str(tmp_path / "o2"),
                              dry_run=True, device="cpu")))
    small = _people_zip(tmp_path / "few", people=3)
    with pytest.raises(TrainingError, match="at least 4"):
        check_face_folder(small.parent / "people")


def test_embedder_learns_unseen_people():
    """Three epochs on the built-in people: the unseen ones are told apart far better than chance and
    better than raw pixels (AUC 0.75 on these pairs)."""
    cfg = FaceConfig(output_dir="", epochs=3, device="cpu")
    from training.face_verification import build_task
    from training.engine import fit
    import tempfile

    with tempfile.TemporaryDirectory() as out:
        cfg.output_dir = out
        end = list(fit(cfg, build_task(cfg)))[-1]
    assert end["status"] == "completed" and end["metrics"]["auc"] > 0.85, end["metrics"]
