"""Runs published Spaces side by side, each as a Space would run it: ``python -I space_host.py PORT DIR [DIR...]``.

-I keeps this checkout off sys.path (no PYTHONPATH, no script folder): each Space's app.py imports the copies of
our code it carries, and nothing else of ours. The libraries every Space uses are imported once, then a process
is forked per Space (each with modules of its own: their hub_models differ); each prints ``SPACE {json}`` when it
serves. Kill the process group to stop them all.
"""
import json
import os
import runpy
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

port = int(sys.argv[1])
for offset, folder in enumerate(sys.argv[2:]):
    if os.fork() == 0:
        sys.path.insert(0, folder)
        demo = runpy.run_path(f"{folder}/app.py", run_name="space")["demo"]
        demo.launch(server_port=port + offset, prevent_thread_lock=True, quiet=True)
        print("SPACE", json.dumps({"folder": folder, "port": port + offset}), flush=True)
        while True:
            time.sleep(60)
while True:
    os.wait()
