"""The UI's job runner: training runs as CLI subprocesses that outlive the browser tab.

A job is the same command a user would type (``python -m training <task> ...``), built from a
validated config and started without a shell in its own session. Its folder (training.layout)
holds ``job.json`` (state and the config), ``log.txt`` (stdout/stderr) and ``out/`` (the run's
output dir), so a page reload, or a restart of the app, finds every job and its curves again.

Where a job runs is its runner's backend: :class:`LocalBackend` (the default: subprocesses of this machine, one
per device at a time) or ``training.ray_jobs.RayBackend`` (Ray Jobs on a cluster, which mirrors each job's log
and events into the same job folder). Jobs beyond the backend's slots wait in the runner's queue.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from common.procs import pid_alive
from hub.client import OWNER_SECRETS, hold_for_job

from .config import config_to_argv, to_dict
from .events import RunDigest, digest, read_events
from .layout import JobFolder

if TYPE_CHECKING:
    from .config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
ACTIVE = ("queued", "running", "stopping")
JOB_NICENESS = 10
Said = tuple[str, dict[str, Any]]  # a runner message as _say takes it: a key of common/locales/*/runner.yaml, values


@dataclass
class Job:
    id: str
    task: str
    argv: list[str]
    device: str
    created: float
    status: str = "queued"  # queued | running | stopping | completed | stopped | failed
    pid: int | None = None
    returncode: int | None = None
    started: float | None = None
    ended: float | None = None
    message: str = ""
    label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)  # the validated config the command line carries
    owner: str = ""  # who started it: "" for the app's owner (and the CLI), else a visitor's key (webui.visitors)


class Backend(Protocol):
    """Where the runner's jobs run; LocalBackend documents each method."""

    name: str

    def device(self, requested: str) -> str: ...
    def slots(self, device: str) -> int: ...
    def prepare(self, job_id: str, cfg: TrainConfig, secrets: dict[str, str]) -> tuple[TrainConfig, dict[str, str]]: ...
    def start(self, job: Job, folder: JobFolder, settings: dict[str, str], secrets: dict[str, str]) -> None: ...
    def poll(self, job: Job) -> int | None: ...
    def stop(self, job: Job, kill: bool = False) -> None: ...
    def attach(self, job: Job, folder: JobFolder) -> bool: ...
    def note(self, job: Job) -> Said | None: ...
    def reason(self, job: Job) -> Said | None: ...
    def close(self) -> None: ...


class LocalBackend:
    """Jobs as subprocesses of this machine, in their own sessions (they outlive the app), one per device."""

    name = "local"

    def __init__(self) -> None:
        self._procs: dict[str, subprocess.Popen] = {}

    def device(self, requested: str) -> str:
        """The queue a job asking for ``requested`` (cpu, cuda...) waits in."""
        return requested

    def slots(self, device: str) -> int:
        """How many jobs of that queue run at once."""
        return 1

    def prepare(self, job_id: str, cfg: TrainConfig, secrets: dict[str, str]) -> tuple[TrainConfig, dict[str, str]]:
        """The config the job's command runs with, and its secrets (here: as given)."""
        return cfg, secrets

    def start(self, job: Job, folder: JobFolder, settings: dict[str, str], secrets: dict[str, str]) -> None:
        """Start ``job`` (its files in ``folder``) with ``settings`` and ``secrets`` in its environment."""
        # The app's own credentials stay behind (a visitor's job must not push as the owner, nor read the stored
        # huggingface login); the job gets the token of the hub it was started with, if any (secrets).
        inherited = {k: v for k, v in os.environ.items() if k not in OWNER_SECRETS}
        env = {**inherited, **settings, **secrets}
        log = open(folder.log, "ab")
        # Its own session: the job survives the app's terminal closing, and signals reach it alone.
        proc = subprocess.Popen(job.argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        # A job yields the CPU to the web process: visitors' predictions stay quick while it trains, and it takes
        # whatever they leave (its threads, started later, inherit this).
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, proc.pid, JOB_NICENESS)
        self._procs[job.id] = proc
        job.pid = proc.pid
        hold_for_job(secrets, proc.pid)

    def poll(self, job: Job) -> int | None:
        """The job's exit code once it has ended, else None."""
        proc = self._procs.get(job.id)
        rc = proc.poll() if proc else (None if job.pid and pid_alive(job.pid) else -1)
        if rc is not None:
            self._procs.pop(job.id, None)
        return rc

    def stop(self, job: Job, kill: bool = False) -> None:
        _signal(job.pid, signal.SIGKILL if kill else signal.SIGTERM)

    def attach(self, job: Job, folder: JobFolder) -> bool:
        """After an app restart: is the job (its files in ``folder``) still running (then poll() follows it)?"""
        return bool(job.pid and pid_alive(job.pid))

    def note(self, job: Job) -> Said | None:
        """What the backend has to say about a running job (waiting for a node...), as _say's arguments."""
        return None

    def reason(self, job: Job) -> Said | None:
        """Why a job that wrote no end event ended, when the backend knows better than its log."""
        if "ray" in job.extra:
            return "runner.ray_gone", {}
        return None

    def close(self) -> None:
        pass


class JobRunner:
    def __init__(self, root: str | Path, poll_s: float = 0.5, backend: Backend | None = None):
        self.root = Path(root)
        (self.root / "jobs").mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self.backend = backend or LocalBackend()
        self._secrets: dict[str, dict[str, str]] = {}  # per-job env (tokens): memory only, never in job.json
        self._wake = threading.Event()
        self._closed = False
        self._recover()
        self._thread = threading.Thread(target=self._loop, args=(poll_s,), name="job-runner", daemon=True)
        self._thread.start()

    # ----------------------------------------------------------------- public
    def submit(self, cfg: TrainConfig, *, device: str = "cpu", label: str = "",
               secret_env: dict[str, str] | None = None, env: dict[str, str] | None = None, owner: str = "",
               max_seconds: float | None = None) -> Job:
        """Queue ``python -m training <task>`` for ``cfg`` (validated here: a bad value is the caller's
        ConfigError, not a failed job); its output dir is the job's folder.

        ``secret_env`` (a hub token) reaches the process environment only: it is not written to
        disk, so a job still queued when the app restarts starts without it; ``env`` (settings, such as where a
        visitor's job pulls to) is kept with the job. ``owner`` names who started it
        (the queue takes turns between owners); a job still running ``max_seconds`` after it started is stopped.
        """
        from .tasks import task_of

        task = task_of(cfg)
        cfg.validate()
        job_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        cfg = replace(cfg, output_dir=str(self.folder(job_id).run.root), run_name=cfg.run_name or job_id)
        # The backend may change what the command carries (a cluster's job writes elsewhere and returns its model
        # through the hub); the record keeps the config as the user gave it, in the app's folder.
        run_cfg, secrets = self.backend.prepare(job_id, cfg, dict(secret_env or {}))
        job = Job(id=job_id, task=task.name,
                  argv=[sys.executable, "-m", "training", task.name, *config_to_argv(run_cfg)],
                  device=self.backend.device(device), created=time.time(), label=label or task.name,
                  config=to_dict(cfg), owner=owner,
                  extra={k: v for k, v in (("max_seconds", max_seconds), ("env", env)) if v})
        with self._lock:
            if secrets:
                self._secrets[job_id] = secrets
            self._save(job)
        self._wake.set()
        return job

    def stop(self, job_id: str, grace_s: float = 10.0) -> Job:
        """Ask a job to stop: a queued one is cancelled, a running one gets SIGTERM (then SIGKILL)."""
        with self._lock:
            job = self.get(job_id)
            if job.status == "queued":
                self._secrets.pop(job_id, None)
                job.status, job.ended = "stopped", time.time()
                _say(job, "runner.cancelled")
                self._save(job)
            elif job.status == "running":
                job.status, job.extra["kill_at"] = "stopping", time.time() + grace_s
                self._save(job)
                self.backend.stop(job)
        self._wake.set()
        return self.get(job_id)

    def get(self, job_id: str) -> Job:
        path = self.folder(job_id).record
        if not path.exists():
            raise KeyError(f"no job {job_id!r}")
        return Job(**json.loads(path.read_text()))

    def jobs(self) -> list[Job]:
        """Every job, newest first."""
        out = []
        for p in (self.root / "jobs").glob(f"*/{JobFolder(Path()).record.name}"):
            try:
                out.append(Job(**json.loads(p.read_text())))
            except (ValueError, TypeError):
                continue
        return sorted(out, key=lambda j: j.created, reverse=True)

    def queue_positions(self, jobs: list[Job] | None = None) -> dict[str, int]:
        """Queued job id -> position on its device (1 starts next), from one scan of the jobs."""
        positions: dict[str, int] = {}
        per_device: dict[str, int] = {}
        for j in queue_order(jobs if jobs is not None else self.jobs()):
            per_device[j.device] = positions[j.id] = per_device.get(j.device, 0) + 1
        return positions

    def queue_position(self, job_id: str) -> int | None:
        """1 for the next job to start on its device, None when not queued."""
        self.get(job_id)  # KeyError for an unknown job
        return self.queue_positions().get(job_id)

    def events(self, job_id: str, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        return read_events(self.folder(job_id).run.events, offset)

    def digest(self, job_id: str) -> RunDigest:
        """The job's events summed up, read incrementally (what a panel following it draws)."""
        return digest(self.folder(job_id).run.events)

    def log_tail(self, job_id: str, max_chars: int = 4000) -> str:
        p = self.folder(job_id).log
        if not p.exists():
            return ""
        with open(p, "rb") as f:
            f.seek(max(0, p.stat().st_size - max_chars))
            text = f.read().decode("utf-8", errors="replace")
        return text.replace("\r", "\n").split("\n\n")[-1] if "\r" in text else text

    def folder(self, job_id: str) -> JobFolder:
        """The job's files (training.layout); KeyError for an id that cannot be a job's."""
        if not job_id or "/" in job_id or job_id.startswith("."):
            raise KeyError(f"no job {job_id!r}")
        return JobFolder(self.root / "jobs" / job_id)

    def job_dir(self, job_id: str) -> Path:
        return self.folder(job_id).root

    def wait(self, job_id: str, timeout: float = 300) -> Job:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(job_id)
            if job.status not in ACTIVE:
                return job
            time.sleep(0.1)
        raise TimeoutError(f"job {job_id} still {self.get(job_id).status} after {timeout}s")

    def remove(self, job_id: str) -> None:
        """Delete a finished job and its files (a visitor's, kept too long: webui.visitors.sweep)."""
        with self._lock:
            if self.get(job_id).status in ACTIVE:
                raise ValueError(f"job {job_id} is still {self.get(job_id).status}")
            shutil.rmtree(self.job_dir(job_id), ignore_errors=True)

    def close(self) -> None:
        """Stop following jobs (they keep running; a new runner picks them up)."""
        self._closed = True
        self._wake.set()
        self._thread.join(5)
        self.backend.close()

    # --------------------------------------------------------------- internals
    def _save(self, job: Job) -> None:
        record = self.folder(job.id).record
        record.parent.mkdir(parents=True, exist_ok=True)
        tmp = record.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(asdict(job), indent=1))
        os.replace(tmp, record)

    def _recover(self) -> None:
        """After an app restart: jobs whose process is gone get their final state from their events."""
        for job in self.jobs():
            if job.status in ("running", "stopping") and not self.backend.attach(job, self.folder(job.id)):
                self._finish(job, None)

    def _finish(self, job: Job, returncode: int | None) -> None:
        if job.extra.pop("noted", None):  # a running job's note is no answer
            job.message = ""
            job.extra.pop("said", None)
        events, _ = self.events(job.id)
        end = next((e for e in reversed(events) if e["type"] == "end"), None)
        if end is not None:
            job.status, job.message = end["status"], end.get("message") or ""
            if end.get("said"):  # (written by the app, not the job: a runner message)
                job.extra["said"] = end["said"]
        elif job.status == "stopping":
            job.status = "stopped"
            _say(job, "runner.stopped_early")
        elif said := self.backend.reason(job):
            job.status = "failed"
            _say(job, said[0], **said[1])
        else:
            last_lines = self.log_tail(job.id, 400).strip().splitlines()
            job.status = "failed"
            if last_lines:
                job.message = last_lines[-1]
            else:
                _say(job, "runner.no_result")
        if job.extra.get("time_limit"):
            minutes = job.extra["max_seconds"] / 60
            _say(job, "runner.time_limit", minutes=minutes)
        job.returncode, job.ended, job.pid = returncode, time.time(), None
        self._save(job)

    def _start(self, job: Job) -> None:
        # The tracker's runs (training.tracking): the owner's jobs share one folder (its dashboard compares them,
        # unless the owner's environment names another), a visitor's job keeps its own.
        trackio = (self.job_dir(job.id) / "trackio" if job.owner
                   else os.environ.get("TRACKIO_DIR") or self.root / "trackio")
        # PASSIVE: idle OpenMP threads sleep instead of spinning, so a job sharing the CPU with the web server (or a
        # browser) is not slowed many times over; alone it costs a few per cent.
        settings = {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY") or "PASSIVE", "TRACKIO_DIR": str(trackio),
                    "HF_TOKEN_PATH": os.devnull, **job.extra.get("env", {}), "PYTHONUNBUFFERED": "1"}
        job.status, job.started = "running", time.time()
        try:
            self.backend.start(job, self.folder(job.id), settings, self._secrets.pop(job.id, {}))
        except Exception as e:  # (a process that cannot start): the job fails with the reason, the queue goes on
            job.status, job.ended, job.message = "failed", time.time(), f"{type(e).__name__}: {e}"
        self._save(job)

    def _tick(self) -> None:
        with self._lock:
            jobs = self.jobs()
            busy: dict[str, int] = {}
            for job in jobs:
                if job.status not in ("running", "stopping"):
                    continue
                rc = self.backend.poll(job)
                if rc is not None:
                    self._finish(job, rc)
                    continue
                if job.status == "stopping" and time.time() > job.extra.get("kill_at", float("inf")):
                    self.backend.stop(job, kill=True)
                limit = job.extra.get("max_seconds")
                if job.status == "running" and limit and time.time() > (job.started or 0) + limit:
                    job.extra["time_limit"] = True  # _finish says why it stopped
                    self._save(job)
                    self.stop(job.id)
                self._show_note(job)
                busy[job.device] = busy.get(job.device, 0) + 1
            for job in queue_order(jobs):
                if busy.get(job.device, 0) < self.backend.slots(job.device):
                    self._start(job)
                    busy[job.device] = busy.get(job.device, 0) + 1

    def _show_note(self, job: Job) -> None:
        """The backend's word on a running job (waiting for a node...) as its message, gone when it is."""
        note = self.backend.note(job)
        shown = job.extra.get("said") if job.extra.get("noted") else None
        if (None if note is None else list(note)) == shown:
            return
        if note is None:
            job.message = ""
            job.extra.pop("said", None)
            job.extra.pop("noted", None)
        else:
            _say(job, note[0], **note[1])
            job.extra["noted"] = True
        self._save(job)

    def _loop(self, poll_s: float) -> None:
        while not self._closed:
            try:
                self._tick()
            except Exception as e:  # never let the runner thread die; the next tick retries
                print(f"job runner: {type(e).__name__}: {e}", file=sys.stderr)
            self._wake.wait(poll_s)
            self._wake.clear()


def queue_order(jobs: list[Job]) -> list[Job]:
    """The queued jobs in the order they start: oldest first, but one owner's jobs take turns with the others'
    (an owner's k-th job, those running counted, waits for every other owner's k-th), so ten jobs of one visitor
    do not hold back another's first."""
    rank: dict[str, int] = {}
    for j in jobs:
        if j.status in ("running", "stopping"):
            rank[j.owner] = rank.get(j.owner, -1) + 1
    order = []
    for j in sorted((j for j in jobs if j.status == "queued"), key=lambda j: j.created):
        rank[j.owner] = rank.get(j.owner, -1) + 1
        order.append((rank[j.owner], j.created, j))
    return [j for *_, j in sorted(order, key=lambda t: t[:2])]


def _signal(pid: int | None, sig: int) -> None:
    if pid:
        try:
            os.killpg(pid, sig)  # the job's whole session: data-loader workers too
        except ProcessLookupError:
            pass


def _say(job: Job, key: str, **values: object) -> None:
    """The runner's own message about ``job``: English in the record (the CLI and the log read it), and its key and
    values, so a page shows it in its visitor's language (common/locales/*/runner.yaml)."""
    from common.i18n import english

    job.message = english(key, **values)
    job.extra["said"] = [key, values]
