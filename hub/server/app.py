"""The HTTP face of the self-hosted hub: the subset of huggingface.co's API that the
official clients (huggingface_hub, transformers, timm, diffusers, datasets) call.

See ``shared/reference/hub-api.md`` for what each endpoint must answer. The handlers are
module-level functions grouped by concern in routers; they share one :class:`HubContext`
(the store, the body limit, the public URL) that :func:`create_app` puts on the app.
Handlers that touch the disk are plain ``def`` so FastAPI runs them in its thread pool.
"""
from __future__ import annotations

import base64
import errno
import fnmatch
import itertools
import logging
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import formatdate
from pathlib import Path
from typing import Annotated, Any, Callable

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.concurrency import run_in_threadpool

from ..card import card_errors, split_card
from .guard import RequestGuard, header_safe
from .index import card_tags
from .payload import apply_commit
from .transfer import DEFAULT_MAX_FILE, Tickets, XetScopes, transfer_routes
from .storage import (
    LFS_PATTERNS, REPO_TYPES, Conflict, EntryNotFound, HubError, HubStore, Repo, RepoNotFound, validate_path, validate_repo_id,
)

LFS_MIN_SIZE = 10 * 1024**2  # text files this large go through LFS too
DEFAULT_MAX_BODY = 2 * 1024**3  # 2 GiB of request body (base64 inflates uploads by 4/3)
_PLURAL = {"models": "model", "datasets": "dataset", "spaces": "space"}
TREE_PAGE, COMMITS_PAGE = 1000, 100  # entries per page of a tree and of a history
# Files a browser would run as a page of the hub's origin if shown inline.
ACTIVE_SUFFIXES = {".html", ".htm", ".xhtml", ".svg", ".svgz", ".xml", ".xsl", ".js", ".mjs", ".shtml", ".swf", ".pdf"}


class Unauthorized(HubError):
    status = 401


class Forbidden(HubError):
    status = 403


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(exc: HubError, commit: str | None = None) -> JSONResponse:
    headers = {"X-Error-Message": header_safe(str(exc))}
    if exc.code:
        headers["X-Error-Code"] = exc.code
    if commit:
        headers["X-Repo-Commit"] = commit
    return JSONResponse({"error": str(exc)}, status_code=exc.status, headers=headers)


def _flag(value: str | None) -> bool:
    """A boolean query parameter as the clients spell it."""
    return (value or "").lower() in ("1", "true")


def _private(body: dict) -> bool:
    """The visibility a create or settings body asks for, its JSON types checked ({"private": "no"} is refused,
    not read as true)."""
    private, visibility = body.get("private"), body.get("visibility")
    if private is not None and not isinstance(private, bool):
        raise HubError(f"'private' must be true or false, not {private!r}")
    if visibility is not None and visibility not in ("public", "private", "protected"):
        raise HubError(f"'visibility' must be 'public', 'private' or 'protected', not {visibility!r}")
    return bool(private) or visibility in ("private", "protected")


def _int_param(value: str | None, default: int, minimum: int = 1) -> int:
    if value in (None, ""):
        return default
    try:
        return max(minimum, int(value))
    except ValueError:
        raise HubError(f"Expected an integer, got {value!r}") from None


def _type(plural: str) -> str:
    if plural not in _PLURAL:
        raise HubError(f"Unknown repo type {plural!r}", status=404)
    return _PLURAL[plural]


@dataclass
class HubContext:
    """What every handler shares: the store, the request-body limit and the URL clients reach the hub by."""

    store: HubStore
    max_body: int = DEFAULT_MAX_BODY
    public_url: str | None = None
    max_file: int = DEFAULT_MAX_FILE  # one large file (LFS or Xet upload)
    tickets: Tickets | None = None  # signs large-file upload links and Xet tokens
    cards: dict[str, dict[str, Any]] = field(default_factory=dict)  # README blob id -> metadata (blobs are immutable)
    listings: OrderedDict = field(default_factory=OrderedDict)  # (repo, commit, path, recursive) -> tree entries
    lock: threading.Lock = field(default_factory=threading.Lock)  # handlers run in a thread pool

    def base_url(self, request: Request) -> str:
        return self.public_url or str(request.base_url).rstrip("/")

    def repo_url(self, request: Request, repo_type: str, repo_id: str) -> str:
        prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[repo_type]
        return f"{self.base_url(request)}/{prefix}{repo_id}"

    # ------------------------------------------------------------ auth/access
    def user_of(self, request: Request) -> str | None:
        """The token's user, None without a token. The RequestGuard in front of every route looked the token up
        (and refused one the hub does not know) and left the user in the request's state."""
        return request.scope.get("state", {}).get("user")

    def require_user(self, request: Request) -> str:
        user = self.user_of(request)
        if user is None:
            raise Unauthorized("A token is required for this action: pass a write token (Authorization: Bearer ...)")
        return user

    def readable(self, request: Request, repo_type: str, repo_id: str) -> Repo:
        repo = self.store.get_repo(repo_type, repo_id)
        if repo.private and self.user_of(request) != repo.owner:
            # Same answer as a missing repo: private repos are invisible to others.
            raise RepoNotFound(f"Repository {repo_id} not found")
        return repo

    def writable(self, request: Request, repo_type: str, repo_id: str) -> tuple[Repo, str]:
        user = self.require_user(request)
        repo = self.readable(request, repo_type, repo_id)
        if user != repo.owner:
            raise Forbidden(f"You don't have the rights to write to {repo_id}")
        return repo, user

    def listing(self, repo: Repo, commit_id: str, path: str, recursive: bool) -> list[dict]:
        """tree_entries of a commit's folder, kept for the pages that follow (commits never change)."""
        key = (str(repo.path), commit_id, path, recursive)
        with self.lock:
            if (hit := self.listings.get(key)) is not None:
                self.listings.move_to_end(key)
                return hit
        entries = tree_entries(self.store.read_commit(repo, commit_id).tree, path, recursive)
        with self.lock:
            self.listings[key] = entries
            while len(self.listings) > 64:
                self.listings.popitem(last=False)
        return entries

    # ------------------------------------------------------------- repo info
    def card(self, tree: dict) -> dict[str, Any]:
        """The README's metadata, parsed once per blob."""
        entry = tree.get("README.md")
        if not entry or entry["size"] > 1_000_000:
            return {}
        if entry["oid"] not in self.cards:
            if len(self.cards) > 4096:
                self.cards.clear()
            self.cards[entry["oid"]] = split_card(self.store.blob_path(entry["oid"]).read_text(errors="replace"))[0]
        return self.cards[entry["oid"]]

    def repo_info(self, repo: Repo, commit_id: str, *, files_metadata: bool = False, full: bool = True) -> dict:
        commit = self.store.read_commit(repo, commit_id)
        card = self.card(commit.tree)
        info: dict[str, Any] = {
            "_id": repo.id, "id": repo.id, "author": repo.namespace, "sha": commit.id,
            "lastModified": _iso(commit.date), "createdAt": _iso(repo.created_at),
            "private": repo.private, "disabled": False, "gated": False, "downloads": 0, "likes": 0,
            "tags": card_tags(card),
        }
        if repo.type == "model":
            info["modelId"] = repo.id
            info["library_name"] = card.get("library_name")
            info["pipeline_tag"] = card.get("pipeline_tag")
        if repo.type == "space":
            info["sdk"] = repo.sdk
            info["runtime"] = {"stage": "NO_APP_FILE" if "app.py" not in commit.tree else "STOPPED", "hardware": {}}
        if full:
            info["cardData"] = card
            info["siblings"] = [
                {"rfilename": p, **({"size": e["size"], "blobId": e["oid"]} if files_metadata else {})}
                for p, e in sorted(commit.tree.items())
            ]
            info["usedStorage"] = sum(e["size"] for e in commit.tree.values())
        return info


async def _context(request: Request) -> HubContext:
    return request.app.state.hub


Ctx = Annotated[HubContext, Depends(_context)]


# ---------------------------------------------------------------- account
account_routes = APIRouter()


@account_routes.get("/api/whoami-v2")
def whoami(request: Request, hub: Ctx) -> dict:
    user = hub.require_user(request)
    return {"type": "user", "id": user, "name": user, "fullname": user, "avatarUrl": "", "orgs": [],
            "auth": {"type": "access_token", "accessToken": {"displayName": "dl-playground", "role": "write"}}}


@account_routes.post("/api/validate-yaml")
async def validate_yaml(request: Request) -> JSONResponse:
    body = await request.json()
    errors = card_errors(body.get("content", "") if isinstance(body, dict) else "")
    return JSONResponse({"errors": [{"message": m} for m in errors], "warnings": []},
                        status_code=400 if errors else 200)


# ------------------------------------------------------------------ repos
repo_routes = APIRouter()


def _create_args(body: dict) -> tuple[str, str, bool]:
    """(type, id, private) of the JSON body of create_repo and delete_repo."""
    repo_type = body.get("type") or "model"
    if repo_type not in REPO_TYPES:
        raise HubError(f"Invalid repo type {repo_type!r}")
    name, org = body.get("name") or "", body.get("organization")
    if not isinstance(name, str) or not isinstance(org, (str, type(None))):
        raise HubError("'name' and 'organization' must be strings")
    repo_id = f"{org}/{name}" if org else name
    return repo_type, repo_id, _private(body)


@repo_routes.post("/api/repos/create")
def create_repo(request: Request, body: dict, hub: Ctx) -> dict:
    user = hub.require_user(request)
    repo_type, repo_id, private = _create_args(body)
    if "/" not in repo_id:
        repo_id = f"{user}/{repo_id}"
    validate_repo_id(repo_id)
    if repo_id.split("/")[0] != user:
        raise Forbidden(f"You don't have the rights to create a repo under the namespace {repo_id.split('/')[0]!r}")
    try:
        repo = hub.store.create_repo(repo_type, repo_id, user, private=private, sdk=body.get("sdk"))
    except Conflict as e:
        # The client's exist_ok=True expects 409 with the url of the existing repo.
        return JSONResponse({"error": str(e), "url": hub.repo_url(request, repo_type, repo_id)}, status_code=409)
    return {"url": hub.repo_url(request, repo.type, repo.id), "name": repo.id, "id": repo.id}


@repo_routes.api_route("/api/repos/delete", methods=["DELETE"])
def delete_repo(request: Request, body: dict, hub: Ctx) -> dict:
    repo_type, repo_id, _ = _create_args(body)
    repo, _user = hub.writable(request, repo_type, repo_id)
    hub.store.delete_repo(repo.type, repo.id)
    return {}


@repo_routes.put("/api/{plural}/{ns}/{name}/settings")
def settings(plural: str, ns: str, name: str, request: Request, body: dict, hub: Ctx) -> dict:
    repo, _ = hub.writable(request, _type(plural), f"{ns}/{name}")
    if "private" in body or "visibility" in body:
        hub.store.set_private(repo, _private(body))
    return {}


# -------------------------------------------------- repo info and listing
info_routes = APIRouter()


def _info(plural: str, ns: str, name: str, revision: str | None, request: Request, hub: HubContext) -> dict:
    repo = hub.readable(request, _type(plural), f"{ns}/{name}")
    files_metadata = _flag(request.query_params.get("blobs"))
    return hub.repo_info(repo, hub.store.resolve(repo, revision), files_metadata=files_metadata)


@info_routes.get("/api/{plural}/{ns}/{name}")
def repo_info(plural: str, ns: str, name: str, request: Request, hub: Ctx) -> dict:
    return _info(plural, ns, name, None, request, hub)


@info_routes.get("/api/{plural}/{ns}/{name}/revision/{revision:path}")
def repo_info_rev(plural: str, ns: str, name: str, revision: str, request: Request, hub: Ctx) -> dict:
    return _info(plural, ns, name, revision, request, hub)


@info_routes.get("/api/{plural}")
def list_repos(plural: str, request: Request, hub: Ctx) -> Response:
    """A page of the repos the caller may see, from the repo index: its cost is the page's, not the hub's."""
    repo_type = _type(plural)
    q = request.query_params
    want_card = _flag(q.get("full")) or _flag(q.get("cardData"))
    per_page = min(_int_param(q.get("limit"), 1000), 1000)
    offset = _int_param(q.get("cursor"), 0, minimum=0)
    rows, more = hub.store.index.query(
        repo_type, user=hub.user_of(request), author=q.get("author"), search=q.get("search") or "",
        filters=q.getlist("filter"), pipeline_tag=q.get("pipeline_tag"), newest_first=q.get("direction", "-1") == "-1",
        offset=offset, limit=per_page)
    out = []
    for row in rows:
        info: dict[str, Any] = {"_id": row.id, "id": row.id, "author": row.id.split("/")[0], "sha": row.sha,
                                "lastModified": _iso(row.modified), "createdAt": _iso(row.created),
                                "private": row.private, "downloads": 0, "likes": 0, "tags": row.tags}
        if repo_type == "model":
            info.update(modelId=row.id, library_name=row.card.get("library_name"),
                        pipeline_tag=row.card.get("pipeline_tag"))
        if want_card:
            info["cardData"] = row.card
        out.append(info)
    return _page(request, hub, out, offset + per_page if more else None, per_page)


@info_routes.get("/api/{plural}/{ns}/{name}/refs")
def list_refs(plural: str, ns: str, name: str, request: Request, hub: Ctx) -> dict:
    repo = hub.readable(request, _type(plural), f"{ns}/{name}")
    return {"branches": [{"name": b, "ref": f"refs/heads/{b}", "targetCommit": c}
                         for b, c in sorted(hub.store.refs(repo).items())],
            "converts": [], "tags": []}


@info_routes.get("/api/{plural}/{ns}/{name}/commits/{revision:path}")
def list_commits(plural: str, ns: str, name: str, revision: str, request: Request, hub: Ctx) -> Response:
    """A page of the history, newest first; a long history costs what its pages before this one cost."""
    repo = hub.readable(request, _type(plural), f"{ns}/{name}")
    limit = min(_int_param(request.query_params.get("limit"), COMMITS_PAGE), COMMITS_PAGE)
    offset = _int_param(request.query_params.get("cursor"), 0, minimum=0)
    page = list(itertools.islice(hub.store.history(repo, revision), offset, offset + limit + 1))
    rows = [{"id": c.id, "title": c.summary, "message": c.description, "authors": [{"user": c.author}],
             "date": _iso(c.date)} for c in page[:limit]]
    return _page(request, hub, rows, offset + limit if len(page) > limit else None, limit)


def _page(request: Request, hub: HubContext, rows: list, next_cursor: int | None, limit: int) -> JSONResponse:
    """One page of a listing; a next one is linked GitHub-style (Link: rel="next"), as the client follows."""
    headers = {}
    if next_cursor is not None:
        nxt = request.url.include_query_params(cursor=next_cursor, limit=limit)
        headers["Link"] = f'<{hub.base_url(request)}{nxt.path}?{nxt.query}>; rel="next"'
    return JSONResponse(rows, headers=headers)


# --------------------------------------------------------------- branches
branch_routes = APIRouter()


@branch_routes.post("/api/{plural}/{ns}/{name}/branch/{branch:path}")
def create_branch(plural: str, ns: str, name: str, branch: str, request: Request, hub: Ctx,
                  body: dict | None = None) -> dict:
    repo, _ = hub.writable(request, _type(plural), f"{ns}/{name}")
    hub.store.create_branch(repo, branch, (body or {}).get("startingPoint"))
    return {}


@branch_routes.delete("/api/{plural}/{ns}/{name}/branch/{branch:path}")
def delete_branch(plural: str, ns: str, name: str, branch: str, request: Request, hub: Ctx) -> dict:
    repo, _ = hub.writable(request, _type(plural), f"{ns}/{name}")
    hub.store.delete_branch(repo, branch)
    return {}


# ------------------------------------------------------------------ trees
tree_routes = APIRouter()


def file_entry(path: str, entry: dict) -> dict:
    """A file as tree/ and paths-info list it; a large file adds its LFS pointer's fields."""
    out = {"type": "file", "path": path, "oid": entry["oid"], "size": entry["size"]}
    if "lfs" in entry:
        out["lfs"] = {"oid": entry["lfs"], "size": entry["size"], "pointerSize": 134}
    return out


def tree_entries(tree: dict, path: str, recursive: bool) -> list[dict]:
    """The files and folders under ``path`` of a flat tree (folders first), as ``tree/`` lists them."""
    prefix = path.strip("/") + "/" if path.strip("/") else ""
    if prefix and prefix.rstrip("/") in tree:
        raise EntryNotFound(f"{path} is a file, not a folder")
    files, dirs = [], {}
    for p, e in sorted(tree.items()):
        if not p.startswith(prefix):
            continue
        rest = p[len(prefix):]
        parts = rest.split("/")
        for i in range(1, len(parts)):
            if not recursive and i > 1:
                break
            d = prefix + "/".join(parts[:i])
            dirs.setdefault(d, {"type": "directory", "path": d, "oid": "0" * 40, "size": 0})
        if recursive or len(parts) == 1:
            files.append(file_entry(p, e))
    if prefix and not files and not dirs:
        raise EntryNotFound(f"{path} does not exist")
    return sorted(dirs.values(), key=lambda d: d["path"]) + files


@tree_routes.get("/api/{plural}/{ns}/{name}/tree/{revision}")
def tree_root(plural: str, ns: str, name: str, revision: str, request: Request, hub: Ctx) -> list:
    return tree(plural, ns, name, revision, "", request, hub)


@tree_routes.get("/api/{plural}/{ns}/{name}/tree/{revision}/{path:path}")
def tree(plural: str, ns: str, name: str, revision: str, path: str, request: Request, hub: Ctx) -> Any:
    """A page of a folder's entries; later pages come from the listing kept for the commit."""
    repo = hub.readable(request, _type(plural), f"{ns}/{name}")
    cid = hub.store.resolve(repo, revision)
    limit = min(_int_param(request.query_params.get("limit"), TREE_PAGE), TREE_PAGE)
    offset = _int_param(request.query_params.get("cursor"), 0, minimum=0)
    try:
        entries = hub.listing(repo, cid, path, _flag(request.query_params.get("recursive")))
    except EntryNotFound as e:
        return _error(e, cid)
    return _page(request, hub, entries[offset:offset + limit],
                 offset + limit if offset + limit < len(entries) else None, limit)


def _paths_info(hub: HubContext, request: Request, repo_type: str, repo_id: str, revision: str,
                paths: list[str]) -> list:
    repo = hub.readable(request, repo_type, repo_id)
    t = hub.store.read_commit(repo, hub.store.resolve(repo, revision)).tree
    out = []
    for p in paths:
        if p in t:
            out.append(file_entry(p, t[p]))
        elif any(k.startswith(p.rstrip("/") + "/") for k in t):
            out.append({"type": "directory", "path": p, "oid": "0" * 40, "size": 0})
    return out


@tree_routes.post("/api/{plural}/{ns}/{name}/paths-info/{revision}")
async def paths_info(plural: str, ns: str, name: str, revision: str, request: Request, hub: Ctx) -> list:
    form = await request.form()
    paths = [str(p) for p in form.getlist("paths")]
    return await run_in_threadpool(_paths_info, hub, request, _type(plural), f"{ns}/{name}", revision, paths)


# ---------------------------------------------------------------- uploads
upload_routes = APIRouter()


@upload_routes.post("/api/{plural}/{ns}/{name}/preupload/{revision}")
def preupload(plural: str, ns: str, name: str, revision: str, request: Request, body: dict, hub: Ctx) -> dict:
    repo, _ = hub.writable(request, _type(plural), f"{ns}/{name}")
    try:
        tree_ = hub.store.read_commit(repo, hub.store.resolve(repo, revision)).tree
    except HubError:
        tree_ = {}  # a branch about to be created: nothing to compare with
    answers = []
    for f in body.get("files", []):
        path, size = validate_path(f.get("path")), f.get("size")
        if not isinstance(size, int):
            raise HubError(f"preupload: 'size' of {path} must be an integer")
        mode = upload_mode(path, size, f.get("sample"))
        entry = tree_.get(path, {})
        # The client skips a file whose oid matches: a large file's is its sha256, a small one's its blob id.
        answers.append({"path": path, "uploadMode": mode, "shouldIgnore": False,
                        "oid": entry.get("lfs") if mode == "lfs" else entry.get("oid")})
    return {"files": answers, "commitOid": None}


def upload_mode(path: str, size: int, sample: Any) -> str:
    """"lfs" (uploaded on its own, streamed: hub.server.transfer) or "regular" (inline in the commit), as
    huggingface.co decides: the .gitattributes patterns, anything of 10 MB or more, and binary content."""
    name = path.rsplit("/", 1)[-1]
    if size >= LFS_MIN_SIZE or any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(path, p) for p in LFS_PATTERNS):
        return "lfs"
    try:
        binary = b"\0" in base64.b64decode(sample or "", validate=False)
    except (ValueError, TypeError):
        binary = False
    return "lfs" if binary else "regular"


@upload_routes.post("/api/{plural}/{ns}/{name}/commit/{revision:path}")
async def commit(plural: str, ns: str, name: str, revision: str, request: Request, hub: Ctx) -> Response:
    repo_type = _type(plural)
    repo, user = await run_in_threadpool(hub.writable, request, repo_type, f"{ns}/{name}")
    if request.query_params.get("create_pr") in ("1", "true"):
        raise HubError("Pull requests are not supported by this hub; commit to a branch instead")
    # Spool the body to disk as it arrives (it can be GBs of base64; the RequestGuard bounds it), then parse it in
    # a thread.
    spool = tempfile.TemporaryFile(dir=hub.store.root / "tmp")
    try:
        async for chunk in request.stream():
            spool.write(chunk)
        new = await run_in_threadpool(apply_commit, hub.store, repo, revision, user, spool)
    finally:
        spool.close()
    url = hub.repo_url(request, repo_type, repo.id)
    return JSONResponse({"commitOid": new.id, "commitUrl": f"{url}/commit/{new.id}",
                         "success": True, "pullRequestUrl": None})


# -------------------------------------------------------------- downloads
download_routes = APIRouter()


def resolve_file(request: Request, hub: HubContext, repo_type: str, ns: str, name: str, revision: str,
                 path: str) -> Response:
    """A file of a repo at a revision (HEAD: its headers), with the X-Repo-Commit and ETag the client needs."""
    repo = hub.readable(request, repo_type, f"{ns}/{name}")
    cid = hub.store.resolve(repo, revision)
    try:
        validate_path(path)
        entry = hub.store.read_commit(repo, cid).tree.get(path)
        if entry is None:
            raise EntryNotFound(f"{path} does not exist at {revision}")
    except HubError as e:
        if e.status == 400:
            e = EntryNotFound(str(e))
        return _error(e, cid)
    headers = {"X-Repo-Commit": cid, "ETag": f'"{entry["oid"]}"', "Accept-Ranges": "bytes",
               "Cache-Control": "private, max-age=0" if repo.private else "public, max-age=3600",
               "Last-Modified": formatdate(time.time(), usegmt=True)}
    if request.method == "HEAD":
        headers["Content-Length"] = str(entry["size"])
        return Response(status_code=200, headers=headers)
    # User content never runs as the hub's own page: no script, no plugin, no sniffing a type; markup is a download.
    headers.update({"Content-Security-Policy": "default-src 'none'; sandbox", "X-Content-Type-Options": "nosniff"})
    active = Path(path).suffix.lower() in ACTIVE_SUFFIXES
    resp = FileResponse(hub.store.blob_path(entry["oid"]), headers=headers, filename=Path(path).name,
                        content_disposition_type="attachment" if active else "inline")
    resp.chunk_size = 1024 * 1024  # 64 KiB chunks (the default) halve loopback throughput
    resp.headers["ETag"] = headers["ETag"]  # FileResponse would set its own mtime-based one
    return resp


def _resolver(repo_type: str) -> Callable[..., Response]:
    """The resolve handler of one repo type (its URL prefix names the type, not a path parameter)."""
    def resolve(ns: str, name: str, revision: str, path: str, request: Request, hub: Ctx) -> Response:
        return resolve_file(request, hub, repo_type, ns, name, revision, path)
    return resolve


for _prefix, _repo_type in (("", "model"), ("/datasets", "dataset"), ("/spaces", "space")):
    download_routes.add_api_route(_prefix + "/{ns}/{name}/resolve/{revision}/{path:path}", _resolver(_repo_type),
                            methods=["GET", "HEAD"])


def health() -> dict:
    return {"status": "ok", "service": "dl-playground-hub"}


# ------------------------------------------------------------------- app
async def _hub_error(_: Request, exc: HubError) -> JSONResponse:
    return _error(exc)


async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    """The framework's own refusals (no such route, a body it could not parse, BodyRefused) in the hub's format."""
    detail = exc.detail if isinstance(exc.detail, str) else "Malformed request"
    if detail == "There was an error parsing the body":
        detail = "Malformed request: the body could not be read as JSON"
    return _error(HubError(detail, status=exc.status_code))


async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
    """A body FastAPI could not take (``body: dict`` given a list, a number...)."""
    where = next((".".join(str(p) for p in e.get("loc", ())) for e in exc.errors()), "body")
    return _error(HubError(f"Malformed request: {where} is not what this endpoint takes (a JSON object)"))


async def _malformed(request: Request, exc: Exception) -> JSONResponse:
    """A request whose values the handlers could not use (a number for a path, nesting deep enough to exhaust
    recursion, text that is not UTF-8): its sender's mistake, answered 400, never a 500."""
    # With its traceback (at info level): a bug of ours that raised one of these would otherwise hide as a 400.
    logging.getLogger(__name__).info("malformed request to %s: %s: %s", request.url.path, type(exc).__name__, exc,
                                     exc_info=exc)
    return _error(HubError(f"Malformed request ({type(exc).__name__})"))


async def _os_error(request: Request, exc: OSError) -> JSONResponse:
    """The disk is full (507; every write is a temporary file renamed into place, so nothing changed), or another
    I/O failure (500, without the server's paths)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return _error(HubError("The hub's disk is full: nothing was changed. Try again once space is freed.",
                               status=507))
    logging.getLogger(__name__).exception("I/O error on %s", request.url.path)
    return _error(HubError("The hub could not read or write its data", status=500))


def create_app(store: HubStore, *, max_body: int = DEFAULT_MAX_BODY, public_url: str | None = None,
               max_file: int = DEFAULT_MAX_FILE) -> FastAPI:
    app = FastAPI(title="DL Playground hub", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store
    tickets = Tickets(store.root)
    app.state.hub = HubContext(store, max_body=max_body, public_url=public_url, max_file=max_file, tickets=tickets)
    app.add_middleware(RequestGuard, user_for_token=store.user_for_token, max_body=max_body, admit=tickets.admit)
    app.add_middleware(XetScopes)  # outermost: the guard sees the path it knows
    app.add_exception_handler(HubError, _hub_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    for malformed in (ValueError, TypeError, LookupError, AttributeError, RecursionError):
        app.add_exception_handler(malformed, _malformed)
    app.add_exception_handler(OSError, _os_error)
    # Starlette tries routes in this order; /api/whoami-v2 must come before /api/{plural}.
    for router in (account_routes, repo_routes, info_routes, branch_routes, tree_routes, upload_routes,
                   transfer_routes, download_routes):
        app.include_router(router)
    app.add_api_route("/health", health, methods=["GET"])
    return app
