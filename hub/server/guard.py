"""What stands between the network and the hub's handlers: request bodies bounded as they stream (a stranger
without a token gets the server to hold at most ANON_BODY bytes of theirs), unknown tokens refused before
anything is looked up, and connections that send nothing, or send slowly, closed.
"""
from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from typing import Any, Callable

from starlette.exceptions import HTTPException

ANON_BODY = 1024 * 1024  # what a request without a valid token may send
SMALL_BODY = 16 * 1024 * 1024  # only commits carry file contents; every other body is a small JSON document
HEADER_TIMEOUT = 30.0  # seconds a connection may take to send a request's headers
BODY_IDLE_TIMEOUT = 60.0  # seconds a request body may pause between two chunks
MAX_CONNECTIONS_PER_CLIENT = 256  # open connections from one address; more are closed at once

_UNSAFE = re.compile(r"[^\x20-\x7e]")


def header_safe(text: str, limit: int = 1000) -> str:
    """``text`` as an HTTP header value: printable ASCII (others escaped), one line, bounded."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)[:limit]


def error_response(status: int, message: str) -> tuple[dict, bytes]:
    """The ASGI start message and body of a JSON error, as the hub's handlers answer (hub.server.app._error)."""
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"x-error-message", header_safe(message).encode())]
    return {"type": "http.response.start", "status": status, "headers": headers}, body


class BodyRefused(HTTPException):
    """A body too large or too slow. An HTTPException, so that FastAPI's body parsing lets it through (it turns
    any other exception into "There was an error parsing the body"); the app answers it as its own errors."""

    def __init__(self, status: int, message: str):
        super().__init__(status_code=status, detail=message)


class RequestGuard:
    """ASGI middleware. ``user_for_token(token) -> user | None`` is the store's; ``max_body`` the commit limit;
    ``admit(path, bearer) -> (claims | None, limit) | None`` recognises the large-file upload paths, which carry a
    signed ticket instead of a token (hub.server.transfer.Tickets.admit).

    The user a token names, or a ticket's claims, are left in ``scope["state"]`` ("user", "ticket") for the
    handlers, which then need not look the token up again."""

    def __init__(self, app: Callable, user_for_token: Callable[[str], str | None], max_body: int,
                 admit: Callable[[str, str], tuple[dict | None, int] | None] | None = None):
        self.app, self.user_for_token, self.max_body, self.admit = app, user_for_token, max_body, admit

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        user = None
        state = scope.setdefault("state", {})
        if (upload := self.admit(scope.get("path", ""), token) if self.admit else None) is not None:
            claims, limit = upload
            if claims is None:
                return await self._refuse(send, 401, "This upload link or token is invalid or has expired: "
                                                     "start the upload again")
            state["ticket"], user = claims, claims["user"]
        elif auth:
            user = self.user_for_token(token) if token else None
            if user is None:  # the same answer whatever the path names: an unknown token learns nothing
                return await self._refuse(send, 401, "Invalid credentials in Authorization header")
            state["user"] = user
            limit = self.max_body if "/commit/" in scope.get("path", "") else min(self.max_body, SMALL_BODY)
        else:
            limit = ANON_BODY
        try:
            declared = int(headers.get("content-length") or 0)
        except ValueError:
            return await self._refuse(send, 400, "Content-Length is not a number")
        if declared > limit:
            return await self._refuse(send, 413, self._too_large(limit, user))

        received = 0
        started = False

        async def guarded_receive() -> dict[str, Any]:
            nonlocal received
            try:  # asyncio.timeout, not wait_for: no task per message (a 1 GB upload is ~4,000 messages)
                async with asyncio.timeout(BODY_IDLE_TIMEOUT):
                    message = await receive()
            except TimeoutError:
                raise BodyRefused(408, f"The request body stalled for {BODY_IDLE_TIMEOUT:.0f} s") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:  # a chunked body, or one longer than it said
                    raise BodyRefused(413, self._too_large(limit, user))
            return message

        async def tracked_send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, guarded_receive, tracked_send)
        except BodyRefused as e:
            if not started:
                await self._refuse(send, e.status_code, e.detail)

    def _too_large(self, limit: int, user: str | None) -> str:
        if user is None:
            return f"A request without a token may send at most {limit // 1024} KiB"
        return f"Request body exceeds this hub's limit of {limit} bytes"

    @staticmethod
    async def _refuse(send: Callable, status: int, message: str) -> None:
        start, body = error_response(status, message)
        await send(start)
        await send({"type": "http.response.body", "body": body})


def protocol_class() -> type:
    """uvicorn's HTTP protocol with a deadline for a request's headers: a connection that opens and sends nothing,
    or half a request, is closed (uvicorn times out only idle keep-alive connections, after a response); and at
    most MAX_CONNECTIONS_PER_CLIENT connections from one address."""
    try:  # httptools parses bodies twice as fast as h11 (uploads of large files are bound by it)
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as Protocol
    except ImportError:
        from uvicorn.protocols.http.h11_impl import H11Protocol as Protocol

    open_from: Counter[str] = Counter()  # client address -> open connections (all on the server's event loop)

    class TimedProtocol(Protocol):
        _address: str | None = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            address = self.client[0] if self.client else ""
            if open_from[address] >= MAX_CONNECTIONS_PER_CLIENT:  # one client holding sockets open starves the rest
                transport.close()
                return
            open_from[address] += 1
            self._address = address
            self._arm()

        def connection_lost(self, exc) -> None:
            super().connection_lost(exc)
            if self._address is not None:
                open_from[self._address] -= 1
                if open_from[self._address] <= 0:
                    del open_from[self._address]
                self._address = None

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def _arm(self) -> None:
            cycle = self.cycle  # a new request replaces it: then the deadline has been met

            def drop() -> None:
                if self.cycle is cycle and not self.transport.is_closing():
                    self.transport.close()
            self.loop.call_later(HEADER_TIMEOUT, drop)

    return TimedProtocol


def raise_open_files_limit() -> None:
    """Let the server hold as many sockets as the system allows it (the soft limit is often 1024, and idle
    connections are held until their deadline)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))
        except (ValueError, OSError):
            pass
