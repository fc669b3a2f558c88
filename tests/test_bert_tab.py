"""The BERT tab through gradio_client: fine-tune, watch, predict, push, pull, fill the mask, bad input."""
from __future__ import annotations

import json

import pytest

from conftest import refused, table_rows, wait_job


LOCAL = ("Local hub (offline)", "", "")
UPLOAD = "Upload CSV/TSV/JSONL"


def _start(client, task="sequence", source_kind="Built-in sample", hub=LOCAL, epochs=1, **values):
    """Start a job by field name; the fields left out keep the form's defaults (the config's)."""
    choice, url, token = hub
    values.setdefault("upload", None)  # a file field has no default
    out = client.predict(task=task, source_kind=source_kind, epochs=epochs, choice=choice, url=url, token=token,
                         **values, api_name="/bert_train")
    return out["value"] if isinstance(out, dict) else out  # the job dropdown's update


def test_fine_tune_predict_push_pull(tab, hub_server, repo_name):
    from gradio_client.exceptions import AppError

    client, runner = tab
    job = _start(client)
    assert wait_job(runner, job).status == "completed", runner.log_tail(job)
    rows, progress, loss, metrics, confusion, log = client.predict(job, api_name="/bert_watch")
    assert "Completed" in progress and len(table_rows(loss)) > 3 and confusion is not None
    assert {r[1] for r in table_rows(metrics)} == {"accuracy", "f1_macro", "majority_baseline"}
    assert float([r[4] for r in table_rows(rows) if r[0] == job][0]) > 0.8

    folder = str(runner.job_dir(job) / "out" / "model")
    note, probs, tags = client.predict(folder, "The soup was exquisite.", "", api_name="/bert_predict")
    assert probs["label"] == "positive" and not tags
    with pytest.raises(AppError, match="Enter some text"):
        client.predict(folder, "  ", "", api_name="/bert_predict")
    with pytest.raises(AppError, match="Enter a sentence with \\[MASK\\]"):
        client.predict(folder, "", api_name="/bert_fill_mask")
    with pytest.raises(AppError, match="not one trained here"):
        client.predict("/etc", "hello", "", api_name="/bert_predict")
    with pytest.raises(AppError, match="no trained masked-LM head"):
        client.predict(folder, "The movie was [MASK].", api_name="/bert_fill_mask")

    repo = f"alice/{repo_name}"
    hub = ("Hub at a URL", hub_server.url, hub_server.tokens["alice"])
    assert repo in client.predict(job, repo, False, *hub, api_name="/bert_push")
    pulled = client.predict(repo, *hub, api_name="/bert_pull")
    pulled = pulled["value"] if isinstance(pulled, dict) else pulled
    _, probs, _ = client.predict(pulled, "The lecture was atrocious.", "", api_name="/bert_predict")
    assert probs["label"] == "negative"


def test_token_tagging_and_masked_lm_from_the_ui(tab):
    client, runner = tab
    tagger = _start(client, "token", sample="entities", epochs=2, max_length=64)
    mlm = _start(client, "mlm", max_length=32, batch_size=64, epochs=1)  # wiring only: one short epoch
    assert wait_job(runner, tagger).status == "completed", runner.log_tail(tagger)
    folder = str(runner.job_dir(tagger) / "out" / "model")
    _, probs, tags = client.predict(folder, "Hannah Schmidt joined Samsung in Dublin .", "", api_name="/bert_predict")
    assert not probs  # a tagger gives tags, not label probabilities
    tagged = {t["token"].strip(): t["class_or_confidence"] for t in tags} if isinstance(tags, list) else tags
    assert tagged.get("Dublin") == "LOC", tags
    assert wait_job(runner, mlm).status == "completed", runner.log_tail(mlm)
    filled = client.predict(str(runner.job_dir(mlm) / "out" / "model"), "The movie was [MASK].",
                            api_name="/bert_fill_mask")
    assert len(filled["confidences"]) == 8


def test_bad_inputs_get_messages(tab, hub_server, tmp_path, repo_name):
    import httpx
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from hub.client import push_folder

    client, runner = tab
    missing = tmp_path / "reviews.csv"
    missing.write_text("review,stars\ngreat,5\nawful,1\n" * 5)
    with pytest.raises(AppError, match="which column holds the text"):
        _start(client, source_kind=UPLOAD, upload=handle_file(str(missing)))
    with pytest.raises(AppError, match="no column 'body'"):
        _start(client, source_kind=UPLOAD, upload=handle_file(str(missing)), text_column="body", label_column="stars")
    image = tmp_path / "photo.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(httpx.HTTPStatusError) as e:  # Gradio's own check of the file field's types
        _start(client, source_kind=UPLOAD, upload=handle_file(str(image)))
    assert "Invalid file type" in e.value.response.text
    garbled = tmp_path / "rows.jsonl"
    garbled.write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(AppError, match="rows.jsonl is not a readable JSONL file"):
        _start(client, source_kind=UPLOAD, upload=handle_file(str(garbled)))
    with refused("for sequence labels; for the token task use entities"):
        _start(client, "token", sample="sentiment")
    with refused("Second-sentence column: token classification tags one text"):
        _start(client, "token", sample="entities", pair_column="text_pair")
    url_hub = ("Hub at a URL", hub_server.url, "")
    with pytest.raises(AppError, match="Base model.*does-not-exist"):
        _start(client, base="alice/does-not-exist", hub=url_hub)
    # A vision repo as the base: refused before any job starts (from its config.json, not its weights).
    vit = tmp_path / "vit"
    vit.mkdir()
    (vit / "config.json").write_text(json.dumps({"model_type": "vit", "architectures": ["ViTForImageClassification"]}))
    push_folder(vit, f"alice/{repo_name}", hub_server.hub())
    with pytest.raises(AppError, match="vit model"):
        _start(client, base=f"alice/{repo_name}", hub=url_hub)
    with pytest.raises(AppError, match="Pick a model"):
        client.predict(None, "hello", "", api_name="/bert_predict")
    # The tab reads an upload's header only; a table with one class starts, and the job fails with the reason.
    one = tmp_path / "one.csv"
    one.write_text("text,label\n" + "fine,pos\n" * 6)
    job = _start(client, source_kind=UPLOAD, upload=handle_file(str(one)))
    assert wait_job(runner, job).status == "failed"
    assert "one class" in runner.get(job).message
