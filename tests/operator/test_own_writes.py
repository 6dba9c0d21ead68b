"""Read-your-own-writes: a pass sees what the previous one wrote, never hides others' changes."""

from __future__ import annotations

from typing import Any

import pytest
from gale_operator.core import kinds
from gale_operator.kube import own_writes
from gale_operator.kube.apply import Action, Applied
from gale_operator.kube.own_writes import OwnWrites

KEY = ("ns", "app")
DEP = kinds.DEPLOYMENT


def obj(version: str, image: str = "a") -> dict[str, Any]:
    return {"metadata": {"resourceVersion": version}, "spec": {"image": image}}


def patched(before: dict[str, Any], after: dict[str, Any]) -> Applied:
    return Applied(DEP, "app", Action.PATCHED, after, patch={"x": 1}, before=before)


@pytest.mark.parametrize(
    ("index_shows", "seen"),
    [
        (obj("1"), obj("2", "b")),  # the watch has not delivered our write yet
        (obj("2", "b"), obj("2", "b")),  # it has
        (obj("3", "c"), obj("3", "c")),  # someone changed it after us: theirs wins
        (None, None),  # someone deleted it
    ],
    ids=["lagging", "caught-up", "changed-since", "deleted-since"],
)
def test_a_patch(index_shows: dict[str, Any] | None, seen: dict[str, Any] | None) -> None:
    ledger = OwnWrites()
    ledger.record(KEY, [patched(obj("1"), obj("2", "b"))])
    assert ledger.overlay(KEY, {DEP: index_shows})[DEP] == seen


def test_the_overlay_ends_once_the_index_moved_on() -> None:
    ledger = OwnWrites()
    ledger.record(KEY, [patched(obj("1"), obj("2", "b"))])
    ledger.overlay(KEY, {DEP: obj("2", "b")})
    assert ledger.overlay(KEY, {DEP: obj("1")})[DEP] == obj("1")  # no stale record revived


def test_creations_and_deletions() -> None:
    ledger = OwnWrites()
    created = Applied(kinds.PDB, "app", Action.CREATED, obj("5"))
    deleted = Applied(kinds.HPA, "app", Action.DELETED, None, before=obj("4"))
    ledger.record(KEY, [created, deleted])
    view = ledger.overlay(KEY, {kinds.PDB: None, kinds.HPA: obj("4")})
    assert view == {kinds.PDB: obj("5"), kinds.HPA: None}


def test_unchanged_children_and_other_objects_are_untouched() -> None:
    ledger = OwnWrites()
    ledger.record(KEY, [Applied(DEP, "app", Action.UNCHANGED, obj("1"))])
    ledger.record(("ns", "other"), [patched(obj("1"), obj("2", "b"))])
    assert ledger.overlay(KEY, {DEP: obj("1")})[DEP] == obj("1")


def test_records_expire_and_can_be_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = OwnWrites()
    ledger.record(KEY, [patched(obj("1"), obj("2", "b"))])
    ledger.forget(KEY)
    assert ledger.overlay(KEY, {DEP: obj("1")})[DEP] == obj("1")
    ledger.record(KEY, [patched(obj("1"), obj("2", "b"))])
    monkeypatch.setattr(own_writes, "TTL_SECONDS", 0.0)
    assert ledger.overlay(KEY, {DEP: obj("1")})[DEP] == obj("1")
