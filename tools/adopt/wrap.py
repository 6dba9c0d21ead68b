"""Rewrap the Python lines a longer name pushed past the line length.

``ruff format`` rewraps code but never prose: comments, docstrings and string literals that
grew with the rename are broken here at a space, as a person would, the overflow flowing
into the next line of the same paragraph. Lines that were too long before are left alone.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass

#: Where a list item's text starts (``- ``, ``1. ``, ``- ``name``   text``): its hanging indent.
_ITEM = re.compile(r"\s*(?:[-*] |\d+\. )(?:\S+ {2,})?")
_OPENING = re.compile(r"[rRbBuUfF]*(?:\"\"\"|''')")
_DOCSTRING_OPENERS = (
    tokenize.NEWLINE,
    tokenize.NL,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENCODING,
)


@dataclass(frozen=True)
class _Prose:
    """A line of a comment block or a docstring: ``block`` tells paragraphs apart."""

    block: int
    prefix: str


def _prose_lines(source: str, tokens: list[tokenize.TokenInfo]) -> dict[int, _Prose]:
    """Line index -> its prose block, for standalone comments and docstrings."""
    lines = source.splitlines()
    prose: dict[int, _Prose] = {}
    for i, token in enumerate(tokens):
        (row, col), end_row = token.start, token.end[0]
        if token.type == tokenize.COMMENT and not lines[row - 1][:col].strip():
            marker = "#:" if token.string.startswith("#:") else "#"
            previous = prose.get(row - 2)
            prefix = " " * col + marker + " "
            block = previous.block if previous and previous.prefix == prefix else i
            prose[row - 1] = _Prose(block, prefix)
        elif (
            token.type == tokenize.STRING
            and token.string.endswith(('"""', "'''"))
            and (tokens[i - 1].type if i else tokenize.NEWLINE) in _DOCSTRING_OPENERS
            and (tokens[i + 1].type if i + 1 < len(tokens) else tokenize.NEWLINE)
            == tokenize.NEWLINE
        ):
            for number in range(row - 1, end_row):
                line = lines[number]
                indent = col if number == row - 1 else len(line) - len(line.lstrip())
                prose[number] = _Prose(i, " " * indent)
    return prose


def _reflow(lines: list[str], prose: dict[int, _Prose], limit: int, old: set[str]) -> list[str]:
    out = list(lines)
    kinds = [prose.get(n) for n in range(len(lines))]
    n = 0
    while n < len(out):
        line, kind = out[n], kinds[n]
        if kind is None or len(line) <= limit or line in old:
            n += 1
            continue
        opening = _OPENING.match(line, len(kind.prefix))
        start = opening.end() if opening else len(kind.prefix)
        cut = line.rfind(" ", start + 1, limit + 1)
        if cut == -1:
            n += 1
            continue
        head, rest = line[:cut].rstrip(), line[cut + 1 :]
        item = _ITEM.match(line[start:])
        prefix = kind.prefix + (" " * item.end() if item else "")
        following, next_kind = (out[n + 1], kinds[n + 1]) if n + 1 < len(out) else ("", None)
        text = following[len(prefix) :]
        if (
            next_kind is not None
            and next_kind.block == kind.block
            and following.startswith(prefix)
            and text[:1] not in ("", " ")
            and not text.startswith(('"""', "'''"))
            and not _ITEM.match(text)
            and not rest.endswith(('"""', "'''"))
        ):
            out[n : n + 2] = [head, f"{prefix}{rest} {text}"]
        else:
            out[n : n + 1] = [head, prefix + rest]
            kinds.insert(n + 1, kind if kind.prefix.strip() else _Prose(kind.block, prefix))
        n += 1
    return out


def _split_string(text: str, column: int, limit: int, tail: int) -> str:
    """A one-line string literal inside brackets as implicitly concatenated pieces."""
    prefix = text[: len(text) - len(text.lstrip("rRbBfFuU"))]
    quote, body = text[len(prefix)], text[len(prefix) + 1 : -1]
    fstring = "f" in prefix.lower()
    pieces, room = [], limit - column - len(prefix) - 2
    while len(body) > room - tail:
        depth, cut = 0, -1
        for index, char in enumerate(body[:room]):
            if fstring and char in "{}":
                depth += 1 if char == "{" else -1
            elif char == " " and depth == 0 and index > 0:
                cut = index
        if cut == -1:
            break
        pieces.append(body[: cut + 1])
        body = body[cut + 1 :]
    pieces.append(body)
    plain = prefix.replace("f", "").replace("F", "")
    return ("\n" + " " * column).join(
        f"{prefix if '{' in piece else plain}{quote}{piece}{quote}" for piece in pieces
    )


def _split_strings(source: str, limit: int, old: set[str]) -> str:
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    edits: list[tuple[int, int, str]] = []
    depth = 0
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.OP and token.string in "([{":
            depth += 1
        elif token.type == tokenize.OP and token.string in ")]}":
            depth -= 1
        (row, col), (end_row, end_col) = token.start, token.end
        if token.type != tokenize.STRING or depth == 0 or row != end_row:
            continue
        line = lines[row - 1].rstrip("\n")
        if len(line) > limit and line not in old:
            text = _split_string(token.string, col, limit, len(line) - end_col)
            edits.append((offsets[row - 1] + col, offsets[row - 1] + end_col, text))
    for start, end, text in reversed(edits):
        source = source[:start] + text + source[end:]
    return source


def wrap(source: str, limit: int, before: str) -> str:
    """``source`` with lines over ``limit`` rewrapped, but for those ``before`` had too."""
    old = {line for line in before.splitlines() if len(line) > limit}
    lines = source.splitlines()
    if all(len(line) <= limit or line in old for line in lines):
        return source
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
        reflowed = "\n".join(_reflow(lines, _prose_lines(source, tokens), limit, old))
        return _split_strings(reflowed + ("\n" if source.endswith("\n") else ""), limit, old)
    except (tokenize.TokenError, SyntaxError):
        return source
