"""Items over real HTTP: create, read, conditional requests, replace, merge-patch, delete."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.service.harness import LiveService

MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


async def create(service: LiveService, **fields: Any) -> tuple[dict[str, Any], str]:
    response = await service.fetch("/api/v1/items", method="POST", json_body=fields)
    assert response.code == 201, response.body
    return json.loads(response.body), response.headers["ETag"]


async def test_create_answers_201_with_location_etag_and_the_item(service: LiveService) -> None:
    response = await service.fetch(
        "/api/v1/items",
        method="POST",
        json_body={"name": "kettle", "description": "blue", "tags": ["kitchen", "metal"]},
    )
    assert response.code == 201
    item = json.loads(response.body)
    assert item["name"] == "kettle"
    assert item["description"] == "blue"
    assert item["tags"] == ["kitchen", "metal"]
    assert isinstance(item["owner"], str)
    assert item["owner"]
    assert item["version"] == 1
    assert item["created_at"] == item["updated_at"]
    assert item["created_at"].endswith("Z")
    assert response.headers["Location"] == f"/api/v1/items/{item['id']}"
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Content-Type"].startswith("application/json")


async def test_read_back_then_not_modified_with_if_none_match(service: LiveService) -> None:
    item, etag = await create(service, name="lamp")
    fetched = await service.fetch(f"/api/v1/items/{item['id']}")
    assert fetched.code == 200
    assert json.loads(fetched.body) == item
    assert fetched.headers["ETag"] == etag
    for header in (etag, f"W/{etag}", f'"99", {etag}', "*"):
        again = await service.fetch(
            f"/api/v1/items/{item['id']}", headers={"If-None-Match": header}
        )
        assert again.code == 304, header
        assert again.body == b""
        assert again.headers["ETag"] == etag
    changed = await service.fetch(f"/api/v1/items/{item['id']}", headers={"If-None-Match": '"7"'})
    assert changed.code == 200


async def test_unknown_and_malformed_ids_are_404_problems(service: LiveService) -> None:
    for item_id in ("65f000000000000000000000", "not-an-id", "%00", "x" * 300):
        for method in ("GET", "DELETE"):
            response = await service.fetch(f"/api/v1/items/{item_id}", method=method)
            assert response.code == 404, (item_id, method)
            assert response.headers["Content-Type"].startswith("application/problem+json")
            problem = json.loads(response.body)
            assert problem["status"] == 404
            assert problem["type"].endswith("/item-not-found")
        put = await service.fetch(
            f"/api/v1/items/{item_id}", method="PUT", json_body={"name": "ghost"}
        )
        assert put.code == 404
        patch = await service.fetch(
            f"/api/v1/items/{item_id}", method="PATCH", body="{}", headers=MERGE_PATCH
        )
        assert patch.code == 404


async def test_put_replaces_every_writable_field_and_bumps_the_etag(service: LiveService) -> None:
    item, etag = await create(service, name="chair", description="old", tags=["wood"])
    response = await service.fetch(
        f"/api/v1/items/{item['id']}",
        method="PUT",
        json_body={"name": "stool"},
        headers={"If-Match": etag},
    )
    assert response.code == 200
    replaced = json.loads(response.body)
    assert replaced["name"] == "stool"
    assert replaced["description"] == ""
    assert replaced["tags"] == []
    assert replaced["version"] == 2
    assert replaced["created_at"] == item["created_at"]
    assert replaced["updated_at"] >= item["updated_at"]
    assert response.headers["ETag"] == '"2"'


async def test_patch_merges_and_null_removes(service: LiveService) -> None:
    item, _ = await create(service, name="desk", description="oak", tags=["office"])
    response = await service.fetch(
        f"/api/v1/items/{item['id']}",
        method="PATCH",
        body=json.dumps({"description": None, "tags": ["office", "big"]}),
        headers=MERGE_PATCH,
    )
    assert response.code == 200, response.body
    patched = json.loads(response.body)
    assert patched["name"] == "desk"
    assert patched["description"] == ""
    assert patched["tags"] == ["office", "big"]
    assert response.headers["ETag"] == '"2"'


async def test_patch_needs_the_merge_patch_media_type(service: LiveService) -> None:
    item, _ = await create(service, name="desk")
    response = await service.fetch(
        f"/api/v1/items/{item['id']}", method="PATCH", json_body={"name": "table"}
    )
    assert response.code == 415
    assert "application/merge-patch+json" in json.loads(response.body)["detail"]


async def test_stale_if_match_is_412_and_changes_nothing(service: LiveService) -> None:
    item, etag = await create(service, name="bike")
    path = f"/api/v1/items/{item['id']}"
    first = await service.fetch(path, method="PUT", json_body={"name": "e-bike"})
    assert first.code == 200
    for method, kwargs in (
        ("PUT", {"json_body": {"name": "trike"}}),
        ("PATCH", {"body": json.dumps({"name": "trike"}), "headers": MERGE_PATCH}),
        ("DELETE", {}),
    ):
        headers = {**kwargs.pop("headers", {}), "If-Match": etag}  # type: ignore[dict-item]
        response = await service.fetch(path, method=method, headers=headers, **kwargs)
        assert response.code == 412, method
        assert json.loads(response.body)["type"].endswith("/stale-etag")
    for unmatched in ('"abc"', 'W/"2"', '"1", "7"'):
        response = await service.fetch(
            path, method="PUT", json_body={"name": "x"}, headers={"If-Match": unmatched}
        )
        assert response.code == 412, unmatched
    for malformed in ("nonsense", "2", '"2'):
        response = await service.fetch(path, method="DELETE", headers={"If-Match": malformed})
        assert response.code == 400, malformed
        assert json.loads(response.body)["type"].endswith("/bad-if-match")
    current = json.loads((await service.fetch(path)).body)
    assert current["name"] == "e-bike"
    assert current["version"] == 2
    events = [event async for event in service.services.events.since(0)]
    assert [event["type"] for event in events] == ["item.created", "item.updated"]


async def test_delete_is_204_then_gone_and_honours_if_match(service: LiveService) -> None:
    item, etag = await create(service, name="mug")
    path = f"/api/v1/items/{item['id']}"
    deleted = await service.fetch(path, method="DELETE", headers={"If-Match": etag})
    assert deleted.code == 204
    assert deleted.body == b""
    assert (await service.fetch(path)).code == 404
    assert (await service.fetch(path, method="DELETE")).code == 404
    other, _ = await create(service, name="cup")
    unconditional = await service.fetch(f"/api/v1/items/{other['id']}", method="DELETE")
    assert unconditional.code == 204


async def test_if_match_star_and_current_strong_tag_apply(service: LiveService) -> None:
    item, _ = await create(service, name="vase")
    path = f"/api/v1/items/{item['id']}"
    star = await service.fetch(
        path, method="PUT", json_body={"name": "v2"}, headers={"If-Match": "*"}
    )
    assert star.code == 200
    listed = await service.fetch(
        path, method="PUT", json_body={"name": "v3"}, headers={"If-Match": '"2", W/"9"'}
    )
    assert listed.code == 200
    assert json.loads(listed.body)["version"] == 3


async def test_concurrent_unconditional_patches_all_apply(service: LiveService) -> None:
    """Each round of the race has a winner, so 6 writers need at most 6 attempts each."""
    item, _ = await create(service, name="counter")
    path = f"/api/v1/items/{item['id']}"
    responses = await asyncio.gather(
        *(
            service.fetch(
                path, method="PATCH", body=json.dumps({"description": f"d{n}"}), headers=MERGE_PATCH
            )
            for n in range(6)
        )
    )
    assert [response.code for response in responses] == [200] * 6
    final = json.loads((await service.fetch(path)).body)
    assert final["version"] == 7
    assert final["name"] == "counter"
