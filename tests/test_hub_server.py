"""The self-hosted hub through the official huggingface_hub client and raw HTTP."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    HfHubHTTPError, RemoteEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError,
)

from conftest import ROOT, own_hub


def _head(api, repo_id, repo_type="model"):
    return api.repo_info(repo_id, repo_type=repo_type).sha


def test_repo_lifecycle_and_revisions(hub_server, repo_name, tmp_path):
    api = hub_server.api()
    repo = f"alice/{repo_name}"
    assert api.whoami()["name"] == "alice"
    api.create_repo(repo)
    api.create_repo(repo, exist_ok=True)  # relies on 409
    with pytest.raises(HfHubHTTPError):
        api.create_repo(repo)
    first = api.upload_file(path_or_fileobj=b"v1", path_in_repo="w.txt", repo_id=repo).oid
    second = api.upload_file(path_or_fileobj=b"v2", path_in_repo="w.txt", repo_id=repo).oid
    assert len(first) == len(second) == 40 and first != second
    # Branch names and commit ids (full and short) resolve; history is kept.
    for rev, want in (("main", b"v2"), (second, b"v2"), (first, b"v1"), (first[:10], b"v1")):
        path = hf_hub_download(repo, "w.txt", revision=rev, endpoint=hub_server.url, cache_dir=tmp_path / rev)
        assert Path(path).read_bytes() == want
    commits = api.list_repo_commits(repo)
    assert [c.commit_id for c in commits[:2]] == [second, first]
    api.create_branch(repo, branch="exp", revision=first)
    assert api.list_repo_refs(repo).branches[0].name in ("exp", "main")
    assert Path(hf_hub_download(repo, "w.txt", revision="exp", endpoint=hub_server.url,
                                cache_dir=tmp_path / "b")).read_bytes() == b"v1"
    api.upload_file(path_or_fileobj=b"x", path_in_repo="dir/a.txt", repo_id=repo)
    assert api.file_exists(repo, "dir/a.txt") and not api.file_exists(repo, "dir/zz.txt")
    api.delete_folder("dir", repo_id=repo)
    assert sorted(api.list_repo_files(repo)) == [".gitattributes", "w.txt"]
    api.delete_repo(repo)
    assert not api.repo_exists(repo)


def test_unknown_repo_revision_and_file(hub_server, repo_name, tmp_path):
    api = hub_server.api()
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("alice/does-not-exist")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(repo, ".gitattributes", revision="nope", endpoint=hub_server.url, cache_dir=tmp_path)
    with pytest.raises(RevisionNotFoundError):
        api.model_info(repo, revision="0" * 40)
    with pytest.raises(RemoteEntryNotFoundError):
        hf_hub_download(repo, "missing.bin", endpoint=hub_server.url, cache_dir=tmp_path)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("alice/nope", "x", endpoint=hub_server.url, cache_dir=tmp_path)


def test_private_repos_are_invisible_to_others(hub_server, repo_name, tmp_path):
    alice, bob, anon = hub_server.api("alice"), hub_server.api("bob"), hub_server.api(None)
    repo = f"alice/{repo_name}"
    alice.create_repo(repo, private=True)
    alice.upload_file(path_or_fileobj=b"secret", path_in_repo="s.txt", repo_id=repo)
    assert alice.model_info(repo).private
    for other in (bob, anon):
        with pytest.raises(RepositoryNotFoundError):
            other.model_info(repo)
        assert repo not in {m.id for m in other.list_models(author="alice")}
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(repo, "s.txt", endpoint=hub_server.url, token=hub_server.tokens["bob"], cache_dir=tmp_path)
    assert repo in {m.id for m in alice.list_models(author="alice")}
    # Public repos are readable by anyone, writable by the owner only.
    pub = f"alice/{repo_name}-pub"
    alice.create_repo(pub)
    assert anon.model_info(pub).id == pub
    with pytest.raises(HfHubHTTPError) as e:
        bob.upload_file(path_or_fileobj=b"x", path_in_repo="x", repo_id=pub)
    assert e.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError):
        bob.delete_repo(pub)
    with pytest.raises(HfHubHTTPError) as e:
        bob.create_repo(f"alice/{repo_name}-squat")
    assert e.value.response.status_code == 403


def test_bad_and_missing_tokens(hub_server, repo_name):
    from huggingface_hub import HfApi

    bad = HfApi(endpoint=hub_server.url, token="hf_notarealtoken000000000000000000000")
    with pytest.raises(HfHubHTTPError) as e:
        bad.whoami()
    assert e.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError) as e:
        bad.create_repo(f"alice/{repo_name}")
    assert e.value.response.status_code == 401
    anon = hub_server.api(None)
    r = httpx.post(f"{hub_server.url}/api/repos/create", json={"name": repo_name, "organization": "alice"})
    assert r.status_code == 401
    with pytest.raises(Exception):
        anon.whoami()
    # Tokens are stored hashed only.
    stored = (hub_server.data_dir / "tokens.json").read_text()
    assert all(tok not in stored for tok in hub_server.tokens.values())


def _auth(hub_server, user="alice"):
    return {"Authorization": f"Bearer {hub_server.tokens[user]}"}


def _ndjson(*items) -> bytes:
    return b"".join(json.dumps(i).encode() + b"\n" for i in items)


@pytest.mark.parametrize("path", ["../evil.txt", "/abs.txt", "a/../../b", "a//b", ".git/config", "a\\b", "x/./y"])
def test_path_traversal_is_refused(hub_server, repo_name, path):
    api = hub_server.api()
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    before = _head(api, repo)
    body = _ndjson({"key": "header", "value": {"summary": "evil"}},
                   {"key": "file", "value": {"path": path, "content": "eA==", "encoding": "base64"}})
    r = httpx.post(f"{hub_server.url}/api/models/{repo}/commit/main", content=body, headers=_auth(hub_server))
    assert r.status_code == 400, r.text
    assert _head(api, repo) == before
    for evil in ("..%2F..%2Ftokens.json", "%2E%2E/%2E%2E/tokens.json", "../../../tokens.json"):
        r = httpx.get(f"{hub_server.url}/{repo}/resolve/main/{evil}")
        assert r.status_code in (400, 404) and "user" not in r.text


@pytest.mark.parametrize("repo_id", ["alice/..", "alice/a..b", "alice/-x", "alice/a b", "alice/x.git"])
def test_bad_repo_ids_are_refused(hub_server, repo_id):
    ns, name = repo_id.split("/")
    r = httpx.post(f"{hub_server.url}/api/repos/create", json={"name": name, "organization": ns},
                   headers=_auth(hub_server))
    assert r.status_code == 400, r.text


def test_oversize_body_is_refused(tmp_path):
    with own_hub(tmp_path, max_body=4096) as (_server, api, _store):
        api.create_repo("alice/small")
        api.upload_file(path_or_fileobj=b"ok", path_in_repo="ok.txt", repo_id="alice/small")
        with pytest.raises(HfHubHTTPError) as e:
            # Text goes inline in the commit (large and binary files go through LFS/Xet: test_hub_large_files).
            api.upload_file(path_or_fileobj=b"x" * 10_000, path_in_repo="big.txt", repo_id="alice/small")
        assert e.value.response.status_code == 413
        assert api.list_repo_files("alice/small") == [".gitattributes", "ok.txt"]


def test_oversize_json_body_is_refused(hub_server):
    r = httpx.post(f"{hub_server.url}/api/repos/create", headers={**_auth(hub_server), "Content-Type": "application/json"},
                   content=b'{"name": "' + b"x" * (17 * 1024 * 1024) + b'"}')
    assert r.status_code == 413


def test_killed_upload_leaves_previous_state(hub_server, repo_name):
    """A client that dies mid-body: the commit never appears, the old files stay."""
    api = hub_server.api()
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    api.upload_file(path_or_fileobj=b"old", path_in_repo="w.bin", repo_id=repo)
    before = _head(api, repo)
    body = _ndjson({"key": "header", "value": {"summary": "half"}},
                   {"key": "file", "value": {"path": "w.bin", "content": "bmV3" * 100_000, "encoding": "base64"}})
    host, port = hub_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as s:
        s.sendall((f"POST /api/models/{repo}/commit/main HTTP/1.1\r\nHost: {host}\r\n"
                   f"Authorization: Bearer {hub_server.tokens['alice']}\r\nContent-Type: application/x-ndjson\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode())
        s.sendall(body[: len(body) // 2])  # then the connection drops
    api.upload_file(path_or_fileobj=b"after", path_in_repo="other.txt", repo_id=repo)  # server still serves
    files = api.list_repo_files(repo)
    assert sorted(files) == [".gitattributes", "other.txt", "w.bin"]
    assert len(api.list_repo_commits(repo)) == 3  # initial, old, after: nothing from the half upload
    assert api.list_repo_commits(repo)[1].commit_id == before


_CRASH = r"""
import os, sys
sys.path.insert(0, sys.argv[2])
from hub.server import storage
store = storage.HubStore(sys.argv[1])
repo = store.get_repo("model", "alice/crash")
real_replace = os.replace
def dying_replace(src, dst):
    if str(dst).endswith("refs.json"):
        os._exit(9)  # the process dies just before the commit would become visible
    real_replace(src, dst)
os.replace = dying_replace
store.commit(repo, "main", [storage.FileOp("add", "new.bin", oid=store.put_blob(b"new"), size=3)],
             author="alice", summary="doomed")
"""


def test_crash_during_commit_leaves_previous_state(tmp_path):
    from hub.server.storage import FileOp, HubStore

    store = HubStore(tmp_path)
    repo = store.create_repo("model", "alice/crash", "alice")
    store.commit(repo, "main", [FileOp("add", "old.bin", oid=store.put_blob(b"old"), size=3)],
                 author="alice", summary="old")
    before = store.refs(repo)["main"]
    proc = subprocess.run([sys.executable, "-c", _CRASH, str(tmp_path), str(ROOT)], capture_output=True)
    assert proc.returncode == 9, proc.stderr
    assert store.refs(repo)["main"] == before
    assert sorted(store.read_commit(repo, before).tree) == [".gitattributes", "old.bin"]
    # The repo still takes commits after the crash (its lock was released by the dead process).
    store.commit(repo, "main", [FileOp("add", "later.bin", oid=store.put_blob(b"l"), size=1)],
                 author="alice", summary="later")
    assert "later.bin" in store.read_commit(repo, store.refs(repo)["main"]).tree


def test_concurrent_commits_keep_every_file(hub_server, repo_name):
    api = hub_server.api()
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    errors = []

    def push(i: int) -> None:
        try:
            api.upload_file(path_or_fileobj=f"file {i}".encode(), path_in_repo=f"f{i}.txt", repo_id=repo)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=push, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(api.list_repo_files(repo)) == sorted([".gitattributes"] + [f"f{i}.txt" for i in range(8)])
    assert len(api.list_repo_commits(repo)) == 9


def test_parent_commit_is_honoured(hub_server, repo_name):
    api = hub_server.api()
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    stale = _head(api, repo)
    api.upload_file(path_or_fileobj=b"1", path_in_repo="a.txt", repo_id=repo)
    with pytest.raises(HfHubHTTPError) as e:
        api.create_commit(repo, [CommitOperationAdd("b.txt", b"2")], commit_message="late", parent_commit=stale)
    assert e.value.response.status_code == 412
    api.create_commit(repo, [CommitOperationAdd("b.txt", b"2")], commit_message="ok",
                      parent_commit=_head(api, repo))
    assert "b.txt" in api.list_repo_files(repo)


def test_unchanged_files_are_not_resent(hub_server, repo_name, tmp_path):
    api = hub_server.api()
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    (tmp_path / "a.bin").write_bytes(os.urandom(2048))
    api.upload_folder(folder_path=tmp_path, repo_id=repo)
    before = _head(api, repo)
    api.upload_folder(folder_path=tmp_path, repo_id=repo)  # the client skips what preupload says is there
    assert _head(api, repo) == before


def test_dataset_and_space_repos(hub_server, repo_name, tmp_path):
    api = hub_server.api()
    ds, sp = f"alice/{repo_name}-ds", f"alice/{repo_name}-sp"
    api.create_repo(ds, repo_type="dataset")
    api.upload_file(path_or_fileobj=b"text,label\nhi,1\n", path_in_repo="train.csv", repo_id=ds, repo_type="dataset")
    assert ds in {d.id for d in api.list_datasets(author="alice")}
    snap = snapshot_download(ds, repo_type="dataset", endpoint=hub_server.url, cache_dir=tmp_path)
    assert (Path(snap) / "train.csv").read_text().startswith("text,label")
    api.create_repo(sp, repo_type="space", space_sdk="gradio")
    api.upload_file(path_or_fileobj=b"import gradio\n", path_in_repo="app.py", repo_id=sp, repo_type="space")
    assert api.space_info(sp).sdk == "gradio"
    assert sp in {s.id for s in api.list_spaces(author="alice")}
    with pytest.raises(RepositoryNotFoundError):
        api.model_info(ds)  # types are separate namespaces


def test_search_and_filter_use_card_metadata(hub_server, repo_name):
    api = hub_server.api()
    repo = f"alice/{repo_name}-cls"
    api.create_repo(repo)
    card = "---\nlibrary_name: pytorch\npipeline_tag: image-classification\ntags: [lenet]\n---\n# LeNet\n"
    api.upload_file(path_or_fileobj=card.encode(), path_in_repo="README.md", repo_id=repo)
    assert repo in {m.id for m in api.list_models(search=repo_name[:12])}
    assert repo in {m.id for m in api.list_models(pipeline_tag="image-classification")}
    assert repo in {m.id for m in api.list_models(filter="lenet")}
    assert repo not in {m.id for m in api.list_models(pipeline_tag="text-generation")}
    info = api.model_info(repo)
    assert info.pipeline_tag == "image-classification" and info.card_data["library_name"] == "pytorch"
    # A README whose front matter is not YAML is refused before upload.
    with pytest.raises(Exception):
        api.upload_file(path_or_fileobj=b"---\n: : [\n---\n", path_in_repo="README.md", repo_id=repo)


def test_add_token_cli(tmp_path):
    from huggingface_hub import HfApi

    from hub.server import start_in_thread

    out = subprocess.run([sys.executable, "-m", "hub.server", "add-token", "--data-dir", str(tmp_path),
                          "--user", "carol"], capture_output=True, text=True, cwd=ROOT, check=True)
    token = out.stdout.strip()
    assert token.startswith("hf_") and token not in out.stderr
    assert token not in (tmp_path / "tokens.json").read_text()
    server = start_in_thread(tmp_path)
    try:
        assert HfApi(endpoint=server.url, token=token).whoami()["name"] == "carol"
    finally:
        server.stop()
    bad = subprocess.run([sys.executable, "-m", "hub.server", "add-token", "--data-dir", str(tmp_path),
                          "--user", "../x"], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "Invalid user name" in bad.stderr


def test_listing_pages_through_link_headers(hub_server, repo_name):
    api = hub_server.api("bob")
    for i in range(5):
        api.create_repo(f"bob/{repo_name}-{i}")
    r = httpx.get(f"{hub_server.url}/api/models", params={"author": "bob", "search": repo_name, "limit": 2})
    assert len(r.json()) == 2 and 'rel="next"' in r.headers["link"]
    # The official client's pager follows the links and gets every repo once.
    from huggingface_hub.utils._pagination import paginate

    pages = paginate(f"{hub_server.url}/api/models", params={"author": "bob", "search": repo_name, "limit": 2},
                     headers={})
    assert sorted(m["id"] for m in pages) == sorted(f"bob/{repo_name}-{i}" for i in range(5))
    r = httpx.get(f"{hub_server.url}/api/models", params={"limit": "many"})
    assert r.status_code == 400


def test_commit_payload_lines_in_any_layout(hub_server, repo_name, tmp_path):
    """The fast path cuts base64 out of the line; other layouts and text content still parse."""
    api = hub_server.api()
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    long_path = "/".join(["p" * 60] * 5) + ".txt"  # pushes "content" past the first 256 bytes
    body = _ndjson({"key": "header", "value": {"summary": "layouts"}},
                   {"key": "file", "value": {"path": long_path, "encoding": "base64", "content": "bG9uZw=="}},
                   {"value": {"content": "cXVvdGU=", "path": "first.txt", "encoding": "base64"}, "key": "file"},
                   {"key": "file", "value": {"content": 'he said "hi"\\', "path": "text.txt", "encoding": "utf-8"}})
    r = httpx.post(f"{hub_server.url}/api/models/{repo}/commit/main", content=body + b"\n\n",
                   headers=_auth(hub_server))
    assert r.status_code == 200, r.text

    def read(path):
        return Path(hf_hub_download(repo, path, endpoint=hub_server.url, cache_dir=tmp_path)).read_bytes()

    assert read(long_path) == b"long" and read("first.txt") == b"quote" and read("text.txt") == b'he said "hi"\\'
    for bad in (b'{"key": "header", "value": {"summary": "x"}}\n{not json\n',
                b'{"key": "header", "value": {"summary": "x"}}\n{"key": "file", "value": {"content": "@@@", '
                b'"path": "a", "encoding": "base64"}}\n',
                b'{"key": "file", "value": {"content": "eA==", "path": "a", "encoding": "base64"}}\n'):
        r = httpx.post(f"{hub_server.url}/api/models/{repo}/commit/main", content=bad, headers=_auth(hub_server))
        assert r.status_code == 400, r.text
