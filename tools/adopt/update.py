"""``make template-update``: replay a newer template's changes, renamed, onto the project.

Both template commits (the recorded base and the new one) are exported and renamed exactly
as ``make adopt`` renamed the base, written into the project's object store as trees, and
their difference applied with ``git apply --3way``: a hunk that no longer applies becomes
an ordinary merge conflict against the renamed base, left for the adopter to resolve.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import tempfile
from pathlib import Path

from tools.adopt.tree import RECORD, Record, Refused, git, rename_tree, require_clean, tidy


class Conflicts(Exception):
    """The update is applied but some files need the adopter's merge: exit 1."""


def _renamed_tree(root: Path, commit: str, work: Path, record: Record) -> str:
    """The id of ``commit``'s tree after the recorded rename, stored in ``root``'s objects."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit], cwd=root, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(work, filter="tar")
    files = sorted(
        path.relative_to(work).as_posix()
        for path in work.rglob("*")
        if path.is_file() and not path.is_symlink()
    )
    rename_tree(work, files, record.template, record.project)
    tidy(work)
    git_dir = git(root, "rev-parse", "--absolute-git-dir").strip()
    env = {**os.environ, "GIT_INDEX_FILE": str(work.with_suffix(".index"))}
    git(work, f"--git-dir={git_dir}", f"--work-tree={work}", "add", "-A", "-f", ".", env=env)
    return git(work, f"--git-dir={git_dir}", "write-tree", env=env).strip()


def update(root: Path, source: str, ref: str) -> str:
    """Take template ``ref`` from ``source`` (a path or git URL) into the project at ``root``."""
    require_clean(root)
    record = Record.load(root)
    git(root, "fetch", "--quiet", "--no-tags", source, ref)
    target = git(root, "rev-parse", "FETCH_HEAD^{commit}").strip()
    try:
        git(root, "merge-base", "--is-ancestor", record.commit, target)
    except Refused:
        raise Refused(
            f"recorded template commit {record.commit[:12]} is not in the history of {ref} "
            f"from {source}"
        ) from None
    if target == record.commit:
        return f"already at template commit {target[:12]}"
    with tempfile.TemporaryDirectory() as tmp:
        old, new = (
            _renamed_tree(root, commit, Path(tmp) / name, record)
            for name, commit in (("base", record.commit), ("next", target))
        )
        patch = subprocess.run(
            ["git", "diff", "--binary", "--full-index", old, new],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout
    applied = subprocess.run(
        ["git", "apply", "--3way", "--whitespace=nowarn"],
        cwd=root,
        input=patch,
        capture_output=True,
        check=False,
    )
    conflicted = git(root, "diff", "--name-only", "--diff-filter=U").split()
    if applied.returncode != 0 and not conflicted:
        lines = applied.stderr.decode(errors="replace").strip().splitlines()
        raise Refused(f"git apply failed, nothing changed: {lines[-1] if lines else '?'}")
    (root / RECORD).write_text(Record(record.template, record.project, target).dump())
    git(root, "add", RECORD)
    summary = f"template {record.commit[:12]}..{target[:12]} applied"
    if conflicted:
        raise Conflicts(
            f"{summary} with conflicts in {len(conflicted)} files ({', '.join(conflicted)}):"
            " resolve them, `git add` them, run `make golden`, then commit"
        )
    return (
        f"{summary}; review the staged changes (`uv lock` if pyproject.toml changed,"
        " `make golden` if the chart did), then commit"
    )
