"""What a resource declaration refuses, and what the assembly refuses, before anything is
served: names that would break a URL, an event type or a frame, and endpoints that would
silently shadow another."""

from __future__ import annotations

from typing import Any

import pytest
from gale_service.endpoints import Endpoint, check_unique
from gale_service.handlers.documents import CollectionHandler
from gale_service.platform_endpoints import PLATFORM
from gale_service.resource import Resource
from gale_service.resources.items.declaration import RESOURCE
from gale_service.resources.items.models import Item, ItemImport, ItemPage, ItemPatch, ItemWrite
from gale_service.resources.slice import crud_endpoints
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

MODELS: dict[str, Any] = {
    "write": ItemWrite,
    "patch": ItemPatch,
    "public": Item,
    "page": ItemPage,
    "restore": ItemImport,
}


@pytest.mark.parametrize(
    ("name", "singular", "tags", "why"),
    [
        ("Orders", "order", None, "lower-case identifiers"),
        ("or-ders", "order", None, "lower-case identifiers"),
        ("orders", "", None, "lower-case identifiers"),
        ("orders", "orders", None, "must differ"),
        ("events", "event", None, "frame's own key"),
        ("types", "type", None, "frame's own key"),
        ("orders", "order", "labels", "not a field of ItemWrite"),
    ],
)
def test_a_resource_refuses_names_that_would_break_something(
    name: str, singular: str, tags: str | None, why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        Resource(name=name, singular=singular, tags=tags, **MODELS)


def test_a_resource_whose_routes_collide_with_the_platform_is_refused() -> None:
    users = Resource(name="users", singular="member", **MODELS)
    with pytest.raises(ValueError, match="two endpoints have the path '/api/v1/users'"):
        check_unique((*PLATFORM, *crud_endpoints(users)))
    again = (*crud_endpoints(RESOURCE), *crud_endpoints(RESOURCE))
    with pytest.raises(ValueError, match="two endpoints"):
        check_unique(again)
    check_unique((*PLATFORM, *crud_endpoints(RESOURCE)))


def test_route_names_collide_too() -> None:
    one = Endpoint("/a", CollectionHandler, "same")
    other = Endpoint("/b", CollectionHandler, "same")
    with pytest.raises(ValueError, match="the name 'same'"):
        check_unique((one, other))


def test_path_templates_become_one_segment_per_parameter() -> None:
    endpoint = Endpoint("/api/v1/x.y/{a_id}/sub/{b}", CollectionHandler, "x")
    rule = endpoint.rule()
    assert rule.matcher.match(_request("/api/v1/x.y/1/sub/2")) is not None
    assert rule.matcher.match(_request("/api/v1/xzy/1/sub/2")) is None, "the dot is literal"
    assert rule.matcher.match(_request("/api/v1/x.y/1/2/sub/3")) is None
    assert rule.matcher.reverse("7", "8") == "/api/v1/x.y/7/sub/8"
    assert rule.target_kwargs == {"route": "/api/v1/x.y/{a_id}/sub/{b}"}
    exempt = Endpoint("/p", CollectionHandler, "p", exempt=True).rule()
    assert exempt.target_kwargs == {"route": "/p", "exempt": True}


def _request(path: str) -> HTTPServerRequest:
    headers = HTTPHeaders({"Host": "localhost"})
    return HTTPServerRequest(start_line=RequestStartLine("GET", path, "HTTP/1.1"), headers=headers)
