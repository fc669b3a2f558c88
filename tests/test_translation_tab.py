"""The translation tab through gradio_client: train, watch, translate (greedy, beams, heat map), bad input."""
from __future__ import annotations

import json

import pytest

from conftest import table_rows, wait_job

LOCAL = ("Local hub (offline)", "", "")
BUILTIN = "Built-in English -> French"
OPTS = (2, 64, 3e-3, 128, 1.0, 0)  # epochs, batch, lr, hidden, teacher forcing, seed


def _start(client, model="gru-additive-attention", source=BUILTIN, upload=None, repo="", columns=("", ""),
           opts=OPTS, hub=LOCAL):
    out = client.predict(model, source, upload, repo, *columns, *opts, *hub, api_name="/translation_train")
    return out["value"] if isinstance(out, dict) else out




def test_train_and_translate(tab, hub_server, repo_name):
    from gradio_client.exceptions import AppError

    client, runner = tab
    job = _start(client)
    assert wait_job(runner, job).status == "completed", runner.log_tail(job)
    rows, progress, loss, metrics, samples, log = client.predict(job, api_name="/translation_watch")
    assert {r[1] for r in table_rows(metrics)} == {"bleu", "chrf"} and "(reference:" in samples
    assert float([r[4] for r in table_rows(rows) if r[0] == job][0]) > 80

    folder = str(runner.job_dir(job) / "out" / "model")
    text, heat, beams = client.predict(folder, "They draw my white flower .", "Greedy", 4,
                                       api_name="/translation_translate")
    assert text == "Ils dessinent ma fleur blanche." and heat is not None and not table_rows(beams)
    text, heat, beams = client.predict(folder, "They draw my white flower .", "Beam search", 3,
                                       api_name="/translation_translate")
    kept = table_rows(beams)
    assert len(kept) == 3 and kept[0][0] == text and kept[0][1] >= kept[1][1]
    with pytest.raises(AppError, match="Enter a sentence"):
        client.predict(folder, "  ", "Greedy", 4, api_name="/translation_translate")
    with pytest.raises(AppError, match="the limit is 2,000"):
        client.predict(folder, "a " * 5000, "Greedy", 4, api_name="/translation_translate")
    text, _, _ = client.predict(folder, "Ðàñ ïß ñøŧ ëñğłïšħ", "Greedy", 4, api_name="/translation_translate")
    assert isinstance(text, str)  # unknown words: a warning, still an answer

    repo = f"alice/{repo_name}"
    hub = ("Hub at a URL", hub_server.url, hub_server.tokens["alice"])
    assert repo in client.predict(job, repo, False, *hub, api_name="/translation_push")
    pulled = client.predict(repo, *hub, api_name="/translation_pull")
    pulled = pulled["value"] if isinstance(pulled, dict) else pulled
    assert client.predict(pulled, "They draw my white flower .", "Greedy", 4,
                          api_name="/translation_translate")[0] == "Ils dessinent ma fleur blanche."


def test_bad_inputs_get_messages(tab, hub_server, tmp_path, repo_name):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from hub.client import push_folder

    client, _ = tab
    upload = "Upload TSV/CSV/JSONL pairs"
    uneven = tmp_path / "uneven.tsv"
    uneven.write_text("source\ttarget\n" + "a b\tc d\n" * 12 + "only source\t\n")
    with pytest.raises(AppError, match="without its target"):
        _start(client, source=upload, upload=handle_file(str(uneven)))
    three = tmp_path / "three.csv"
    three.write_text("id,english,german\n" + "".join(f"{i},hi {i},hallo {i}\n" for i in range(20)))
    with pytest.raises(AppError, match="which column holds the target"):
        _start(client, source=upload, upload=handle_file(str(three)))
    with pytest.raises(AppError, match="no column 'fr'"):
        _start(client, source=upload, upload=handle_file(str(three)), columns=("english", "fr"))
    with pytest.raises(AppError, match="Upload a file"):
        _start(client, source=upload)
    with pytest.raises(AppError, match="not in the list of choices|Pick a model"):
        _start(client, model="transformer")
    vit = tmp_path / "vit"
    vit.mkdir()
    (vit / "config.json").write_text(json.dumps({"model_type": "vit", "architectures": ["ViTForImageClassification"]}))
    push_folder(vit, f"alice/{repo_name}", hub_server.hub())
    with pytest.raises(AppError, match="vit model"):
        client.predict(f"alice/{repo_name}", "Hub at a URL", hub_server.url, "", api_name="/translation_pull")
