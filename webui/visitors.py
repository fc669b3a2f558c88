"""Who is asking: the app's owner or a visitor, and which hubs a visitor may use with which credentials.

A private app (loopback, not a Space, no share link) has one user, its owner. A public one is shared by people
who do not trust each other: the owner's credentials (``HF_TOKEN``, ``DLP_HUB_TOKEN``, a stored huggingface
login, the local hub's session token) never serve a visitor, and a visitor reaches only the hubs the owner
configured, never an address of the server's own network that they typed.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import ipaddress
import os
import re
import secrets
import socket
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import gradio as gr

from common.errors import UserError
from hub.client import HubActionError

OWNER = ""  # the key of the app's owner: a private app's every visitor, the CLI, the starter run


@dataclass(frozen=True)
class Policy:
    """Set once by app.py at start (tests set their own)."""

    public: bool = False
    # Hub URLs visitors of a public app may use (the app's default hub, DLP_ALLOWED_HUBS): they may sit on the
    # server's own network, which any other address a visitor types may not.
    allowed_hubs: frozenset[str] = field(default_factory=frozenset)
    open_local_hub: bool = False  # --open-local-hub: every visitor writes to the local hub as the owner
    # Limits for visitors of a public app (the owner has none): environment variables, see from_env().
    max_jobs: int = 2  # queued and running jobs per visitor
    max_job_minutes: float = 30  # a visitor's job is stopped this long after it started
    max_upload_mb: int = 200  # per uploaded file

    @classmethod
    def from_env(cls, **fields) -> Policy:
        def number(name, default, kind):
            try:
                return kind(os.environ.get(name, default))
            except ValueError:
                raise SystemExit(f"error: {name} must be a number, not {os.environ[name]!r}") from None

        return cls(max_jobs=number("DLP_MAX_JOBS_PER_VISITOR", cls.max_jobs, int),
                   max_job_minutes=number("DLP_MAX_JOB_MINUTES", cls.max_job_minutes, float),
                   max_upload_mb=number("DLP_MAX_UPLOAD_MB", cls.max_upload_mb, int), **fields)


policy = Policy()


def is_owner() -> bool:
    """Whether the request being served comes from the app's owner: on a private app, everybody is."""
    return not policy.public


# Page session -> browser id. Gradio gives every page load a new session; the browser id, kept in the browser's
# localStorage (gr.BrowserState), is what makes a reloaded page the same visitor's. Bounded: oldest dropped.
_browsers: OrderedDict[str, str] = OrderedDict()
_browsers_lock = threading.Lock()
MAX_SESSIONS = 20_000
_BROWSER_ID = re.compile(r"^[0-9a-f]{32}$")


def _request():
    """The request being served: Gradio keeps it in a context variable while an event runs."""
    from gradio.context import LocalContext

    return LocalContext.request.get(None)


def signed_in() -> tuple[str, str] | None:
    """(username, access token) of a visitor signed in with Hugging Face (a Space's OAuth), else None."""
    from gradio.helpers import _session_from_request
    from gradio.oauth import _get_valid_oauth_info_from_session

    request = _request()
    info = _get_valid_oauth_info_from_session(_session_from_request(request)) if request is not None else None
    if not info:
        return None
    user = (info.get("userinfo") or {}).get("preferred_username")
    return (user, info.get("access_token")) if user and info.get("access_token") else None


def current_key() -> str:
    """Whose work the request being served acts on: OWNER on a private app; else the visitor's Hugging Face
    account when signed in, else their browser (a reload keeps it), else the page session (one that never
    identified itself)."""
    if is_owner():
        return OWNER
    if user := signed_in():
        return f"hf:{user[0]}"
    session = getattr(_request(), "session_hash", None) or "none"
    with _browsers_lock:
        browser = _browsers.get(session)
    return f"browser:{browser}" if browser else f"session:{session}"


def own_folder(root: Path) -> Path:
    """The part of ``root`` that belongs to the request being served: ``root`` for the owner, a folder per
    visitor (named by a hash of their key, which is a bearer secret) otherwise."""
    key = current_key()
    return root if key == OWNER else root / "visitors" / hashlib.sha256(key.encode()).hexdigest()[:32]


def sees(owner: str) -> bool:
    """Whether the request being served may see work that ``owner`` started: the app's owner sees all."""
    return is_owner() or owner == current_key()


def identify(browser_id: str | None, request: gr.Request) -> str:
    """Page load: note which browser this page session belongs to (a new browser gets a random id, which
    its localStorage keeps); returns the id to store."""
    browser = browser_id if isinstance(browser_id, str) and _BROWSER_ID.match(browser_id) else secrets.token_hex(16)
    if request is not None and request.session_hash:
        with _browsers_lock:
            _browsers[request.session_hash] = browser
            _browsers.move_to_end(request.session_hash)
            while len(_browsers) > MAX_SESSIONS:
                _browsers.popitem(last=False)
    return browser


def browser_secret(folder: Path) -> str:
    """The key that encrypts the browser id in localStorage, kept in the data folder so that an app restart
    still reads it (a random one per process would make every visitor a stranger after a restart)."""
    path = folder / "browser-state.key"
    try:
        return path.read_text().strip()
    except OSError:
        folder.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(16)
        path.write_text(key)
        path.chmod(0o600)
        return key


def job_limits(runner) -> dict:
    """The runner.submit arguments for a job the request being served starts: its owner, and for a visitor of a
    public app its time limit; a visitor with ``max_jobs`` jobs queued or running is told to wait."""
    key = current_key()
    if is_owner():
        return {"owner": key}
    from training.runner import ACTIVE

    active = [j for j in runner.jobs() if j.owner == key and j.status in ACTIVE]
    if len(active) >= policy.max_jobs:
        raise UserError(f"You have {len(active)} jobs queued or running, the most this public app allows per "
                        "visitor: wait for one to finish, or stop one.")
    return {"owner": key, "max_seconds": policy.max_job_minutes * 60}


_computing: set[str] = set()  # visitors with an in-request computation running
_computing_lock = threading.Lock()


def one_per_visitor(fn: Callable) -> Callable:
    """``fn``, a computation streamed inside the request (Gatys, the toy GAN, sampling), runs once at a time per
    visitor of a public app: the concurrency group caps them in total, this keeps one visitor from taking every
    slot."""
    @contextlib.contextmanager
    def turn():
        key = None if is_owner() else current_key()
        if key is not None:
            with _computing_lock:
                if key in _computing:
                    raise UserError("You already have a computation running on this app: stop it, or wait for it "
                                    "to finish.")
                _computing.add(key)
        try:
            yield
        finally:
            if key is not None:
                with _computing_lock:
                    _computing.discard(key)

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def guarded(*args, **kwargs):
            with turn():
                yield from fn(*args, **kwargs)
    else:
        @functools.wraps(fn)
        def guarded(*args, **kwargs):
            with turn():
                return fn(*args, **kwargs)
    guarded.one_per_visitor = True  # (functools.wraps carries it through later wrappers)
    return guarded


def namespaced(placeholder: str) -> str:
    """A repo id placeholder ("you/lenet-digits") in the signed-in visitor's namespace."""
    user = signed_in()
    return f"{user[0]}/{placeholder.split('/', 1)[-1]}" if user else placeholder


def owns_local_hub() -> bool:
    """Whether a visitor who pastes no token acts as the owner on the local hub."""
    return is_owner() or policy.open_local_hub


def normalise(url: str) -> str:
    return url.strip().rstrip("/").lower()


def check_visitor_url(url: str) -> None:
    """Refuse, for a visitor of a public app, a hub address the owner did not list that resolves to loopback, a
    private or link-local range, or anything else not globally routable: the server would otherwise probe its
    own network for them, or download from it."""
    if is_owner() or normalise(url) in policy.allowed_hubs:
        return
    host = urlsplit(url.strip()).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        raise HubActionError(f"Cannot resolve the hub address {host!r}.") from None
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if not address.is_global:
            raise HubActionError(f"This app does not reach hubs on its own network for visitors ({host} is "
                                 f"{'loopback' if address.is_loopback else 'a private address'}). Use "
                                 "huggingface.co or a hub the app's owner lists.")
