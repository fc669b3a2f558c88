"""The inference endpoint (webui.endpoint) under concurrent clients, side by side with its limit: the same work
(read the body, classify(), JSON) behind a minimal FastAPI route. Also Gradio's own API with the same clients,
counting failed requests.

Each server is a process of its own (the app as app.py builds it, with its Gradio queue; the bare FastAPI app),
serving a LeNet trained here first; the clients are threads of this process, each with its own connection,
sending the same 64x64 PNG. Alternating order, ``--rounds`` times.

    .venv/bin/python bench/endpoint.py [--clients 1,16,64] [--seconds 10] [--rounds 2]
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from measure import free_port, wait_for  # noqa: E402
from starlette.requests import Request  # noqa: E402 (the bare route's annotation: FastAPI reads it by name)


def serve(kind: str, root: str, job_id: str, port: int) -> None:
    """(In the server process.) ``app``: the whole app with the endpoint; ``bare``: one FastAPI route."""
    os.environ["DLP_HOME"] = root
    from training.runner import JobRunner

    runner = JobRunner(Path(root) / "jobs")
    if kind == "app":
        from app import build_app, launch_kwargs

        demo = build_app(default_hub="local", runner=runner)
        demo.queue(default_concurrency_limit=8)
        demo.launch(server_port=port, prevent_thread_lock=True, quiet=True, **launch_kwargs(runner, "local"))
        demo.block_thread()
        return
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    from hub_models.inference import classify, load_classifier

    model = load_classifier(str(runner.folder(job_id).run.model))
    bare = FastAPI()

    @bare.get("/")
    def up():
        return {}

    @bare.post("/classify")
    async def classify_route(request: Request):
        body = await request.body()
        import anyio

        scores, _ = await anyio.to_thread.run_sync(lambda: classify(model, body, top_k=5))
        return JSONResponse([{"label": k, "score": v} for k, v in scores.items()])

    uvicorn.run(bare, host="127.0.0.1", port=port, log_level="warning")


def load(url: str, png: bytes, clients: int, seconds: float, gradio_model: str | None = None) -> dict:
    """``clients`` threads calling ``url`` back to back for ``seconds``: requests/s, latency p50/p99, failures.
    With ``gradio_model`` (a picker value), ``url`` is the app's and the calls go through Gradio's API."""
    import httpx

    latencies: list[float] = []
    failures: list[str] = []
    stop = [0.0]
    # Every client connected before the clock starts (the action runs before any thread goes on).
    ready = threading.Barrier(clients + 1, action=lambda: stop.__setitem__(0, time.monotonic() + seconds))

    def client() -> None:
        try:
            if gradio_model:
                from gradio_client import Client, handle_file

                path = Path(tempfile.mkdtemp()) / "digit.png"
                path.write_bytes(png)
                c = Client(url, verbose=False, httpx_kwargs={"timeout": 120})
                call = lambda: c.predict(gradio_model, handle_file(str(path)), 5, api_name="/classification_predict")  # noqa: E731
            else:
                session = httpx.Client(timeout=60)
                call = lambda: session.post(url, content=png, headers={"content-type": "image/png"}).raise_for_status()  # noqa: E731
        except Exception as e:  # noqa: BLE001 (a client that could not connect is a failure too)
            failures.append(f"connecting: {e!r}"[:200])
            ready.wait()
            return
        ready.wait()
        while time.monotonic() < stop[0]:
            t = time.perf_counter()
            try:
                call()
                latencies.append(time.perf_counter() - t)
            except Exception as e:  # noqa: BLE001 (counted)
                failures.append(repr(e)[:200])

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    ready.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99 if latencies else [0] * 99
    return {"rps": len(latencies) / wall, "p50": q[49] * 1000, "p99": q[98] * 1000, "failed": len(failures),
            "n": len(latencies), "first_failure": failures[0] if failures else ""}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", default="1,16,64")
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--gradio-seconds", type=float, default=20, help="Gradio's API with the most clients (0: skip)")
    p.add_argument("--serve", nargs=4, metavar=("KIND", "ROOT", "JOB", "PORT"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        kind, root, job, port = args.serve
        serve(kind, root, job, int(port))
        return

    from PIL import Image
    from sklearn.datasets import load_digits

    from training.classification import ClassificationConfig
    from training.runner import JobRunner

    root = tempfile.mkdtemp(prefix="dlp-bench-endpoint-")
    os.environ["DLP_HOME"] = root
    runner = JobRunner(Path(root) / "jobs", poll_s=0.1)
    job = runner.submit(ClassificationConfig(model="lenet", epochs=3), label="bench")
    while runner.get(job.id).status in ("queued", "running"):
        time.sleep(0.5)
    runner.close()
    digits = load_digits()
    buf = io.BytesIO()
    Image.fromarray((digits.images[3] * 16).astype("uint8"), "L").resize((64, 64)).save(buf, "PNG")
    png = buf.getvalue()

    servers = {}
    for kind in ("app", "bare"):
        port = free_port()
        proc = subprocess.Popen([sys.executable, __file__, "--serve", kind, root, job.id, str(port)], cwd=ROOT,
                                env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL)
        wait_for(f"http://127.0.0.1:{port}/", proc)
        servers[kind] = (proc, f"http://127.0.0.1:{port}")
    urls = {"endpoint": servers["app"][1] + f"/infer/job/{job.id}", "FastAPI limit": servers["bare"][1] + "/classify"}
    for url in urls.values():  # warm-up: the model loads
        load(url, png, 1, 1.0)
    results: dict[tuple[str, int], list[dict]] = {}
    try:
        for r in range(args.rounds):
            for n in (int(c) for c in args.clients.split(",")):
                for name in (list(urls) if r % 2 == 0 else list(urls)[::-1]):
                    results.setdefault((name, n), []).append(load(urls[name], png, n, args.seconds))
        gradio = load(servers["app"][1] + "/", png, max(int(c) for c in args.clients.split(",")), args.gradio_seconds,
                      gradio_model=f"job:{job.id}") if args.gradio_seconds else None
    finally:
        for proc, _ in servers.values():
            proc.terminate()
    print(f"{'clients':>7} | {'endpoint req/s':>14} {'p50 ms':>7} {'p99 ms':>7} {'failed':>6} | "
          f"{'FastAPI req/s':>13} {'p50 ms':>7} {'p99 ms':>7} | ratio")
    for n in (int(c) for c in args.clients.split(",")):
        e = {k: statistics.median(x[k] for x in results[("endpoint", n)]) for k in ("rps", "p50", "p99")}
        b = {k: statistics.median(x[k] for x in results[("FastAPI limit", n)]) for k in ("rps", "p50", "p99")}
        failed = sum(x["failed"] for x in results[("endpoint", n)])
        if bare_failed := [x["first_failure"] for x in results[("FastAPI limit", n)] if x["failed"]]:
            print("the FastAPI limit failed:", bare_failed[0])
        print(f"{n:>7} | {e['rps']:>14.1f} {e['p50']:>7.1f} {e['p99']:>7.1f} {failed:>6} | {b['rps']:>13.1f} "
              f"{b['p50']:>7.1f} {b['p99']:>7.1f} | {b['rps'] / e['rps']:.2f}x")
    if gradio:
        print(f"Gradio API, {max(int(c) for c in args.clients.split(','))} clients: {gradio['rps']:.1f} req/s, "
              f"p50 {gradio['p50']:.0f} ms, p99 {gradio['p99']:.0f} ms, {gradio['n']} answered, "
              f"{gradio['failed']} failed {gradio['first_failure']}")


if __name__ == "__main__":
    main()
