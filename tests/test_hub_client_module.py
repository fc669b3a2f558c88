"""hub.client and hub.card: what every tab uses to push, pull and describe models."""
from __future__ import annotations

import json

import pytest

from hub import client as hubs
from hub.card import CardInfo, card_metrics, render_card, split_card, write_card


def _model_folder(tmp_path, repo_id: str):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"arch": "lenet", "num_classes": 10}))
    (folder / "model.safetensors").write_bytes(b"\0" * 4096)
    write_card(folder, CardInfo(
        repo_id=repo_id, title="LeNet on digits", summary="A LeNet-5 trained from scratch on 8x8 digits.",
        pipeline_tag="image-classification", task_name="Image Classification", tags=["lenet"],
        datasets=["sklearn/digits"], dataset_name="digits", metrics={"accuracy": 0.97, "f1": 0.965},
        training={"epochs": 5, "lr": 0.01, "optimizer": "sgd"},
        usage="from hub_models import ...\nmodel = LeNet.from_pretrained('x')"))
    return folder


def test_card_has_hub_metadata_and_readable_body(tmp_path):
    from huggingface_hub import ModelCard

    text = render_card(CardInfo(repo_id="me/m", title="T", summary="S.", pipeline_tag="text-generation",
                                library_name="transformers", base_model="me/base", datasets=["me/data"],
                                metrics={"perplexity": 12.5}, training={"epochs": 2}, usage="print(1)"))
    meta, body = split_card(text)
    assert meta["library_name"] == "transformers" and meta["pipeline_tag"] == "text-generation"
    assert meta["base_model"] == "me/base" and meta["datasets"] == ["me/data"] and "dl-playground" in meta["tags"]
    assert card_metrics(meta) == [{"task": "text-generation", "dataset": "me/data", "split": "validation",
                                   "metric": "perplexity", "value": 12.5}]
    assert "# T" in body and "| perplexity | 12.5 |" in body and "```python\nprint(1)\n```" in body
    (tmp_path / "README.md").write_text(text)
    card = ModelCard.load(tmp_path / "README.md")  # the official parser reads our model-index
    assert card.data.eval_results[0].metric_value == 12.5


def test_card_settings_leave_out_the_servers_paths_and_plumbing():
    """A card is read by anyone: not where the server wrote the run, nor the server path of an upload."""
    body = split_card(render_card(CardInfo(
        repo_id="me/m", title="T", summary="S.", pipeline_tag="image-classification",
        training={"epochs": 2, "output_dir": "/srv/dlp/jobs/20261201-abc/out", "dataset": "/srv/dlp/uploads/x1/pets",
                  "hub": "local", "push_to_hub": "me/m", "resume": "auto", "model": "lenet"})))[1]
    assert "| epochs | 2 |" in body and "| dataset | pets |" in body and "| model | lenet |" in body
    assert "/srv" not in body and "output_dir" not in body and "push_to_hub" not in body


def test_push_and_pull_round_trip(hub_server, repo_name, tmp_path):
    hub = hub_server.hub("alice")
    repo = f"alice/{repo_name}"
    folder = _model_folder(tmp_path, repo)
    url = hubs.push_folder(folder, repo, hub, private=True)
    assert repo in url
    path = hubs.pull(repo, hub)
    assert (path / "model.safetensors").read_bytes() == b"\0" * 4096
    assert path.parent == hubs.pulled_dir(hub, repo) and len(path.name.split("-")[0]) == 40  # a folder per commit
    only_config = hubs.pull(repo, hub, allow_patterns=["*.json"])
    assert only_config != path and not (only_config / "model.safetensors").exists()
    assert (only_config / "config.json").exists()
    stamp = (path / "config.json").stat().st_mtime_ns
    assert hubs.pull(repo, hub) == path  # second pull: same commit, nothing downloaded
    assert (path / "config.json").stat().st_mtime_ns == stamp
    details = hubs.repo_details(repo, hub)
    assert details.private and details.card.startswith("# LeNet on digits")
    assert {m["metric"]: m["value"] for m in details.metrics} == {"accuracy": 0.97, "f1": 0.965}
    assert {f["path"] for f in details.files} >= {"README.md", "config.json", "model.safetensors"}
    assert [c["message"] for c in details.history] == ["Upload from DL Playground", "initial commit"]
    assert details.history[0]["commit"] == details.sha and details.history[0]["author"] == "alice"
    rows = hubs.list_repos(hub, search=repo_name, task="image-classification")
    assert [r["id"] for r in rows] == [repo] and rows[0]["private"]
    # A new push makes a new commit folder; the old one stays usable.
    (folder / "config.json").write_text(json.dumps({"arch": "lenet", "num_classes": 5}))
    hubs.push_folder(folder, repo, hub)
    newer = hubs.pull(repo, hub)
    assert newer != path and json.loads((newer / "config.json").read_text())["num_classes"] == 5
    assert json.loads((path / "config.json").read_text())["num_classes"] == 10


def test_clear_messages_for_bad_actions(hub_server, repo_name, tmp_path):
    alice, bob, anon = hub_server.hub("alice"), hub_server.hub("bob"), hub_server.hub(None)
    repo = f"alice/{repo_name}"
    folder = _model_folder(tmp_path, repo)
    with pytest.raises(hubs.HubActionError, match="not a valid repo id"):
        hubs.push_folder(folder, "no slash", alice)
    with pytest.raises(hubs.HubActionError, match="needs a write token"):
        hubs.push_folder(folder, repo, anon)
    with pytest.raises(hubs.HubActionError, match="rejected the token"):
        hubs.push_folder(folder, repo, alice.with_token("hf_wrongwrongwrongwrongwrongwrongwr"))
    with pytest.raises(hubs.HubActionError, match="Nothing to push"):
        hubs.push_folder(tmp_path / "empty", repo, alice)
    hubs.push_folder(folder, repo, alice, private=True)
    with pytest.raises(hubs.HubActionError, match="not found"):
        hubs.pull(repo, bob)
    hubs.push_folder(folder, repo + "-pub", alice)
    with pytest.raises(hubs.HubActionError, match="Not allowed"):
        hubs.delete_repo(repo + "-pub", bob)
    with pytest.raises(hubs.HubActionError, match="Cannot reach"):
        hubs.list_repos(hubs.Hub("url", "http://127.0.0.1:9", None))
    with pytest.raises(hubs.HubActionError, match="Unknown hub"):
        hubs.resolve_hub("ftp://nope")
    hubs.delete_repo(repo, alice)
    with pytest.raises(hubs.HubActionError, match="not found"):
        hubs.repo_details(repo, alice)


def test_pull_falls_back_to_local_copy_when_hub_is_down(tmp_path, repo_name):
    from hub.server import start_in_thread
    from hub.server.storage import HubStore

    token = HubStore(tmp_path / "srv").add_token("alice")
    server = start_in_thread(tmp_path / "srv")
    hub = hubs.Hub("url", server.url, token)
    repo = f"alice/{repo_name}"
    hubs.push_folder(_model_folder(tmp_path, repo), repo, hub)
    path = hubs.pull(repo, hub)
    server.stop()
    assert hubs.pull(repo, hub) == path  # offline: the newest pulled snapshot
    with pytest.raises(hubs.HubActionError, match="Cannot reach"):
        hubs.pull("alice/never-pulled", hub)


def test_embedded_local_hub_uses_a_session_token(tmp_path, monkeypatch):
    """The local hub mints a token for the local user that lives only in memory."""
    from hub.server.storage import HubStore

    monkeypatch.setattr(hubs, "_local", None)
    monkeypatch.setenv("DLP_USER", "tester")
    hub = hubs.local_hub(tmp_path / "local")
    try:
        assert hub.kind == "local" and "token" not in repr(hub) and hub.token not in repr(hub)
        assert hubs.whoami(hub) == "tester"
        assert hub.token not in (tmp_path / "local" / "tokens.json").read_text()
        assert hubs.resolve_hub("local") == hub
        # A child process (a training job) reaches the same hub through its environment; the token
        # travels only as a per-job secret.
        assert hubs.job_env(hub) == {hubs.ENV_LOCAL_URL: hub.endpoint, hubs.ENV_LOCAL_DIR: str(hub.store_dir),
                                     hubs.ENV_LOCAL_TOKEN: hub.token}
        anonymous = hubs.job_env(hubs.Hub("local", hub.endpoint, None))
        assert hubs.ENV_LOCAL_TOKEN not in anonymous and anonymous[hubs.ENV_LOCAL_URL] == hub.endpoint
        # Tokens of processes that are gone are purged on the next start.
        store = HubStore(tmp_path / "local")
        tokens = json.loads((tmp_path / "local" / "tokens.json").read_text())
        for entry in tokens.values():
            entry["pid"] = 2**22 + 1  # no such process
        (tmp_path / "local" / "tokens.json").write_text(json.dumps(tokens))
        store.purge_stale_ephemeral_tokens()
        assert store.user_for_token(hub.token) is None
    finally:
        hubs._local_server.stop()
        monkeypatch.setattr(hubs, "_local_server", None)


def test_a_running_job_keeps_the_owners_session_token_valid_across_an_app_restart(tmp_path, monkeypatch):
    """The owner's job pushes with the app's session token; the app goes (killed, or exits) and starts again while
    the job runs: the token stays valid until the job is gone, then goes."""
    import subprocess
    import sys

    from hub.server.storage import HubStore

    monkeypatch.setattr(hubs, "_local", None)
    hub = hubs.local_hub(tmp_path / "local")
    job = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        hubs.hold_for_job(hubs.job_env(hub), job.pid)
        store = HubStore(tmp_path / "local")
        store.release_token(hub.token)  # the app exits while the job runs
        tokens = json.loads((tmp_path / "local" / "tokens.json").read_text())
        for entry in tokens.values():
            entry["pid"] = 2**22 + 1  # the app is gone
        (tmp_path / "local" / "tokens.json").write_text(json.dumps(tokens))
        store.purge_stale_ephemeral_tokens()  # the app's next start
        assert store.user_for_token(hub.token) is not None
        job.kill()
        job.wait()
        store.purge_stale_ephemeral_tokens()  # the start after the job ended
        assert store.user_for_token(hub.token) is None
        # An app that exits with no job running revokes its token at once.
        other = store.add_token("tester", ephemeral=True)
        store.release_token(other)
        assert store.user_for_token(other) is None
    finally:
        job.kill()
        hubs._local_server.stop()
        monkeypatch.setattr(hubs, "_local_server", None)


def test_the_embedded_hub_comes_back_on_its_port_after_a_restart(tmp_path):
    """A job outlives the app: after a restart its pushes still find the hub at the address it was given."""
    first = hubs.serve_local(tmp_path)
    first.stop()
    again = hubs.serve_local(tmp_path)
    try:
        assert again.url == first.url
        taken = hubs.serve_local(tmp_path)  # the port is in use (another app on the same folder): another one
        assert taken.url != again.url
        taken.stop()
    finally:
        again.stop()


def test_tokens_go_only_to_their_own_hub(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_the_users_huggingface_token_xxxxx")
    monkeypatch.delenv("DLP_HUB_TOKEN", raising=False)
    assert hubs.resolve_hub("hf").token == "hf_the_users_huggingface_token_xxxxx"
    assert hubs.resolve_hub("http://team-hub:8808").token is None  # never forwarded to another server
    monkeypatch.setenv("DLP_HUB_TOKEN", "hf_team")
    assert hubs.resolve_hub("http://team-hub:8808").token == "hf_team"
    assert hubs.resolve_hub("http://team-hub:8808", token="hf_typed").token == "hf_typed"


def test_huggingface_co_unreachable_is_a_clear_message():
    with pytest.raises(hubs.HubActionError, match="Cannot reach huggingface.co"):
        hubs.list_repos(hubs.Hub("hf", "https://huggingface.co.invalid", None))


def test_data_lives_on_persistent_storage_when_there_is_one(tmp_path, monkeypatch):
    """A Space keeps only /data across restarts: the app's data goes there unless DLP_HOME says otherwise."""
    monkeypatch.delenv("DLP_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(hubs, "PERSISTENT_STORAGE", tmp_path / "absent")
    assert hubs.cache_root() == tmp_path / "cache" / "dl-playground"  # no persistent storage: the cache dir
    storage = tmp_path / "data"
    storage.mkdir()
    monkeypatch.setattr(hubs, "PERSISTENT_STORAGE", storage)
    assert hubs.cache_root() == storage / "dl-playground"
    monkeypatch.setenv("DLP_HOME", str(tmp_path / "mine"))
    assert hubs.cache_root() == tmp_path / "mine"


# The files of openai-community/gpt2 as huggingface.co lists them (sizes rounded): one model, eight formats.
GPT2_FILES = {
    ".gitattributes": 445, "64-8bits.tflite": 125_162_496, "64-fp16.tflite": 248_269_688,
    "64.tflite": 495_875_004, "README.md": 8_092, "config.json": 665, "flax_model.msgpack": 497_764_120,
    "generation_config.json": 124, "merges.txt": 456_318, "model.safetensors": 548_105_171,
    "onnx/config.json": 879, "onnx/decoder_model.onnx": 653_665_842, "onnx/decoder_model_merged.onnx": 655_189_339,
    "onnx/decoder_with_past_model.onnx": 653_672_649, "onnx/generation_config.json": 119,
    "onnx/merges.txt": 456_318, "onnx/special_tokens_map.json": 99, "onnx/tokenizer.json": 2_107_653,
    "onnx/tokenizer_config.json": 234, "onnx/vocab.json": 1_042_301, "pytorch_model.bin": 548_118_077,
    "rust_model.ot": 702_517_648, "tf_model.h5": 497_933_648, "tokenizer.json": 1_355_256,
    "tokenizer_config.json": 26, "vocab.json": 1_042_301,
}


def test_a_lean_pull_keeps_what_loading_needs():
    from hub.lean import select

    gpt2 = select(GPT2_FILES)
    assert sorted(gpt2.keep) == ["README.md", "config.json", "generation_config.json", "merges.txt",
                                 "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.json"]
    assert gpt2.keep_bytes < 600 * 2**20 and gpt2.skip_bytes > 4.5 * 2**30  # 525 MB of 5.3 GB
    diffusers = select({"model_index.json": 1, "unet/config.json": 1, "unet/diffusion_pytorch_model.safetensors": 9,
                        "unet/diffusion_pytorch_model.fp16.safetensors": 5, "unet/diffusion_pytorch_model.bin": 9,
                        "scheduler/scheduler_config.json": 1, "vae/diffusion_pytorch_model.fp16.safetensors": 5})
    assert sorted(diffusers.keep) == ["model_index.json", "scheduler/scheduler_config.json", "unet/config.json",
                                      "unet/diffusion_pytorch_model.safetensors",
                                      "vae/diffusion_pytorch_model.fp16.safetensors"]  # a variant alone is the weights
    old = select({"config.json": 1, "pytorch_model.bin": 9, "tf_model.h5": 9, "last-checkpoint/model.safetensors": 9,
                  "checkpoint-500/optimizer.pt": 9, "vgg19.pth": 9})
    assert sorted(old.keep) == ["config.json", "pytorch_model.bin"]  # no safetensors: the .bin


def test_lean_pulls_take_only_the_listed_files_and_report_progress(hub_server, repo_name, tmp_path):
    hub = hub_server.hub("alice")
    repo = f"alice/{repo_name}"
    folder = tmp_path / "model"
    folder.mkdir()
    sizes = {"config.json": 10, "model.safetensors": 300_000, "pytorch_model.bin": 300_000,
             "onnx/model.onnx": 200_000, "tf_model.h5": 200_000, "last-checkpoint/training_state.pt": 1000}
    for name, size in sizes.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"{}" if name.endswith(".json") else bytes(size))
    hubs.push_folder(folder, repo, hub)
    with pytest.raises(hubs.HubActionError, match="293 KB to pull; the limit here is 98 KB"):
        hubs.pull(repo, hub, max_bytes=100_000)
    seen = []
    path = hubs.pull(repo, hub, progress=lambda done, total, what: seen.append((done, total, what)))
    assert sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file() and p.name != ".complete") == \
        ["config.json", "model.safetensors"]
    assert seen[0][0] == 0 and seen[-1][0] == seen[-1][1] == 300_002
    assert seen[0][2].endswith(": 293 KB in 2 files (skipping 687 KB that loading does not need)")
    full = hubs.pull(repo, hub, lean=False)  # a resume pulls the checkpoint too
    assert (full / "last-checkpoint" / "training_state.pt").exists() and full != path
