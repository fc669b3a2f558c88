"""Filesystem storage of the self-hosted hub: blobs, commits, refs, tokens.

Layout under ``root``::

    blobs/ab/<git-blob-sha1>        content-addressed file contents (shared by all repos)
    lfs/<user>/ab/<sha256>          {"oid", "size"}: a large file that user uploaded (LFS or Xet), verified; a commit
                                    may name it by sha256 (per user: knowing a hash must not give its content)
    xet/<user>/xorbs/ab/<hash>      Xet chunk containers as a client sent them, per uploader, until gc
    xet/<user>/maps/ab/<hash>       where those chunks lie in the blobs rebuilt from them (hub.server.xet)
    repos/<type>/<ns>/<name>/
        repo.json                   owner, private flag, sdk, creation time
        refs.json                   {"main": "<commit id>", ...}
        commits/<commit id>.json    parents, author, message and the full flat tree
    locks/<type>/<ns>/<name>.lock   per-repo flock; serialises commits across threads and processes (outside the
                                    repo's folder: a commit waiting on a deleted repo must not bring it back)
    .gc.lock                        shared while a commit stores blobs, exclusive while gc deletes them
    tokens.json                     {sha256(token): {"user": ..., "ephemeral": ...}}; never the token

Every write lands in a temporary file first and becomes visible by ``os.replace``;
a commit is visible only once ``refs.json`` points at it, so a crash or a killed
upload leaves the previous state intact.
"""
from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import itertools
import json
import logging
import os
import re
import secrets
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from common.procs import pid_alive

from ..card import split_card
from .index import RepoIndex, Row

REPO_TYPES = ("model", "dataset", "space")
SPACE_SDKS = ("gradio", "docker", "static", "streamlit")
DEFAULT_BRANCH = "main"
COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
MAX_CACHED_TREE_ENTRIES = 200_000  # files of the commits kept parsed in memory (some 60 MB at most)
_BRANCH_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
_PATH_CHAR_RE = re.compile(r"[\x00-\x1f\x7f\\]")

# Files stored as large files (uploaded through LFS or Xet, not inline in the commit): huggingface.co's default
# .gitattributes patterns, which a new repo's first commit holds and preupload follows.
LFS_PATTERNS = (
    "*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gz", "*.h5", "*.joblib", "*.lfs.*", "*.mlmodel",
    "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot", "*.parquet", "*.pb", "*.pickle", "*.pkl", "*.pt",
    "*.pth", "*.rar", "*.safetensors", "saved_model/**/*", "*.tar.*", "*.tar", "*.tflite", "*.tgz", "*.wasm",
    "*.xz", "*.zip", "*.zst", "*tfevents*", "*.lz4", "*.mds", "*.mp3", "*.ogg", "*.wav", "*.flac", "*.mp4",
    "*.jpg", "*.jpeg", "*.png", "*.webp", "*.gif",
)
GITATTRIBUTES = "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in LFS_PATTERNS).encode()


class HubError(Exception):
    """An error with the HTTP status and ``X-Error-Code`` the official client understands."""

    status = 400
    code: str | None = None

    def __init__(self, message: str, status: int | None = None, code: str | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code


class RepoNotFound(HubError):
    status, code = 404, "RepoNotFound"


class RevisionNotFound(HubError):
    status, code = 404, "RevisionNotFound"


class EntryNotFound(HubError):
    status, code = 404, "EntryNotFound"


class Conflict(HubError):
    status = 409


class PreconditionFailed(HubError):
    status = 412


def validate_repo_id(repo_id: str) -> tuple[str, str]:
    if not isinstance(repo_id, str):
        raise HubError(f"Invalid repo id {repo_id!r}: not a string")
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(_NAME_RE.match(p) for p in parts):
        raise HubError(f"Invalid repo id {repo_id!r}: expected 'namespace/name' with letters, digits, '-', '_', '.'")
    for p in parts:
        if ".." in p or "--" in p or p.endswith(".git") or p.endswith("."):
            raise HubError(f"Invalid repo id {repo_id!r}: '..', '--', a trailing '.' or '.git' are not allowed")
    return parts[0], parts[1]


def validate_path(path: str) -> str:
    """A repo-relative POSIX path: no absolute paths, no '..', no control characters."""
    if not isinstance(path, str):
        raise HubError(f"Invalid path in repo: {path!r} is not a string")
    if not path or len(path) > 1024 or path.startswith("/") or _PATH_CHAR_RE.search(path):
        raise HubError(f"Invalid path in repo: {path!r}")
    segments = path.split("/")
    if any(s in ("", ".", "..") for s in segments) or segments[0] == ".git":
        raise HubError(f"Invalid path in repo: {path!r}")
    return path


def validate_branch(name: str) -> str:
    if not isinstance(name, str) or not _BRANCH_RE.match(name) or ".." in name or name.endswith("/") or "//" in name or COMMIT_RE.match(name):
        raise HubError(f"Invalid branch name {name!r}")
    if "/" in name:  # the official client puts it in URL paths where a '/' splits the route
        raise HubError(f"Invalid branch name {name!r}: this hub takes branch names without '/'")
    return name


def _check_clashes(tree: dict[str, dict]) -> None:
    """A path may not be both a file and a folder (``a`` and ``a/b``): no checkout could hold both."""
    for path in tree:
        parts = path.split("/")
        for i in range(1, len(parts)):
            if (folder := "/".join(parts[:i])) in tree:
                raise HubError(f"{path} needs a folder {folder}, but {folder} is a file in this commit")


def git_blob_oid(data: bytes) -> str:
    """The git blob sha1 the client compares against to skip unchanged files."""
    h = hashlib.sha1(b"blob %d\0" % len(data))
    h.update(data)
    return h.hexdigest()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _atomic_write(path: Path, data: bytes, sync: bool = True) -> None:
    """``data`` at ``path``, whole or not at all; on disk before it returns unless ``sync`` is False (then the
    caller makes it durable with sync_filesystem before anything refers to it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if sync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def sync_filesystem(path: Path) -> None:
    """Everything written to ``path``'s filesystem reaches the disk: one syncfs(2) for a commit's many blobs instead
    of an fsync each (a 10,000-file commit spent most of its time in them). Where syncfs is missing, sync(2)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(path, os.O_RDONLY)
        try:
            if libc.syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    except (OSError, AttributeError):
        pass
    os.sync()


def _write_json(path: Path, obj: object) -> None:
    _atomic_write(path, json.dumps(obj, indent=1, sort_keys=True).encode())


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text())


@dataclass
class Repo:
    type: str
    id: str
    owner: str
    private: bool
    created_at: float
    sdk: str | None = None
    path: Path = field(default=Path(), repr=False)

    @property
    def namespace(self) -> str:
        return self.id.split("/")[0]


@dataclass
class Commit:
    id: str
    parents: list[str]
    author: str
    summary: str
    description: str
    date: float
    tree: dict[str, dict]  # path -> {"oid": git blob sha1, "size": bytes[, "lfs": sha256 of a large file]}


@dataclass
class FileOp:
    """One operation of a commit, already validated; ``oid`` set for additions."""

    kind: str  # "add" | "delete" | "delete_folder" | "copy"
    path: str
    oid: str | None = None
    size: int | None = None
    src_path: str | None = None
    src_revision: str | None = None
    sha256: str | None = None  # a large file's (uploaded through LFS or Xet)


class HubStore:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).expanduser().resolve()
        self._commits: OrderedDict[tuple[str, str], Commit] = OrderedDict()  # read_commit's cache
        self._commits_lock = threading.Lock()
        self._cached_entries = 0
        for sub in ("blobs", "repos", "tmp", "trash", "lfs"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._tokens_lock = threading.Lock()
        self.index = RepoIndex(self.root / "index.sqlite")
        if self.index.fresh:  # a data dir from before the index, or of another version: build it once
            for repo_type in REPO_TYPES:
                for repo in self.list_repos(repo_type):
                    self._index(repo)
            self.index.mark_built()

    def _index(self, repo: Repo) -> None:
        """Bring the repo's row of the index in step with the disk (called under the repo's lock)."""
        try:
            repo = self.get_repo(repo.type, repo.id)
            head = self.read_commit(repo, self.refs(repo)[DEFAULT_BRANCH])
        except (HubError, OSError, KeyError):
            self.index.delete(repo.type, repo.id)
            return
        card: dict = {}
        readme = head.tree.get("README.md")
        if readme and readme["size"] <= 1_000_000:
            with contextlib.suppress(OSError):
                card = split_card(self.blob_path(readme["oid"]).read_text(errors="replace"))[0]
        try:
            self.index.put(Row(repo.type, repo.id, repo.owner, repo.private, repo.created_at, head.date, head.id,
                               card))
        except sqlite3.Error as e:  # the change itself is made; a listing will miss it until the index is rebuilt
            logging.getLogger(__name__).warning("repo index not updated for %s: %s", repo.id, e)
            self.index.invalidate()

    # ---------------------------------------------------------------- tokens
    @contextlib.contextmanager
    def _flock(self, path: Path, mode: int = fcntl.LOCK_EX) -> Iterator[None]:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as f:
            fcntl.flock(f, mode)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _repo_lock(self, repo: Repo) -> contextlib.AbstractContextManager:
        ns, name = repo.id.split("/")
        return self._flock(self.root / "locks" / repo.type / ns / f"{name}.lock")

    def writing(self) -> contextlib.AbstractContextManager:
        """Held (shared) from a commit's first stored blob to its new ref: gc, which takes it exclusively, never
        sees a blob stored for a commit that is not visible yet."""
        return self._flock(self.root / ".gc.lock", fcntl.LOCK_SH)

    def _tokens(self) -> dict:
        p = self.root / "tokens.json"
        return _read_json(p) if p.exists() else {}

    @contextlib.contextmanager
    def _editing_tokens(self) -> Iterator[dict]:
        """The token table under the thread and file locks, written back if the block changed it."""
        with self._tokens_lock, self._flock(self.root / ".tokens.lock"):
            tokens = self._tokens()
            before = json.dumps(tokens, sort_keys=True)
            yield tokens
            if json.dumps(tokens, sort_keys=True) != before:
                _write_json(self.root / "tokens.json", tokens)

    def add_token(self, user: str, *, ephemeral: bool = False) -> str:
        """Make a write token for ``user``; only its hash is stored. Returned once."""
        if not _NAME_RE.match(user) or "--" in user or ".." in user:
            raise HubError(f"Invalid user name {user!r}")
        token = "hf_" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(34))
        with self._editing_tokens() as tokens:
            tokens[hash_token(token)] = {"user": user, "created": time.time(), "ephemeral": ephemeral, "pid": os.getpid()}
        return token

    def revoke_token(self, token: str) -> None:
        with self._editing_tokens() as tokens:
            tokens.pop(hash_token(token), None)

    def hold_token(self, token: str, pid: int) -> None:
        """Process ``pid`` (a training job the app started) holds the session token ``token``: it stays valid while
        that process lives, after the app that made it is gone (release_token, purge_stale_ephemeral_tokens)."""
        with self._editing_tokens() as tokens:
            if (entry := tokens.get(hash_token(token))) is not None:
                entry["holders"] = [p for p in entry.get("holders", []) if pid_alive(p)] + [pid]

    def release_token(self, token: str) -> None:
        """The app that made a session token is done with it: revoked, unless a process holding it still runs
        (a later start purges it once none does)."""
        with self._editing_tokens() as tokens:
            entry = tokens.get(hash_token(token))
            if entry is not None and not any(pid_alive(p) for p in entry.get("holders", [])):
                del tokens[hash_token(token)]

    def list_tokens(self) -> list[dict]:
        """Every token as {id, user, created, ephemeral}; the id is the start of the token's hash, not the token."""
        return sorted(({"id": h[:12], "user": t["user"], "created": t.get("created", 0),
                        "ephemeral": bool(t.get("ephemeral"))} for h, t in self._tokens().items()),
                      key=lambda t: t["created"])

    def revoke_tokens(self, *, token_id: str | None = None, user: str | None = None) -> int:
        """Revoke the token whose list_tokens id is ``token_id``, or every token of ``user``; returns how many."""
        with self._editing_tokens() as tokens:
            gone = [h for h, t in tokens.items()
                    if (token_id and h.startswith(token_id) and len(token_id) >= 8) or (user and t["user"] == user)]
            for h in gone:
                del tokens[h]
        return len(gone)

    def purge_stale_ephemeral_tokens(self) -> None:
        """Drop session tokens whose process is gone (a killed app cannot revoke its own), unless a job holding
        one still runs."""
        with self._editing_tokens() as tokens:
            for h in [h for h, t in tokens.items() if t.get("ephemeral")
                      and not any(pid_alive(p) for p in [t.get("pid", -1), *t.get("holders", [])])]:
                del tokens[h]

    def user_for_token(self, token: str) -> str | None:
        entry = self._tokens().get(hash_token(token))
        return entry["user"] if entry else None

    # ----------------------------------------------------------------- repos
    def _repo_dir(self, repo_type: str, repo_id: str) -> Path:
        if repo_type not in REPO_TYPES:
            raise HubError(f"Unknown repo type {repo_type!r}")
        ns, name = validate_repo_id(repo_id)
        return self.root / "repos" / repo_type / ns / name

    def get_repo(self, repo_type: str, repo_id: str) -> Repo:
        d = self._repo_dir(repo_type, repo_id)
        try:
            meta = _read_json(d / "repo.json")
        except FileNotFoundError:
            raise RepoNotFound(f"Repository {repo_id} not found") from None
        return Repo(type=repo_type, id=repo_id, owner=meta["owner"], private=meta["private"],
                    created_at=meta["created_at"], sdk=meta.get("sdk"), path=d)

    def list_repos(self, repo_type: str) -> Iterator[Repo]:
        base = self.root / "repos" / repo_type
        if not base.is_dir():
            return
        for ns in sorted(base.iterdir()):
            for d in sorted(ns.iterdir()) if ns.is_dir() else ():
                with contextlib.suppress(RepoNotFound, HubError):
                    yield self.get_repo(repo_type, f"{ns.name}/{d.name}")

    def create_repo(self, repo_type: str, repo_id: str, owner: str, *, private: bool = False,
                    sdk: str | None = None) -> Repo:
        final = self._repo_dir(repo_type, repo_id)
        if repo_type == "space" and sdk not in SPACE_SDKS:
            raise HubError(f"A Space needs an sdk, one of {', '.join(SPACE_SDKS)}")
        if final.exists():
            raise Conflict(f"You already created this {repo_type} repo: {repo_id}")
        # Built in a scratch folder and renamed into place: a repo appears whole or not at all.
        tmp = Path(tempfile.mkdtemp(dir=self.root / "tmp", prefix="repo-"))
        now = time.time()
        _write_json(tmp / "repo.json", {"owner": owner, "private": bool(private), "created_at": now, "sdk": sdk})
        with self.writing():
            oid = self.put_blob(GITATTRIBUTES)
            first = self._write_commit(tmp, parents=[], author=owner, summary="initial commit", description="",
                                       tree={".gitattributes": {"oid": oid, "size": len(GITATTRIBUTES)}})
            _write_json(tmp / "refs.json", {DEFAULT_BRANCH: first.id})
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(tmp, final)  # fails if another request created it meanwhile
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
                raise Conflict(f"You already created this {repo_type} repo: {repo_id}") from None
        repo = self.get_repo(repo_type, repo_id)
        with self._repo_lock(repo):
            self._index(repo)
        return repo

    def delete_repo(self, repo_type: str, repo_id: str) -> None:
        repo = self.get_repo(repo_type, repo_id)
        trash = self.root / "trash" / uuid.uuid4().hex
        with self._repo_lock(repo):
            os.rename(repo.path, trash)
            self.index.delete(repo.type, repo.id)
        shutil.rmtree(trash, ignore_errors=True)

    def set_private(self, repo: Repo, private: bool) -> None:
        with self._repo_lock(repo):
            meta = _read_json(repo.path / "repo.json")
            meta["private"] = bool(private)
            _write_json(repo.path / "repo.json", meta)
            self._index(repo)

    # ------------------------------------------------------------- revisions
    def refs(self, repo: Repo) -> dict[str, str]:
        return _read_json(repo.path / "refs.json")

    def resolve(self, repo: Repo, revision: str | None) -> str:
        """A branch name or a commit id (full, or a prefix of 7+ hex chars) to a commit id."""
        rev = (revision or DEFAULT_BRANCH).removeprefix("refs/heads/")
        refs = self.refs(repo)
        if rev in refs:
            return refs[rev]
        if re.fullmatch(r"[0-9a-f]{7,40}", rev):
            if len(rev) == 40 and (repo.path / "commits" / f"{rev}.json").exists():
                return rev
            matches = [p.stem for p in (repo.path / "commits").glob(f"{rev}*.json")]
            if len(matches) == 1:
                return matches[0]
        raise RevisionNotFound(f"Invalid rev id: {rev}")

    def read_commit(self, repo: Repo, commit_id: str) -> Commit:
        """A commit, from memory when read recently: commits never change, and each file a snapshot downloads
        looks its path up in the tree (a 1,000-file snapshot would otherwise parse the tree 1,000 times)."""
        key = (str(repo.path), commit_id)
        with self._commits_lock:
            if (hit := self._commits.get(key)) is not None:
                self._commits.move_to_end(key)
                return hit
        commit = Commit(id=commit_id, **_read_json(repo.path / "commits" / f"{commit_id}.json"))
        with self._commits_lock:
            self._commits[key] = commit
            self._cached_entries += len(commit.tree)
            while self._cached_entries > MAX_CACHED_TREE_ENTRIES and len(self._commits) > 1:
                _, old = self._commits.popitem(last=False)
                self._cached_entries -= len(old.tree)
        return commit

    def history(self, repo: Repo, revision: str | None) -> Iterator[Commit]:
        """The commits from ``revision`` back to the first, newest first, read as they are needed."""
        cid = self.resolve(repo, revision)
        while cid:
            c = self.read_commit(repo, cid)
            yield c
            cid = c.parents[0] if c.parents else None

    def create_branch(self, repo: Repo, branch: str, start: str | None) -> None:
        validate_branch(branch)
        with self._repo_lock(repo):
            refs = self.refs(repo)
            if branch in refs:
                raise Conflict(f"Reference already exists: refs/heads/{branch}")
            refs[branch] = self.resolve(repo, start)
            _write_json(repo.path / "refs.json", refs)

    def delete_branch(self, repo: Repo, branch: str) -> None:
        with self._repo_lock(repo):
            refs = self.refs(repo)
            if branch == DEFAULT_BRANCH:
                raise HubError("The main branch cannot be deleted", status=403)
            if refs.pop(branch, None) is None:
                raise RevisionNotFound(f"Invalid rev id: {branch}")
            _write_json(repo.path / "refs.json", refs)

    # ----------------------------------------------------------------- blobs
    def blob_path(self, oid: str) -> Path:
        return self.root / "blobs" / oid[:2] / oid[2:]

    def put_blob(self, data: bytes, sync: bool = True) -> str:
        """Store file contents under their git blob id (idempotent) and return the id. With ``sync`` False the
        caller calls sync_blobs() before a commit refers to it."""
        oid = git_blob_oid(data)
        path = self.blob_path(oid)
        try:
            # Stored before: young again, so that gc's age test keeps it. A size that differs is what a crash
            # before sync_blobs can leave (a renamed file whose data never reached the disk): written again.
            if path.stat().st_size == len(data):
                os.utime(path)
                return oid
        except FileNotFoundError:
            pass
        _atomic_write(path, data, sync=sync)
        return oid

    def sync_blobs(self) -> None:
        sync_filesystem(self.root / "blobs")

    # ----------------------------------------------------------- large files
    def lfs_record(self, sha256: str, user: str) -> Path:
        if not isinstance(sha256, str) or not SHA256_RE.match(sha256):
            raise HubError(f"Invalid sha256 {sha256!r}: expected 64 lowercase hex characters")
        return self.root / "lfs" / user / sha256[:2] / sha256[2:]

    def large_file(self, sha256: str, user: str) -> tuple[str, int] | None:
        """(blob id, size) of a large file ``user`` uploaded before, refreshed so gc keeps it for a commit about to
        name it; None when it was never uploaded or gc has removed it since (then the client uploads it again)."""
        try:
            rec = _read_json(self.lfs_record(sha256, user))
            path = self.blob_path(rec["oid"])
            if path.stat().st_size != rec["size"]:
                return None
            os.utime(path)
            return rec["oid"], rec["size"]
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None

    def blob_writer(self, size: int, user: str) -> "BlobWriter":
        return BlobWriter(self, size, user)

    # --------------------------------------------------------------- commits
    def _write_commit(self, repo_dir: Path, *, parents: list[str], author: str, summary: str,
                      description: str, tree: dict[str, dict]) -> Commit:
        body = {"parents": parents, "author": author, "summary": summary, "description": description,
                "date": time.time(), "tree": tree}
        payload = json.dumps(body, sort_keys=True).encode()
        cid = hashlib.sha1(b"commit %d\0" % len(payload) + payload + secrets.token_bytes(8)).hexdigest()
        _write_json(repo_dir / "commits" / f"{cid}.json", body)
        return Commit(id=cid, **body)

    def commit(self, repo: Repo, branch: str, ops: list[FileOp], *, author: str, summary: str,
               description: str = "", parent_commit: str | None = None) -> Commit:
        """Apply ``ops`` on top of the branch head, under the repo lock, and move the branch."""
        with self._repo_lock(repo):
            if not (repo.path / "repo.json").exists():
                raise RepoNotFound(f"Repository {repo.id} not found")
            refs = self.refs(repo)
            if branch not in refs:
                raise RevisionNotFound(f"Invalid rev id: {branch}")
            head = refs[branch]
            if parent_commit and parent_commit != head:
                raise PreconditionFailed(
                    f"A commit has happened since {parent_commit[:8]}; {branch} is now at {head[:8]}. "
                    "Pull the new head and retry.")
            tree = dict(self.read_commit(repo, head).tree)
            for op in ops:
                if op.kind == "add":
                    tree[op.path] = {"oid": op.oid, "size": op.size, **({"lfs": op.sha256} if op.sha256 else {})}
                elif op.kind == "delete":
                    if tree.pop(op.path, None) is None:
                        raise EntryNotFound(f"{op.path} does not exist in {repo.id}@{branch}")
                elif op.kind == "delete_folder":
                    prefix = op.path.rstrip("/") + "/"
                    for p in [p for p in tree if p.startswith(prefix)]:
                        del tree[p]
                elif op.kind == "copy":
                    src_tree = tree if not op.src_revision else self.read_commit(repo, self.resolve(repo, op.src_revision)).tree
                    if op.src_path not in src_tree:
                        raise EntryNotFound(f"{op.src_path} does not exist in {repo.id}")
                    tree[op.path] = dict(src_tree[op.src_path])
            _check_clashes(tree)
            new = self._write_commit(repo.path, parents=[head], author=author, summary=summary,
                                     description=description, tree=tree)
            refs[branch] = new.id
            _write_json(repo.path / "refs.json", refs)  # the moment the commit becomes visible
            if branch == DEFAULT_BRANCH:
                self._index(repo)
            return new

    def garbage_collect(self, min_age_s: float = 3600) -> int:
        """Remove blobs that no commit of any repo references and that are older than ``min_age_s``, and the
        temporary files interrupted writes left. Returns how many blobs were removed."""
        with self._flock(self.root / ".gc.lock"):  # no commit is between storing its blobs and its new ref
            live: set[str] = set()
            for repo_type in REPO_TYPES:
                for repo in self.list_repos(repo_type):
                    for p in (repo.path / "commits").glob("*.json"):
                        live.update(v["oid"] for v in _read_json(p)["tree"].values())
            removed, cutoff = 0, time.time() - min_age_s
            for p in (self.root / "blobs").glob("*/*"):
                with contextlib.suppress(FileNotFoundError):
                    if p.name.startswith(".tmp-"):
                        if p.stat().st_mtime < cutoff:
                            p.unlink()
                    elif p.parent.name + p.name not in live and p.stat().st_mtime < cutoff:
                        p.unlink()
                        removed += 1
            old = itertools.chain((self.root / "repos").glob("*/*/*/commits/.tmp-*"), (self.root / "tmp").glob("upload-*"),
                                  (self.root / "xet").glob("*/xorbs/*/*"), (self.root / "xet").glob("*/maps/*/.tmp-*"),
                                  (self.root / "lfs").glob("*/*/.tmp-*"))
            for p in old:  # interrupted writes, and Xet containers whose files were rebuilt long ago
                with contextlib.suppress(FileNotFoundError):
                    if p.stat().st_mtime < cutoff:
                        p.unlink()
            for p in (self.root / "lfs").glob("*/*/*"):  # records of large files whose blob is gone
                with contextlib.suppress(FileNotFoundError, ValueError, KeyError):
                    if not p.name.startswith(".tmp-") and not self.blob_path(_read_json(p)["oid"]).exists():
                        p.unlink()
            for p in (self.root / "xet").glob("*/maps/*/*"):  # chunk maps none of whose blobs is left
                with contextlib.suppress(FileNotFoundError, ValueError, TypeError, IndexError):
                    if not p.name.startswith(".tmp-") and not any(self.blob_path(r[0]).exists()
                                                                  for r in json.loads(p.read_text())):
                        p.unlink()
        return removed


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The Git LFS pointer file that stands for a large file in git (https://git-lfs.com/spec/v1)."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


class BlobWriter:
    """A large file streamed to disk at constant memory and verified by its sha256; on :meth:`finish` it becomes a
    blob and an ``lfs/`` record, or nothing at all. Its blob id is the git id of its LFS pointer (what a git
    tree holds for it on huggingface.co), so the bytes are hashed once, by sha256, not also by sha1.

    :meth:`write` and :meth:`hash` may run in two threads at once (both release the GIL); :meth:`update` does both."""

    def __init__(self, store: HubStore, size: int, user: str):
        if not isinstance(size, int) or size < 0:
            raise HubError(f"Invalid size {size!r}")
        self.store, self.size, self.user, self.written = store, size, user, 0
        self.sha256 = hashlib.sha256()
        fd, self.tmp = tempfile.mkstemp(dir=store.root / "tmp", prefix="upload-")
        self.file = os.fdopen(fd, "wb")

    def write(self, data: bytes | memoryview) -> None:
        if self.written + len(data) > self.size:
            raise HubError(f"The upload is longer than the {self.size} bytes it announced", status=400)
        self.file.write(data)
        self.written += len(data)

    def hash(self, data: bytes | memoryview) -> None:
        self.sha256.update(data)

    def update(self, data: bytes) -> None:
        self.write(data)
        self.hash(data)

    def finish(self, expect_sha256: str | None = None) -> tuple[str, str, int]:
        """Verify and store; returns (sha256, blob id, size)."""
        if self.written != self.size:
            raise HubError(f"The upload ended after {self.written} of the {self.size} bytes it announced")
        sha256 = self.sha256.hexdigest()
        if expect_sha256 is not None and sha256 != expect_sha256:
            raise HubError(f"The uploaded bytes have sha256 {sha256}, not {expect_sha256}: upload them again")
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        oid = git_blob_oid(lfs_pointer(sha256, self.size))
        with self.store.writing():
            path = self.store.blob_path(oid)
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                if path.stat().st_size == self.size:
                    os.utime(path)
                    os.unlink(self.tmp)
                else:
                    os.replace(self.tmp, path)
            except FileNotFoundError:
                os.replace(self.tmp, path)
            _atomic_write(self.store.lfs_record(sha256, self.user), json.dumps({"oid": oid, "size": self.size}).encode())
        return sha256, oid, self.size

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp)

    def __enter__(self) -> "BlobWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.file.closed:
            self.abort()
