"""What follows from a reconcile's outcome (status write, Events, log, retry), decided without I/O."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from slo_operator.reconcile import Outcome, reconcile_decision

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def body(status: dict[str, Any] | None = None, generation: int = 3) -> dict[str, Any]:
    return {
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": "model-latency", "namespace": "ml-serving", "generation": generation},
        "spec": {},
        "status": status,
    }


def conditions(status: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in status["conditions"]}


def test_invalid_spec_writes_valid_false_posts_a_warning_and_does_not_retry() -> None:
    problem = "spec.objective: must be below 100"
    decision = reconcile_decision(body(), Outcome(problems=[problem]), NOW)
    assert decision.status is not None
    assert conditions(decision.status)["Valid"] == "False"
    assert "observedGeneration" not in decision.status
    assert decision.events == (("Warning", "InvalidSpec", problem),)
    assert decision.log == (logging.WARNING, f"ml-serving/model-latency invalid: {problem}")
    assert decision.retry is None


def test_apply_failure_posts_a_warning_and_asks_for_a_retry() -> None:
    decision = reconcile_decision(body(), Outcome(error="503: unavailable"), NOW)
    assert decision.status is not None and conditions(decision.status)["RulesApplied"] == "False"
    assert decision.events == (("Warning", "ApplyFailed", "503: unavailable"),)
    assert decision.retry == "applying children failed: 503: unavailable"


APPLIED_BEFORE = {"conditions": [{"type": "RulesApplied", "status": "True", "reason": "Applied"}]}


def test_the_first_children_of_a_new_slo_are_in_its_status_not_in_an_event() -> None:
    outcome = Outcome(applied=["PrometheusRule/model-latency-slo", "ConfigMap/model-latency-slo-dashboard"])
    decision = reconcile_decision(body(), outcome, NOW)
    assert decision.events == ()
    assert decision.status is not None and conditions(decision.status)["RulesApplied"] == "True"
    assert conditions(decision.status)["Ready"] == "True"
    assert decision.log is not None and decision.log[0] == logging.INFO


def test_applied_and_deleted_children_are_one_normal_event() -> None:
    outcome = Outcome(applied=["PrometheusRule/model-latency-slo"], deleted=["ConfigMap/old"])
    decision = reconcile_decision(body(APPLIED_BEFORE), outcome, NOW)
    message = "applied PrometheusRule/model-latency-slo; deleted ConfigMap/old"
    assert decision.events == (("Normal", "RulesApplied", message),)
    assert decision.log == (logging.INFO, f"ml-serving/model-latency: {message}")
    assert decision.status is not None and decision.status["observedGeneration"] == 3


def test_a_reconcile_that_changes_nothing_writes_and_posts_nothing() -> None:
    outcome = Outcome(unchanged=["PrometheusRule/model-latency-slo"])
    first = reconcile_decision(body(), outcome, NOW)
    assert first.status is not None
    again = reconcile_decision(body(first.status), outcome, NOW)
    assert again.status is None and again.events == () and again.log is None and again.retry is None


def test_broken_alert_routing_is_a_warning_before_anything_else() -> None:
    broken = ("False", "SecretNotFound", "slack: Secret ml-serving/slack not found")
    decision = reconcile_decision(
        body(APPLIED_BEFORE), Outcome(applied=["AlertmanagerConfig/x"], routing=broken), NOW
    )
    assert decision.events[0] == ("Warning", "SecretNotFound", "slack: Secret ml-serving/slack not found")
    assert decision.events[1][1] == "RulesApplied"
    assert decision.status is not None and conditions(decision.status)["Ready"] == "False"
