"""Running Prometheus' promtool, the reference parser and evaluator of rules and PromQL."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from tests.observability.queries import Query
from tests.tools import require_tool

INSTALL_HINT = "make tools (Debian: apt-get install prometheus)"


def promtool(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run promtool; the result carries its combined output for failure messages."""
    binary = require_tool("promtool", install=INSTALL_HINT)
    return subprocess.run(
        [binary, *map(str, args)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
        check=False,
    )


def promql_errors(queries: list[Query], *, workdir: Path) -> dict[str, str]:
    """Prometheus' parse and type errors of each query, keyed by the query's origin.

    promtool has no "check this expression" command, but `check rules` parses and
    type-checks each rule's expression with Prometheus' own parser, so each query becomes a
    recording rule whose name carries its index.
    """
    rules = [
        {"record": f"gale_check:query_{index}", "expr": query.resolved()}
        for index, query in enumerate(queries)
    ]
    path = workdir / "queries.rules.yaml"
    path.write_text(
        yaml.safe_dump({"groups": [{"name": "queries", "rules": rules}]}), encoding="utf-8"
    )
    result = promtool("check", "rules", path)
    errors = {}
    for line in result.stdout.splitlines():
        match = _RULE_ERROR.search(line)
        if match:
            query = queries[int(match["index"])]
            errors[query.origin] = f"{match['error']}\n  in: {query.resolved()}"
    if result.returncode != 0 and not errors:
        errors["promtool"] = result.stdout
    return errors


_RULE_ERROR = re.compile(r'"gale_check:query_(?P<index>\d+)": (?P<error>.*)$')
