"""The rename as data: every spelling of the template's names and what it becomes.

One spelling can stand for several forms (``gale`` is the template's kebab, snake and flat
name at once), so each match is resolved by what surrounds it: next to ``_``, inside a
Python identifier or before a Prometheus rule name's ``:`` it is the snake form, run into
more lowercase letters the flat form, otherwise the kebab form (Kubernetes names, Helm,
images, URLs, prose). The same
function renames paths and contents, so a template diff can be replayed through it.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from tools.adopt.names import Names

#: Lines between these markers keep the template's names (the README's adoption section).
KEEP_BEGIN, KEEP_END = "adopt:keep", "/adopt:keep"
#: English uses of the kind's word that describe the project rather than name the kind.
KEEP_PHRASES = ("Python microservice", "Tornado microservice", "WebSocket microservice")
#: Lines where the CRD's short name is a resource name rather than, say, milliseconds.
_SHORT_NAME_LINE = re.compile(r"kubectl|shortNames|short\s+name|name `")

_Resolve = Callable[[re.Match[str], bool], str]


@dataclass(frozen=True)
class _Token:
    literal: str
    pattern: str
    resolve: _Resolve


def _flat_or(form: str, flat: str) -> _Resolve:
    def resolve(match: re.Match[str], identifier: bool) -> str:
        del identifier
        text, end = match.string, match.end()
        return flat if text[end : end + 1].isalnum() else form

    return resolve


class Renamer:
    """Renames text and paths from the template's names to the project's."""

    def __init__(self, old: Names, new: Names, short_names: tuple[str, str] | None) -> None:
        self.old, self.new = old, new
        self._short = short_names
        #: Every replacement made so far, (found, written) -> count: the token map as used.
        self.seen: Counter[tuple[str, str]] = Counter()
        tokens = sorted(self._tokens(), key=lambda t: -len(t.literal))
        self._resolvers: dict[str, _Resolve] = {}
        alternatives = []
        for number, token in enumerate(tokens):
            group = f"t{number}"
            self._resolvers[group] = token.resolve
            alternatives.append(f"(?P<{group}>{token.pattern})")
        self._regex = re.compile("|".join(alternatives))

    def _tokens(self) -> Iterator[_Token]:
        old, new = self.old, self.new

        def fixed(value: str) -> _Resolve:
            return lambda match, identifier: value

        def lower(match: re.Match[str], identifier: bool) -> str:
            text, start, end = match.string, match.start(), match.end()
            after = text[end : end + 2]
            if after[:1].isalnum():
                return new.flat
            if (
                identifier
                or text[start - 1 : start] == "_"
                or after[:1] == "_"
                or re.fullmatch(r":[^\d\s]", after)
            ):
                return new.snake
            return new.name

        def capital(match: re.Match[str], identifier: bool) -> str:
            text, end = match.string, match.end()
            if identifier or text[end : end + 1].isalnum():
                return new.camel
            if match.group(0).endswith("'s"):
                return new.display + ("'" if new.display.endswith("s") else "'s")
            return new.display

        yield _Token(
            old.group, rf"(?<![A-Za-z0-9-]){re.escape(old.group)}(?![A-Za-z0-9-])", fixed(new.group)
        )
        for old_form, new_form in (
            (old.kind_upper_plural, new.kind_upper_plural),
            (old.kind_upper, new.kind_upper),
        ):
            yield _Token(old_form, rf"(?<![A-Z]){re.escape(old_form)}", fixed(new_form))
        for old_form, new_form in ((old.kind_plural, new.kind_plural), (old.kind, new.kind)):
            yield _Token(old_form, re.escape(old_form), fixed(new_form))
        for old_form, new_form in ((old.plural, new.plural), (old.kind_lower, new.kind_lower)):
            yield _Token(old_form, rf"(?<![a-z]){re.escape(old_form)}", fixed(new_form))
        yield _Token(old.upper, rf"(?<![A-Za-z]){re.escape(old.upper)}(?![a-z])", fixed(new.upper))
        yield _Token(old.camel, rf"(?<![a-z]){re.escape(old.camel)}(?:'s)?", capital)
        if old.display != old.camel:
            yield _Token(old.display, rf"(?<![a-z]){re.escape(old.display)}", fixed(new.display))
        if old.name == old.snake == old.flat:
            yield _Token(old.name, rf"(?<![a-z]){re.escape(old.name)}", lower)
            return
        yield _Token(old.name, rf"(?<![a-z]){re.escape(old.name)}", _flat_or(new.name, new.flat))
        yield _Token(old.snake, rf"(?<![a-z]){re.escape(old.snake)}", _flat_or(new.snake, new.flat))
        if old.flat not in (old.name, old.snake):
            yield _Token(old.flat, rf"(?<![a-z]){re.escape(old.flat)}", fixed(new.flat))

    def text(self, text: str, *, python: bool = False) -> str:
        """``text`` renamed; ``python`` marks Python source, whose identifiers are snake."""
        kept = _kept_spans(text)
        identifiers = _identifier_spans(text, self.old.name) if python else []

        def replace(match: re.Match[str]) -> str:
            start = match.start()
            if any(a <= start < b for a, b in kept):
                return match.group(0)
            group = match.lastgroup
            assert group is not None
            written = self._resolvers[group](match, any(a <= start < b for a, b in identifiers))
            self.seen[match.group(0), written] += 1
            return written

        renamed = self._regex.sub(replace, text)
        return self._short_name(renamed) if self._short else renamed

    def _short_name(self, text: str) -> str:
        assert self._short is not None
        old, new = self._short
        word = re.compile(rf"(?<![\w.-]){re.escape(old)}(?![\w-])")
        renamed = []
        for line in text.splitlines(keepends=True):
            if _SHORT_NAME_LINE.search(line):
                line, count = word.subn(new, line)
                self.seen[old, new] += count
            renamed.append(line)
        return "".join(renamed)

    def path(self, path: str, packages: frozenset[str]) -> str:
        """A repository path renamed one part at a time (Python modules and packages snake)."""
        parts = path.split("/")
        renamed = []
        for depth, part in enumerate(parts):
            here = "/".join(parts[: depth + 1])
            python = part.endswith(".py") or here in packages
            renamed.append(self.text(part, python=python))
        return "/".join(renamed)


def _kept_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for phrase in KEEP_PHRASES:
        spans.extend((m.start(), m.end()) for m in re.finditer(re.escape(phrase), text))
    begin = 0
    while (start := text.find(KEEP_BEGIN, begin)) != -1:
        end = text.find(KEEP_END, start)
        end = len(text) if end == -1 else end
        spans.append((start, end))
        begin = end + len(KEEP_END)
    return spans


def _identifier_spans(source: str, bare: str) -> list[tuple[int, int]]:
    """Where in Python source the bare name is an identifier, as character offsets.

    Names, and string subscripts that spell one (``settings["gale"]`` mirrors the keyword
    argument ``gale=``), must become the snake form; other strings keep the kebab form.
    """
    offsets = [0]
    for line in source.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return []
    spans = []
    for i, token in enumerate(tokens):
        start = offsets[token.start[0] - 1] + token.start[1]
        end = offsets[token.end[0] - 1] + token.end[1]
        if token.type == tokenize.NAME or (
            token.type == tokenize.STRING
            and token.string.strip("\"'") == bare
            and 1 < i < len(tokens) - 1
            and tokens[i - 1].string == "["
            and tokens[i + 1].string == "]"
            and (tokens[i - 2].type == tokenize.NAME or tokens[i - 2].string in ")]")
        ):
            spans.append((start, end))
    return spans


def short_names(crd_text: str, old: Names, new: Names) -> tuple[str, str] | None:
    """The template CRD's short name and the project's, if the CRD declares one."""
    if f"group: {old.group}" not in crd_text:
        return None
    found = re.search(r"shortNames:\s*\[\s*([a-z0-9]+)", crd_text)
    return (found[1], new.short_name) if found else None
