"""Test fixtures: a hub server on loopback with its own data dir, HF_HOME and DLP_HOME.

``HF_ENDPOINT`` is read once when huggingface_hub is imported, so it is set here,
before any test imports it, to the port the session's server will take. That lets
the official clients run unmodified (``from_pretrained("alice/x")``) against it.
"""
from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_TMP = Path(tempfile.mkdtemp(prefix="dlp-tests-"))
# The suite's temp files, pytest's tmp_path folders and those of the jobs it starts included, live under _TMP and go
# with it: gradio_client leaves a folder in the temp dir per file it downloads, and a run writes gigabytes.
(_TMP / "tmp").mkdir()
tempfile.tempdir = os.environ["TMPDIR"] = str(_TMP / "tmp")
atexit.register(shutil.rmtree, _TMP, True)  # after the session: threads still shutting down may write there
if os.environ.get("PYTEST_XDIST_WORKER"):
    # ``make test`` runs two workers on two cores: one thread each, for the torch in this process and for the jobs
    # it starts (they inherit it). Two threads each oversubscribe the cores and were slower than one worker.
    os.environ["OMP_NUM_THREADS"] = "1"


def pytest_sessionfinish(session, exitstatus):
    """The session's hub data, HF_HOME and DLP_HOME go with it: the detection and segmentation round trips
    push torchvision models (tens of MB each), and left behind, every run would keep gigabytes."""
    shutil.rmtree(_TMP, ignore_errors=True)


def pytest_collection_modifyitems(items):
    """The browser test first: it is the longest file, and under pytest-xdist a file that starts last ends last."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


HUB_PORT = free_port()
os.environ.update({
    "HF_ENDPOINT": f"http://127.0.0.1:{HUB_PORT}",
    "HF_HOME": str(_TMP / "hf-home"),
    "DLP_HOME": str(_TMP / "dlp-home"),
    "TRACKIO_DIR": str(_TMP / "trackio"),  # every run logs to trackio (training.tracking); the owner's folder
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_HUB_ETAG_TIMEOUT": "5",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
})
for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "DLP_LOCAL_HUB_URL", "DLP_LOCAL_HUB_TOKEN"):
    os.environ.pop(var, None)


class HubFixture:
    def __init__(self, server, tokens: dict[str, str]):
        self.server = server
        self.url = server.url
        self.data_dir = server.data_dir
        self.tokens = tokens

    def api(self, user: str | None = "alice"):
        from huggingface_hub import HfApi

        return HfApi(endpoint=self.url, token=self.tokens[user] if user else False)

    def hub(self, user: str | None = "alice"):
        from hub.client import Hub

        return Hub("url", self.url, self.tokens[user] if user else None)


@contextlib.contextmanager
def own_hub(data: Path, **options):
    """A hub server of the test's own (its data in ``data``; ``options`` as start_in_thread takes them): yields
    (server, HfApi for alice, the HubStore)."""
    from huggingface_hub import HfApi

    from hub.server import start_in_thread
    from hub.server.storage import HubStore

    store = HubStore(data)
    token = store.add_token("alice")
    server = start_in_thread(data, **options)
    try:
        yield server, HfApi(endpoint=server.url, token=token), store
    finally:
        server.stop()


@pytest.fixture(scope="session")
def hub_server():
    from hub.server import start_in_thread
    from hub.server.storage import HubStore

    data = _TMP / "hub-data"
    store = HubStore(data)
    tokens = {u: store.add_token(u) for u in ("alice", "bob")}
    server = start_in_thread(data, port=HUB_PORT)
    yield HubFixture(server, tokens)
    server.stop()


@pytest.fixture
def repo_name(request) -> str:
    """A repo name unique to the test."""
    import re
    import uuid

    base = re.sub(r"-+", "-", re.sub(r"[^A-Za-z0-9_]", "-", request.node.name[:40])).strip("-")
    return f"{base}-{uuid.uuid4().hex[:6]}"


@contextlib.contextmanager
def served_app(runner, default_hub: str):
    """The whole app launched in-process on a free loopback port, with ``runner``: its URL."""
    from app import build_app

    demo = build_app(default_hub=default_hub, runner=runner)
    demo.queue()
    port = free_port()
    demo.launch(server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@pytest.fixture(scope="module")
def tab(hub_server, tmp_path_factory):
    """The whole app launched in-process with its own job runner, and a gradio_client on it:
    (client, runner). One per test module; the tab tests call handlers by their api names."""
    from gradio_client import Client

    from training.runner import JobRunner

    root = tmp_path_factory.mktemp("jobs")
    runner = JobRunner(root, poll_s=0.1)
    try:
        with served_app(runner, hub_server.url) as url:
            yield Client(url, verbose=False), runner
    finally:
        runner.close()
        shutil.rmtree(root, ignore_errors=True)  # the module's jobs and models: up to a gigabyte


def refused(match: str):
    """The app refuses an input with ``match`` in its message: a field's validator (a bad config value,
    shown next to the field) or a handler's UserError."""
    from gradio_client.exceptions import AppError, ValidationError

    return pytest.raises((AppError, ValidationError), match=match)


def assert_refused(make, cases) -> None:
    """For each (values, field, message): ``make(**values)`` raises a ConfigError that names ``field`` and
    whose message matches ``message``."""
    from common.errors import ConfigError

    for values, field, message in cases:
        with pytest.raises(ConfigError, match=message) as e:
            make(**values)
        assert e.value.field == field, (values, e.value.field)


def table_rows(table) -> list:
    """A Dataframe output as rows, however gradio_client returns it (dict or list)."""
    return (table["data"] if isinstance(table, dict) else table) or []


def wait_job(runner, job_id: str, limit: float = 240):
    """Wait until a job leaves queued/running/stopping; fails with its log tail after ``limit`` s."""
    import time

    deadline = time.monotonic() + limit
    while runner.get(job_id).status in ("queued", "running", "stopping"):
        assert time.monotonic() < deadline, runner.log_tail(job_id)
        time.sleep(0.5)
    return runner.get(job_id)


# ---------------------------------------------------------------- the browser tests (Debian's Chromium)
CHROMIUM = os.environ.get("DLP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # launch() gives every run a fresh, temporary user-data dir of its own.
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def screenshot(page, name: str, settle_ms: int = 0) -> None:
    """A full-page screenshot into $DLP_SCREENSHOTS, when that is set (the README's pictures come from there),
    ``settle_ms`` after the call (the next tick draws the curves): without screenshots, no time is spent."""
    if os.environ.get("DLP_SCREENSHOTS"):
        page.wait_for_timeout(settle_ms)
        out = Path(os.environ["DLP_SCREENSHOTS"])
        out.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out / f"{name}.png"), full_page=True)


@pytest.fixture(scope="session")
def mirrors(hub_server, tmp_path_factory):
    """Pushes the offline mirror of a famous repo (tests/mirrors.py) to the session's hub: ``mirrors(repo_id)``."""
    from mirrors import push_mirror

    tmp = tmp_path_factory.mktemp("mirrors")
    return lambda repo_id: push_mirror(hub_server, repo_id, tmp)
