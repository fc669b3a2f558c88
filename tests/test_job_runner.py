"""The job runner: start, follow, stop, queue, and a reload (a new runner) that finds the jobs."""
from __future__ import annotations

import time

import pytest

from common.errors import ConfigError
from training.config import config_to_argv
from training.runner import JobRunner
from training.tasks.classification import ClassificationConfig

LONG = ClassificationConfig(model="lenet", epochs=200, batch_size=8, max_steps=5000)  # ~1 min: always stopped first


def _wait_for_event(runner: JobRunner, job_id: str, kind: str, timeout: float = 120) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events, _ = runner.events(job_id)
        if any(e["type"] == kind for e in events):
            return events
        assert runner.get(job_id).status != "failed", runner.log_tail(job_id)
        time.sleep(0.2)
    raise AssertionError(f"no {kind} event from {job_id}: {runner.log_tail(job_id)}")


@pytest.fixture
def runner(tmp_path):
    r = JobRunner(tmp_path, poll_s=0.1)
    yield r
    r.close()


def test_config_to_argv_carries_what_differs_from_the_defaults():
    assert config_to_argv(ClassificationConfig(batch_size=8, dry_run=True, private=False)) == [
        "--batch-size", "8", "--dry-run"]


def test_job_runs_to_completion_and_is_found_after_reload(tmp_path):
    runner = JobRunner(tmp_path, poll_s=0.1)
    try:
        job = runner.submit(ClassificationConfig(model="lenet", dry_run=True))
        done = runner.wait(job.id, timeout=180)
        assert done.status == "completed" and done.returncode == 0, runner.log_tail(job.id)
        events, offset = runner.events(job.id)
        assert events[0]["type"] == "start" and events[-1]["type"] == "end" and offset > 0
        assert runner.events(job.id, offset) == ([], offset)  # following from the offset: nothing new
    finally:
        runner.close()
    again = JobRunner(tmp_path)  # a page reload or an app restart
    try:
        assert [j.id for j in again.jobs()] == [job.id] and again.get(job.id).status == "completed"
    finally:
        again.close()


def test_stop_ends_a_running_job_within_seconds_and_the_queue_moves(runner):
    first = runner.submit(LONG)
    second = runner.submit(ClassificationConfig(model="lenet", dry_run=True))
    _wait_for_event(runner, first.id, "step")
    assert runner.get(second.id).status == "queued" and runner.queue_position(second.id) == 1
    t = time.monotonic()
    runner.stop(first.id)
    stopped = runner.wait(first.id, timeout=30)
    assert time.monotonic() - t < 15
    assert stopped.status == "stopped", stopped
    assert (runner.job_dir(first.id) / "out" / "model" / "model.safetensors").exists()  # its result is kept
    assert runner.wait(second.id, timeout=180).status == "completed"


def test_jobs_outlive_the_runner_and_are_picked_up_again(tmp_path):
    runner = JobRunner(tmp_path, poll_s=0.1)
    job = runner.submit(LONG)
    _wait_for_event(runner, job.id, "step")
    runner.close()  # the app goes away; the training process does not
    assert runner.get(job.id).status == "running"
    again = JobRunner(tmp_path, poll_s=0.1)
    try:
        assert again.get(job.id).status == "running"
        again.stop(job.id)
        assert again.wait(job.id, timeout=30).status == "stopped"
    finally:
        again.close()


def test_cancel_queued_job_and_bad_job_ids(runner):
    first = runner.submit(LONG)
    queued = runner.submit(LONG)
    assert runner.stop(queued.id).status == "stopped"
    runner.stop(first.id)
    runner.wait(first.id, timeout=30)
    assert runner.get(queued.id).pid is None
    for bad in ("", "../x", ".hidden", "nope"):
        with pytest.raises(KeyError):
            runner.get(bad)


def test_a_bad_config_is_refused_before_a_job_exists(runner):
    with pytest.raises(ConfigError, match="Val split: at most 0.99") as e:
        runner.submit(ClassificationConfig(val_split=5.0))
    assert e.value.field == "val_split" and runner.jobs() == []


def test_a_failing_job_reports_its_reason(runner, tmp_path):
    (tmp_path / "empty").mkdir()
    job = runner.submit(ClassificationConfig(dataset=str(tmp_path / "empty")))
    done = runner.wait(job.id, timeout=120)
    assert done.status == "failed" and done.message and done.returncode == 2, runner.log_tail(job.id)
    assert runner.get(job.id).config["dataset"] == str(tmp_path / "empty")


def test_the_panel_shows_a_sample_picture_even_before_its_event(runner):
    """A tick between a picture's save and its event once stamped the folder and drew the gallery from the
    events: the newest picture never showed. The gallery now comes from the folder its stamp covers."""
    import json

    import gradio as gr
    from PIL import Image

    from webui.jobs import PanelView, tick
    from training.runner import Job

    job = Job(id="20261130-000000-abcdef", task="generative", argv=[], device="cpu", created=time.time(),
              status="completed")  # (a running job without a process would be failed by the runner)
    runner._save(job)
    run = runner.folder(job.id).run
    run.samples.mkdir(parents=True)
    for epoch in (1, 2):
        Image.new("RGB", (8, 8), (epoch * 100, 0, 0)).save(run.sample(epoch))
    run.events.write_text(json.dumps({"type": "sample", "step": 1, "epoch": 1, "kind": "image",
                                      "data": "samples/epoch-0001.png"}) + "\n")  # epoch 2's event: not yet
    view = PanelView("generative", "fid", "img/s", samples="image")
    *out, seen, _ = tick(runner, view, job.id, None)
    gallery = out[view.groups.index("samples")]
    assert [caption for _, caption in gallery] == ["epoch 2", "epoch 1"]
    assert gallery[0][0].getpixel((0, 0)) == (200, 0, 0)
    assert tick(runner, view, job.id, seen)[:-2] == (gr.skip(),) * len(view.groups)  # nothing changed: nothing sent
    runner.folder(job.id).log.write_text("epoch 3 ...")  # only the log changed: only the log is sent again
    *again, _, _ = tick(runner, view, job.id, seen)
    assert [g for v, g in zip(again, view.groups) if v != gr.skip()] == ["log"]



def test_a_tick_with_no_job_picked_redraws_only_the_table(runner):
    """After a reload, a tick sent before the page picked its running job landed after the pick's watch and
    blanked its progress ("Start a job, or pick one to watch" under a picked job): it now sends the table alone."""
    import gradio as gr

    from training.runner import Job
    from webui.jobs import NO_JOB, PanelView, tick

    view = PanelView("classification", "accuracy", "img/s")
    rows, hint, *rest, seen, _ = tick(runner, view, None, None)
    assert rows == [] and hint == NO_JOB and rest == [gr.skip()] * (len(view.groups) - 2)  # nothing to pick: the hint
    assert tick(runner, view, None, seen)[:-2] == (gr.skip(),) * len(view.groups)
    runner._save(Job(id="20261130-000000-abcdef", task="classification", argv=[], device="cpu", created=time.time(),
                     status="completed"))
    rows, hint, *rest, _, _ = tick(runner, view, None, seen)
    assert len(rows) == 1 and hint == gr.skip() and rest == [gr.skip()] * (len(view.groups) - 2)

def test_the_queue_takes_turns_between_owners():
    """One visitor's ten jobs do not hold back another's first: an owner's k-th job (running ones counted) waits
    for every other owner's k-th."""
    from training.runner import Job, queue_order

    def job(n, owner, status="queued"):
        return Job(id=f"j{n}", task="classification", argv=[], device="cpu", created=float(n), status=status,
                   owner=owner)

    jobs = [*(job(n, "a") for n in range(5)), job(5, "b"), job(6, "c"), job(7, "b"), job(8, "a", "running")]
    # a has a job running already: b's and c's first ones go before a's second
    assert [j.id for j in queue_order(jobs)] == ["j5", "j6", "j0", "j7", "j1", "j2", "j3", "j4"]


def test_a_job_past_its_time_limit_is_stopped_and_says_why(runner):
    job = runner.submit(LONG, max_seconds=3)
    done = runner.wait(job.id, timeout=120)
    assert done.status == "stopped" and "time limit of 0.05 min" in done.message


def test_a_panel_tick_reads_only_the_new_events_and_draws_a_bounded_curve(runner):
    """Each tick used to read and parse the whole events file and send every point (2.1 s and 2.4 MB a tick at
    100k events). It now reads the bytes written since the last tick, and each curve keeps at most 2,000 points,
    bucket means that follow the curve."""
    import json
    import math

    from training.runner import Job
    from webui.jobs import PanelView, tick

    job = Job(id="20261130-000000-abcdef", task="classification", argv=[], device="cpu", created=time.time(),
              status="completed")
    runner._save(job)
    events = runner.folder(job.id).run.events
    events.parent.mkdir(parents=True, exist_ok=True)

    def loss(step: int) -> float:  # a decaying curve with noise that bucket means smooth out
        return 2 * math.exp(-step / 3000) + 0.3 * (-1) ** step

    def write(steps: range, *more: dict) -> None:
        with open(events, "a") as f:
            for s in steps:
                f.write(json.dumps({"type": "step", "step": s, "epoch": 1, "loss": loss(s), "lr": 0.1}) + "\n")
            for e in more:
                f.write(json.dumps(e) + "\n")

    write(range(1, 2), {"type": "start", "total_steps": 30000})
    write(range(2, 20001))
    view = PanelView("classification", "accuracy", "img/s")
    *out, seen, _ = tick(runner, view, job.id, None)
    assert runner.digest(job.id).read_bytes == events.stat().st_size
    write(range(20001, 20011), {"type": "eval", "step": 20010, "epoch": 1, "metrics": {"accuracy": 0.5}})
    *out, seen, _ = tick(runner, view, job.id, seen)
    run = runner.digest(job.id)
    assert run.read_bytes == events.stat().st_size  # each byte read once: the ten steps and the eval were all it read
    frame = out[2]  # (the outputs: table, progress, loss, metrics, log)
    assert len(frame) <= 2000 and frame["step"].iloc[-1] == 20010
    for s, y in zip(frame["step"][::97], frame["loss"][::97]):  # the smoothed curve, where it is
        assert abs(y - 2 * math.exp(-s / 3000)) < 0.05, (s, y)
    assert "step 20010/30000" in out[1] and out[3]["value"].tolist() == [0.5]
    events.write_text("")  # a rewritten file is read again from its start
    assert len(runner.digest(job.id).loss) == 0


def test_a_push_waits_for_a_hub_that_restarts_but_not_for_one_that_refuses(monkeypatch):
    """The embedded hub restarts with its app while a job runs: the job's push tries again for up to a minute;
    a hub that answers with an error is not waited for."""
    from hub.client import HubActionError, HubUnreachable
    from training import engine

    monkeypatch.setattr(engine.time, "sleep", lambda s: None)
    tries = []

    def back_on_the_third_try():
        tries.append(1)
        if len(tries) < 3:
            raise HubUnreachable("down")
        return "http://hub/commit/1"

    assert engine._patiently(back_on_the_third_try) == "http://hub/commit/1" and len(tries) == 3
    with pytest.raises(HubUnreachable):
        engine._patiently(lambda: (_ for _ in ()).throw(HubUnreachable("down")), patience_s=0)

    def refused():
        tries.append(1)
        raise HubActionError("403: no write access")

    tries.clear()
    with pytest.raises(HubActionError):
        engine._patiently(refused)
    assert len(tries) == 1
