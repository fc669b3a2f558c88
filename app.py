"""DL Playground: a tabbed Gradio app. This file only parses the command line and assembles tabs.

    python app.py [--host 127.0.0.1] [--port 7860] [--share] [--hub local|hf|URL]

On a Hugging Face Space it starts the same way, with no arguments: every option reads an environment variable.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
from dataclasses import replace

# Offline by default: no usage analytics calls (read when gradio is imported).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import gradio as gr  # noqa: E402

from hub.client import HubActionError, cache_root, local_hub_dir, resolve_hub  # noqa: E402
from webui import TABS  # noqa: E402
from webui import visitors  # noqa: E402
from webui.endpoint import Endpoint  # noqa: E402
from webui.jobs import look_routes  # noqa: E402
from webui.i18n import I18N, L, LanguageOverride, language_switch  # noqa: E402
from webui.common import (IN_REQUEST, PREDICT, WARMED, AppContext, cache_images_atomically, on_zero_gpu,  # noqa: E402
                          show_user_errors, waits_for_warm_up)
from training.runner import JobRunner  # noqa: E402

# (A picture starts below its label: Gradio floats the label over the picture's top-left corner, where ours write
# their titles and axis names.)
CSS = (".dlp-header h1 {margin-bottom: 0} footer {display: none !important} "
       '.block:has(> label.float[data-testid="block-label"]) .image-frame {padding-top: 2.2em}')


def build_app(default_hub: str = "local", runner: JobRunner | None = None) -> gr.Blocks:
    """The whole UI. Heavy libraries are imported by the tabs' handlers, not here."""
    if runner is None:
        runner = JobRunner(cache_root() / "jobs")
    cache_images_atomically()
    public = visitors.policy.public
    # Gradio's copies of a public app's uploads go after keep_hours too (checked hourly).
    keep = (3600, int(visitors.policy.keep_hours * 3600)) if public else None
    with gr.Blocks(title="DL Playground", delete_cache=keep) as demo:
        ctx = AppContext(demo=demo, default_hub=default_hub, runner=runner, first_tab=TABS[0])
        browser = gr.BrowserState("", storage_key="dlp-visitor", secret=visitors.browser_secret(runner.root))
        ctx.identified = demo.load(visitors.identify, browser, browser, api_visibility="private")
        with gr.Row():
            gr.Markdown(L("app.header"), elem_classes="dlp-header")
            language_switch(demo)
            if sign_in_offered():  # visitors push to huggingface.co with their own account (README: hf_oauth)
                # i18n: kept (Gradio's LoginButton tells signing in from out by its value: a translated one signs out)
                gr.LoginButton("Sign in with Hugging Face", scale=0, min_width=260)  # i18n: kept
        tabs = {}
        with gr.Tabs(overflow_behavior="wrap"):  # every tab in sight: a "⋯" menu hid Translation, Hub and About
            for name in TABS:
                module = importlib.import_module(f"webui.{name}")
                with gr.Tab(L(f"tab.{name}"), id=name) as tabs[name]:
                    ctx.tab = name
                    module.build(ctx)
        ctx.wire_page_load()
        # Only the shown tab's job panel polls the server.
        timers = list(ctx.timers.values())
        for name, tab in tabs.items():
            tab.select(lambda shown=name: [gr.Timer(active=t == shown) for t in ctx.timers], None, timers,
                       api_visibility="private", show_progress="hidden", queue=False)
    gpu = zero_gpu()
    for block_fn in demo.fns.values():
        if block_fn.concurrency_id not in (IN_REQUEST["concurrency_id"], PREDICT["concurrency_id"]):
            continue
        in_request = block_fn.concurrency_id == IN_REQUEST["concurrency_id"]
        if gpu is not None:  # the visitor's identity travels with the call (the GPU runs it in another process)
            block_fn.fn = visitors.run_as(gpu(duration=180 if in_request else 60), block_fn.fn)
        if in_request:
            block_fn.fn = visitors.one_per_visitor(block_fn.fn)
        # The machine's limits, DLP_MAX_COMPUTATIONS and DLP_MAX_PREDICTIONS
        block_fn.concurrency_limit = visitors.policy.max_computations if in_request else visitors.policy.max_predictions
    show_user_errors(demo)
    waits_for_warm_up(demo)
    return demo


def launch_kwargs(runner: JobRunner, default_hub: str) -> dict:
    """What every launch of the app needs beside its own options: the translations, the HTTP inference endpoint's
    routes and the job panels' look (ahead of Gradio's), and the middleware that applies the language switch."""
    from starlette.middleware import Middleware

    return {"i18n": I18N, "app_kwargs": {"routes": [*Endpoint(runner, default_hub).routes(), *look_routes(runner)],
                                         "middleware": [Middleware(LanguageOverride)]}}


def zero_gpu():
    """spaces.GPU on ZeroGPU hardware, None elsewhere. Training jobs run in processes of their own and do not get
    it (webui.jobs says so)."""
    if not on_zero_gpu():
        return None
    import spaces

    return spaces.GPU


def warm_up() -> threading.Thread:
    """Import what the first Predict click would wait for (torch: about 1 s; transformers' BERT: 2.5 s more) in
    the background once the page is served; building the tabs imports none of it. Events wait until it is done
    (webui.common.waits_for_warm_up): a request importing the same package at the same time could fail."""
    def imports() -> None:
        try:
            for module in WARM_MODULES:
                try:
                    importlib.import_module(module)
                except Exception as e:  # noqa: BLE001 (the click that needs it will say what is wrong)
                    logging.getLogger(__name__).info("warm-up: %s not imported (%s)", module, type(e).__name__)
        finally:
            WARMED.set()

    WARMED.clear()
    thread = threading.Thread(target=imports, name="dlp-warm-up", daemon=True)
    thread.start()
    return thread


WARM_MODULES = ("torch", "hub_models.inference", "hub_models.detection", "hub_models.segmentation",
                "transformers.models.bert.modeling_bert", "hub_models.bert")


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def allowed_hubs(default_hub: str) -> frozenset[str]:
    """The hub URLs visitors of a public app may use: the default hub's, and DLP_ALLOWED_HUBS (comma-separated)."""
    listed = [u for u in os.environ.get("DLP_ALLOWED_HUBS", "").split(",") if u.strip()]
    if default_hub.startswith(("http://", "https://")):
        listed.append(default_hub)
    return frozenset(visitors.normalise(u) for u in listed)


def on_space() -> bool:
    """Running as a Hugging Face Space (which sets SPACE_ID): public, whatever address it binds."""
    return bool(os.environ.get("SPACE_ID"))


def sign_in_offered() -> bool:
    """On a Space with OAuth on (``hf_oauth: true`` gives it OAUTH_CLIENT_ID), or a simulated one (SPACE_ID
    without SYSTEM=spaces, where Gradio mocks the login with the machine's own Hugging Face login)."""
    return on_space() and (bool(os.environ.get("OAUTH_CLIENT_ID")) or os.environ.get("SYSTEM") != "spaces")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Every option also reads an environment variable (a Space passes no arguments)."""
    # i18n: not shown
    p = argparse.ArgumentParser(description="DL Playground: a browser playground and model hub for deep learning.")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                   help="address to serve on; 0.0.0.0 for every interface (env GRADIO_SERVER_NAME)")  # i18n: not shown
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
                   help="port (env GRADIO_SERVER_PORT)")
    p.add_argument("--share", action="store_true", default=env_flag("DLP_SHARE"),
                   help="ask Gradio for a public link (env DLP_SHARE=1)")  # i18n: not shown
    p.add_argument("--hub", default=os.environ.get("DLP_HUB", "local"),
                   help="default hub: 'local' (embedded, offline), 'hf' (huggingface.co) or a server URL (env DLP_HUB)")
    p.add_argument("--no-starter", action="store_true", default=env_flag("DLP_NO_STARTER"),
                   # i18n: not shown
                   help="do not train the starter LeNet when the local hub has no image classifier yet "
                        "(env DLP_NO_STARTER=1)")
    p.add_argument("--public", action="store_true", default=env_flag("DLP_PUBLIC"),
                   # i18n: not shown
                   help="treat visitors as strangers even on a loopback address, e.g. behind a reverse proxy; "
                        "implied on a Hugging Face Space, a non-loopback --host and --share (env DLP_PUBLIC=1)")
    p.add_argument("--no-warm-up", action="store_true", default=env_flag("DLP_NO_WARM_UP"),
                   # i18n: not shown
                   help="do not import torch and transformers in the background once the page is served (the first "
                        "Predict then waits for them; the app stays ~400 MB smaller until a model runs) "
                        "(env DLP_NO_WARM_UP=1)")
    p.add_argument("--ray", default=os.environ.get("DLP_RAY_ADDRESS", ""), metavar="DASHBOARD_URL",
                   # i18n: not shown
                   help="run training jobs on the Ray cluster whose dashboard is at this URL, e.g. "
                        "http://127.0.0.1:8265 (docs/RAY.md; the other DLP_RAY_* settings are read from the "
                        "environment) (env DLP_RAY_ADDRESS)")
    p.add_argument("--open-local-hub", action="store_true", default=env_flag("DLP_OPEN_LOCAL_HUB"),
                   # i18n: not shown
                   help="let every visitor write to the local hub as you, even when the app is public: by default a "
                        "public app gives visitors read-only access to it (env DLP_OPEN_LOCAL_HUB=1)")
    return p.parse_args(argv)


def job_backend(ray_address: str):
    """Where training jobs run: this machine (None: the runner's default), or the Ray cluster at ``ray_address``."""
    if not ray_address:
        return None
    from training.ray_jobs import RayBackend, RaySettings

    settings = RaySettings.from_env(ray_address)
    print(f"Training jobs run on the Ray cluster at {settings.address}.")  # i18n: not shown
    return RayBackend(settings)


def public_notice(open_local_hub: bool) -> str:
    """What the owner of a public app is told at start: the command that gives a visitor a token runs as it is."""
    # i18n: not shown
    return ("The app is reachable by others: visitors never act with your credentials; they get read-only access to "
            "the local hub unless they paste a token (make one with: python -m hub.server add-token --data-dir "
            # i18n: not shown
            f"{local_hub_dir()} --user NAME)" + (" (--open-local-hub: they write to it as you)" if open_local_hub
                                                   else "") + ".")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("httpx", "httpx2", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        hub = resolve_hub(args.hub)  # starts the embedded hub when it is the default
    except HubActionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"Default hub: {hub.label}")
    print(f"Data folder: {cache_root()}")
    private = args.host in ("127.0.0.1", "localhost", "::1") and not args.public and not on_space()
    # Until the share link exists or fails, assume it will: strangers must not find the owner's hub open.
    visitors.policy = visitors.Policy.from_env(public=not private or args.share, allowed_hubs=allowed_hubs(args.hub),
                                               open_local_hub=args.open_local_hub)
    runner = JobRunner(cache_root() / "jobs", backend=job_backend(args.ray))
    if visitors.policy.public:
        visitors.start_sweeper(runner)
    demo = build_app(args.hub, runner=runner)
    demo.queue(default_concurrency_limit=8)  # many users can predict at once
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, prevent_thread_lock=True,
                css=CSS, theme=gr.themes.Soft(), show_error=True, quiet=True,
                max_file_size=f"{visitors.policy.max_upload_mb}mb" if visitors.policy.public else None,
                **launch_kwargs(runner, args.hub))
    print(f"DL Playground is served at {demo.local_url}")
    if args.share and demo.share_url:
        print(f"Public link: {demo.share_url}")
    elif args.share:
        visitors.policy = replace(visitors.policy, public=not private)  # as private as it really is
        print("Could not create a public share link (it needs internet access to Gradio's share servers). "
              f"The app is served at {demo.local_url} only, as without --share.", file=sys.stderr)
    else:
        print("Add --share for a public link.")
    if visitors.policy.public:
        print(public_notice(args.open_local_hub))
    if hub.kind == "local" and not args.no_starter:  # after launch: the page is served first
        from webui.classification import start_starter_run

        if job_id := start_starter_run(runner, hub):
            print(f"The local hub has no image classifier yet: training a starter LeNet (job {job_id}).")
    if not args.no_warm_up:
        warm_up()
    # SIGTERM (a service manager, a Space restart) exits cleanly, so the session token is revoked.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
