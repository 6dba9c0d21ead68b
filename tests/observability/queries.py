"""The PromQL that Gale's dashboards and rules run, and the metric names it reads.

Other tests compare these names with what the running service and operator expose:

    from tests.observability.queries import referenced_metric_names, referenced_series_names

Both take ``job="gale"`` (the service) or ``job="gale-operator"`` to keep the names read
from that scrape job; every query pins its job. `referenced_series_names()` is exact: the
sample names as queried, which must appear in a ``/metrics`` exposition
(``http_server_request_duration_seconds_bucket``, ``gale_websocket_messages_total``,
``db_client_connection_count``).
`referenced_metric_names()` gives metric family names, as prometheus_client's parser and
OpenMetrics name them, by these explicit rules (see `MetricReference`):

- ``_bucket`` is always a histogram series: the family is the name without it;
- ``_sum`` and ``_count`` are histogram series only when the same family is also queried
  with ``_bucket``; otherwise they are part of the name (the gauge
  ``db_client_connection_count`` stays whole);
- ``_total`` is a counter sample: the family is the name without it.

Names written by our own recording rules (``gale:...``) are not emitted by anything and are
left out. There is no PromQL parser for Python, so `metric_names` is a small lexer that
knows where PromQL puts names; it refuses ``__name__`` matchers rather than guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from tests.observability import assets

__all__ = [
    "BUILTIN_VARIABLES",
    "MetricReference",
    "Query",
    "Selector",
    "all_queries",
    "dashboard_queries",
    "metric_names",
    "recorded_names",
    "referenced_metric_names",
    "referenced_metrics",
    "referenced_series_names",
    "rule_queries",
    "selectors",
    "substitute_variables",
]

BUILTIN_VARIABLES: Mapping[str, str] = {
    "__rate_interval": "5m",
    "__interval": "1m",
    "__range": "1h",
    "__range_s": "3600",
    "__interval_ms": "60000",
}
"""Grafana's built-in variables that may appear in PromQL, with values of a typical load."""

SAMPLE_VARIABLE_VALUE = "default"
"""What a dashboard's own variables stand for when its queries are checked."""

_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)(?::[^\]]*)?\]\]")
_LABEL_VALUES = re.compile(r"^\s*label_values\((?P<selector>.+),\s*\w+\s*\)\s*$", re.DOTALL)
_QUERY_RESULT = re.compile(r"^\s*query_result\((?P<expr>.+)\)\s*$", re.DOTALL)

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.:])[A-Za-z_:][\w:]*")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "atan2", "bool", "offset", "group_left", "group_right", "inf", "nan"}
)
_HIDDEN_STRING = re.compile(r'"(\d+)"')
_HIDDEN_MATCHERS = re.compile(r"\s*\{(\d+)\}")
_JOB = re.compile(r'\bjob\s*=\s*"([^"]*)"')
_HISTOGRAM_SUFFIXES = ("_sum", "_count")


@dataclass(frozen=True)
class Query:
    """One PromQL expression and where it comes from, for failure messages."""

    origin: str
    expr: str
    variables: tuple[str, ...] = ()
    """Names of the dashboard's own template variables the expression may use."""

    def resolved(self) -> str:
        """The expression with Grafana's variables replaced, as Prometheus would receive it."""
        return substitute_variables(self.expr, variables=self.variables)


@dataclass(frozen=True)
class Selector:
    """A series name in an expression and the scrape job its matchers pin, if any."""

    name: str
    job: str | None


@dataclass(frozen=True)
class MetricReference:
    """A queried sample name, the metric family it belongs to and the job it is read from."""

    series: str
    family: str
    suffix: str
    """The part of `series` after `family`: "_bucket", "_sum", "_count", "_total" or ""."""
    job: str | None
    """The ``job="..."`` the query selects it with: "gale" (service), "gale-operator"."""


def substitute_variables(expr: str, *, variables: tuple[str, ...] = ()) -> str:
    """Replace Grafana's ``$var``, ``${var}``, ``${var:fmt}`` and ``[[var]]`` references.

    An unknown variable raises `ValueError`: Grafana would send it verbatim and the panel
    would show an error.
    """

    def value(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        if name in BUILTIN_VARIABLES:
            return BUILTIN_VARIABLES[name]
        if name in variables:
            return SAMPLE_VARIABLE_VALUE
        raise ValueError(f"unknown Grafana variable ${name} in {expr!r}")

    return _VARIABLE.sub(value, expr)


def selectors(expr: str) -> frozenset[Selector]:
    """The series an expression selects (Grafana variables already replaced)."""
    strings: list[str] = []

    def hide_string(match: re.Match[str]) -> str:
        strings.append(match.group())
        return f'"{len(strings) - 1}"'

    code = _STRING.sub(hide_string, expr)
    if "__name__" in code:
        raise ValueError(f"cannot tell the metrics of a __name__ matcher: {expr!r}")
    matchers: list[str] = []

    def hide_matchers(match: re.Match[str]) -> str:
        matchers.append(_HIDDEN_STRING.sub(lambda hidden: strings[int(hidden[1])], match.group()))
        return f" {{{len(matchers) - 1}}} "

    code = _LABEL_LIST.sub(" ", _RANGE.sub(" ", _MATCHERS.sub(hide_matchers, code)))
    found = set()
    for match in _IDENTIFIER.finditer(code):
        name, rest = match.group(), code[match.end() :]
        if rest.lstrip().startswith("(") or name.lower() in _KEYWORDS:
            continue
        matcher = _HIDDEN_MATCHERS.match(rest)
        job = _JOB.search(matchers[int(matcher[1])]) if matcher else None
        found.add(Selector(name=name, job=job[1] if job else None))
    return frozenset(found)


def metric_names(expr: str) -> frozenset[str]:
    """Names of the series an expression selects (Grafana variables already replaced)."""
    return frozenset(selector.name for selector in selectors(expr))


def _variable_promql(variable: assets.JSON) -> str | None:
    """The PromQL inside a query variable (``label_values(sel, label)``, ``query_result(e)``)."""
    if variable.get("type") != "query":
        return None
    query = variable.get("query")
    text = query.get("query", "") if isinstance(query, dict) else query or ""
    for pattern, group in ((_LABEL_VALUES, "selector"), (_QUERY_RESULT, "expr")):
        match = pattern.match(text)
        if match:
            return match.group(group)
    return None


def dashboard_queries(dashboard: assets.JSON, *, name: str) -> list[Query]:
    """Every PromQL expression of a dashboard: its panels' targets and its query variables."""
    variables = tuple(variable["name"] for variable in assets.template_variables(dashboard))
    found = []
    for variable in assets.template_variables(dashboard):
        promql = _variable_promql(variable)
        if promql is not None:
            origin = f"{name} variable {variable['name']}"
            found.append(Query(origin=origin, expr=promql, variables=variables))
    for panel in assets.query_panels(dashboard):
        for target in panel.get("targets", []):
            origin = (
                f"{name} panel {panel.get('id')} {panel.get('title')!r} query {target.get('refId')}"
            )
            found.append(Query(origin=origin, expr=target.get("expr", ""), variables=variables))
    return found


def rule_queries() -> list[Query]:
    return [
        Query(origin=f"rule {rule.get('alert') or rule.get('record')}", expr=rule["expr"])
        for rule in assets.rules()
    ]


def all_queries() -> list[Query]:
    """The PromQL of every shipped dashboard and rule."""
    found = rule_queries()
    for path in assets.dashboard_paths():
        found += dashboard_queries(assets.load_dashboard(path), name=path.name)
    return found


def recorded_names() -> frozenset[str]:
    """Series that Gale's own recording rules write."""
    return frozenset(rule["record"] for rule in assets.rules() if "record" in rule)


@cache
def referenced_metrics() -> frozenset[MetricReference]:
    """Every emitted series a dashboard or rule reads, with its family (rules in the module doc)."""
    found: set[Selector] = set()
    for query in all_queries():
        found |= selectors(query.resolved())
    recorded = recorded_names()
    found = {selector for selector in found if selector.name not in recorded}
    histograms = {s.name.removesuffix("_bucket") for s in found if s.name.endswith("_bucket")}
    references = set()
    for selector in found:
        name = selector.name
        family, suffix = name, ""
        if name.endswith("_bucket"):
            family, suffix = name.removesuffix("_bucket"), "_bucket"
        elif name.endswith("_total"):
            family, suffix = name.removesuffix("_total"), "_total"
        else:
            for candidate in _HISTOGRAM_SUFFIXES:
                if name.endswith(candidate) and name.removesuffix(candidate) in histograms:
                    family, suffix = name.removesuffix(candidate), candidate
        references.add(MetricReference(series=name, family=family, suffix=suffix, job=selector.job))
    return frozenset(references)


def referenced_series_names(*, job: str | None = None) -> frozenset[str]:
    """Sample names as queried (of one scrape job, or all): each must appear in ``/metrics``."""
    return frozenset(ref.series for ref in referenced_metrics() if job in (None, ref.job))


def referenced_metric_names(*, job: str | None = None) -> frozenset[str]:
    """Metric family names (histogram and counter suffixes removed), of one job or all."""
    return frozenset(ref.family for ref in referenced_metrics() if job in (None, ref.job))
