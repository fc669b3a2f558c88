"""Compare runs, random search and the experiment tracker, through the classification tab's job panel."""
from __future__ import annotations

import json
import math
import os
import sqlite3
from pathlib import Path

import pytest

from conftest import refused, table_rows, wait_job

LOCAL_HUB = {"choice": "Local hub (offline)", "url": "", "token": ""}


def test_draws_follow_their_scales():
    from training.search import draw, ranked

    settings = draw(200, seed=1, lr=(1e-4, 1e-1), weight_decay=(0.0, 0.1), batch_sizes=[16, 64])
    lrs = [s["lr"] for s in settings]
    assert all(1e-4 <= v <= 1e-1 for v in lrs)
    # log-uniform: each decade gets about a third of the draws (uniform would put 90 % in the top one)
    decades = [sum(10 ** (-4 + d) <= v < 10 ** (-3 + d) for v in lrs) for d in range(3)]
    assert all(40 <= n <= 95 for n in decades), decades
    assert {s["batch_size"] for s in settings} == {16, 64}
    assert all(0 <= s["weight_decay"] <= 0.1 for s in settings)
    assert draw(3, seed=1, lr=(1e-4, 1e-1)) == draw(3, seed=1, lr=(1e-4, 1e-1))  # the seed decides
    with pytest.raises(ValueError, match="above 0"):
        draw(2, 0, lr=(0, 1e-2))
    with pytest.raises(ValueError, match="at least 1"):
        draw(0, 0, lr=(1e-3, 1e-2))
    rows = [{"a": 0.5}, {"a": None}, {"a": 0.9}, {"a": 0.7}]
    assert [r["a"] for r in ranked(rows, "a")] == [0.9, 0.7, 0.5, None]
    assert [r["a"] for r in ranked(rows, "a", lower_is_better=True)] == [0.5, 0.7, 0.9, None]


def test_search_compare_and_track(tab):
    client, runner = tab
    base = client.predict(model="lenet", epochs=1, batch_size=64, upload=None, **LOCAL_HUB,
                          api_name="/classification_train")
    base = base["value"] if isinstance(base, dict) else base
    wait_job(runner, base)
    with refused("Watch a job first"):
        client.predict(base_job=None, trials=2, lr_low=1e-3, lr_high=1e-2, wd_low=0, wd_high=0, batch_sizes=[],
                       seed=0, **LOCAL_HUB, api_name="/classification_search")
    with refused("greater than maximum value 20"):
        client.predict(base_job=base, trials=50, lr_low=1e-3, lr_high=1e-2, wd_low=0, wd_high=0, batch_sizes=[],
                       seed=0, **LOCAL_HUB, api_name="/classification_search")
    with refused("above 0"):
        client.predict(base_job=base, trials=2, lr_low=0, lr_high=1e-2, wd_low=0, wd_high=0, batch_sizes=[],
                       seed=0, **LOCAL_HUB, api_name="/classification_search")
    picked, note = client.predict(base_job=base, trials=2, lr_low=1e-4, lr_high=3e-2, wd_low=0, wd_high=0,
                                  batch_sizes=[32, 128], seed=7, **LOCAL_HUB, api_name="/classification_search")
    trials = picked["value"] if isinstance(picked, dict) else picked
    assert len(trials) == 2 and "Queued 2 of 2 trials" in note
    for job_id in trials:
        job = runner.get(job_id)
        assert job.config["model"] == "lenet" and job.config["epochs"] == 1  # the base job's settings
        assert job.config["batch_size"] in (32, 128) and 1e-4 <= job.config["lr"] <= 3e-2
        assert job.config["run_group"].startswith("search-") and not job.config["push_to_hub"]
        wait_job(runner, job_id)
        assert runner.get(job_id).status == "completed", runner.log_tail(job_id)

    loss, metric, table, note = client.predict([base, *trials], api_name="/classification_compare")
    rows = table_rows(table)
    accuracies = [r[-1] for r in rows]
    assert len(rows) == 3 and accuracies == sorted(accuracies, reverse=True)
    assert "Best so far" in note and f"{accuracies[0]:.4g}" in note
    assert len({r[-1] for r in table_rows(loss)}) == 3 and len({r[-1] for r in table_rows(metric)}) == 3
    with refused("Pick the jobs"):
        client.predict([], api_name="/classification_compare")

    # Every run is in the tracker, the trials in their group, with the same final metric the app shows.
    # (the owner's jobs log where the app's environment says, here conftest's folder, else the runner's own)
    db = sqlite3.connect(Path(os.environ.get("TRACKIO_DIR", runner.root / "trackio"))
                         / "dl-playground-classification.db")
    runs = {name: json.loads(config) for name, config in db.execute("select run_name, config from configs")}
    assert set(runs) >= {base, *trials}
    assert {runs[t]["_Group"] for t in trials} == {runner.get(trials[0]).config["run_group"]}
    logged = [json.loads(m) for (m,) in db.execute("select metrics from metrics where run_name = ?", (trials[0],))]
    final = json.loads((runner.folder(trials[0]).run.metrics).read_text())["accuracy"]
    assert math.isclose([m for m in logged if "val/accuracy" in m][-1]["val/accuracy"], final)
    assert any("train/loss" in m for m in logged) and any("train/accuracy" in m for m in logged)
