"""kopf's record of the last handled spec: the operator's lean storage builds the same essence as kopf's
own storage, without copying managedFields and status (handlers.LeanStatusDiffBaseStorage)."""

from __future__ import annotations

import copy
import json
from typing import Any

import kopf
import pytest
from slo_operator.handlers import LeanStatusDiffBaseStorage

SPEC = {"service": "checkout", "objective": 99.9, "window": "30d",
        "indicator": {"availability": {"errors": 'x{code=~"5.."}', "total": "x"}}}


def slo(**metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {
            "name": "checkout", "namespace": "shop", "uid": "u-1", "resourceVersion": "42", "generation": 3,
            "managedFields": [{"manager": "kopf", "operation": "Update", "subresource": "status",
                               "fieldsV1": {"f:status": {"f:conditions": {}}}}],
            **metadata,
        },
        "spec": SPEC,
        "status": {"conditions": [{"type": "Ready", "status": "True"}],
                   "kopf": {"last-handled-configuration": json.dumps({"spec": SPEC})}},
    }


BODIES = [
    slo(),
    slo(labels={"team": "payments"}),
    slo(labels={"team": "payments"}, annotations={
        "note": "kept",
        "kubectl.kubernetes.io/last-applied-configuration": "{}",
        "kopf.zalando.org/last-handled-configuration": "{}",
        "other-operator.example.com/last-handled-configuration": "{}",
        "other-operator.example.com/reconcile": "{}",
    }),
    {**slo(), "spec": {**SPEC, "description": ""}, "extra": {"top": "level"}},
    {k: v for k, v in slo().items() if k != "status"},
]


@pytest.mark.parametrize("raw", BODIES)
def test_the_lean_essence_is_kopfs_essence(raw: dict[str, Any]) -> None:
    before = copy.deepcopy(raw)
    ours = LeanStatusDiffBaseStorage(name="kopf").build(body=kopf.Body(raw))
    theirs = kopf.StatusDiffBaseStorage(name="kopf").build(body=kopf.Body(copy.deepcopy(raw)))
    assert ours == theirs
    assert "managedFields" not in json.dumps(ours) and "status" not in ours
    assert raw == before, "building the essence must not change the object"


def test_the_essence_is_a_copy() -> None:
    raw = slo(labels={"team": "payments"})
    essence: Any = LeanStatusDiffBaseStorage(name="kopf").build(body=kopf.Body(raw))
    essence["spec"]["indicator"]["availability"]["total"] = "changed"
    essence["metadata"]["labels"]["team"] = "changed"
    assert raw["spec"]["indicator"]["availability"]["total"] == "x"
    assert raw["metadata"]["labels"]["team"] == "payments"


def test_extra_fields_fall_back_to_kopfs_build() -> None:
    raw = slo()
    fields = ["status.conditions"]
    ours = LeanStatusDiffBaseStorage(name="kopf").build(body=kopf.Body(raw), extra_fields=fields)
    assert ours == kopf.StatusDiffBaseStorage(name="kopf").build(body=kopf.Body(raw), extra_fields=fields)
    assert ours["status"]["conditions"] == raw["status"]["conditions"]  # type: ignore[typeddict-item]
