"""The `## @param key description` lines of values.yaml, and the README table made from them.

The format is Bitnami's readme-generator's, so the usual tooling reads it too; this module
is the small part of it Gale needs, so the table can be checked without Node.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_PARAM = re.compile(r"^\s*## @param (\S+) (.+?)\s*$")
_SECTION = re.compile(r"^\s*## @section (.+?)\s*$")


@dataclass(frozen=True)
class Param:
    key: str
    description: str
    section: str


def params(values_text: str) -> list[Param]:
    found: list[Param] = []
    section = ""
    for line in values_text.splitlines():
        if match := _SECTION.match(line):
            section = match.group(1)
        elif match := _PARAM.match(line):
            found.append(Param(match.group(1), match.group(2), section))
    return found


def lookup(values: dict[str, Any], key: str) -> Any:
    """The value at a dotted key; KeyError when the key is not in the values."""
    node: Any = values
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(key)
        node = node[part]
    return node


def leaf_keys(values: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys of every value that is not a non-empty mapping."""
    keys: list[str] = []
    for name, value in values.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and value:
            keys += leaf_keys(value, f"{key}.")
        else:
            keys.append(key)
    return keys


def values_table(values_text: str, values: dict[str, Any]) -> str:
    """Markdown tables, one per section: key, description, default."""
    lines: list[str] = []
    section = None
    for param in params(values_text):
        if param.section != section:
            section = param.section
            lines += [
                "",
                f"### {section}",
                "",
                "| Key | Description | Default |",
                "| --- | --- | --- |",
            ]
        default = json.dumps(lookup(values, param.key), separators=(", ", ": "))
        description = param.description.replace("|", "\\|")
        lines.append(f"| `{param.key}` | {description} | `{default}` |")
    return "\n".join(lines).strip() + "\n"
