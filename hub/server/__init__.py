"""A self-hosted, Hugging Face Hub-compatible server (see ``storage`` and ``app``).

Run it on its own with ``python -m hub.server serve``; the app embeds it with
:func:`start_in_thread`.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RunningServer:
    """A hub server running in a background thread of this process."""

    url: str
    data_dir: Path
    _server: Any = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def stop(self, timeout: float = 5.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)


def server_config(app: Any, **kwargs: Any):
    """uvicorn's settings for the hub: idle keep-alive connections and half-sent requests time out (guard), and
    the process may hold as many sockets as the system allows."""
    import uvicorn

    from .guard import HEADER_TIMEOUT, protocol_class, raise_open_files_limit

    raise_open_files_limit()
    return uvicorn.Config(app, http=protocol_class(), access_log=False, timeout_keep_alive=int(HEADER_TIMEOUT),
                          **kwargs)


def start_in_thread(data_dir: str | Path, host: str = "127.0.0.1", port: int = 0,
                    max_body: int | None = None, log_level: str = "warning",
                    max_file: int | None = None) -> RunningServer:
    """Serve the hub from ``data_dir`` on ``host:port`` (0 picks a free port) in a daemon thread."""
    import uvicorn

    from .app import DEFAULT_MAX_BODY, create_app
    from .transfer import DEFAULT_MAX_FILE
    from .storage import HubStore

    store = HubStore(data_dir)
    store.purge_stale_ephemeral_tokens()
    # Bind first, so the port is ours before the thread starts and the URL is known.
    # proto must say TCP: asyncio only sets TCP_NODELAY on such sockets, and without it every
    # keep-alive response waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    port = sock.getsockname()[1]
    app = create_app(store, max_body=max_body or DEFAULT_MAX_BODY, max_file=max_file or DEFAULT_MAX_FILE)
    server = uvicorn.Server(server_config(app, log_level=log_level))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="hub-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"The hub server did not start on {host}:{port}")
        time.sleep(0.01)
    shown = f"[{host}]" if ":" in host else host
    logging.getLogger(__name__).info("hub server on http://%s:%d (data in %s)", shown, port, store.root)
    return RunningServer(url=f"http://{shown}:{port}", data_dir=store.root, _server=server, _thread=thread)
