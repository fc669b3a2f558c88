"""Large files: the two ways the official client uploads a file that preupload marks "lfs", both streamed to disk
at constant memory and verified by sha256 before a commit may name them (``lfsFile`` lines, hub.server.payload).

- Git LFS (https://github.com/git-lfs/git-lfs/blob/main/docs/api/batch.md), what huggingface_hub uses without
  hf_xet, or for file objects: ``POST {repo}.git/info/lfs/objects/batch`` answers, per file, an upload link
  carrying a signed ticket; the client PUTs the bytes there.
- Xet (https://huggingface.co/docs/xet), what huggingface_hub uses when hf_xet is installed (gradio and
  transformers install it): ``xet-write-token`` hands out a signed token and this hub's own CAS under ``/xet``,
  the client uploads xorbs (chunk containers) and a shard (each file's chunk list), and the hub rebuilds each file
  from the chunks (hub.server.xet). There is no global deduplication across uploaders.

Tickets and Xet tokens are HMAC-signed claims (user, what may be sent, expiry) with a key kept in the data folder:
the RequestGuard checks them before a byte of body is read, and only they admit bodies larger than 16 MB.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from .storage import SHA256_RE, HubError, HubStore, _atomic_write
from .xet import MAX_XORB_BYTES, UploaderChunks, XetFormatError, parse_shard

LFS_UPLOAD_PREFIX = "/api/lfs-upload/"
XET_PREFIX = "/xet/"
TICKET_TTL = 24 * 3600  # an LFS upload link stays valid this long (a 20 GB upload on a slow line)
XET_TOKEN_TTL = 3600  # the client asks for a new one before it expires
XET_BODY = MAX_XORB_BYTES + 1024 * 1024  # a xorb or a shard
DEFAULT_MAX_FILE = 50 * 1024**3  # the largest single file this hub accepts (serve --max-file-gb)
DISK_RESERVE = 256 * 1024**2  # left free on the hub's disk after an upload
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# Bytes gathered from the socket before threads write and hash them: larger blocks mean fewer hand-overs between
# threads (each waits for the GIL), and memory per upload (two blocks). Xorbs, several at once, only get written.
LFS_BLOCK, XORB_BLOCK = 8 * 1024 * 1024, 1024 * 1024


class Tickets:
    """Signed, expiring claims: ``sign(claims)`` -> opaque string; ``verify(string, kind)`` -> claims or None."""

    def __init__(self, root: Path):
        path = root / "upload.key"
        if not path.exists():
            _atomic_write(path, secrets.token_bytes(32))
            os.chmod(path, 0o600)
        self._key = path.read_bytes()

    def _mac(self, payload: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self._key, payload, hashlib.sha256).digest()).decode().rstrip("=")

    def sign(self, kind: str, ttl: float, **claims: Any) -> tuple[str, int]:
        exp = int(time.time() + ttl)
        payload = base64.urlsafe_b64encode(json.dumps({"k": kind, "exp": exp, **claims}).encode()).decode().rstrip("=")
        return f"{payload}.{self._mac(payload.encode())}", exp

    def verify(self, token: str, kind: str) -> dict | None:
        payload, _, mac = token.partition(".")
        if not payload or not hmac.compare_digest(mac.encode(), self._mac(payload.encode()).encode()):
            return None
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except ValueError:
            return None
        if not isinstance(claims, dict) or claims.get("k") != kind or claims.get("exp", 0) < time.time():
            return None
        return claims

    def admit(self, path: str, bearer: str) -> tuple[dict | None, int] | None:
        """For the RequestGuard: None when ``path`` is not an upload path; else (claims or None, body limit)."""
        if path.startswith(LFS_UPLOAD_PREFIX):
            claims = self.verify(path[len(LFS_UPLOAD_PREFIX):], "lfs")
            return claims, (claims or {}).get("size", 0)
        if path.startswith(XET_PREFIX):
            return self.verify(bearer, "xet"), XET_BODY
        return None


def _free_space_check(store: HubStore, size: int) -> None:
    if shutil.disk_usage(store.root).free < size + DISK_RESERVE:
        raise HubError(f"The hub's disk has no room for {size} more bytes: nothing was uploaded", status=507)


async def _stream_into(request: Request, block: int, *consumers: Callable[[memoryview], object]) -> None:
    """The request body into each of ``consumers``, each in a thread of its own (hashing and writing release the
    GIL) while the next block is being received. Two buffers of ``block`` bytes, filled in turn, are all the memory
    it takes: fresh ones per block cost more in page faults than the hashing."""
    async def hand_over(data: memoryview) -> None:
        await asyncio.gather(*(run_in_threadpool(consume, data) for consume in consumers))

    buffers, which, fill = (bytearray(block), bytearray(block)), 0, 0
    pending: asyncio.Future | None = None
    try:
        async for chunk in request.stream():
            view = memoryview(chunk)
            while view:
                n = min(len(view), block - fill)
                buffers[which][fill:fill + n] = view[:n]
                fill, view = fill + n, view[n:]
                if fill == block:
                    if pending is not None:
                        await pending  # the other buffer is free again
                    pending = asyncio.ensure_future(hand_over(memoryview(buffers[which])))
                    which, fill = 1 - which, 0
    finally:
        if pending is not None:
            await pending
    if fill:
        await hand_over(memoryview(buffers[which])[:fill])


transfer_routes = APIRouter()


# -------------------------------------------------------------------- LFS
async def _lfs_batch(repo_type: str, ns: str, name: str, request: Request) -> JSONResponse:
    hub = request.app.state.hub
    body = await request.json()  # sent as application/vnd.git-lfs+json
    repo, user = await run_in_threadpool(hub.writable, request, repo_type, f"{ns}/{name}")
    if not isinstance(body, dict) or body.get("operation") != "upload":
        raise HubError("This LFS endpoint takes uploads ({\"operation\": \"upload\"}); downloads use resolve/")
    objects = body.get("objects")
    if not isinstance(objects, list) or not objects:
        raise HubError("An LFS batch needs a list of objects ({oid, size})")
    answers = []
    for obj in objects:
        oid, size = (obj.get("oid"), obj.get("size")) if isinstance(obj, dict) else (None, None)
        if not isinstance(oid, str) or not SHA256_RE.match(oid) or not isinstance(size, int) or size < 0:
            answers.append({"oid": str(oid), "size": size if isinstance(size, int) else 0,
                            "error": {"code": 422, "message": "oid must be a sha256 (64 hex) and size an integer"}})
        elif size > hub.max_file:
            answers.append({"oid": oid, "size": size, "error": {
                "code": 422, "message": f"{size} bytes is over this hub's limit of {hub.max_file} bytes per file"}})
        elif await run_in_threadpool(hub.store.large_file, oid, user):
            answers.append({"oid": oid, "size": size})  # already here: no action, the client skips it
        else:
            await run_in_threadpool(_free_space_check, hub.store, size)
            ticket, exp = hub.tickets.sign("lfs", TICKET_TTL, user=user, oid=oid, size=size)
            answers.append({"oid": oid, "size": size, "authenticated": True, "actions": {"upload": {
                "href": f"{hub.base_url(request)}{LFS_UPLOAD_PREFIX}{ticket}", "expires_in": TICKET_TTL}}})
    return JSONResponse({"transfer": "basic", "objects": answers, "hash_algo": "sha256"},
                        media_type="application/vnd.git-lfs+json")


def _lfs_batch_route(repo_type: str):
    async def lfs_batch(ns: str, name: str, request: Request) -> JSONResponse:
        if not name.endswith(".git"):
            raise HubError("Not an LFS endpoint", status=404)
        return await _lfs_batch(repo_type, ns, name[:-4], request)
    return lfs_batch


for _prefix, _repo_type in (("", "model"), ("/datasets", "dataset"), ("/spaces", "space")):
    transfer_routes.add_api_route(_prefix + "/{ns}/{name}/info/lfs/objects/batch", _lfs_batch_route(_repo_type),
                                  methods=["POST"])


@transfer_routes.put(LFS_UPLOAD_PREFIX + "{ticket}")
async def lfs_upload(ticket: str, request: Request) -> Response:
    """The bytes of one large file, at the link the batch answered; kept only if their sha256 is the ticket's."""
    claims, store = request.state.ticket, request.app.state.store
    with await run_in_threadpool(store.blob_writer, claims["size"], claims["user"]) as writer:
        await _stream_into(request, LFS_BLOCK, writer.write, writer.hash)
        await run_in_threadpool(writer.finish, claims["oid"])
    return Response(status_code=200)


# -------------------------------------------------------------------- Xet
@transfer_routes.get("/api/{plural}/{ns}/{name}/xet-write-token/{revision:path}")
def xet_write_token(plural: str, ns: str, name: str, revision: str, request: Request) -> dict:
    from .app import _type

    hub = request.app.state.hub
    _repo, user = hub.writable(request, _type(plural), f"{ns}/{name}")
    token, exp = hub.tickets.sign("xet", XET_TOKEN_TTL, user=user)
    # A CAS address per uploader: the Xet client keeps its cache of what it uploaded per address, and skips chunks
    # that cache lists; our hub keeps each uploader's chunks apart (_chunks), so one user's client, in a process
    # that pushed as another user too (the app's Push button), must not count on the other's uploads.
    return {"accessToken": token, "exp": exp, "casUrl": f"{hub.base_url(request)}{XET_PREFIX}u/{xet_scope(user)}"}


def xet_scope(user: str) -> str:
    return hashlib.sha256(user.encode()).hexdigest()[:16]


_SCOPED = re.compile(r"^/xet/u/[0-9a-f]{16}(/.*)$")


class XetScopes:
    """ASGI middleware in front of the guard: /xet/u/<scope>/v1/... is served as /xet/v1/... (the scope only
    tells clients' caches apart; the ticket's user decides whose chunks a request reaches)."""

    def __init__(self, app: Callable):
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and (m := _SCOPED.match(scope.get("path", ""))):
            scope = {**scope, "path": XET_PREFIX.rstrip("/") + m.group(1),
                     "raw_path": (XET_PREFIX.rstrip("/") + m.group(1)).encode()}
        await self.app(scope, receive, send)


def _chunks(store: HubStore, user: str) -> UploaderChunks:
    # Per uploader: a xorb's bytes are not checked against its hash, so one user's cannot stand in for another's.
    return UploaderChunks(store.root / "xet" / user, store.blob_path)


def _xorb_path(store: HubStore, user: str, hex_hash: str) -> Path:
    if not _HEX64.match(hex_hash):
        raise HubError(f"Invalid xorb hash {hex_hash!r}: expected 64 lowercase hex characters")
    return _chunks(store, user).xorb_path(hex_hash)


@transfer_routes.post(XET_PREFIX + "v1/xorbs/{prefix}/{hex_hash}")
async def xet_upload_xorb(prefix: str, hex_hash: str, request: Request) -> dict:
    store, user = request.app.state.store, request.state.ticket["user"]
    path = _xorb_path(store, user, hex_hash)
    if path.exists():
        os.utime(path)  # young again: gc keeps it while the shard that names it is on its way
        return {"was_inserted": False}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{secrets.token_hex(8)}")
    try:
        with open(tmp, "wb") as f:
            await _stream_into(request, XORB_BLOCK, f.write)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return {"was_inserted": True}


@transfer_routes.head(XET_PREFIX + "v1/xorbs/{prefix}/{hex_hash}")
def xet_head_xorb(prefix: str, hex_hash: str, request: Request) -> Response:
    path = _xorb_path(request.app.state.store, request.state.ticket["user"], hex_hash)
    if not path.exists():
        return Response(status_code=404)
    return Response(status_code=200, headers={"Content-Length": str(path.stat().st_size)})


@transfer_routes.get(XET_PREFIX + "v1/chunks/{prefix}/{hex_hash}")
def xet_dedupe(prefix: str, hex_hash: str) -> Response:
    raise HubError("This hub does not deduplicate across uploads", status=404)


def _register_shard(hub: Any, user: str, data: bytes) -> int:
    """Rebuild, verify and store every file the shard describes; returns how many."""
    try:
        recipes = parse_shard(data)
    except XetFormatError as e:
        raise HubError(f"Invalid shard: {e}") from None
    for recipe in recipes:
        if recipe.size > hub.max_file:
            raise HubError(f"{recipe.size} bytes is over this hub's limit of {hub.max_file} bytes per file")
        if recipe.sha256 and hub.store.large_file(recipe.sha256, user):
            continue
        _free_space_check(hub.store, recipe.size)
        chunks = _chunks(hub.store, user)
        with hub.store.blob_writer(recipe.size, user) as writer:
            try:
                placed = chunks.rebuild(recipe, writer.update)
            except XetFormatError as e:
                raise HubError(f"Invalid upload: {e}") from None
            _sha256, oid, _size = writer.finish(recipe.sha256)
        chunks.remember(placed, oid)
    return len(recipes)


@transfer_routes.post(XET_PREFIX + "v1/shards")
async def xet_upload_shard(request: Request) -> dict:
    hub, user = request.app.state.hub, request.state.ticket["user"]
    data = await request.body()
    await run_in_threadpool(_register_shard, hub, user, data)
    return {"result": 1}
