"""Injected faults: answer matching requests with an error, slowly, or both.

Rules come in through ``POST /_emulator/faults`` (a list of rules; ``DELETE`` clears them,
``GET`` shows them with how often each fired). A rule matches on ``method`` (``*`` for any),
a ``path`` regular expression (searched), optionally an ``agent`` one (searched in the
User-Agent) and ``watch`` (true: only watches, false: never watches); it fires at ``rate``
(0..1, default 1) at most ``count`` times, and then waits ``delay`` seconds and/or answers
``status`` (with ``Retry-After: retryAfter``). A ``seed`` on the first rule makes the
random choices repeatable.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Mapping
from typing import Any

REASONS = {
    409: "Conflict",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


@dataclasses.dataclass
class Fault:
    method: str = "*"
    path: str = ""
    agent: str = ""
    watch: bool | None = None
    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    rate: float = 1.0
    count: int | None = None
    fired: int = 0

    @classmethod
    def parse(cls, rule: Mapping[str, Any]) -> Fault:
        fault = cls(
            method=str(rule.get("method", "*")).upper(),
            path=str(rule.get("path", "")),
            agent=str(rule.get("agent", "")),
            watch=rule.get("watch"),
            status=rule.get("status"),
            retry_after=rule.get("retryAfter"),
            delay=float(rule.get("delay", 0.0)),
            rate=float(rule.get("rate", 1.0)),
            count=rule.get("count"),
        )
        re.compile(fault.path)
        re.compile(fault.agent)
        if fault.status is not None and fault.status not in REASONS:
            raise ValueError(f"unsupported fault status {fault.status}")
        return fault

    def matches(self, method: str, path: str, *, agent: str, watch: bool) -> bool:
        return (
            self.method in {"*", method}
            and re.search(self.path, path) is not None
            and re.search(self.agent, agent) is not None
            and (self.watch is None or self.watch == watch)
            and (self.count is None or self.fired < self.count)
        )

    def describe(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "retryAfter": self.retry_after}


@dataclasses.dataclass
class Faults:
    rules: list[Fault] = dataclasses.field(default_factory=list)
    rng: random.Random = dataclasses.field(default_factory=random.Random)

    def load(self, rules: list[Mapping[str, Any]]) -> None:
        if rules and "seed" in rules[0]:
            self.rng.seed(rules[0]["seed"])
        self.rules.extend(Fault.parse(rule) for rule in rules)

    def pick(self, method: str, path: str, *, agent: str, watch: bool) -> Fault | None:
        """The first matching rule that fires for this request, counted; else ``None``."""
        for fault in self.rules:
            if (
                fault.matches(method, path, agent=agent, watch=watch)
                and self.rng.random() < fault.rate
            ):
                fault.fired += 1
                return fault
        return None
