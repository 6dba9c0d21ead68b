"""Rewrap the Python lines a longer name pushed past the line length.

``ruff format`` rewraps code but never prose: comments, docstrings and string literals that
grew with the rename are broken here at a space, as a person would, so the project's own
lint (E501) holds for any name. Lines that were already too long are left alone.
"""

from __future__ import annotations

import io
import tokenize


def _break_at(text: str, width: int, *, fstring: bool = False) -> int | None:
    """The index of the last space in ``text[:width]`` (outside f-string fields), if any."""
    depth = 0
    best = None
    for index, char in enumerate(text[:width]):
        if fstring and char in "{}":
            depth += 1 if char == "{" else -1
        elif char == " " and depth == 0 and index > 0:
            best = index
    return best


def _wrap_comment(comment: str, column: int, limit: int) -> str:
    marker = "#:" if comment.startswith("#:") else "#"
    words = comment[len(marker) :].split()
    lines, line = [], marker
    for word in words:
        if len(line) + 1 + len(word) > limit - column and line != marker:
            lines.append(line)
            line = marker
        line += " " + word
    lines.append(line)
    return ("\n" + " " * column).join(lines)


def _wrap_docstring(text: str, column: int, limit: int) -> str:
    out: list[str] = []
    for number, line in enumerate(text.split("\n")):
        start = column if number == 0 else 0
        indent = " " * (column if number == 0 else len(line) - len(line.lstrip()))
        while start + len(line) > limit:
            cut = _break_at(line, limit - start)
            if cut is None or not line[:cut].strip():
                break
            out.append(line[:cut])
            line = indent + line[cut + 1 :]
            start = 0
        out.append(line)
    return "\n".join(out)


def _wrap_string(text: str, column: int, limit: int, tail: int) -> str:
    prefix = text[: len(text) - len(text.lstrip("rRbBfFuU"))]
    quote = text[len(prefix)]
    body = text[len(prefix) + 1 : -1]
    fstring = "f" in prefix.lower()
    pieces = []
    room = limit - column - len(prefix) - 2
    while len(body) > room - tail:
        cut = _break_at(body, room, fstring=fstring)
        if cut is None:
            break
        pieces.append(body[: cut + 1])
        body = body[cut + 1 :]
    pieces.append(body)
    plain = prefix.replace("f", "").replace("F", "")
    return ("\n" + " " * column).join(
        f"{prefix if '{' in piece else plain}{quote}{piece}{quote}" for piece in pieces
    )


def wrap(source: str, limit: int, before: str) -> str:
    """``source`` with lines over ``limit`` rewrapped where ``before`` had none that long."""
    old_long = {line for line in before.splitlines() if len(line) > limit}
    lines = source.splitlines(keepends=True)
    if not any(len(line.rstrip("\n")) > limit for line in lines):
        return source
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return source
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    edits: list[tuple[int, int, str]] = []
    depth = 0
    for i, token in enumerate(tokens):
        if token.type == tokenize.OP and token.string in "([{":
            depth += 1
        elif token.type == tokenize.OP and token.string in ")]}":
            depth -= 1
        (row, col), (end_row, end_col) = token.start, token.end
        physical = lines[row - 1 : end_row]
        if not any(
            len(p.rstrip("\n")) > limit and p.rstrip("\n") not in old_long for p in physical
        ):
            continue
        start, end = offsets[row - 1] + col, offsets[end_row - 1] + end_col
        previous = tokens[i - 1].type if i else tokenize.NEWLINE
        following = tokens[i + 1].type if i + 1 < len(tokens) else tokenize.NEWLINE
        if token.type == tokenize.COMMENT and not lines[row - 1][:col].strip():
            edits.append((start, end, _wrap_comment(token.string, col, limit)))
        elif token.type != tokenize.STRING:
            continue
        elif (
            token.string.endswith(('"""', "'''"))
            and following == tokenize.NEWLINE
            and previous
            in (
                tokenize.NEWLINE,
                tokenize.NL,
                tokenize.INDENT,
                tokenize.DEDENT,
                tokenize.ENCODING,
            )
        ):
            edits.append((start, end, _wrap_docstring(token.string, col, limit)))
        elif depth > 0 and row == end_row and not token.string.endswith(('"""', "'''")):
            tail = len(lines[row - 1].rstrip("\n")) - end_col
            edits.append((start, end, _wrap_string(token.string, col, limit, tail)))
    for start, end, text in reversed(edits):
        source = source[:start] + text + source[end:]
    return source
