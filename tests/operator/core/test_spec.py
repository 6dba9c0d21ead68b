"""Parsing the spec: defaults, versions, and the cross-field rules."""

from __future__ import annotations

from typing import Any

import pytest
from gale_operator.core.spec import SpecError, TLSMode, parse_spec

BASE: dict[str, Any] = {"image": "repo/app:2.0", "mongodb": {"uriSecretRef": {"name": "db"}}}


def test_defaults_match_the_crd() -> None:
    spec = parse_spec(BASE)
    assert spec.replicas == 2
    assert spec.mongodb.database == "gale"
    assert spec.mongodb.uri_secret.key == "uri"
    assert spec.tls.mode is TLSMode.DISABLED
    assert spec.rollout.max_surge == "25%"
    assert spec.rollout.max_unavailable == 0
    assert spec.disruption.max_unavailable == 1
    assert spec.service.port == 80


@pytest.mark.parametrize(
    ("image", "version"),
    [
        ("repo/app:2.0", "2.0"),
        ("registry:5000/app", "latest"),
        ("registry:5000/app:v1", "v1"),
        ("app@sha256:" + "a" * 64, "sha256:" + "a" * 64),
    ],
)
def test_version_is_tag_or_digest(image: str, version: str) -> None:
    assert parse_spec({**BASE, "image": image}).version == version


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"image": ""}, "spec.image"),
        ({"mongodb": {}}, "uriSecretRef"),
        ({"autoscaling": {"minReplicas": 5, "maxReplicas": 2}}, "minReplicas"),
        ({"tls": {"mode": "certManager"}}, "issuerRef"),
        ({"replicas": 101}, "replicas"),
    ],
)
def test_bad_specs_say_what_is_wrong(change: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec({**BASE, **change})


def test_bad_drain_override_falls_back_to_the_default() -> None:
    spec = parse_spec({**BASE, "env": [{"name": "GALE_DRAIN_SECONDS", "value": "soon"}]})
    assert spec.drain_seconds == 5
