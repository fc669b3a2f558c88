"""Predict latency through the Gradio API against calling the model directly, and throughput
with 16 concurrent clients, for the image-classification tab.

    .venv/bin/python bench/predict_latency.py [--requests 60] [--clients 16]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from measure import free_port  # noqa: E402 (bench/measure.py)
os.environ.setdefault("DLP_HOME", tempfile.mkdtemp(prefix="dlp-bench-"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--requests", type=int, default=60)
    p.add_argument("--clients", type=int, default=16)
    args = p.parse_args()

    from gradio_client import Client, handle_file

    from app import build_app
    from hub_models.inference import classify, load_classifier
    from webui.classification import EXAMPLES
    from training.classification import ClassificationConfig
    from training.runner import JobRunner
    from training.tasks import train

    runner = JobRunner(Path(os.environ["DLP_HOME"]) / "jobs")
    out = runner.root / "bench-run"  # the app serves models from its own folders only
    for _ in train(ClassificationConfig(model="lenet", epochs=2, output_dir=str(out))):
        pass
    folder = str(out / "model")
    image = EXAMPLES[0]

    model = load_classifier(folder)
    classify(model, image)  # warm-up
    direct = []
    for _ in range(args.requests):
        t = time.perf_counter()
        classify(model, image, top_k=5)
        direct.append(time.perf_counter() - t)

    demo = build_app(default_hub="local", runner=runner)
    demo.queue(default_concurrency_limit=8)
    port = free_port()
    demo.launch(server_port=port, prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    client = Client(url, verbose=False)
    call = dict(api_name="/classification_predict")
    client.predict(folder, handle_file(image), 5, **call)  # warm-up
    api = []
    for _ in range(args.requests):
        t = time.perf_counter()
        client.predict(folder, handle_file(image), 5, **call)
        api.append(time.perf_counter() - t)

    clients = [Client(url, verbose=False) for _ in range(args.clients)]
    per_client = max(1, args.requests // args.clients * 2)

    def hammer(c: Client) -> None:
        for _ in range(per_client):
            c.predict(folder, handle_file(image), 5, **call)

    threads = [threading.Thread(target=hammer, args=(c,)) for c in clients]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t
    demo.close()
    runner.close()
    ms = lambda xs: statistics.median(xs) * 1000  # noqa: E731
    print(f"direct classify():           median {ms(direct):6.1f} ms")
    print(f"through the Gradio API:      median {ms(api):6.1f} ms (sequential, one client)")
    print(f"sequential throughput:       {1 / statistics.mean(api):6.1f} requests/s")
    print(f"{args.clients} concurrent clients:       {args.clients * per_client / wall:6.1f} requests/s "
          f"({args.clients * per_client} requests in {wall:.1f} s)")


if __name__ == "__main__":
    main()
