"""The README's configuration table lists every setting, with the default the code has."""

from __future__ import annotations

import re
from pathlib import Path

from gale_service.settings import Settings

README = Path(__file__).parents[2] / "README.md"


def table_rows() -> dict[str, str]:
    rows = {}
    for line in README.read_text().splitlines():
        match = re.match(r"^\| `(GALE_[A-Z0-9_]+)`[^|]*\| ([^|]+) \|", line)
        if match:
            rows[match.group(1)] = match.group(2).strip()
    return rows


def test_every_setting_is_documented() -> None:
    rows = table_rows()
    missing = [
        f"GALE_{name.upper()}"
        for name in Settings.model_fields
        if f"GALE_{name.upper()}" not in rows
    ]
    assert missing == [], "add these to the README's configuration table"
    unknown = sorted(set(rows) - {f"GALE_{name.upper()}" for name in Settings.model_fields})
    assert unknown == [], "the README documents settings that do not exist"


def test_documented_defaults_match_simple_ones() -> None:
    rows = table_rows()
    for name, field in Settings.model_fields.items():
        default = field.default
        if isinstance(default, bool):
            expected = str(default).lower()
        elif isinstance(default, int | float | str) and not isinstance(default, bool):
            expected = f"{default:g}" if isinstance(default, float) else str(default)
        else:
            continue
        if hasattr(default, "value"):
            expected = str(default.value)
        documented = rows[f"GALE_{name.upper()}"].strip("`")
        assert documented.startswith(expected), (name, documented, expected)
