"""Push and pull of a large weight file through the local hub, against a plain file copy.

Targets: pull within 2x of a copy on the same disk; a second pull of a cached repo < 50 ms.

    .venv/bin/python bench/hub_transfer.py [--mb 200]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--mb", type=int, default=200)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dlp-bench-"))
    os.environ["DLP_HOME"] = str(work / "home")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

    from hub import client as hubs
    from hub.server import start_in_thread
    from hub.server.storage import HubStore

    token = HubStore(work / "srv").add_token("bench")
    server = start_in_thread(work / "srv")
    # The embedded local hub shares this disk (pulls copy blobs); a hub at a URL streams over HTTP.
    local = hubs.Hub("local", server.url, token, server.data_dir)
    remote = hubs.Hub("url", server.url, token)
    folder = work / "model"
    folder.mkdir()
    weights = folder / "model.safetensors"
    with open(weights, "wb") as f:
        for _ in range(args.mb):
            f.write(os.urandom(1024 * 1024))

    t = time.perf_counter()
    shutil.copyfile(weights, work / "copy.bin")
    copy_s = time.perf_counter() - t
    t = time.perf_counter()
    hubs.push_folder(folder, "bench/big", local)
    push_s = time.perf_counter() - t
    print(f"{args.mb} MB weight file: plain copy {copy_s:.2f} s | push {push_s:.2f} s")
    for name, hub in (("local hub (same disk)", local), ("hub at a URL (HTTP)", remote)):
        t = time.perf_counter()
        path = hubs.pull("bench/big", hub)
        pull_s = time.perf_counter() - t
        assert (path / "model.safetensors").read_bytes() == weights.read_bytes()
        again = []
        for _ in range(10):
            t = time.perf_counter()
            hubs.pull("bench/big", hub)
            again.append(time.perf_counter() - t)
        print(f"  {name}: pull {pull_s:.2f} s ({pull_s / copy_s:.1f}x copy), second pull of the cached repo: "
              f"median {sorted(again)[len(again) // 2] * 1000:.1f} ms")
    server.stop()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
