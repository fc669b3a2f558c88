"""The translation tab through gradio_client: train, watch, translate (greedy, beams, heat map), bad input."""
from __future__ import annotations

import json

import pytest

from conftest import refused, table_rows, wait_job

LOCAL = ("Local hub (offline)", "", "")
BUILTIN = "Built-in English -> French"
UPLOAD = "Upload TSV/CSV/JSONL pairs"
FLOWER = "They draw my white flower ."


def _start(client, model="gru-additive-attention", source_kind=BUILTIN, hub=LOCAL, epochs=1, **values):
    """Start a job by field name; the fields left out keep the form's defaults (the config's)."""
    choice, url, token = hub
    values.setdefault("upload", None)  # a file field has no default
    out = client.predict(model=model, source_kind=source_kind, epochs=epochs, choice=choice, url=url, token=token,
                         **values, api_name="/translation_train")
    return out["value"] if isinstance(out, dict) else out  # the job dropdown's update


def _translate(client, folder, text, strategy="Greedy", beam_width=4):
    return client.predict(folder=folder, text=text, strategy=strategy, beam_width=beam_width,
                          api_name="/translation_translate")


def test_train_and_translate(tab, hub_server, repo_name):
    from gradio_client.exceptions import AppError

    client, runner = tab
    job = _start(client)
    assert wait_job(runner, job).status == "completed", runner.log_tail(job)
    rows, progress, loss, metrics, samples, log = client.predict(job, api_name="/translation_watch")
    assert {r[1] for r in table_rows(metrics)} == {"BLEU", "chrf"} and "(reference:" in samples
    assert float([r[4] for r in table_rows(rows) if r[0] == job][0]) > 0  # BLEU (test_translation checks quality)

    folder = str(runner.job_dir(job) / "out" / "model")
    greedy, heat, beams = _translate(client, folder, FLOWER)
    assert greedy.strip() and heat is not None and not table_rows(beams)
    text, heat, beams = _translate(client, folder, FLOWER, "Beam search", 3)
    kept = table_rows(beams)
    assert len(kept) == 3 and kept[0][0] == text and kept[0][1] >= kept[1][1]
    with pytest.raises(AppError, match="Enter a sentence"):
        _translate(client, folder, "  ")
    with pytest.raises(AppError, match="the limit is 2,000"):
        _translate(client, folder, "a " * 5000)
    text, _, _ = _translate(client, folder, "Ðàñ ïß ñøŧ ëñğłïšħ")
    assert isinstance(text, str)  # unknown words: a warning, still an answer

    repo = f"alice/{repo_name}"
    hub = ("Hub at a URL", hub_server.url, hub_server.tokens["alice"])
    assert repo in client.predict(job, repo, False, *hub, api_name="/translation_push")
    pulled = client.predict(repo, *hub, api_name="/translation_pull")
    pulled = pulled["value"] if isinstance(pulled, dict) else pulled
    assert _translate(client, pulled, FLOWER)[0] == greedy  # the same weights, the same greedy translation


def test_bad_inputs_get_messages(tab, hub_server, tmp_path, repo_name):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from hub.client import push_folder

    client, runner = tab
    three = tmp_path / "three.csv"
    three.write_text("id,english,german\n" + "".join(f"{i},hi {i},hallo {i}\n" for i in range(20)))
    with pytest.raises(AppError, match="which column holds the target"):
        _start(client, source_kind=UPLOAD, upload=handle_file(str(three)))
    with pytest.raises(AppError, match="no column 'fr'"):
        _start(client, source_kind=UPLOAD, upload=handle_file(str(three)), source_column="english",
               target_column="fr")
    with pytest.raises(AppError, match="Upload a file"):
        _start(client, source_kind=UPLOAD)
    with refused("Model: one of gru, .*not 'transformer'"):
        _start(client, model="transformer")
    vit = tmp_path / "vit"
    vit.mkdir()
    (vit / "config.json").write_text(json.dumps({"model_type": "vit", "architectures": ["ViTForImageClassification"]}))
    push_folder(vit, f"alice/{repo_name}", hub_server.hub())
    with pytest.raises(AppError, match="vit model"):
        client.predict(f"alice/{repo_name}", "Hub at a URL", hub_server.url, "", api_name="/translation_pull")
    # The tab reads an upload's header only; a row without its pair is found by the job, which fails with it.
    uneven = tmp_path / "uneven.tsv"
    uneven.write_text("source\ttarget\n" + "a b\tc d\n" * 12 + "only source\t\n")
    job = _start(client, source_kind=UPLOAD, upload=handle_file(str(uneven)))
    assert wait_job(runner, job).status == "failed"
    assert "without its target" in runner.get(job).message
