"""The HTTP inference endpoint (webui.endpoint) through huggingface_hub's own InferenceClient, unchanged.

Models: a LeNet trained for a few epochs by the app's job runner (it must read digits), and dry-run models of
the other pipelines pushed to the session's hub (the endpoint pulls them as a visitor would).
"""
from __future__ import annotations

import base64
import io
import shutil
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import free_port, wait_job


@pytest.fixture(scope="module")
def served(hub_server, tmp_path_factory):
    """(base URL of the endpoint, runner, {pipeline: repo id}, the finished LeNet job's id)."""
    from app import build_app, launch_kwargs
    from hub import client as hubs
    from training.classification import ClassificationConfig
    from training.runner import JobRunner
    from training.tasks import TASKS, train

    tmp = tmp_path_factory.mktemp("endpoint")
    runner = JobRunner(tmp / "jobs", poll_s=0.1)
    job_id = runner.submit(ClassificationConfig(model="lenet", epochs=3), label="lenet for the endpoint").id
    dry = {"object-detection": TASKS["detection"].config(image_size=64, epochs=1),
           "image-segmentation": TASKS["segmentation"].config(image_size=64, epochs=1),
           "text-classification": TASKS["bert"].config(),
           "fill-mask": TASKS["bert"].config(task="mlm"),
           "text-generation": TASKS["textgen"].config(model="char-gru", max_chars=20_000),
           "translation": TASKS["translation"].config()}
    repos = {}
    for tag, cfg in dry.items():  # while the LeNet job trains in its own process
        out = tmp / tag
        for _ in train(replace(cfg, dry_run=True, output_dir=str(out))):
            pass
        repos[tag] = f"alice/endpoint-{tag}"
        hubs.push_folder(out / "model", repos[tag], hub_server.hub("alice"))
        shutil.rmtree(out)
    assert wait_job(runner, job_id).status == "completed", runner.log_tail(job_id)

    demo = build_app(default_hub=hub_server.url, runner=runner)
    port = free_port()
    demo.launch(server_port=port, prevent_thread_lock=True, quiet=True, **launch_kwargs(runner, hub_server.url))
    try:
        yield f"http://127.0.0.1:{port}/infer", runner, repos, job_id
    finally:
        demo.close()
        runner.close()


def _digit_png(digit: int = 3) -> bytes:
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    i = next(i for i, t in enumerate(d.target) if t == digit)
    buf = io.BytesIO()
    Image.fromarray((d.images[i] * 16).clip(0, 255).astype("uint8"), "L").resize((64, 64)).save(buf, "PNG")
    return buf.getvalue()


def _scene_png() -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (96, 80), "white")
    ImageDraw.Draw(img).ellipse([10, 10, 60, 50], fill="red")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_every_pipeline_answers_inference_client_unchanged(served):
    from huggingface_hub import InferenceClient

    url, _, repos, job_id = served
    lenet = InferenceClient(base_url=f"{url}/job/{job_id}")
    # The quality check: a trained LeNet reads digits sent as they are sent to a hosted model.
    for digit in (0, 3, 7):
        top = lenet.image_classification(_digit_png(digit))
        assert top[0].label == str(digit), top
    assert len(lenet.image_classification(_digit_png(), top_k=2)) == 2
    assert abs(sum(e.score for e in lenet.image_classification(_digit_png(), top_k=10)) - 1) < 1e-4

    hub = {tag: InferenceClient(base_url=f"{url}/hub/{repo}") for tag, repo in repos.items()}
    boxes = hub["object-detection"].object_detection(_scene_png(), threshold=0.0)
    assert boxes and all(0 <= b.box.xmin <= b.box.xmax <= 96 and 0 <= b.box.ymin <= b.box.ymax <= 80 for b in boxes)
    assert boxes == sorted(boxes, key=lambda b: -b.score)
    assert not hub["object-detection"].object_detection(_scene_png(), threshold=1.0)

    masks = hub["image-segmentation"].image_segmentation(_scene_png())
    assert masks and all(m.mask.size == (96, 80) and m.mask.mode == "L" for m in masks)
    import numpy as np

    assert sum(np.asarray(m.mask) > 0 for m in masks).max() == 1  # one class per pixel, every pixel covered
    assert sum(np.asarray(m.mask) > 0 for m in masks).min() == 1

    labels = hub["text-classification"].text_classification("The soup was wonderful.")
    assert {e.label for e in labels} == {"negative", "positive"} and abs(sum(e.score for e in labels) - 1) < 1e-4
    assert len(hub["text-classification"].text_classification("Fine.", top_k=1)) == 1

    filled = hub["fill-mask"].fill_mask("Paris is the [MASK] of France.", top_k=3)
    assert len(filled) == 3 and filled[0].score >= filled[1].score
    assert filled[0].sequence.startswith("paris is the ") and isinstance(filled[0].token, int)

    lm = hub["text-generation"]
    text = lm.text_generation("The ", max_new_tokens=20)
    assert isinstance(text, str) and 0 < len(text) <= 20  # characters of a char-level model: the new ones only
    assert lm.text_generation("The ", max_new_tokens=20) == text  # greedy by default, as TGI
    full = lm.text_generation("The ", max_new_tokens=20, return_full_text=True)
    assert full == "The " + text
    pieces = list(lm.text_generation("The ", max_new_tokens=20, stream=True))
    assert "".join(pieces) == text
    sampled = lm.text_generation("The ", max_new_tokens=20, do_sample=True, temperature=1.0, seed=3)
    assert sampled == lm.text_generation("The ", max_new_tokens=20, do_sample=True, temperature=1.0, seed=3)
    with pytest.warns(UserWarning, match="repetition_penalty"):  # not applied: the client retries without it
        assert lm.text_generation("The ", max_new_tokens=5, repetition_penalty=1.2)

    out = hub["translation"].translation("She is happy .")
    assert isinstance(out.translation_text, str)


def test_bad_requests_get_clear_messages(served, monkeypatch):
    import httpx
    from huggingface_hub import InferenceClient
    from huggingface_hub.errors import HfHubHTTPError

    url, _, repos, job_id = served
    lenet = InferenceClient(base_url=f"{url}/job/{job_id}")
    with pytest.raises(HfHubHTTPError, match="not an image|cannot read") as e:
        lenet.image_classification(b"this is not a picture")
    assert e.value.response.status_code == 400
    with pytest.raises(HfHubHTTPError, match="No job 'nope'") as e:
        InferenceClient(base_url=f"{url}/job/nope").image_classification(_digit_png())
    assert e.value.response.status_code == 404
    with pytest.raises(HfHubHTTPError, match="No repo 'alice/no-such-repo' on this app's hub") as e:
        InferenceClient(base_url=f"{url}/hub/alice/no-such-repo").image_classification(_digit_png())
    assert e.value.response.status_code == 404
    with pytest.raises(HfHubHTTPError, match="takes text"):
        InferenceClient(base_url=f"{url}/hub/{repos['text-classification']}").image_classification(_digit_png())
    with pytest.raises(HfHubHTTPError, match="inputs is empty"):
        InferenceClient(base_url=f"{url}/hub/{repos['text-classification']}").text_classification("  ")
    with pytest.raises(HfHubHTTPError, match=r"Put \[MASK\]"):
        InferenceClient(base_url=f"{url}/hub/{repos['fill-mask']}").fill_mask("no mask here")
    # Plain HTTP: a body over the upload limit is refused before it is read; bad JSON and base64 are named.
    from webui import visitors

    monkeypatch.setattr(visitors, "policy", replace(visitors.policy, max_upload_mb=1))
    r = httpx.post(f"{url}/job/{job_id}", content=b"x" * (2 * 2**20))
    assert (r.status_code, r.json()["error"]) == (413, "The request is over 1 MB")
    monkeypatch.undo()
    r = httpx.post(f"{url}/job/{job_id}", content=b"{not json", headers={"content-type": "application/json"})
    assert (r.status_code, r.json()["error"]) == (400, "the body is not JSON")
    r = httpx.post(f"{url}/job/{job_id}", json={"inputs": "%%%", "parameters": {"top_k": 2}})
    assert r.status_code == 400 and "base64" in r.json()["error"]
    r = httpx.post(f"{url}/job/{job_id}", json={"inputs": base64.b64encode(_digit_png()).decode(),
                                               "parameters": {"top_k": "many"}})
    assert (r.status_code, r.json()["error"]) == (400, "parameters.top_k must be a number")
    info = httpx.get(f"{url}/job/{job_id}").json()
    assert info == {"model": f"job/{job_id}", "pipeline_tag": "image-classification", "served": True,
                    "usage": "InferenceClient(base_url=URL).image_classification(image)"}
    # The app itself still serves.
    assert httpx.get(url.removesuffix("/infer") + "/").status_code == 200


def test_public_callers_are_one_anonymous_visitor(served, monkeypatch, hub_server):
    """On a public app a caller sees nobody's jobs and reaches the hub without the owner's credentials."""
    from huggingface_hub import InferenceClient
    from huggingface_hub.errors import HfHubHTTPError

    from webui import visitors

    url, _, repos, job_id = served
    hub_server.api().update_repo_settings(repos["text-classification"], private=True)
    try:
        monkeypatch.setattr(visitors, "policy", visitors.Policy(public=True, allowed_hubs=frozenset(
            {visitors.normalise(hub_server.url)})))
        with pytest.raises(HfHubHTTPError, match="No job") as e:
            InferenceClient(base_url=f"{url}/job/{job_id}").image_classification(_digit_png())
        assert e.value.response.status_code == 404
        # A private repo, even with the owner's token sent along: the endpoint never uses a caller's token.
        with pytest.raises(HfHubHTTPError, match="No repo"):
            InferenceClient(base_url=f"{url}/hub/{repos['text-classification']}",
                            api_key=hub_server.tokens["alice"]).text_classification("Good.")
        assert InferenceClient(base_url=f"{url}/hub/{repos['fill-mask']}").fill_mask("A [MASK] day.")
    finally:
        hub_server.api().update_repo_settings(repos["text-classification"], private=False)


def test_concurrent_callers_all_answered(served):
    """32 callers at once: every request answered, none failed (bench/endpoint.py measures 64 and throughput)."""
    from huggingface_hub import InferenceClient

    url, _, _, job_id = served
    png, errors, answers = _digit_png(7), [], []

    def call():
        try:
            answers.append(InferenceClient(base_url=f"{url}/job/{job_id}").image_classification(png)[0].label)
        except Exception as e:  # noqa: BLE001 (counted, then asserted)
            errors.append(repr(e))

    threads = [threading.Thread(target=call) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and answers == ["7"] * 32, errors[:3]


def test_served_pipeline_reads_card_then_config(tmp_path: Path):
    import json

    from webui.endpoint import served_pipeline

    (tmp_path / "config.json").write_text(json.dumps({"_class_name": "TinySSD"}))
    assert served_pipeline(tmp_path) == "object-detection"
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["MarianMTModel"]}))
    assert served_pipeline(tmp_path) == "translation"
    (tmp_path / "README.md").write_text("---\npipeline_tag: image-to-image\n---\n# x\n")
    assert served_pipeline(tmp_path) == "image-to-image"


def test_the_predict_tabs_snippet_runs_as_shown(served, tmp_path, monkeypatch, capsys):
    """The "Call it from code" accordion's code, run as a user would copy it, answers from the live endpoint."""
    import re

    from webui import visitors
    from webui.endpoint import call_from_code

    url, runner, _, job_id = served
    base = url.removesuffix("/infer")
    shown = call_from_code(runner, "local", f"job:{job_id}", base)
    code = re.search(r"```python\n(.*)```", shown, re.S).group(1)
    assert f'base_url="{base}/infer/job/{job_id}"' in code
    (tmp_path / "photo.jpg").write_bytes(_digit_png(0))
    monkeypatch.chdir(tmp_path)
    exec(code, {})  # noqa: S102 (the app's own text)
    assert "label='0'" in capsys.readouterr().out
    assert call_from_code(runner, "local", "job:nope", base).startswith("Pick a model above")
    assert call_from_code(runner, "local", None, base).startswith("Pick a model above")
    monkeypatch.setattr(visitors, "policy", visitors.Policy(public=True))  # callers of a public app are anonymous
    assert "cannot be called from code" in call_from_code(runner, "local", f"job:{job_id}", base)


def test_the_pull_list_offers_the_hubs_own_repos_of_the_task(served):
    """A newcomer finds the hub's models (the starter LeNet) in the pull list, ahead of the famous ones."""
    from gradio_client import Client

    from conftest import HUB_PORT

    url, _, repos, _ = served
    offered = Client(url.removesuffix("/infer") + "/", verbose=False).predict(
        "Hub at a URL", f"http://127.0.0.1:{HUB_PORT}", "", api_name="/detection_offered")
    ids = [c[1] for c in offered["choices"]]
    assert ids.index(repos["object-detection"]) < ids.index("facebook/detr-resnet-50")
    assert repos["image-segmentation"] not in ids  # another task's
