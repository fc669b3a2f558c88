"""Training jobs on a Ray cluster: the job runner's second backend, through Ray Jobs
(https://docs.ray.io/en/latest/cluster/running-applications/job-submission/index.html).

A job runs the same command as on this machine (``python -m training <task> ...``), in the project folder of
whichever node Ray picks, with the CPUs, GPUs and memory its task needs. The app and the node share no disk:

* the job prints its events into its log (training.remote); a follower thread per job fetches the log and
  mirrors it into the job's folder here, so the page's curves, log and Stop work as for a local job;
* its token is claimed once from the app's token desk, never put in the job's description (Ray shows a job's
  runtime environment and metadata to anyone who can list the cluster's jobs);
* the model comes back through the hub: the job pushes (each checkpoint too: --hub-strategy checkpoint), the
  follower pulls it into the job's folder. Without a repo named by the user, a job on the app's embedded hub
  pushes to a private repo of its own (owner ``dlp-job-<id>``, a token made for it) that goes once pulled;
* a job whose node died is submitted again with --resume from its last pushed checkpoint (``resumes`` times),
  else it fails with the cluster's reason. After an app restart each running job is found again by its metadata.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import shlex
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common.errors import UserError
from common.i18n import t

from .layout import JobFolder
from .remote import ENV_CLAIM, ENV_DESK, ENV_EVENT_LINES, LogMirror, TokenDesk
from .runner import ROOT, Job, LocalBackend, Said

if TYPE_CHECKING:
    from .config import TrainConfig

ENV_ADDRESS = "DLP_RAY_ADDRESS"
# Settings that name this machine's folders (a node has its own)
APP_PATHS = ("TRACKIO_DIR", "DLP_PULLED_DIR", "DLP_LOCAL_HUB_DIR")
TERMINAL = {"SUCCEEDED": 0, "STOPPED": -15, "FAILED": 1}


@dataclass(frozen=True)
class RaySettings:
    """How the app uses the cluster; each field also reads an environment variable (``from_env``)."""

    address: str  # the Ray dashboard's URL: DLP_RAY_ADDRESS
    gpus: float = 0  # GPUs per job whose device is not cpu (DLP_RAY_GPUS); more than 1: accelerate launch
    max_jobs: int = 4  # the app's jobs on the cluster at once; the rest wait in the app's queue (DLP_RAY_MAX_JOBS)
    python: str = sys.executable  # the nodes' Python with the project's requirements (DLP_RAY_PYTHON)
    project_dir: str = str(ROOT)  # this project's folder on the nodes (DLP_RAY_PROJECT_DIR)
    desk: str = "127.0.0.1:0"  # host:port the token desk listens on (DLP_RAY_DESK)
    desk_url: str = ""  # how the nodes reach it, when not http://<desk> (DLP_RAY_DESK_URL)
    timeout_s: float = 10.0  # one request to the cluster
    lost_after_s: float = 60.0  # the cluster out of reach this long: the job is marked failed (DLP_RAY_LOST_AFTER_S)
    pending_limit_s: float = 900.0  # no node took the job this long: it is withdrawn (DLP_RAY_PENDING_LIMIT_S)
    resumes: int = 2  # submissions again after a node died (DLP_RAY_RESUMES)
    output_dir: str = "/tmp/dlp-ray-jobs"  # where jobs write on their nodes, unread by the app (DLP_RAY_OUTPUT_DIR)
    poll_s: float = 1.0

    @classmethod
    def from_env(cls, address: str = "") -> RaySettings | None:
        """The settings the environment gives for the cluster at ``address`` (default: DLP_RAY_ADDRESS), or None
        without one (jobs run on this machine)."""
        env = os.environ
        address = address or env.get(ENV_ADDRESS, "")
        if not address:
            return None
        kinds = {"float": float, "int": int, "str": str}
        return cls(address=address, **{
            f.name: kinds[f.type](env[f"DLP_RAY_{f.name.upper()}"]) for f in dataclasses.fields(cls)
            if f.name not in ("address", "timeout_s", "poll_s") and env.get(f"DLP_RAY_{f.name.upper()}")})


@dataclass(frozen=True)
class Resources:
    cpus: float
    gpus: float
    memory_gb: float

    def words(self) -> str:
        return t("runner.ray_resources", cpus=self.cpus, gpus=self.gpus, memory=self.memory_gb)


def resources(cfg: TrainConfig, gpus: float) -> Resources:
    """What a job of ``cfg`` asks the cluster for: a CPU per process (the data loader's workers too), the
    configured GPUs unless it trains on the CPU, its task's memory."""
    from .tasks import task_of

    wanted = 0.0 if cfg.device == "cpu" else max(gpus, 1.0 if cfg.device == "cuda" else 0.0)
    return Resources(cpus=1 + cfg.num_workers, gpus=wanted, memory_gb=task_of(cfg).memory_gb)


def entrypoint(argv: list[str], settings: RaySettings, res: Resources) -> str:
    """The shell command Ray runs: the job's own command, in the project folder, with the nodes' Python; under
    ``accelerate launch`` (one process per GPU) when it asks for several GPUs."""
    args = argv[1:]  # "-m training <task> ..."
    if res.gpus > 1:
        args = ["-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(int(res.gpus)), *args]
    return f"cd {shlex.quote(settings.project_dir)} && exec {shlex.join([settings.python, *args])}"


class RayBackend:
    """The runner's backend for a Ray cluster (training.runner.LocalBackend is the other)."""

    name = "ray"
    device_name = "ray"

    def __init__(self, settings: RaySettings):
        self.settings = settings
        self.address = settings.address.rstrip("/")
        host, _, port = settings.desk.rpartition(":")
        self.desk = TokenDesk(host or "127.0.0.1", int(port or 0), settings.desk_url)
        self._followers: dict[str, _Follower] = {}
        self._local = LocalBackend()  # jobs started on this machine before the app used the cluster
        self._client_obj: Any = None
        self._reasons: dict[str, Said] = {}  # why a job ended, where its log cannot say (its node died...)

    # ------------------------------------------------------------------ the runner's interface
    def device(self, requested: str) -> str:
        return self.device_name

    def slots(self, device: str) -> int:
        return self.settings.max_jobs if device == self.device_name else 1

    def prepare(self, job_id: str, cfg: TrainConfig, secrets: dict[str, str]) -> tuple[TrainConfig, dict[str, str]]:
        """Checks the cluster can run the job now (a UserError says why not) and routes its model through the hub."""
        from hub.client import ENV_LOCAL_URL, local_hub

        self._check_fits(resources(cfg, self.settings.gpus))
        secrets = {k: v for k, v in secrets.items() if k not in APP_PATHS}
        if cfg.hub == "local":  # the app's hub (a node would otherwise start an empty one of its own)
            secrets.setdefault(ENV_LOCAL_URL, local_hub().endpoint)
        if not cfg.push_to_hub:
            if cfg.hub != "local" or local_hub().store_dir is None:
                raise UserError(t("runner.ray_needs_repo"))
            # A private repo of the job's own, written with a token made for it alone when it starts (never the
            # visitor's or the owner's): the app pulls the model from it, then deletes it.
            cfg = replace(cfg, push_to_hub=f"{transport_user(job_id)}/model", private=True)
        # On the node: its own output folder, each checkpoint pushed (a resume on another node starts from it), no
        # tracker (its files would stay on the node).
        cfg = replace(cfg, output_dir=f"{self.settings.output_dir}/{job_id}", hub_strategy="checkpoint",
                      report_to="none")
        return cfg, secrets

    def start(self, job: Job, folder: JobFolder, settings: dict[str, str], secrets: dict[str, str]) -> None:
        env = {k: v for k, v in settings.items() if k not in APP_PATHS}
        # Ray's grace between its SIGTERM and SIGKILL: the trainer stops at its next step and saves a checkpoint.
        env.update({ENV_EVENT_LINES: "1", "RAY_JOB_STOP_WAIT_TIME_S": "30"})
        job.extra["ray"] = {"address": self.address}
        follower = _Follower(self, job, folder, env, secrets, attempt=0)
        if follower.transport:
            from hub.client import ENV_LOCAL_TOKEN

            follower.secrets = {**secrets, ENV_LOCAL_TOKEN: _store().add_token(transport_user(job.id))}
        self._followers[job.id] = follower
        follower.start()

    def poll(self, job: Job) -> int | None:
        if "ray" not in job.extra:
            return self._local.poll(job)
        follower = self._followers.get(job.id)
        if follower is None:
            return -1
        if follower.outcome is None:
            return None
        self._followers.pop(job.id, None)
        return follower.outcome

    def stop(self, job: Job, kill: bool = False) -> None:
        if "ray" not in job.extra:
            return self._local.stop(job, kill)
        if follower := self._followers.get(job.id):
            follower.stop_requested = True  # Ray itself kills the job if it outstays the grace
            follower.wake.set()

    def attach(self, job: Job, folder: JobFolder) -> bool:
        if "ray" not in job.extra:
            return self._local.attach(job, folder)
        follower = _Follower(self, job, folder, None, {}, attempt=-1)
        self._followers[job.id] = follower
        follower.start()
        return True

    def note(self, job: Job) -> Said | None:
        follower = self._followers.get(job.id)
        return follower.note if follower else None

    def reason(self, job: Job) -> Said | None:
        if "ray" not in job.extra:
            return self._local.reason(job)
        return self._reasons.pop(job.id, None)

    def close(self) -> None:
        for follower in list(self._followers.values()):
            follower.closed = True
            follower.wake.set()
        self.desk.close()

    # ------------------------------------------------------------------ the cluster
    def client(self) -> Any:
        """The Jobs client (made again after an error); a UserError when the cluster cannot be reached."""
        if self._client_obj is None:
            self._client_obj = _client(self.address, self.settings.timeout_s)
        return self._client_obj

    def forget_client(self) -> None:
        self._client_obj = None

    def _check_fits(self, res: Resources) -> None:
        """A UserError unless some node of the cluster could ever run a job asking ``res`` (Ray itself would
        keep such a job waiting for ever)."""
        try:
            from ray.util.state import list_nodes

            # Every node, dead ones too, filtered here: Ray's own state filter counts the dead ones in what it
            # expects back and calls the answer truncated once a node has died.
            nodes = list_nodes(address=self.address, timeout=int(self.settings.timeout_s), limit=10_000,
                               detail=True, raise_on_missing_output=False)
        except Exception as e:
            raise UserError(t("runner.ray_unreachable", address=self.address, reason=_first_line(e))) from None
        sizes = [n.resources_total or {} for n in nodes if n.state == "ALIVE"]
        if not any(s.get("CPU", 0) >= res.cpus and s.get("GPU", 0) >= res.gpus
                   and s.get("memory", 0) >= res.memory_gb * 2**30 for s in sizes):
            largest = max(sizes, key=lambda s: (s.get("GPU", 0), s.get("CPU", 0)), default={})
            raise UserError(t("runner.ray_no_node", wants=res.words(), largest=Resources(
                largest.get("CPU", 0), largest.get("GPU", 0), round(largest.get("memory", 0) / 2**30, 1)).words()))


def transport_user(job_id: str) -> str:
    return f"dlp-job-{job_id}"


def _store():
    from hub.client import local_hub
    from hub.server.storage import HubStore

    return HubStore(local_hub().store_dir)


def _client(address: str, timeout_s: float) -> Any:
    from ray.job_submission import JobSubmissionClient

    class Client(JobSubmissionClient):
        # Every request with a deadline (the SDK's have none): a cluster that stops answering must not hang a
        # follower for ever.
        def _do_request(self, *args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("timeout", timeout_s)
            return super()._do_request(*args, **kwargs)

    try:
        return Client(address)
    except Exception as e:
        raise UserError(t("runner.ray_unreachable", address=address, reason=_first_line(e))) from None


def _said(key: str, **values: Any) -> Said:
    """A message for training.runner._say: its key and values."""
    return key, values


def _first_line(e: BaseException | str) -> str:
    """A reason in one line: an error's, or Ray's message (a node's death comes with a page of details)."""
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:300]


class _Follower(threading.Thread):
    """Submits one job (again after its node died) and mirrors its log until it ends; then pulls its model."""

    def __init__(self, backend: RayBackend, job: Job, folder: JobFolder, env: dict[str, str] | None,
                 secrets: dict[str, str], attempt: int):
        super().__init__(name=f"ray-{job.id}", daemon=True)
        self.backend, self.job, self.folder = backend, job, folder
        self.env, self.secrets, self.attempt = env, secrets, attempt
        self.cfg = _run_config(job)  # what its command line carries: the push repo, the folder on the node
        # Does the job push to a repo of its own (made for it, gone after it)?
        self.transport = self.cfg.push_to_hub == f"{transport_user(job.id)}/model"
        self.mirror = LogMirror(folder, restart=attempt < 0)
        self.outcome: int | None = None
        self.note: Said | None = None
        self.stop_requested = self.job.status == "stopping"
        self.stop_sent = False
        self.closed = False
        self.wake = threading.Event()
        self.sid = ""
        self.claim = ""
        self.submitted = time.time()

    # -------------------------------------------------------------- the loop
    def run(self) -> None:
        try:
            if self.attempt < 0:
                self._find()
            else:
                self._submit()
            self._follow()
        except Exception as e:  # never a silent thread: the job fails with the reason
            self._end(TERMINAL["FAILED"], _said("runner.ray_error", reason=_first_line(e)))

    def _submit(self, resume: str = "") -> None:
        argv = self.job.argv + (["--resume", resume] if resume else [])
        res = resources(self.cfg, self.backend.settings.gpus)
        env = dict(self.env or {})
        if self.secrets:  # claimed once by each process of the job (several under accelerate launch)
            self.claim = self.backend.desk.offer(self.secrets, uses=max(1, int(res.gpus)))
            env.update({ENV_DESK: self.backend.desk.url, ENV_CLAIM: self.claim})
        self.sid = f"dlp-{self.job.id}-{self.attempt}"
        self.backend.client().submit_job(
            entrypoint=entrypoint(argv, self.backend.settings, res), submission_id=self.sid,
            runtime_env={"env_vars": env}, entrypoint_num_cpus=res.cpus, entrypoint_num_gpus=res.gpus or None,
            entrypoint_memory=int(res.memory_gb * 2**30),
            metadata={"dlp_job": self.job.id, "dlp_task": self.job.task, "dlp_attempt": str(self.attempt)})
        self.submitted = time.time()

    def _find(self) -> None:
        """After an app restart: the job's newest submission, by its metadata."""
        mine = [j for j in self.backend.client().list_jobs() if (j.metadata or {}).get("dlp_job") == self.job.id]
        if not mine:
            raise RuntimeError(f"the cluster at {self.backend.address} has no submission of job {self.job.id}")
        newest = max(mine, key=lambda j: int((j.metadata or {}).get("dlp_attempt", 0)))
        self.sid, self.attempt = newest.submission_id, int(newest.metadata.get("dlp_attempt", 0))
        self.submitted = time.time()

    def _follow(self) -> None:
        client_errors_since: float | None = None
        settings = self.backend.settings
        while not self.closed:
            try:
                client = self.backend.client()
                if self.stop_requested and not self.stop_sent:
                    client.stop_job(self.sid)
                    self.stop_sent = True
                status = str(client.get_job_status(self.sid).value)
                client_errors_since = None
            except Exception as e:
                self.backend.forget_client()
                client_errors_since = client_errors_since or time.time()
                if time.time() - client_errors_since > settings.lost_after_s:
                    return self._end(TERMINAL["FAILED"], _said(
                        "runner.ray_lost", seconds=settings.lost_after_s, reason=_first_line(e)))
                self.note = _said("runner.ray_retrying")
                self.wake.wait(settings.poll_s)
                continue
            try:  # after the status: complete once it is final
                self.mirror.feed(client.get_job_logs(self.sid))
            except Exception:
                pass  # the log lives on the job's node, which may have gone: the status says what happened
            # The log comes whole each time: a long one is fetched less often (a second more per MB).
            pause = max(settings.poll_s, self.mirror.seen / 2**20)
            if status in TERMINAL:
                if self._resumed(status):
                    continue
                return self._finished(status)
            if status == "PENDING":
                self.note = _said("runner.ray_pending")
                if time.time() - self.submitted > settings.pending_limit_s and not self.stop_sent:
                    self.backend._reasons[self.job.id] = _said(
                        "runner.ray_pending_limit", minutes=settings.pending_limit_s / 60)
                    self.stop_requested = True
            else:
                self.note = None
            self.wake.wait(pause)
            self.wake.clear()

    def _resumed(self, status: str) -> bool:
        """A job that died without its end event (its node went) starts again from its last pushed checkpoint."""
        if status != "FAILED" or self.mirror.ended or self.stop_requested or self.env is None:
            return False
        if not self.mirror.pushed_checkpoint or self.attempt >= self.backend.settings.resumes:
            return False
        try:
            why = _first_line(self.backend.client().get_job_info(self.sid).message or status)
        except Exception as e:
            why = _first_line(e)
        with open(self.folder.log, "a", encoding="utf-8") as f:
            f.write(f"[cluster] the job's node was lost ({why}); resuming from its last checkpoint on the hub\n")
        self.attempt += 1
        self.mirror.next_attempt()
        self._submit(resume=self.cfg.push_to_hub)
        return True

    def _finished(self, status: str) -> None:
        said = None
        if not self.mirror.ended and status == "SUCCEEDED":  # it exited well; the log's end went with its node
            self.mirror.write_end("stopped" if self.stop_requested else "completed",
                                  "runner.ray_log_lost")
        if not self.mirror.ended:
            try:
                why = self.backend.client().get_job_info(self.sid).message or status
            except Exception as e:
                why = _first_line(e)
            if status == "STOPPED" and not self.stop_requested:
                said = _said("runner.ray_stopped")
            elif status == "FAILED":
                said = _said("runner.ray_failed", reason=_first_line(why))
        elif self.mirror.ended.get("status") in ("completed", "stopped"):  # a stopped run saves its model too
            self._pull_model()
        self._end(TERMINAL[status], said)

    def _end(self, rc: int, said: Said | None) -> None:
        if said and self.job.id not in self.backend._reasons:
            self.backend._reasons[self.job.id] = said
        if self.claim:
            self.backend.desk.withdraw(self.claim)
        self.secrets = {}
        if self.transport:  # its repo and its tokens go with it
            user = transport_user(self.job.id)
            store = _store()
            with contextlib.suppress(Exception):
                store.delete_repo("model", f"{user}/model")
            store.revoke_tokens(user=user)
        self.outcome = rc

    # -------------------------------------------------------------- the model
    def _pull_model(self) -> None:
        """The pushed model into the job's folder, where Predict and Push look for it."""
        from hub.client import pull, resolve_hub, token_env

        cfg = self.cfg
        try:
            hub = resolve_hub(cfg.hub, as_owner=False)
            token = (_store().add_token(transport_user(self.job.id)) if self.transport
                     else self.secrets.get(token_env(hub.kind)))
            with tempfile.TemporaryDirectory() as tmp:
                snapshot = pull(cfg.push_to_hub, hub.with_token(token), into=Path(tmp))
                target = self.folder.run.model
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(snapshot, target, ignore=shutil.ignore_patterns(".*"))
        except Exception as e:
            with open(self.folder.log, "a", encoding="utf-8") as f:
                f.write(f"[cluster] could not pull the model from {cfg.push_to_hub}: {_first_line(e)}\n")


def _run_config(job: Job) -> TrainConfig:
    """The config the job's command line carries (push repo, output folder on the node)."""
    import argparse

    from .config import add_config_args, config_from_args
    from .tasks import get_task

    task = get_task(job.task)
    parser = argparse.ArgumentParser()
    add_config_args(parser, task.config)
    return config_from_args(task.config, parser.parse_args(job.argv[4:]))
