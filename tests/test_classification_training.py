"""Image-classification networks and the training engine (CPU, tiny, offline)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from conftest import ROOT
from hub_models.catalog import CLASSIFIERS
from hub_models.classification import create_model
from training.classification import ClassificationConfig
from training.metrics import confusion_matrix
from training.config import OPTIMIZERS
from training.tasks import train


def _run(cfg: ClassificationConfig, stop=lambda: False) -> list[dict]:
    return list(train(cfg, stop))


@pytest.mark.parametrize("name", list(CLASSIFIERS))
def test_forward_at_every_supported_size(name):
    for size in CLASSIFIERS[name].sizes:
        for channels in (1, 3):
            model = create_model(name, image_size=size, in_channels=channels, num_classes=4).eval()
            with torch.no_grad():
                assert model(torch.randn(2, channels, size, size)).shape == (2, 4)


@pytest.mark.parametrize("name", list(CLASSIFIERS))
def test_save_push_pull_load_round_trip(name, hub_server, repo_name, tmp_path):
    from hub import client as hubs

    cls, sizes = CLASSIFIERS[name].load(), CLASSIFIERS[name].sizes
    torch.manual_seed(0)
    model = create_model(name, image_size=sizes[-1], num_classes=3, labels=["a", "b", "c"],
                         mean=[0.1] * 3 if cls.__name__ != "LeNet" else None).eval()
    model.save_pretrained(tmp_path / "m")
    hub = hub_server.hub("alice")
    hubs.push_folder(tmp_path / "m", f"alice/{repo_name}", hub)
    loaded = cls.from_pretrained(hubs.pull(f"alice/{repo_name}", hub)).eval()
    assert loaded.labels == ["a", "b", "c"] and loaded.image_size == sizes[-1]
    x = torch.randn(2, model.in_channels, sizes[-1], sizes[-1])
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


def test_unknown_model_and_too_small_input():
    with pytest.raises(ValueError, match="Unknown model"):
        create_model("nope")
    with pytest.raises(ValueError, match="at least 16 px"):
        create_model("lenet", image_size=8)


def test_confusion_matrix_by_hand():
    cm = confusion_matrix(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]), 3)
    assert cm.tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_dry_run_for_each_optimizer(optimizer, tmp_path):
    events = _run(ClassificationConfig(output_dir=str(tmp_path), optimizer=optimizer, dry_run=True))
    assert [e["type"] for e in events][0] == "start" and events[-1]["type"] == "end"
    assert events[-1]["status"] == "completed", events[-1]["message"]
    assert "accuracy" in json.loads((tmp_path / "metrics.json").read_text())


def test_lenet_reaches_97_percent_on_digits(tmp_path):
    events = _run(ClassificationConfig(output_dir=str(tmp_path), model="lenet"))
    end = events[-1]
    assert end["status"] == "completed" and end["metrics"]["accuracy"] >= 0.97, end
    folder = tmp_path / "model"
    card = (folder / "README.md").read_text()
    assert "pipeline_tag: image-classification" in card and "accuracy" in card
    cm = json.loads((folder / "confusion_matrix.json").read_text())
    assert len(cm["matrix"]) == 10 and sum(map(sum, cm["matrix"])) == 359  # int(0.2 * 1797) validation images
    assert {"step", "eval", "checkpoint"} <= {e["type"] for e in events}


@pytest.mark.parametrize("augment", ["", "flip,crop,jitter"])
def test_kill_and_resume_gives_the_same_weights(tmp_path, augment):
    base = dict(model="lenet-bn", epochs=3, batch_size=64, seed=3, augment=augment, checkpoint_every_s=0)
    _run(ClassificationConfig(output_dir=str(tmp_path / "straight"), **base))
    # A run that dies right after its first checkpoint (the generator is simply abandoned) ...
    gen = train(ClassificationConfig(output_dir=str(tmp_path / "killed"), **base))
    for ev in gen:
        if ev["type"] == "checkpoint":
            break
    gen.close()
    assert not (tmp_path / "killed" / "model").exists()
    # ... then resumes from it and finishes.
    events = _run(ClassificationConfig(output_dir=str(tmp_path / "killed"), resume="auto", **base))
    assert events[0]["resumed_from_step"] > 0
    a = load_file(tmp_path / "straight" / "model" / "model.safetensors")
    b = load_file(tmp_path / "killed" / "model" / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


def test_augmentation_ops():
    from training.classification import augment_batch

    torch.manual_seed(0)
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).view(2, 1, 4, 4)
    flipped = augment_batch(x, ("flip",))
    for i in range(2):
        assert torch.equal(flipped[i], x[i]) or torch.equal(flipped[i], x[i].flip(-1))
    assert augment_batch(x, ("crop",)).shape == x.shape
    jittered = augment_batch(x, ("jitter",))
    assert jittered.shape == x.shape and not torch.equal(jittered, x)
    with pytest.raises(Exception, match="unknown augmentation"):
        train(ClassificationConfig(augment="rotate", dry_run=True)).__next__()


def test_stop_request_is_honoured(tmp_path):
    calls = []

    def stop() -> bool:  # asked before every step; says "stop" from the sixth time on
        calls.append(1)
        return len(calls) > 5

    events = _run(ClassificationConfig(output_dir=str(tmp_path), epochs=50, batch_size=8), stop)
    end = events[-1]
    assert end["status"] == "stopped" and "stopped at step 5" in end["message"]
    assert len(calls) == 6 and (tmp_path / "model" / "model.safetensors").exists()


def test_non_finite_loss_stops_with_a_clear_message(tmp_path):
    events = _run(ClassificationConfig(output_dir=str(tmp_path), optimizer="sgd", lr=1e12, epochs=2))
    end = events[-1]
    assert end["status"] == "failed" and "lower the learning rate" in end["message"]


def test_cli_writes_metrics_and_events(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "training", "classification", "--model", "lenet", "--dataset",
                           "digits", "--epochs", "1", "--dry-run", "--output-dir", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "accuracy" in json.loads((out / "metrics.json").read_text())
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert events[0]["type"] == "start" and events[-1]["type"] == "end"
    bad = subprocess.run([sys.executable, "-m", "training", "classification", "--val-split", "2",
                          "--output-dir", str(tmp_path / "bad")], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith("error: --val-split")
    help_ = subprocess.run([sys.executable, "-m", "training", "classification", "--help"], cwd=ROOT,
                           capture_output=True, text=True)
    for flag in ("--model", "--optimizer", "--schedule", "--push-to-hub", "--hub", "--resume", "--dry-run"):
        assert flag in help_.stdout


def test_cli_pushes_checkpoints_and_resumes_from_the_hub(hub_server, repo_name, tmp_path):
    from hub_models.classification import LeNet

    repo = f"alice/{repo_name}"
    env = {**os.environ, "DLP_HUB_TOKEN": hub_server.tokens["alice"]}
    cmd = [sys.executable, "-m", "training", "classification", "--epochs", "2", "--batch-size", "128",
           "--hub", hub_server.url, "--push-to-hub", repo]
    first = subprocess.run(cmd + ["--hub-strategy", "checkpoint", "--output-dir", str(tmp_path / "a")], cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    files = hub_server.api().list_repo_files(repo)
    assert "model.safetensors" in files and "last-checkpoint/training_state.pt" in files
    model = LeNet.from_pretrained(repo)  # HF_ENDPOINT points at the test hub
    assert model.labels == [str(i) for i in range(10)]
    # Another machine (another output dir) continues from the hub checkpoint: nothing left to do.
    again = subprocess.run(cmd + ["--resume", repo, "--output-dir", str(tmp_path / "b")], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    events = [json.loads(x) for x in (tmp_path / "b" / "events.jsonl").read_text().splitlines()]
    assert events[0]["resumed_from_step"] == events[0]["total_steps"]


def test_sigkill_then_resume_from_the_cli(tmp_path):
    """A real crash: the training process is killed with SIGKILL after its first checkpoint."""
    import signal
    import time

    args = [sys.executable, "-m", "training", "classification", "--model", "lenet-bn", "--epochs", "3",
            "--batch-size", "16", "--seed", "5", "--checkpoint-every-s", "0"]
    straight = subprocess.run(args + ["--output-dir", str(tmp_path / "straight")], cwd=ROOT, capture_output=True,
                              text=True, timeout=300)
    assert straight.returncode == 0, straight.stderr
    out = tmp_path / "killed"
    proc = subprocess.Popen(args + ["--output-dir", str(out)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not ((out / "events.jsonl").exists() and '"checkpoint"' in (out / "events.jsonl").read_text()):
        assert proc.poll() is None and time.monotonic() < deadline, "the run ended before its first checkpoint"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "model").exists()
    resumed = subprocess.run(args + ["--output-dir", str(out), "--resume", "auto"], cwd=ROOT, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    a = load_file(tmp_path / "straight" / "model" / "model.safetensors")
    b = load_file(out / "model" / "model.safetensors")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


def test_the_cli_lets_idle_openmp_threads_sleep():
    """As the runner's jobs do: under load a spinning wait policy made a LeNet run 2.6x slower (BENCHMARKS)."""
    code = "import os, training.__main__; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "PASSIVE", out.stderr
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**env, "OMP_WAIT_POLICY": "ACTIVE"},
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ACTIVE"  # the user's own setting wins
