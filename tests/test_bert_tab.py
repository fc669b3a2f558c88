"""The BERT tab through gradio_client: fine-tune, watch, predict, push, pull, fill the mask, bad input."""
from __future__ import annotations

import json

import pytest

from conftest import table_rows, wait_job


LOCAL = ("Local hub (offline)", "", "")
SENTENCE = "Sentence or pair label"
TRAIN_OPTS = (1, 16, 5e-5, 10, 128, 0.01, 0)  # epochs, batch, lr, warm-up, max length, weight decay, seed


def _start(client, task, source, sample="sentiment", upload=None, repo="", columns=("", "", ""), base="all-MiniLM-L6-v2",
           opts=TRAIN_OPTS, hub=LOCAL):
    out = client.predict(task, base, source, sample, upload, repo, *columns, *opts, *hub, api_name="/bert_train")
    return out["value"] if isinstance(out, dict) else out




def test_fine_tune_predict_push_pull(tab, hub_server, repo_name):
    from gradio_client.exceptions import AppError

    client, runner = tab
    job = _start(client, SENTENCE, "Built-in sample")
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
    opts = (2, 16, 5e-5, 10, 64, 0.01, 0)
    tagger = _start(client, "Tag each word (entities)", "Built-in sample", sample="entities", opts=opts)
    mlm = _start(client, "Masked LM (fill the mask)", "Built-in sample", opts=(1, *opts[1:]))
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
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from hub.client import push_folder

    client, _ = tab
    upload = "Upload CSV/TSV/JSONL"
    missing = tmp_path / "reviews.csv"
    missing.write_text("review,stars\ngreat,5\nawful,1\n" * 5)
    with pytest.raises(AppError, match="which column holds the text"):
        _start(client, SENTENCE, upload, upload=handle_file(str(missing)))
    with pytest.raises(AppError, match="no column 'body'"):
        _start(client, SENTENCE, upload, upload=handle_file(str(missing)), columns=("body", "", "stars"))
    one = tmp_path / "one.csv"
    one.write_text("text,label\n" + "fine,pos\n" * 6)
    with pytest.raises(AppError, match="one class"):
        _start(client, SENTENCE, upload, upload=handle_file(str(one)))
    image = tmp_path / "photo.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(AppError):
        _start(client, SENTENCE, upload, upload=handle_file(str(image)))
    with pytest.raises(AppError, match="for sequence labels"):
        _start(client, "Tag each word (entities)", "Built-in sample", sample="sentiment")
    url_hub = ("Hub at a URL", hub_server.url, "")
    with pytest.raises(AppError, match="Base model.*does-not-exist"):
        _start(client, SENTENCE, "Built-in sample", base="alice/does-not-exist", hub=url_hub)
    # A vision repo as the base: refused before any job starts.
    vit = tmp_path / "vit"
    vit.mkdir()
    (vit / "config.json").write_text(json.dumps({"model_type": "vit", "architectures": ["ViTForImageClassification"]}))
    push_folder(vit, f"alice/{repo_name}", hub_server.hub())
    with pytest.raises(AppError, match="vit model"):
        _start(client, SENTENCE, "Built-in sample", base=f"alice/{repo_name}", hub=url_hub)
    with pytest.raises(AppError, match="Pick a model"):
        client.predict(None, "hello", "", api_name="/bert_predict")
