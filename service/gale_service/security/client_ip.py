"""The client's IP address, believing ``X-Forwarded-For`` only from trusted proxies.

Anyone can send ``X-Forwarded-For``; only hops added by proxies we run are facts. So the
chain is read from the right (the hop nearest us), skipping addresses in the trusted
networks, and the first untrusted address is the client. When the direct peer is not a
trusted proxy, the header is ignored altogether.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def peer_address(request: Any) -> str:
    """The socket peer, even when Tornado's ``xheaders`` rewrote ``remote_ip``."""
    context = getattr(request.connection, "context", None)
    original = getattr(context, "_orig_remote_ip", None)
    if isinstance(original, str) and original:
        return original
    return str(request.remote_ip or "")


def client_ip(request: Any, *, trusted: tuple[Network, ...]) -> str:
    peer = peer_address(request)
    if not trusted or not _trusted(peer, trusted):
        return peer
    forwarded = request.headers.get_list("X-Forwarded-For")
    hops = [hop.strip() for line in forwarded for hop in line.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return str(hop)
    return str(hops[0]) if hops else peer
