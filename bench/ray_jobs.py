"""Training jobs on a Ray cluster against the local runner, on this machine (training.ray_jobs).

Starts a Ray head and ``--nodes`` worker nodes of ``--cpus`` CPUs each on 127.0.0.1 (tests/ray_cluster.py), then,
alternating the two runners (local, Ray, local, Ray...):

* makespan: ``--jobs`` small jobs (classification --dry-run) submitted at once, until the last one ended. The
  local runner runs one job per device at a time; the Ray runner keeps nodes x CPUs of them on the cluster.
* overhead per job: one job alone, from submit() to its first event on the app's side (the job's start), and to
  its end (for Ray: its model pulled back too).

    python bench/ray_jobs.py [--jobs 20] [--nodes 2] [--cpus 1] [--rounds 2] [--singles 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DLP_HOME", tempfile.mkdtemp(prefix="dlp-bench-ray-"))


def first_event_s(runner, job_id: str, since: float) -> float:
    while not runner.events(job_id)[0]:
        if runner.get(job_id).status not in ("queued", "running", "stopping"):
            raise RuntimeError(f"job {job_id} ended without events: {runner.log_tail(job_id)}")
        time.sleep(0.02)
    return time.perf_counter() - since


def makespan(runner, jobs: int) -> float:
    from hub.client import job_env, local_hub
    from training.tasks.classification import ClassificationConfig

    t0 = time.perf_counter()
    ids = [runner.submit(ClassificationConfig(dry_run=True, device="cpu", seed=i),
                         secret_env=job_env(local_hub())).id for i in range(jobs)]
    for job_id in ids:
        done = runner.wait(job_id, timeout=1800)
        if done.status != "completed":
            raise RuntimeError(f"job {job_id} {done.status}: {runner.log_tail(job_id)}")
    return time.perf_counter() - t0


def single(runner) -> tuple[float, float]:
    from hub.client import job_env, local_hub
    from training.tasks.classification import ClassificationConfig

    t0 = time.perf_counter()
    job = runner.submit(ClassificationConfig(dry_run=True, device="cpu"), secret_env=job_env(local_hub()))
    first = first_event_s(runner, job.id, t0)
    runner.wait(job.id, timeout=600)
    return first, time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--jobs", type=int, default=20)
    p.add_argument("--nodes", type=int, default=2)
    p.add_argument("--cpus", type=int, default=1)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--singles", type=int, default=3)
    args = p.parse_args()

    from tests.ray_cluster import LoopbackCluster
    from training.ray_jobs import RayBackend, RaySettings
    from training.runner import JobRunner

    t0 = time.perf_counter()
    cluster = LoopbackCluster().start(workers=args.nodes, cpus=args.cpus)
    print(f"cluster up: head + {args.nodes} nodes x {args.cpus} CPU in {time.perf_counter() - t0:.1f} s")
    work = Path(tempfile.mkdtemp(prefix="dlp-bench-ray-jobs-"))
    settings = RaySettings(address=cluster.address, max_jobs=args.nodes * args.cpus, poll_s=0.2,
                           output_dir=str(work / "on-the-nodes"))
    runners = {"local": JobRunner(work / "local", poll_s=0.1),
               "ray": JobRunner(work / "ray", poll_s=0.1, backend=RayBackend(settings))}
    spans: dict[str, list[float]] = {name: [] for name in runners}
    firsts: dict[str, list[float]] = {name: [] for name in runners}
    ends: dict[str, list[float]] = {name: [] for name in runners}
    try:
        for _ in range(args.singles):
            for name, runner in runners.items():
                first, end = single(runner)
                firsts[name].append(first)
                ends[name].append(end)
                print(f"{name:5s} one job: first event {first:.2f} s, ended {end:.2f} s", flush=True)
        for r in range(args.rounds):
            for name, runner in runners.items():
                spans[name].append(makespan(runner, args.jobs))
                print(f"round {r + 1} {name:5s}: {args.jobs} jobs in {spans[name][-1]:.1f} s", flush=True)
    finally:
        for runner in runners.values():
            runner.close()
        cluster.stop()
    med = {name: statistics.median(v) for name, v in spans.items()}
    print()
    print("| | local runner | Ray, %d nodes x %d CPU | ratio (local / Ray) |" % (args.nodes, args.cpus))
    print("|---|---|---|---|")
    print(f"| makespan of {args.jobs} dry-run jobs (median of {args.rounds}) | {med['local']:.1f} s | "
          f"{med['ray']:.1f} s | {med['local'] / med['ray']:.2f}x |")
    for label, table in (("submit to first event", firsts), ("submit to end (Ray: model pulled back)", ends)):
        lo, ray = statistics.median(table["local"]), statistics.median(table["ray"])
        print(f"| one job: {label} (median of {args.singles}) | {lo:.2f} s | {ray:.2f} s | "
              f"Ray +{ray - lo:.2f} s |")


if __name__ == "__main__":
    main()
