"""The text generation tab through gradio_client: train, watch samples, generate (streamed, beams), bad input."""
from __future__ import annotations

import json

import pytest

from conftest import table_rows, wait_job

LOCAL = ("Local hub (offline)", "", "")
BUILTIN = "Built-in corpus (Python docs)"
# seq len, hidden, layers, max chars, epochs, batch, lr, grad clip, seed: a tiny, quick run
TINY = (32, 32, 1, 20_000, 2, 16, 1e-2, 1.0, 0)


def _start(client, model="char-gru", source=BUILTIN, upload=None, repo="", opts=TINY, hub=LOCAL):
    out = client.predict(model, source, upload, repo, *opts, *hub, api_name="/textgen_train")
    return out["value"] if isinstance(out, dict) else out




def test_train_watch_samples_and_generate(tab, hub_server, repo_name):
    from gradio_client.exceptions import AppError

    client, runner = tab
    job = _start(client)
    assert wait_job(runner, job).status == "completed", runner.log_tail(job)
    rows, progress, loss, metrics, samples, log = client.predict(job, api_name="/textgen_watch")
    assert "Completed" in progress
    assert {r[1] for r in table_rows(metrics)} == {"perplexity", "bits_per_char"}
    assert "— epoch 2 —" in samples and "— epoch 1 —" in samples and "The " in samples

    folder = str(runner.job_dir(job) / "out" / "model")
    job_ = client.submit(folder, "The ", "Sampling", 30, 0.8, 0, 0.95, 4, 0, api_name="/textgen_generate")
    outputs = list(job_)
    text, beams = job_.outputs()[-1] if job_.outputs() else outputs[-1]
    assert text.startswith("The ") and len(text) == 34 and not table_rows(beams)
    assert len(job_.outputs()) > 2  # streamed: one update per token (at least several)
    text, beams = client.predict(folder, "The ", "Beam search", 10, 0.8, 0, 0.95, 3, 0, api_name="/textgen_generate")
    rows = table_rows(beams)
    assert len(rows) == 3 and rows[0][1] >= rows[1][1] >= rows[2][1]
    greedy1 = client.predict(folder, "The ", "Greedy", 15, 0.8, 0, 0.95, 4, 0, api_name="/textgen_generate")[0]
    greedy2 = client.predict(folder, "The ", "Greedy", 15, 1.5, 0, 0.95, 4, 7, api_name="/textgen_generate")[0]
    assert greedy1 == greedy2  # greedy ignores temperature and seed

    with pytest.raises(AppError, match="less than minimum value 1|1 to 1000 new tokens"):
        client.predict(folder, "The ", "Sampling", 0, 0.8, 0, 0.95, 4, 0, api_name="/textgen_generate")
    with pytest.raises(AppError, match="beam width x tokens"):
        client.predict(folder, "The ", "Beam search", 1000, 0.8, 0, 0.95, 16, 0, api_name="/textgen_generate")
    with pytest.raises(AppError, match="Pick a model"):
        client.predict(None, "The ", "Sampling", 5, 0.8, 0, 0.95, 4, 0, api_name="/textgen_generate")

    repo = f"alice/{repo_name}"
    hub = ("Hub at a URL", hub_server.url, hub_server.tokens["alice"])
    assert repo in client.predict(job, repo, False, *hub, api_name="/textgen_push")
    pulled = client.predict(repo, *hub, api_name="/textgen_pull")
    pulled = pulled["value"] if isinstance(pulled, dict) else pulled
    assert client.predict(pulled, "The ", "Greedy", 15, 0.8, 0, 0.95, 4, 0, api_name="/textgen_generate")[0] == greedy1


def test_bad_inputs_get_messages(tab, hub_server, tmp_path, repo_name):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from hub.client import push_folder

    client, runner = tab
    latin1 = tmp_path / "notes.txt"
    latin1.write_bytes("caf\xe9 cr\xe8me ".encode("latin-1") * 200)
    with pytest.raises(AppError, match="not UTF-8"):
        _start(client, source="Upload a .txt file", upload=handle_file(str(latin1)))
    with pytest.raises(AppError, match="Upload a .txt"):
        _start(client, source="Upload a .txt file")
    with pytest.raises(AppError, match="namespace/name|repo id"):
        _start(client, source="Dataset repo on the hub", repo="not a repo")
    # A vision repo is not a language model: refused at pull time, with what it is.
    vit = tmp_path / "vit"
    vit.mkdir()
    (vit / "config.json").write_text(json.dumps({"model_type": "vit", "architectures": ["ViTForImageClassification"]}))
    push_folder(vit, f"alice/{repo_name}", hub_server.hub())
    with pytest.raises(AppError, match="vit model.*not a causal language model"):
        client.predict(f"alice/{repo_name}", "Hub at a URL", hub_server.url, "", api_name="/textgen_pull")
    # A short upload starts (it is UTF-8) and the job fails with the reason.
    short = tmp_path / "short.txt"
    short.write_text("tiny")
    job = _start(client, source="Upload a .txt file", upload=handle_file(str(short)))
    assert wait_job(runner, job).status == "failed"
    assert "at least 200" in runner.get(job).message
