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


@pytest.mark.parametrize("extra", [None, [("spec",)], ["spec"], [("spec", "indicator")]])
@pytest.mark.parametrize("raw", BODIES)
def test_the_lean_essence_is_kopfs_essence(raw: dict[str, Any], extra: list[Any] | None) -> None:
    """The operator's update handler watches ``field="spec"``: kopf passes ("spec",) as an extra field."""
    before = copy.deepcopy(raw)
    ours = LeanStatusDiffBaseStorage(name="kopf").build(body=kopf.Body(raw), extra_fields=extra)
    theirs = kopf.StatusDiffBaseStorage(name="kopf").build(
        body=kopf.Body(copy.deepcopy(raw)), extra_fields=extra
    )
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


@pytest.mark.parametrize("fields", [["status.conditions"], [("status", "conditions")], ["metadata.uid"]])
def test_extra_fields_outside_the_lean_body_fall_back_to_kopfs_build(fields: list[Any]) -> None:
    raw = slo()
    ours = LeanStatusDiffBaseStorage(name="kopf").build(body=kopf.Body(raw), extra_fields=fields)
    assert ours == kopf.StatusDiffBaseStorage(name="kopf").build(body=kopf.Body(raw), extra_fields=fields)
    assert ours != LeanStatusDiffBaseStorage(name="kopf").build(body=kopf.Body(raw))


def kopf_record(raw: dict[str, Any]) -> str:
    """What kopf itself stores for ``raw`` after its handler succeeded (its update handler watches spec)."""
    progress = kopf.SmartProgressStorage()
    essence = kopf.StatusDiffBaseStorage(name="kopf").build(body=kopf.Body(raw), extra_fields=[("spec",)])
    return json.dumps(progress.clear(essence=essence), separators=(",", ":"))


@pytest.mark.parametrize("raw", BODIES)
def test_the_record_a_handler_writes_is_the_one_kopf_would_store(raw: dict[str, Any]) -> None:
    storage, progress = LeanStatusDiffBaseStorage(name="kopf"), kopf.SmartProgressStorage()
    fresh = {**raw, "status": {}}
    assert storage.record(fresh, progress) == kopf_record(fresh)
    handled = {**raw, "status": {"kopf": {"last-handled-configuration": kopf_record(raw)}}}
    assert storage.record(handled, progress) is None, "kopf stores nothing when the record is current"
    changed = {**handled, "spec": {**SPEC, "objective": 99.5}}
    assert storage.record(changed, progress) == kopf_record(changed)
