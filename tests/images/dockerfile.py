"""A small Dockerfile reader for static checks, since no Docker engine runs here.

It understands what Gale's Dockerfiles use: parser directives and comments, line
continuations, global ``ARG`` defaults substituted into ``FROM``, stages, and exec-form
(JSON) commands. It is not a full BuildKit frontend and does not try to be one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    line: int

    def exec_form(self) -> list[str] | None:
        """The JSON-array form of a command (``["python", "-m", ...]``), or None for shell form."""
        text = self.arguments
        if self.keyword == "HEALTHCHECK":
            _, _, text = text.partition("CMD ")
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            return None
        return [str(part) for part in parsed] if isinstance(parsed, list) else None

    def flags(self) -> dict[str, str]:
        """Leading ``--name=value`` options, as on COPY, RUN and HEALTHCHECK."""
        return dict(re.findall(r"--([\w-]+)=(\S+)", self.arguments.split(" CMD ")[0]))

    def key_values(self) -> dict[str, str]:
        """``KEY=value`` pairs of an ENV, LABEL or ARG (quotes removed)."""
        pairs = re.findall(r'([\w.\-]+)=("(?:[^"\\]|\\.)*"|\S*)', self.arguments)
        return {key: value.strip('"') for key, value in pairs}


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [each for each in self.instructions if each.keyword == keyword]


@dataclass
class Dockerfile:
    path: Path
    global_args: dict[str, str]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage_names(self) -> set[str]:
        return {stage.name for stage in self.stages if stage.name}

    @property
    def text(self) -> str:
        return self.path.read_text()


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash continuations; drop comments, blank lines and parser directives."""
    lines: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        lines.append((start, " ".join(part for part in pending if part)))
        pending = []
    if pending:
        raise ValueError(f"dangling line continuation at line {start}")
    return lines


def substitute(text: str, variables: dict[str, str]) -> str:
    return _VARIABLE.sub(lambda m: variables.get(m.group(1) or m.group(2), m.group(0)), text)


def parse_dockerfile(path: Path) -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line, logical in _logical_lines(path.read_text()):
        keyword, _, arguments = logical.partition(" ")
        instruction = Instruction(keyword.upper(), arguments.strip(), line)
        if instruction.keyword == "FROM":
            parts = substitute(instruction.arguments, global_args).split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base=parts[0], name=name))
        elif not stages:
            if instruction.keyword != "ARG":
                raise ValueError(f"{path}:{line}: only ARG may come before the first FROM")
            key, _, default = instruction.arguments.partition("=")
            global_args[key] = default
        else:
            stages[-1].instructions.append(instruction)
    return Dockerfile(path=path, global_args=global_args, stages=stages)
