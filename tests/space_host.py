"""Runs published Spaces side by side, each as a Space would run it: ``python -I space_host.py DIR [DIR...]``.

-I keeps this checkout off sys.path (no PYTHONPATH, no script folder): each Space's app.py imports the copies of
our code it carries, and nothing else of ours. The libraries every Space uses are imported once, then a process
is forked per Space (each with modules of its own: their hub_models differ); each prints ``SPACE {json}`` when it
serves (its port), or why it could not. Kill the process group to stop them all.
"""
import json
import os
import runpy
import socket
import sys
import time

import gradio  # noqa: F401  (the shared, slow imports, before the forks)
import huggingface_hub  # noqa: F401
import torch  # noqa: F401
import transformers  # noqa: F401

try:
    import training  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("the playground's own packages are importable: the Spaces would not be isolated")

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


for folder in sys.argv[1:]:
    if os.fork() == 0:
        try:
            sys.path.insert(0, folder)
            demo = runpy.run_path(f"{folder}/app.py", run_name="space")["demo"]
            # A port of its own, asked for as it launches (consecutive ones from one free port could be another
            # test's by then: a Space that failed to start kept the test waiting for it); a lost race retries.
            for attempt in range(3):
                port = _free_port()
                try:
                    demo.launch(server_port=port, prevent_thread_lock=True, quiet=True)
                    break
                except OSError:
                    if attempt == 2:
                        raise
            print("SPACE", json.dumps({"folder": folder, "port": port}), flush=True)
        except BaseException as e:  # said, so the test fails with it instead of waiting
            print("SPACE", json.dumps({"folder": folder, "error": f"{type(e).__name__}: {e}"}), flush=True)
            os._exit(1)
        while True:
            time.sleep(60)
while True:
    os.wait()
