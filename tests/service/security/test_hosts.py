"""The Host allow-list: exact names, one wildcard level, and ``*``."""

from __future__ import annotations

import pytest
from gale_service.security.hosts import HostAllowList, host_name


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("Example.COM:8888", "example.com"),
        ("example.com", "example.com"),
        ("[::1]:8888", "[::1]"),
        ("[::1]", "[::1]"),
        ("::1", "::1"),
        ("  localhost  ", "localhost"),
        ("", ""),
    ],
)
def test_host_name_drops_the_port_and_case(header: str, name: str) -> None:
    assert host_name(header) == name


@pytest.mark.parametrize(
    ("header", "allowed"),
    [
        ("localhost:8888", True),
        ("api.example.com", True),
        ("a.b.example.com", True),
        ("example.com", False),
        ("evil-example.com", False),
        ("attacker.test", False),
        ("", False),
        (":8888", False),
    ],
)
def test_allow_list(header: str, allowed: bool) -> None:
    hosts = HostAllowList(("LOCALHOST", "*.example.com"))
    assert hosts.allows(header) is allowed


def test_star_allows_any_name_but_not_an_empty_host() -> None:
    hosts = HostAllowList(("*",))
    assert hosts.allows("anything.test")
    assert not hosts.allows("")
