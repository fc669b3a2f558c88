"""Training jobs on a Ray cluster (training.ray_jobs): a head node and worker nodes on 127.0.0.1, started here.

The app and the nodes share this machine's disk, as they would not on a real cluster; the jobs write where the
app does not look (their own output folder on the node), so events, the model and tokens reach the app only the
ways a real cluster allows: the job's log, the hub and the token desk."""
from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from common.errors import UserError
from training.layout import JobFolder
from training.remote import PREFIX, LogMirror, TokenDesk
from training.runner import JobRunner
from training.tasks.classification import ClassificationConfig

pytestmark = pytest.mark.ray


# ------------------------------------------------------------------------------------------ without a cluster
def test_a_log_splits_into_events_and_text_and_a_picture_comes_back(tmp_path):
    import base64

    folder = JobFolder(tmp_path / "job")
    mirror = LogMirror(folder)
    png = b"\x89PNG fake"
    start = json.dumps({"type": "start", "total_steps": 3, "resumed_from_step": 0})
    sample = json.dumps({"type": "sample", "kind": "image", "data": "samples/epoch-0001.png", "epoch": 1,
                         "png": base64.b64encode(png).decode()})
    log = f"hello\n{PREFIX}{start}\n50%|###  |\r{PREFIX}{sample}\n{PREFIX}{{\"type\": \"end\", \"sta"
    mirror.feed(log[:20])  # a chunk that ends inside the first event's line
    mirror.feed(log)
    assert folder.log.read_text().startswith("hello\n")
    events = [json.loads(line) for line in folder.run.events.read_text().splitlines()]
    assert [e["type"] for e in events] == ["start", "sample"]  # the half-written end event waits for its line
    mirror.feed(log + 'tus": "completed"}\n')
    events = [json.loads(line) for line in folder.run.events.read_text().splitlines()]
    assert [e["type"] for e in events] == ["start", "sample", "end"] and "png" not in events[1]
    assert mirror.ended == {"type": "end", "status": "completed", "pushed": None}
    # A progress bar's update before an event on its line goes to the log; the picture comes back into the folder.
    assert "50%" in folder.log.read_text() and "dlp-event" not in folder.log.read_text()
    assert (folder.run.root / "samples" / "epoch-0001.png").read_bytes() == png
    evil = json.dumps({"type": "sample", "kind": "image", "data": "../../outside.png", "png": "AAAA"})
    mirror.feed(log + 'tus": "completed"}\n' + f"{PREFIX}{evil}\n")
    assert not (tmp_path / "outside.png").exists()
    # A job that exited well on a node gone before its log's end was read: its end, written here
    lost = LogMirror(JobFolder(tmp_path / "lost"))
    lost.write_end("completed", "runner.ray_log_lost")
    assert lost.ended["status"] == "completed"
    end = json.loads(lost.folder.run.events.read_text())
    assert end["status"] == "completed" and end["said"] == ["runner.ray_log_lost", {}]
    assert end["message"].startswith("its log's last lines were lost")


def test_the_token_desk_hands_a_claim_out_once(tmp_path):
    desk = TokenDesk()
    try:
        claim = desk.offer({"DLP_LOCAL_HUB_TOKEN": "hf_secret"})

        def take(number: str) -> tuple[int, dict]:
            request = urllib.request.Request(desk.url + "/claim", data=number.encode(), method="POST")
            try:
                with urllib.request.urlopen(request, timeout=5) as r:
                    return r.status, json.loads(r.read())
            except urllib.error.HTTPError as e:
                return e.code, {}

        assert take("a guess") == (404, {})
        assert take(claim) == (200, {"DLP_LOCAL_HUB_TOKEN": "hf_secret"})
        assert take(claim) == (404, {})  # used
        withdrawn = desk.offer({"X": "y"})
        desk.withdraw(withdrawn)
        assert take(withdrawn) == (404, {})
        two_gpus = desk.offer({"X": "y"}, uses=2)  # a job of two processes: each claims once
        assert [take(two_gpus)[0] for _ in range(3)] == [200, 200, 404]
    finally:
        desk.close()


def test_a_job_asks_for_its_resources_and_several_gpus_start_under_accelerate():
    from training.ray_jobs import RaySettings, entrypoint, resources

    settings = RaySettings(address="http://127.0.0.1:1", gpus=2, python="/opt/py/bin/python", project_dir="/srv/dlp")
    cpu = resources(ClassificationConfig(device="cpu", num_workers=2), settings.gpus)
    assert (cpu.cpus, cpu.gpus, cpu.memory_gb) == (3, 0, 2.0)
    gpu = resources(ClassificationConfig(), settings.gpus)
    assert gpu.gpus == 2
    argv = ["/usr/bin/python3", "-m", "training", "classification", "--epochs", "1"]
    assert entrypoint(argv, settings, cpu) == ("cd /srv/dlp && exec /opt/py/bin/python -m training classification "
                                               "--epochs 1")
    assert entrypoint(argv, settings, gpu) == ("cd /srv/dlp && exec /opt/py/bin/python -m accelerate.commands.launch "
                                                "--multi_gpu --num_processes 2 -m training classification --epochs 1")
    from training.tasks import get_task

    assert get_task("bert").memory_gb > get_task("classification").memory_gb


def test_settings_come_from_the_environment(monkeypatch):
    from training.ray_jobs import RaySettings

    monkeypatch.delenv("DLP_RAY_ADDRESS", raising=False)
    assert RaySettings.from_env() is None
    monkeypatch.setenv("DLP_RAY_ADDRESS", "http://127.0.0.1:8265")
    monkeypatch.setenv("DLP_RAY_GPUS", "1")
    monkeypatch.setenv("DLP_RAY_MAX_JOBS", "8")
    s = RaySettings.from_env()
    assert (s.address, s.gpus, s.max_jobs) == ("http://127.0.0.1:8265", 1.0, 8)


def test_an_unreachable_cluster_is_a_message_at_start(tmp_path):
    from tests.ray_cluster import free_port
    from training.ray_jobs import RayBackend, RaySettings

    runner = JobRunner(tmp_path, poll_s=0.1, backend=RayBackend(RaySettings(
        address=f"http://127.0.0.1:{free_port()}", timeout_s=2)))
    try:
        with pytest.raises(UserError, match="cannot be reached"):
            runner.submit(ClassificationConfig(dry_run=True, device="cpu"))
        assert runner.jobs() == []  # nothing queued that could never start
    finally:
        runner.close()


# ------------------------------------------------------------------------------------------------ a cluster
@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from tests.ray_cluster import LoopbackCluster

    c = LoopbackCluster(tmp_path_factory.mktemp("ray-logs")).start(workers=1, cpus=2)
    yield c
    c.stop()


@pytest.fixture(scope="module")
def ray_settings(cluster, tmp_path_factory):
    from training.ray_jobs import RaySettings

    return RaySettings(address=cluster.address, max_jobs=2, poll_s=0.3, lost_after_s=20,
                       output_dir=str(tmp_path_factory.mktemp("on-the-nodes")))


@pytest.fixture
def ray_runner(ray_settings, tmp_path):
    from training.ray_jobs import RayBackend

    runner = JobRunner(tmp_path / "jobs", poll_s=0.1, backend=RayBackend(ray_settings))
    yield runner
    runner.close()


def _hub_env():
    from hub.client import job_env, local_hub

    return job_env(local_hub())


def _wait_event(runner: JobRunner, job_id: str, kind: str, timeout: float = 120, **match) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events, _ = runner.events(job_id)
        found = [e for e in events if e["type"] == kind and all(e.get(k) == v for k, v in match.items())]
        if found:
            return found[0]
        if runner.get(job_id).status not in ("queued", "running", "stopping"):
            break
        time.sleep(0.2)
    raise AssertionError(f"no {kind} event of job {job_id}: {runner.get(job_id)}\n{runner.log_tail(job_id)}")


def test_a_job_runs_on_the_cluster_and_its_model_comes_back_to_predict(ray_runner, ray_settings, cluster):
    from hub.client import ENV_LOCAL_TOKEN, local_hub
    from hub.server.storage import HubStore

    env = _hub_env()
    token = env[ENV_LOCAL_TOKEN]
    job = ray_runner.submit(ClassificationConfig(dry_run=True, device="cpu"), label="on the cluster", secret_env=env)
    assert job.device == "ray"
    done = ray_runner.wait(job.id, timeout=180)
    assert done.status == "completed", (done, ray_runner.log_tail(job.id))
    # The page's curves: the events, mirrored from the job's log (the job wrote its own file on the node).
    kinds = [e["type"] for e in ray_runner.events(job.id)[0]]
    assert kinds[0] == "start" and "step" in kinds and kinds[-1] == "end"
    assert Path(ray_settings.output_dir, job.id, "events.jsonl").is_file()  # where the node wrote
    # The jobs table's metric column reads metrics.json, as the node wrote it
    node_metrics = json.loads(Path(ray_settings.output_dir, job.id, "metrics.json").read_text())
    assert json.loads(ray_runner.folder(job.id).run.metrics.read_text()) == node_metrics
    assert ray_runner.digest(job.id).last_step is not None
    # The model, pulled from the hub into the job's folder: Predict loads it from there.
    from hub_models.inference import classify, load_classifier

    model_dir = ray_runner.folder(job.id).run.model
    probabilities, _ = classify(load_classifier(str(model_dir)), _digit_image())
    assert probabilities and abs(sum(probabilities.values()) - 1) < 0.5
    # The job's own repo went once pulled, and so did its token.
    store = HubStore(local_hub().store_dir)
    user = f"dlp-job-{job.id}"
    assert not any(r.id.startswith(user) for r in store.list_repos("model"))
    assert not [t for t in store.list_tokens() if t["user"] == user]
    # No token in what the cluster shows about the job, nor in the job's record.
    from ray.job_submission import JobSubmissionClient

    info = JobSubmissionClient(cluster.address).get_job_info(f"dlp-{job.id}-0")
    shown = json.dumps([info.runtime_env, info.metadata, info.entrypoint])
    assert token not in shown and "hf_" not in shown
    assert token not in ray_runner.folder(job.id).record.read_text()


def _digit_image():
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    return Image.fromarray((load_digits().images[0] * 16).astype(np.uint8)).convert("L")


def test_stop_stops_the_job_on_the_cluster(ray_runner):
    job = ray_runner.submit(ClassificationConfig(epochs=200, device="cpu"), secret_env=_hub_env())
    _wait_event(ray_runner, job.id, "step")
    ray_runner.stop(job.id)
    done = ray_runner.wait(job.id, timeout=90)
    assert done.status == "stopped", (done, ray_runner.log_tail(job.id))


def test_a_restarted_app_finds_its_running_job_again(ray_settings, tmp_path):
    from training.ray_jobs import RayBackend

    runner = JobRunner(tmp_path / "jobs", poll_s=0.1, backend=RayBackend(ray_settings))
    job = runner.submit(ClassificationConfig(epochs=3, device="cpu"), secret_env=_hub_env())
    _wait_event(runner, job.id, "step")
    runner.close()  # the app goes; the job runs on
    again = JobRunner(tmp_path / "jobs", poll_s=0.1, backend=RayBackend(ray_settings))
    try:
        assert again.get(job.id).status == "running"
        done = again.wait(job.id, timeout=180)
        assert done.status == "completed", (done, again.log_tail(job.id))
        kinds = [e["type"] for e in again.events(job.id)[0]]
        assert kinds.count("start") == 1 and kinds[-1] == "end"  # the log read again from its beginning
        assert again.folder(job.id).run.model.joinpath("config.json").is_file()
    finally:
        again.close()


def test_a_job_that_no_node_can_run_is_refused_at_start(ray_runner):
    with pytest.raises(UserError, match="No node of the Ray cluster"):
        ray_runner.submit(ClassificationConfig(dry_run=True, device="cuda"))
    with pytest.raises(UserError, match="No node"):
        ray_runner.submit(ClassificationConfig(dry_run=True, device="cpu", num_workers=8))


def test_a_job_whose_node_dies_resumes_from_its_hub_checkpoint(ray_runner, cluster):
    # Long enough that the node dies mid-job (6 epochs could end before the kill: then the job completes, and the
    # follower, which could not read the dead node's last log lines, says so)
    job = ray_runner.submit(ClassificationConfig(epochs=30, device="cpu", checkpoint_every_s=0),
                            secret_env=_hub_env())
    _wait_event(ray_runner, job.id, "checkpoint", timeout=120)
    cluster.kill_worker(cluster.workers[0])
    cluster.add_worker(cpus=2, wait=False)  # another machine takes over
    done = ray_runner.wait(job.id, timeout=240)
    log = ray_runner.folder(job.id).log.read_text()
    assert done.status == "completed", (done, log[-3000:])
    assert "resuming from its last checkpoint" in log
    starts = [e for e in ray_runner.events(job.id)[0] if e["type"] == "start"]
    assert len(starts) == 2 and starts[1]["resumed_from_step"] > 0


def test_visitors_of_a_public_app_train_on_the_cluster_each_their_own(ray_settings, hub_server, tmp_path,
                                                                       monkeypatch):
    """Two anonymous visitors of a public app whose jobs run on the cluster: the first trains (no token of
    their own: the job's own repo carries the model back) and predicts with it; the second neither sees nor
    stops the job; the page says where jobs run."""
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    from tests.conftest import served_app
    from training.ray_jobs import RayBackend
    from webui import visitors
    from webui.classification import EXAMPLES

    monkeypatch.setattr(visitors, "policy", visitors.Policy(public=True))
    runner = JobRunner(tmp_path / "jobs", poll_s=0.1, backend=RayBackend(ray_settings))
    try:
        with served_app(runner, hub_server.url) as url:
            page = urllib.request.urlopen(url + "config", timeout=10).read().decode()
            assert "jobs.ray_note" in page
            first, second = Client(url, verbose=False), Client(url, verbose=False)
            out = first.predict(model="lenet", epochs=1, choice="Local hub (offline)", url="", token="",
                                upload=None, api_name="/classification_train")
            job = out["value"] if isinstance(out, dict) else out
            assert runner.get(job).device == "ray" and runner.get(job).owner.startswith("session:")
            with pytest.raises(AppError, match="no job"):
                second.predict(job, api_name="/classification_stop")
            done = runner.wait(job, timeout=180)
            assert done.status == "completed", runner.log_tail(job)
            rows, progress, loss, *_ = first.predict(job, api_name="/classification_watch")
            assert "Completed" in progress and len(loss["data"] if isinstance(loss, dict) else loss) > 3
            label, *_ = first.predict(f"job:{job}", handle_file(EXAMPLES[0]), 1,
                                      api_name="/classification_predict")
            assert label["label"]
    finally:
        runner.close()


class _Forwarder:
    """A loopback TCP relay to the dashboard that can be cut, as a network that goes down between app and cluster."""

    def __init__(self, port: int):
        import socket
        import threading

        self.target, self.cut = port, False
        self.server = socket.create_server(("127.0.0.1", 0))
        self.address = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.conns: list = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import socket
        import threading

        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if self.cut:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass

    def close(self):
        self.cut = True
        self.server.close()
        for s in self.conns:
            try:
                s.close()
            except OSError:
                pass


def test_a_cluster_lost_mid_run_fails_the_job_with_the_reason_and_nothing_hangs(ray_settings, cluster, tmp_path):
    from dataclasses import replace

    from ray.job_submission import JobSubmissionClient

    from training.ray_jobs import RayBackend

    relay = _Forwarder(cluster.dashboard_port)
    runner = JobRunner(tmp_path / "jobs", poll_s=0.1, backend=RayBackend(replace(
        ray_settings, address=relay.address, lost_after_s=3, timeout_s=2)))
    try:
        job = runner.submit(ClassificationConfig(epochs=200, device="cpu"), secret_env=_hub_env())
    except BaseException:
        runner.close()
        raise
    try:
        _wait_event(runner, job.id, "step")
        relay.close()
        t0 = time.monotonic()
        done = runner.wait(job.id, timeout=60)
        assert done.status == "failed" and "lost contact with the Ray cluster" in done.message, done
        assert done.extra["said"][0] == "runner.ray_lost"
        assert time.monotonic() - t0 < 30
    finally:
        runner.close()
        JobSubmissionClient(cluster.address).stop_job(f"dlp-{job.id}-0")  # it ran on, as the message says


def test_two_jobs_of_the_same_content_both_bring_their_models_back(ray_runner):
    """Two jobs at once push the same bytes, each as the user of its own repo, from one machine: each upload stands
    alone (our hub keeps users' Xet chunks apart and gives each uploader a CAS address, so a client's cache of
    what it uploaded is one user's)."""
    env = _hub_env()
    jobs = [ray_runner.submit(ClassificationConfig(dry_run=True, device="cpu"), secret_env=env) for _ in range(2)]
    for job in jobs:
        done = ray_runner.wait(job.id, timeout=180)
        assert done.status == "completed", (done, ray_runner.log_tail(job.id))
        assert ray_runner.folder(job.id).run.model.joinpath("config.json").is_file()


def test_the_queue_holds_jobs_beyond_the_backends_slots_in_turn(tmp_path):
    """The runner keeps as many jobs on a backend as it has slots; the rest wait in the app's queue with their
    positions, one owner's jobs taking turns with the others' (as on one machine)."""
    from training.runner import LocalBackend

    class TwoSlots(LocalBackend):
        name = "two-slots"
        open = False  # no slot until every job is queued: the order is the queue's, not the submissions' timing

        def device(self, requested):
            return "cluster"

        def slots(self, device):
            return 2 if self.open else 0

        def start(self, job, folder, settings, secrets):
            job.extra["started_here"] = True

        def poll(self, job):
            return None

        def stop(self, job, kill=False):
            pass

    backend = TwoSlots()
    runner = JobRunner(tmp_path, poll_s=0.05, backend=backend)
    try:
        cfg = ClassificationConfig(dry_run=True, device="cpu")
        first = [runner.submit(cfg, owner="alice").id for _ in range(3)]
        later = runner.submit(cfg, owner="bob").id
        assert runner.queue_positions() == {first[0]: 1, later: 2, first[1]: 3, first[2]: 4}  # bob's first second
        backend.open = True
        deadline = time.monotonic() + 10
        while sum(j.status == "running" for j in runner.jobs()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert {j.id for j in runner.jobs() if j.status == "running"} == {first[0], later}
        assert runner.queue_positions() == {first[1]: 1, first[2]: 2}
    finally:
        runner.close()


def test_a_long_run_puts_at_most_ten_steps_a_second_into_its_log(monkeypatch, capsys, tmp_path):
    from training import remote

    monkeypatch.setenv("DLP_EVENT_LINES", "1")
    monkeypatch.setattr(remote, "_last_step", [0.0])
    for step in range(1, 1001):  # 1,000 steps in one second
        remote.echo_event({"type": "step", "time": 1000 + step / 1000, "step": step, "loss": 1.0}, tmp_path)
    remote.echo_event({"type": "end", "time": 1002, "status": "completed", "metrics": {}}, tmp_path)
    lines = capsys.readouterr().out.splitlines()
    steps = [json.loads(line[len(PREFIX):])["step"] for line in lines[:-1]]
    assert steps[:100] == list(range(1, 101))  # a short run keeps every step
    assert len(steps) <= 100 + 10 and steps[-1] > 900 and json.loads(lines[-1][len(PREFIX):])["type"] == "end"
