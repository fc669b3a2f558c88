"""A simulated Space in a real browser: the sign-in button, Gradio's mocked OAuth login, the visitor's namespace.

A file of its own so that ``make test`` runs it in the other worker than the long browser test.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, free_port, screenshot as _shot
from test_app import wait_for

pytestmark = pytest.mark.browser


@pytest.mark.timeout(300)
def test_sign_in_with_hugging_face_on_a_simulated_space(browser, hub_server, tmp_path):
    """SPACE_ID without SYSTEM=spaces: the app shows its sign-in button and Gradio mocks the OAuth login with the
    machine's own Hugging Face login (here alice's token on the test hub, which HF_ENDPOINT points at). The
    signed-in visitor is offered their own namespace where they push."""
    from playwright.sync_api import expect

    port = free_port()
    env = {**os.environ, "DLP_HOME": str(tmp_path / "home"), "SPACE_ID": "teacher/playground",
           "HF_TOKEN": hub_server.tokens["alice"], "DLP_NO_STARTER": "1"}
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/", proc)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(f"http://127.0.0.1:{port}/")
        sign_in = page.get_by_role("button", name="Sign in with Hugging Face")
        expect(sign_in).to_be_visible(timeout=30_000)
        push = page.get_by_text("Push the trained model to the hub above").first
        push.click()
        expect(page.get_by_placeholder("you/lenet-digits")).to_be_visible()  # not signed in: no namespace yet
        sign_in.click()
        expect(page.get_by_role("button", name=re.compile(r"Logout \(alice\)"))).to_be_visible(timeout=30_000)
        _shot(page, "space-signed-in")
        page.get_by_text("Push the trained model to the hub above").first.click()
        expect(page.get_by_placeholder("alice/lenet-digits")).to_be_visible(timeout=30_000)
        page.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.timeout(400)
def test_two_visitors_in_two_browsers_see_their_own_jobs(browser, tmp_path):
    """A public app (--public on loopback, as behind a reverse proxy): the job one browser starts is in its own
    table, also after a reload, and not in another browser's, until that browser gives the owner's admin secret."""
    from playwright.sync_api import expect

    port = free_port()
    secret = "the-owners-admin-secret-0123456789"
    env = {**os.environ, "DLP_HOME": str(tmp_path / "home"), "DLP_ADMIN_SECRET": secret}
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--public", "--no-starter"], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Separate storage: two visitors.
    first, second = (browser.new_context(viewport={"width": 1920, "height": 1000}) for _ in range(2))
    try:
        wait_for(f"http://127.0.0.1:{port}/", proc)
        a, b = first.new_page(), second.new_page()
        for page in (a, b):
            page.set_default_timeout(60_000)
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_role("tab", name="Image classification").click()
        a.get_by_label("Epochs").fill("1")
        a.get_by_role("button", name="Start training").click()
        expect(a.get_by_role("gridcell", name="lenet on digits")).to_be_visible(timeout=60_000)
        a.reload()  # the same visitor: their browser id is in localStorage
        a.get_by_role("tab", name="Image classification").click()
        expect(a.get_by_role("gridcell", name="lenet on digits")).to_be_visible(timeout=60_000)
        b.wait_for_timeout(3000)  # several ticks of b's own table
        expect(b.get_by_role("gridcell", name="lenet on digits")).to_have_count(0)
        expect(b.get_by_text("Sign in with Hugging Face")).to_have_count(0)  # not a Space: no sign-in
        # The owner, in the second browser, gives the admin secret: the page reloads and shows every visitor's job.
        b.get_by_role("tab", name="About").click()
        b.get_by_text("Owner access").click()
        b.get_by_label("Admin secret (DLP_ADMIN_SECRET)").fill("a wrong one")
        b.get_by_role("button", name="Act as owner").click()
        expect(b.get_by_text("That is not this app's admin secret.").first).to_be_visible()
        b.get_by_label("Admin secret (DLP_ADMIN_SECRET)").fill(secret)
        b.get_by_role("button", name="Act as owner").click()
        b.wait_for_load_state()
        b.get_by_role("tab", name="Image classification").click()
        expect(b.get_by_role("gridcell", name="lenet on digits")).to_be_visible(timeout=60_000)
        _shot(b, "owner-sees-every-job")
    finally:
        first.close()
        second.close()
        proc.terminate()
        proc.wait(timeout=20)
