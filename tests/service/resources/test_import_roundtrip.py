"""Data that goes out comes back in: an NDJSON export imports into an empty database
unchanged, on both drivers; ids already stored are a 409 unless ``?on_conflict=skip``."""

from __future__ import annotations

import json
from typing import Any

from tests.mongo import SecantusServer
from tests.service.harness import LiveService, live_service

NDJSON = {"Content-Type": "application/x-ndjson"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def export(live: LiveService, **kwargs: Any) -> bytes:
    response = await live.fetch("/api/v1/export/items", **kwargs)
    assert response.code == 200
    return response.body


async def import_(live: LiveService, body: bytes | str, query: str = "", **kwargs: Any) -> Any:
    headers = {**NDJSON, **kwargs.pop("headers", {})}
    return await live.fetch(
        "/api/v1/import/items" + query, method="POST", body=body, headers=headers, **kwargs
    )


def lines(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.decode().splitlines()]


async def seed(live: LiveService) -> None:
    alice = live.token_for("alice")
    for name, token in (("mine", live.token), ("hers", alice), ("tagged", alice)):
        created = await live.fetch(
            "/api/v1/items",
            method="POST",
            json_body={"name": name, "description": f"about {name}", "tags": ["t", name]},
            headers=bearer(token),
        )
        assert created.code == 201
    item_id = json.loads(created.body)["id"]
    patched = await live.fetch(
        f"/api/v1/items/{item_id}",
        method="PATCH",
        body=json.dumps({"description": "changed"}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert json.loads(patched.body)["version"] == 2


async def test_an_export_imports_into_an_empty_database_unchanged(
    service: LiveService, mongo_server: SecantusServer, driver: str
) -> None:
    await seed(service)
    exported = await export(service)
    assert len(lines(exported)) == 3
    async with live_service(mongo_server.uri, driver=driver) as empty:
        assert await export(empty) == b""
        restored = await import_(empty, exported)
        assert restored.code == 201, restored.body
        result = json.loads(restored.body)
        assert result["ids"] == [item["id"] for item in lines(exported)]
        assert result["skipped"] == []
        assert await export(empty) == exported, "same ids, fields, owners, times, versions"
        events = [event async for event in empty.services.events.since(0)]
        assert [(event["type"], str(event["item_id"])) for event in events] == [
            ("item.created", item_id) for item_id in result["ids"]
        ]
        # The restored item answers with its old ETag, so clients' caches stay valid.
        last = lines(exported)[-1]
        got = await empty.fetch(f"/api/v1/items/{last['id']}")
        assert got.headers["ETag"] == f'"{last["version"]}"'


async def test_ids_already_stored_are_a_409_listing_them_unless_skipped(
    service: LiveService,
) -> None:
    await seed(service)
    exported = await export(service)
    ids = [item["id"] for item in lines(exported)]
    again = await import_(service, exported + b'{"name": "new one"}\n')
    assert again.code == 409, again.body
    problem = json.loads(again.body)
    assert problem["type"].endswith("/items-exist")
    assert [error["field"] for error in problem["errors"]] == ids
    assert "on_conflict=skip" in problem["detail"]
    assert await export(service) == exported, "all or nothing"

    skipped = await import_(service, exported + b'{"name": "new one"}\n', "?on_conflict=skip")
    assert skipped.code == 201
    result = json.loads(skipped.body)
    assert result["created"] == 1
    assert result["skipped"] == ids
    assert [item["name"] for item in lines(await export(service))][-1] == "new one"

    nothing = await import_(service, exported, "?on_conflict=skip")
    assert nothing.code == 200
    assert json.loads(nothing.body) == {"created": 0, "ids": [], "skipped": ids}
    bad = await import_(service, exported, "?on_conflict=overwrite")
    assert bad.code == 400
    assert json.loads(bad.body)["errors"][0]["field"] == "on_conflict"


async def test_only_an_admin_imports_for_another_owner(service: LiveService) -> None:
    alice = bearer(service.token_for("alice"))
    body = "\n".join(
        json.dumps(line)
        for line in ({"name": "a"}, {"name": "b", "owner": "alice"}, {"name": "c", "owner": "bob"})
    )
    refused = await import_(service, body, headers=alice)
    assert refused.code == 403
    assert json.loads(refused.body)["errors"] == [
        {"field": "line 3.owner", "message": "not alice: admins only"}
    ]
    accepted = await import_(service, "\n".join(body.splitlines()[:2]), headers=alice)
    assert accepted.code == 201
    mine = lines(await export(service, headers=alice))
    assert [(item["name"], item["owner"]) for item in mine] == [("a", "alice"), ("b", "alice")]
    # A user's own export goes back in as theirs (into a database that lacks those ids).
    assert (await import_(service, body)).code == 201, "an admin may name any owner"
    owners = [item["owner"] for item in lines(await export(service))]
    assert owners == ["alice", "alice", "admin", "alice", "bob"]


async def test_imported_lines_are_validated_like_exports_write_them(service: LiveService) -> None:
    item_id = "0123456789abcdef01234567"
    cases = {
        "line 2.id": [{"name": "a", "id": item_id}, {"name": "b", "id": item_id}],
        "line 1.created_at": [{"name": "a", "created_at": 0}],
        "line 1.updated_at": [{"name": "a", "updated_at": "2026-01-01T00:00:00"}],
        "line 1.version": [{"name": "a", "version": "2"}],
    }
    for field, documents in cases.items():
        body = "\n".join(json.dumps(document) for document in documents)
        response = await import_(service, body)
        assert response.code == 422, (field, response.body)
        assert field in [error["field"] for error in json.loads(response.body)["errors"]], field
    assert await export(service) == b""
    timed = await import_(
        service, json.dumps({"name": "a", "id": item_id, "created_at": "2020-02-02T02:02:02.5Z"})
    )
    assert timed.code == 201
    [restored] = lines(await export(service))
    assert restored["created_at"] == restored["updated_at"] == "2020-02-02T02:02:02.500000Z"
    assert restored["version"] == 1
