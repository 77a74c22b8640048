"""Validation of cost indicators and spend budgets: each mistake is reported at its field with the fix,
money stays an exact decimal in the rules, and no user string reaches a rule unescaped."""

from __future__ import annotations

import copy
from typing import Any

import promql_parser
import pytest
from slo_operator.loader import parse_object
from slo_operator.model import resolve
from slo_operator.render import prometheus_rule

COST: dict[str, Any] = {
    "dollars": "model_serving_cost_dollars_total",
    "units": 'bentoml_service_request_total{endpoint="/predict"}',
    "maxCostPerUnit": "0.0004",
    "budget": {"amount": "2000", "currency": "USD", "period": "month"},
}


def cost_doc(cost: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    indicator = copy.deepcopy(COST)
    for key, value in (cost or {}).items():
        if value is None:
            indicator.pop(key, None)
        else:
            indicator[key] = value
    return {
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": "serving-cost", "namespace": "ml-serving"},
        "spec": {
            "service": "cancer-classifier",
            "objective": 99,
            "timeslices": {"sliceSize": "1h"},
            "indicator": {"cost": indicator},
            **spec,
        },
    }


MAX = "spec.indicator.cost.maxCostPerUnit"
OPENCOST = {"namespace": "ml-serving", "pods": "cancer-classifier-.*"}
INVALID = [
    ("two-sources", cost_doc({"opencost": OPENCOST}), "spec.indicator.cost", "exactly one spend source"),
    ("no-source", cost_doc({"dollars": None}), "spec.indicator.cost", "exactly one spend source"),
    ("no-units", cost_doc({"units": None}), "spec.indicator.cost.units", "required"),
    ("max-not-decimal", cost_doc({"maxCostPerUnit": "4e-4"}), MAX, '"0.0004"'),
    ("max-zero", cost_doc({"maxCostPerUnit": "0.000"}), MAX, "greater than zero"),
    (
        "max-too-precise",
        cost_doc({"maxCostPerUnit": "0.0001234567890123"}),
        "spec.indicator.cost.maxCostPerUnit",
        "significant digits",
    ),
    ("max-float", cost_doc({"maxCostPerUnit": 0.0004}), "spec.indicator.cost.maxCostPerUnit", "string"),
    (
        "amount-negative",
        cost_doc({"budget": {"amount": "-5", "currency": "USD"}}),
        "spec.indicator.cost.budget.amount",
        "positive decimal string",
    ),
    (
        "currency-lowercase",
        cost_doc({"budget": {"amount": "5", "currency": "usd"}}),
        "spec.indicator.cost.budget.currency",
        "3-letter ISO 4217 code",
    ),
    (
        "period-unknown",
        cost_doc({"budget": {"amount": "5", "currency": "USD", "period": "year"}}),
        "spec.indicator.cost.budget.period",
        "month",
    ),
    (
        "pods-not-a-regex",
        cost_doc({"dollars": None, "opencost": {"namespace": "ml-serving", "pods": "model-("}}),
        "spec.indicator.cost.opencost.pods",
        "regular expression",
    ),
    (
        "goal-with-cost",
        cost_doc(timeslices={"sliceSize": "1h", "goal": 95}),
        "spec.timeslices.goal",
        "does not apply to cost",
    ),
    ("group-by-with-cost", cost_doc(groupBy=["pod"]), "spec.groupBy", "not supported with a cost indicator"),
    ("occurrences", cost_doc(budgetingMethod="Occurrences"), "spec.budgetingMethod", "timeslices"),
]


@pytest.mark.parametrize(("document", "field", "hint"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_cost_documents_name_the_field(document: dict[str, Any], field: str, hint: str) -> None:
    obj, problems = parse_object(document, "test")
    assert obj is None and problems, "document was accepted"
    by_field = {p.field: p.message for p in problems}
    assert field in by_field, f"no problem at {field}; got {by_field}"
    assert hint in by_field[field], f"{field}: {by_field[field]!r} lacks {hint!r}"


def _expressions(document: dict[str, Any]) -> list[str]:
    obj, problems = parse_object(document, "test")
    assert problems == [] and obj is not None
    rule = prometheus_rule(resolve(obj))
    return [item["expr"] for group in rule["spec"]["groups"] for item in group["rules"]]


def test_money_is_written_exactly() -> None:
    exprs = "\n".join(_expressions(cost_doc({
        "maxCostPerUnit": "0.000123456789", "budget": {"amount": "1999.99", "currency": "EUR"},
    })))
    assert "> bool 0.000123456789" in exprs
    assert "vector(1999.99)" in exprs and "> 1999.99" in exprs
    assert "e-" not in exprs


HOSTILE = '.*"} or vector(1) # \\\\.'


def test_a_hostile_pod_regex_stays_a_label_value() -> None:
    document = cost_doc({"dollars": None, "opencost": {"namespace": "ml-serving", "pods": HOSTILE}})
    found = 0
    for expr in _expressions(document):
        def visit(node: Any) -> None:
            nonlocal found
            if isinstance(node, promql_parser.VectorSelector) and node.name == "container_cpu_allocation":
                values = {m.name: m.value for m in node.matchers.matchers}
                assert values == {"namespace": "ml-serving", "pod": HOSTILE}
                found += 1
            assert not (isinstance(node, promql_parser.Call) and node.func.name == "vector"
                        and "container" in str(node))

        promql_parser.walk(promql_parser.parse(expr), visit)
    assert found >= 2  # the 5m spend and the slice's cost per unit (and the slices)


def test_both_forms_are_valid_and_render() -> None:
    assert _expressions(cost_doc())
    opencost = {"dollars": None, "opencost": {**OPENCOST, "container": "bentoml"}, "budget": None}
    assert _expressions(cost_doc(opencost))
