"""The app launches, answers, and the Hub tab's handlers work through gradio_client."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from conftest import ROOT, free_port
from test_hub_client_module import _model_folder

URL_HUB = "Hub at a URL"


def _rows(table) -> list[list]:
    return table["data"] if isinstance(table, dict) else table


def wait_for(url: str, proc: subprocess.Popen | None = None, timeout: float = 60) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"app exited with {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.monotonic() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout}s")


def test_app_launches_on_its_embedded_defaults(tmp_path):
    """``python app.py`` with no arguments but a port: embedded hub, no account, no network."""
    from gradio_client import Client

    port = free_port()
    env = {**os.environ, "DLP_HOME": str(tmp_path), "DLP_USER": "learner"}
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/", proc)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        assert (tmp_path / "hub-server" / "tokens.json").exists()  # the embedded hub keeps its data there
        # The embedded default: with no classifier on the local hub, a starter LeNet is trained and pushed.
        deadline = time.monotonic() + 180
        while True:
            table, found = client.predict("Local hub (offline)", "", "", "", "image-classification", "model",
                                          api_name="/hub_list")
            if _rows(table):
                break
            assert time.monotonic() < deadline, "the starter model never reached the local hub"
            time.sleep(1)
        assert [r[0] for r in _rows(table)] == ["learner/lenet-digits"]
        card, _, metrics, _, _ = client.predict("Local hub (offline)", "", "", "learner/lenet-digits", "model",
                                                api_name="/hub_details")
        assert {r[0]: r[1] for r in _rows(metrics)}["accuracy"] >= 0.97
        # The starter job ends a moment after its push: while it runs it holds the session token (a restart of
        # the app must not leave it unable to push), so the app's exit revokes the token once it has ended.
        while any(json.loads(p.read_text())["status"] in ("queued", "running", "stopping")
                  for p in (tmp_path / "jobs" / "jobs").glob("*/job.json")):
            assert time.monotonic() < deadline + 60, "the starter job never ended"
            time.sleep(0.5)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert "hf_" not in out  # the session token is never printed
    assert json.loads((tmp_path / "hub-server" / "tokens.json").read_text()) == {}  # revoked on exit


def test_share_without_network_says_so(tmp_path):
    import threading

    port = free_port()
    env = {**os.environ, "DLP_HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--share", "--no-starter"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any("Could not create a public share link" in x for x in lines):
            time.sleep(0.2)
        assert any("Could not create a public share link" in x for x in lines), "".join(lines)
        assert any("only, as without --share" in x for x in lines)
        wait_for(f"http://127.0.0.1:{port}/", proc)  # and it still serves locally
        # No link: the app is as private as before, so its owner on loopback keeps their hub (it once went
        # read-only without a word).
        from gradio_client import Client
        from gradio_client.exceptions import AppError

        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        with pytest.raises(AppError) as refusal:
            client.predict("Local hub (offline)", "", "", "learner/x", "learner/x", "model", api_name="/hub_delete")
        assert "owner's write token" not in str(refusal.value)
        assert not any("reachable by others" in x for x in lines)
    finally:
        proc.kill()
        proc.wait()


def english(label):
    """A label as an English browser shows it: a translation key (webui.i18n) becomes its English text."""
    from gradio.i18n import I18nData

    from common.i18n import strings

    if isinstance(label, I18nData):
        label = label.to_dict()
    if isinstance(label, str) and label.startswith("__i18n__"):
        label = json.loads(label.removeprefix("__i18n__"))
    return strings()["en"][label["key"]] if isinstance(label, dict) and "key" in label else label


def test_starts_as_a_hugging_face_space(tmp_path):
    """As a Space starts it: ``python app.py`` with no arguments, SYSTEM=spaces, SPACE_ID, the address in the
    environment, and Hugging Face's ``spaces`` package installed: Gradio then wraps every event with it (a
    top-level ``spaces/`` package of ours once shadowed it and the app died on its first event)."""
    import spaces
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    from training.tasks import TASKS

    assert hasattr(spaces, "GPU") and hasattr(spaces, "gradio_auto_wrap")  # Hugging Face's, not a folder of ours
    port = free_port()
    # hf_oauth: true in the README gives a Space these (the provider is only asked when someone signs in).
    oauth = {"OAUTH_CLIENT_ID": "client", "OAUTH_CLIENT_SECRET": "secret", "OAUTH_SCOPES": "openid profile",
             "OPENID_PROVIDER_URL": "http://127.0.0.1:9"}
    env = {**os.environ, "SYSTEM": "spaces", "SPACE_ID": "teacher/playground", "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_SERVER_PORT": str(port), "DLP_HOME": str(tmp_path), "DLP_NO_STARTER": "1", **oauth}
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for(url, proc)
        config = httpx.get(f"{url}config", timeout=10).json()
        tabs = {english(c["props"].get("label")) for c in config["components"] if c["type"] == "tabitem"}
        assert {t.title for t in TASKS.values()} | {"Hub", "About"} <= tabs
        assert any(c["props"].get("value") == "Sign in with Hugging Face" for c in config["components"])
        client = Client(url, verbose=False)
        _, found = client.predict("Local hub (offline)", "", "", "", "", "model", api_name="/hub_list")
        assert "0 model repos" in found  # an event ran through spaces.gradio_auto_wrap
        # A Space is public: an anonymous visitor does not act as the owner on the local hub.
        with pytest.raises(AppError, match="needs the owner's write token"):
            client.predict("Local hub (offline)", "", "", "learner/x", "learner/x", "model", api_name="/hub_delete")
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert f"Data folder: {tmp_path}" in out and "visitors never act with your credentials" in out


def test_bad_hub_argument_is_refused():
    proc = subprocess.run([sys.executable, "app.py", "--hub", "ftp://x"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and "Unknown hub" in proc.stderr


@pytest.fixture(scope="module")
def app_client(hub_server):
    from gradio_client import Client

    from app import build_app

    demo = build_app(default_hub=hub_server.url)
    demo.queue()
    port = free_port()
    demo.launch(server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield Client(f"http://127.0.0.1:{port}/", verbose=False)
    finally:
        demo.close()


def test_hub_tab_lists_shows_pulls_and_deletes(hub_server, app_client, repo_name, tmp_path):
    from hub import client as hubs

    alice, bob = hub_server.tokens["alice"], hub_server.tokens["bob"]
    repo = f"alice/{repo_name}"
    hubs.push_folder(_model_folder(tmp_path, repo), repo, hub_server.hub("alice"))
    url = hub_server.url

    table, found = app_client.predict(URL_HUB, url, "", repo_name, "image-classification", "model",
                                      api_name="/hub_list")
    assert [r[0] for r in _rows(table)] == [repo] and "1 model repo on" in found
    table, _ = app_client.predict(URL_HUB, url, "", repo_name, "text-generation", "model", api_name="/hub_list")
    assert _rows(table) == []

    card, files, metrics, history, facts = app_client.predict(URL_HUB, url, "", repo, "model",
                                                               api_name="/hub_details")
    assert [r[1] for r in _rows(history)] == ["Upload from DL Playground", "initial commit"]
    assert card.startswith("# LeNet on digits") and "image-classification" in facts
    assert {r[0]: r[1] for r in _rows(metrics)} == {"accuracy": 0.97, "f1": 0.965}
    assert "model.safetensors" in {r[0] for r in _rows(files)}

    msg = app_client.predict(URL_HUB, url, "", repo, "model", api_name="/hub_pull")
    assert f"Pulled **{repo}**" in msg

    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Type the repo id"):
        app_client.predict(URL_HUB, url, alice, repo, "wrong", "model", api_name="/hub_delete")
    with pytest.raises(AppError, match="Not allowed"):
        app_client.predict(URL_HUB, url, bob, repo, repo, "model", api_name="/hub_delete")
    with pytest.raises(AppError, match="needs the owner's write token"):
        app_client.predict(URL_HUB, url, "", repo, repo, "model", api_name="/hub_delete")
    assert "Deleted" in app_client.predict(URL_HUB, url, alice, repo, repo, "model", api_name="/hub_delete")
    with pytest.raises(AppError, match="not found"):
        app_client.predict(URL_HUB, url, "", repo, "model", api_name="/hub_details")


def test_hub_tab_bad_input_gets_clear_messages(hub_server, app_client, capfd):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="not a valid repo id"):
        app_client.predict(URL_HUB, hub_server.url, "", "not a repo", "model", api_name="/hub_details")
    with pytest.raises(AppError, match="Cannot reach"):
        app_client.predict(URL_HUB, "http://127.0.0.1:9", "", "", "", "model", api_name="/hub_list")
    with pytest.raises(AppError, match="Enter the hub's URL"):
        app_client.predict(URL_HUB, "", "", "", "", "model", api_name="/hub_list")
    with pytest.raises(AppError, match="Unknown hub"):
        app_client.predict(URL_HUB, "not a url", "", "", "", "model", api_name="/hub_list")
    # The app keeps serving after all of that.
    table, found = app_client.predict(URL_HUB, hub_server.url, "", "", "", "dataset", api_name="/hub_list")
    assert "dataset repo" in found
    # A visitor's mistake is theirs to read, not a traceback in the server's log (its text can echo what they typed).
    assert "Traceback" not in capfd.readouterr().err


def test_building_every_tab_imports_no_heavy_library(tmp_path):
    """The page must come up fast: torch and friends load when a tab first needs them, not at start."""
    code = ("import sys\nfrom app import build_app, warm_up, WARM_MODULES\nfrom training.runner import JobRunner\n"
            f"build_app(default_hub='http://127.0.0.1:9', runner=JobRunner({str(tmp_path / 'jobs')!r}))\n"
            "print(','.join(m for m in ('torch', 'transformers', 'timm', 'diffusers', 'accelerate') "
            "if m in sys.modules))\n"
            # Once the page is served, what the first Predict click needs is imported in the background.
            "warm_up().join()\nprint(','.join(m for m in WARM_MODULES if m not in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "DLP_HOME": str(tmp_path / "home")})
    assert out.returncode == 0, out.stderr[-2000:]
    at_start, not_warmed = out.stdout.split("\n")[:2]
    assert at_start == "", f"imported at start: {at_start}"
    assert not_warmed == "", f"not imported by the warm-up: {not_warmed}"


def test_only_the_shown_tabs_job_panel_polls(tmp_path, monkeypatch):
    """Nine job panels ticking every second slowed the page: a tab's timer runs only while it is shown."""
    monkeypatch.setenv("DLP_HOME", str(tmp_path))
    from app import build_app
    from webui import TABS
    from training.runner import JobRunner

    demo = build_app(default_hub="http://127.0.0.1:9", runner=JobRunner(tmp_path / "jobs"))
    cfg = demo.get_config_file()
    timers = [c["id"] for c in cfg["components"] if c["type"] == "timer"]
    active = {c["id"]: c["props"]["active"] for c in cfg["components"] if c["type"] == "timer"}
    assert len(timers) == 9 and sum(active.values()) == 1  # the page opens on classification's
    tab_of = {c["id"]: c["props"].get("id") for c in cfg["components"] if c["type"] == "tabitem"}
    switched = {}
    for dep in cfg["dependencies"]:
        target, event = dep["targets"][0]
        if event == "select" and target in tab_of and dep["outputs"] == timers:
            switched[tab_of[target]] = [u.active for u in demo.fns[dep["id"]].fn()]
    assert set(switched) == set(TABS)
    on = {tab: states.index(True) for tab, states in switched.items() if True in states}
    assert sorted(on.values()) == list(range(9)) and all(sum(s) <= 1 for s in switched.values())
    assert "hub" not in on and "about" not in on and active[timers[on[TABS[0]]]]


def test_the_public_notice_gives_a_command_that_runs(tmp_path, monkeypatch):
    """The token hint names the local hub's data folder, so it can be pasted as it is."""
    import shlex

    from app import public_notice

    monkeypatch.setenv("DLP_HOME", str(tmp_path))
    command = public_notice(False).split("make one with: ", 1)[1].rstrip(").")
    argv = shlex.split(command.replace("NAME", "learner"))
    assert argv[:3] == ["python", "-m", "hub.server"] and "--data-dir" in argv
    out = subprocess.run([sys.executable, *argv[1:]], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "hub-server" / "tokens.json").exists()


def test_the_push_box_says_who_pushes_and_fills_their_namespace(hub_server):
    """A newcomer pushed `ceo/...` and the hub refused the namespace; the user's name was shown only in the Hub tab."""
    from webui.jobs import push_target

    from huggingface_hub import HfApi

    who, repo = push_target("you/lenet-digits", URL_HUB, hub_server.url, hub_server.tokens["alice"], "")
    assert "as **alice**" in who and repo["value"] == "alice/lenet-digits"
    # A newcomer's push as it is suggested would have replaced the starter's model: a name of theirs already taken
    # is not suggested.
    api = HfApi(endpoint=hub_server.url, token=hub_server.tokens["alice"])
    for name in ("pushbox-net", "pushbox-net-2"):
        api.create_repo(f"alice/{name}", exist_ok=True)
    assert push_target("you/pushbox-net", URL_HUB, hub_server.url, hub_server.tokens["alice"], "")[1]["value"] == \
        "alice/pushbox-net-3"
    assert push_target("you/x", URL_HUB, hub_server.url, hub_server.tokens["alice"], " alice/mine ")[1]["value"] == \
        "alice/mine"  # what the user typed stays
    who, repo = push_target("you/x", URL_HUB, hub_server.url, "", "")
    assert "paste a write token" in who and "value" not in repo
    who, _ = push_target("you/x", URL_HUB, "http://127.0.0.1:9", "t", "")
    assert who.startswith("⚠️ Cannot reach")
