"""``make template-update``: a later template change reaches an adopted project, renamed.

Each test builds its own pair in tmp: a template repository (this checkout's snapshot) and
a project adopted from a clone of it and committed, then changes one or both and replays.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.template.repo import commit_all, git, run, snapshot, tool, uv

NAME, GROUP, KIND = "acme-orders", "orders.acme.io", "OrderService"
SETTINGS = "service/acme_orders_service/settings.py"


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    template = snapshot(tmp_path / "gale")
    project = tmp_path / NAME
    run(tmp_path, "git", "clone", "--quiet", str(template), str(project))
    tool(project, "adopt", "--name", NAME, "--group", GROUP, "--kind", KIND)
    commit_all(project, "Adopt Gale as acme-orders")
    return template, project


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, (path, old)
    path.write_text(text.replace(old, new))


def _record(project: Path) -> str:
    commit: str = json.loads((project / ".template.json").read_text())["commit"]
    return commit


@pytest.mark.timeout(300)
def test_a_template_change_arrives_renamed_and_the_adopters_own_change_stays(
    pair: tuple[Path, Path],
) -> None:
    template, project = pair
    # The adopter's own work: the settings module's first line, and a file of their own.
    _edit(project / SETTINGS, '"""Typed settings', '"""Orders team: typed settings')
    (project / "ORDERS.md").write_text("# Orders\n")
    commit_all(project, "Our own settings docstring")
    # The template's later work: a new module, and a new setting at the end of settings.py.
    (template / "service/gale_service/greeting.py").write_text(
        '"""Gale\'s greeting for each Microservice."""\n\nGREETING = "gale-greeting"\n'
    )
    with (template / "service/gale_service/settings.py").open("a") as settings:
        settings.write(
            '\n\n#: Read from GALE_EXAMPLE by gale_service.settings.\nEXAMPLE = "GALE_EXAMPLE"\n'
        )
    newer = commit_all(template, "A greeting and an example setting")

    done = run(project, "make", "template-update", f"FROM={template}", f"UV={uv()}")

    assert "applied; review the staged changes" in done.stdout
    assert (project / "service/acme_orders_service/greeting.py").read_text() == (
        '"""Acme Orders\' greeting for each OrderService."""\n\nGREETING = "acme-orders-greeting"\n'
    )
    settings = (project / SETTINGS).read_text()
    assert settings.startswith('"""Orders team: typed settings')
    assert settings.endswith(
        "\n\n#: Read from ACME_ORDERS_EXAMPLE by acme_orders_service.settings.\n"
        'EXAMPLE = "ACME_ORDERS_EXAMPLE"\n'
    )
    assert (project / "ORDERS.md").read_text() == "# Orders\n"
    assert not (project / "service/gale_service").exists()
    assert _record(project) == newer
    assert git(project, "diff", "--name-only") == "", "everything the update wrote is staged"
    assert sorted(git(project, "diff", "--cached", "--name-only").split()) == sorted(
        [".template.json", SETTINGS, "service/acme_orders_service/greeting.py"]
    )
    commit_all(project, "Take the newer template")
    again = tool(project, "update", "--from", str(template))
    assert again.stdout == f"already at template commit {newer[:12]}\n"


@pytest.mark.timeout(300)
def test_a_clash_with_the_adopters_change_is_left_as_a_conflict(pair: tuple[Path, Path]) -> None:
    template, project = pair
    _edit(project / SETTINGS, 'jwt_issuer: str = "acme-orders"', 'jwt_issuer: str = "orders"')
    commit_all(project, "Our issuer")
    _edit(
        template / "service/gale_service/settings.py",
        'jwt_issuer: str = "gale"',
        'jwt_issuer: str = "gale-issuer"',
    )
    newer = commit_all(template, "A clearer issuer")

    done = tool(project, "update", "--from", str(template), check=False)

    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert line.endswith(
        f"with conflicts in 1 files ({SETTINGS}): resolve them, `git add` them,"
        " run `make golden`, then commit"
    )
    settings = (project / SETTINGS).read_text()
    assert '<<<<<<< ours\n    jwt_issuer: str = "orders"\n' in settings
    assert '    jwt_issuer: str = "acme-orders-issuer"\n>>>>>>> theirs\n' in settings
    assert _record(project) == newer


def test_an_update_needs_a_clean_adopted_tree_and_a_later_template(
    pair: tuple[Path, Path],
) -> None:
    template, project = pair
    (project / "scratch.txt").write_text("wip\n")
    dirty = tool(project, "update", "--from", str(template), check=False)
    assert (dirty.returncode, dirty.stderr) == (
        2,
        "python -m tools.adopt update: the work tree has uncommitted changes: "
        "commit or stash them first\n",
    )
    (project / "scratch.txt").unlink()
    git(template, "checkout", "--quiet", "--orphan", "unrelated")
    unrelated = commit_all(template, "Another history")
    foreign = tool(project, "update", "--from", str(template), "--ref", "unrelated", check=False)
    assert foreign.returncode == 2
    assert "is not in the history of unrelated" in foreign.stderr
    assert _record(project) != unrelated
    never = tool(template, "update", "--from", str(project), check=False)
    assert (never.returncode, never.stderr) == (
        2,
        "python -m tools.adopt update: no .template.json here: run `make adopt` first\n",
    )
