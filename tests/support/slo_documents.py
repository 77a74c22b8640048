"""SLO documents for the pure suites: an availability SLO whose spec fields each test overrides, and a
cost SLO with or without a spend budget.

Kept in one place so that the suites reading the same kind of SLO (model and rendered rules; status and
monthly report of cost) build the same document, and a new required field is added once.
"""

from __future__ import annotations

from typing import Any

from slo_operator.api import ServiceLevelObjective
from slo_operator.model import SLO, resolve


def slo_document(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    """A 30d, 99.9% availability SLO of service ``svc`` over ``req``; ``spec`` replaces top-level spec
    fields (``indicator=...``, ``alerting=...``) and adds others."""
    base: dict[str, Any] = {
        "service": "svc",
        "objective": 99.9,
        "window": "30d",
        "indicator": {"availability": {"errors": 'req{code=~"5.."}', "total": "req"}},
    }
    base.update(spec)
    return {
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": name, "namespace": namespace},
        "spec": base,
    }


def resolved(document: dict[str, Any]) -> SLO:
    """The model of a document that is valid (a ValidationError otherwise)."""
    return resolve(ServiceLevelObjective.model_validate(document))


def cost_slo(budget: dict[str, str] | None = None) -> SLO:
    """The cost SLO ``team/cost``: spend per prediction at most 0.0004, and a spend ``budget`` when given
    (``{"amount": "2000", "currency": "USD"}``; no budget: no spend figures)."""
    cost: dict[str, Any] = {"dollars": "serving_cost_dollars_total", "units": "predictions_total",
                            "maxCostPerUnit": "0.0004"}
    if budget is not None:
        cost["budget"] = budget
    return resolved({
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": "cost", "namespace": "team"},
        "spec": {"service": "api", "objective": 99, "indicator": {"cost": cost}},
    })
