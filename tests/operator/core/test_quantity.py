"""Quantities as the API server reads them."""

from __future__ import annotations

import decimal

import pytest
from gale_operator.core.quantity import parse_quantity, same_quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", "0.5"),
        ("2", "2"),
        ("1Ki", "1024"),
        ("1.5Gi", str(1.5 * 1024**3)),
        ("3e2", "300"),
        (".5", "0.5"),
        ("128974848", "128974848"),
        (7, "7"),
    ],
)
def test_parse(text: str | int, value: str) -> None:
    assert parse_quantity(text) == decimal.Decimal(value)


@pytest.mark.parametrize("text", ["", "abc", "1.2.3", "5 Mi", "1Q", True, None, [1]])
def test_not_quantities(text: object) -> None:
    assert parse_quantity(text) is None
    assert not same_quantity(text, text)
