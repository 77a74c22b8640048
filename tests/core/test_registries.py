"""The two tables new kinds are added to: indicator kinds (``indicators``) and child kinds (``children``).

Whatever is listed there must be wired everywhere else: the API's ``spec.indicator`` fields, the CRD,
the RBAC rules, the ``render`` command.
"""

from __future__ import annotations

import os
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from slo_operator.api import Indicator
from slo_operator.children import CHILD_KINDS, CHILD_VERBS, PROMETHEUS_RULE, child_kind_for_format
from slo_operator.cli import Format, app
from slo_operator.indicators import INDICATORS, KINDS
from slo_operator.loader import load
from slo_operator.model import resolve
from slo_operator.render import RenderOptions, shared_prometheus_rule, to_yaml
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
CRD = yaml.safe_load((REPO / "crds" / "slo.mlops.dev_servicelevelobjectives.yaml").read_text())
CASES = REPO / "tests" / "golden" / "cases"


def test_spec_indicator_has_one_field_per_registered_kind_with_its_model() -> None:
    assert list(Indicator.model_fields) == [kind.name for kind in KINDS]
    for kind in KINDS:
        annotation = Indicator.model_fields[kind.name].annotation
        assert kind.model in typing.get_args(annotation), f"Indicator.{kind.name}: not {kind.model.__name__}"


def test_the_crd_offers_every_registered_kind() -> None:
    (version,) = CRD["spec"]["versions"]
    indicator = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["indicator"]
    assert set(indicator["properties"]) == set(INDICATORS)


def test_a_kind_measured_in_time_allows_only_timeslices() -> None:
    for kind in KINDS:
        assert kind.methods and set(kind.methods) <= {"Occurrences", "Timeslices"}
        if kind.measures == "time":
            assert kind.methods == ("Timeslices",)


def _cluster_role() -> dict[str, Any]:
    documents = yaml.safe_load_all((REPO / "manifests" / "rbac.yaml").read_text())
    (role,) = [d for d in documents if d and d["kind"] == "ClusterRole"]
    return role


@pytest.mark.parametrize("kind", CHILD_KINDS, ids=lambda k: k.kind)
def test_rbac_grants_every_verb_on_every_child_kind(kind: Any) -> None:
    verbs: set[str] = set()
    for rule in _cluster_role()["rules"]:
        if kind.group in rule["apiGroups"] and kind.plural in rule["resources"]:
            verbs.update(rule["verbs"])
    missing = sorted(set(CHILD_VERBS) - verbs)
    assert not missing, f"manifests/rbac.yaml lacks {missing} on {kind.plural}.{kind.group or 'core'}"


@pytest.mark.parametrize("kind", CHILD_KINDS, ids=lambda k: k.kind)
def test_render_prints_every_child_kind_as_the_operator_renders_it(
    kind: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("SLO_OPERATOR_")]:
        monkeypatch.delenv(name)
    assert kind.cli_format in {f.value for f in Format}
    assert child_kind_for_format(kind.cli_format) is kind
    result = CliRunner().invoke(app, ["render", "--format", kind.cli_format, "-f", str(CASES)])
    assert result.exit_code == 0, result.output
    objects, problems = load([str(CASES)])
    assert len(objects) == len(list(CASES.glob("*/slo.yaml"))) and not problems
    slos = [resolve(obj) for obj in objects]
    expected = [kind.render(slo, RenderOptions()) for slo in slos]
    if kind is PROMETHEUS_RULE:  # and the namespaces' shared rules, which the operator applies too
        expected += [shared_prometheus_rule(ns, slos) for ns in sorted({slo.namespace for slo in slos})]
    assert result.stdout == to_yaml([obj for obj in expected if obj is not None])
