"""``make adopt``: a fresh copy becomes another project, which then lints and passes tests.

One copy is adopted per module (about 15 s: clone, rename, the copy's own ``uv sync`` from
the local cache, its golden snapshots refreshed); the tests then check it from outside
(paths, names left over, its chart rendered here) and from inside (its lint and a slice of
its own suite run in its own environment).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from tests.template.repo import commit_all, git, run, snapshot, tool, uv

NAME, GROUP, KIND = "acme-orders", "orders.acme.io", "OrderService"
#: Any spelling of the template's names: Gale, GALE_, gale_service, gale.dev, Microservice...
OLD = re.compile(r"gale|microservice", re.IGNORECASE)
#: Where the template's names may stay: the tool (it still renames from them) and its record.
ALLOWED_PATHS = ("tools/adopt/", ".template.json")
#: English, not the kind: "a Python microservice" describes the adopter's project too.
ALLOWED_PHRASES = ("Python microservice", "Tornado microservice", "WebSocket microservice")
#: The README's "Adopting Gale" section, kept between these markers as the credit line.
KEEP = re.compile(r"<!-- adopt:keep -->.*?<!-- /adopt:keep -->", re.DOTALL)
#: The adopted copy's own tests that run here, and why these: each exercises renamed names
#: across a boundary where a half-done rename breaks. Settings prefix vs README table and
#: the process's one-line errors; CRUD on SecantusDB through both drivers (the renamed
#: package, app settings key and cookie names end to end); the metric names served and
#: those the dashboards and rules read; the operator's pure core (labels, finalizer and
#: annotation prefixes); the CRD and its CEL rules; kubectl 1.32 against the emulator by
#: the new short name with the renamed operator process running; the whole chart folder
#: (render, golden snapshots, schema and RBAC); promtool's rule tests (renamed alerts and
#: recording rules). Left out: browser, image builds, fuzzing and the long operator e2e
#: suites, which add minutes and no names the slice does not already cross.
SLICE = (
    "tests/service/test_settings_readme.py",
    "tests/service/test_settings.py",
    "tests/service/resources/test_items_crud.py",
    "tests/service/telemetry/test_metrics.py",
    "tests/observability/test_metric_names_emitted.py",
    "tests/operator/core",
    "tests/operator/test_crd.py",
    "tests/operator/test_crd_cel.py",
    "tests/operator/test_kubectl_e2e.py",
    "tests/helm",
    "tests/observability/test_rules.py",
    "tests/observability/test_dashboards.py",
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean clone of the template as it is in this checkout, never modified."""
    return snapshot(tmp_path_factory.mktemp("template") / "gale")


@pytest.fixture(scope="module")
def adopted(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the template after ``make adopt``, exactly as an adopter runs it."""
    copy = tmp_path_factory.mktemp("adopted") / NAME
    run(template.parent, "git", "clone", "--quiet", str(template), str(copy))
    run(copy, "make", "adopt", f"NAME={NAME}", f"GROUP={GROUP}", f"KIND={KIND}", f"UV={uv()}")
    return copy


def _files(root: Path) -> list[str]:
    listed = git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    return sorted(p for p in listed.split("\0") if p and (root / p).is_file())


def _crd(root: Path) -> dict[str, Any]:
    path = root / "helm" / NAME / "crds" / f"orderservices.{GROUP}.yaml"
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


@pytest.mark.timeout(300)
def test_every_package_path_and_resource_name_is_derived_from_the_three(adopted: Path) -> None:
    for path in (
        "service/acme_orders_service/__main__.py",
        "operator/acme_orders_operator/__main__.py",
        f"helm/{NAME}/Chart.yaml",
        "observability/grafana/dashboards/acme-orders-service.json",
    ):
        assert (adopted / path).is_file(), path
    assert not (adopted / "tests" / "template").exists(), "the template's own tests stay behind"
    names = _crd(adopted)["spec"]["names"]
    assert _crd(adopted)["spec"]["group"] == GROUP
    assert names == {
        "kind": KIND,
        "listKind": f"{KIND}List",
        "plural": "orderservices",
        "singular": "orderservice",
        "shortNames": ["os"],
        "categories": [NAME],
    }
    pyproject = (adopted / "pyproject.toml").read_text()
    assert f'name = "{NAME}"' in pyproject
    assert 'acme-orders-service = "acme_orders_service.__main__:main"' in pyproject
    record = json.loads((adopted / ".template.json").read_text())
    assert record == {
        "template": {"name": "gale", "group": "gale.dev", "kind": "Microservice"},
        "project": {"name": NAME, "group": GROUP, "kind": KIND},
        "commit": git(adopted, "rev-parse", "HEAD").strip(),
    }


def test_no_old_name_is_left_outside_the_allow_list(adopted: Path) -> None:
    left = []
    for path in _files(adopted):
        if path.startswith(ALLOWED_PATHS):
            continue
        left += [f"{path}: {m[0]!r}" for m in OLD.finditer(path)]
        try:
            text = (adopted / path).read_text()
        except UnicodeDecodeError:
            continue
        for phrase in ALLOWED_PHRASES:
            text = text.replace(phrase, "")
        text = KEEP.sub("", text)
        for number, line in enumerate(text.splitlines(), 1):
            left += [f"{path}:{number}: {line.strip()[:120]}" for _ in OLD.finditer(line)]
    assert not left, "\n".join(left)
    readme = (adopted / "README.md").read_text()
    assert readme.startswith("# Acme Orders\n")
    assert len(KEEP.findall(readme)) == 1, "the README keeps exactly one credit section"


def test_metric_span_cookie_settings_and_api_spellings(adopted: Path) -> None:
    service, operator = (
        adopted / "service/acme_orders_service",
        adopted / "operator/acme_orders_operator",
    )
    expected = {
        service / "telemetry/metrics.py": [
            '"acme_orders_websocket_connections"',
            '"acme_orders_ready"',
        ],
        service / "telemetry/tracing.py": ['trace.get_tracer("acme_orders_service")'],
        service / "auth/sessions.py": ['SESSION_COOKIE = "acme_orders_session"'],
        service / "settings.py": ['env_prefix="ACME_ORDERS_"'],
        operator / "metrics.py": ['"acme_orders_operator_orderservices"'],
        operator / "core/kinds.py": [f'GROUP = "{GROUP}"', f'"{GROUP}/finalizer"'],
        adopted / "observability/prometheus/rules.yaml": [
            "record: acme_orders:http_request_errors:ratio_rate5m",
            "alert: AcmeOrdersAvailabilityBudgetBurnFast",
        ],
    }
    for path, spellings in expected.items():
        text = path.read_text()
        assert [s for s in spellings if s not in text] == [], path


@pytest.mark.timeout(400)
def test_the_adopted_copy_passes_its_own_lint(adopted: Path) -> None:
    """ruff (lint and format), mypy --strict and the import contracts, by its Makefile."""
    done = run(adopted, "make", "lint", f"UV={uv()}", timeout=360)
    assert re.search(r"Contracts: \d+ kept, 0 broken", done.stdout), done.stdout[-2000:]


@pytest.mark.timeout(400)
def test_the_adopted_copy_passes_a_slice_of_its_own_suite(adopted: Path) -> None:
    done = run(
        adopted,
        uv(),
        "run",
        "--locked",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        *SLICE,
        timeout=360,
    )
    summary = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ passed in [\d.]+s(?: \(\S+\))?", summary), done.stdout[-4000:]


def test_the_adopted_chart_renders_the_renamed_objects(adopted: Path) -> None:
    values = yaml.safe_load((adopted / "helm" / NAME / "ci" / "instance-values.yaml").read_text())
    with helm.Chart.load(adopted / "helm" / NAME) as chart:
        chart.validate_schema(values)
        manifests = chart.render(values, name="demo", namespace=NAME, is_install=True)
    objects = [
        doc
        for name, body in manifests.items()
        if not name.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(body)
        if doc
    ]
    (instance,) = [o for o in objects if o["kind"] == KIND]
    assert instance["apiVersion"] == f"{GROUP}/v1alpha1"
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    assert deployment["metadata"]["name"] == "demo-acme-orders-operator"
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert "/acme-orders-operator:" in image, image
    rules = [r for o in objects if o["kind"] in ("Role", "ClusterRole") for r in o["rules"]]
    assert {"apiGroups": [GROUP], "resources": ["orderservices"]} in [
        {k: r[k] for k in ("apiGroups", "resources")} for r in rules
    ]
    rendered = "\n".join(manifests.values())
    assert not OLD.search(rendered), OLD.search(rendered)


BAD = [
    pytest.param(["--name", "Acme"], "NAME 'Acme' is not a DNS label", id="uppercase-name"),
    pytest.param(["--name", "acme_orders"], "is not a DNS label", id="underscore-name"),
    pytest.param(["--name", "9lives"], "is not a DNS label", id="digit-first-name"),
    pytest.param(["--name", "acme-"], "is not a DNS label", id="dash-last-name"),
    pytest.param(["--name", "a" * 41], "is not a DNS label", id="long-name"),
    pytest.param(["--name", "class"], "does not make a Python identifier", id="keyword-name"),
    pytest.param(["--group", "acme"], "GROUP 'acme' is not a DNS subdomain", id="dotless-group"),
    pytest.param(["--group", "Orders.acme.io"], "is not a DNS subdomain", id="upper-group"),
    pytest.param(["--group", "orders..io"], "is not a DNS subdomain", id="empty-label-group"),
    pytest.param(["--kind", "orderService"], "KIND 'orderService' is not a", id="lower-kind"),
    pytest.param(["--kind", "Order-Service"], "is not a Kubernetes kind", id="dash-kind"),
    pytest.param(["--kind", "Order_Service"], "is not a Kubernetes kind", id="underscore-kind"),
    pytest.param(["--kind", ""], "is not a Kubernetes kind", id="empty-kind"),
]


def _adopt(copy: Path, *override: str) -> Any:
    args = dict(zip(override[::2], override[1::2], strict=True))
    defaults = {"--name": NAME, "--group": GROUP, "--kind": KIND}
    argv = [a for key in defaults for a in (key, args.get(key, defaults[key]))]
    return tool(copy, "adopt", *argv, check=False)


@pytest.mark.parametrize(("override", "message"), BAD)
def test_a_bad_name_is_one_line_and_exit_2(
    template: Path, override: list[str], message: str
) -> None:
    done = _adopt(template, *override)
    assert (done.returncode, done.stdout) == (2, "")
    (line,) = done.stderr.splitlines()
    assert message in line
    assert git(template, "status", "--porcelain") == ""


def test_make_adopt_refuses_a_bad_name_before_touching_anything(template: Path) -> None:
    done = run(
        template,
        "make",
        "adopt",
        "NAME=Acme",
        f"GROUP={GROUP}",
        f"KIND={KIND}",
        f"UV={uv()}",
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines()[0].endswith(
        "NAME 'Acme' is not a DNS label of at most 40 characters "
        "(lowercase letters, digits and '-', starting with a letter)"
    )
    assert git(template, "status", "--porcelain") == ""


@pytest.mark.parametrize("dirt", ["changed", "untracked", "staged"])
def test_a_dirty_work_tree_is_refused(template: Path, tmp_path: Path, dirt: str) -> None:
    copy = tmp_path / "copy"
    run(tmp_path, "git", "clone", "--quiet", str(template), str(copy))
    if dirt == "changed":
        (copy / "README.md").write_text("local edit\n")
    elif dirt == "untracked":
        (copy / "notes.txt").write_text("mine\n")
    else:
        (copy / "notes.txt").write_text("mine\n")
        git(copy, "add", "notes.txt")
    before = git(copy, "status", "--porcelain")
    done = _adopt(copy)
    assert done.returncode == 2
    assert done.stderr == (
        "python -m tools.adopt adopt: the work tree has uncommitted changes: "
        "commit or stash them first\n"
    )
    assert git(copy, "status", "--porcelain") == before
    assert (copy / "service" / "gale_service").is_dir()


def test_a_directory_outside_git_is_refused(template: Path, tmp_path: Path) -> None:
    copy = tmp_path / "export"
    run(template, "git", "checkout-index", "--all", f"--prefix={copy}/")
    done = tool(copy, "adopt", "--name", NAME, "--group", GROUP, "--kind", KIND, check=False)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.endswith("is not a git work tree: clone the template with git first")


def test_an_adopted_project_refuses_a_second_adoption(template: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    run(tmp_path, "git", "clone", "--quiet", str(template), str(copy))
    tool(copy, "adopt", "--name", NAME, "--group", GROUP, "--kind", KIND)
    commit_all(copy, "adopt")
    done = tool(
        copy, "adopt", "--name", "other", "--group", "x.example.com", "--kind", "X", check=False
    )
    assert done.returncode == 2
    assert "already adopted as acme-orders" in done.stderr
    assert "make template-update" in done.stderr


def test_a_dry_run_prints_the_token_map_found_in_the_tree_and_writes_nothing(
    template: Path,
) -> None:
    done = tool(template, "adopt", "--name", NAME, "--group", GROUP, "--kind", KIND, "--dry-run")
    row = re.compile(r"\s*(['\"])(.*?)\1 -> (['\"])(.*?)\3 +\d+")
    rows = {(m[2], m[4]) for line in done.stdout.splitlines() if (m := row.fullmatch(line))}
    assert len(rows) == len(done.stdout.splitlines()), done.stdout
    for found, written in [
        ("gale.dev", GROUP),
        ("Microservice", KIND),
        ("microservices", "orderservices"),
        ("MICROSERVICE", "ORDER_SERVICE"),
        ("GALE", "ACME_ORDERS"),
        ("Gale", "AcmeOrders"),
        ("Gale", "Acme Orders"),
        ("gale", "acme-orders"),
        ("gale", "acme_orders"),
        ("gale", "acmeorders"),
        ("ms", "os"),
    ]:
        assert (found, written) in rows, (found, written, done.stdout)
    assert git(template, "status", "--porcelain") == ""
