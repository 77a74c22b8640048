"""The CustomResourceDefinition, generated from the pydantic models in ``api``.

Pydantic emits JSON Schema 2020-12; Kubernetes wants a *structural* OpenAPI v3.0 schema: no ``$ref``,
no ``anyOf`` for optional fields, boolean ``exclusiveMinimum``, no ``additionalProperties: false`` next
to ``properties``. ``structural()`` does that translation so the models stay the only source of truth;
``make crds`` writes the result and a test fails when the committed file drifts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel

from slo_operator import API_GROUP, API_VERSION, KIND, PLURAL
from slo_operator.api import ServiceLevelObjectiveSpec, ServiceLevelObjectiveStatus

_DROP = {"title", "additionalProperties"}


def structural(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Translate one pydantic JSON schema node into a structural OpenAPI v3.0 node."""
    defs = defs if defs is not None else schema.get("$defs", {})
    node = dict(schema)
    node.pop("$defs", None)
    if "$ref" in node:
        target = defs[node.pop("$ref").rsplit("/", 1)[-1]]
        resolved = structural(target, defs)
        if "description" in node:  # the field's description wins over the model's docstring
            resolved["description"] = node["description"]
        return resolved
    if "allOf" in node and len(node["allOf"]) == 1:
        inner = structural(node.pop("allOf")[0], defs)
        inner.update({k: v for k, v in node.items() if k in ("description", "default")})
        node = inner
    if "anyOf" in node:
        options = [o for o in node.pop("anyOf") if o.get("type") != "null"]
        if len(options) != 1:
            raise ValueError(f"cannot express anyOf {options} structurally")
        inner = structural(options[0], defs)
        for key in ("description",):
            if key in node:
                inner[key] = node[key]
        if node.get("default") is not None:
            inner["default"] = node["default"]
        node = inner
    out: dict[str, Any] = {}
    additional = node.get("additionalProperties")
    for key, value in node.items():
        if key in _DROP:
            continue
        if key == "default" and value is None:
            continue
        if key == "const":
            out["enum"] = [value]
        # isinstance(bool): a node already translated (anyOf/allOf re-walk it) keeps its numeric bound.
        elif key == "exclusiveMinimum" and not isinstance(value, bool):
            out["minimum"] = value
            out["exclusiveMinimum"] = True
        elif key == "exclusiveMaximum" and not isinstance(value, bool):
            out["maximum"] = value
            out["exclusiveMaximum"] = True
        elif key == "properties":
            out["properties"] = {name: structural(prop, defs) for name, prop in value.items()}
        elif key == "items":
            out["items"] = structural(value, defs)
        else:  # lists copied: a model used twice must not share nodes (YAML would print &anchors)
            out[key] = list(value) if isinstance(value, list) else value
    if isinstance(additional, dict):
        out["additionalProperties"] = structural(additional, defs)
    if out.get("type") == "object" and "properties" not in out and "additionalProperties" not in out:
        out["x-kubernetes-preserve-unknown-fields"] = True
    if "default" in out and isinstance(out["default"], (dict, list)):
        out.pop("default")  # object defaults would freeze today's defaults into stored objects
    return out


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    """The structural schema of ``spec`` or ``status``, described by the model's docstring."""
    schema = structural(model.model_json_schema(by_alias=True))
    schema["description"] = model.__doc__
    return schema


def _status_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Status conditions are a map keyed by ``type`` (server-side apply merges them one by one)."""
    schema = _schema(model)
    conditions = schema["properties"]["conditions"]
    conditions["x-kubernetes-list-type"] = "map"
    conditions["x-kubernetes-list-map-keys"] = ["type"]
    return schema


PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "Objective", "type": "number", "jsonPath": ".spec.objective", "description": "Target, percent."},
    {"name": "Window", "type": "string", "jsonPath": ".spec.window"},
    {"name": "SLI", "type": "number", "jsonPath": ".status.sli", "description": "Measured SLI, percent."},
    {"name": "Budget", "type": "number", "jsonPath": ".status.errorBudget.remaining",
     "description": "Error budget remaining, percent."},
    {"name": "Burn", "type": "number", "jsonPath": ".status.burnRate", "description": "Current burn rate."},
    {"name": "State", "type": "string", "jsonPath": ".status.state"},
    {"name": "Step", "type": "string", "jsonPath": ".status.policy.step",
     "description": "Active step of the error-budget policy."},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {"name": "Service", "type": "string", "jsonPath": ".spec.service", "priority": 1},
    {"name": "Exhausted-In", "type": "string", "jsonPath": ".status.timeToExhaustion", "priority": 1},
    {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
     "priority": 1},
    {"name": "Evaluated", "type": "date", "jsonPath": ".status.lastEvaluated", "priority": 1},
    {"name": "Covered", "type": "number", "jsonPath": ".status.window.covered", "priority": 1,
     "description": "Percent of the window the figures span."},
    {"name": "Violation-P", "type": "number", "jsonPath": ".status.forecast.violationProbability",
     "priority": 1, "description": "Forecast probability that the window ends below its objective."},
]


@dataclass(frozen=True)
class _Kind:
    """What tells one of the operator's custom resources from the other in its CRD."""

    kind: str
    plural: str
    singular: str
    short_names: list[str]
    spec: type[BaseModel]
    status: type[BaseModel]
    columns: list[dict[str, Any]]
    description: str


def _custom_resource_definition(resource: _Kind) -> dict[str, Any]:
    """The CRD of ``resource``: namespaced, one served and stored version, a status subresource."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{resource.plural}.{API_GROUP}",
            "labels": {"app.kubernetes.io/name": "slo-operator", "app.kubernetes.io/part-of": "slo-operator"},
        },
        "spec": {
            "group": API_GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": resource.kind,
                "listKind": f"{resource.kind}List",
                "plural": resource.plural,
                "singular": resource.singular,
                "shortNames": resource.short_names,
                "categories": ["mlops", "monitoring"],
            },
            "versions": [
                {
                    "name": API_VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": resource.columns,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": resource.description,
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": _schema(resource.spec),
                                "status": _status_schema(resource.status),
                            },
                        }
                    },
                }
            ],
        },
    }


def custom_resource_definition() -> dict[str, Any]:
    """The whole CRD object for ``servicelevelobjectives.slo.mlops.dev``."""
    return _custom_resource_definition(_Kind(
        kind=KIND,
        plural=PLURAL,
        singular="servicelevelobjective",
        short_names=["slo", "slos"],
        spec=ServiceLevelObjectiveSpec,
        status=ServiceLevelObjectiveStatus,
        columns=PRINTER_COLUMNS,
        description="A ServiceLevelObjective: an objective for a service's indicator over a rolling window, "
        "turned by slo-operator into Prometheus recording rules, burn-rate alerts, alert routing and a "
        "dashboard, with the measured budget in status.",
    ))


def policy_custom_resource_definition() -> dict[str, Any]:
    """The CRD for ``errorbudgetpolicies.slo.mlops.dev`` (short name ``ebp``)."""
    from slo_operator.policy_api import (
        POLICY_KIND,
        POLICY_PLURAL,
        ErrorBudgetPolicySpec,
        ErrorBudgetPolicyStatus,
    )

    return _custom_resource_definition(_Kind(
        kind=POLICY_KIND,
        plural=POLICY_PLURAL,
        singular="errorbudgetpolicy",
        short_names=["ebp"],
        spec=ErrorBudgetPolicySpec,
        status=ErrorBudgetPolicyStatus,
        columns=[
            {"name": "Steps", "type": "string", "jsonPath": ".spec.steps[*].name"},
            {"name": "SLOs", "type": "integer", "jsonPath": ".status.slos.length()",
             "description": "SLOs governed."},
            {"name": "Frozen", "type": "integer", "jsonPath": ".status.frozen",
             "description": "SLOs whose service is frozen."},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
        description="An ErrorBudgetPolicy: what happens to the SLOs it selects as they spend their error "
        "budget (tickets, deploy freezes, notifications).",
    ))


def _crd_yaml(crd: dict[str, Any], models: str) -> str:
    header = f"# Generated by `make crds` from {models}. Do not edit by hand.\n"
    return header + yaml.safe_dump(crd, sort_keys=False, width=100, allow_unicode=True)


def render_policy_crd_yaml() -> str:
    """The ErrorBudgetPolicy CRD as YAML (``crds/slo.mlops.dev_errorbudgetpolicies.yaml``)."""
    return _crd_yaml(policy_custom_resource_definition(), "slo_operator.policy_api")


def render_crd_yaml() -> str:
    """The CRD as YAML, byte-stable (the committed file is compared with this)."""
    return _crd_yaml(custom_resource_definition(), "slo_operator.api")


if __name__ == "__main__":  # pragma: no cover - `python -m slo_operator.crd`
    import sys

    if sys.argv[1:] == ["policy"]:
        sys.stdout.write(render_policy_crd_yaml())
    elif sys.argv[1:] == ["freeze"]:
        from slo_operator.policy import freeze_manifests_yaml

        sys.stdout.write(freeze_manifests_yaml())
    else:
        sys.stdout.write(render_crd_yaml())
