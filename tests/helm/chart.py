"""Rendering the Gale chart with Helm's own engine (helm-python-sdk), once per values file.

Every test module asks for the same few renders; a cache keyed by values file keeps the
whole folder to one render per file per session.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "gale"
CRD_FILE = CHART / "crds" / "microservices.gale.dev.yaml"
RELEASE = "demo"
NAMESPACE = "gale"
#: The values files under helm/gale/ci (Helm's convention: ``ci/*-values.yaml``), by stem.
VALUES_FILES = {
    path.name.removesuffix("-values.yaml"): path for path in CHART.glob("ci/*-values.yaml")
}

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Render:
    """One render of the chart: objects in template order, plus the NOTES text."""

    values_name: str
    values: dict[str, Any]
    documents: tuple[tuple[str, str], ...]
    objects: tuple[Manifest, ...]
    notes: str

    def kind(self, kind: str) -> list[Manifest]:
        return [each for each in self.objects if each["kind"] == kind]

    def one(self, kind: str) -> Manifest:
        (found,) = self.kind(kind)
        return found

    def text(self) -> str:
        """The manifests as one YAML stream, as `helm template` prints them."""
        return "".join(f"---\n# Source: {name}\n{body.strip()}\n" for name, body in self.documents)


def load_values(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load(VALUES_FILES[name].read_text())
    return loaded if isinstance(loaded, dict) else {}


def render_values(values: dict[str, Any], *, values_name: str = "inline") -> Render:
    """Render like `helm install`: values are checked against values.schema.json first."""
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema(values)
        manifests = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    documents: list[tuple[str, str]] = []
    objects: list[Manifest] = []
    notes = ""
    for template, body in sorted(manifests.items()):
        if template.endswith("NOTES.txt"):
            notes = body
            continue
        for document in body.split("\n---"):
            parsed = yaml.safe_load(document)
            if parsed:
                documents.append((template, document))
                objects.append(parsed)
    return Render(values_name, values, tuple(documents), tuple(objects), notes)


@functools.cache
def render_file(name: str) -> Render:
    return render_values(load_values(name), values_name=name)


def chart_crds() -> list[Manifest]:
    with helm.Chart.load(CHART) as chart:
        return [yaml.safe_load(crd["data"]) for crd in chart.crds]


def microservice_schema() -> dict[str, Any]:
    """The openAPIV3Schema of the Microservice CRD the chart ships."""
    crd = yaml.safe_load(CRD_FILE.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["storage"]]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def claimed_versions() -> list[str]:
    """Kubernetes minor versions to check: the chart's kubeVersion lower bound, and the
    newest one kubernetes-validate has schemas for (the chart sets no upper bound)."""
    claim = yaml.safe_load((CHART / "Chart.yaml").read_text())["kubeVersion"]
    oldest = re.fullmatch(r">=\s*(\d+\.\d+)\.\d+(-0)?", claim)
    assert oldest, f"kubeVersion {claim!r}: expected a lower bound like '>=1.30.0-0'"
    return [oldest.group(1), str(kubernetes_validate.latest_version()).rsplit(".", 1)[0]]
