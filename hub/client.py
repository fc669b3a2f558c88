"""Client side of the hub layer: every tab pushes and pulls through these functions.

A :class:`Hub` names an endpoint and a token. The endpoint is passed explicitly on
every call (``HF_ENDPOINT`` is frozen when huggingface_hub is imported, so changing
it at run time would do nothing). Pulled repos land in per-hub folders, one per
commit, because huggingface_hub's own cache key ignores the endpoint.

>>> hub = resolve_hub("local")                      # the embedded, offline hub
>>> push_folder("out/model", "me/lenet-digits", hub)  # doctest: +SKIP
>>> path = pull("me/lenet-digits", hub)               # doctest: +SKIP
"""
from __future__ import annotations

import atexit
import getpass
import glob
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from common.errors import UserError
from common.i18n import t

from .lean import select, size_text

HF_ENDPOINT = "https://huggingface.co"
# Set by the app for the processes it starts (training jobs), so they reuse its embedded hub.
ENV_LOCAL_URL, ENV_LOCAL_TOKEN, ENV_LOCAL_DIR = "DLP_LOCAL_HUB_URL", "DLP_LOCAL_HUB_TOKEN", "DLP_LOCAL_HUB_DIR"
_REPO_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


class HubActionError(UserError):
    """A hub action failed for a reason the user can act on; the message says what to do."""


class HubUnreachable(HubActionError):
    """The hub did not answer (down, or no network): a pull falls back on the copy it pulled before."""


class HubNotFound(HubActionError):
    """No such repo, revision or file on the hub (or not visible with this token)."""


@dataclass(frozen=True)
class Hub:
    kind: str  # "local" | "hf" | "url"
    endpoint: str
    token: str | None = field(default=None, repr=False)  # never printed
    # The server's data dir when it is on this machine (the local hub): pulls then copy
    # blobs from disk after the server has resolved the revision and checked access.
    store_dir: Path | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        """The hub in a few words: "local hub", "huggingface.co" or its URL."""
        return {"local": t("hubclient.local_hub"), "hf": "huggingface.co"}.get(self.kind, self.endpoint)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.endpoint})" if self.kind == "local" else self.name

    def with_token(self, token: str | None) -> "Hub":
        return Hub(self.kind, self.endpoint, token.strip() if token and token.strip() else self.token, self.store_dir)


# A Hugging Face Space's persistent storage, when its owner turns it on; without it a Space loses everything
# (trained models, the local hub) at each restart.
PERSISTENT_STORAGE = Path("/data")


def cache_root() -> Path:
    """Where the app keeps its data: ``$DLP_HOME``, else ``/data/dl-playground`` where persistent storage is
    mounted (a Space's), else the user's cache dir."""
    if os.environ.get("DLP_HOME"):
        return Path(os.environ["DLP_HOME"]).expanduser()
    if PERSISTENT_STORAGE.is_dir() and os.access(PERSISTENT_STORAGE, os.W_OK):
        return PERSISTENT_STORAGE / "dl-playground"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dl-playground"


def local_user() -> str:
    name = re.sub(r"[^A-Za-z0-9_-]", "-", os.environ.get("DLP_USER") or _login()).strip("-") or "user"
    return name[:40]


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "user"


# --------------------------------------------------------------------------- hubs
_local_lock = threading.Lock()
_local: Hub | None = None
_local_server: Any = None


def local_hub_dir() -> Path:
    """Where the embedded hub keeps its data (``python -m hub.server ... --data-dir`` names it)."""
    return cache_root() / "hub-server"


def serve_local(root: Path) -> Any:
    """The embedded hub's server, on the loopback port it had last time when that is free: a job outlives the app,
    and after a restart its pushes must still find the hub where its environment says."""
    from .server import start_in_thread

    remembered = root / "last-port"
    try:
        port = int(remembered.read_text())
        server = start_in_thread(root, port=port)
    except (OSError, ValueError):  # none yet, or taken
        server = start_in_thread(root)
    remembered.write_text(server.url.rsplit(":", 1)[1])
    return server


def local_hub(data_dir: str | Path | None = None) -> Hub:
    """The embedded hub: started once per process on a free loopback port.

    A session token is minted for the local user at start and kept in memory only;
    the server stores its hash and forgets it when this process is gone.
    """
    global _local, _local_server
    with _local_lock:
        if _local is not None:
            return _local
        if os.environ.get(ENV_LOCAL_URL):
            # A child of the app: its hub, with the token the job was given (none: read-only).
            store = os.environ.get(ENV_LOCAL_DIR)
            _local = Hub("local", os.environ[ENV_LOCAL_URL], os.environ.get(ENV_LOCAL_TOKEN) or None,
                         Path(store) if store else None)
            return _local
        from .server.storage import HubStore

        root = Path(data_dir) if data_dir else local_hub_dir()
        store = HubStore(root)
        token = store.add_token(local_user(), ephemeral=True)
        atexit.register(store.release_token, token)  # a killed process is purged at the next start
        _local_server = serve_local(root)
        _local = Hub("local", _local_server.url, token, _local_server.data_dir)
        return _local


def resolve_hub(spec: str | None = None, token: str | None = None, *, as_owner: bool = True) -> Hub:
    """``local`` (default), ``hf`` or an ``http(s)://`` URL of a Hub-compatible server, with ``token``, else
    (``as_owner``) the owner's: the local hub's session token, ``HF_TOKEN`` or the stored huggingface login,
    ``DLP_HUB_TOKEN``. A visitor of a public app is never ``as_owner``."""
    spec = (spec or "local").strip()
    if spec == "local":
        hub = local_hub()
        if not as_owner:
            hub = Hub(hub.kind, hub.endpoint, None, hub.store_dir)
    elif spec in ("hf", "huggingface", HF_ENDPOINT):
        hub = Hub("hf", HF_ENDPOINT, _hf_token() if as_owner and not token else None)
    elif re.match(r"^https?://[^\s/]+(:\d+)?(/[^\s]*)?$", spec):
        # Never the huggingface.co token: it must not travel to another server.
        hub = Hub("url", spec.rstrip("/"), (os.environ.get("DLP_HUB_TOKEN") or None) if as_owner else None)
    else:
        raise HubActionError(t("hubclient.unknown_hub", spec=spec))
    return hub.with_token(token)


# The owner's credentials in this process's environment: a job does not inherit them (training.runner), it gets
# the token of the hub its visitor picked (job_env), or none.
OWNER_SECRETS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "DLP_HUB_TOKEN", ENV_LOCAL_TOKEN)


def job_env(hub: Hub) -> dict[str, str]:
    """Environment for a child process (a training job) that works with ``hub``.

    It points the child at the local hub this process serves, if any (else a child would start
    its own), and hands over ``hub``'s token, if any; never on the command line, never to disk.
    """
    env = {}
    if _local is not None:
        env = {ENV_LOCAL_URL: _local.endpoint, ENV_LOCAL_DIR: str(_local.store_dir or "")}
    if hub.token:
        env[token_env(hub.kind)] = hub.token
    return env


def token_env(kind: str) -> str:
    """The environment variable a job reads a hub's token from, by the hub's kind."""
    return {"local": ENV_LOCAL_TOKEN, "hf": "HF_TOKEN"}.get(kind, "DLP_HUB_TOKEN")


def hold_for_job(env: dict[str, str], pid: int) -> None:
    """A job given the embedded hub's session token (the owner's) keeps it valid while it runs: an app restart
    purges a dead app's session tokens, and the job must still push after one."""
    token = env.get(ENV_LOCAL_TOKEN)
    if token and _local is not None and _local.store_dir is not None and token == _local.token:
        from .server.storage import HubStore

        HubStore(_local.store_dir).hold_token(token, pid)


def _hf_token() -> str | None:
    """HF_TOKEN, or the token `hf auth login` stored."""
    from huggingface_hub import get_token

    return get_token()


def local_path(spec: str) -> Path:
    """The file or folder ``spec`` names on this machine. A spec that reads as a repo id ("alice/model") names a
    hub repo even where a folder of that name exists under the working directory, so this returns a path that
    does not exist for it: a visitor who types a repo id must not reach the server's folders (on the command
    line, write ./alice/model for such a folder)."""
    spec = (spec or "").strip()
    return Path("/nonexistent/repo-id") / spec if _REPO_ID_RE.match(spec) or spec in LEGACY_IDS \
        else Path(spec).expanduser()


# Ids from before every repo had a namespace. huggingface.co still answers them by redirecting to these names;
# other hubs do not keep the redirects, so the client renames them itself.
LEGACY_IDS = {name.split("/")[1]: name for name in (
    "openai-community/gpt2", "openai-community/gpt2-medium", "openai-community/gpt2-large",
    "openai-community/gpt2-xl", "distilbert/distilgpt2", "google-bert/bert-base-uncased",
    "google-bert/bert-base-cased", "google-bert/bert-large-uncased", "google-bert/bert-base-multilingual-cased",
    "google-bert/bert-base-chinese", "distilbert/distilbert-base-uncased", "distilbert/distilbert-base-cased",
    "distilbert/distilbert-base-uncased-finetuned-sst-2-english", "FacebookAI/roberta-base",
    "FacebookAI/roberta-large", "FacebookAI/xlm-roberta-base", "google-t5/t5-small", "google-t5/t5-base",
    "google-t5/t5-large", "albert/albert-base-v2")}
_LEGACY_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


def canonical_repo_id(repo_id: str, hub: Hub) -> str:
    """``repo_id`` checked, a legacy short id (``gpt2``) renamed as huggingface.co renames it; huggingface.co
    itself also gets other short ids as typed (it resolves them)."""
    repo_id = (repo_id or "").strip()
    if repo_id in LEGACY_IDS:
        return LEGACY_IDS[repo_id]
    if hub.kind == "hf" and _LEGACY_ID_RE.match(repo_id) and ".." not in repo_id:
        return repo_id
    return check_repo_id(repo_id)


def check_repo_id(repo_id: str) -> str:
    repo_id = (repo_id or "").strip()
    if not _REPO_ID_RE.match(repo_id) or ".." in repo_id or "--" in repo_id:
        # (Not starting or ending with a quote: the page's error notice drops those.)
        raise HubActionError(t("hubclient.bad_repo_id", repo_id=repo_id))
    return repo_id


# ------------------------------------------------------------------------ errors
def explain(exc: BaseException, hub: Hub, repo_id: str | None = None) -> HubActionError:
    """Turn a client exception into a message that says what went wrong and what to do."""
    from huggingface_hub import errors as e

    if isinstance(exc, HubActionError):
        return exc
    if isinstance(exc, e.RepositoryNotFoundError):
        return HubNotFound(t("hubclient.repo_not_found", repo=repo_id, hub=hub.label) if repo_id
                           else t("hubclient.repo_not_found_unnamed", hub=hub.label))
    if isinstance(exc, e.RevisionNotFoundError):
        return HubNotFound(t("hubclient.revision_not_found", repo=repo_id, hub=hub.label) if repo_id
                           else t("hubclient.revision_not_found_unnamed", hub=hub.label))
    if isinstance(exc, (e.RemoteEntryNotFoundError,)):
        return HubNotFound(t("hubclient.file_not_found", repo=repo_id, hub=hub.label) if repo_id
                           else t("hubclient.file_not_found_unnamed", hub=hub.label))
    if isinstance(exc, e.HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else None
        server_msg = (exc.server_message or "").strip()
        if status == 401:
            if hub.token:
                return HubActionError(t("hubclient.token_rejected", hub=hub.label))
            return HubActionError(t("hubclient.token_needed_hf", hub=hub.label) if hub.kind == "hf"
                                  else t("hubclient.token_needed", hub=hub.label))
        if status == 403:
            return HubActionError(t("hubclient.not_allowed", hub=hub.label,
                                    reason=server_msg or t("hubclient.cannot_write")))
        if status == 413:
            return HubActionError(t("hubclient.too_large", hub=hub.label, reason=server_msg))
        return HubActionError(t("hubclient.answered", hub=hub.label, status=status, reason=server_msg or exc))
    text = f"{type(exc).__name__}: {exc}"
    signs = ("ConnectError", "ConnectTimeout", "Connection refused", "Name or service")  # i18n: not shown
    if isinstance(exc, e.LocalEntryNotFoundError) or any(k in text for k in signs):
        return _unreachable(hub)
    if isinstance(exc, ValueError):
        return HubActionError(str(exc))
    return HubActionError(t("hubclient.failed", hub=hub.label, error=text))


def _unreachable(hub: Hub) -> HubUnreachable:
    return HubUnreachable(t("hubclient.unreachable", hub=hub.label))


_reachable: dict[str, float] = {}


def _check_reachable(hub: Hub, timeout: float = 3.0) -> None:
    """Fail fast on a hub that is down: some client calls retry for ~20 s before giving up."""
    import socket
    import time
    from urllib.parse import urlsplit

    if time.monotonic() - _reachable.get(hub.endpoint, -1e9) < 10:
        return
    parts = urlsplit(hub.endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError:
        raise _unreachable(hub) from None
    _reachable[hub.endpoint] = time.monotonic()


def _api(hub: Hub):
    from huggingface_hub import HfApi

    _check_reachable(hub)
    return HfApi(endpoint=hub.endpoint, token=hub.token or False, library_name="dl-playground")


# ------------------------------------------------------------------- push / pull
def push_folder(folder: str | Path, repo_id: str, hub: Hub, *, private: bool = False,
                commit_message: str = "Upload from DL Playground", repo_type: str = "model",  # i18n: not shown
                path_in_repo: str | None = None) -> str:
    """Create ``repo_id`` if needed and upload ``folder`` (into ``path_in_repo``) as one commit.

    Returns the commit URL."""
    repo_id = check_repo_id(repo_id)
    folder = Path(folder)
    if not folder.is_dir() or not any(folder.iterdir()):
        raise HubActionError(t("hubclient.nothing_to_push", folder=folder))
    if not hub.token:
        raise HubActionError(t("hubclient.push_needs_token_hf", hub=hub.label) if hub.kind == "hf"
                             else t("hubclient.push_needs_token", hub=hub.label))
    api = _api(hub)
    try:
        api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
        info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type=repo_type,
                                 path_in_repo=path_in_repo, commit_message=commit_message,
                                 ignore_patterns=[".cache/**", "*.tmp"])
    except Exception as exc:
        raise explain(exc, hub, repo_id) from exc
    return info.commit_url


# A job started for a visitor of a public app pulls into that visitor's folder, within their pull size limit: the
# app sets these in the job's environment (webui.visitors.job_env).
ENV_PULLED_DIR, ENV_MAX_PULL_MB = "DLP_PULLED_DIR", "DLP_MAX_PULL_MB"


def pulled_dir(hub: Hub, repo_id: str, repo_type: str = "model", into: Path | None = None) -> Path:
    """Per-hub folder that holds the pulled snapshots of one repo, one sub-folder per commit, under ``into``
    (default: the process's pull folder, DLP_PULLED_DIR or the data folder's ``pulled``)."""
    ns, name = repo_id.split("/") if "/" in repo_id else ("_", repo_id)  # a short id huggingface.co resolves
    if into is None:
        into = Path(os.environ[ENV_PULLED_DIR]) if os.environ.get(ENV_PULLED_DIR) else cache_root() / "pulled"
    return into / _slug(hub) / f"{repo_type}s" / ns / name


def _slug(hub: Hub) -> str:
    return hub.kind if hub.kind in ("local", "hf") else hashlib.sha1(hub.endpoint.encode()).hexdigest()[:10]


def pull(repo_id: str, hub: Hub, *, revision: str | None = None, repo_type: str = "model",
         allow_patterns: list[str] | None = None, into: Path | None = None, max_bytes: int | None = None,
         lean: bool | None = None, progress: Callable[[int, int, str], None] | None = None) -> Path:
    """Download a repo snapshot into a per-hub, per-commit folder (under ``into``, see pulled_dir) and return it.

    Of a model repo only what loading needs comes down (``lean``, the default without ``allow_patterns``; see
    hub.lean): one PyTorch weight format, no exports or checkpoints. A snapshot already on disk is reused after one
    small metadata call; when the hub cannot be reached, the newest snapshot pulled before is returned instead. A
    pull of more than ``max_bytes`` (default: DLP_MAX_PULL_MB) is refused unread. ``progress(done, total, what)``
    is called with the bytes on disk while the files come down.
    """
    from huggingface_hub import snapshot_download

    repo_id = canonical_repo_id(repo_id, hub)
    base = pulled_dir(hub, repo_id, repo_type, into)
    if lean is None:
        lean = repo_type == "model" and not allow_patterns
    if max_bytes is None and os.environ.get(ENV_MAX_PULL_MB):
        max_bytes = int(float(os.environ[ENV_MAX_PULL_MB]) * 2**20)
    # A partial pull gets a folder of its own, so a full pull never reuses it.
    spec = "" if not (lean or allow_patterns) else \
        "-" + hashlib.sha1(repr((lean, sorted(allow_patterns or []))).encode()).hexdigest()[:8]
    try:
        info = _api(hub).repo_info(repo_id, repo_type=repo_type, revision=revision, files_metadata=True)
    except Exception as exc:
        err = explain(exc, hub, repo_id)
        if isinstance(err, HubUnreachable) and revision is None and (latest := _latest(base, spec)) is not None:
            return latest
        raise err from exc
    target = base / f"{info.sha}{spec}"
    if (target / ".complete").exists():
        return target
    files = {s.rfilename: s.size or 0 for s in info.siblings or []}
    if allow_patterns:
        from huggingface_hub.utils import filter_repo_objects

        files = {f: files[f] for f in filter_repo_objects(list(files), allow_patterns=allow_patterns)}
    chosen = select(files) if lean else None
    if chosen is not None:
        files = chosen.keep
    total = sum(files.values())
    if max_bytes is not None and total > max_bytes:
        raise HubActionError(t("hubclient.pull_too_large", repo=repo_id, size=size_text(total),
                               limit=size_text(max_bytes)))
    what = t("hubclient.pulling_lean", repo=repo_id, size=size_text(total), files=len(files),
             skipped=size_text(chosen.skip_bytes)) if chosen and chosen.skip \
        else t("hubclient.pulling", repo=repo_id, size=size_text(total), files=len(files))
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=base, prefix=".partial-"))

    def download() -> None:
        if not (hub.store_dir and _copy_from_store(hub, repo_id, repo_type, info.sha, tmp, files)):
            snapshot_download(repo_id, repo_type=repo_type, revision=info.sha, endpoint=hub.endpoint,
                              token=hub.token or False, local_dir=tmp, allow_patterns=[glob.escape(f) for f in files])

    try:
        _with_progress(download, tmp, total, what, progress)
        shutil.rmtree(tmp / ".cache", ignore_errors=True)
        (tmp / ".complete").write_text(json.dumps({"repo_id": repo_id, "sha": info.sha, "endpoint": hub.endpoint,
                                                   "files": len(files), "bytes": total}))
        try:
            os.rename(tmp, target)  # appears whole, or not at all
        except OSError:
            if not (target / ".complete").exists():
                raise
    except Exception as exc:
        raise explain(exc, hub, repo_id) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _with_progress(download: Callable[[], None], folder: Path, total: int, what: str,
                   progress: Callable[[int, int, str], None] | None) -> None:
    """Run ``download``, telling ``progress`` twice a second how many bytes are in ``folder`` (whichever way the
    bytes come, the store's copy, HTTP or Xet, they are written there)."""
    if progress is None:
        return download()
    failed: list[BaseException] = []

    def run() -> None:
        try:
            download()
        except BaseException as e:  # raised again in the caller's thread
            failed.append(e)

    worker = threading.Thread(target=run, daemon=True)
    progress(0, total, what)
    worker.start()
    while worker.is_alive():
        worker.join(0.5)
        progress(min(total, _bytes_in(folder)), total, what)
    if failed:
        raise failed[0]
    progress(total, total, what)


def _bytes_in(folder: Path) -> int:
    n = 0
    for root, _, names in os.walk(folder):
        for name in names:
            try:
                n += os.stat(os.path.join(root, name)).st_size
            except OSError:  # renamed while we looked
                pass
    return n


def _copy_from_store(hub: Hub, repo_id: str, repo_type: str, sha: str, dest: Path, wanted: dict[str, int]) -> bool:
    """Same-disk pull of the ``wanted`` files: the server lists the commit's files (and checks access), bytes come
    from its blob store. Returns False, having copied nothing, when a blob is not where expected (then HTTP is used).
    """
    files = [f for f in _api(hub).list_repo_tree(repo_id, repo_type=repo_type, revision=sha, recursive=True)
             if hasattr(f, "blob_id") and f.path in wanted]
    blobs = [(f, hub.store_dir / "blobs" / f.blob_id[:2] / f.blob_id[2:]) for f in files]
    if not all(src.is_file() and src.stat().st_size == f.size for f, src in blobs):
        return False
    for f, src in blobs:
        target = dest / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)  # a copy, never a link: the store's blobs stay immutable
    return True


def _latest(base: Path, spec: str) -> Path | None:
    """The newest complete pull of the same kind (full, lean or these patterns) in ``base``."""
    done = [p for p in base.glob(f"*{spec}/.complete") if len(p.parent.name) == 40 + len(spec)] if base.is_dir() \
        else []
    return max(done, key=lambda p: p.stat().st_mtime).parent if done else None


# ---------------------------------------------------------------- browse / admin
def whoami(hub: Hub) -> str | None:
    """The user the token belongs to, or None without a token."""
    if not hub.token:
        return None
    try:
        return _api(hub).whoami()["name"]
    except Exception as exc:
        raise explain(exc, hub) from exc


def check_exists(repo_id: str, hub: Hub, repo_type: str = "model") -> str:
    """``repo_id`` (checked for its form) when ``hub`` has the repo and the token reads it, else the hub's answer
    as a clear message: a job is not started to fail on it."""
    repo_id = check_repo_id(repo_id)
    try:
        _api(hub).repo_info(repo_id, repo_type=repo_type)
    except Exception as exc:
        raise explain(exc, hub, repo_id) from exc
    return repo_id


def free_repo_name(hub: Hub, user: str, name: str) -> str:
    """``name``, or ``name-2``, ``name-3``... the first that is not one of ``user``'s model repos on ``hub``: a
    suggested push target that does not replace a model already there (the starter's, a classmate's)."""
    try:
        taken = {m.id.split("/", 1)[-1] for m in _api(hub).list_models(author=user, search=name, limit=1000)}
    except Exception as exc:
        raise explain(exc, hub) from exc
    return next(n for n in (name, *(f"{name}-{i}" for i in range(2, len(taken) + 3))) if n not in taken)


def list_repos(hub: Hub, *, search: str = "", task: str = "", limit: int = 200,
               repo_type: str = "model") -> list[dict[str, Any]]:
    """Repos visible on ``hub`` as plain rows: id, task, library, updated, private."""
    api = _api(hub)
    kwargs: dict[str, Any] = {"search": search.strip() or None, "limit": limit}
    try:
        if repo_type == "model":
            items = api.list_models(pipeline_tag=task or None, **kwargs)
        elif repo_type == "dataset":
            items = api.list_datasets(**kwargs)
        else:
            items = api.list_spaces(**kwargs)
        rows = []
        for m in items:
            last = getattr(m, "last_modified", None)
            rows.append({"id": m.id, "task": getattr(m, "pipeline_tag", None) or "",
                         "library": getattr(m, "library_name", None) or "",
                         "updated": last.strftime("%Y-%m-%d %H:%M") if last else "",
                         "private": bool(getattr(m, "private", False))})
        return rows
    except Exception as exc:
        raise explain(exc, hub) from exc


@dataclass
class RepoDetails:
    repo_id: str
    sha: str
    card: str  # README.md body (markdown), or "" when there is none
    card_data: dict[str, Any]
    files: list[dict[str, Any]]  # path, size
    metrics: list[dict[str, Any]]  # task, dataset, metric, value
    private: bool
    history: list[dict[str, Any]] = field(default_factory=list)  # commit, message, author, date; newest first


def repo_details(repo_id: str, hub: Hub, repo_type: str = "model") -> RepoDetails:
    """Card, files and metrics of a repo, read from the hub without pulling the weights."""
    from huggingface_hub import hf_hub_download

    repo_id = check_repo_id(repo_id)
    api = _api(hub)
    try:
        info = api.repo_info(repo_id, repo_type=repo_type, files_metadata=True)
        commits = api.list_repo_commits(repo_id, repo_type=repo_type, revision=info.sha)
        card_text = ""
        names = {s.rfilename for s in info.siblings or []}
        if "README.md" in names:
            card_text = Path(hf_hub_download(repo_id, "README.md", repo_type=repo_type, revision=info.sha,
                                             endpoint=hub.endpoint, token=hub.token or False,
                                             cache_dir=cache_root() / "card-cache" / _slug(hub))).read_text(errors="replace")
    except Exception as exc:
        raise explain(exc, hub, repo_id) from exc
    from .card import card_metrics, split_card

    meta, body = split_card(card_text)
    return RepoDetails(
        repo_id=repo_id, sha=info.sha, card=body, card_data=meta,
        files=[{"path": s.rfilename, "size": s.size} for s in info.siblings or []],
        metrics=card_metrics(meta), private=bool(info.private),
        history=[{"commit": c.commit_id, "message": c.title, "author": ", ".join(c.authors),
                  "date": c.created_at.strftime("%Y-%m-%d %H:%M")} for c in commits])


def delete_repo(repo_id: str, hub: Hub, repo_type: str = "model") -> None:
    repo_id = check_repo_id(repo_id)
    if not hub.token:
        raise HubActionError(t("hubclient.delete_needs_token", hub=hub.label))
    try:
        _api(hub).delete_repo(repo_id, repo_type=repo_type)
    except Exception as exc:
        raise explain(exc, hub, repo_id) from exc
