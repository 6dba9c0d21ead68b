"""The metric names dashboards and rules read: found correctly, and only the agreed ones."""

from __future__ import annotations

import pytest

from tests.observability import assets
from tests.observability.queries import (
    MetricReference,
    Query,
    all_queries,
    metric_names,
    recorded_names,
    referenced_metric_names,
    referenced_metrics,
    referenced_series_names,
    selectors,
    substitute_variables,
)

HISTOGRAMS = {
    "gale": {"http_server_request_duration_seconds", "db_client_operation_duration_seconds"},
    "gale-operator": {"gale_operator_reconcile_duration_seconds"},
}
COUNTERS = {
    "gale": {"gale_websocket_messages_total", "gale_rejected_requests_total"},
    "gale-operator": {"gale_operator_reconciles_total"},
}
GAUGES = {
    "gale": {
        "http_server_active_requests",
        "db_client_connection_count",
        "db_client_connection_max",
        "gale_event_loop_lag_seconds",
        "gale_websocket_connections",
        "gale_ready",
        "gale_build_info",
    },
    "gale-operator": {
        "gale_operator_microservices",
        "gale_operator_certificate_expiry_timestamp_seconds",
    },
}
"""The agreed metric names per scrape job (the project's interface contract)."""


def _agreed_series(job: str) -> set[str]:
    histogram_series = {f"{h}{s}" for h in HISTOGRAMS[job] for s in ("_bucket", "_sum", "_count")}
    return histogram_series | COUNTERS[job] | GAUGES[job]


@pytest.mark.parametrize("job", sorted(HISTOGRAMS))
def test_assets_read_only_agreed_metrics_of_each_job(job: str) -> None:
    assert referenced_series_names(job=job) <= _agreed_series(job)


def test_every_query_pins_a_known_job() -> None:
    assert {reference.job for reference in referenced_metrics()} == set(HISTOGRAMS)


@pytest.mark.parametrize("job", sorted(HISTOGRAMS))
def test_dashboards_show_every_agreed_metric(job: str) -> None:
    """Nothing the service or operator measures is left off the dashboards."""
    shown: set[str] = set()
    for query in all_queries():
        if not query.origin.startswith("rule "):
            shown |= metric_names(query.resolved())
    histograms_shown = {
        h for h in HISTOGRAMS[job] if shown & {f"{h}_bucket", f"{h}_count", f"{h}_sum"}
    }
    missing = (HISTOGRAMS[job] - histograms_shown) | ((COUNTERS[job] | GAUGES[job]) - shown)
    assert not missing


def test_families_strip_histogram_and_counter_suffixes_explicitly() -> None:
    by_series = {reference.series: reference for reference in referenced_metrics()}
    assert by_series["http_server_request_duration_seconds_count"] == MetricReference(
        series="http_server_request_duration_seconds_count",
        family="http_server_request_duration_seconds",
        suffix="_count",
        job="gale",
    )
    assert by_series["db_client_connection_count"].family == "db_client_connection_count"
    assert by_series["gale_websocket_messages_total"].family == "gale_websocket_messages"
    assert "gale_operator_reconciles" in referenced_metric_names(job="gale-operator")
    assert not any(name.startswith("gale:") for name in referenced_metric_names())


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("sum by (le, http_route) (rate(a_bucket[5m]))", {"a_bucket"}),
        (
            "sum(rate(a_total[5m])) without (pod) / on (namespace) group_left (x) b",
            {"a_total", "b"},
        ),
        ('c{job="gale", le="0.5"} offset 5m > bool 1e-3 * 2', {"c"}),
        ('d{path=~"/api/{id}", x!="sum(e)"} and ignoring (pod) f', {"d", "f"}),
        ("min(gale_cert - time()) < 7 * 86400 unless absent(g)", {"gale_cert", "g"}),
        ("histogram_quantile(0.99, h[1h:5m]) != Inf", {"h"}),
        ("vector(1) + scalar(i)", {"i"}),
    ],
)
def test_metric_names_finds_selected_series(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_selectors_tell_the_job_each_series_is_read_from() -> None:
    found = selectors('a{job="gale", x="}"} / b{job="gale-operator"} + c{job=~"gale.*"} + d')
    assert {(s.name, s.job) for s in found} == {
        ("a", "gale"),
        ("b", "gale-operator"),
        ("c", None),
        ("d", None),
    }


def test_metric_names_refuses_name_matchers() -> None:
    with pytest.raises(ValueError, match="__name__"):
        metric_names('{__name__=~"gale_.*"}')


def test_variables_are_replaced_in_every_grafana_syntax() -> None:
    expr = 'rate(a{ns="$namespace", p="${pod:regex}", q="[[namespace]]"}[$__rate_interval])'
    assert substitute_variables(expr, variables=("namespace", "pod")) == (
        'rate(a{ns="default", p="default", q="default"}[5m])'
    )


def test_unknown_variables_are_refused() -> None:
    with pytest.raises(ValueError, match=r"\$cluster"):
        Query(origin="x", expr='a{cluster="$cluster"}', variables=("namespace",)).resolved()


def test_variable_queries_are_included() -> None:
    origins = {query.origin for query in all_queries()}
    assert {f"{path.name} variable namespace" for path in assets.dashboard_paths()} <= origins


def test_recorded_series_that_dashboards_read_are_recorded() -> None:
    """A dashboard reading a `gale:` series nothing records would show an empty panel."""
    read: set[str] = set()
    for query in all_queries():
        if not query.origin.startswith("rule "):
            read |= {name for name in metric_names(query.resolved()) if ":" in name}
    assert read
    assert read <= recorded_names()
