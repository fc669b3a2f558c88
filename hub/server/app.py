"""The HTTP face of the self-hosted hub: the subset of huggingface.co's API that the
official clients (huggingface_hub, transformers, timm, diffusers, datasets) call.

See ``shared/reference/hub-api.md`` for what each endpoint must answer. Handlers that
touch the disk are plain ``def`` so FastAPI runs them in its thread pool.
"""
from __future__ import annotations

import binascii
import json
import mmap
import os
import tempfile
import time
from datetime import datetime, timezone
from email.utils import formatdate
from pathlib import Path
from typing import Any, Iterator

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ..card import card_errors, split_card
from .storage import (
    REPO_TYPES, Conflict, EntryNotFound, FileOp, HubError, HubStore, Repo, RepoNotFound, validate_branch,
    validate_path, validate_repo_id,
)

DEFAULT_MAX_BODY = 2 * 1024**3  # 2 GiB of request body (base64 inflates uploads by 4/3)
_PLURAL = {"models": "model", "datasets": "dataset", "spaces": "space"}


class Unauthorized(HubError):
    status = 401


class Forbidden(HubError):
    status = 403


class TooLarge(HubError):
    status = 413


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(exc: HubError, commit: str | None = None) -> JSONResponse:
    headers = {"X-Error-Message": str(exc)}
    if exc.code:
        headers["X-Error-Code"] = exc.code
    if commit:
        headers["X-Repo-Commit"] = commit
    return JSONResponse({"error": str(exc)}, status_code=exc.status, headers=headers)


def card_tags(card: dict[str, Any]) -> list[str]:
    """The tags the Hub derives from card metadata, so that ``filter=`` finds them."""
    def as_list(v: Any) -> list[str]:
        return [str(x) for x in v] if isinstance(v, list) else ([str(v)] if v else [])

    tags = as_list(card.get("tags"))
    for key in ("library_name", "pipeline_tag"):
        tags += as_list(card.get(key))
    tags += [f"dataset:{d}" for d in as_list(card.get("datasets"))]
    tags += [f"base_model:{b}" for b in as_list(card.get("base_model"))]
    tags += [f"license:{x}" for x in as_list(card.get("license"))]
    tags += [f"language:{x}" for x in as_list(card.get("language"))]
    return list(dict.fromkeys(tags))


def create_app(store: HubStore, *, max_body: int = DEFAULT_MAX_BODY, public_url: str | None = None) -> FastAPI:
    app = FastAPI(title="DL Playground hub", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store

    def base_url(request: Request) -> str:
        return public_url or str(request.base_url).rstrip("/")

    # ------------------------------------------------------------ auth/access
    def user_of(request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        if not auth:
            return None
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        user = store.user_for_token(token) if token else None
        if user is None:
            raise Unauthorized("Invalid credentials in Authorization header")
        return user

    def require_user(request: Request) -> str:
        user = user_of(request)
        if user is None:
            raise Unauthorized("A token is required for this action: pass a write token (Authorization: Bearer ...)")
        return user

    def readable(request: Request, repo_type: str, repo_id: str) -> Repo:
        repo = store.get_repo(repo_type, repo_id)
        if repo.private and user_of(request) != repo.owner:
            # Same answer as a missing repo: private repos are invisible to others.
            raise RepoNotFound(f"Repository {repo_id} not found")
        return repo

    def writable(request: Request, repo_type: str, repo_id: str) -> tuple[Repo, str]:
        user = require_user(request)
        repo = readable(request, repo_type, repo_id)
        if user != repo.owner:
            raise Forbidden(f"You don't have the rights to write to {repo_id}")
        return repo, user

    @app.middleware("http")
    async def limit_small_bodies(request: Request, call_next):
        # Only commits carry file contents; every other body is a small JSON document.
        limit = max_body if "/commit/" in request.url.path else min(max_body, 16 * 1024 * 1024)
        if int(request.headers.get("content-length") or 0) > limit:
            return _error(TooLarge(f"Request body exceeds this hub's limit of {limit} bytes"))
        return await call_next(request)

    @app.exception_handler(HubError)
    async def _hub_error(_: Request, exc: HubError) -> JSONResponse:
        return _error(exc)

    # ------------------------------------------------------------------ users
    @app.get("/api/whoami-v2")
    def whoami(request: Request) -> dict:
        user = require_user(request)
        return {"type": "user", "id": user, "name": user, "fullname": user, "orgs": [],
                "auth": {"type": "access_token", "accessToken": {"displayName": "dl-playground", "role": "write"}}}

    @app.post("/api/validate-yaml")
    async def validate_yaml(request: Request) -> JSONResponse:
        body = await request.json()
        errors = card_errors(body.get("content", "") if isinstance(body, dict) else "")
        return JSONResponse({"errors": [{"message": m} for m in errors], "warnings": []},
                            status_code=400 if errors else 200)

    # ------------------------------------------------------------------ repos
    def _create_args(body: dict) -> tuple[str, str, bool]:
        repo_type = body.get("type") or "model"
        if repo_type not in REPO_TYPES:
            raise HubError(f"Invalid repo type {repo_type!r}")
        name, org = body.get("name") or "", body.get("organization")
        repo_id = f"{org}/{name}" if org else name
        private = bool(body.get("private")) or body.get("visibility") in ("private", "protected")
        return repo_type, repo_id, private

    @app.post("/api/repos/create")
    def create_repo(request: Request, body: dict) -> dict:
        user = require_user(request)
        repo_type, repo_id, private = _create_args(body)
        if "/" not in repo_id:
            repo_id = f"{user}/{repo_id}"
        validate_repo_id(repo_id)
        if repo_id.split("/")[0] != user:
            raise Forbidden(f"You don't have the rights to create a repo under the namespace {repo_id.split('/')[0]!r}")
        try:
            repo = store.create_repo(repo_type, repo_id, user, private=private, sdk=body.get("sdk"))
        except Conflict as e:
            # The client's exist_ok=True expects 409 with the url of the existing repo.
            return JSONResponse({"error": str(e), "url": _repo_url(base_url(request), repo_type, repo_id)}, status_code=409)
        return {"url": _repo_url(base_url(request), repo.type, repo.id), "name": repo.id, "id": repo.id}

    @app.api_route("/api/repos/delete", methods=["DELETE"])
    def delete_repo(request: Request, body: dict) -> dict:
        repo_type, repo_id, _ = _create_args(body)
        repo, _user = writable(request, repo_type, repo_id)
        store.delete_repo(repo.type, repo.id)
        return {}

    @app.put("/api/{plural}/{ns}/{name}/settings")
    def settings(plural: str, ns: str, name: str, request: Request, body: dict) -> dict:
        repo, _ = writable(request, _type(plural), f"{ns}/{name}")
        if "private" in body or "visibility" in body:
            store.set_private(repo, bool(body.get("private")) or body.get("visibility") in ("private", "protected"))
        return {}

    # ------------------------------------------------------------- repo info
    cards: dict[str, dict[str, Any]] = {}  # README blob id -> parsed metadata (blobs are immutable)

    def _card(repo: Repo, tree: dict) -> dict[str, Any]:
        entry = tree.get("README.md")
        if not entry or entry["size"] > 1_000_000:
            return {}
        if entry["oid"] not in cards:
            if len(cards) > 4096:
                cards.clear()
            cards[entry["oid"]] = split_card(store.blob_path(entry["oid"]).read_text(errors="replace"))[0]
        return cards[entry["oid"]]

    def repo_info_dict(repo: Repo, commit_id: str, *, files_metadata: bool = False, full: bool = True) -> dict:
        commit = store.read_commit(repo, commit_id)
        card = _card(repo, commit.tree)
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

    def _info(plural: str, ns: str, name: str, revision: str | None, request: Request) -> dict:
        repo = readable(request, _type(plural), f"{ns}/{name}")
        files_metadata = request.query_params.get("blobs", "").lower() in ("1", "true")
        return repo_info_dict(repo, store.resolve(repo, revision), files_metadata=files_metadata)

    @app.get("/api/{plural}/{ns}/{name}")
    def repo_info(plural: str, ns: str, name: str, request: Request) -> dict:
        return _info(plural, ns, name, None, request)

    @app.get("/api/{plural}/{ns}/{name}/revision/{revision:path}")
    def repo_info_rev(plural: str, ns: str, name: str, revision: str, request: Request) -> dict:
        return _info(plural, ns, name, revision, request)

    @app.get("/api/{plural}")
    def list_repos(plural: str, request: Request) -> Response:
        repo_type = _type(plural)
        q = request.query_params
        user = user_of(request)
        search = (q.get("search") or "").lower()
        author = q.get("author")
        filters = q.getlist("filter")
        pipeline_tag = q.get("pipeline_tag")
        want_card = q.get("full", "").lower() in ("1", "true") or q.get("cardData", "").lower() in ("1", "true")
        per_page = min(_int_param(q.get("limit"), 1000), 1000)
        offset = _int_param(q.get("cursor"), 0, minimum=0)
        out = []
        for repo in store.list_repos(repo_type):
            if repo.private and user != repo.owner:
                continue
            if author and repo.namespace != author:
                continue
            if search and search not in repo.id.lower():
                continue
            info = repo_info_dict(repo, store.refs(repo)["main"], full=True)
            if filters and not all(f in info["tags"] for f in filters):
                continue
            if pipeline_tag and info.get("pipeline_tag") != pipeline_tag:
                continue
            if not want_card:
                info.pop("cardData", None)
            out.append(info)
        out.sort(key=lambda i: i["lastModified"], reverse=(q.get("direction", "-1") == "-1"))
        headers = {}
        if offset + per_page < len(out):  # the client follows Link: rel="next", GitHub-style
            nxt = request.url.include_query_params(cursor=offset + per_page, limit=per_page)
            headers["Link"] = f'<{base_url(request)}{nxt.path}?{nxt.query}>; rel="next"'
        return JSONResponse(out[offset:offset + per_page], headers=headers)

    @app.get("/api/{plural}/{ns}/{name}/refs")
    def list_refs(plural: str, ns: str, name: str, request: Request) -> dict:
        repo = readable(request, _type(plural), f"{ns}/{name}")
        return {"branches": [{"name": b, "ref": f"refs/heads/{b}", "targetCommit": c} for b, c in sorted(store.refs(repo).items())],
                "converts": [], "tags": []}

    @app.get("/api/{plural}/{ns}/{name}/commits/{revision:path}")
    def list_commits(plural: str, ns: str, name: str, revision: str, request: Request) -> list:
        repo = readable(request, _type(plural), f"{ns}/{name}")
        return [{"id": c.id, "title": c.summary, "message": c.description, "authors": [{"user": c.author}],
                 "date": _iso(c.date)} for c in store.history(repo, revision)]

    @app.post("/api/{plural}/{ns}/{name}/branch/{branch:path}")
    def create_branch(plural: str, ns: str, name: str, branch: str, request: Request, body: dict | None = None) -> dict:
        repo, _ = writable(request, _type(plural), f"{ns}/{name}")
        store.create_branch(repo, branch, (body or {}).get("startingPoint"))
        return {}

    @app.delete("/api/{plural}/{ns}/{name}/branch/{branch:path}")
    def delete_branch(plural: str, ns: str, name: str, branch: str, request: Request) -> dict:
        repo, _ = writable(request, _type(plural), f"{ns}/{name}")
        store.delete_branch(repo, branch)
        return {}

    # ------------------------------------------------------------------ trees
    def _tree_entries(tree: dict, path: str, recursive: bool) -> list[dict]:
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
                files.append({"type": "file", "path": p, "oid": e["oid"], "size": e["size"]})
        if prefix and not files and not dirs:
            raise EntryNotFound(f"{path} does not exist")
        return sorted(dirs.values(), key=lambda d: d["path"]) + files

    @app.get("/api/{plural}/{ns}/{name}/tree/{revision}")
    def tree_root(plural: str, ns: str, name: str, revision: str, request: Request) -> list:
        return tree(plural, ns, name, revision, "", request)

    @app.get("/api/{plural}/{ns}/{name}/tree/{revision}/{path:path}")
    def tree(plural: str, ns: str, name: str, revision: str, path: str, request: Request) -> Any:
        repo = readable(request, _type(plural), f"{ns}/{name}")
        cid = store.resolve(repo, revision)
        recursive = request.query_params.get("recursive", "").lower() in ("1", "true")
        try:
            return _tree_entries(store.read_commit(repo, cid).tree, path, recursive)
        except EntryNotFound as e:
            return _error(e, cid)

    @app.post("/api/{plural}/{ns}/{name}/paths-info/{revision}")
    async def paths_info(plural: str, ns: str, name: str, revision: str, request: Request) -> list:
        form = await request.form()
        paths = [str(p) for p in form.getlist("paths")]

        def work() -> list:
            repo = readable(request, _type(plural), f"{ns}/{name}")
            t = store.read_commit(repo, store.resolve(repo, revision)).tree
            out = []
            for p in paths:
                if p in t:
                    out.append({"type": "file", "path": p, "oid": t[p]["oid"], "size": t[p]["size"]})
                elif any(k.startswith(p.rstrip("/") + "/") for k in t):
                    out.append({"type": "directory", "path": p, "oid": "0" * 40, "size": 0})
            return out
        return await run_in_threadpool(work)

    # ---------------------------------------------------------------- uploads
    @app.post("/api/{plural}/{ns}/{name}/preupload/{revision}")
    def preupload(plural: str, ns: str, name: str, revision: str, request: Request, body: dict) -> dict:
        repo, _ = writable(request, _type(plural), f"{ns}/{name}")
        try:
            tree_ = store.read_commit(repo, store.resolve(repo, revision)).tree
        except HubError:
            tree_ = {}  # a branch about to be created: nothing to compare with
        # Everything goes "regular" (inline base64 in the commit): "lfs" would send the client to a Xet CAS.
        return {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                           "oid": tree_.get(f["path"], {}).get("oid")} for f in body.get("files", [])],
                "commitOid": None}

    @app.post("/api/{plural}/{ns}/{name}/commit/{revision:path}")
    async def commit(plural: str, ns: str, name: str, revision: str, request: Request) -> Response:
        repo_type = _type(plural)
        repo, user = await run_in_threadpool(writable, request, repo_type, f"{ns}/{name}")
        if request.query_params.get("create_pr") in ("1", "true"):
            raise HubError("Pull requests are not supported by this hub; commit to a branch instead")
        declared = int(request.headers.get("content-length") or 0)
        if declared > max_body:
            raise TooLarge(f"Request body of {declared} bytes exceeds this hub's limit of {max_body} bytes")
        # Spool the body to disk as it arrives (it can be GBs of base64), then parse it in a thread.
        spool = tempfile.TemporaryFile(dir=store.root / "tmp")
        try:
            received = 0
            async for chunk in request.stream():
                received += len(chunk)
                if received > max_body:
                    raise TooLarge(f"Request body exceeds this hub's limit of {max_body} bytes")
                spool.write(chunk)
            new = await run_in_threadpool(_apply_commit, store, repo, revision, user, spool)
        finally:
            spool.close()
        url = _repo_url(base_url(request), repo_type, repo.id)
        return JSONResponse({"commitOid": new.id, "commitUrl": f"{url}/commit/{new.id}",
                             "success": True, "pullRequestUrl": None})

    # -------------------------------------------------------------- downloads
    def _resolve_file(repo_type: str, ns: str, name: str, revision: str, path: str, request: Request) -> Response:
        repo = readable(request, repo_type, f"{ns}/{name}")
        cid = store.resolve(repo, revision)
        try:
            validate_path(path)
            entry = store.read_commit(repo, cid).tree.get(path)
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
        resp = FileResponse(store.blob_path(entry["oid"]), headers=headers, filename=Path(path).name,
                            content_disposition_type="inline")
        resp.chunk_size = 1024 * 1024  # 64 KiB chunks (the default) halve loopback throughput
        resp.headers["ETag"] = headers["ETag"]  # FileResponse would set its own mtime-based one
        return resp

    for prefix, repo_type in (("", "model"), ("/datasets", "dataset"), ("/spaces", "space")):
        def make(rt: str):
            def resolve(ns: str, name: str, revision: str, path: str, request: Request) -> Response:
                return _resolve_file(rt, ns, name, revision, path, request)
            return resolve
        app.add_api_route(prefix + "/{ns}/{name}/resolve/{revision}/{path:path}", make(repo_type),
                          methods=["GET", "HEAD"])

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "service": "dl-playground-hub"}

    return app


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


def _repo_url(base: str, repo_type: str, repo_id: str) -> str:
    prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[repo_type]
    return f"{base}/{prefix}{repo_id}"


_CONTENT_KEY = b'"content": "'


def _ndjson_items(spool) -> Iterator[tuple[dict, bytes | None]]:
    """Lines of the commit payload as (JSON object, base64 content or None).

    A file line can be hundreds of MB of base64; building it as a Python str through
    json.loads costs more than decoding it. Base64 has no quote or backslash, so the
    content is cut out of the mapped file as is and only the rest of the line is parsed.
    """
    spool.flush()
    size = os.fstat(spool.fileno()).st_size
    if size == 0:
        return
    with mmap.mmap(spool.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        pos = 0
        while pos < size:
            end = mm.find(b"\n", pos)
            end = size if end < 0 else end
            start = mm.find(_CONTENT_KEY, pos, min(end, pos + 256))
            stop = mm.find(b'"', start + len(_CONTENT_KEY), end) if start >= 0 else -1
            if stop >= 0 and mm.find(b"\\", start, stop) >= 0:
                stop = -1  # an escaped character: not base64, let json parse the whole line
            try:
                if stop >= 0:
                    rest = mm[pos:start + len(_CONTENT_KEY)] + mm[stop:end]
                    yield json.loads(rest), mm[start + len(_CONTENT_KEY):stop]
                elif mm[pos:end].strip():
                    yield json.loads(mm[pos:end]), None
            except ValueError:
                raise HubError("Malformed commit payload: a line is not JSON") from None
            pos = end + 1


def _apply_commit(store: HubStore, repo: Repo, revision: str, user: str, spool) -> Any:
    """Parse the NDJSON commit payload, store its blobs, then commit under the repo lock."""
    branch = validate_branch(revision)
    header: dict | None = None
    ops: list[FileOp] = []
    for lineno, (item, b64) in enumerate(_ndjson_items(spool), 1):
        try:
            key, value = item["key"], item["value"]
        except (KeyError, TypeError):
            raise HubError(f"Malformed commit payload at line {lineno}") from None
        if key == "header":
            header = value
        elif key == "file":
            path = validate_path(value.get("path", ""))
            try:
                content = b64 if b64 is not None else value.get("content", "")
                data = binascii.a2b_base64(content, strict_mode=True) \
                    if value.get("encoding") == "base64" else str(content).encode()
            except binascii.Error:
                raise HubError(f"Invalid base64 content for {path}") from None
            if path == "README.md" and (errors := card_errors(data.decode("utf-8", errors="replace"))):
                raise HubError("; ".join(errors))
            ops.append(FileOp("add", path, oid=store.put_blob(data), size=len(data)))
        elif key == "lfsFile":
            raise HubError("This hub stores every file inline; it never asked for LFS. Upgrade or retry the upload.")
        elif key == "deletedFile":
            ops.append(FileOp("delete", validate_path(value.get("path", ""))))
        elif key == "deletedFolder":
            ops.append(FileOp("delete_folder", validate_path(value.get("path", "").rstrip("/"))))
        elif key == "copyFile":
            ops.append(FileOp("copy", validate_path(value.get("path", "")), src_path=validate_path(value.get("srcPath", "")),
                              src_revision=value.get("srcRevision")))
        else:
            raise HubError(f"Unknown commit operation {key!r}")
    if header is None:
        raise HubError("Commit payload has no header line")
    summary = str(header.get("summary") or "").strip()
    if not summary:
        raise HubError("A commit needs a summary (commit message)")
    return store.commit(repo, branch, ops, author=user, summary=summary[:500],
                        description=str(header.get("description") or ""), parent_commit=header.get("parentCommit"))

