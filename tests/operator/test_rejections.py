"""A child the API server accepts but prometheus-operator refuses shows in the SLO's conditions.

The real prometheus-operator runs against the control plane; slo-operator runs with the RBAC of
manifests/rbac.yaml. Two mistakes only prometheus-operator judges: an alert annotation that is not a
valid Go template (it refuses the PrometheusRule) and a Slack webhook Secret that holds no URL (it refuses
the AlertmanagerConfig). Each must turn RulesApplied / RoutingReady False with its reason and an Event on
the SLO, keep the child out of what prometheus-operator generated, and clear once fixed.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from slo_operator.acceptance import SAME_SECOND_GRACE
from support.cluster import kubectl, wait_for
from support.examples import example_documents
from support.monitoring import GENERATE_TIMEOUT, MonitoringPair
from support.processes import OperatorProcess

pytestmark = pytest.mark.cluster

REASON = "RejectedByPrometheusOperator"
# The operator refreshes every 2 s; prometheus-operator reacts within seconds. The deadline only
# matters when something is broken, so it is generous for a loaded machine.
DEADLINE = GENERATE_TIMEOUT + 60


def _apply(objects: list[dict[str, Any]], kubeconfig: Path) -> None:
    kubectl("apply", "-f", "-", kubeconfig=kubeconfig, input=yaml.safe_dump_all(objects))


def _conditions(namespace: str, name: str, kubeconfig: Path) -> dict[str, dict[str, Any]]:
    proc = kubectl("get", "slo", name, "-n", namespace, "-o", "json", kubeconfig=kubeconfig, check=False)
    if proc.returncode != 0:
        return {}
    status = json.loads(proc.stdout).get("status") or {}
    return {c["type"]: c for c in status.get("conditions") or []}


def _wait_condition(namespace: str, name: str, type_: str, status: str, reason: str | None, kubeconfig: Path):
    def matches() -> dict[str, Any] | None:
        found = _conditions(namespace, name, kubeconfig).get(type_) or {}
        ok = found.get("status") == status and (reason is None or found.get("reason") == reason)
        return found if ok else None

    return wait_for(matches, DEADLINE, 0.5, f"{type_}={status} ({reason}) on {namespace}/{name}")


def _after_two_refreshes(operator: OperatorProcess) -> None:
    """Wait until the operator has completed two more status refreshes (it logs each one)."""

    def count() -> int:
        return operator.log().count("status refresh: slos=")

    start = count()
    wait_for(lambda: count() >= start + 2, DEADLINE, 0.5, "two more status refreshes")


def _settled_after_fix(operator: OperatorProcess, fixed_at: float) -> None:
    """Wait until an Event from the very second of the fix no longer counts, then two more refreshes.

    Event times have one-second resolution: an Event stamped in the same second as the fix counts
    for ``SAME_SECOND_GRACE`` seconds (a real rejection comes back at the next resync), so the verdict
    after a fix is only final once that grace has passed.
    """
    wait_for(lambda: time.time() - fixed_at > SAME_SECOND_GRACE + 1, DEADLINE, 0.5, "the same-second grace")
    _after_two_refreshes(operator)


def _events(namespace: str, kubeconfig: Path) -> list[dict[str, Any]]:
    out = kubectl("get", "events", "-n", namespace, "-o", "json", kubeconfig=kubeconfig).stdout
    return list(json.loads(out)["items"])


def _secret(namespace: str, name: str, key: str, value: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "data": {key: base64.b64encode(value.encode()).decode()},
    }


def _availability(namespace: str) -> dict[str, Any]:
    (document,) = [d for d in example_documents(namespace) if d["metadata"]["name"] == "model-availability"]
    return document


def test_a_prometheus_rule_prometheus_operator_rejects_turns_rules_applied_false(
    kubeconfig: Path, operator: OperatorProcess, monitoring: MonitoringPair, namespace: str
) -> None:
    document = _availability(namespace)
    document["spec"].setdefault("alerting", {})["annotations"] = {
        "runbook_url": "https://runbooks.example/slo/{{ .Labels.slo"  # unterminated template action
    }
    _apply([document], kubeconfig)
    rejected = _wait_condition(namespace, "model-availability", "RulesApplied", "False", REASON, kubeconfig)
    assert "PrometheusRule model-availability-slo" in rejected["message"], rejected
    assert "InvalidConfiguration" in rejected["message"], rejected
    conditions = _conditions(namespace, "model-availability", kubeconfig)
    assert conditions["Ready"]["status"] == "False"
    assert "prometheus-operator rejected the rules" in conditions["Ready"]["message"]
    events = _events(namespace, kubeconfig)
    # prometheus-operator's own Event on the child, and ours on the SLO.
    assert any(
        e["reason"] == "InvalidConfiguration" and e["involvedObject"]["name"] == "model-availability-slo"
        for e in events
    )
    assert any(
        e["reason"] == REASON
        and e["type"] == "Warning"
        and e["involvedObject"]["kind"] == "ServiceLevelObjective"
        for e in events
    )
    # Left out of what prometheus-operator generated for its Prometheus.
    prefix = f"{namespace}-model-availability-slo-"
    assert not any(prefix in name for name in monitoring.generated().rule_files)

    document["spec"]["alerting"]["annotations"] = {
        "runbook_url": "https://runbooks.example/slo/{{ .Labels.slo }}"
    }
    fixed_at = time.time()
    _apply([document], kubeconfig)
    _wait_condition(namespace, "model-availability", "RulesApplied", "True", None, kubeconfig)
    monitoring.wait_generated(lambda g: any(prefix in name for name in g.rule_files), "the fixed rule file")
    # prometheus-operator took the fixed rule; its earlier Event no longer counts at later refreshes.
    _settled_after_fix(operator, fixed_at)
    accepted = _conditions(namespace, "model-availability", kubeconfig)["RulesApplied"]
    assert (accepted["status"], accepted["reason"]) == ("True", "Applied"), accepted


def test_an_alertmanager_config_prometheus_operator_rejects_turns_routing_ready_false(
    kubeconfig: Path, operator: OperatorProcess, monitoring: MonitoringPair, namespace: str
) -> None:
    document = _availability(namespace)
    document["spec"].setdefault("alerting", {})["routing"] = {
        "slack": {"apiURL": {"name": "slack-webhook", "key": "url"}, "channel": "#ml-alerts"}
    }
    # The key exists (our own check passes), but its value is no URL: only prometheus-operator knows.
    _apply(
        [_secret(namespace, "slack-webhook", "url", "hooks.slack.com/services/T000/B000/XXXX"), document],
        kubeconfig,
    )
    rejected = _wait_condition(namespace, "model-availability", "RoutingReady", "False", REASON, kubeconfig)
    assert "AlertmanagerConfig model-availability-slo" in rejected["message"], rejected
    assert "URL" in rejected["message"], rejected
    conditions = _conditions(namespace, "model-availability", kubeconfig)
    assert conditions["RulesApplied"]["status"] == "True"  # the rules themselves are fine
    assert "prometheus-operator rejected the alert routing" in conditions["Ready"]["message"]
    assert any(
        e["reason"] == REASON and e["involvedObject"]["kind"] == "ServiceLevelObjective"
        for e in _events(namespace, kubeconfig)
    )
    receiver = f"{namespace}/model-availability-slo/slack"
    generated = monitoring.generated().alertmanager_config or ""
    assert receiver not in generated

    # Fixing the Secret (not the SLO) is enough: the Event is now older than the Secret's last change.
    fixed_at = time.time()
    _apply(
        [_secret(namespace, "slack-webhook", "url", "https://hooks.slack.com/services/T000/B000/XXXX")],
        kubeconfig,
    )
    _wait_condition(namespace, "model-availability", "RoutingReady", "True", None, kubeconfig)
    monitoring.wait_generated(lambda g: receiver in (g.alertmanager_config or ""), "the accepted receiver")
    _settled_after_fix(operator, fixed_at)
    ready = _conditions(namespace, "model-availability", kubeconfig)["RoutingReady"]
    assert (ready["status"], ready["reason"]) == ("True", "SecretsFound"), ready
    assert any(
        e["reason"] == "RoutingReady"
        and e["type"] == "Normal"
        and e["involvedObject"]["kind"] == "ServiceLevelObjective"
        for e in _events(namespace, kubeconfig)
    )
