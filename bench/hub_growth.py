"""How the hub's costs grow with the number of repos and files, beside the limit.

- list_models (``GET /api/models``, a full page and ``limit=1``) at 10 / 1,000 / 10,000 repos, each with a card.
- snapshot_download of 1 / 100 / 1,000 small files, against copying the same files on the same disk.
- one commit of 10,000 small files (upload_folder), against copying them.

    .venv/bin/python bench/hub_growth.py [--repos 10,1000,10000] [--files 1,100,1000] [--commit-files 10000]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CARD = b"---\nlibrary_name: pytorch\npipeline_tag: image-classification\ntags: [bench]\n---\n# a model\n"


def median_ms(fn, repeats: int = 7) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repos", default="10,1000,10000")
    p.add_argument("--files", default="1,100,1000")
    p.add_argument("--commit-files", type=int, default=10000)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dlp-bench-"))
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

    import httpx
    from huggingface_hub import HfApi, snapshot_download

    from hub.server import start_in_thread
    from hub.server.storage import FileOp, HubStore

    store = HubStore(work / "hub")
    token = store.add_token("bench")
    server = start_in_thread(work / "hub")
    readme = store.put_blob(CARD)
    http = httpx.Client(timeout=60)  # one connection, as a client that lists pages does
    made = 0
    print("list_models                 repos   page of 1,000   limit=1")
    for target in (int(n) for n in args.repos.split(",")):
        t = time.perf_counter()
        while made < target:
            repo = store.create_repo("model", f"bench/m{made:05d}", "bench")
            store.commit(repo, "main", [FileOp("add", "README.md", oid=readme, size=len(CARD))], author="bench",
                         summary="card")
            made += 1
        built = time.perf_counter() - t
        page = median_ms(lambda: http.get(f"{server.url}/api/models", params={"limit": 1000}).raise_for_status())
        one = median_ms(lambda: http.get(f"{server.url}/api/models", params={"limit": 1}).raise_for_status())
        print(f"                          {target:>6}   {page:8.1f} ms   {one:6.1f} ms   (made in {built:.0f} s)")

    print("snapshot_download           files   snapshot    copying them   ratio")
    for n in (int(x) for x in args.files.split(",")):
        src = work / f"files-{n}"
        src.mkdir()
        ops = []
        for i in range(n):
            data = f"file {i} of {n}\n".encode() * 20
            (src / f"f{i:04d}.txt").write_bytes(data)
            ops.append(FileOp("add", f"f{i:04d}.txt", oid=store.put_blob(data), size=len(data)))
        repo = store.create_repo("model", f"bench/files-{n}", "bench")
        store.commit(repo, "main", ops, author="bench", summary=f"{n} files")
        k = [0]

        def snap():
            k[0] += 1
            snapshot_download(repo.id, endpoint=server.url, token=token, local_dir=work / f"snap-{n}-{k[0]}")

        def copy():
            k[0] += 1
            shutil.copytree(src, work / f"copy-{n}-{k[0]}")

        s, c = median_ms(snap, 3), median_ms(copy, 3)
        print(f"                          {n:>6}   {s:8.0f} ms   {c:8.1f} ms   {s / c:6.0f}x")

    n = args.commit_files
    src = work / "many"
    src.mkdir()
    for i in range(n):
        (src / f"f{i:05d}.txt").write_bytes(f"small file {i}\n".encode())
    api = HfApi(endpoint=server.url, token=token)
    api.create_repo("bench/many")
    t = time.perf_counter()
    api.upload_folder(folder_path=src, repo_id="bench/many")
    up = time.perf_counter() - t
    t = time.perf_counter()
    shutil.copytree(src, work / "many-copy")
    cp = time.perf_counter() - t
    print(f"one commit of {n} files      upload_folder {up:.1f} s, copying them {cp * 1000:.0f} ms")
    server.stop()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
