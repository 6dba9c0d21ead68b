"""Proof that a resource is one declaration: "notes" are declared entirely in this module (their
own fields and rules) and registered in one line (``slices=(*SLICES, NOTES)`` in the
fixture), and the whole contract holds for them with no change to shipped code: CRUD with
validation, ETag / 304 / 412, keyset paging while others write, ownership, events in the live
feed, export and import, a valid OpenAPI document that schemathesis finds nothing wrong with.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import pytest
from gale_service.app import SLICES
from gale_service.models import Restorable
from gale_service.resource import Resource
from gale_service.resources import Slice
from openapi_spec_validator import validate
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema

from tests.mongo import SecantusServer
from tests.service.clients import connect, frame, subscribe
from tests.service.harness import LiveService, live_service


def _json_integer(value: Any) -> Any:
    """JSON has one number type: ``1.0`` is the integer 1 (as JSON Schema says), but ``"1"``
    and ``true`` are not numbers at all."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


#: A title must say something: not only blanks (``pattern`` searches, in JSON Schema too).
Title = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=r"\S")]
Priority = Annotated[int, Field(ge=1, le=5), Strict(), BeforeValidator(_json_integer)]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class NoteWrite(BaseModel):
    """A note's writable fields."""

    model_config = ConfigDict(extra="forbid", title="NoteWrite")

    title: Title
    body: Annotated[str, StringConstraints(max_length=2000)] = ""
    priority: Priority = 3


class NotePatch(BaseModel):
    model_config = ConfigDict(extra="forbid", title="NotePatch")

    title: Title | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_no_default)
    body: Annotated[str, StringConstraints(max_length=2000)] | None = None
    priority: Priority | None = None

    @field_validator("title")
    @classmethod
    def _title_not_null(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("must not be null: a note always has a title")
        return value


class Note(BaseModel):
    model_config = ConfigDict(title="Note")

    id: str
    title: str
    body: str
    priority: int
    owner: str
    created_at: datetime
    updated_at: datetime
    version: int = Field(ge=1)


class NotePage(BaseModel):
    model_config = ConfigDict(title="NotePage")

    notes: list[Note]
    next_cursor: str | None


class NoteImport(Restorable, NoteWrite):
    model_config = ConfigDict(extra="forbid", title="NoteImport")


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


@pytest.fixture
async def live(mongo_server: SecantusServer) -> AsyncIterator[LiveService]:
    async with live_service(mongo_server.uri, slices=(*SLICES, NOTES)) as service:
        yield service


def bearer(live: LiveService, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {live.token_for(user)}"}


async def create(live: LiveService, user: str = "alice", **fields: Any) -> dict[str, Any]:
    response = await live.fetch(
        "/api/v1/notes", method="POST", json_body=fields, headers=bearer(live, user)
    )
    assert response.code == 201, response.body
    note: dict[str, Any] = json.loads(response.body)
    return note


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.code == status, response.body
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body: dict[str, Any] = json.loads(response.body)
    assert body["status"] == status
    return body


async def test_crud_with_the_notes_own_validation(live: LiveService) -> None:
    created = await live.fetch(
        "/api/v1/notes", method="POST", json_body={"title": "shopping", "priority": 1}
    )
    assert created.code == 201
    note = json.loads(created.body)
    assert {k: note[k] for k in ("title", "body", "priority", "version")} == {
        "title": "shopping",
        "body": "",
        "priority": 1,
        "version": 1,
    }
    assert created.headers["Location"] == f"/api/v1/notes/{note['id']}"
    url = created.headers["Location"]
    assert json.loads((await live.fetch(url)).body) == note

    bad = await live.fetch(
        "/api/v1/notes",
        method="POST",
        json_body={"title": "   ", "priority": "2", "colour": "red"},
    )
    fields = {error["field"] for error in problem(bad, 422)["errors"]}
    assert fields == {"title", "priority", "colour"}
    problem(await live.fetch("/api/v1/notes", method="POST", body="{", headers={}), 415)
    broken = await live.fetch(
        "/api/v1/notes", method="POST", body="{", headers={"Content-Type": "application/json"}
    )
    problem(broken, 400)

    replaced = await live.fetch(url, method="PUT", json_body={"title": "groceries", "body": "x"})
    assert json.loads(replaced.body)["priority"] == 3, "PUT resets what it leaves out"
    patched = await live.fetch(
        url, method="PATCH", body=json.dumps({"body": None, "priority": 5}), headers=MERGE_PATCH
    )
    assert patched.code == 200
    assert {k: json.loads(patched.body)[k] for k in ("title", "body", "priority")} == {
        "title": "groceries",
        "body": "",
        "priority": 5,
    }
    invalid_patch = await live.fetch(
        url, method="PATCH", body=json.dumps({"priority": 9}), headers=MERGE_PATCH
    )
    problem(invalid_patch, 422)
    null_title = await live.fetch(
        url, method="PATCH", body=json.dumps({"title": None}), headers=MERGE_PATCH
    )
    problem(null_title, 422)
    assert (await live.fetch(url, method="DELETE")).code == 204
    gone = problem(await live.fetch(url), 404)
    assert gone["type"].endswith("/note-not-found")
    problem(await live.fetch("/api/v1/notes/not-an-id"), 404)


async def test_etags_answer_304_and_stale_writes_412(live: LiveService) -> None:
    note = await create(live, title="etag")
    url = f"/api/v1/notes/{note['id']}"
    first = await live.fetch(url, headers=bearer(live, "alice"))
    assert first.headers["ETag"] == '"1"'
    again = await live.fetch(url, headers={**bearer(live, "alice"), "If-None-Match": '"1"'})
    assert again.code == 304
    assert again.body == b""
    updated = await live.fetch(
        url,
        method="PUT",
        json_body={"title": "etag 2"},
        headers={**bearer(live, "alice"), "If-Match": '"1"'},
    )
    assert updated.code == 200
    assert updated.headers["ETag"] == '"2"'
    stale = await live.fetch(
        url,
        method="PUT",
        json_body={"title": "lost update"},
        headers={**bearer(live, "alice"), "If-Match": '"1"'},
    )
    problem(stale, 412)
    malformed = await live.fetch(
        url, method="DELETE", headers={**bearer(live, "alice"), "If-Match": "1"}
    )
    problem(malformed, 400)
    problem(
        await live.fetch(
            url, method="DELETE", headers={**bearer(live, "alice"), "If-Match": '"1"'}
        ),
        412,
    )
    assert json.loads((await live.fetch(url, headers=bearer(live, "alice"))).body)["title"] == (
        "etag 2"
    )


async def test_keyset_paging_sees_each_note_once_while_others_write(live: LiveService) -> None:
    existing = [(await create(live, title=f"n{n}"))["id"] for n in range(9)]
    deleted = existing[5]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = json.loads(
            (await live.fetch(f"/api/v1/notes?{query}", headers=bearer(live, "alice"))).body
        )
        seen += [note["id"] for note in page["notes"]]
        pages += 1
        # Meanwhile others write: new notes at the end, one deleted ahead of the reader.
        await create(live, title=f"during {pages}")
        if pages == 1:
            await live.fetch(f"/api/v1/notes/{deleted}", method="DELETE")
        cursor = page["next_cursor"]
        if cursor is None:
            break
    survivors = [note_id for note_id in existing if note_id != deleted]
    assert [note_id for note_id in seen if note_id in existing] == survivors
    assert len(seen) == len(set(seen)), "no note twice"
    problem(await live.fetch("/api/v1/notes?cursor=bogus"), 400)
    problem(await live.fetch("/api/v1/notes?limit=0"), 400)


async def test_another_user_can_neither_see_nor_change_a_note(live: LiveService) -> None:
    note = await create(live, "alice", title="private")
    url = f"/api/v1/notes/{note['id']}"
    bob = bearer(live, "bob")
    problem(await live.fetch(url, headers=bob), 404)
    problem(await live.fetch(url, method="PUT", json_body={"title": "mine"}, headers=bob), 404)
    patch = await live.fetch(url, method="PATCH", body="{}", headers={**bob, **MERGE_PATCH})
    problem(patch, 404)
    problem(await live.fetch(url, method="DELETE", headers=bob), 404)
    listing = json.loads((await live.fetch("/api/v1/notes", headers=bob)).body)
    assert listing["notes"] == []
    unchanged = json.loads((await live.fetch(url, headers=bearer(live, "alice"))).body)
    assert unchanged == note
    problem(await live.fetch("/api/v1/notes", auth=False), 401)
    admin_view = await live.fetch(url)
    assert admin_view.code == 200, "an admin sees every owner's notes"


async def test_every_write_is_an_event_in_the_live_feed(live: LiveService) -> None:
    alice = await connect(live, token=live.token_for("alice"))
    bob = await connect(live, token=live.token_for("bob"))
    start = (await subscribe(alice))["seq"]
    await subscribe(bob)
    note = await create(live, "alice", title="live")
    url = f"/api/v1/notes/{note['id']}"
    await live.fetch(url, method="PUT", json_body={"title": "live 2"})
    await live.fetch(url, method="DELETE")
    events = [await frame(alice) for _ in range(3)]
    assert [e["event"] for e in events] == ["note.created", "note.updated", "note.deleted"]
    assert [e["note"]["id"] for e in events] == [note["id"]] * 3
    assert events[1]["note"]["title"] == "live 2"
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    await create(live, "bob", title="bob's own")
    assert (await frame(bob))["note"]["title"] == "bob's own", "bob saw nothing of alice's"
    alice.close()
    resumed = await connect(live, token=live.token_for("alice"))
    await resumed.write_message(json.dumps({"type": "subscribe", "resume_from": start}))
    replayed = [await frame(resumed) for _ in range(3)]
    assert replayed == events
    resumed.close()
    bob.close()


async def test_export_imports_back_unchanged(
    live: LiveService, mongo_server: SecantusServer
) -> None:
    for n in range(3):
        await create(live, "alice", title=f"export {n}", body="b", priority=n + 1)
    exported = await live.fetch("/api/v1/export/notes", headers=bearer(live, "alice"))
    assert exported.code == 200
    assert exported.headers["Content-Type"].startswith("application/x-ndjson")
    assert 'filename="notes.ndjson"' in exported.headers["Content-Disposition"]
    lines = [json.loads(line) for line in exported.body.decode().splitlines()]
    assert [line["title"] for line in lines] == ["export 0", "export 1", "export 2"]

    async with live_service(mongo_server.uri, slices=(*SLICES, NOTES)) as fresh:
        imported = await fresh.fetch(
            "/api/v1/import/notes", method="POST", body=exported.body, headers=NDJSON
        )
        assert imported.code == 201, imported.body
        assert json.loads(imported.body)["ids"] == [line["id"] for line in lines]
        again = await fresh.fetch("/api/v1/export/notes")
        assert again.body == exported.body
        conflict = await fresh.fetch(
            "/api/v1/import/notes", method="POST", body=exported.body, headers=NDJSON
        )
        assert {e["field"] for e in problem(conflict, 409)["errors"]} == {
            line["id"] for line in lines
        }
        skipped = await fresh.fetch(
            "/api/v1/import/notes?on_conflict=skip",
            method="POST",
            body=exported.body,
            headers=NDJSON,
        )
        assert json.loads(skipped.body) == {
            "created": 0,
            "ids": [],
            "skipped": [line["id"] for line in lines],
        }
        invalid = await fresh.fetch(
            "/api/v1/import/notes",
            method="POST",
            body=b'{"title": "ok"}\n{"title": "", "priority": 7}\nnot json\n',
            headers=NDJSON,
        )
        problem(invalid, 400)
        rules = await fresh.fetch(
            "/api/v1/import/notes",
            method="POST",
            body=b'{"title": "ok"}\n{"title": " ", "priority": 7}\n',
            headers=NDJSON,
        )
        assert {e["field"] for e in problem(rules, 422)["errors"]} == {
            "line 2.title",
            "line 2.priority",
        }
        foreign = await fresh.fetch(
            "/api/v1/import/notes",
            method="POST",
            body=b'{"title": "x", "owner": "carol"}\n',
            headers={**NDJSON, **bearer(fresh, "bob")},
        )
        problem(foreign, 403)


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
    here = Path(__file__)
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(here.with_name("schemathesis.toml")),
        "run",
        f"{live.base_url}/openapi.json",
        "--include-path-regex",
        "notes",
        "--checks",
        "all",
        "--max-examples",
        "12",
        "--seed",
        "20260101",
        "--workers",
        "2",
        "--request-timeout",
        "10",
        "--report-dir",
        str(tmp_path / "schemathesis"),
        "--no-color",
        "--header",
        f"Authorization: Bearer {live.token}",
    ]
    process = await asyncio.create_subprocess_exec(
        *command,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.service.fuzz_hooks"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=here.parents[3],
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=150)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text
    assert "notes" in text
