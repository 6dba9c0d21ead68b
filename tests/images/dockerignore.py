"""Docker's ``.dockerignore`` matching, to check what a build context really contains.

Semantics follow Docker's pattern matcher: patterns are cleaned paths relative to the
context, ``*``/``?`` stay within one path segment, ``**`` spans any number of them, a
pattern that matches a directory also excludes everything below it, and the last matching
pattern wins, so ``!path`` re-includes.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath


def _regex(pattern: str) -> re.Pattern[str]:
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
            continue
        if pattern.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        out.append({"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char)))
        index += 1
    return re.compile("".join(out))


class DockerIgnore:
    def __init__(self, text: str) -> None:
        self._rules: list[tuple[bool, re.Pattern[str]]] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            include = line.startswith("!")
            cleaned = str(PurePosixPath(line.lstrip("!").strip().lstrip("/")))
            self._rules.append((include, _regex(cleaned)))

    @classmethod
    def load(cls, path: Path) -> DockerIgnore:
        return cls(path.read_text() if path.exists() else "")

    def excludes(self, relative: str) -> bool:
        parts = PurePosixPath(relative).parts
        candidates = ["/".join(parts[: end + 1]) for end in range(len(parts))]
        excluded = False
        for include, regex in self._rules:
            if any(regex.fullmatch(candidate) for candidate in candidates):
                excluded = not include
        return excluded
