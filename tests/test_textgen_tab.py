"""The text generation tab through gradio_client: train, watch samples, generate (streamed, beams), bad input."""
from __future__ import annotations

import json

import pytest

from conftest import refused, table_rows, wait_job

LOCAL = ("Local hub (offline)", "", "")
BUILTIN = "Built-in corpus (Python docs)"
UPLOAD = "Upload a .txt file"
TINY = dict(seq_len=32, hidden_size=32, num_layers=1, max_chars=20_000, epochs=2, batch_size=16, lr=1e-2)  # quick


def _start(client, model="char-gru", source_kind=BUILTIN, hub=LOCAL, **values):
    """Start a tiny run by field name; the fields left out keep the form's defaults (the config's)."""
    choice, url, token = hub
    values.setdefault("upload", None)  # a file field has no default
    out = client.predict(model=model, source_kind=source_kind, choice=choice, url=url, token=token,
                         **{**TINY, **values}, api_name="/textgen_train")
    return out["value"] if isinstance(out, dict) else out  # the job dropdown's update


def _generate(client, folder, strategy, max_new_tokens, **values):
    """Text and kept beams; the decoding settings left out keep the form's defaults."""
    return client.predict(folder=folder, prompt="The ", strategy=strategy, max_new_tokens=max_new_tokens, **values,
                          api_name="/textgen_generate")


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
    job_ = client.submit(folder=folder, prompt="The ", strategy="Sampling", max_new_tokens=30, temperature=0.8,
                         top_k=0, top_p=0.95, seed=0, api_name="/textgen_generate")
    outputs = list(job_)
    text, beams = job_.outputs()[-1] if job_.outputs() else outputs[-1]
    assert text.startswith("The ") and len(text) == 34 and not table_rows(beams)
    assert len(job_.outputs()) < 30  # streamed, but not an update per token (at most ten a second)
    text, beams = _generate(client, folder, "Beam search", 10, beam_width=3)
    rows = table_rows(beams)
    assert len(rows) == 3 and rows[0][1] >= rows[1][1] >= rows[2][1]
    greedy1 = _generate(client, folder, "Greedy", 15, temperature=0.8, seed=0)[0]
    greedy2 = _generate(client, folder, "Greedy", 15, temperature=1.5, seed=7)[0]
    assert greedy1 == greedy2  # greedy ignores temperature and seed

    with refused("less than minimum value 1"):  # the slider's bounds
        _generate(client, folder, "Sampling", 0)
    with pytest.raises(AppError, match="beam width x tokens"):
        _generate(client, folder, "Beam search", 1000, beam_width=16)
    with pytest.raises(AppError, match="Pick a model"):
        _generate(client, None, "Sampling", 5)
    with pytest.raises(AppError, match="Enter a prompt"):
        client.predict(folder=folder, prompt="  ", strategy="Sampling", max_new_tokens=5, api_name="/textgen_generate")

    repo = f"alice/{repo_name}"
    hub = ("Hub at a URL", hub_server.url, hub_server.tokens["alice"])
    assert repo in client.predict(job, repo, False, *hub, api_name="/textgen_push")
    pulled = client.predict(repo, *hub, api_name="/textgen_pull")
    pulled = pulled["value"] if isinstance(pulled, dict) else pulled
    assert _generate(client, pulled, "Greedy", 15)[0] == greedy1


def test_bad_inputs_get_messages(tab, hub_server, tmp_path, repo_name):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from hub.client import push_folder

    client, runner = tab
    latin1 = tmp_path / "notes.txt"
    latin1.write_bytes("caf\xe9 cr\xe8me ".encode("latin-1") * 200)
    with pytest.raises(AppError, match="not UTF-8"):
        _start(client, source_kind=UPLOAD, upload=handle_file(str(latin1)))
    with pytest.raises(AppError, match="Upload a .txt"):
        _start(client, source_kind=UPLOAD)
    with pytest.raises(AppError, match="namespace/name|repo id"):
        _start(client, source_kind="Dataset repo on the hub", data_repo="not a repo")
    with refused("Model: one of char-rnn, .*not 'gpt5'"):
        _start(client, model="gpt5")
    with refused("Use at most \\(characters\\): 0 \\(all\\) or at least 1,000"):
        _start(client, max_chars=500)
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
    job = _start(client, source_kind=UPLOAD, upload=handle_file(str(short)))
    assert wait_job(runner, job).status == "failed"
    assert "at least 200" in runner.get(job).message


def test_streamed_text_is_sent_at_most_ten_times_a_second():
    """An update per token (the whole text each time) froze the page; the last update always arrives."""
    import time

    from webui.common import throttled

    def tokens():
        for i in range(60):
            time.sleep(0.005)
            yield "x" * i

    sent = list(throttled(tokens(), every=0.1))
    assert 2 <= len(sent) <= 8 and sent[0] == "" and sent[-1] == "x" * 59
