"""``/openapi.json``: a valid OpenAPI 3.1 document for every API route, generated from the
models that validate requests, and the service holding to it under schemathesis fuzzing."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from gale_service.handlers.base import ApiHandler
from gale_service.resources.items.models import ItemPatch, ItemWrite
from openapi_spec_validator import validate
from tornado.routing import Rule
from tornado.web import Application
from tornado.websocket import WebSocketHandler

from tests.mongo import SecantusServer
from tests.service.harness import LiveService, live_service
from tests.service.resources.fuzzing import schemathesis_output

OTHER_DOCUMENTED = {"/livez", "/readyz", "/startupz", "/openapi.json"}


@pytest.fixture
async def one_driver(mongo_server: SecantusServer) -> AsyncIterator[LiveService]:
    """The document and the HTTP layer do not depend on the driver: test them once."""
    async with live_service(mongo_server.uri, driver="pymongo") as live:
        yield live


async def document(service: LiveService) -> dict[str, Any]:
    response = await service.fetch("/openapi.json")
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    spec: dict[str, Any] = json.loads(response.body)
    return spec


def api_rules(application: Application) -> list[Rule]:
    """Named rules served by API handlers (pages and WebSockets are not OpenAPI operations)."""
    rules = []
    for rule in application.wildcard_router.rules:
        target = rule.target
        if not (isinstance(target, type) and issubclass(target, ApiHandler)):
            continue
        if issubclass(target, WebSocketHandler):
            continue
        template = rule.target_kwargs["route"]
        if template.startswith("/api/") or template in OTHER_DOCUMENTED:
            rules.append(rule)
    return rules


def application_of(service: LiveService) -> Application:
    delegate = service.running.server.request_callback
    while not isinstance(delegate, Application):
        delegate = delegate.application  # type: ignore[attr-defined]
    return delegate


async def test_the_document_is_valid_openapi_3_1(one_driver: LiveService) -> None:
    service = one_driver
    spec = await document(service)
    assert spec["openapi"].startswith("3.1")
    validate(spec)


async def test_every_api_route_is_documented_and_reversible(one_driver: LiveService) -> None:
    service = one_driver
    spec = await document(service)
    application = application_of(service)
    rules = api_rules(application)
    assert len(rules) >= 8
    for rule in rules:
        template: str = rule.target_kwargs["route"]
        assert template in spec["paths"], f"{template} is not in /openapi.json"
        methods = {
            method.lower()
            for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
            if getattr(rule.target, method.lower()) is not getattr(ApiHandler, method.lower())
        }
        assert methods == set(spec["paths"][template]), template
        arguments = re.findall(r"{(\w+)}", template)
        values = [f"v-{name}" for name in arguments]
        expected = template
        for name, value in zip(arguments, values, strict=True):
            expected = expected.replace(f"{{{name}}}", value)
        assert application.reverse_url(rule.name, *values) == expected


async def test_schemas_come_from_the_validating_models(one_driver: LiveService) -> None:
    service = one_driver
    schemas = (await document(service))["components"]["schemas"]
    for model in (ItemWrite, ItemPatch):
        generated = model.model_json_schema(ref_template="#/components/schemas/{model}")
        generated.pop("$defs", None)
        assert schemas[model.__name__] == generated
    for path in (await document(service))["paths"].values():
        for operation in path.values():
            for status, response in operation["responses"].items():
                if int(status) >= 400 and "content" in response and status != "503":
                    assert "application/problem+json" in response["content"], (path, status)


async def test_schemathesis_finds_nothing(one_driver: LiveService, tmp_path: Path) -> None:
    await schemathesis_output(
        one_driver.base_url,
        config=Path(__file__).with_name("schemathesis_items.toml"),
        report=tmp_path / "schemathesis",
        token=getattr(one_driver, "token", None),
    )


async def test_the_document_carries_an_etag_and_answers_304_to_it(one_driver: LiveService) -> None:
    first = await one_driver.fetch("/openapi.json")
    etag = first.headers["Etag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    again = await one_driver.fetch("/openapi.json", headers={"If-None-Match": etag})
    assert again.code == 304
    assert again.body == b""
    stale = await one_driver.fetch("/openapi.json", headers={"If-None-Match": '"other"'})
    assert stale.code == 200
    assert json.loads(stale.body) == json.loads(first.body)
