"""Who is asking: the app's owner or a visitor, and which hubs a visitor may use with which credentials.

A private app (loopback, not a Space, no share link) has one user, its owner. A public one is shared by people
who do not trust each other: the owner's credentials (``HF_TOKEN``, ``DLP_HUB_TOKEN``, a stored huggingface
login, the local hub's session token) never serve a visitor, and a visitor reaches only the hubs the owner
configured, never an address of the server's own network that they typed.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import hmac
import inspect
import ipaddress
import os
import re
import secrets
import shutil
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import gradio as gr

from common.calls import within
from common.errors import UserError
from common.i18n import current_request
from hub.client import ENV_MAX_PULL_MB, ENV_PULLED_DIR, HubActionError, cache_root

from .i18n import t

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
    max_pull_mb: int = 2000  # per repo a visitor pulls onto the server's disk
    max_computations: int = 2  # in-request computations (Gatys, toy GAN, sampling) at once, all visitors together
    max_predictions: int = 4  # model runs (predict, detect, generate...) at once, all visitors together
    keep_hours: float = 24  # a visitor's pulled copies, gallery and finished jobs go this long after their last use
    # Who may act as the owner on a public app: a browser that gave DLP_ADMIN_SECRET, or the Space's author signed
    # in with Hugging Face (a Space sets SPACE_AUTHOR_NAME).
    admin_secret: str = field(default="", repr=False)
    owner_account: str = ""

    @classmethod
    def from_env(cls, **fields) -> Policy:
        def number(name, default, kind):
            try:
                return kind(os.environ.get(name, default))
            except ValueError:
                raise SystemExit(f"error: {name} must be a number, not {os.environ[name]!r}") from None

        secret = os.environ.get("DLP_ADMIN_SECRET", "")
        if secret and len(secret) < MIN_SECRET:
            # i18n: not shown (the terminal, at start)
            raise SystemExit(f"error: DLP_ADMIN_SECRET must be at least {MIN_SECRET} characters long "
                             "(python -c 'import secrets; print(secrets.token_urlsafe())' makes one)")
        return cls(max_jobs=number("DLP_MAX_JOBS_PER_VISITOR", cls.max_jobs, int),
                   max_job_minutes=number("DLP_MAX_JOB_MINUTES", cls.max_job_minutes, float),
                   max_upload_mb=number("DLP_MAX_UPLOAD_MB", cls.max_upload_mb, int),
                   max_pull_mb=number("DLP_MAX_PULL_MB", cls.max_pull_mb, int),
                   max_computations=number("DLP_MAX_COMPUTATIONS", cls.max_computations, int),
                   max_predictions=number("DLP_MAX_PREDICTIONS", cls.max_predictions, int),
                   keep_hours=number("DLP_KEEP_VISITOR_HOURS", cls.keep_hours, float),
                   admin_secret=secret, owner_account=os.environ.get("SPACE_AUTHOR_NAME", ""), **fields)


MIN_SECRET = 16


policy = Policy()


@dataclass(frozen=True)
class Visitor:
    """Who a request comes from, carried where Gradio's request context does not go (run_as)."""

    owner: bool
    key: str
    account: tuple[str, str] | None = field(default=None, repr=False)  # (username, token) when signed in


_acting: contextvars.ContextVar[Visitor | None] = contextvars.ContextVar("dlp_visitor", default=None)


def who() -> Visitor:
    return _acting.get() or Visitor(is_owner(), current_key(), signed_in())


def run_as(wrap: Callable[[Callable], Callable], fn: Callable) -> Callable:
    """``fn`` run through ``wrap``, knowing who asked. ``wrap`` is spaces.GPU on ZeroGPU hardware, which runs ``fn``
    in another process and carries only part of Gradio's request context there, not the request itself."""
    wrapped = wrap(within(fn, acting_as, extra_first=True))
    # The visitor is found here, in the request's thread, and travels to ``wrapped`` as its first argument.
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def outer(*args, **kwargs):
            yield from wrapped(who(), *args, **kwargs)
    else:
        @functools.wraps(fn)
        def outer(*args, **kwargs):
            return wrapped(who(), *args, **kwargs)
    return outer


@contextlib.contextmanager
def acting_as(visitor: "Visitor", *_args, **_kwargs):
    """Serve what runs inside as ``visitor`` (a call with no page session: run_as, the HTTP endpoint)."""
    token = _acting.set(visitor)
    try:
        yield
    finally:
        _acting.reset(token)


def is_owner() -> bool:
    """Whether the request being served comes from the app's owner: on a private app, everybody is; on a public
    one, a browser that gave the admin secret (prove_owner) or the Space's author signed in."""
    if (acting := _acting.get()) is not None:
        return acting.owner
    if not policy.public:
        return True
    if _owner_browsers and _browser() in _owner_browsers:
        return True
    return bool(policy.owner_account) and (user := signed_in()) is not None and user[0] == policy.owner_account


# Page session -> browser id. Gradio gives every page load a new session; the browser id, kept in the browser's
# localStorage (gr.BrowserState), is what makes a reloaded page the same visitor's. Bounded: oldest dropped.
_browsers: OrderedDict[str, str] = OrderedDict()
_browsers_lock = threading.Lock()
MAX_SESSIONS = 20_000
_BROWSER_ID = re.compile(r"^[0-9a-f]{32}$")




def signed_in() -> tuple[str, str] | None:
    """(username, access token) of a visitor signed in with Hugging Face (a Space's OAuth), else None."""
    if (acting := _acting.get()) is not None:
        return acting.account
    from gradio.helpers import _session_from_request
    from gradio.oauth import _get_valid_oauth_info_from_session

    request = current_request()
    info = _get_valid_oauth_info_from_session(_session_from_request(request)) if request is not None else None
    if not info:
        return None
    user = (info.get("userinfo") or {}).get("preferred_username")
    return (user, info.get("access_token")) if user and info.get("access_token") else None


def current_key() -> str:
    """Whose work the request being served acts on: OWNER on a private app; else the visitor's Hugging Face
    account when signed in, else their browser (a reload keeps it), else the page session (one that never
    identified itself)."""
    if (acting := _acting.get()) is not None:
        return acting.key
    if is_owner():
        return OWNER
    if user := signed_in():
        return f"hf:{user[0]}"
    browser = _browser()
    return f"browser:{browser}" if browser else f"session:{getattr(current_request(), 'session_hash', None) or 'none'}"


def _browser() -> str | None:
    """The browser id of the request being served (identify), None before the page identified itself."""
    session = getattr(current_request(), "session_hash", None)
    with _browsers_lock:
        return _browsers.get(session) if session else None


def own_folder(root: Path) -> Path:
    """The part of ``root`` that belongs to the request being served: ``root`` for the owner, a folder per
    visitor (named by a hash of their key, which is a bearer secret) otherwise. Asking for it counts as using
    it: sweep() removes a visitor's folders ``keep_hours`` after their last use."""
    key = current_key()
    if key == OWNER:
        return root
    folder = root / VISITORS / hashlib.sha256(key.encode()).hexdigest()[:32]
    with contextlib.suppress(OSError):
        os.utime(folder)
    return folder


VISITORS = "visitors"
FACE_GALLERY = "face-gallery"  # under the runner's root


def visitor_roots(runner) -> list[Path]:
    """The folders that hold a folder per visitor (own_folder): pulled copies and face galleries."""
    return [cache_root() / "pulled", runner.root / FACE_GALLERY]


def pulls_root() -> Path:
    """Where the request being served pulls repos to: a visitor's copies (maybe of their private repos) are
    theirs alone."""
    return own_folder(cache_root() / "pulled")


def pull(repo_id: str, hub, **kwargs) -> Path:
    """hub.client.pull for the request being served: into its own folder, within a visitor's pull size limit."""
    from hub.client import pull as pull_repo

    limit = None if is_owner() else policy.max_pull_mb * 2**20
    return pull_repo(repo_id, hub, into=pulls_root(), max_bytes=limit, **kwargs)


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


# Browsers that gave the admin secret: memory only, so an app restart asks again.
_owner_browsers: set[str] = set()
_failures: list[float] = []  # times of wrong secrets, all visitors together
MAX_FAILURES_PER_MINUTE = 10


def prove_owner(secret: str) -> str:
    """A visitor of a public app gives the admin secret (DLP_ADMIN_SECRET): from now on their browser acts as the
    owner. Wrong secrets are few per minute, for everybody together, so that guessing one is hopeless."""
    browser = _browser()
    if not policy.admin_secret:
        raise UserError(t("owner.no_secret"))
    if browser is None:
        raise UserError(t("owner.reload"))
    now = time.monotonic()
    with _browsers_lock:
        _failures[:] = [when for when in _failures if now - when < 60]
        if len(_failures) >= MAX_FAILURES_PER_MINUTE:
            raise UserError(t("owner.too_many"))
        if not hmac.compare_digest((secret or "").strip().encode(), policy.admin_secret.encode()):
            _failures.append(now)
            raise UserError(t("owner.wrong_secret"))
        _owner_browsers.add(browser)
    return t("owner.now_owner")


def leave_owner() -> str:
    """The browser goes back to being a visitor (on a shared computer, before walking away)."""
    browser = _browser()
    with _browsers_lock:
        _owner_browsers.discard(browser or "")
    return t("owner.visitor_again")


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
        raise UserError(t("visitors.too_many_jobs", n=len(active)))
    # The job's own pulls (a base model, a dataset) go where the visitor's do, within the same limit.
    return {"owner": key, "max_seconds": policy.max_job_minutes * 60,
            "env": {ENV_PULLED_DIR: str(pulls_root()), ENV_MAX_PULL_MB: str(policy.max_pull_mb)}}


def sweep(runner, now: float | None = None) -> int:
    """Remove what visitors left: their folders (pulled copies, face galleries) unused for ``policy.keep_hours``,
    and their jobs that ended that long ago. Returns how many went."""
    cutoff = (now or time.time()) - policy.keep_hours * 3600
    gone = 0
    for root in visitor_roots(runner):
        for folder in (root / VISITORS).glob("*") if (root / VISITORS).is_dir() else []:
            with contextlib.suppress(OSError):
                if folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder)
                    gone += 1
    from training.runner import ACTIVE

    for job in runner.jobs():
        if job.owner != OWNER and job.status not in ACTIVE and (job.ended or job.created) < cutoff:
            with contextlib.suppress(KeyError, ValueError, OSError):
                runner.remove(job.id)
                gone += 1
    return gone


def start_sweeper(runner) -> threading.Thread:
    """sweep() every quarter of ``keep_hours`` (at most hourly) while the app runs."""
    def loop():
        while True:
            try:
                sweep(runner)
            except Exception as e:  # the next round retries
                print(f"visitor files sweep: {type(e).__name__}: {e}")
            time.sleep(min(3600.0, policy.keep_hours * 900))

    thread = threading.Thread(target=loop, name="visitor-sweep", daemon=True)
    thread.start()
    return thread


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
                    raise UserError(t("visitors.one_computation"))
                _computing.add(key)
        try:
            yield
        finally:
            if key is not None:
                with _computing_lock:
                    _computing.discard(key)

    guarded = within(fn, lambda *_args, **_kwargs: turn())
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
        raise HubActionError(t("visitors.cannot_resolve", host=repr(host))) from None
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if not address.is_global:
            raise HubActionError(t("visitors.loopback_hub", host=host) if address.is_loopback
                                 else t("visitors.private_hub", host=host))
