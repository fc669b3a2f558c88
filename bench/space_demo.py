"""A published Space's demo against the playground, for the same model (a LeNet trained on the digits):

- cold start: seconds from `python app.py` to the first served page, the Space's app.py (in its own folder,
  with only its own files on the path) and the playground's (`python app.py --no-starter`), A B A B;
- predict latency through each one's Gradio API (the Space's /predict, the playground's /classification_predict),
  median and p95 of ``--requests`` sequential calls after one warm-up, and the model called directly.

    .venv/bin/python bench/space_demo.py [--runs 3] [--requests 40]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from measure import free_port, wait_for  # noqa: E402 (bench/measure.py)

HOME = Path(tempfile.mkdtemp(prefix="dlp-bench-space-"))
os.environ.setdefault("DLP_HOME", str(HOME / "home"))
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def start(cmd: list[str], cwd: Path, env: dict, port: int) -> tuple[subprocess.Popen, float]:
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(f"http://127.0.0.1:{port}/", proc, timeout=180)
    return proc, time.perf_counter() - t


def latencies(call, n: int) -> list[float]:
    call()  # warm-up
    out = []
    for _ in range(n):
        t = time.perf_counter()
        call()
        out.append(time.perf_counter() - t)
    return out


def summary(xs: list[float]) -> str:
    xs = sorted(xs)
    return f"median {statistics.median(xs) * 1000:.1f} ms, p95 {xs[int(0.95 * (len(xs) - 1))] * 1000:.1f} ms"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--requests", type=int, default=40)
    args = p.parse_args()
    from gradio_client import Client, handle_file

    from hub import client as hubs
    from hub.publish import fetch_space, publish
    from hub.server import start_in_thread
    from hub.server.storage import HubStore
    from hub_models.inference import classify, load_classifier
    from training.classification import ClassificationConfig
    from training.tasks import train

    try:
        token = HubStore(HOME / "hub").add_token("bench")
        server = start_in_thread(HOME / "hub")
        hub = hubs.Hub("url", server.url, token)
        jobs = HOME / "jobs"
        for _ in train(ClassificationConfig(model="lenet", epochs=2, output_dir=str(jobs / "bench-run"))):
            pass
        hubs.push_folder(jobs / "bench-run" / "model", "bench/lenet", hub)
        folder = hubs.pull("bench/lenet", hub)
        sha = json.loads((folder / ".complete").read_text())["sha"]
        publish("classification", folder, model_id="bench/lenet", revision=sha, space_id="bench/lenet-demo", hub=hub)
        space = fetch_space("bench/lenet-demo", hub, HOME / "space")
        image = str(ROOT / "assets" / "examples" / "digit-3.png")

        space_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        app_env = {**os.environ, "DLP_HOME": str(HOME / "app"), "DLP_HUB": server.url, "DLP_HUB_TOKEN": token}
        cold = {"space": [], "playground": []}
        for _ in range(args.runs):
            for which in cold:
                port = free_port()
                if which == "space":
                    proc, took = start([sys.executable, "app.py"], space, {**space_env, "GRADIO_SERVER_PORT": str(port)},
                                       port)
                else:
                    proc, took = start([sys.executable, "app.py", "--port", str(port), "--no-starter"], ROOT, app_env,
                                       port)
                cold[which].append(took)
                proc.terminate()
                proc.wait()
        for which, xs in cold.items():
            print(f"cold start, {which:<10}: median {statistics.median(xs):.2f} s (min {min(xs):.2f}, max {max(xs):.2f})")

        model = load_classifier(folder)
        direct = latencies(lambda: classify(model, image, 3), args.requests)
        port = free_port()
        proc, _ = start([sys.executable, "app.py"], space, {**space_env, "GRADIO_SERVER_PORT": str(port)}, port)
        try:
            client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            in_space = latencies(lambda: client.predict(handle_file(image), 3, api_name="/predict"), args.requests)
        finally:
            proc.terminate()
            proc.wait()
        from app import build_app
        from training.runner import JobRunner

        runner = JobRunner(jobs)
        demo = build_app(default_hub=server.url, runner=runner)
        demo.queue()
        port = free_port()
        demo.launch(server_port=port, prevent_thread_lock=True, quiet=True)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        from webui.common import HUB_CHOICES

        url_choice = next(label for label, kind in HUB_CHOICES.items() if kind == "url")
        pulled = client.predict("bench/lenet", url_choice, server.url, token, api_name="/classification_pull")
        pulled = pulled["value"] if isinstance(pulled, dict) else pulled  # the same model, pulled by the app
        in_app = latencies(lambda: client.predict(pulled, handle_file(image), 3,
                                                  api_name="/classification_predict"), args.requests)
        demo.close()
        print(f"predict, the model called directly: {summary(direct)}")
        print(f"predict through the Space's API:    {summary(in_space)}")
        print(f"predict through the playground's:   {summary(in_app)}")
        server.stop()
    finally:
        shutil.rmtree(HOME, ignore_errors=True)


if __name__ == "__main__":
    main()
