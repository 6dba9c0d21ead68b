"""Applying the rename to a tree of files, in place, and the record of what was done."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tools.adopt.names import TEMPLATE, Names, check
from tools.adopt.rename import Renamer, short_names
from tools.adopt.wrap import wrap

#: What ``make adopt`` writes and ``make template-update`` reads: the names and the base.
RECORD = ".template.json"
#: Never renamed: this tool (it must still know the template's names) and its record.
UNTOUCHED = ("tools/adopt/", RECORD)
#: The template's own tests of this tool: removed on adoption, ignored by updates.
TEMPLATE_ONLY = ("tests/template/",)


class Refused(Exception):
    """A precondition the adopter must fix first: one line, exit 2."""


@dataclass(frozen=True)
class Record:
    template: Names
    project: Names
    commit: str

    def dump(self) -> str:
        names = ("name", "group", "kind")
        return (
            json.dumps(
                {
                    "template": {key: getattr(self.template, key) for key in names},
                    "project": {key: getattr(self.project, key) for key in names},
                    "commit": self.commit,
                },
                indent=2,
            )
            + "\n"
        )

    @classmethod
    def load(cls, root: Path) -> Record:
        try:
            data = json.loads((root / RECORD).read_text())
            return cls(check(**data["template"]), check(**data["project"]), str(data["commit"]))
        except FileNotFoundError:
            raise Refused(f"no {RECORD} here: run `make adopt` first") from None
        except (ValueError, KeyError, TypeError) as error:
            raise Refused(f"{RECORD} is not a record `make adopt` wrote: {error}") from None


def git(
    root: Path, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> str:
    result = subprocess.run(
        ["git", *args], cwd=root, input=stdin, capture_output=True, env=env, check=False
    )
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise Refused(f"git {args[0]} failed: {message[-1] if message else result.returncode}")
    return result.stdout.decode()


def require_clean(root: Path) -> None:
    try:
        inside = git(root, "rev-parse", "--is-inside-work-tree").strip() == "true"
    except Refused:
        inside = False
    if not inside:
        raise Refused(f"{root} is not a git work tree: clone the template with git first")
    if git(root, "status", "--porcelain").strip():
        raise Refused("the work tree has uncommitted changes: commit or stash them first")


def _skipped(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p) for p in prefixes)


@dataclass(frozen=True)
class Renamed:
    changed: int
    moved: int
    #: (found, written) -> count over paths and contents: the token map the tree needed.
    tokens: Counter[tuple[str, str]]

    def table(self) -> str:
        rows = sorted(self.tokens.items(), key=lambda row: (-len(row[0][0]), row[0]))
        return "".join(f"{found!r:>32} -> {written!r:<36} {n:>5}\n" for (found, written), n in rows)


def rename_tree(
    root: Path, files: list[str], old: Names, new: Names, *, write: bool = True
) -> Renamed:
    """Rename ``files`` (paths relative to ``root``) in place, unless ``write`` is false.

    Everything is computed before anything is written, so a file that cannot be read
    leaves the tree as it was.
    """
    crd = next(
        (
            short
            for path in files
            if path.endswith(".yaml") and "/crds/" in path
            if (short := short_names((root / path).read_text(errors="replace"), old, new))
        ),
        None,
    )
    renamer = Renamer(old, new, crd)
    limit = _line_length(root)
    packages = frozenset(f.removesuffix("/__init__.py") for f in files if f.endswith("__init__.py"))
    writes: dict[str, tuple[bytes, int]] = {}
    removes: list[str] = []
    for path in files:
        if _skipped(path, TEMPLATE_ONLY):
            removes.append(path)
            continue
        if _skipped(path, UNTOUCHED) or (root / path).is_symlink():
            continue
        raw = (root / path).read_bytes()
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            body = raw
        else:
            python = path.endswith(".py")
            renamed = renamer.text(text, python=python)
            body = (wrap(renamed, limit, text) if python else renamed).encode()
        target = renamer.path(path, packages)
        if target != path:
            removes.append(path)
        if target != path or body != raw:
            writes[target] = (body, (root / path).stat().st_mode)
    moved = sum(1 for p in removes if not _skipped(p, TEMPLATE_ONLY))
    if not write:
        return Renamed(len(writes), moved, renamer.seen)
    for path in removes:
        (root / path).unlink()
        for parent in Path(path).parents:
            directory = root / parent
            if parent == Path(".") or any(directory.iterdir()):
                break
            directory.rmdir()
    for path, (body, mode) in writes.items():
        written = root / path
        written.parent.mkdir(parents=True, exist_ok=True)
        written.write_bytes(body)
        written.chmod(mode)
    return Renamed(len(writes), moved, renamer.seen)


def _line_length(root: Path) -> int:
    try:
        config = tomllib.loads((root / "pyproject.toml").read_text())
    except (FileNotFoundError, tomllib.TOMLDecodeError):
        return 88
    length = config.get("tool", {}).get("ruff", {}).get("line-length", 88)
    return length if isinstance(length, int) else 88


def tidy(root: Path) -> None:
    """Sort the renamed imports and reformat, with the project's own ruff and settings.

    Renamed first-party packages sort differently among the others, and longer names push
    code past the line length; ``ruff`` (a dev dependency) puts both right.
    """
    for command in (
        ("check", "--select", "I", "--fix", "--exit-zero", "--quiet", "--no-cache"),
        ("format", "--quiet", "--no-cache"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "."],
            cwd=root,
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            lines = done.stderr.decode(errors="replace").strip().splitlines()
            raise Refused(f"ruff {command[0]} failed: {lines[-1] if lines else done.returncode}")


def adopt(root: Path, new: Names, *, dry_run: bool = False) -> str:
    """Rename the clean template clone at ``root`` into ``new``'s project; a summary line.

    ``dry_run`` writes nothing and answers the token map instead: every spelling of the
    template's names found in the tree, what it becomes and how often.
    """
    require_clean(root)
    if (root / RECORD).exists():
        record = Record.load(root)
        raise Refused(
            f"already adopted as {record.project.name} from template commit {record.commit[:12]}:"
            " use `make template-update` to take a newer template"
        )
    commit = git(root, "rev-parse", "HEAD").strip()
    files = [p for p in git(root, "ls-files", "-z").split("\0") if p and (root / p).is_file()]
    renamed = rename_tree(root, files, TEMPLATE, new, write=not dry_run)
    if dry_run:
        return renamed.table().rstrip("\n")
    tidy(root)
    (root / RECORD).write_text(Record(TEMPLATE, new, commit).dump())
    return (
        f"adopted as {new.name} ({new.plural}.{new.group}, kind {new.kind}) from template "
        f"commit {commit[:12]}: {renamed.changed} files rewritten, {renamed.moved} moved;"
        " review and commit"
    )
