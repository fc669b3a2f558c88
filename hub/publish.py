"""Publish a model as its own Space: a small Gradio app for its task that loads it by repo id.

A task's demo is a folder of plain files under ``spaces/<task>/`` (``Task.space``): ``app.py``, ``README.md`` and
``requirements.txt``, with ``$placeholders`` filled from the model (string.Template). The Space also gets the
files of ours that app.py imports (``hub_models/...``, ``common/...``, found by following the imports, so the
model's own card stays true: ``from hub_models... import``) and the example inputs app.py names (files of
``assets/examples``, copied into ``examples/``). A requirement line ending ``# when: timm`` is kept only for a
model that needs timm (see :func:`libraries_of`).

    python -m hub.publish run OWNER/NAME-demo --hub http://127.0.0.1:8808   # run a published Space locally
"""
from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import string
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from common.errors import UserError
from common.i18n import t

from .client import Hub, HubActionError, _api, check_repo_id, explain

ROOT = Path(__file__).resolve().parents[1]
SPACES_DIR = ROOT / "spaces"
EXAMPLES_DIR = ROOT / "assets" / "examples"
OUR_PACKAGES = ("hub_models", "common")  # what a Space may carry of ours; nothing that imports gradio or trains
_WHEN_RE = re.compile(r"\s*#\s*when:\s*([\w-]+)\s*$")


class PublishError(UserError):
    """A Space that cannot be published as asked (the message says why; nothing was created)."""


@dataclass(frozen=True)
class PublishedSpace:
    space_id: str
    url: str  # the Space's page on huggingface.co, or its repo on a local/team hub
    run: str | None  # on a local/team hub: the command that runs it here
    commit: str


def template_dir(task: str) -> Path:
    """The folder of ``task``'s demo, or PublishError when the task has none."""
    from training.tasks import get_task

    name = get_task(task).space
    if not name or not (SPACES_DIR / name / "app.py").exists():
        raise PublishError(t("hubclient.no_space_template", task=task))
    return SPACES_DIR / name


def libraries_of(folder: Path) -> set[str]:
    """The optional libraries a model folder needs at prediction time, read from its config files."""
    needs: set[str] = set()
    if (folder / "model_index.json").exists():
        needs.add("diffusers")
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return needs
    if "architecture" in config and "pretrained_cfg" in config:
        needs.add("timm")
    if "architectures" in config or "model_type" in config:
        needs.add("transformers")
    name = str(config.get("_class_name", ""))
    if name.startswith("Torchvision"):
        needs.add("torchvision")
    if name.startswith("Timm"):
        needs.add("timm")
    if config.get("face_crop") == "haar":
        needs.add("opencv")
    return needs


def _our_modules(source: str, package_root: Path) -> set[str]:
    """Dotted names of our modules that ``source`` imports, at the top or inside a function (a lazy import runs
    only on its path, but the Space must have what that path needs), followed transitively."""
    found: set[str] = set()
    todo = [(source, None)]
    while todo:
        text, here = todo.pop()
        for node in ast.walk(ast.parse(text)):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level and here:  # relative: from .x import y, inside a package of ours
                    base = here.rsplit(".", node.level)[0]
                    mod = f"{base}.{node.module}" if node.module else base
                    names = [mod] + [f"{mod}.{a.name}" for a in node.names]
                elif node.module:
                    names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                if name.split(".")[0] not in OUR_PACKAGES or name in found:
                    continue
                path = package_root / (name.replace(".", "/") + ".py")
                if path.exists():
                    found.add(name)
                    todo.append((path.read_text(), name))
    return found


def render(task: str, folder: Path, *, model_id: str, revision: str, hub: Hub, title: str,
           into: Path) -> Path:
    """The Space's files for the model in ``folder`` (``model_id`` at ``revision`` on ``hub``), written to ``into``."""
    import gradio

    src = template_dir(task)
    values = {
        "model_id": model_id, "revision": revision, "title": title, "sdk_version": gradio.__version__,
        "endpoint": "" if hub.kind == "hf" else hub.endpoint.rstrip("/"),
        "hub_label": "huggingface.co" if hub.kind == "hf" else hub.endpoint,
        "model_url": f"{'https://huggingface.co' if hub.kind == 'hf' else hub.endpoint.rstrip('/')}/{model_id}",
        "license": _license_of(folder),
    }
    into.mkdir(parents=True, exist_ok=True)
    app = string.Template((src / "app.py").read_text()).safe_substitute(values)
    (into / "app.py").write_text(app)
    (into / "README.md").write_text(string.Template((src / "README.md").read_text()).safe_substitute(values))
    needs = libraries_of(folder)
    lines = []
    for line in (src / "requirements.txt").read_text().splitlines():
        if (m := _WHEN_RE.search(line)) and m.group(1) not in needs:
            continue
        lines.append(_WHEN_RE.sub("", line))
    (into / "requirements.txt").write_text("\n".join(lines).strip() + "\n")
    for name in sorted(_our_modules(app, ROOT)):
        parts = name.split(".")
        for i in range(1, len(parts)):  # each package's __init__.py on the way
            init = ROOT.joinpath(*parts[:i], "__init__.py")
            if init.exists():
                (into / init.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(init, into / init.relative_to(ROOT))
        target = into / (name.replace(".", "/") + ".py")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / (name.replace(".", "/") + ".py"), target)
    if (into / "common" / "i18n.py").exists():  # the messages' words in every language (common.i18n.t)
        shutil.copytree(ROOT / "common" / "locales", into / "common" / "locales", dirs_exist_ok=True)
    for example in sorted(_examples_named(app)):
        (into / "examples").mkdir(exist_ok=True)
        shutil.copyfile(EXAMPLES_DIR / example, into / "examples" / example)
    return into


def _examples_named(source: str) -> set[str]:
    """The files of assets/examples whose names app.py spells out (its EXAMPLES)."""
    names = {n.value for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    return {n for n in names if "/" not in n and (EXAMPLES_DIR / n).is_file()}


def _license_of(folder: Path) -> str:
    """The model card's license (the Space shares it), or apache-2.0 as the playground's cards default to."""
    from .card import split_card

    try:
        meta = split_card((folder / "README.md").read_text(errors="replace"))[0]
    except OSError:
        meta = {}
    value = meta.get("license") if isinstance(meta, dict) else None
    return value if isinstance(value, str) and re.fullmatch(r"[\w.+-]{1,64}", value) else "apache-2.0"


def default_space_id(model_id: str, namespace: str) -> str:
    """``<namespace>/<model name>-demo``."""
    return f"{namespace}/{model_id.split('/')[-1][:90]}-demo"


def publish(task: str, folder: str | Path, *, model_id: str, revision: str, space_id: str, hub: Hub,
            private: bool = False) -> PublishedSpace:
    """Create (or update: a new commit) the Space ``space_id`` on ``hub`` for the model ``model_id``@``revision``
    whose files are in ``folder``. Every check runs before anything is created."""
    folder = Path(folder)
    space_id = check_repo_id(space_id)
    if not hub.token:
        raise PublishError(t("hubclient.publish_needs_token", hub=hub.label))
    api = _api(hub)
    try:
        me = api.whoami()["name"]
    except Exception as exc:
        raise explain(exc, hub, space_id) from exc
    if space_id.split("/")[0] != me:
        raise PublishError(t("hubclient.not_your_namespace", user=me, hub=hub.label,
                             example=default_space_id(model_id, me)))
    if _exists(api, space_id, "model") or _exists(api, space_id, "dataset"):
        raise PublishError(t("hubclient.space_name_taken", space_id=space_id, hub=hub.label))
    src = template_dir(task)  # raises for a task without a template, before anything is made
    try:
        api.repo_info(model_id, revision=revision)
    except Exception as exc:
        raise PublishError(t("hubclient.model_not_on_hub", model_id=model_id, revision=revision[:8], hub=hub.label,
                             reason=explain(exc, hub, model_id))) from None
    with tempfile.TemporaryDirectory(prefix="dlp-space-") as tmp:
        render(task, folder, model_id=model_id, revision=revision, hub=hub, title=_title(model_id), into=Path(tmp))
        try:
            api.create_repo(space_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
            info = api.upload_folder(folder_path=tmp, repo_id=space_id, repo_type="space",
                                     commit_message=f"Demo of {model_id} at {revision[:8]} ({src.name})",
                                     delete_patterns=["*.py", "**/*.py", "examples/*"])
        except Exception as exc:
            raise explain(exc, hub, space_id) from exc
    if hub.kind == "hf":
        return PublishedSpace(space_id, f"https://huggingface.co/spaces/{space_id}", None, info.oid)
    # The local hub's address changes with each start of the app: the command names it "local", which finds it.
    run = f"python -m hub.publish run {space_id}" + ("" if hub.kind == "local" else f" --hub {hub.endpoint}")
    return PublishedSpace(space_id, f"{hub.endpoint.rstrip('/')}/spaces/{space_id}", run, info.oid)


def model_on_hub(folder: str | Path, hub: Hub, name: str, *, private: bool = False) -> tuple[str, str]:
    """(repo id, commit) of the model in ``folder`` on ``hub``: where it was pulled from, if that is ``hub``;
    else pushed there now, as ``<your namespace>/<name>`` (a Space loads its model from the hub it is on)."""
    from .client import push_folder

    folder = Path(folder)
    try:
        origin = json.loads((folder / ".complete").read_text())
    except (OSError, ValueError):
        origin = {}
    if origin.get("endpoint", "").rstrip("/") == hub.endpoint.rstrip("/") and origin.get("repo_id"):
        return origin["repo_id"], origin["sha"]
    if not hub.token:
        raise PublishError(t("hubclient.model_must_be_on_hub", hub=hub.label))
    try:
        me = _api(hub).whoami()["name"]
    except Exception as exc:
        raise explain(exc, hub) from exc
    model_id = check_repo_id(f"{me}/{re.sub(r'[^A-Za-z0-9._-]+', '-', name).strip('-.')[:80] or 'model'}")
    url = push_folder(folder, model_id, hub, private=private,
                      commit_message="Upload the model of a published demo")  # i18n: not shown
    return model_id, url.rstrip("/").rsplit("/", 1)[-1]


def _exists(api, repo_id: str, repo_type: str) -> bool:
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        api.repo_info(repo_id, repo_type=repo_type)
        return True
    except RepositoryNotFoundError:
        return False


def _title(model_id: str) -> str:
    return model_id.split("/")[-1].replace("-", " ").replace("_", " ")[:60] or "demo"


def fetch_space(space_id: str, hub: Hub, into: Path | None = None) -> Path:
    """A published Space's files, downloaded (into ``into``, or a folder of the hub client's cache)."""
    from huggingface_hub import snapshot_download

    space_id = check_repo_id(space_id)
    try:
        return Path(snapshot_download(space_id, repo_type="space", endpoint=hub.endpoint, token=hub.token or False,
                                      local_dir=into))
    except Exception as exc:
        raise explain(exc, hub, space_id) from exc


def main(argv: list[str] | None = None) -> int:
    import argparse

    from .client import resolve_hub

    parser = argparse.ArgumentParser(prog="python -m hub.publish", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="download a published Space and run its app.py here")  # i18n: not shown (CLI)
    run.add_argument("space_id")
    run.add_argument("--hub", default="local", help="local, hf, or a hub URL (default: local)")  # i18n: not shown (CLI)
    run.add_argument("--port", type=int, default=7861)
    args = parser.parse_args(argv)
    try:
        hub = resolve_hub(args.hub)
        folder = fetch_space(args.space_id, hub, Path(tempfile.mkdtemp(prefix="dlp-space-")))
    except (UserError, HubActionError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"running {args.space_id} from {folder} on http://127.0.0.1:{args.port}", file=sys.stderr)
    # The model is loaded from this hub's address now (the app pins the one it had when it was published).
    env = {**os.environ, "GRADIO_SERVER_PORT": str(args.port), "DLP_MODEL_HUB": hub.endpoint}
    if hub.token:
        env["HF_TOKEN"] = hub.token  # the app reads a private model with it, as a Space reads its secret
    env.pop("PYTHONPATH", None)  # the Space's own files, not this checkout's
    app = subprocess.Popen([sys.executable, "app.py"], cwd=folder, env=env)
    # Stopping this command stops the demo too (it would otherwise outlive us, serving on its port).
    signal.signal(signal.SIGTERM, lambda *_: app.terminate())
    try:
        return app.wait()
    except KeyboardInterrupt:
        app.terminate()
        return app.wait()


if __name__ == "__main__":
    sys.exit(main())
