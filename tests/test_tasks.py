"""Tasks declared once: the registry, configs as the contract (validation, CLI round trip, forms), and a
tenth task added with its own three files and one registration, driven through CLI, runner and tab."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

from common.errors import ConfigError, UserError
from conftest import ROOT, free_port, refused
from training.config import TrainingError, add_config_args, config_from_args, config_from_values, config_to_argv
from training.tasks import TASKS, get_task, register

TESTS = ROOT / "tests"


@pytest.fixture(scope="module")
def line_task():
    """The example task registered as DLP_TASKS does it in a job's process."""
    sys.path.insert(0, str(TESTS))
    from example_task.declaration import TASK

    register(TASK)
    yield TASK
    TASKS.pop(TASK.name)


def test_every_task_is_declared_once_with_a_tab_a_trainer_and_a_metric():
    import importlib

    assert list(TASKS) == ["classification", "detection", "segmentation", "faces", "style", "generative", "bert",
                           "textgen", "translation"]
    for task in TASKS.values():
        assert callable(importlib.import_module(task.trainer).build_task)
        assert importlib.import_module(task.tab).TITLE == task.title
        task.config().validate()  # the defaults are valid
        assert set(task.dry_run) <= {f.name for f in dataclasses.fields(task.config)}, task.name


def test_declarations_and_forms_import_no_torch():
    code = ("import sys; import training.tasks, webui.forms, app; "
            "print(sorted(m for m in ('torch', 'transformers', 'timm', 'diffusers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", list(TASKS))
def test_a_config_goes_through_the_command_line_unchanged(name):
    import argparse

    task = get_task(name)
    cfg = dataclasses.replace(task.config(), epochs=2, seed=7, dry_run=True, push_to_hub="me/x")
    parser = argparse.ArgumentParser()
    add_config_args(parser, task.config)
    assert config_from_args(task.config, parser.parse_args(config_to_argv(cfg))) == cfg



@pytest.mark.parametrize("name", list(TASKS))
def test_the_command_line_help_of_every_task(name, capsys):
    """``python -m training bert --help`` crashed on the "15 %" of a help text (argparse %-formats them)."""
    from training.__main__ import main

    with pytest.raises(SystemExit) as stop:
        main([name, "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: python -m training {name}" in out and "--epochs" in out

def test_validation_names_the_field_and_is_a_user_error():
    from training.tasks.classification import ClassificationConfig

    for values, field, message in (({"epochs": 0}, "epochs", "Epochs: at least 1"),
                                   ({"optimizer": "adagrad"}, "optimizer", "one of sgd"),
                                   ({"epochs": 2.5}, "epochs", "a whole number"),
                                   ({"augment": "flip,rotate"}, "augment", "unknown augmentation rotate"),
                                   ({"model": "lenet", "init_from": "me/base"}, "init_from", "timm models")):
        with pytest.raises(ConfigError, match=message) as e:
            config_from_values(ClassificationConfig, values)
        assert e.value.field == field and isinstance(e.value, UserError)
    with pytest.raises(TypeError, match="no field epoch"):  # a typo in a tab is a bug, not the user's error
        config_from_values(ClassificationConfig, {"epoch": 3})
    assert config_from_values(ClassificationConfig, {"epochs": 3.0, "augment": ["flip", "crop"]}).augment == "flip,crop"
    assert issubclass(TrainingError, UserError)


def test_dry_run_sizes_come_from_the_declaration_and_leave_the_config_alone():
    task = get_task("textgen")
    cfg = task.config(dry_run=True)
    run = task.prepared(cfg)
    assert (run.epochs, run.max_steps, run.batch_size, run.seq_len) == (1, 1, 4, 32)
    assert cfg.epochs == task.config().epochs  # a new object: the caller's config is never edited


def test_a_new_task_trains_from_the_cli_the_runner_and_its_tab(line_task, tmp_path, monkeypatch):
    from gradio_client import Client

    from training.runner import JobRunner
    from training.tasks import train

    # The one generic train(): dry run, then a real fit that finds the slope.
    events = list(train(line_task.config(dry_run=True, output_dir=str(tmp_path / "dry"))))
    assert events[-1]["type"] == "end" and events[-1]["status"] == "completed"
    events = list(train(line_task.config(epochs=20, lr=0.1, output_dir=str(tmp_path / "fit"))))
    assert events[-1]["metrics"]["mse"] < 0.05  # the noise's variance is 0.01

    # The CLI knows it through DLP_TASKS, with flags from its config, and refuses a bad value by name.
    env = {**os.environ, "DLP_TASKS": "example_task.declaration",
           "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT)])}
    cli = [sys.executable, "-m", "training", "line"]
    bad = subprocess.run([*cli, "--points", "4"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "--points: at least 8" in bad.stderr
    ok = subprocess.run([*cli, "--slope", "-3", "--dry-run", "--output-dir", str(tmp_path / "cli")], cwd=ROOT,
                        env=env, capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr[-2000:]

    # Its tab: a form generated from the config, named values, a validator, a job through the runner.
    import gradio as gr

    from webui.common import AppContext, show_user_errors

    for k in ("DLP_TASKS", "PYTHONPATH"):  # the job's process registers the task the same way
        monkeypatch.setenv(k, env[k])
    runner = JobRunner(tmp_path / "runner", poll_s=0.1)
    try:
        from example_task import tab

        with gr.Blocks() as demo:
            tab.build(AppContext(demo=demo, runner=runner, tab="line", first_tab="line"))
        show_user_errors(demo)
        demo.queue().launch(server_port=(port := free_port()), prevent_thread_lock=True, quiet=True)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        api = client.view_api(return_format="dict")["named_endpoints"]["/line_train"]["parameters"]
        assert {p["parameter_name"] for p in api} >= {"slope", "noise", "points", "epochs", "lr"}
        with refused("Points: at least two batches"):
            client.predict(points=100, api_name="/line_train")
        job = client.predict(slope=-3, epochs=2, api_name="/line_train")
        job = job["value"] if isinstance(job, dict) else job
        done = runner.wait(job, timeout=300)
        assert done.status == "completed", runner.log_tail(job)
        assert done.config["slope"] == -3 and "--slope" in done.argv
        demo.close()
    finally:
        runner.close()
