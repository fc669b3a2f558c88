"""End to end in a real browser: Debian's headless Chromium driven by Playwright.

Playwright cannot download its own browser here, so it is pointed at /usr/bin/chromium
(``make test`` and ``.ci/run`` install it). Screenshots land in ``$DLP_SCREENSHOTS``
when that is set (the README's pictures come from there).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, free_port, screenshot as _shot
from test_app import wait_for
from test_hub_client_module import _model_folder

pytestmark = pytest.mark.browser
# Generous waits: CI shares two cores between the app, its training jobs and the browser; a wait that
# is long enough costs nothing when things are quick.
TRAINING_MS = 480_000  # a training job from Start to "Completed"
RESULT_MS = 120_000  # one prediction, or a job starting


def _picks(page) -> None:
    """Waits for the visible model picker to hold the job that just completed. A tab's picker refreshes when
    the tab is selected; a click before that lands runs with the picker's earlier value: none on a first visit
    ("Pick a model"; in CI a conditional GAN's Sample answered "Error" so, and a char-GRU's Generate before it)."""
    from playwright.sync_api import expect

    picker = page.get_by_role("combobox", name=re.compile(r"\(trained here or pulled\)|\(fine-tuned here or pulled\)"))
    expect(picker.filter(visible=True)).to_have_value(re.compile(r"\(completed"), timeout=RESULT_MS)


@pytest.mark.timeout(2400)  # every tab trains and predicts: 15 min on two cores
def test_hub_tab_in_a_real_browser(browser, hub_server, repo_name, tmp_path):
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)  # a result shows its header before its rows: give the rows time too

    repo = f"alice/{repo_name}"
    from hub import client as hubs

    hubs.push_folder(_model_folder(tmp_path, repo), repo, hub_server.hub("alice"))
    port = free_port()
    env = {**os.environ, "DLP_HOME": str(tmp_path / "home")}
    app_log = tmp_path / "app.log"  # what the app said, for a failure's message (an "Error" in the page)
    with open(app_log, "w") as log:
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--hub", hub_server.url], cwd=ROOT,
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(f"http://127.0.0.1:{port}/", proc)
        page = browser.new_page(viewport={"width": 1920, "height": 1000})
        page_errors: list[str] = []  # uncaught exceptions in the page's scripts, over the whole walk
        page.on("pageerror", lambda e: page_errors.append(str(e)[:300]))
        page.set_default_timeout(RESULT_MS)  # clicks too: a page streaming images on two busy cores can be slow to settle
        page.goto(f"http://127.0.0.1:{port}/")
        page.get_by_role("tab", name="Hub").click()
        expect(page.get_by_text("no token: read-only")).to_contain_text(hub_server.url, timeout=30_000)
        # The list loads on page open; clicking a row shows its card, metrics and files.
        cell = page.get_by_role("gridcell", name=repo).first
        expect(cell).to_be_visible(timeout=30_000)
        cell.click()
        expect(page.get_by_role("heading", name="LeNet on digits")).to_be_visible(timeout=30_000)
        expect(page.get_by_role("gridcell", name="model.safetensors").first).to_be_visible()
        _shot(page, "hub-tab")

        # Other tabs switch and render.
        page.get_by_role("tab", name="About").click()
        expect(page.get_by_text("Installed versions")).to_be_visible()
        _shot(page, "about-tab")
        page.get_by_role("tab", name="Hub").click()

        # Delete needs the owner's token and the repo id typed again.
        page.get_by_label("Token").filter(visible=True).fill(hub_server.tokens["alice"])
        page.get_by_text("Delete this repo").click()
        page.get_by_label("Type the repo id to confirm").fill(repo)
        page.get_by_role("button", name="Delete repo").click()
        expect(page.get_by_text(f"Deleted {repo}")).to_be_visible(timeout=30_000)
        assert not hub_server.api().repo_exists(repo)

        # A search with no match says so.
        page.get_by_label("Search").fill("zzz-nothing")
        page.get_by_role("button", name="Search", exact=True).click()
        expect(page.get_by_text("0 model repos")).to_be_visible(timeout=30_000)

        # Image classification: train a LeNet on the digits, reload while it runs, stop it, try it.
        page.get_by_role("tab", name="Image classification").click()
        expect(page.get_by_role("combobox", name="Architecture")).to_have_value("lenet")
        page.get_by_label("Epochs").fill("200")
        page.get_by_role("button", name="Start training").click()
        expect(page.get_by_role("gridcell", name="lenet on digits")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Running · step")).to_be_visible(timeout=RESULT_MS)
        # A reload while it runs finds the job and goes on watching it, curves included.
        page.reload()
        page.get_by_role("tab", name="Image classification").click()
        # (A reopened page on busy cores: the page-load events, then the pick's watch, took over 30 s in CI.)
        expect(page.get_by_text("Running · step")).to_be_visible(timeout=RESULT_MS)
        expect(page.get_by_text("Training loss")).to_be_visible(timeout=30_000)
        # Two epochs in, so the picture has curves (44 steps an epoch).
        page.wait_for_function("() => { const m = document.body.innerText.match(/step (\\d+)\\//); "
                               "return m && +m[1] >= 100; }", timeout=RESULT_MS)
        _shot(page, "classification-train", settle_ms=1500)  # the next tick draws the metric curves
        # Stop ends it within seconds and keeps the model so far.
        page.get_by_role("button", name="Stop").click()
        expect(page.get_by_text("Stopped ·")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Confusion matrix (validation split)")).to_be_visible()
        page.get_by_role("tab", name="Predict").click()
        page.locator(".gallery-item").first.click()  # the first example digit: a 0
        # In the input before Classify (see the demo's).
        expect(page.get_by_role("button", name="Remove Image").filter(visible=True)).to_be_visible()
        page.get_by_role("button", name="Classify", exact=True).click()
        expect(page.get_by_text("What the network sees")).to_be_visible()
        expect(page.locator("[data-testid='label-output-value']").first).to_have_text("0", timeout=RESULT_MS)
        _shot(page, "classification-predict")
        # Draw a digit: a stroke on the sketchpad, classified (test_classification_tab checks what is read).
        page.get_by_text("Draw a digit", exact=True).click()
        page.get_by_role("button", name="Brush").click()
        page.keyboard.press("Escape")  # (the brush's size and colour pop-up)
        box = page.locator("canvas").filter(visible=True).first.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y - 90)
        page.mouse.down()
        for i in range(20):
            page.mouse.move(x, y - 90 + i * 9)
        page.mouse.up()
        page.get_by_role("button", name="Classify the drawing").click()
        expect(page.locator("[data-testid='label-output-value']").first).to_have_text(re.compile(r"^\d$"),
                                                                                     timeout=RESULT_MS)

        # Publish the model as a Space, then run the published demo here and classify in it.
        page.get_by_role("button", name="Publish as a Space").filter(visible=True).click()
        page.get_by_label("Space repo id").filter(visible=True).fill(f"alice/{repo_name}-demo")
        page.get_by_label("Token").filter(visible=True).fill(hub_server.tokens["alice"])
        page.get_by_role("button", name="Publish", exact=True).filter(visible=True).click()
        expect(page.get_by_text("python -m hub.publish run")).to_be_visible(timeout=RESULT_MS)
        _shot(page, "classification-publish")
        space_port = free_port()
        space_log = tmp_path / "space.log"  # what the demo's process said, for a failure's message
        with open(space_log, "w") as log:
            space = subprocess.Popen([sys.executable, "-m", "hub.publish", "run", f"alice/{repo_name}-demo", "--hub",
                                      hub_server.url, "--port", str(space_port)], cwd=ROOT, env=env,
                                     stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(f"http://127.0.0.1:{space_port}/", space)
            demo = browser.new_page(viewport={"width": 1400, "height": 900})
            demo.goto(f"http://127.0.0.1:{space_port}/")
            demo.locator(".gallery-item").first.click()  # its first example: a 0
            # The example reaches the input asynchronously: a Classify clicked before it lands sends no image (on
            # busy cores this answered "Error" twice in CI).
            expect(demo.get_by_role("button", name="Remove Image")).to_be_visible(timeout=RESULT_MS)
            demo.get_by_role("button", name="Classify").click()
            try:
                expect(demo.locator("[data-testid='label-output-value']").first).to_have_text("0", timeout=RESULT_MS)
            except AssertionError as e:
                raise AssertionError(f"{e}\nthe demo's log:\n{space_log.read_text()[-4000:]}") from None
            _shot(demo, "space-demo")
            demo.close()
        finally:
            space.terminate()
            space.wait()

        # BERT fine-tuning: MiniLM on the built-in reviews for one epoch, then a new review with a word the
        # training split holds ("wonderful"): a held-out adjective tests pre-training, not the wiring, and a
        # default recipe misjudged "exquisite" once in CI (test_bert checks held-out words on its own).
        page.get_by_role("tab", name="BERT fine-tuning").click()
        page.get_by_label("Epochs").filter(visible=True).fill("1")  # enough for the built-in reviews (test_bert_tab)
        page.get_by_role("button", name="Start training").filter(visible=True).click()
        expect(page.get_by_text("Completed ·")).to_be_visible(timeout=TRAINING_MS)
        expect(page.get_by_text("Confusion matrix (validation split)").filter(visible=True)).to_be_visible()
        _shot(page, "bert-train", settle_ms=1500)
        page.get_by_role("tab", name="Predict").filter(visible=True).click()
        _picks(page)
        page.get_by_label("Text", exact=True).filter(visible=True).fill("The soup was wonderful.")
        page.get_by_role("button", name="Run").click()
        expect(page.locator("[data-testid='label-output-value']").filter(visible=True).first).to_have_text(
            "positive", timeout=RESULT_MS)
        _shot(page, "bert-predict")

        # Text generation: a small character GRU on part of the built-in corpus, one epoch, then sample from it.
        page.get_by_role("tab", name="Text generation").click()
        page.get_by_role("combobox", name="Model").filter(visible=True).click()
        page.get_by_role("option", name="char-gru").click()
        page.get_by_label("Use at most (characters)").fill("20000")
        page.get_by_label("Epochs").filter(visible=True).fill("1")
        page.get_by_role("button", name="Start training").filter(visible=True).click()
        expect(page.get_by_text("Completed ·").filter(visible=True)).to_be_visible(timeout=TRAINING_MS)
        expect(page.get_by_label("Samples after each epoch")).to_have_value(re.compile("— epoch 1 —"))
        _shot(page, "textgen-train", settle_ms=1500)
        page.get_by_role("tab", name="Generate").click()
        _picks(page)
        page.get_by_role("button", name="Generate").click()
        expect(page.get_by_label("Text (streams as it is made)")).to_have_value(re.compile(r"^The .{150,}", re.S),
                                                                                timeout=RESULT_MS)
        _shot(page, "textgen-generate")

        # Translation: an attention model on the built-in pairs, then a sentence and its heat map.
        page.get_by_role("tab", name="Translation").click()
        page.get_by_label("Epochs").filter(visible=True).fill("1")
        page.get_by_role("button", name="Start training").filter(visible=True).click()
        expect(page.get_by_text("Completed ·").filter(visible=True)).to_be_visible(timeout=TRAINING_MS)
        _shot(page, "translation-train", settle_ms=1500)
        page.get_by_role("tab", name="Translate").click()
        _picks(page)
        page.get_by_text("She does not buy the black hat today .").click()
        page.get_by_role("button", name="Translate").click()
        expect(page.get_by_label("Translation", exact=True)).to_have_value(re.compile(r"^Elle \w"), timeout=120_000)
        expect(page.get_by_text("Attention (rows: target words")).to_be_visible()
        _shot(page, "translation-translate", settle_ms=1000)
        # A refused input leaves no earlier answer on screen as if it were the answer to it.
        page.get_by_label("Sentence", exact=True).fill("")
        page.get_by_role("button", name="Translate").click()
        expect(page.get_by_text("Enter a sentence to translate.").first).to_be_visible()
        expect(page.get_by_label("Translation", exact=True)).to_have_value("")

        # Object detection: a quick TinySSD (one epoch at 64 px) on the built-in shapes, then an example scene and
        # NMS step by step.
        page.get_by_role("tab", name="Object detection").click()
        page.get_by_label("Epochs").filter(visible=True).fill("1")
        page.get_by_label("Image size").filter(visible=True).fill("64")
        page.get_by_role("button", name="Start training").filter(visible=True).click()
        expect(page.get_by_text("Completed ·").filter(visible=True)).to_be_visible(timeout=TRAINING_MS)
        expect(page.get_by_text("Detections on validation images").filter(visible=True)).to_be_visible()
        _shot(page, "detection-train", settle_ms=1500)
        page.get_by_role("tab", name="Detect", exact=True).click()
        _picks(page)
        page.locator(".gallery-item").filter(visible=True).first.click()
        page.get_by_role("button", name="Detect", exact=True).click()
        expect(page.get_by_text("Detections (grey: boxes NMS removed)")).to_be_visible(timeout=RESULT_MS)
        page.get_by_role("button", name="NMS step by step").click()
        expect(page.get_by_role("columnheader", name="kept (highest score left)")).to_be_visible()
        _shot(page, "detection-detect", settle_ms=1000)

        # Semantic segmentation: a quick U-Net (one epoch at 64 px), then an example scene and the legend.
        page.get_by_role("tab", name="Semantic segmentation").click()
        page.get_by_label("Epochs").filter(visible=True).fill("1")
        page.get_by_label("Image size").filter(visible=True).fill("64")
        page.get_by_role("button", name="Start training").filter(visible=True).click()
        expect(page.get_by_text("Completed ·").filter(visible=True)).to_be_visible(timeout=TRAINING_MS)
        page.get_by_role("tab", name="Segment", exact=True).click()
        _picks(page)
        page.locator(".gallery-item").filter(visible=True).first.click()
        page.get_by_role("button", name="Segment", exact=True).click()
        expect(page.get_by_role("columnheader", name="% of pixels")).to_be_visible(timeout=RESULT_MS)
        expect(page.get_by_text("background").filter(visible=True).first).to_be_visible()
        page.get_by_role("button", name="Transposed convolution").click()
        expect(page.get_by_text("Input * kernel -> output")).to_be_visible()

        # Face verification: a small CNN on the built-in people, verify an example pair, enrol and identify.
        page.get_by_role("tab", name="Face verification").click()
        page.get_by_role("tab", name="Train", exact=True).filter(visible=True).click()
        page.get_by_label("Epochs").filter(visible=True).fill("1")
        page.get_by_label("Image size").filter(visible=True).fill("32")  # the wiring (test_faces checks learning)
        page.get_by_role("button", name="Start training").filter(visible=True).click()
        expect(page.get_by_text("Completed ·").filter(visible=True)).to_be_visible(timeout=TRAINING_MS)
        _shot(page, "faces-train", settle_ms=1500)
        page.get_by_role("tab", name="Verify", exact=True).click()
        # (Examples of 3 inputs: a table; its first row is two photos of visitor A.)
        page.locator("tr").filter(has_text="As the model was trained").filter(visible=True).first.click()
        page.get_by_role("button", name="Verify", exact=True).click()
        expect(page.get_by_text(re.compile(r"(Same person|Different people): distance \d"))).to_be_visible(
            timeout=RESULT_MS)
        _shot(page, "faces-verify", settle_ms=1000)
        page.get_by_role("tab", name="Recognise", exact=True).click()
        page.get_by_text("Visitor A", exact=True).filter(visible=True).first.click()  # visitor A's photo and name
        page.get_by_role("button", name="Enrol", exact=True).click()
        expect(page.get_by_text("Visitor A ·")).to_be_visible(timeout=RESULT_MS)
        page.locator(".gallery-item").filter(visible=True).first.click()  # another photo of visitor A
        page.get_by_role("button", name="Identify", exact=True).click()
        expect(page.get_by_text(re.compile(r"Visitor A \(distance|Unknown: the closest"))).to_be_visible(
            timeout=RESULT_MS)

        # Style transfer: Gatys' optimisation updates live and stops; Gram matrices; a fast style network.
        page.get_by_role("tab", name="Neural style transfer").click()
        page.locator(".gallery-item").filter(visible=True).first.click()  # content: the cat
        page.locator(".gallery-item").filter(visible=True).nth(3).click()  # style: a flower
        page.get_by_role("button", name="Start", exact=True).click()
        expect(page.get_by_text(re.compile(r"Step 10 / 100"))).to_be_visible(timeout=TRAINING_MS)
        page.get_by_role("button", name="Stop", exact=True).filter(visible=True).click()
        page.get_by_role("button", name="Show the style's Gram matrices").click()
        _shot(page, "style-optimise", settle_ms=3000)
        page.get_by_role("tab", name="Fast style", exact=True).click()
        page.get_by_label("Epochs").filter(visible=True).fill("1")
        page.get_by_label("Image size").filter(visible=True).fill("32")  # the wiring (test_style checks learning)
        page.get_by_role("button", name="Start training").filter(visible=True).click()
        expect(page.get_by_text("Completed ·").filter(visible=True)).to_be_visible(timeout=TRAINING_MS)
        page.get_by_role("button", name="Refresh").filter(visible=True).first.click()
        page.locator(".gallery-item").filter(visible=True).first.click()
        page.get_by_role("button", name="Stylise", exact=True).click()
        expect(page.get_by_text(re.compile(r"Style flower: \d+x\d+ in"))).to_be_visible(timeout=RESULT_MS)

        # Generative models: the toy GAN learns a Gaussian live; a conditional GAN trains, then one row per digit.
        page.get_by_role("tab", name="Generative models").click()
        page.get_by_role("spinbutton", name="number input for Generator steps").fill("600")
        page.get_by_role("button", name="Train", exact=True).filter(visible=True).click()
        expect(page.get_by_text(re.compile(r"Step 600 / 600"))).to_be_visible(timeout=RESULT_MS)
        _shot(page, "generative-toy", settle_ms=1000)
        page.get_by_role("tab", name="Train", exact=True).filter(visible=True).click()
        page.get_by_role("combobox", name="Model").filter(visible=True).click()
        page.get_by_role("option", name="cgan", exact=True).click()
        page.get_by_label("Epochs").filter(visible=True).fill("1")
        page.get_by_role("button", name="Start training").filter(visible=True).click()
        expect(page.get_by_text("Completed ·").filter(visible=True)).to_be_visible(timeout=TRAINING_MS)
        expect(page.get_by_role("img", name="epoch 1")).to_be_visible()  # the gallery of per-epoch grids
        _shot(page, "generative-train", settle_ms=1500)
        page.get_by_role("tab", name="Sample", exact=True).click()
        _picks(page)
        page.get_by_role("button", name="Sample", exact=True).click()
        expect(page.get_by_text(re.compile(r"10 classes x 6 · one row per class"))).to_be_visible(timeout=RESULT_MS)
        _shot(page, "generative-sample")

        # Foundations: the 2-D playground trains an MLP on the moons live; the optimisers race on a saddle.
        page.get_by_role("tab", name="Foundations").click()
        page.get_by_role("tab", name="2-D playground").click()
        page.get_by_role("button", name="Train", exact=True).filter(visible=True).click()
        expect(page.get_by_text(re.compile(r"Step 1000 / 1000 · train accuracy"))).to_be_visible(timeout=RESULT_MS)
        _shot(page, "foundations-playground")
        page.get_by_role("tab", name="Optimisers").click()
        page.get_by_role("combobox", name="Loss surface").click()
        page.get_by_role("option", name="saddle").click()
        page.get_by_role("button", name="Run", exact=True).click()
        expect(page.get_by_text(re.compile(r"Step 200 / 200 on saddle"))).to_be_visible(timeout=RESULT_MS)
        _shot(page, "foundations-optimisers")
        page.close()
        # (One null offsetWidth inside Gradio's front end was seen once by a helper and not reproduced: issue 18.)
        assert not [e for e in page_errors if "reading 'offsetWidth'" not in e], page_errors
    except AssertionError as e:
        raise AssertionError(f"{e}\nthe app's log:\n{app_log.read_text()[-4000:]}") from None
    finally:
        proc.terminate()
        proc.wait(timeout=20)

