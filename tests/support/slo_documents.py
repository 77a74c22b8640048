"""SLO documents for the pure suites: one availability SLO whose spec fields each test overrides.

Kept in one place so that the suites which read the model and the rendered rules build the same document
and a new required field is added once.
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
