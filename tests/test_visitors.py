"""A public app never lends its owner's credentials, and visitors reach only the hubs its owner lists."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import ROOT, free_port, served_app
from test_app import wait_for
from test_hub_client_module import _model_folder

URL_HUB = "Hub at a URL"
OWNER_HF_TOKEN = "hf_ownersecretownersecretownersecret"


@pytest.fixture
def public(monkeypatch):
    from webui import visitors

    def set_policy(**kw):
        monkeypatch.setattr(visitors, "policy", visitors.Policy(public=True, **kw))
    set_policy()
    return set_policy


@pytest.fixture
def listener():
    """A loopback server that records the Authorization header of every request and answers an empty list."""
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            seen.append(self.headers.get("Authorization"))
            body = b"[]"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_HEAD = do_POST = do_DELETE = _answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()


def test_a_visitor_never_gets_the_owners_tokens(public, monkeypatch):
    from webui.common import get_hub

    monkeypatch.setenv("HF_TOKEN", OWNER_HF_TOKEN)
    monkeypatch.setenv("DLP_HUB_TOKEN", "owner-team-token")
    assert get_hub("huggingface.co", "", "").token is None
    assert get_hub("huggingface.co", "", "hf_mine").token == "hf_mine"  # a pasted token serves its visitor
    assert get_hub("Local hub (offline)", "", "").token is None  # read-only, not the session token
    public(allowed_hubs=frozenset({"http://127.0.0.1:9"}))
    assert get_hub(URL_HUB, "http://127.0.0.1:9/", "").token is None  # a listed hub, still not as the owner
    public(open_local_hub=True)
    assert get_hub("Local hub (offline)", "", "").token  # the owner opened the local hub to everyone
    assert get_hub("huggingface.co", "", "").token is None  # and that alone


def test_a_visitor_cannot_point_the_server_at_its_own_network(public):
    from common.errors import UserError
    from webui.common import get_hub

    for url in ("http://127.0.0.1:8808", "http://localhost:8808", "http://[::1]:80", "http://10.0.0.7",
                "http://192.168.1.1:8080", "http://169.254.169.254/latest", "http://0.0.0.0:22"):
        with pytest.raises(UserError, match="own network|Cannot resolve"):
            get_hub(URL_HUB, url, "")
    public(allowed_hubs=frozenset({"http://127.0.0.1:8808"}))
    assert get_hub(URL_HUB, "http://127.0.0.1:8808", "tok").token == "tok"  # listed by the owner


def test_the_owner_of_a_private_app_keeps_their_credentials(monkeypatch):
    from webui.common import get_hub

    monkeypatch.setenv("HF_TOKEN", OWNER_HF_TOKEN)
    monkeypatch.setenv("DLP_HUB_TOKEN", "owner-team-token")
    assert get_hub("huggingface.co", "", "").token == OWNER_HF_TOKEN
    assert get_hub(URL_HUB, "http://127.0.0.1:9", "").token == "owner-team-token"


def test_jobs_do_not_inherit_the_owners_credentials(tmp_path, monkeypatch):
    """A job starts with the token of the hub its visitor picked (or none): not the app's HF_TOKEN or
    DLP_HUB_TOKEN, not the stored huggingface login."""
    import training.runner as r
    from hub.client import OWNER_SECRETS
    from training.tasks.classification import ClassificationConfig

    monkeypatch.setenv("HF_TOKEN", OWNER_HF_TOKEN)
    monkeypatch.setenv("DLP_HUB_TOKEN", "owner-team-token")
    started = threading.Event()
    captured: dict[str, str] = {}

    def popen(argv, env, **kw):
        captured.update(env)
        started.set()
        return _Done()

    monkeypatch.setattr(r.subprocess, "Popen", popen)
    runner = r.JobRunner(tmp_path, poll_s=0.1)
    try:
        runner.submit(ClassificationConfig(dry_run=True), secret_env={"HF_TOKEN": "hf_visitor"})
        assert started.wait(10)
    finally:
        runner.close()
    assert captured["HF_TOKEN"] == "hf_visitor" and captured["HF_TOKEN_PATH"] == os.devnull
    assert not {k for k in OWNER_SECRETS if k != "HF_TOKEN"} & set(captured)
    assert OWNER_HF_TOKEN not in captured.values()


class _Done:
    pid = 1
    returncode = 0

    def poll(self):
        return 0

    def wait(self, timeout=None):
        return 0


def test_an_anonymous_visitor_of_a_public_app(hub_server, listener, repo_name, tmp_path):
    """A public app (``--public`` on loopback, as behind a reverse proxy) whose owner set a team hub as the default
    with their token, and an HF token: an anonymous visitor sends no token anywhere, lists no private repo, deletes
    nothing, and reaches no address of the server's network the owner did not list."""
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    from hub import client as hubs

    listener_url, seen = listener
    private_repo, public_repo = f"alice/{repo_name}-private", f"alice/{repo_name}"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    hubs.push_folder(_model_folder(tmp_path / "a", private_repo), private_repo, hub_server.hub("alice"), private=True)
    hubs.push_folder(_model_folder(tmp_path / "b", public_repo), public_repo, hub_server.hub("alice"))
    port = free_port()
    env = {**os.environ, "DLP_HOME": str(tmp_path / "home"), "DLP_HUB_TOKEN": hub_server.tokens["alice"],
           "HF_TOKEN": OWNER_HF_TOKEN, "DLP_ALLOWED_HUBS": listener_url, "DLP_MAX_UPLOAD_MB": "1"}
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--public", "--no-starter",
                             "--hub", hub_server.url], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/", proc)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        table, found = client.predict(URL_HUB, hub_server.url, "", "", "", "model", api_name="/hub_list")
        listed = {r[0] for r in (table.get("data") if isinstance(table, dict) else table) or []}
        assert public_repo in listed and private_repo not in listed
        with pytest.raises(AppError, match="token"):
            client.predict(URL_HUB, hub_server.url, "", public_repo, public_repo, "model", api_name="/hub_delete")
        assert hub_server.api().repo_exists(public_repo)
        # A listed address gets the request, without the owner's token.
        client.predict(URL_HUB, listener_url, "", "", "", "model", api_name="/hub_list")
        assert seen and all(h is None for h in seen)
        # An address of the server's own network the owner did not list is refused before any request.
        with pytest.raises(AppError, match="own network"):
            client.predict(URL_HUB, "http://127.0.0.1:9", "", "", "", "model", api_name="/hub_list")
        # Uploads above the limit are refused at the door.
        import httpx

        big = httpx.post(f"http://127.0.0.1:{port}/gradio_api/upload", files={"files": ("a.zip", b"\0" * 2_000_000)})
        small = httpx.post(f"http://127.0.0.1:{port}/gradio_api/upload", files={"files": ("a.zip", b"\0" * 1000)})
        assert big.status_code == 413 and small.status_code == 200, (big.text, small.text)
        # huggingface.co without a token of the visitor's: the owner's HF_TOKEN is not used (the call fails
        # offline, and it must not say the token was rejected, nor carry it).
        with pytest.raises(AppError) as e:
            client.predict("huggingface.co", "", "", "", "", "model", api_name="/hub_list")
        assert OWNER_HF_TOKEN not in str(e.value)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_visitors_see_stop_push_and_use_only_their_own_jobs(public, hub_server, tmp_path, repo_name):
    """Two visitors of a public app (two sessions): the second cannot see, watch, stop, push or predict with
    the first one's job; the first can."""
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    from training.runner import JobRunner
    from webui.classification import EXAMPLES

    runner = JobRunner(tmp_path / "jobs", poll_s=0.1)
    try:
        with served_app(runner, hub_server.url) as url:
            first, second = Client(url, verbose=False), Client(url, verbose=False)
            out = first.predict(model="lenet", epochs=1, choice="Local hub (offline)", url="", token="",
                                upload=None, api_name="/classification_train")
            job = out["value"] if isinstance(out, dict) else out
            assert runner.get(job).owner.startswith("session:")

            def ids(table):
                return {r[0] for r in (table["data"] if isinstance(table, dict) else table)}

            rows, progress, *_ = second.predict(job, api_name="/classification_watch")
            assert job not in ids(rows) and progress == f"No job {job}."
            with pytest.raises(AppError, match="no job"):
                second.predict(job, api_name="/classification_stop")
            with pytest.raises(AppError, match="no job"):
                second.predict(job, f"alice/{repo_name}", False, URL_HUB, hub_server.url,
                               hub_server.tokens["alice"], api_name="/classification_push")
            assert runner.wait(job, timeout=180).status == "completed", runner.log_tail(job)
            rows, progress, *_ = first.predict(job, api_name="/classification_watch")
            assert job in ids(rows) and "Completed" in progress
            folder = str(runner.folder(job).run.model)
            with pytest.raises(AppError, match="not one trained here"):  # its server path, typed in
                second.predict(folder, handle_file(EXAMPLES[0]), 1, api_name="/classification_predict")
            label, *_ = first.predict(folder, handle_file(EXAMPLES[0]), 1, api_name="/classification_predict")
            assert label["label"]
    finally:
        runner.close()


def test_a_visitor_may_queue_only_so_many_jobs(public, tmp_path):
    from common.errors import UserError
    from training.runner import JobRunner
    from training.tasks.classification import ClassificationConfig
    from webui import visitors

    public(max_jobs=2, max_job_minutes=5)
    runner = JobRunner(tmp_path, poll_s=60)  # nothing starts: the jobs stay queued
    try:
        for _ in range(2):
            runner.submit(ClassificationConfig(dry_run=True), **visitors.job_limits(runner))
        with pytest.raises(UserError, match="2 jobs queued or running, the most this public app allows"):
            visitors.job_limits(runner)
        assert all(j.extra["max_seconds"] == 300 for j in runner.jobs())
        runner.submit(ClassificationConfig(dry_run=True), owner="session:someone-else")  # others are not counted
        with pytest.raises(UserError):
            visitors.job_limits(runner)
    finally:
        runner.close()


def test_each_visitor_has_a_face_gallery_of_their_own(public, tmp_path, monkeypatch):
    """The gallery (names and photos) lives in the visitor's own folder; browsers that identified themselves
    keep theirs across page sessions."""
    from types import SimpleNamespace

    from gradio.context import LocalContext

    from webui import visitors

    def as_session(session):
        LocalContext.request.set(SimpleNamespace(session_hash=session))
        return visitors.own_folder(tmp_path)

    try:
        first, second = as_session("page-1"), as_session("page-2")
        assert first != second and first.parent == second.parent == tmp_path / "visitors"
        browser = visitors.identify("", SimpleNamespace(session_hash="page-3"))
        assert visitors.identify(browser, SimpleNamespace(session_hash="page-4")) == browser  # a reload
        assert as_session("page-3") == as_session("page-4") != first
        monkeypatch.setattr(visitors, "policy", visitors.Policy())  # a private app: the owner's own gallery
        assert as_session("page-1") == tmp_path
    finally:
        LocalContext.request.set(None)


def test_visitors_are_not_shown_server_paths(public, hub_server, repo_name, tmp_path):
    from hub import client as hubs
    from hub.client import cache_root
    from webui import about, hub

    note = about.data_note(tmp_path / "jobs")
    assert str(cache_root()) not in note and "apart from other visitors" in note and "trackio" not in note
    repo = f"alice/{repo_name}"
    hubs.push_folder(_model_folder(tmp_path, repo), repo, hub_server.hub("alice"))
    public(allowed_hubs=frozenset({hub_server.url.lower()}))
    said = hub.pull_repo(URL_HUB, hub_server.url, "", repo, "model")
    assert said.startswith(f"Pulled **{repo}**") and str(cache_root()) not in said and "`" not in said


def test_one_in_request_computation_at_a_time_per_visitor(public):
    from types import SimpleNamespace

    from gradio.context import LocalContext

    from common.errors import UserError
    from webui import visitors

    def steps():
        yield 1
        yield 2

    guarded = visitors.one_per_visitor(steps)
    try:
        LocalContext.request.set(SimpleNamespace(session_hash="a"))
        first = guarded()
        assert next(first) == 1  # running
        with pytest.raises(UserError, match="already have a computation running"):
            next(guarded())
        LocalContext.request.set(SimpleNamespace(session_hash="b"))
        assert list(guarded()) == [1, 2]  # another visitor is not held back
        LocalContext.request.set(SimpleNamespace(session_hash="a"))
        assert list(first) == [2]  # done: the turn is free again
        assert list(guarded()) == [1, 2]
    finally:
        LocalContext.request.set(None)


def test_the_app_guards_every_in_request_computation(tmp_path):
    from app import build_app
    from training.runner import JobRunner
    from webui.common import IN_REQUEST

    runner = JobRunner(tmp_path, poll_s=60)
    try:
        demo = build_app(default_hub="http://127.0.0.1:9", runner=runner)
    finally:
        runner.close()
    guarded = {b.name: getattr(b.fn, "one_per_visitor", False) for b in demo.fns.values()
               if b.concurrency_id == IN_REQUEST["concurrency_id"]}
    assert set(guarded) >= {"toy", "optimise", "sample_images"} and all(guarded.values()), guarded


def test_a_visitor_signed_in_with_hugging_face_pushes_as_themselves(public, monkeypatch):
    import time
    from types import SimpleNamespace

    from gradio.context import LocalContext

    from webui import visitors
    from webui.common import get_hub

    monkeypatch.setenv("HF_TOKEN", OWNER_HF_TOKEN)
    oauth = {"access_token": "hf_oauth_of_carol", "expires_at": time.time() + 3600,
             "userinfo": {"preferred_username": "carol"}}
    try:
        LocalContext.request.set(SimpleNamespace(session_hash="p1", session={"oauth_info": oauth}))
        assert visitors.current_key() == "hf:carol"  # the same on every browser carol signs in from
        assert get_hub("huggingface.co", "", "").token == "hf_oauth_of_carol"
        assert get_hub("huggingface.co", "", "hf_pasted").token == "hf_pasted"
        assert visitors.namespaced("you/lenet-digits") == "carol/lenet-digits"
        oauth["expires_at"] = time.time() - 1  # an expired sign-in is no sign-in
        assert get_hub("huggingface.co", "", "").token is None and visitors.current_key() == "session:p1"
    finally:
        LocalContext.request.set(None)


def test_a_repo_id_never_names_a_server_folder(hub_server, tmp_path, monkeypatch):
    """"Fine-tune from", "Base model", "Dataset repo" take repo ids: one that is also the name of a folder under
    the app's working directory (its runs/, its code) still names a repo; a folder is written as a path."""
    from hub.client import local_path
    from training.config import TrainingError
    from training.engine import init_folder

    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "latest").mkdir(parents=True)
    (tmp_path / "runs" / "latest" / "model.safetensors").write_bytes(b"\0")
    assert not local_path("runs/latest").exists()
    assert local_path("./runs/latest").is_dir() and local_path(str(tmp_path / "runs")).is_dir()
    with pytest.raises(TrainingError, match="cannot start from runs/latest"):
        init_folder("runs/latest", hub_server.url)
    assert init_folder("./runs/latest", hub_server.url).resolve() == (tmp_path / "runs" / "latest").resolve()


def test_jobs_say_where_they_run_on_zero_gpu_and_on_a_cluster(monkeypatch):
    from types import SimpleNamespace

    from common.i18n import t
    from webui.jobs import jobs_run_where

    here, cluster = (SimpleNamespace(backend=SimpleNamespace(name=name)) for name in ("local", "ray"))
    assert jobs_run_where(here) is None
    assert "Ray cluster" in t(jobs_run_where(cluster))
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    assert "run on this Space's **CPU**" in t(jobs_run_where(here))


def test_model_pickers_name_models_by_id_not_server_path(tmp_path):
    from common.errors import UserError
    from hub.client import cache_root
    from training.runner import Job, JobRunner
    from webui.jobs import checked_model_folder, model_key, model_path, trained_models

    runner = JobRunner(tmp_path / "jobs", poll_s=60)
    try:
        job = Job(id="20261130-000000-abcdef", task="faces", argv=[], device="cpu", created=1.0, status="completed")
        runner._save(job)
        model = runner.folder(job.id).run.model
        model.mkdir(parents=True)
        (model / "config.json").write_text("{}")
        [(label, value)] = trained_models(runner, "faces", "auc")
        assert value == f"job:{job.id}" and str(tmp_path) not in label + value
        assert model_path(runner, value) == model and checked_model_folder(runner, value) == str(model)
        assert model_key(runner, model) == value
        pulled = cache_root() / "pulled" / "local" / "models" / "alice" / "m" / ("a" * 40)
        assert model_key(runner, pulled) == f"pulled:local/models/alice/m/{'a' * 40}"
        for bad in ("pulled:../../../etc", "job:../x", "job:", "/etc"):
            with pytest.raises(UserError, match="not one trained here"):
                checked_model_folder(runner, bad)
    finally:
        runner.close()


def test_the_model_picker_follows_the_model_just_made(tmp_path):
    """A stopped starter, then a newer run to the end: Predict offers and picks the one made last; a pulled pick
    stays."""
    from hub.client import cache_root
    from training.runner import Job, JobRunner
    from webui.jobs import model_choices, model_key

    runner = JobRunner(tmp_path / "jobs", poll_s=60)
    try:
        for job_id, created, ended, status in (("20261130-000000-aaaaaa", 1.0, 50.0, "completed"),
                                               ("20261130-000001-bbbbbb", 2.0, 9.0, "stopped"),
                                               ("20261130-000002-cccccc", 3.0, 80.0, "completed")):
            runner._save(Job(id=job_id, task="classification", argv=[], device="cpu", created=created, ended=ended,
                             status=status, label=job_id[-6:]))
            model = runner.folder(job_id).run.model
            model.mkdir(parents=True)
            (model / "config.json").write_text("{}")
        update = model_choices(runner, "classification", "accuracy", "job:20261130-000000-aaaaaa")
        assert [v for _, v in update["choices"]] == ["job:20261130-000002-cccccc", "job:20261130-000000-aaaaaa",
                                                     "job:20261130-000001-bbbbbb"]
        assert update["value"] == "job:20261130-000002-cccccc"  # the newest, not the starter picked before
        pulled = cache_root() / "pulled" / "local" / "models" / "alice" / "m" / ("b" * 40)
        pulled.mkdir(parents=True)
        key = model_key(runner, pulled)
        assert model_choices(runner, "classification", "accuracy", key)["value"] == key
    finally:
        runner.close()


def _as_visitor(session: str | None) -> None:
    """The request being served comes from page session ``session`` (None: no request)."""
    from types import SimpleNamespace

    from gradio.context import LocalContext

    LocalContext.request.set(SimpleNamespace(session_hash=session) if session else None)


def test_the_owner_acts_as_owner_on_a_public_app_with_the_admin_secret(public, monkeypatch):
    from types import SimpleNamespace

    from common.errors import UserError
    from webui import visitors

    secret = "a-long-admin-secret-of-the-owner"
    public(admin_secret=secret)
    assert secret not in repr(visitors.policy)
    monkeypatch.setattr(visitors, "_failures", [])
    try:
        browser = visitors.identify("", SimpleNamespace(session_hash="p1"))
        _as_visitor("p1")
        assert not visitors.is_owner()
        with pytest.raises(UserError, match="not this app's admin secret"):
            visitors.prove_owner("a-long-admin-secret-of-the-ownex")
        assert not visitors.is_owner()
        visitors.prove_owner(secret)
        assert visitors.is_owner() and visitors.current_key() == visitors.OWNER
        visitors.identify(browser, SimpleNamespace(session_hash="p2"))  # a reload of the same browser
        _as_visitor("p2")
        assert visitors.is_owner()
        _as_visitor("p3")  # another browser
        assert not visitors.is_owner()
        _as_visitor("p2")
        visitors.leave_owner()
        assert not visitors.is_owner() and visitors.current_key() == f"browser:{browser}"
        # Guessing is hopeless: a few wrong secrets a minute, for everybody together; then even the right one waits.
        for _ in range(visitors.MAX_FAILURES_PER_MINUTE - 1):  # one was wrong above
            with pytest.raises(UserError, match="not this app's admin secret"):
                visitors.prove_owner("guess")
        with pytest.raises(UserError, match="Too many wrong secrets"):
            visitors.prove_owner(secret)
        assert not visitors.is_owner()
        # On a Space, its author signed in with Hugging Face is the owner.
        public(owner_account="alice")
        monkeypatch.setattr(visitors, "signed_in", lambda: ("alice", "hf_oauth_of_alice"))
        assert visitors.is_owner()
        monkeypatch.setattr(visitors, "signed_in", lambda: ("mallory", "hf_oauth_of_mallory"))
        assert not visitors.is_owner()
    finally:
        _as_visitor(None)
        visitors._owner_browsers.clear()
    monkeypatch.setenv("DLP_ADMIN_SECRET", "short")
    with pytest.raises(SystemExit, match="at least 16 characters"):
        visitors.Policy.from_env(public=True)


def test_visitors_pull_into_folders_of_their_own_within_a_size_limit(public, hub_server, repo_name, tmp_path,
                                                                     monkeypatch):
    """A visitor's pulled copy (here of a private repo, with their own token) is theirs: another visitor cannot name
    it; the owner can. A repo above the pull size limit is refused before a byte is read; jobs follow both."""
    from common.errors import UserError
    from hub import client as hubs
    from training.runner import JobRunner
    from webui import visitors
    from webui.jobs import checked_model_folder, model_key, model_path

    repo = f"alice/{repo_name}"
    hubs.push_folder(_model_folder(tmp_path, repo), repo, hub_server.hub("alice"), private=True)
    public(allowed_hubs=frozenset({hub_server.url.lower()}))
    runner = JobRunner(tmp_path / "jobs", poll_s=60)
    try:
        _as_visitor("a")
        folder = visitors.pull(repo, hub_server.hub("alice"))
        key = model_key(runner, folder)
        assert key.startswith("pulled:") and model_path(runner, key) == folder
        assert folder.is_relative_to(hubs.cache_root() / "pulled" / "visitors")
        assert checked_model_folder(runner, key) == str(folder)
        _as_visitor("b")
        for named in (key, str(folder)):
            with pytest.raises(UserError, match="not one trained here"):
                checked_model_folder(runner, named)
        public(allowed_hubs=frozenset({hub_server.url.lower()}), max_pull_mb=0)
        with pytest.raises(UserError, match=r"the limit here is 0 bytes per repo"):
            visitors.pull(repo, hub_server.hub("alice"))
        limits = visitors.job_limits(runner)
        assert limits["env"] == {"DLP_PULLED_DIR": str(visitors.pulls_root()), "DLP_MAX_PULL_MB": "0"}
        _as_visitor(None)
        monkeypatch.setattr(visitors, "policy", visitors.Policy())  # the owner sees every pulled copy
        assert checked_model_folder(runner, str(folder)) == str(folder)
        # A job started with those settings in its environment pulls the same way.
        monkeypatch.setenv("DLP_PULLED_DIR", str(tmp_path / "job-pulls"))
        assert hubs.pull(repo, hub_server.hub("alice")).is_relative_to(tmp_path / "job-pulls")
        monkeypatch.setenv("DLP_MAX_PULL_MB", "0")
        monkeypatch.setenv("DLP_PULLED_DIR", str(tmp_path / "other-pulls"))
        with pytest.raises(UserError, match="the limit here is 0 bytes"):
            hubs.pull(repo, hub_server.hub("alice"))
    finally:
        _as_visitor(None)
        runner.close()


def test_what_visitors_leave_goes_after_the_time_the_owner_set(public, tmp_path, monkeypatch):
    import time

    from training.runner import Job, JobRunner
    from webui import visitors

    public(keep_hours=1)
    monkeypatch.setattr(visitors, "cache_root", lambda: tmp_path / "home")
    runner = JobRunner(tmp_path / "jobs", poll_s=60)
    now, old = time.time(), time.time() - 2 * 3600
    try:
        folders = {}
        for who in ("idle", "busy"):
            _as_visitor(who)
            folders[who] = visitors.pulls_root()
            folders[who].mkdir(parents=True)
        os.utime(folders["idle"], (old, old))
        _as_visitor("busy")
        visitors.pulls_root()  # used just now: kept
        for job_id, owner, status, ended in (("old-visitor", "session:idle", "completed", old),
                                             ("new-visitor", "session:idle", "failed", now),
                                             ("old-owner", visitors.OWNER, "completed", old),
                                             ("old-running", "session:idle", "running", None)):
            runner._save(Job(id=job_id, task="faces", argv=[], device="cpu", created=old, status=status,
                             ended=ended, owner=owner))
        assert visitors.sweep(runner, now=now) == 2
        assert not folders["idle"].exists() and folders["busy"].exists()
        assert {j.id for j in runner.jobs()} == {"new-visitor", "old-owner", "old-running"}
    finally:
        _as_visitor(None)
        runner.close()


def test_a_call_run_elsewhere_knows_who_asked(public):
    """On ZeroGPU hardware spaces.GPU runs a handler in another process, without Gradio's request: run_as carries
    the visitor there (here a thread stands in for the process; a new thread starts without context)."""
    from webui import visitors

    def elsewhere(fn):
        def run(*args, **kwargs):
            out = []
            thread = threading.Thread(target=lambda: out.append(fn(*args, **kwargs)))
            thread.start()
            thread.join()
            return out[0]
        return run

    def probe(x):
        return x, visitors.current_key(), visitors.is_owner()

    def steps(x):
        yield probe(x)

    try:
        _as_visitor("a")
        assert elsewhere(probe)(1) == (1, "session:none", False)  # what it would be without
        assert visitors.run_as(elsewhere, probe)(1) == (1, "session:a", False)
        assert list(visitors.run_as(lambda fn: fn, steps)(2)) == [(2, "session:a", False)]
    finally:
        _as_visitor(None)


def test_the_machines_limits_apply_to_every_model_run(public, tmp_path, monkeypatch):
    """DLP_MAX_PREDICTIONS and DLP_MAX_COMPUTATIONS cap model runs (all visitors together); on ZeroGPU hardware every
    one of them runs through spaces.GPU; the admin secret's form is there when a secret is set."""
    import types

    from app import build_app
    from training.runner import JobRunner
    from webui.common import IN_REQUEST, PREDICT

    wrapped = []

    def gpu(duration=60):
        def wrap(fn):
            wrapped.append(duration)
            return fn
        return wrap

    monkeypatch.setitem(sys.modules, "spaces", types.SimpleNamespace(GPU=gpu))
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    public(max_predictions=3, max_computations=1, admin_secret="x" * 16)
    runner = JobRunner(tmp_path, poll_s=60)
    try:
        demo = build_app(default_hub="http://127.0.0.1:9", runner=runner)
    finally:
        runner.close()
    limits = {b.api_name: (b.concurrency_id, b.concurrency_limit) for b in demo.fns.values()}
    for name in ("classification_predict", "detection_detect", "textgen_generate", "bert_fill_mask", "faces_verify"):
        assert limits[name] == (PREDICT["concurrency_id"], 3), name
    for name in ("style_optimise", "generative_toy", "generative_sample"):
        assert limits[name] == (IN_REQUEST["concurrency_id"], 1), name
    assert len(wrapped) == sum(cid in (PREDICT["concurrency_id"], IN_REQUEST["concurrency_id"])
                               for cid, _ in limits.values()) >= 19
    assert "prove_owner" in limits and "leave_owner" in limits


def test_visitors_copies_of_one_commit_are_loaded_once(tmp_path):
    """Every visitor has a copy of a repo they pull; the web process keeps one loaded model per commit."""
    import json

    from hub_models.cache import model_cache

    loads = []

    @model_cache(maxsize=2)
    def load(folder):
        loads.append(folder)
        return object()

    def copy(name, sha):
        folder = tmp_path / name / sha
        folder.mkdir(parents=True)
        (folder / ".complete").write_text(json.dumps({"repo_id": "alice/m", "sha": sha, "endpoint": "http://hub"}))
        (folder / "config.json").write_text("{}")
        return folder

    a, b, newer = copy("visitor-a", "1" * 40), copy("visitor-b", "1" * 40), copy("visitor-b2", "2" * 40)
    assert load(a) is load(b) and len(loads) == 1
    assert load(newer) is not load(a) and len(loads) == 2
    trained = tmp_path / "job" / "model"
    trained.mkdir(parents=True)
    (trained / "config.json").write_text("{}")
    first = load(trained)
    os.utime(trained / "config.json", (1, 1))  # rewritten: loaded again
    assert load(trained) is not first and len(loads) == 4


def test_a_panels_look_answers_a_pages_pass_with_its_visitors_view_only(public, tmp_path):
    """The job panel's timer asks LOOK_ROUTE, outside Gradio's events, whether what it draws changed. A pass is
    good only for the visitor it was given to: another's job looks like no job, an unknown pass gets nothing."""
    import time

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from training.runner import Job, JobRunner
    from webui import visitors
    from webui.jobs import LOOK_ROUTE, _pass_for_page, look_routes

    runner = JobRunner(tmp_path / "jobs", poll_s=0.1)
    try:
        alice, bob = (visitors.Visitor(False, f"browser:{c * 32}") for c in "ab")
        job = Job(id="20261201-000000-abcdef", task="classification", argv=[], device="cpu", created=time.time(),
                  status="completed", owner=alice.key)
        runner._save(job)
        with visitors.acting_as(alice):
            alices = _pass_for_page(None)
            assert _pass_for_page(alices) is None  # held already: kept
        with visitors.acting_as(bob):
            bobs = _pass_for_page(alices)  # another's pass is not kept: a new one
        app = FastAPI(routes=look_routes(runner))
        client = TestClient(app)

        def look(pass_: str, job_id: str = "", task: str = "classification"):
            return client.get(f"{LOOK_ROUTE}/{task}", params={"pass": pass_, "job": job_id})

        assert look("nope").status_code == 404 and look(alices, task="nope").status_code == 404
        before_a, before_b = look(alices, job.id).text, look(bobs, job.id).text
        assert before_a != before_b  # he does not see her job (its state is in her stamp, not in his)
        run = runner.folder(job.id).run
        run.events.parent.mkdir(parents=True, exist_ok=True)
        run.events.write_text('{"type": "step", "step": 1}\n')
        assert look(alices, job.id).text != before_a  # her job moved: her page draws
        assert look(bobs, job.id).text == before_b  # his learns nothing of it
    finally:
        runner.close()
