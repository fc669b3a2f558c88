"""The NDJSON body of a commit (``POST .../commit/{rev}``): parsed line by line and applied to the store."""
from __future__ import annotations

import binascii
import json
import mmap
import os
from typing import IO, Iterator

from ..card import card_errors
from .storage import Commit, FileOp, HubError, HubStore, Repo, validate_branch, validate_path

_CONTENT_KEY = b'"content": "'


def _ndjson_items(spool: IO[bytes]) -> Iterator[tuple[dict, bytes | None]]:
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


def _in_branch(store: HubStore, repo: Repo, branch: str, sha256: object) -> tuple[str, int] | None:
    """A large file the branch already holds (the client copies files by naming their sha256)."""
    try:
        tree = store.read_commit(repo, store.resolve(repo, branch)).tree
    except HubError:
        return None
    return next(((e["oid"], e["size"]) for e in tree.values() if e.get("lfs") == sha256), None)


def apply_commit(store: HubStore, repo: Repo, revision: str, user: str, spool: IO[bytes]) -> Commit:
    """Parse the NDJSON commit payload spooled in ``spool``, store its blobs, then commit under the repo lock."""
    branch = validate_branch(revision)
    with store.writing():  # gc keeps the blobs stored below until the commit refers to them
        header: dict | None = None
        ops: list[FileOp] = []
        for lineno, (item, b64) in enumerate(_ndjson_items(spool), 1):
            try:
                key, value = item["key"], item["value"]
            except (KeyError, TypeError):
                raise HubError(f"Malformed commit payload at line {lineno}") from None
            if not isinstance(value, dict):
                raise HubError(f"Malformed commit payload at line {lineno}: the value is not an object")
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
                ops.append(FileOp("add", path, oid=store.put_blob(data, sync=False), size=len(data)))
            elif key == "lfsFile":  # uploaded before the commit, through LFS or Xet (hub.server.transfer)
                path, sha256 = validate_path(value.get("path", "")), value.get("oid")
                found = store.large_file(sha256, user) or _in_branch(store, repo, branch, sha256)
                if found is None:
                    raise HubError(f"{path}: no upload with sha256 {sha256!r} reached this hub (or it expired): "
                                   "upload the file again")
                if value.get("size") not in (None, found[1]):
                    raise HubError(f"{path}: the upload with sha256 {sha256} has {found[1]} bytes, not {value['size']}")
                ops.append(FileOp("add", path, oid=found[0], size=found[1], sha256=sha256))
            elif key == "deletedFile":
                ops.append(FileOp("delete", validate_path(value.get("path", ""))))
            elif key == "deletedFolder":
                ops.append(FileOp("delete_folder", validate_path(value.get("path", "").rstrip("/"))))
            elif key == "copyFile":
                ops.append(FileOp("copy", validate_path(value.get("path", "")), src_path=validate_path(value.get("srcPath", "")),
                                  src_revision=value.get("srcRevision")))
            else:
                raise HubError(f"Unknown commit operation {key!r}")
        if not isinstance(header, dict):
            raise HubError("Commit payload has no header line")
        summary = str(header.get("summary") or "").strip()
        if not summary:
            raise HubError("A commit needs a summary (commit message)")
        store.sync_blobs()  # every blob on disk before the commit that refers to them
        return store.commit(repo, branch, ops, author=user, summary=summary[:500],
                            description=str(header.get("description") or ""), parent_commit=header.get("parentCommit"))
