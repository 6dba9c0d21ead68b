"""Items belong to their creator: others get 404 (never a hint the item exists); an admin
sees everything; admin-only endpoints answer 403 to everyone else."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from tests.mongo import SecantusServer
from tests.service.harness import LiveService, live_service


@pytest.fixture
async def live(mongo_server: SecantusServer) -> AsyncIterator[LiveService]:
    async with live_service(mongo_server.uri) as service:
        yield service


def as_user(live: LiveService, username: str, *, is_admin: bool = False) -> dict[str, str]:
    return {"Authorization": f"Bearer {live.token_for(username, is_admin=is_admin)}"}


async def test_anonymous_writes_and_reads_get_401(live: LiveService) -> None:
    created = await live.fetch("/api/v1/items", method="POST", json_body={"name": "x"}, auth=False)
    assert created.code == 401
    assert (await live.fetch("/api/v1/export/items", auth=False)).code == 401


async def test_items_are_private_to_their_owner(live: LiveService) -> None:
    alice, bob = as_user(live, "alice"), as_user(live, "bob")
    created = await live.fetch(
        "/api/v1/items", method="POST", json_body={"name": "alice's"}, headers=alice
    )
    assert created.code == 201
    item = json.loads(created.body)
    assert item["owner"] == "alice"
    location = created.headers["Location"]

    assert (await live.fetch(location, headers=alice)).code == 200
    for method, body in [("GET", None), ("PUT", {"name": "mine now"}), ("DELETE", None)]:
        response = await live.fetch(location, method=method, json_body=body, headers=bob)
        assert response.code == 404, method
        assert json.loads(response.body)["detail"] == f"no item with id {item['id']!r}"
    patched = await live.fetch(
        location,
        method="PATCH",
        body=json.dumps({"name": "x"}),
        headers={**bob, "Content-Type": "application/merge-patch+json"},
    )
    assert patched.code == 404

    listing = json.loads((await live.fetch("/api/v1/items", headers=bob)).body)
    assert listing["items"] == []
    exported = await live.fetch("/api/v1/export/items", headers=bob)
    assert exported.body == b""

    still = json.loads((await live.fetch(location, headers=alice)).body)
    assert still["name"] == "alice's"
    assert still["version"] == 1


async def test_admin_sees_and_changes_everyones_items(live: LiveService) -> None:
    for owner in ("alice", "bob"):
        response = await live.fetch(
            "/api/v1/items", method="POST", json_body={"name": owner}, headers=as_user(live, owner)
        )
        assert response.code == 201
    listing = json.loads((await live.fetch("/api/v1/items")).body)
    assert sorted(item["owner"] for item in listing["items"]) == ["alice", "bob"]
    own = json.loads((await live.fetch("/api/v1/items", headers=as_user(live, "bob"))).body)
    assert [item["owner"] for item in own["items"]] == ["bob"]
    bobs = own["items"][0]["id"]
    assert (await live.fetch(f"/api/v1/items/{bobs}", method="DELETE")).code == 204


async def test_only_an_admin_creates_users_who_can_then_log_in(live: LiveService) -> None:
    new_user = {"username": "carol", "password": "a long enough password"}
    refused = await live.fetch(
        "/api/v1/users", method="POST", json_body=new_user, headers=as_user(live, "bob")
    )
    assert refused.code == 403
    created = await live.fetch("/api/v1/users", method="POST", json_body=new_user)
    assert created.code == 201
    assert json.loads(created.body) == {"username": "carol", "is_admin": False, "locale": None}
    again = await live.fetch("/api/v1/users", method="POST", json_body=new_user)
    assert again.code == 409

    token = await live.fetch("/api/v1/auth/token", method="POST", json_body=new_user, auth=False)
    assert token.code == 200
    bearer = {"Authorization": f"Bearer {json.loads(token.body)['access_token']}"}
    me = json.loads((await live.fetch("/api/v1/auth/me", headers=bearer)).body)
    assert me == {"username": "carol", "is_admin": False, "locale": None}


async def test_stored_users_keep_only_a_password_hash(live: LiveService) -> None:
    stored = await live.services.auth.users.get("admin")
    assert stored is not None
    assert stored["password_hash"].startswith("$argon2id$")
    assert "correct horse" not in json.dumps(stored, default=str)
