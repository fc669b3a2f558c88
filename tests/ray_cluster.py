"""A Ray cluster on this machine's loopback address for the tests and the bench: a head node that runs no job
(no CPUs) and worker nodes that do, each ``ray start --block`` in a session of its own, so one can be killed
alone as a machine that goes away would be. Every node, port and job stays on 127.0.0.1
(tests/ray_loopback/sitecustomize.py)."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = [str(Path(sys.executable).with_name("ray"))]
LOOPBACK_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": os.pathsep.join(
    [str(Path(__file__).with_name("ray_loopback")), *filter(None, [os.environ.get("PYTHONPATH")])])}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopbackCluster:
    def __init__(self, logs: Path | None = None):
        self.logs = Path(logs or tempfile.mkdtemp(prefix="dlp-ray-logs-"))
        self.logs.mkdir(parents=True, exist_ok=True)
        # A short folder: Ray's unix sockets live under it (at most 107 characters a path).
        self.temp = tempfile.mkdtemp(prefix="rt", dir="/tmp")
        self.port, self.dashboard_port = free_port(), free_port()
        self.address = f"http://127.0.0.1:{self.dashboard_port}"
        self.head: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []

    def _ray(self, name: str, *args: str) -> subprocess.Popen:
        return subprocess.Popen([*RAY, "start", "--block", "--node-ip-address=127.0.0.1", "--disable-usage-stats",
                                 f"--dashboard-agent-listen-port={free_port()}", f"--metrics-export-port={free_port()}",
                                 *args], env={**os.environ, **LOOPBACK_ENV}, start_new_session=True,
                                stdout=open(self.logs / f"{name}.log", "w"), stderr=subprocess.STDOUT)

    def start(self, workers: int = 1, cpus: int = 2, timeout: float = 120) -> LoopbackCluster:
        self.head = self._ray("head", "--head", "--num-cpus=0", f"--port={self.port}", "--dashboard-host=127.0.0.1",
                              f"--dashboard-port={self.dashboard_port}", f"--temp-dir={self.temp}",
                              "--include-dashboard=true")
        for _ in range(workers):
            self.add_worker(cpus, wait=False)
        self.wait_nodes(1 + workers, timeout)
        return self

    def add_worker(self, cpus: int = 2, wait: bool = True, timeout: float = 120) -> subprocess.Popen:
        worker = self._ray(f"worker{len(self.workers)}", f"--address=127.0.0.1:{self.port}", f"--num-cpus={cpus}")
        self.workers.append(worker)
        if wait:
            self.wait_nodes(1 + sum(w.poll() is None for w in self.workers), timeout)
        return worker

    def alive_nodes(self) -> int:
        from ray.util.state import list_nodes

        nodes = list_nodes(address=self.address, timeout=10, limit=10_000, raise_on_missing_output=False)
        return sum(n.state == "ALIVE" for n in nodes)  # (Ray's state filter fails once a node has died)

    def wait_nodes(self, n: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.head is not None and self.head.poll() is not None:
                raise RuntimeError(f"the Ray head exited: {(self.logs / 'head.log').read_text()[-2000:]}")
            try:
                if self.alive_nodes() >= n:
                    return
            except Exception:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"{n} Ray nodes not up after {timeout}s (logs in {self.logs})")

    def kill_worker(self, worker: subprocess.Popen) -> None:
        """The node goes as a machine that loses power: every process of it at once."""
        _kill(worker)

    def stop(self) -> None:
        for proc in [*self.workers, self.head]:
            if proc is not None:
                _kill(proc)
        shutil.rmtree(self.temp, ignore_errors=True)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)
