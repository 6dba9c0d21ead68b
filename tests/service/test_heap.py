"""Once serving, start-up's objects are frozen and young collections wait for more growth."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from gale_service import heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


class Node:
    def __init__(self) -> None:
        self.itself = self


@pytest.mark.usefixtures("restored_gc")
def test_settle_freezes_what_exists_and_raises_only_the_young_threshold() -> None:
    _, middle, old = gc.get_threshold()
    unfrozen = gc.get_freeze_count()
    heap.settle(12_345)
    assert gc.get_threshold() == (12_345, middle, old)
    assert gc.get_freeze_count() > unfrozen


@pytest.mark.usefixtures("restored_gc")
def test_cycles_made_after_settling_are_still_collected() -> None:
    heap.settle(12_345)
    garbage = Node()
    gone = weakref.ref(garbage)
    del garbage
    assert gone() is not None, "a cycle outlives its last name until a collection"
    gc.collect()
    assert gone() is None
