"""What the benchmarks share: a free loopback port, waiting for a server, a process's memory and CPU time, the
median time of a call."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen | None = None, timeout: float = 120) -> None:
    """Until ``url`` answers 200; SystemExit if ``proc`` exits or the time runs out."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"the server for {url} exited")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def memory_mb(pid: int, field: str = "VmRSS") -> float:
    """A /proc/PID/status figure in MB: VmRSS (now) or VmHWM (the peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def timed(fn, repeats: int) -> float:
    """The median wall time of ``fn()`` over ``repeats`` runs, after one warm-up run."""
    import statistics

    fn()
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


@contextlib.contextmanager
def app_in_process(root: Path):
    """The whole app served from this process on a free loopback port, with a hub server of its own and a job
    runner under ``root``: yields (the app's URL, the runner)."""
    from app import build_app, launch_kwargs
    from hub.server import start_in_thread
    from training.runner import JobRunner

    hub = start_in_thread(root / "hub")
    runner = JobRunner(root / "app", poll_s=0.1)
    demo = build_app(default_hub=hub.url, runner=runner)
    demo.queue(default_concurrency_limit=8)
    port = free_port()
    demo.launch(server_port=port, prevent_thread_lock=True, quiet=True, **launch_kwargs(runner, hub.url))
    try:
        yield f"http://127.0.0.1:{port}/", runner
    finally:
        demo.close()
        runner.close()
        hub.stop()
