"""The Host allow-list: the defence against DNS rebinding.

A rebinding attack points an attacker's domain at 127.0.0.1 (or a pod IP), so the victim's
browser talks to Gale while believing it talks to the attacker's site. Such requests carry
the attacker's host name in ``Host``; refusing unknown names stops them. Entries are exact
names, ``*.example.com`` (any subdomain) or ``*`` (allow all: only behind a proxy that
already checks ``Host``). Probe endpoints are exempt, because kubelet probes use the pod IP.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def host_name(host_header: str) -> str:
    """``Host`` without its port, lower-cased; IPv6 literals keep their brackets."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.rpartition(":")[0] if host.count(":") == 1 else host


@dataclass(frozen=True, slots=True)
class HostAllowList:
    patterns: tuple[str, ...]
    #: Exact names, any-subdomain suffixes (``.example.com``) and ``*``, lower-cased once.
    _exact: frozenset[str] = field(init=False, repr=False, compare=False)
    _suffixes: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _any: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lowered = [pattern.lower() for pattern in self.patterns]
        object.__setattr__(
            self, "_exact", frozenset(p for p in lowered if p != "*" and not p.startswith("*."))
        )
        object.__setattr__(self, "_suffixes", tuple(p[1:] for p in lowered if p.startswith("*.")))
        object.__setattr__(self, "_any", "*" in lowered)

    def allows(self, host_header: str) -> bool:
        name = host_name(host_header)
        if not name:
            return False
        return self._any or name in self._exact or name.endswith(self._suffixes)
