"""Who is asking: the app's owner or a visitor, and which hubs a visitor may use with which credentials.

A private app (loopback, not a Space, no share link) has one user, its owner. A public one is shared by people
who do not trust each other: the owner's credentials (``HF_TOKEN``, ``DLP_HUB_TOKEN``, a stored huggingface
login, the local hub's session token) never serve a visitor, and a visitor reaches only the hubs the owner
configured, never an address of the server's own network that they typed.
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from hub.client import HubActionError


@dataclass(frozen=True)
class Policy:
    """Set once by app.py at start (tests set their own)."""

    public: bool = False
    # Hub URLs visitors of a public app may use (the app's default hub, DLP_ALLOWED_HUBS): they may sit on the
    # server's own network, which any other address a visitor types may not.
    allowed_hubs: frozenset[str] = field(default_factory=frozenset)
    open_local_hub: bool = False  # --open-local-hub: every visitor writes to the local hub as the owner


policy = Policy()


def is_owner() -> bool:
    """Whether the request being served comes from the app's owner: on a private app, everybody is."""
    return not policy.public


def owns_local_hub() -> bool:
    """Whether a visitor who pastes no token acts as the owner on the local hub."""
    return is_owner() or policy.open_local_hub


def normalise(url: str) -> str:
    return url.strip().rstrip("/").lower()


def check_visitor_url(url: str) -> None:
    """Refuse, for a visitor of a public app, a hub address the owner did not list that resolves to loopback, a
    private or link-local range, or anything else not globally routable: the server would otherwise probe its
    own network for them, or download from it."""
    if is_owner() or normalise(url) in policy.allowed_hubs:
        return
    host = urlsplit(url.strip()).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        raise HubActionError(f"Cannot resolve the hub address {host!r}.") from None
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if not address.is_global:
            raise HubActionError(f"This app does not reach hubs on its own network for visitors ({host} is "
                                 f"{'loopback' if address.is_loopback else 'a private address'}). Use "
                                 "huggingface.co or a hub the app's owner lists.")
