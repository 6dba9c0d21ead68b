"""Proof that a resource is one declaration: "notes" are declared entirely in the tests (their
own fields and rules in ``notes.py``, the resource here) and registered in one line
(``slices=(*SLICES, NOTES)`` in the fixture), and the whole contract holds for them with no
change to shipped code: CRUD with validation, ETag / 304 / 412, keyset paging while others
write, ownership, events in the live feed, export and import, a valid OpenAPI document that
schemathesis finds nothing wrong with.

The contract tests run the same assertions for the shipped items and for the notes
(``kind``), so what holds for notes is exactly what holds for items.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from gale_service.app import SLICES
from gale_service.resource import Resource
from gale_service.resources.slice import Slice
from openapi_spec_validator import validate

from tests.mongo import SecantusServer
from tests.service.clients import connect, frame, subscribe
from tests.service.harness import LiveService, live_service
from tests.service.resources.fuzzing import schemathesis_output
from tests.service.resources.notes import Note, NoteImport, NotePage, NotePatch, NoteWrite

NOTES = Slice(
    Resource(
        name="notes",
        singular="note",
        write=NoteWrite,
        patch=NotePatch,
        public=Note,
        page=NotePage,
        restore=NoteImport,
    )
)
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
NDJSON = {"Content-Type": "application/x-ndjson"}
CHANGES = ("created", "updated", "deleted")


@dataclass(frozen=True)
class Kind:
    """One resource under the contract: how to make valid and invalid bodies for it."""

    name: str
    singular: str
    #: A valid body, numbered.
    body: Callable[[int], dict[str, Any]]
    #: An invalid body, and every field the 422 must name.
    invalid: dict[str, Any]
    invalid_fields: frozenset[str]
    #: A PUT body, and what the replaced document then holds (defaults restored).
    replacement: dict[str, Any]
    replaced: dict[str, Any]
    #: A valid merge patch and what it leaves; one whose result breaks the rules.
    patch: dict[str, Any]
    patched: dict[str, Any]
    bad_patch: dict[str, Any]

    def url(self, document_id: str | None = None) -> str:
        return f"/api/v1/{self.name}" + (f"/{document_id}" if document_id else "")


KINDS = {
    "items": Kind(
        "items",
        "item",
        body=lambda n: {"name": f"thing {n}", "tags": ["t"]},
        invalid={"name": "", "tags": ["not a tag!"], "colour": "red"},
        invalid_fields=frozenset({"name", "tags.0", "colour"}),
        replacement={"name": "replaced"},
        replaced={"name": "replaced", "description": "", "tags": []},
        patch={"description": "patched", "tags": None},
        patched={"description": "patched", "tags": []},
        bad_patch={"name": None},
    ),
    "notes": Kind(
        "notes",
        "note",
        body=lambda n: {"title": f"note {n}", "priority": 2},
        invalid={"title": "   ", "priority": "2", "colour": "red"},
        invalid_fields=frozenset({"title", "priority", "colour"}),
        replacement={"title": "replaced", "body": "x"},
        replaced={"title": "replaced", "body": "x", "priority": 3},
        patch={"body": None, "priority": 5.0},
        patched={"body": "", "priority": 5},
        bad_patch={"priority": 9},
    ),
}


@pytest.fixture
async def live(mongo_server: SecantusServer) -> AsyncIterator[LiveService]:
    async with live_service(mongo_server.uri, slices=(*SLICES, NOTES)) as service:
        yield service


@pytest.fixture(params=sorted(KINDS))
def kind(request: pytest.FixtureRequest) -> Kind:
    return KINDS[request.param]


def bearer(live: LiveService, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {live.token_for(user)}"}


async def create(
    live: LiveService, kind: Kind, n: int = 0, *, user: str = "alice"
) -> dict[str, Any]:
    response = await live.fetch(
        kind.url(), method="POST", json_body=kind.body(n), headers=bearer(live, user)
    )
    assert response.code == 201, response.body
    document: dict[str, Any] = json.loads(response.body)
    return document


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.code == status, response.body
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body: dict[str, Any] = json.loads(response.body)
    assert body["status"] == status
    return body


def subset(document: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    return {key: document[key] for key in expected}


async def test_crud_with_validation(live: LiveService, kind: Kind) -> None:
    created = await live.fetch(kind.url(), method="POST", json_body=kind.body(1))
    assert created.code == 201, created.body
    document = json.loads(created.body)
    assert subset(document, kind.body(1)) == kind.body(1)
    assert (document["version"], document["owner"]) == (1, "admin")
    url = kind.url(document["id"])
    assert created.headers["Location"] == url
    assert json.loads((await live.fetch(url)).body) == document

    bad = await live.fetch(kind.url(), method="POST", json_body=kind.invalid)
    assert {error["field"] for error in problem(bad, 422)["errors"]} == kind.invalid_fields
    problem(await live.fetch(kind.url(), method="POST", body="{}", headers={}), 415)
    broken = await live.fetch(
        kind.url(), method="POST", body="{", headers={"Content-Type": "application/json"}
    )
    problem(broken, 400)

    replaced = await live.fetch(url, method="PUT", json_body=kind.replacement)
    assert subset(json.loads(replaced.body), kind.replaced) == kind.replaced
    patched = await live.fetch(
        url, method="PATCH", body=json.dumps(kind.patch), headers=MERGE_PATCH
    )
    assert patched.code == 200, patched.body
    assert subset(json.loads(patched.body), kind.patched) == kind.patched
    problem(
        await live.fetch(url, method="PATCH", body=json.dumps(kind.bad_patch), headers=MERGE_PATCH),
        422,
    )
    problem(await live.fetch(url, method="PATCH", body="[]", headers=MERGE_PATCH), 422)
    assert (await live.fetch(url, method="DELETE")).code == 204
    gone = problem(await live.fetch(url), 404)
    assert gone["type"].endswith(f"/{kind.singular}-not-found")
    problem(await live.fetch(kind.url("not-an-id")), 404)


async def test_etags_answer_304_and_stale_writes_412(live: LiveService, kind: Kind) -> None:
    document = await create(live, kind)
    url = kind.url(document["id"])
    alice = bearer(live, "alice")
    first = await live.fetch(url, headers=alice)
    assert first.headers["ETag"] == '"1"'
    for matching in ('"1"', 'W/"1"', '"7", "1"', "*"):
        again = await live.fetch(url, headers={**alice, "If-None-Match": matching})
        assert again.code == 304, matching
        assert again.body == b""
    assert (await live.fetch(url, headers={**alice, "If-None-Match": '"2"'})).code == 200
    updated = await live.fetch(
        url, method="PUT", json_body=kind.replacement, headers={**alice, "If-Match": '"1"'}
    )
    assert updated.code == 200
    assert updated.headers["ETag"] == '"2"'
    for stale in ('"1"', 'W/"2"'):
        lost = await live.fetch(
            url, method="PUT", json_body=kind.body(9), headers={**alice, "If-Match": stale}
        )
        problem(lost, 412)
    problem(await live.fetch(url, method="DELETE", headers={**alice, "If-Match": "2"}), 400)
    problem(await live.fetch(url, method="DELETE", headers={**alice, "If-Match": '"1"'}), 412)
    current = json.loads((await live.fetch(url, headers=alice)).body)
    assert subset(current, kind.replaced) == kind.replaced, "no refused write changed it"
    deleted = await live.fetch(url, method="DELETE", headers={**alice, "If-Match": '"2"'})
    assert deleted.code == 204


async def test_keyset_paging_sees_each_once_while_others_write(
    live: LiveService, kind: Kind
) -> None:
    existing = [(await create(live, kind, n))["id"] for n in range(9)]
    deleted = existing[5]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        listing = await live.fetch(f"{kind.url()}?{query}", headers=bearer(live, "alice"))
        page = json.loads(listing.body)
        seen += [document["id"] for document in page[kind.name]]
        pages += 1
        # Meanwhile others write: new documents at the end, one deleted ahead of the reader.
        await create(live, kind, 100 + pages)
        if pages == 1:
            await live.fetch(kind.url(deleted), method="DELETE")
        cursor = page["next_cursor"]
        if cursor is None:
            break
    survivors = [document_id for document_id in existing if document_id != deleted]
    assert [document_id for document_id in seen if document_id in existing] == survivors
    assert len(seen) == len(set(seen)), "nothing twice"
    problem(await live.fetch(f"{kind.url()}?cursor=bogus"), 400)
    problem(await live.fetch(f"{kind.url()}?limit=0"), 400)


async def test_another_user_can_neither_see_nor_change_it(live: LiveService, kind: Kind) -> None:
    document = await create(live, kind, user="alice")
    url = kind.url(document["id"])
    bob = bearer(live, "bob")
    problem(await live.fetch(url, headers=bob), 404)
    problem(await live.fetch(url, method="PUT", json_body=kind.body(2), headers=bob), 404)
    patch = await live.fetch(url, method="PATCH", body="{}", headers={**bob, **MERGE_PATCH})
    problem(patch, 404)
    problem(await live.fetch(url, method="DELETE", headers=bob), 404)
    listing = json.loads((await live.fetch(kind.url(), headers=bob)).body)
    assert listing[kind.name] == []
    exported = await live.fetch(f"/api/v1/export/{kind.name}", headers=bob)
    assert exported.body == b""
    unchanged = json.loads((await live.fetch(url, headers=bearer(live, "alice"))).body)
    assert unchanged == document
    problem(await live.fetch(kind.url(), auth=False), 401)
    assert (await live.fetch(url)).code == 200, "an admin sees every owner's"


async def test_every_write_is_an_event_in_the_live_feed(live: LiveService, kind: Kind) -> None:
    alice = await connect(live, token=live.token_for("alice"))
    bob = await connect(live, token=live.token_for("bob"))
    start = (await subscribe(alice))["seq"]
    await subscribe(bob)
    document = await create(live, kind, user="alice")
    url = kind.url(document["id"])
    await live.fetch(url, method="PUT", json_body=kind.replacement)
    await live.fetch(url, method="DELETE")
    events = [await frame(alice) for _ in range(3)]
    singular = kind.singular
    assert [e["event"] for e in events] == [f"{singular}.{c}" for c in CHANGES]
    assert [e[singular]["id"] for e in events] == [document["id"]] * 3
    assert subset(events[1][singular], kind.replaced) == kind.replaced
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    own = await create(live, kind, 7, user="bob")
    assert (await frame(bob))[singular]["id"] == own["id"], "bob saw nothing of alice's"
    alice.close()
    resumed = await connect(live, token=live.token_for("alice"))
    await resumed.write_message(json.dumps({"type": "subscribe", "resume_from": start}))
    assert [await frame(resumed) for _ in range(3)] == events, "a resume replays the same"
    resumed.close()
    bob.close()


async def test_export_imports_back_unchanged(
    live: LiveService, kind: Kind, mongo_server: SecantusServer
) -> None:
    for n in range(3):
        await create(live, kind, n, user="alice")
    export = f"/api/v1/export/{kind.name}"
    exported = await live.fetch(export, headers=bearer(live, "alice"))
    assert exported.code == 200
    assert exported.headers["Content-Type"].startswith("application/x-ndjson")
    assert f'filename="{kind.name}.ndjson"' in exported.headers["Content-Disposition"]
    lines = [json.loads(line) for line in exported.body.decode().splitlines()]
    assert [subset(line, kind.body(n)) for n, line in enumerate(lines)] == [
        kind.body(n) for n in range(3)
    ]
    ids = [line["id"] for line in lines]
    target = f"/api/v1/import/{kind.name}"
    async with live_service(mongo_server.uri, slices=(*SLICES, NOTES)) as fresh:
        imported = await fresh.fetch(target, method="POST", body=exported.body, headers=NDJSON)
        assert imported.code == 201, imported.body
        assert json.loads(imported.body)["ids"] == ids
        assert (await fresh.fetch(export)).body == exported.body
        conflict = await fresh.fetch(target, method="POST", body=exported.body, headers=NDJSON)
        assert {e["field"] for e in problem(conflict, 409)["errors"]} == set(ids)
        skipped = await fresh.fetch(
            f"{target}?on_conflict=skip", method="POST", body=exported.body, headers=NDJSON
        )
        assert json.loads(skipped.body) == {"created": 0, "ids": [], "skipped": ids}
        body = (json.dumps(kind.body(1)) + "\n" + json.dumps(kind.invalid) + "\n").encode()
        invalid = await fresh.fetch(target, method="POST", body=body, headers=NDJSON)
        fields = {e["field"] for e in problem(invalid, 422)["errors"]}
        assert fields == {f"line 2.{field}" for field in kind.invalid_fields}
        broken = await fresh.fetch(target, method="POST", body=body + b"{\n", headers=NDJSON)
        problem(broken, 400)
        foreign = json.dumps({**kind.body(1), "owner": "carol"}).encode()
        refused = await fresh.fetch(
            target, method="POST", body=foreign, headers={**NDJSON, **bearer(fresh, "bob")}
        )
        problem(refused, 403)


async def test_the_openapi_document_describes_notes_and_stays_valid(live: LiveService) -> None:
    spec = json.loads((await live.fetch("/openapi.json")).body)
    validate(spec)
    paths = spec["paths"]
    assert set(paths["/api/v1/notes"]) == {"get", "post"}
    assert set(paths["/api/v1/notes/{note_id}"]) == {"get", "put", "patch", "delete"}
    assert "/api/v1/export/notes" in paths
    assert "/api/v1/import/notes" in paths
    assert "/api/v1/items" in paths, "the shipped resource is still served"
    schemas = spec["components"]["schemas"]
    for model in (NoteWrite, NotePatch):
        generated = model.model_json_schema(ref_template="#/components/schemas/{model}")
        generated.pop("$defs", None)
        assert schemas[model.__name__] == generated
    listing = paths["/api/v1/notes"]["get"]
    assert "tag" not in {p["name"] for p in listing["parameters"]}, "notes have no tags"


async def test_schemathesis_finds_nothing_wrong_with_notes(
    live: LiveService, tmp_path: Path
) -> None:
    text = await schemathesis_output(
        live.base_url,
        config=Path(__file__).with_name("schemathesis_notes.toml"),
        report=tmp_path / "schemathesis",
        token=live.token,
        extra=("--include-path-regex", "notes"),
    )
    assert "notes" in text
