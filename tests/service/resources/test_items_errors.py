"""Rejected requests: the right status, an RFC 9457 body, and nothing stored changes."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from tornado.httpclient import HTTPResponse

from tests.service.harness import LiveService

ONE_MIB = 1024 * 1024


def problem(response: HTTPResponse, status: int) -> dict[str, Any]:
    assert response.code == status, response.body
    assert response.headers["Content-Type"].startswith("application/problem+json")
    document: dict[str, Any] = json.loads(response.body)
    assert document["status"] == status
    assert document["title"]
    assert document["detail"]
    assert document["instance"] == urlsplit(response.request.url).path
    return document


async def snapshot(service: LiveService) -> tuple[list[dict[str, Any]], int]:
    store = service.services.stores["items"]
    page = await store.list(limit=100)
    return page.documents, await store.events.last_sequence()


@pytest.fixture
async def existing(service: LiveService) -> dict[str, Any]:
    response = await service.fetch(
        "/api/v1/items", method="POST", json_body={"name": "keep", "tags": ["a"]}
    )
    item: dict[str, Any] = json.loads(response.body)
    return item


async def test_non_json_body_is_415(service: LiveService, existing: dict[str, Any]) -> None:
    before = await snapshot(service)
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Content-Type": content_type} if content_type else {}
        response = await service.fetch(
            "/api/v1/items", method="POST", body='{"name": "x"}', headers=headers
        )
        assert problem(response, 415)["type"].endswith("/unsupported-media-type")
        put = await service.fetch(
            f"/api/v1/items/{existing['id']}", method="PUT", body='{"name": "x"}', headers=headers
        )
        problem(put, 415)
    assert await snapshot(service) == before


async def test_json_with_charset_parameter_is_accepted(service: LiveService) -> None:
    response = await service.fetch(
        "/api/v1/items",
        method="POST",
        body='{"name": "x"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.code == 201


async def test_unsatisfiable_accept_is_406(service: LiveService, existing: dict[str, Any]) -> None:
    before = await snapshot(service)
    for path in ("/api/v1/items", f"/api/v1/items/{existing['id']}", "/openapi.json"):
        response = await service.fetch(path, headers={"Accept": "text/html"})
        assert problem(response, 406)["type"].endswith("/not-acceptable")
    created = await service.fetch(
        "/api/v1/items", method="POST", json_body={"name": "y"}, headers={"Accept": "image/png"}
    )
    problem(created, 406)
    assert await snapshot(service) == before
    for accept in ("application/*", "*/*", "text/html, application/json;q=0.5"):
        response = await service.fetch("/api/v1/items", headers={"Accept": accept})
        assert response.code == 200, accept
    refused = await service.fetch("/api/v1/items", headers={"Accept": "application/json;q=0"})
    problem(refused, 406)


async def test_body_over_the_limit_is_413(service: LiveService, existing: dict[str, Any]) -> None:
    before = await snapshot(service)
    big = json.dumps({"name": "big", "description": "x" * ONE_MIB})
    response = await service.fetch(
        "/api/v1/items", method="POST", body=big, headers={"Content-Type": "application/json"}
    )
    assert problem(response, 413)["type"].endswith("/body-too-large")
    huge = b'{"name": "' + b"x" * (8 * ONE_MIB) + b'"}'
    response = await service.fetch(
        f"/api/v1/items/{existing['id']}",
        method="PUT",
        body=huge,
        headers={"Content-Type": "application/json"},
    )
    problem(response, 413)
    assert await snapshot(service) == before


async def test_broken_json_is_400(service: LiveService, existing: dict[str, Any]) -> None:
    before = await snapshot(service)
    for body in ('{"name": ', "\xff", "", "{'name': 'x'}"):
        response = await service.fetch(
            "/api/v1/items", method="POST", body=body, headers={"Content-Type": "application/json"}
        )
        assert problem(response, 400)["type"].endswith("/bad-json"), body
    patch = await service.fetch(
        f"/api/v1/items/{existing['id']}",
        method="PATCH",
        body="{",
        headers={"Content-Type": "application/merge-patch+json"},
    )
    problem(patch, 400)
    assert await snapshot(service) == before


async def test_schema_violations_are_422_listing_every_field(
    service: LiveService, existing: dict[str, Any]
) -> None:
    before = await snapshot(service)
    bad = {
        "name": "",
        "description": "d" * 10_001,
        "tags": ["ok", "not ok!", "t" * 33] + [f"t{n}" for n in range(20)],
        "owner": "mallory",
    }
    response = await service.fetch("/api/v1/items", method="POST", json_body=bad)
    document = problem(response, 422)
    fields = {error["field"] for error in document["errors"]}
    assert {"name", "description", "tags", "owner"} <= fields
    assert all(error["message"] for error in document["errors"])
    for body in ([], "name", 3, {}):
        response = await service.fetch(
            "/api/v1/items",
            method="POST",
            body=json.dumps(body),
            headers={"Content-Type": "application/json"},
        )
        problem(response, 422)
    put = await service.fetch(
        f"/api/v1/items/{existing['id']}", method="PUT", json_body={"name": "x" * 201}
    )
    assert [e["field"] for e in problem(put, 422)["errors"]] == ["name"]
    for patch_body in ({"name": ""}, {"tags": "a"}, {"id": "x"}, [1], {"name": None}):
        patch = await service.fetch(
            f"/api/v1/items/{existing['id']}",
            method="PATCH",
            body=json.dumps(patch_body),
            headers={"Content-Type": "application/merge-patch+json"},
        )
        problem(patch, 422)
    assert await snapshot(service) == before


async def test_unknown_route_and_method_are_problems(service: LiveService) -> None:
    missing = await service.fetch("/api/v2/nothing")
    assert problem(missing, 404)["type"].endswith("/no-route")
    not_allowed = await service.fetch("/api/v1/items", method="DELETE")
    problem(not_allowed, 405)
