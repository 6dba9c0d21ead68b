"""Golden snapshots: the full render of each ci values file, reviewed as a diff.

A template change shows up here as exactly the manifests it changes. After an intended
change, `make golden` rewrites the snapshots; commit them with the change.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.helm.chart import VALUES_FILES, Render

GOLDEN = Path(__file__).parent / "golden"


#: Keys the chart generates at random (instance-app-secret.yaml): masked in snapshots.
GENERATED = re.compile(r'^(  (?:secret_key|jwt_keys|cookie_secrets): )"[A-Za-z0-9+/=]+"$', re.M)


def snapshot(rendered: Render) -> str:
    return (
        GENERATED.sub(r"\1<generated>", rendered.text())
        + "---\n# NOTES.txt\n"
        + "".join(f"# {line}".rstrip() + "\n" for line in rendered.notes.strip().splitlines())
    )


def test_render_matches_golden_snapshot(rendered: Render) -> None:
    path = GOLDEN / f"{rendered.values_name}.yaml"
    current = snapshot(rendered)
    if os.environ.get("GALE_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(current)
        return
    assert path.exists(), f"no snapshot {path.name}: run `make golden` and commit it"
    assert current == path.read_text(), f"{path.name} is stale: review the diff of `make golden`"


def test_every_snapshot_has_its_values_file() -> None:
    assert {path.stem for path in GOLDEN.glob("*.yaml")} == set(VALUES_FILES)
