"""Every child the golden cases render passes the real API server's strict field validation.

The operator writes its children with ``fieldValidation=Ignore`` (``kube.NO_FIELD_VALIDATION``: the
server's strict second decode costs a third of each apply). That is safe only while nothing it renders
carries a field a schema would drop or reject, which this test proves for every case: a server-side
dry run with ``--validate=strict`` of every PrometheusRule, AlertmanagerConfig and dashboard ConfigMap,
against prometheus-operator's CRDs on the control plane.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from slo_operator.children import CHILD_KINDS
from slo_operator.loader import load
from slo_operator.model import resolve
from slo_operator.render import RenderOptions
from support.cluster import kubectl

pytestmark = pytest.mark.cluster

CASES_DIR = Path(__file__).resolve().parents[1] / "golden" / "cases"


def _rendered_children(namespace: str) -> list[dict[str, Any]]:
    children = []
    for case in sorted(p for p in CASES_DIR.iterdir() if (p / "slo.yaml").is_file()):
        objects, problems = load([str(case / "slo.yaml")])
        assert not problems, problems
        (obj,) = objects
        obj.metadata.namespace = namespace
        slo = resolve(obj)
        for kind in CHILD_KINDS:
            child = kind.render(slo, RenderOptions())
            if child is not None:
                children.append(child)
    return children


def _dry_run(objects: list[dict[str, Any]], kubeconfig: Path) -> tuple[int, str]:
    document = {"apiVersion": "v1", "kind": "List", "items": objects}
    proc = kubectl(
        "apply", "--server-side", "--dry-run=server", "--validate=strict", "--field-manager=slo-operator",
        "-f", "-", kubeconfig=kubeconfig, input=json.dumps(document), check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_every_rendered_child_passes_strict_field_validation(kubeconfig: Path, namespace: str) -> None:
    children = _rendered_children(namespace)
    missing = {kind.kind for kind in CHILD_KINDS} - {child["kind"] for child in children}
    assert not missing, f"no golden case renders a {sorted(missing)}"
    code, output = _dry_run(children, kubeconfig)
    assert code == 0, output
    assert output.count("serverside-applied (server dry run)") == len(children), output

    # Control: strict validation really runs, so an unknown field of a rule is refused.
    broken = copy.deepcopy(next(c for c in children if c["kind"] == "PrometheusRule"))
    broken["spec"]["groups"][0]["rules"][0]["recordd"] = "typo"
    code, output = _dry_run([broken], kubeconfig)
    assert code != 0 and "recordd" in output, output
