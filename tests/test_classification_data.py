"""User data for classification: folders, zips (and hostile ones), hub dataset repos."""
from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import zipfile

import pytest
from PIL import Image

from conftest import ROOT
from training.data import extract_upload, find_class_folders, load_image_folder, safe_extract
from training.engine import TrainingError

COLORS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}


def make_folder(root, per_class: int = 12, size: int = 20):
    """Three classes of noisy coloured squares, plus a stray text file and a truncated image."""
    import random

    rng = random.Random(0)
    for name, rgb in COLORS.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            img = Image.new("RGB", (size, size), tuple(max(0, min(255, c + rng.randint(-30, 30))) for c in rgb))
            img.save(root / name / f"{i}.png")
    (root / "red" / "notes.txt").write_text("not an image")
    good = (root / "blue" / "0.png").read_bytes()
    (root / "blue" / "broken.png").write_bytes(good[: len(good) // 2])
    return root


def zip_folder(folder, zip_path, wrapper: str = "shapes"):
    with zipfile.ZipFile(zip_path, "w") as zf:
        for p in folder.rglob("*"):
            if p.is_file():
                zf.write(p, f"{wrapper}/{p.relative_to(folder)}")
    return zip_path


def test_image_folder_loads_and_reports_skipped_files(tmp_path):
    make_folder(tmp_path / "data")
    x, y, names, warnings = load_image_folder(tmp_path / "data", 16)
    assert names == ["blue", "green", "red"] and x.shape == (36, 3, 16, 16) and y.tolist().count(0) == 12
    assert len(warnings) == 1 and "broken.png" in warnings[0]


def test_zip_with_a_wrapper_folder_trains_from_the_cli(tmp_path):
    z = zip_folder(make_folder(tmp_path / "data"), tmp_path / "shapes.zip")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "training", "classification", "--dataset", str(z), "--model", "lenet",
                           "--image-size", "16", "--epochs", "8", "--batch-size", "8", "--output-dir", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "metrics.json").read_text())["accuracy"] >= 0.85
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["labels"] == ["blue", "green", "red"] and config["in_channels"] == 3
    events = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
    assert any(e["type"] == "log" and "broken.png" in e["message"] for e in events)


def _zip(path, entries: dict[str, bytes], symlink: str | None = None):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("entries,symlink,message", [
    ({"../evil.png": b"x"}, None, "unsafe path"),
    ({"a/../../evil.png": b"x"}, None, "unsafe path"),
    ({"/abs/evil.png": b"x"}, None, "unsafe path"),
    ({"c:/evil.png": b"x"}, None, "unsafe path"),
    ({"a/1.png": _png()}, "a/link", "symbolic link"),
    ({}, None, "empty"),
])
def test_hostile_or_empty_zips_are_refused(tmp_path, entries, symlink, message):
    z = _zip(tmp_path / "bad.zip", entries, symlink)
    with pytest.raises(TrainingError, match=message):
        safe_extract(z, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil.png").exists()


def test_zips_without_classes(tmp_path):
    flat = extract_upload(_zip(tmp_path / "flat.zip", {"1.png": _png(), "2.png": _png()}), tmp_path / "u")
    with pytest.raises(TrainingError, match="no class folders"):
        find_class_folders(flat)
    one = extract_upload(_zip(tmp_path / "one.zip", {"top/cats/1.png": _png(), "top/cats/2.png": _png()}),
                         tmp_path / "u")
    with pytest.raises(TrainingError, match="only one class"):
        find_class_folders(one)
    (tmp_path / "not.zip").write_bytes(b"PK but not really")
    with pytest.raises(TrainingError, match="not a readable zip"):
        safe_extract(tmp_path / "not.zip", tmp_path / "o")


def test_cli_refuses_bad_data_with_one_line(tmp_path):
    z = _zip(tmp_path / "bad.zip", {"../evil.png": b"x"})
    proc = subprocess.run([sys.executable, "-m", "training", "classification", "--dataset", str(z),
                           "--output-dir", str(tmp_path / "o")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1].startswith("error: the zip holds an unsafe")


def test_hub_dataset_repos(hub_server, repo_name, tmp_path):
    folder = make_folder(tmp_path / "data")
    api = hub_server.api()
    repo = f"alice/{repo_name}"
    api.create_repo(repo, repo_type="dataset")
    api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type="dataset")
    env = {**os.environ, "DLP_HUB_TOKEN": hub_server.tokens["alice"]}
    base = [sys.executable, "-m", "training", "classification", "--model", "lenet", "--image-size", "16",
            "--epochs", "2", "--batch-size", "8", "--hub", hub_server.url]
    ok = subprocess.run(base + ["--dataset", repo, "--output-dir", str(tmp_path / "a")], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    missing = subprocess.run(base + ["--dataset", "alice/no-such-data", "--output-dir", str(tmp_path / "b")],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and "not found" in missing.stderr.strip().splitlines()[-1]


def test_datasets_format_repo(hub_server, repo_name, tmp_path):
    import datasets

    images = [Image.new("L", (12, 12), 30 if i % 2 else 220) for i in range(16)]
    ds = datasets.Dataset.from_dict({"image": images, "label": [i % 2 for i in range(16)]},
                                    features=datasets.Features({"image": datasets.Image(),
                                                                "label": datasets.ClassLabel(names=["dark", "light"])}))
    repo = f"alice/{repo_name}"
    # (datasets' own push_to_hub deletes its temporary parquet before the commit when the hub takes
    # files inline, so the file goes up with the plain client.)
    ds.to_parquet(tmp_path / "train.parquet")
    api = hub_server.api()
    api.create_repo(repo, repo_type="dataset")
    api.upload_file(path_or_fileobj=str(tmp_path / "train.parquet"), path_in_repo="data/train-00000.parquet",
                    repo_id=repo, repo_type="dataset")
    from training.data import load_hub_dataset

    x, y, names, _ = load_hub_dataset(repo, 16, hub_server.url)
    assert names == ["dark", "light"] and x.shape == (16, 1, 16, 16) and sorted(set(y.tolist())) == [0, 1]
