"""Which address is the client: X-Forwarded-For believed only from trusted proxies."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from gale_service.security.client_ip import client_ip, parse_networks, peer_address
from tornado.httputil import HTTPHeaders

PROXIES = parse_networks(["10.0.0.0/8", " fd00::/8 "])


def request(peer: str, *forwarded: str, original: str | None = None) -> SimpleNamespace:
    headers = HTTPHeaders()
    for line in forwarded:
        headers.add("X-Forwarded-For", line)
    context = SimpleNamespace(_orig_remote_ip=original) if original else None
    return SimpleNamespace(
        remote_ip=peer, headers=headers, connection=SimpleNamespace(context=context)
    )


def test_an_untrusted_peer_is_the_client_whatever_it_forwards() -> None:
    assert client_ip(request("203.0.113.9", "198.51.100.1"), trusted=PROXIES) == "203.0.113.9"


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client_ip(request("10.1.1.1", "198.51.100.1"), trusted=()) == "10.1.1.1"


def test_the_first_untrusted_hop_from_the_right_is_the_client() -> None:
    forged_then_real = request("10.0.0.2", "6.6.6.6, 198.51.100.7", "10.0.0.3")
    assert client_ip(forged_then_real, trusted=PROXIES) == "198.51.100.7"


@pytest.mark.parametrize(
    ("chain", "client"),
    [
        ("198.51.100.7, not-an-ip", "not-an-ip"),
        ("198.51.100.7, 999.1.1.1", "999.1.1.1"),
        ("198.51.100.7,,", "198.51.100.7"),
        (",, ,10.0.0.9", "10.0.0.9"),
    ],
)
def test_garbage_hops_are_never_trusted(chain: str, client: str) -> None:
    assert client_ip(request("10.0.0.2", chain), trusted=PROXIES) == client


def test_a_chain_of_only_trusted_hops_gives_the_leftmost() -> None:
    assert client_ip(request("10.0.0.2", "10.9.9.9, fd00::1"), trusted=PROXIES) == "10.9.9.9"


def test_an_empty_header_from_a_trusted_proxy_gives_the_peer() -> None:
    assert client_ip(request("10.0.0.2"), trusted=PROXIES) == "10.0.0.2"


def test_the_socket_peer_wins_over_a_rewritten_remote_ip() -> None:
    rewritten = request("198.51.100.7", original="10.0.0.2")
    assert peer_address(rewritten) == "10.0.0.2"
    assert peer_address(request("198.51.100.7")) == "198.51.100.7"


def test_a_bad_network_entry_raises_value_error() -> None:
    with pytest.raises(ValueError, match="does not appear to be"):
        parse_networks(["10.0.0.0/8", "proxy.internal"])
