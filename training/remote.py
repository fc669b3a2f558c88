"""What a job on another machine needs to talk to the app without a shared disk (stdlib only).

* Events travel in the job's log: with ``DLP_EVENT_LINES=1`` the CLI prints each event as one marked line
  (a sample picture inlined), and the app's :class:`LogMirror` splits the log it fetches back into the job
  folder's ``log.txt`` and ``out/events.jsonl`` (and ``metrics.json`` from the end event), so the page follows
  a remote job as it follows a local one.
* Tokens never travel in the job's description (a Ray job's runtime environment and metadata can be read by
  anyone who can list the cluster's jobs): the job gets a one-time claim number, ``DLP_TOKEN_CLAIM``, and
  exchanges it once at the app's :class:`TokenDesk` (``DLP_TOKEN_DESK``) for its environment secrets.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .layout import JobFolder

ENV_EVENT_LINES, ENV_DESK, ENV_CLAIM = "DLP_EVENT_LINES", "DLP_TOKEN_DESK", "DLP_TOKEN_CLAIM"
PREFIX = "@dlp-event "  # a log line that carries an event
MAX_PICTURE = 2 << 20  # a sample picture larger than this stays on the worker
# After its first hundred steps, a run's steps go into the log at most ten times a second: the curve keeps its
# shape (a page draws at most 2,000 points), and the log stays small for a follower that fetches it whole.
STEP_EVERY_S, STEPS_ALL = 0.1, 100
_last_step = [0.0]


# ------------------------------------------------------------------------------------------- the job's side
def echo_event(ev: dict[str, Any], output_dir: Path) -> None:
    """Print ``ev`` as one marked line (one write, so a progress bar on stderr cannot split it)."""
    if os.environ.get(ENV_EVENT_LINES) != "1":
        return
    if ev["type"] == "step":
        if ev["step"] > STEPS_ALL and ev["time"] - _last_step[0] < STEP_EVERY_S:
            return
        _last_step[0] = ev["time"]
    if ev["type"] == "sample" and ev.get("kind") == "image":
        picture = output_dir / ev["data"]
        if picture.is_file() and picture.stat().st_size <= MAX_PICTURE:
            ev = {**ev, "png": base64.b64encode(picture.read_bytes()).decode()}
    sys.stdout.write(PREFIX + json.dumps(ev, default=str) + "\n")
    sys.stdout.flush()


def claim_secrets() -> None:
    """Put the secrets the app keeps for this job into the environment (nothing to do without a claim).
    Raises RuntimeError when the desk cannot be reached or the claim was used already."""
    claim = os.environ.pop(ENV_CLAIM, "")
    if not claim:
        return
    request = urllib.request.Request(os.environ[ENV_DESK].rstrip("/") + "/claim", data=claim.encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            os.environ.update(json.loads(r.read()))
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"the app refused this job's token claim (HTTP {e.code}: used already or expired)") from None
    except (OSError, ValueError) as e:
        raise RuntimeError(f"cannot reach the app's token desk at {os.environ[ENV_DESK]}: {e}") from None


# ------------------------------------------------------------------------------------------- the app's side
class LogMirror:
    """Appends what is new in a remote job's log to its job folder: event lines to ``events.jsonl`` (with their
    pictures written back), the rest to ``log.txt``. Feed it the whole log each time; it keeps its place."""

    def __init__(self, folder: JobFolder, restart: bool = False):
        self.folder, self.seen, self._pending = folder, 0, ""
        folder.run.root.mkdir(parents=True, exist_ok=True)
        if restart:  # an app restart reads the log from its beginning again
            for path in (folder.log, folder.run.events):
                path.unlink(missing_ok=True)
        self.events: list[dict[str, Any]] = []  # its checkpoints and end, as much as a follower decides on

    def feed(self, log: str) -> None:
        text, self.seen = self._pending + log[self.seen:], len(log)
        *lines, self._pending = text.split("\n")  # the last piece is still being written
        events, plain = [], []
        for line in lines:
            # A progress bar's last update (stderr, ended by a carriage return, not a newline) may come first.
            before, marked, after = line.partition(PREFIX)
            ev = _event(after) if marked else None
            if ev is None:
                plain.append(line)
            else:
                events.append(ev)
                if before.strip():
                    plain.append(before)
        if plain:
            with open(self.folder.log, "a", encoding="utf-8") as f:
                f.write("\n".join(plain) + "\n")
        if events:
            with open(self.folder.run.events, "a", encoding="utf-8") as f:
                for ev in events:
                    if "png" in ev:
                        self._picture(ev.pop("png"), ev["data"])
                    if ev["type"] == "end" and ev.get("metrics"):  # what the run wrote beside its model
                        self.folder.run.metrics.write_text(json.dumps(ev["metrics"], indent=2))
                    f.write(json.dumps(ev) + "\n")
            self.events.extend({k: ev.get(k) for k in ("type", "status", "pushed")} for ev in events
                               if ev["type"] in ("checkpoint", "end"))

    def write_end(self, status: str, key: str) -> None:
        """An end event the log could not bring (the job's node went once the job had exited); its message is the
        runner's ``key`` (the runner shows it in each page's language)."""
        from common.i18n import english

        ev = {"type": "end", "time": time.time(), "status": status, "metrics": {}, "model_dir": None,
              "message": english(key), "said": [key, {}]}
        with open(self.folder.run.events, "a", encoding="utf-8") as f:
            f.write(json.dumps(ev) + "\n")
        self.events.append({"type": "end", "status": status, "pushed": None})

    def next_attempt(self) -> None:
        """The job was submitted again (resumed on another node): its log starts from the beginning."""
        self.seen, self._pending = 0, ""

    def _picture(self, data: str, relative: str) -> None:
        target = (self.folder.run.root / relative).resolve()
        if not target.is_relative_to(self.folder.run.root.resolve()):
            return  # only into the job's own folder
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(data))

    @property
    def ended(self) -> dict[str, Any] | None:
        return next((e for e in reversed(self.events) if e["type"] == "end"), None)

    @property
    def pushed_checkpoint(self) -> bool:
        return any(e["type"] == "checkpoint" and e.get("pushed") for e in self.events)


class TokenDesk:
    """A small HTTP service where each remote job claims its secrets once, by a random claim number.

    Only a hash of each claim number is kept, with the secrets, in memory; a claim is gone once used or
    withdrawn (the job ended). Serve it where the cluster's nodes reach the app and nobody else does."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, url: str = ""):
        self._claims: dict[str, tuple[dict[str, str], float, int]] = {}
        self._lock = threading.Lock()
        desk = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the stdlib's name)
                size = int(self.headers.get("Content-Length") or 0)
                claim = self.rfile.read(min(size, 256)).decode(errors="replace") if self.path == "/claim" else ""
                found = desk._take(claim) if claim else None
                body = json.dumps(found).encode() if found is not None else b"{}"
                self.send_response(200 if found is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # a claim number never reaches a log
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="token-desk", daemon=True).start()
        self.url = url or f"http://{host}:{self._server.server_address[1]}"

    def offer(self, env: dict[str, str], uses: int = 1, ttl_s: float = 7 * 86400) -> str:
        """A new claim number for ``env``, good ``uses`` times (a job under ``accelerate launch``: once a process)."""
        claim = secrets.token_urlsafe(32)
        with self._lock:
            self._claims[_hash(claim)] = (dict(env), time.time() + ttl_s, uses)
        return claim

    def withdraw(self, claim: str) -> None:
        with self._lock:
            self._claims.pop(_hash(claim), None)

    def _take(self, claim: str) -> dict[str, str] | None:
        with self._lock:
            env, expires, uses = self._claims.pop(_hash(claim), (None, 0.0, 0))
            if env is not None and uses > 1:
                self._claims[_hash(claim)] = (env, expires, uses - 1)
        return env if env is not None and time.time() < expires else None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _event(text: str) -> dict[str, Any] | None:
    try:
        ev = json.loads(text)
    except ValueError:
        return None
    return ev if isinstance(ev, dict) and isinstance(ev.get("type"), str) else None


def _hash(claim: str) -> str:
    return hashlib.sha256(claim.encode()).hexdigest()
