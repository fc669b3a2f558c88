"""Large files through the hub: Xet (the official client with hf_xet, its default) and Git LFS (without it, or for
file objects), streamed to disk and verified by sha256; what datasets and the folder pipeline send; and the ways an
upload can go wrong (a forged link, the wrong bytes, another uploader's chunks, a killed server, gc in between)."""
from __future__ import annotations

import hashlib
import os
import signal
import socket
import struct
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError

from conftest import ROOT, free_port, own_hub


def _auth(hub_server, user="alice"):
    return {"Authorization": f"Bearer {hub_server.tokens[user]}"}


def _mixed_bytes(n: int, seed: int = 0) -> bytes:
    """Random bytes, float32 weights and zeros: chunks the Xet client stores raw, as LZ4, and byte-grouped."""
    rng = np.random.default_rng(seed)
    third = n // 3
    return (rng.bytes(third) + rng.standard_normal(third // 4).astype(np.float32).tobytes()
            + bytes(n - third - (third // 4) * 4))


def test_xet_and_lfs_uploads_round_trip(hub_server, repo_name, tmp_path):
    api = hub_server.api()
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    data = _mixed_bytes(3_000_000)
    (tmp_path / "w.safetensors").write_bytes(data)
    api.upload_file(path_or_fileobj=str(tmp_path / "w.safetensors"), path_in_repo="xet/w.safetensors", repo_id=repo)
    with open(tmp_path / "w.safetensors", "rb") as f:  # a file object: the client falls back to LFS
        api.upload_file(path_or_fileobj=f, path_in_repo="lfs/w.safetensors", repo_id=repo)
    sha = hashlib.sha256(data).hexdigest()
    files = {f.path: f for f in api.list_repo_tree(repo, recursive=True) if hasattr(f, "lfs")}
    for path in ("xet/w.safetensors", "lfs/w.safetensors"):
        assert files[path].lfs.sha256 == sha and files[path].size == len(data)
        got = hf_hub_download(repo, path, endpoint=hub_server.url, cache_dir=tmp_path / "cache")
        assert open(got, "rb").read() == data
    # Both became one blob on the hub's disk; an unchanged file is not sent again (preupload answers its sha256).
    commits = len(api.list_repo_commits(repo))
    api.upload_file(path_or_fileobj=str(tmp_path / "w.safetensors"), path_in_repo="xet/w.safetensors", repo_id=repo)
    assert len(api.list_repo_commits(repo)) == commits
    # Small text stays inline in the commit; weights, archives and anything of 10 MB go large.
    r = httpx.post(f"{hub_server.url}/api/models/{repo}/preupload/main", headers=_auth(hub_server), json={"files": [
        {"path": "README.md", "size": 100, "sample": ""}, {"path": "a/b.parquet", "size": 10, "sample": ""},
        {"path": "big.txt", "size": 20_000_000, "sample": ""}, {"path": "xet/w.safetensors", "size": 3, "sample": ""}]})
    modes = {f["path"]: (f["uploadMode"], f["oid"]) for f in r.json()["files"]}
    assert modes == {"README.md": ("regular", None), "a/b.parquet": ("lfs", None), "big.txt": ("lfs", None),
                     "xet/w.safetensors": ("lfs", sha)}


def _batch(hub_server, repo: str, data: bytes, user: str = "alice") -> dict:
    r = httpx.post(f"{hub_server.url}/{repo}.git/info/lfs/objects/batch", headers=_auth(hub_server, user),
                   json={"operation": "upload", "transfers": ["basic"], "hash_algo": "sha256",
                         "objects": [{"oid": hashlib.sha256(data).hexdigest(), "size": len(data)}]})
    assert r.status_code == 200, r.text
    return r.json()["objects"][0]


def _commit_lfs(hub_server, repo: str, path: str, sha256: str, size: int, user: str = "alice") -> httpx.Response:
    import json

    body = "\n".join(json.dumps(x) for x in (
        {"key": "header", "value": {"summary": "large"}},
        {"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": sha256, "size": size}}))
    return httpx.post(f"{hub_server.url}/api/models/{repo}/commit/main", content=body,
                      headers={**_auth(hub_server, user), "Content-Type": "application/x-ndjson"})


def test_lfs_uploads_are_verified_and_links_cannot_be_forged(hub_server, repo_name):
    api = hub_server.api()
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    data = os.urandom(200_000)
    sha = hashlib.sha256(data).hexdigest()
    href = _batch(hub_server, repo, data)["actions"]["upload"]["href"]
    # The wrong bytes of the right length: refused, and nothing is kept.
    r = httpx.put(href, content=os.urandom(len(data)))
    assert r.status_code == 400 and "sha256" in r.json()["error"]
    assert "actions" in _batch(hub_server, repo, data)
    # More bytes than the link was made for: refused before the body is read.
    r = httpx.put(href, content=data + b"x")
    assert r.status_code == 413
    # A forged or altered link: 401, the same for any path.
    payload, _, mac = href.rpartition("/")[2].partition(".")
    forged = href.replace(mac, ("A" if mac[0] != "A" else "B") + mac[1:])
    assert httpx.put(forged, content=data).status_code == 401
    assert httpx.put(f"{hub_server.url}/api/lfs-upload/nonsense", content=data).status_code == 401
    # A commit naming bytes that never arrived says so.
    r = _commit_lfs(hub_server, repo, "w.bin", sha, len(data))
    assert r.status_code == 400 and "upload the file again" in r.json()["error"]
    # The right bytes: stored, then committed; the batch now answers "already here" (no action).
    assert httpx.put(href, content=data).status_code == 200
    assert "actions" not in _batch(hub_server, repo, data)
    assert _commit_lfs(hub_server, repo, "w.bin", sha, len(data) + 1).status_code == 400  # wrong size
    assert _commit_lfs(hub_server, repo, "w.bin", sha, len(data)).status_code == 200
    assert open(hf_hub_download(repo, "w.bin", endpoint=hub_server.url), "rb").read() == data
    # Another user who learns the sha256 cannot commit it into their own repo: uploads are per uploader.
    hub_server.api("bob").create_repo(f"bob/{repo_name}")
    r = _commit_lfs(hub_server, f"bob/{repo_name}", "stolen.bin", sha, len(data), user="bob")
    assert r.status_code == 400 and "upload the file again" in r.json()["error"]
    # Without write rights there is no link at all.
    r = httpx.post(f"{hub_server.url}/{repo}.git/info/lfs/objects/batch", headers=_auth(hub_server, "bob"),
                   json={"operation": "upload", "objects": [{"oid": sha, "size": len(data)}]})
    assert r.status_code == 403


def _raw(hex64: str) -> bytes:
    """A hash as the Xet formats store it (the inverse of hub.server.xet.hash_hex)."""
    return b"".join(struct.pack("<Q", int(hex64[i:i + 16], 16)) for i in range(0, 64, 16))


def _shard(xorb_hex: str, data: bytes) -> bytes:
    from hub.server.xet import BOOKEND, FLAG_METADATA_EXT, SHARD_TAG

    header = SHARD_TAG + struct.pack("<QQ", 2, 0)
    file_header = os.urandom(32) + struct.pack("<II", FLAG_METADATA_EXT, 1) + bytes(8)
    entry = _raw(xorb_hex) + struct.pack("<IIII", 0, len(data), 0, 1)
    ext = _raw(hashlib.sha256(data).hexdigest()) + bytes(16)
    bookend = BOOKEND + bytes(16)
    return header + file_header + entry + ext + bookend + bookend


def test_xet_chunks_stay_with_their_uploader(hub_server, repo_name):
    """A xorb's bytes are not checked against its hash, so each uploader's are kept apart: bob cannot build a file
    from alice's xorb, nor pass his own bytes off under the name of hers."""
    def token(user: str) -> dict:
        r = httpx.get(f"{hub_server.url}/api/models/{user}/{repo_name}/xet-write-token/main",
                      headers=_auth(hub_server, user))
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['accessToken']}"}, r.json()["casUrl"]

    for user in ("alice", "bob"):
        hub_server.api(user).create_repo(f"{user}/{repo_name}")
    (alice, cas), (bob, _) = token("alice"), token("bob")
    data = os.urandom(5000)
    xorb = bytes([0]) + len(data).to_bytes(3, "little") + bytes([0]) + len(data).to_bytes(3, "little") + data
    xorb_hex = hashlib.sha256(b"any name").hexdigest()
    assert httpx.post(f"{cas}/v1/xorbs/default/{xorb_hex}", content=xorb, headers=alice).json()["was_inserted"]
    r = httpx.post(f"{cas}/v1/shards", content=_shard(xorb_hex, data), headers=bob)
    assert r.status_code == 400 and "was not uploaded" in r.json()["error"]
    assert httpx.post(f"{cas}/v1/shards", content=_shard(xorb_hex, data), headers=alice).status_code == 200
    sha = hashlib.sha256(data).hexdigest()
    assert _commit_lfs(hub_server, f"alice/{repo_name}", "w.bin", sha, len(data)).status_code == 200
    assert _commit_lfs(hub_server, f"bob/{repo_name}", "w.bin", sha, len(data), user="bob").status_code == 400
    # A Xet token opens the CAS only, and a hub token does not open the CAS.
    assert httpx.get(f"{hub_server.url}/api/whoami-v2", headers=alice).status_code == 401
    assert httpx.post(f"{cas}/v1/shards", content=b"", headers=_auth(hub_server)).status_code == 401
    # A shard that lies about the bytes: the sha256 it names is checked against what the chunks rebuild.
    bad = _shard(xorb_hex, data)
    bad = bad.replace(_raw(sha), _raw(hashlib.sha256(b"other").hexdigest()))
    r = httpx.post(f"{cas}/v1/shards", content=bad, headers=alice)
    assert r.status_code == 400 and "sha256" in r.json()["error"]
    for garbage in (b"", b"\0" * 100, os.urandom(4096)):
        r = httpx.post(f"{cas}/v1/shards", content=garbage, headers=alice)
        assert r.status_code == 400 and r.json()["error"].startswith("Invalid shard")


def test_two_users_push_the_same_bytes_from_one_process(hub_server, repo_name, tmp_path):
    """The app's Push button pushes for many visitors from one process: the Xet client there keeps one cache of
    what it uploaded per CAS address, so each uploader gets an address of their own; else the second push of the
    same bytes leaned on chunks the hub keeps with the first uploader (HTTP 400)."""
    data = os.urandom(2 << 20)
    (tmp_path / "w.bin").write_bytes(data)
    cas = set()
    for user in ("alice", "bob"):
        api = hub_server.api(user)
        api.create_repo(f"{user}/{repo_name}")
        r = httpx.get(f"{hub_server.url}/api/models/{user}/{repo_name}/xet-write-token/main",
                      headers=_auth(hub_server, user))
        cas.add(r.json()["casUrl"])
        api.upload_file(path_or_fileobj=str(tmp_path / "w.bin"), path_in_repo="w.bin", repo_id=f"{user}/{repo_name}")
    assert len(cas) == 2
    for user in ("alice", "bob"):
        got = hf_hub_download(f"{user}/{repo_name}", "w.bin", endpoint=hub_server.url, token=hub_server.tokens[user],
                              cache_dir=tmp_path / f"cache-{user}")
        assert open(got, "rb").read() == data


def test_datasets_push_to_hub_and_a_large_folder(hub_server, repo_name, tmp_path):
    import datasets

    repo = f"alice/{repo_name}"
    ds = datasets.Dataset.from_dict({"text": [f"line {i}" for i in range(500)], "label": [i % 3 for i in range(500)]})
    ds.push_to_hub(repo, token=hub_server.tokens["alice"])
    api = hub_server.api()
    files = api.list_repo_files(repo, repo_type="dataset")
    parquet = next(f for f in files if f.endswith(".parquet"))
    path = hf_hub_download(repo, parquet, repo_type="dataset", endpoint=hub_server.url, cache_dir=tmp_path / "c")
    assert datasets.Dataset.from_parquet(path)["text"][:2] == ["line 0", "line 1"]

    folder = tmp_path / "folder"
    for i in range(12):
        (folder / f"part{i % 3}").mkdir(parents=True, exist_ok=True)
        (folder / f"part{i % 3}" / f"w{i}.safetensors").write_bytes(_mixed_bytes(40_000, seed=i))
    (folder / "notes.txt").write_text("small text goes inline\n")
    api.create_repo(f"{repo}-folder")
    # huggingface_hub 2's upload_folder is what upload_large_folder was: a streamed, resumable pipeline (with hf_xet).
    api.upload_folder(repo_id=f"{repo}-folder", folder_path=folder)
    commits = len(api.list_repo_commits(f"{repo}-folder"))
    api.upload_folder(repo_id=f"{repo}-folder", folder_path=folder)  # run again: every file is skipped
    assert len(api.list_repo_commits(f"{repo}-folder")) == commits
    assert sorted(api.list_repo_files(f"{repo}-folder")) == sorted(
        [".gitattributes", "notes.txt"] + [f"part{i % 3}/w{i}.safetensors" for i in range(12)])
    got = hf_hub_download(f"{repo}-folder", "part1/w4.safetensors", endpoint=hub_server.url, cache_dir=tmp_path / "c")
    assert open(got, "rb").read() == _mixed_bytes(40_000, seed=4)


def test_file_size_limit_is_the_servers(tmp_path):
    with own_hub(tmp_path, max_file=100_000) as (_server, api, _store):
        api.create_repo("alice/limit")
        with open(tmp_path / "big.bin", "wb") as f:
            f.write(os.urandom(150_000))
        with pytest.raises(Exception, match="limit of 100000 bytes"):
            with open(tmp_path / "big.bin", "rb") as f:
                api.upload_file(path_or_fileobj=f, path_in_repo="big.bin", repo_id="alice/limit")
        with pytest.raises(Exception):  # through Xet: the shard is refused with the same message
            api.upload_file(path_or_fileobj=str(tmp_path / "big.bin"), path_in_repo="big.bin", repo_id="alice/limit")
        assert api.list_repo_files("alice/limit") == [".gitattributes"]


def test_gc_between_upload_and_commit_is_caught(tmp_path):
    """gc may remove an uploaded large file no commit names yet (it is old enough); the commit that then names it
    is refused with a message, the client's next try uploads it again, and no tree ever points at a missing blob."""
    with own_hub(tmp_path) as (server, api, store):
        api.create_repo("alice/gc")
        data = os.urandom(100_000)
        sha = hashlib.sha256(data).hexdigest()
        href = httpx.post(f"{server.url}/alice/gc.git/info/lfs/objects/batch",
                          headers={"Authorization": f"Bearer {api.token}"},
                          json={"operation": "upload", "objects": [{"oid": sha, "size": len(data)}]}
                          ).json()["objects"][0]["actions"]["upload"]["href"]
        assert httpx.put(href, content=data).status_code == 200
        assert store.garbage_collect(min_age_s=0) == 1  # uploaded, not committed: gone
        assert not list((tmp_path / "lfs").glob("*/*/*"))  # and so is its record
        with open(tmp_path / "w.bin", "wb") as f:
            f.write(data)
        with open(tmp_path / "w.bin", "rb") as f:  # the client's own flow: batch says "send it", and it does
            api.upload_file(path_or_fileobj=f, path_in_repo="w.bin", repo_id="alice/gc")
        assert store.garbage_collect(min_age_s=0) == 0  # now committed: kept
        assert open(hf_hub_download("alice/gc", "w.bin", endpoint=server.url, cache_dir=tmp_path / "c"),
                    "rb").read() == data


def test_killed_server_mid_upload_leaves_the_previous_state(tmp_path):
    """kill -9 of the hub while a large file streams in: after a restart the repo is as it was, the half file is not
    a blob (gc removes it), and the same upload then succeeds."""
    from hub.server.storage import HubStore

    token = HubStore(tmp_path).add_token("alice")
    port = free_port()
    cmd = [sys.executable, "-m", "hub.server", "serve", "--port", str(port), "--data-dir", str(tmp_path)]
    url = f"http://127.0.0.1:{port}"

    def start() -> subprocess.Popen:
        proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.DEVNULL)
        for _ in range(300):
            try:
                httpx.get(url + "/health", timeout=1)
                return proc
            except httpx.TransportError:
                time.sleep(0.05)
        proc.kill()
        raise RuntimeError("hub server did not start")

    proc = start()
    try:
        api = HfApi(endpoint=url, token=token)
        api.create_repo("alice/killed")
        api.upload_file(path_or_fileobj=b"old weights", path_in_repo="w.bin", repo_id="alice/killed")
        head = api.repo_info("alice/killed").sha
        data = os.urandom(8 * 1024 * 1024)
        sha = hashlib.sha256(data).hexdigest()
        href = httpx.post(f"{url}/alice/killed.git/info/lfs/objects/batch", headers={"Authorization": f"Bearer {token}"},
                          json={"operation": "upload", "objects": [{"oid": sha, "size": len(data)}]}
                          ).json()["objects"][0]["actions"]["upload"]["href"]
        path = "/" + href.split("/", 3)[3]
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(f"PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n\r\n".encode())
            s.sendall(data[:5 * 1024 * 1024])
            for _ in range(100):  # until the server has begun writing the file
                if list((tmp_path / "tmp").glob("upload-*")):
                    break
                time.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        assert list((tmp_path / "tmp").glob("upload-*")), "the upload never reached the disk"
        proc = start()
        assert api.repo_info("alice/killed").sha == head
        assert api.list_repo_files("alice/killed") == [".gitattributes", "w.bin"]
        assert not (tmp_path / "lfs" / "alice" / sha[:2] / sha[2:]).exists()
        subprocess.run([sys.executable, "-m", "hub.server", "gc", "--data-dir", str(tmp_path), "--min-age-hours", "0"],
                       cwd=ROOT, check=True, capture_output=True)
        assert not list((tmp_path / "tmp").glob("upload-*"))
        assert httpx.put(href, content=data).status_code == 200  # the link still works: the upload is retried
        with open(tmp_path / "new.bin", "wb") as f:
            f.write(data)
        api.upload_file(path_or_fileobj=str(tmp_path / "new.bin"), path_in_repo="w.bin", repo_id="alice/killed")
        assert open(hf_hub_download("alice/killed", "w.bin", endpoint=url, cache_dir=tmp_path / "c"),
                    "rb").read() == data
    finally:
        proc.kill()


def test_lfs_endpoint_refuses_what_it_does_not_take(hub_server, repo_name):
    api = hub_server.api()
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    url = f"{hub_server.url}/{repo}.git/info/lfs/objects/batch"
    for body, status in (({"operation": "download", "objects": []}, 400), ({"operation": "upload"}, 400),
                         ([1, 2], 400), ({"operation": "upload", "objects": "x"}, 400)):
        r = httpx.post(url, json=body, headers=_auth(hub_server))
        assert r.status_code == status and r.json()["error"], (body, r.text)
    r = httpx.post(url, headers=_auth(hub_server), json={"operation": "upload", "objects": [
        {"oid": "nothex", "size": 1}, {"oid": "a" * 64, "size": "big"}]})
    assert [o["error"]["code"] for o in r.json()["objects"]] == [422, 422]
    assert httpx.post(url, json={"operation": "upload", "objects": []}).status_code == 401
    assert httpx.post(f"{hub_server.url}/{repo}/info/lfs/objects/batch", json={},
                      headers=_auth(hub_server)).status_code == 404
    with pytest.raises(HfHubHTTPError):
        api.upload_file(path_or_fileobj=b"x", path_in_repo="w.bin", repo_id=f"alice/{repo_name}-missing")


def test_later_xet_uploads_reuse_chunks_after_gc(tmp_path, monkeypatch):
    """The Xet client remembers the chunks it uploaded and names them again when a later file shares them (a
    fine-tuned model with the last one's frozen layers). gc has removed the xorbs by then: the hub rebuilds those
    chunks from the files it made of them."""
    from hub.server import xet

    from_blobs = []
    real = xet.UploaderChunks._blob_bytes
    monkeypatch.setattr(xet.UploaderChunks, "_blob_bytes", lambda self, *a: from_blobs.append(a) or real(self, *a))
    with own_hub(tmp_path / "hub") as (server, api, store):
        api.create_repo("alice/tuned")
        frozen = _mixed_bytes(2_000_000, seed=1)
        (tmp_path / "v1.safetensors").write_bytes(frozen + os.urandom(500_000))
        api.upload_file(path_or_fileobj=str(tmp_path / "v1.safetensors"), path_in_repo="v1.safetensors",
                        repo_id="alice/tuned")
        store.garbage_collect(min_age_s=0)
        assert not list((tmp_path / "hub" / "xet").glob("*/xorbs/*/*"))
        v2 = frozen + os.urandom(700_000)
        (tmp_path / "v2.safetensors").write_bytes(v2)
        api.upload_file(path_or_fileobj=str(tmp_path / "v2.safetensors"), path_in_repo="v2.safetensors",
                        repo_id="alice/tuned")
        got = hf_hub_download("alice/tuned", "v2.safetensors", endpoint=server.url, cache_dir=tmp_path / "c")
        assert open(got, "rb").read() == v2
        assert from_blobs  # the shared chunks came out of v1's blob, not from a new upload
