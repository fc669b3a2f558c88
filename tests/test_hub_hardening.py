"""The hub server attacked as an adversary would: malformed and oversized requests, slow clients, races, a full
disk, active content, card metadata bombs. Every answer is a 4xx (or 507) with a message; state stays intact."""
from __future__ import annotations

import errno
import json
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from conftest import ROOT


def _auth(hub_server, user="alice"):
    return {"Authorization": f"Bearer {hub_server.tokens[user]}"}


def _ndjson(*items) -> bytes:
    return b"".join(json.dumps(i).encode() + b"\n" for i in items)


def _message(r: httpx.Response) -> str:
    try:
        body = r.json()
    except ValueError:
        body = {}
    return r.headers.get("x-error-message") or (body.get("error") if isinstance(body, dict) else "") or ""


@pytest.fixture
def own_server(tmp_path, monkeypatch):
    """A hub of the test's own (to patch its timeouts or its disk), with alice's token."""
    from hub.server import start_in_thread
    from hub.server.storage import HubStore

    servers = []

    def start(**patches):
        from hub.server import guard

        for name, value in patches.items():
            monkeypatch.setattr(guard, name, value)
        token = HubStore(tmp_path).add_token("alice")
        server = start_in_thread(tmp_path)
        servers.append(server)
        return server, token

    yield start
    for s in servers:
        s.stop()


def test_a_fuzz_of_malformed_requests_gets_4xx_with_a_message(hub_server, repo_name):
    """A few hundred malformed requests to the endpoints the clients use: each answered 4xx with a readable
    message, none with a 500, a dropped connection or a hang."""
    repo = f"alice/{repo_name}"
    hub_server.api().create_repo(repo)
    url, auth = hub_server.url, _auth(hub_server)
    deep = "[" * 100_000 + "]" * 100_000
    bodies = [b"", b"not json", b"[]", b"3", b'"x"', b"null", b"{", deep.encode(), b'{"name": 5}',
              b'{"name": ["a"], "organization": {}}', b'{"type": 7}', b'{"private": "no", "name": "x"}',
              b'{"name": "\\u00e9t\\u00e9\\u4e2d"}', b'{"name": "a\\u0000b"}', b'{"files": "x"}',
              b'{"files": [{"path": 5}]}', b'{"files": [5]}', b'{"startingPoint": []}', "{\"name\": \"ü\"}".encode(),
              b"\xff\xfe\x00garbage"]
    commit_bodies = [
        b"", b"\n\n", b"[1,2]\n", b'{"key": "header"}\n', b'{"key": "header", "value": 5}\n',
        b'{"key": "header", "value": {"summary": "s"}}\n{"key": "file", "value": []}\n',
        b'{"key": "header", "value": {"summary": "s"}}\n{"key": "file", "value": {"path": 5, "content": ""}}\n',
        b'{"key": "header", "value": {"summary": "s"}}\n{"key": "file", "value": {"path": "a", "content": "%%%",'
        b' "encoding": "base64"}}\n',
        b'{"key": "header", "value": {"summary": "s"}}\n{"key": "deletedFile", "value": {"path": null}}\n',
        b'{"key": "header", "value": {"summary": "s"}}\n{"key": "copyFile", "value": {"path": "a", "srcPath": 3}}\n',
        b'{"key": "header", "value": {"summary": []}}\n', b'{"key": 5, "value": {}}\n', deep.encode() + b"\n",
        b'{"key": "header", "value": {"summary": "s"}}\n{"key": "nope", "value": {}}\n',
        b'{"key": "header", "value": {"summary": "s", "parentCommit": 5}}\n',
    ]
    requests: list[tuple[str, str, bytes, dict]] = []
    for body in bodies:
        for method, path in (("POST", "/api/repos/create"), ("DELETE", "/api/repos/delete"),
                             ("PUT", f"/api/models/{repo}/settings"), ("POST", f"/api/models/{repo}/preupload/main"),
                             ("POST", f"/api/models/{repo}/branch/b1"), ("POST", "/api/validate-yaml"),
                             ("POST", f"/api/models/{repo}/paths-info/main"),
                             ("POST", f"/{repo}.git/info/lfs/objects/batch")):
            for headers in (auth, {}):
                requests.append((method, path, body, {**headers, "Content-Type": "application/json"}))
    for body in commit_bodies:
        requests.append(("POST", f"/api/models/{repo}/commit/main", body, auth))
    for path in ("/api/models/alice/%00x", "/api/models/alice/x%0Ay", "/api/models/%C3%A9t%C3%A9/x",
                 f"/{repo}/resolve/main/%00", f"/{repo}/resolve/%00/a", f"/api/models/{repo}/tree/main/%2e%2e",
                 f"/api/models/{repo}/revision/%00", "/api/models?limit=abc", "/api/models?cursor=-5&limit=x",
                 f"/api/models/{repo}/commits/%ff", "/api/nonsense/a/b", f"/{repo}/resolve/main/" + "a" * 5000):
        for headers in (auth, {}):
            requests.append(("GET", path, b"", headers))
    xet = {"Authorization": "Bearer " + httpx.get(f"{url}/api/models/{repo}/xet-write-token/main", headers=auth
                                                  ).json()["accessToken"]}
    for body in bodies + commit_bodies:  # the large-file uploads: a shard, a xorb, an LFS link
        for method, path, headers in (("POST", "/xet/v1/shards", xet), ("POST", "/xet/v1/xorbs/default/" + "0" * 64, {}),
                                      ("POST", "/xet/v1/xorbs/default/nothex", xet),
                                      ("PUT", "/api/lfs-upload/eyJrIjoibGZzIn0.x", {})):
            requests.append((method, path, body, headers))
    for name in ("é", "中文", "a\x01b"):
        requests.append(("POST", "/api/repos/create", json.dumps({"name": name}).encode(),
                         {**auth, "Content-Type": "application/json"}))
    assert len(requests) > 250
    bad = []
    with httpx.Client(timeout=15) as client:
        for method, path, body, headers in requests:
            try:
                r = client.request(method, url + path, content=body, headers=headers)
            except httpx.HTTPError as e:
                bad.append((method, path, body[:40], type(e).__name__))
                continue
            if not (400 <= r.status_code < 500 and _message(r)) and r.status_code not in (200, 409):
                bad.append((method, path, body[:40], r.status_code, r.text[:80]))
    assert not bad, bad[:10]
    assert hub_server.api().repo_info(repo).id == repo  # and the server still serves


def test_error_messages_in_any_script_reach_the_header(hub_server):
    r = httpx.get(f"{hub_server.url}/api/models/alice/" + "%E4%B8%AD%E6%96%87")
    assert r.status_code == 400 and "\\u4e2d\\u6587" in r.headers["x-error-message"]
    assert "中文" in r.json()["error"]


def test_a_request_without_a_token_cannot_make_the_hub_hold_its_body(hub_server):
    """Declared too large: refused before a byte of the body is read. Chunked, or longer than it said: refused
    once it passes the ~1 MB a stranger may send."""
    host, port = hub_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"POST /api/repos/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 209715200\r\n\r\n")
        answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413") and b"without a token" in answer

    def chunks():
        for _ in range(200):  # 200 x 64 KiB: 12.5 MiB, if the server took it all
            yield b"x" * 65536

    for path in ("/api/repos/create", "/api/validate-yaml", "/api/models/alice/x/commit/main"):
        try:
            r = httpx.post(hub_server.url + path, content=chunks(), timeout=15)
        except httpx.HTTPError:  # the server answered and closed while the client was still sending: fine
            continue
        assert r.status_code in (401, 413), (path, r.status_code)
    r = httpx.post(f"{hub_server.url}/api/repos/create", headers={**_auth(hub_server)}, json={"name": "x" * 2_000_000})
    assert r.status_code == 400 or r.status_code == 413  # a token lifts the limit to 16 MB; the name is still bad


def test_an_invalid_token_learns_nothing_a_missing_repo_would_not(hub_server, repo_name):
    private = f"alice/{repo_name}"
    hub_server.api().create_repo(private, private=True)
    bad = {"Authorization": "Bearer hf_notarealtoken000000000000000000000"}
    answers = [httpx.get(f"{hub_server.url}/api/models/{r}", headers=bad) for r in (private, f"alice/{repo_name}-no")]
    assert answers[0].status_code == answers[1].status_code == 401
    assert answers[0].text == answers[1].text


def test_slow_clients_are_cut_off(own_server):
    server, token = own_server(HEADER_TIMEOUT=1.0, BODY_IDLE_TIMEOUT=1.0)
    host, port = server.url.removeprefix("http://").split(":")
    t = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # half the headers, then nothing
        assert s.recv(4096) == b""  # closed by the server
    assert time.monotonic() - t < 5
    with socket.create_connection((host, int(port)), timeout=10) as s:  # a body that stalls
        s.sendall(f"POST /api/repos/create HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                  "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"na".encode())
        assert s.recv(4096).startswith(b"HTTP/1.1 408")
    assert httpx.get(server.url + "/health").status_code == 200


def test_one_client_cannot_hold_every_connection(own_server):
    server, _ = own_server(MAX_CONNECTIONS_PER_CLIENT=5)
    host, port = server.url.removeprefix("http://").split(":")
    held = [socket.create_connection((host, int(port)), timeout=10) for _ in range(5)]
    try:
        time.sleep(0.3)
        with socket.create_connection((host, int(port)), timeout=10) as extra:
            try:  # closed at once, this address already holds five: an empty read, or a reset
                extra.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                assert extra.recv(4096) == b""
            except ConnectionResetError:
                pass
    finally:
        for s in held:
            s.close()
    time.sleep(0.3)
    assert httpx.get(server.url + "/health").status_code == 200  # freed


def test_a_full_disk_answers_507_and_changes_nothing(own_server, monkeypatch):
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    from hub.server import storage

    server, token = own_server()
    api = HfApi(endpoint=server.url, token=token)
    api.create_repo("alice/full")
    api.upload_file(path_or_fileobj=b"before", path_in_repo="a.txt", repo_id="alice/full")
    head = api.repo_info("alice/full").sha

    def full(path, data, sync=True):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(storage, "_atomic_write", full)
    with pytest.raises(HfHubHTTPError) as e:
        api.upload_file(path_or_fileobj=b"after", path_in_repo="b.txt", repo_id="alice/full")
    assert e.value.response.status_code == 507 and "disk is full" in e.value.response.headers["x-error-message"]
    assert str(server.data_dir) not in e.value.response.text
    for call in (lambda: api.create_repo("alice/other"), lambda: api.create_branch("alice/full", branch="b")):
        with pytest.raises(HfHubHTTPError) as e:
            call()
        assert e.value.response.status_code == 507
    monkeypatch.undo()
    assert api.repo_info("alice/full").sha == head and api.list_repo_files("alice/full") == [".gitattributes", "a.txt"]


def test_served_files_cannot_run_script_on_the_hubs_origin(hub_server, repo_name):
    api, repo = hub_server.api(), f"alice/{repo_name}"
    api.create_repo(repo)
    for name in ("page.html", "image.svg", "notes.txt"):
        api.upload_file(path_or_fileobj=b"<script>alert(1)</script>", path_in_repo=name, repo_id=repo)
    for name, disposition in (("page.html", "attachment"), ("image.svg", "attachment"), ("notes.txt", "inline")):
        r = httpx.get(f"{hub_server.url}/{repo}/resolve/main/{name}")
        assert r.status_code == 200 and r.headers["content-disposition"].startswith(disposition)
        assert "sandbox" in r.headers["content-security-policy"] and r.headers["x-content-type-options"] == "nosniff"


def test_card_metadata_is_bounded(hub_server, repo_name):
    """A README of nested YAML aliases (a few hundred bytes that expand to gigabytes as JSON) is refused at commit;
    so is metadata nested too deep or too large."""
    api, repo = hub_server.api(), f"alice/{repo_name}"
    api.create_repo(repo)
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 8)]
    for card in ("---\n" + "\n".join(levels) + "\n---\n", "---\nx: " + "[" * 40 + "]" * 40 + "\n---\n",
                 "---\nx: '" + "y" * 70_000 + "'\n---\n"):
        with pytest.raises(ValueError, match="alias|deeper|over 64 KB"):  # the client checks a card before upload
            api.upload_file(path_or_fileobj=card.encode(), path_in_repo="README.md", repo_id=repo)
        body = _ndjson({"key": "header", "value": {"summary": "s"}},
                       {"key": "file", "value": {"path": "README.md", "content": card}})
        r = httpx.post(f"{hub_server.url}/api/models/{repo}/commit/main", content=body, headers=_auth(hub_server))
        assert r.status_code == 400 and _message(r)  # and so does the hub, for a client that does not
    r = httpx.post(f"{hub_server.url}/api/validate-yaml", json={"content": "---\n" + "\n".join(levels) + "\n---\n"})
    assert r.status_code == 400 and "alias" in r.text
    assert len(httpx.get(f"{hub_server.url}/api/models/{repo}").content) < 10_000


def test_gc_never_deletes_a_blob_a_commit_is_about_to_use(tmp_path):
    """The interleaving forced: a commit stores a blob gc sees as old and unreferenced, then gc runs (min age 0),
    then the commit lands. gc waits for the commit; the blob survives. A re-stored blob is young again."""
    import os

    from hub.server.storage import FileOp, HubStore

    store = HubStore(tmp_path)
    repo = store.create_repo("model", "alice/m", "alice")
    data = b"weights that were pushed, deleted, and are pushed again"
    oid = store.put_blob(data)
    old = time.time() - 7200
    os.utime(store.blob_path(oid), (old, old))
    stored, gc_started = threading.Event(), threading.Event()

    def commit():
        with store.writing():
            store.put_blob(data)
            os.utime(store.blob_path(oid), (old, old))  # as if refreshing had not happened: the lock alone holds
            stored.set()
            gc_started.wait(10)
            time.sleep(0.3)  # gc is blocked meanwhile
            store.commit(repo, "main", [FileOp("add", "w.bin", oid=oid, size=len(data))], author="alice", summary="s")

    writer = threading.Thread(target=commit)
    writer.start()
    assert stored.wait(10)
    removed = []
    collector = threading.Thread(target=lambda: removed.append(store.garbage_collect(min_age_s=0)))
    collector.start()
    gc_started.set()
    writer.join(10)
    collector.join(10)
    assert store.blob_path(oid).read_bytes() == data and removed == [0]
    # Outside a commit, an unreferenced blob older than the age goes; storing it again first makes it young.
    other = store.put_blob(b"orphan")
    os.utime(store.blob_path(other), (old, old))
    store.put_blob(b"orphan")
    assert store.garbage_collect(min_age_s=3600) == 0
    os.utime(store.blob_path(other), (old, old))
    assert store.garbage_collect(min_age_s=3600) == 1 and not store.blob_path(other).exists()


def test_deleting_a_repo_during_an_upload_leaves_no_ghost(tmp_path):
    """The interleaving forced: a delete holds the repo's lock, a commit waits on it. Once both are done the name
    is free: it can be created again."""
    from hub.server.storage import FileOp, HubError, HubStore

    store = HubStore(tmp_path)
    for round_ in range(3):
        repo = store.create_repo("model", "alice/ghost", "alice")
        oid = store.put_blob(b"x")
        lock = store._repo_lock(repo)
        lock.__enter__()
        errors = []

        def commit():
            try:
                store.commit(repo, "main", [FileOp("add", "x", oid=oid, size=1)], author="alice", summary="s")
            except HubError as e:
                errors.append(e)

        deleter = threading.Thread(target=store.delete_repo, args=("model", "alice/ghost"))
        deleter.start()
        time.sleep(0.2)
        writer = threading.Thread(target=commit)
        writer.start()
        time.sleep(0.2)
        lock.__exit__(None, None, None)
        deleter.join(10)
        writer.join(10)
        assert not (tmp_path / "repos" / "model" / "alice" / "ghost").exists(), round_
        assert store.create_repo("model", "alice/ghost", "alice").id == "alice/ghost"
        store.delete_repo("model", "alice/ghost")


def test_commits_and_settings_take_only_what_a_checkout_and_json_can(hub_server, repo_name):
    from huggingface_hub import CommitOperationAdd
    from huggingface_hub.errors import HfHubHTTPError

    api, repo = hub_server.api(), f"alice/{repo_name}"
    api.create_repo(repo)
    api.upload_file(path_or_fileobj=b"a file", path_in_repo="weights", repo_id=repo)
    with pytest.raises(HfHubHTTPError) as e:  # a folder where a file is
        api.create_commit(repo, [CommitOperationAdd("weights/part1.bin", b"x")], commit_message="clash")
    assert e.value.response.status_code == 400 and "is a file" in str(e.value)
    with pytest.raises(HfHubHTTPError) as e:
        api.create_branch(repo, branch="feature/x")
    assert e.value.response.status_code == 400 and "without '/'" in str(e.value)
    r = httpx.put(f"{hub_server.url}/api/models/{repo}/settings", json={"private": "no"}, headers=_auth(hub_server))
    assert r.status_code == 400 and "true or false" in r.text
    assert api.repo_info(repo).private is False


def test_tokens_are_listed_and_revoked_from_the_command_line(tmp_path):
    from hub.server.storage import HubStore

    store = HubStore(tmp_path)
    alice, bob = store.add_token("alice"), store.add_token("bob")

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "hub.server", *args, "--data-dir", str(tmp_path)],
                              capture_output=True, text=True, cwd=ROOT)

    listed = cli("tokens")
    assert listed.returncode == 0 and "alice" in listed.stdout and "bob" in listed.stdout
    assert alice not in listed.stdout and bob not in listed.stdout
    bob_id = next(line.split()[0] for line in listed.stdout.splitlines() if " bob " in line)
    assert cli("revoke", "--id", bob_id).returncode == 0
    assert store.user_for_token(bob) is None and store.user_for_token(alice) == "alice"
    assert cli("revoke", "--user", "alice").stdout.startswith("revoked 1 token")
    assert store.user_for_token(alice) is None
    assert cli("revoke", "--user", "nobody").returncode == 1
    gc = cli("gc", "--min-age-hours", "0")
    assert gc.returncode == 0 and gc.stdout.startswith("removed ")


def test_listings_page_through_the_official_client(hub_server, repo_name):
    """Trees and histories come in pages the client follows (Link: rel="next"); every file and commit arrives once."""
    from hub.server.storage import FileOp, HubStore

    api, repo_id = hub_server.api(), f"alice/{repo_name}"
    api.create_repo(repo_id)
    store = HubStore(hub_server.data_dir)  # the server's data, written directly: faster than 2,500 uploads
    repo = store.get_repo("model", repo_id)
    oid = store.put_blob(b"x")
    store.commit(repo, "main", [FileOp("add", f"d{i % 7}/f{i:04d}.txt", oid=oid, size=1) for i in range(2500)],
                 author="alice", summary="many files")
    for i in range(149):
        store.commit(repo, "main", [FileOp("add", f"log/{i}.txt", oid=oid, size=1)], author="alice", summary=f"c{i}")
    files = api.list_repo_files(repo_id)
    assert len(files) == len(set(files)) == 2500 + 149 + 1
    r = httpx.get(f"{hub_server.url}/api/models/{repo_id}/tree/main", params={"recursive": "true"})
    assert len(r.json()) == 1000 and 'rel="next"' in r.headers["link"]
    commits = api.list_repo_commits(repo_id)
    assert len(commits) == len({c.commit_id for c in commits}) == 1 + 1 + 149
    assert [c.title for c in commits[:2]] == ["c148", "c147"] and commits[-1].title == "initial commit"


def test_the_repo_index_follows_every_change_and_rebuilds(hub_server, repo_name, tmp_path):
    from huggingface_hub import HfApi

    from hub.server.storage import HubStore

    api, repo_id = hub_server.api(), f"alice/{repo_name}"
    api.create_repo(repo_id)
    card = "---\nlibrary_name: pytorch\npipeline_tag: image-classification\ntags: [index-test]\n---\n# x\n"
    api.upload_file(path_or_fileobj=card.encode(), path_in_repo="README.md", repo_id=repo_id)
    found = [m.id for m in api.list_models(filter="index-test")]
    assert found == [repo_id]
    assert [m.id for m in api.list_models(pipeline_tag="image-classification", search=repo_name)] == [repo_id]
    api.update_repo_settings(repo_id, private=True)
    assert [m.id for m in hub_server.api("bob").list_models(search=repo_name)] == []
    assert [m.id for m in api.list_models(search=repo_name)] == [repo_id]  # its owner still sees it
    api.delete_repo(repo_id)
    assert [m.id for m in api.list_models(search=repo_name)] == []
    # A data dir without an index (from before it, or with the file lost) gets one built from its repos.
    token = HubStore(tmp_path).add_token("carol")
    store = HubStore(tmp_path)
    store.create_repo("model", "carol/kept", "carol")
    store.index.close()
    (tmp_path / "index.sqlite").unlink()
    from hub.server import start_in_thread

    server = start_in_thread(tmp_path)
    try:
        assert [m.id for m in HfApi(endpoint=server.url, token=token).list_models()] == ["carol/kept"]
    finally:
        server.stop()


def test_a_blob_a_crash_left_short_is_written_again(tmp_path):
    """A commit's blobs reach the disk together, once, before the commit refers to them (sync_blobs). A crash before
    that can leave a renamed blob whose data never arrived: the next push of that content writes it again."""
    from hub.server.storage import HubStore, git_blob_oid

    store = HubStore(tmp_path)
    data = b"weights" * 1000
    path = store.blob_path(git_blob_oid(data))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")  # what the crash left
    assert store.put_blob(data, sync=False) == git_blob_oid(data)
    store.sync_blobs()
    assert path.read_bytes() == data
