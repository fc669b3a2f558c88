"""Many visitors of one public app: each in a session of their own pulls a classifier from the team hub and
predicts in a loop while another visitor's job trains. Throughput, latency, errors and the app's memory, beside
the limit: the same predictions called directly in a bare loop.

    .venv/bin/python bench/visitors.py [--visitors 50] [--seconds 60] [--no-job]

The app runs as its own process (``app.py --public --hub URL``, so its memory is measured alone); the hub runs in
this process on loopback. A visitor does what a browser does, over Gradio's HTTP API: upload the picture, call
predict, read the result's event stream, fetch the picture it returns (gradio_client costs more CPU than the app
it measures, on the same two cores).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from measure import cpu_seconds, free_port, memory_mb, wait_for  # noqa: E402 (bench/measure.py)
HOME = Path(tempfile.mkdtemp(prefix="dlp-bench-"))
os.environ.setdefault("DLP_HOME", str(HOME / "bench"))
URL_HUB = "Hub at a URL"


class Visitor:
    """One visitor's page session, over Gradio's HTTP API."""

    def __init__(self, url: str):
        import secrets

        import httpx

        self.url = url.rstrip("/") + "/gradio_api"
        self.http = httpx.Client(timeout=120)
        self.session = secrets.token_hex(8)

    def call(self, api: str, data: list) -> list:
        import json

        event = self.http.post(f"{self.url}/call/{api}", json={"data": data, "session_hash": self.session})
        event.raise_for_status()
        with self.http.stream("GET", f"{self.url}/call/{api}/{event.json()['event_id']}") as stream:
            kind = None
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind in ("complete", "error"):
                    if kind == "error":
                        raise RuntimeError(line[6:])
                    return json.loads(line[6:])
        raise RuntimeError(f"{api}: the event stream ended without a result")

    def predict(self, key: str, image: str) -> None:
        with open(image, "rb") as f:
            uploaded = self.http.post(f"{self.url}/upload", files={"files": (Path(image).name, f)})
        uploaded.raise_for_status()
        picture = {"path": uploaded.json()[0], "meta": {"_type": "gradio.FileData"}}
        label, seen, _ = self.call("classification_predict", [key, picture, 5])
        assert label["label"], label
        self.http.get(seen["url"]).raise_for_status()  # the picture the page shows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--visitors", type=int, default=50)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--no-job", action="store_true", help="measure without the training job")
    args = p.parse_args()

    from gradio_client import Client

    from hub import client as hubs
    from hub.server import start_in_thread
    from hub.server.storage import HubStore
    from hub_models.inference import classify, load_classifier
    from training.classification import ClassificationConfig
    from training.tasks import train
    from webui.classification import EXAMPLES

    # The team hub, holding one LeNet.
    data = HOME / "hub"
    token = HubStore(data).add_token("teacher")
    hub_port = free_port()
    server = start_in_thread(data, port=hub_port)
    hub_url = f"http://127.0.0.1:{hub_port}"
    out = HOME / "lenet"
    for _ in train(ClassificationConfig(model="lenet", epochs=1, output_dir=str(out))):
        pass
    repo = "teacher/lenet-bench"
    hubs.push_folder(out / "model", repo, hubs.Hub("url", hub_url, token))
    image = EXAMPLES[0]

    # The limit: the same prediction called directly, in a bare loop.
    model = load_classifier(str(out / "model"))
    classify(model, image)
    t, n = time.perf_counter(), 0
    while time.perf_counter() - t < 5:
        classify(model, image, top_k=5)
        n += 1
    direct_rate = n / (time.perf_counter() - t)

    port = free_port()
    env = {**os.environ, "DLP_HOME": str(HOME / "app"), "DLP_NO_STARTER": "1", "DLP_MAX_JOBS_PER_VISITOR": "1"}
    app = subprocess.Popen([sys.executable, "app.py", "--public", "--port", str(port), "--hub", hub_url], cwd=ROOT,
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for(url, app)
        trainer = Client(url, verbose=False)
        visitors = [Visitor(url) for _ in range(args.visitors)]
        keys = []
        for v in visitors:  # each pulls the model into their own folder, and warms up
            keys.append(v.call("classification_pull", [repo, URL_HUB, hub_url, ""])[0]["value"])
            v.predict(keys[-1], image)
        before = memory_mb(app.pid)
        job = None
        if not args.no_job:
            job = trainer.predict(model="lenet", epochs=150, choice=URL_HUB, url=hub_url, token="", upload=None,
                                  api_name="/classification_train")
            job = job["value"] if isinstance(job, dict) else job
            time.sleep(5)  # the job is running

        latencies: list[float] = []
        errors: list[str] = []
        peak = [before]
        lock = threading.Lock()
        stop_at = time.monotonic() + args.seconds

        def visit(v: Visitor, key: str) -> None:
            while time.monotonic() < stop_at:
                t0 = time.perf_counter()
                try:
                    v.predict(key, image)
                except Exception as e:  # counted, not raised: the bench reports them
                    with lock:
                        errors.append(f"{type(e).__name__}: {e}"[:200])
                    continue
                with lock:
                    latencies.append(time.perf_counter() - t0)

        curve: list[tuple[int, float]] = []  # (predictions so far, RSS) every 30 s: growth or a plateau

        def sample() -> None:
            last = time.monotonic()
            while time.monotonic() < stop_at:
                peak[0] = max(peak[0], memory_mb(app.pid))
                if time.monotonic() - last >= 30:
                    last = time.monotonic()
                    curve.append((len(latencies), memory_mb(app.pid)))
                time.sleep(1)

        threads = [threading.Thread(target=visit, args=(v, k)) for v, k in zip(visitors, keys)]
        threads.append(threading.Thread(target=sample))
        t0, cpu0 = time.perf_counter(), cpu_seconds(app.pid)
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall, cpu = time.perf_counter() - t0, cpu_seconds(app.pid) - cpu0
        status = "(none)"
        if job:
            status = trainer.predict(job, api_name="/classification_watch")[1]
            trainer.predict(job, api_name="/classification_stop")
            time.sleep(3)
        after = memory_mb(app.pid)
    finally:
        app.terminate()
        app.wait(timeout=30)
        server.stop()
        shutil.rmtree(HOME, ignore_errors=True)

    lat = sorted(latencies)
    q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))] * 1000  # noqa: E731
    print(f"direct classify() in a bare loop:    {direct_rate:7.1f} predictions/s (the limit)")
    print(f"{args.visitors} visitors through the app:       {len(lat) / wall:7.1f} predictions/s "
          f"({len(lat)} in {wall:.0f} s)")
    print(f"latency:                             p50 {q(0.5):.0f} ms, p99 {q(0.99):.0f} ms, "
          f"mean {statistics.mean(lat) * 1000:.0f} ms")
    print(f"app CPU per prediction:              {cpu / max(1, len(lat)) * 1000:.0f} ms "
          f"({cpu / wall:.2f} cores on average)")
    print(f"errors:                              {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
    print(f"app memory (RSS):                    {before:.0f} MB before, {peak[0]:.0f} MB peak, {after:.0f} MB after")
    print(f"the visitor's job while measured:    {status}")
    print("app memory every 30 s:               " + ", ".join(f"{mb:.0f} MB after {n}" for n, mb in curve))


if __name__ == "__main__":
    main()
