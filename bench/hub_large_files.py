"""Large files through the hub server, side by side with the limits (issue: "large files at constant memory").

The hub runs as its own process (``python -m hub.server serve``), so its peak memory (VmHWM, reset between phases)
is the server's alone. In A B A B order, medians of ``--rounds``:

- the LFS PUT of a ``--gb`` random file (what huggingface_hub sends without hf_xet) against a raw HTTP PUT of the
  same bytes, by the same client code, to a minimal server (the standard library's, writing to disk, no hashing);
- a download of the file from ``resolve/`` against the same minimal server serving the file as a static file;
- end to end with the official client: ``upload_file`` through LFS (a file object) and through Xet (a path);
- the pushing client's own memory: ``hub.client.push_folder`` of a folder holding a ``--push-mb`` file;
- with ``--huge-gb N``: one N GB (sparse, zero) file through LFS, to show the size limit and constant memory.

    .venv/bin/python bench/hub_large_files.py [--gb 2] [--rounds 2] [--push-mb 200] [--huge-gb 20]
"""
from __future__ import annotations

import argparse
import contextlib
import http.server
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from measure import cpu_seconds, free_port, memory_mb, wait_for  # noqa: E402 (bench/measure.py)
BLOCK = 1024 * 1024


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := current RSS


def random_file(path: Path, size: int) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    with open(path, "wb") as f:
        for start in range(0, size, 16 * BLOCK):
            f.write(rng.bytes(min(16 * BLOCK, size - start)))


def put(url: str, path: Path) -> float:
    """Stream ``path`` to ``url`` in 1 MiB blocks (the same client for the hub and the minimal server)."""
    import httpx

    def body():
        with open(path, "rb") as f:
            while block := f.read(BLOCK):
                yield block

    t = time.perf_counter()
    r = httpx.put(url, content=body(), headers={"Content-Length": str(path.stat().st_size)}, timeout=None)
    r.raise_for_status()
    return time.perf_counter() - t


def get(url: str) -> float:
    import httpx

    t = time.perf_counter()
    with httpx.stream("GET", url, timeout=None) as r:
        r.raise_for_status()
        for _ in r.iter_bytes(BLOCK):
            pass
    return time.perf_counter() - t


class MinimalHandler(http.server.SimpleHTTPRequestHandler):
    """PUT writes the body to a new file and makes it durable (fsync), as the hub does, without hashing or anything
    else; GET serves files (the standard library's static file server)."""

    protocol_version = "HTTP/1.1"

    def do_PUT(self) -> None:  # noqa: N802
        left = int(self.headers["Content-Length"])
        target = os.path.join(self.directory, "put.bin")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target)
        with open(target, "wb") as f:
            while left:
                block = self.rfile.read(min(BLOCK, left))
                f.write(block)
                left -= len(block)
            f.flush()
            os.fsync(f.fileno())
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gb", type=float, default=2)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--push-mb", type=int, default=200)
    p.add_argument("--huge-gb", type=float, default=0)
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    work = Path(tempfile.mkdtemp(prefix="dlp-bench-large-"))
    server = None
    try:
        from huggingface_hub import CommitOperationAdd, HfApi
        from huggingface_hub.lfs import UploadInfo, post_lfs_batch_info

        data, static = work / "hub", work / "static"
        static.mkdir()
        token = subprocess.run([sys.executable, "-m", "hub.server", "add-token", "--data-dir", str(data),
                                "--user", "bench"], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "hub.server", "serve", "--port", str(port), "--data-dir",
                                   str(data)], cwd=ROOT, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        wait_for(url + "/health", server)
        idle_mb = memory_mb(server.pid, 'VmHWM')
        minimal = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), lambda *a: MinimalHandler(*a, directory=str(static)))
        threading.Thread(target=minimal.serve_forever, daemon=True).start()
        raw_url = f"http://127.0.0.1:{minimal.server_address[1]}"

        size = int(args.gb * 1024**3)
        src = static / "src.bin"
        random_file(src, size)
        api = HfApi(endpoint=url, token=token)
        api.create_repo("bench/large")
        info = UploadInfo.from_path(str(src))
        print(f"{size / 1e9:.2f} GB random file; hub server idle RSS {idle_mb:.0f} MB")

        # --- the PUT alone, and the download, against the minimal server (A B A B)
        put_hub, put_raw, get_hub, get_raw, peaks, put_cpu = [], [], [], [], [], []
        for _ in range(args.rounds):
            # Forget the last round's upload, so the batch asks for it again, and free its pages as the minimal
            # server frees its file's: on this VM, writing into never-used memory costs several times more.
            for f in list((data / "lfs").glob("*/*/*")) + [b for b in (data / "blobs").glob("*/*") if b.stat().st_size > BLOCK]:
                f.unlink()
            actions, errors, _ = post_lfs_batch_info(upload_infos=[info], token=token, repo_type="model",
                                                     repo_id="bench/large", endpoint=url)
            assert not errors and actions[0].get("actions"), (actions, errors)
            reset_peak(server.pid)
            cpu = cpu_seconds(server.pid)
            put_hub.append(put(actions[0]["actions"]["upload"]["href"], src))
            put_cpu.append(cpu_seconds(server.pid) - cpu)
            peaks.append(memory_mb(server.pid, 'VmHWM'))
            put_raw.append(put(raw_url + "/put", src))
        api.create_commit("bench/large", [_lfs_op(CommitOperationAdd, src, info)], commit_message="large")
        for _ in range(args.rounds):
            reset_peak(server.pid)
            get_hub.append(get(f"{url}/bench/large/resolve/main/model.bin"))
            peaks.append(memory_mb(server.pid, 'VmHWM'))
            get_raw.append(get(f"{raw_url}/src.bin"))
        gbs = size / 1e9
        m = statistics.median
        print(f"LFS PUT to the hub  {m(put_hub):6.2f} s ({gbs / m(put_hub):.2f} GB/s) | raw PUT to a minimal server "
              f"{m(put_raw):6.2f} s ({gbs / m(put_raw):.2f} GB/s) | ratio {m(put_hub) / m(put_raw):.2f}x")
        print(f"  the hub server's CPU time for the PUT: {m(put_cpu) / gbs:.2f} s per GB (receive, write, sha256)")
        print(f"download (resolve/) {m(get_hub):6.2f} s ({gbs / m(get_hub):.2f} GB/s) | static file server     "
              f"{m(get_raw):6.2f} s ({gbs / m(get_raw):.2f} GB/s) | ratio {m(get_hub) / m(get_raw):.2f}x")
        print(f"hub server peak RSS during PUT and download: {max(peaks):.0f} MB")

        # --- end to end with the official client
        for how, obj in (("LFS (file object)", None), ("Xet (path, hf_xet)", str(src))):
            for f in list((data / "lfs").glob("*/*/*")):
                f.unlink()
            reset_peak(server.pid)
            t = time.perf_counter()
            if obj is None:
                with open(src, "rb") as fh:
                    api.upload_file(path_or_fileobj=fh, path_in_repo=f"e2e-{len(how)}.bin", repo_id="bench/large")
            else:
                api.upload_file(path_or_fileobj=obj, path_in_repo=f"e2e-{len(how)}.bin", repo_id="bench/large")
            took = time.perf_counter() - t
            print(f"upload_file through {how:<19} {took:6.2f} s ({gbs / took:.2f} GB/s), "
                  f"hub server peak RSS {memory_mb(server.pid, 'VmHWM'):.0f} MB")
            # What gc does an hour later: the xorbs go (the chunk maps stay, for the client's later uploads).
            subprocess.run([sys.executable, "-m", "hub.server", "gc", "--data-dir", str(data), "--min-age-hours", "0"],
                           cwd=ROOT, check=True, capture_output=True)
        src.unlink()

        # --- the pushing client's memory
        folder = work / "push"
        folder.mkdir()
        random_file(folder / "model.safetensors", args.push_mb * BLOCK)
        code = ("import resource,sys; from hub import client as c;"
                "before=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss;"
                f"c.push_folder({str(folder)!r}, 'bench/pushed', c.Hub('url', {url!r}, {token!r}));"
                "print(before//1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss//1024)")
        pushed = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                env={**os.environ, "DLP_HOME": str(work / "home")})
        if pushed.returncode:
            raise RuntimeError(f"push_folder failed: {pushed.stderr[-2000:]}")
        before, after = pushed.stdout.split()[-2:]
        print(f"push_folder of a {args.push_mb} MB file: client peak RSS {before} MB before, {after} MB after "
              f"(+{int(after) - int(before)} MB)")
        shutil.rmtree(folder)

        if args.huge_gb:
            huge = work / "huge.bin"
            with open(huge, "wb") as f:
                f.truncate(int(args.huge_gb * 1024**3))  # sparse: reads as zeros, takes no disk
            hinfo = UploadInfo.from_path(str(huge))
            actions, errors, _ = post_lfs_batch_info(upload_infos=[hinfo], token=token, repo_type="model",
                                                     repo_id="bench/large", endpoint=url)
            assert not errors, errors
            reset_peak(server.pid)
            took = put(actions[0]["actions"]["upload"]["href"], huge)
            api.create_commit("bench/large", [_lfs_op(CommitOperationAdd, huge, hinfo)], commit_message="huge")
            print(f"{args.huge_gb:.0f} GB file through LFS: {took:.1f} s ({args.huge_gb * 1.074 / took:.2f} GB/s), "
                  f"hub server peak RSS {memory_mb(server.pid, 'VmHWM'):.0f} MB; committed, "
                  f"size on the hub {next(f.size for f in api.model_info('bench/large', files_metadata=True).siblings if f.rfilename == huge.name)}")
    finally:
        if server is not None:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)


def _lfs_op(op_class, path: Path, info):
    """A commit operation for a file already uploaded through LFS (the client's own commit step)."""
    op = op_class(path_in_repo="model.bin" if "src" in path.name else path.name, path_or_fileobj=str(path))
    op._upload_mode = "lfs"
    op.upload_info = info
    op._is_uploaded = True
    return op


if __name__ == "__main__":
    main()
