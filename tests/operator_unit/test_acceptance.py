"""From prometheus-operator's Events and our children to RulesApplied / RoutingReady (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from slo_operator.acceptance import (
    FRESH_SECONDS,
    REASON,
    acceptance_conditions,
    last_change,
    rejections,
)

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


def stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def child(kind: str, name: str, uid: str, changed: datetime, manager: str = "slo-operator") -> dict[str, Any]:
    return {
        "kind": kind,
        "metadata": {
            "name": name,
            "uid": uid,
            "creationTimestamp": stamp(changed - timedelta(hours=1)),
            "managedFields": [
                {"manager": "kubectl", "time": stamp(changed + timedelta(minutes=5))},
                {"manager": manager, "time": stamp(changed)},
            ],
        },
    }


def event(
    uid: str, kind: str, seen: datetime, message: str = "was rejected due to invalid configuration"
) -> dict[str, Any]:
    return {
        "type": "Warning",
        "reason": "InvalidConfiguration",
        "message": message,
        "involvedObject": {"kind": kind, "uid": uid, "name": "x"},
        "firstTimestamp": stamp(seen - timedelta(minutes=30)),
        "lastTimestamp": stamp(seen),
        "count": 7,
    }


RULE = child("PrometheusRule", "a-slo", "u1", NOW - timedelta(minutes=10))
AMC = child("AlertmanagerConfig", "a-slo", "u2", NOW - timedelta(minutes=10))


def test_last_change_is_our_managers_latest_write_else_creation() -> None:
    assert last_change(RULE, "slo-operator") == NOW - timedelta(minutes=10)
    assert last_change(RULE) == NOW - timedelta(minutes=5)  # anyone's
    assert last_change({"metadata": {"creationTimestamp": stamp(NOW)}}, "slo-operator") == NOW


def test_a_fresh_event_after_our_last_write_is_a_rejection() -> None:
    (found,) = rejections(
        [RULE, AMC], [event("u1", "PrometheusRule", NOW - timedelta(minutes=1))], NOW, "slo-operator"
    )
    assert (found.kind, found.name, found.count) == ("PrometheusRule", "a-slo", 7)


def test_events_about_an_earlier_version_other_objects_or_long_ago_do_not_count() -> None:
    events = [
        event("u1", "PrometheusRule", NOW - timedelta(minutes=11)),  # before our last write: old content
        event("zz", "PrometheusRule", NOW),  # not one of ours
        {**event("u1", "PrometheusRule", NOW), "type": "Normal"},
        {**event("u1", "PrometheusRule", NOW), "reason": "Other"},
    ]
    assert rejections([RULE], events, NOW, "slo-operator") == []
    stale = child("PrometheusRule", "a-slo", "u1", NOW - timedelta(hours=2))
    old = event("u1", "PrometheusRule", NOW - timedelta(seconds=FRESH_SECONDS + 1))
    assert rejections([stale], [old], NOW, "slo-operator") == []


def test_a_secret_changed_after_the_event_clears_an_alertmanager_config_rejection() -> None:
    seen = NOW - timedelta(minutes=2)
    events = [event("u2", "AlertmanagerConfig", seen)]
    assert rejections([AMC], events, NOW, "slo-operator", inputs_changed=seen - timedelta(seconds=5))
    assert rejections([AMC], events, NOW, "slo-operator", inputs_changed=seen + timedelta(seconds=1)) == []


def test_conditions_follow_the_kind_of_the_rejected_child() -> None:
    applied = ("True", "Applied", "children: ...")
    routing_ok = ("True", "SecretsFound", "...")
    rule_rejected = rejections(
        [RULE], [event("u1", "PrometheusRule", NOW, "PrometheusRule a-slo was rejected")], NOW
    )
    rules, routing = acceptance_conditions(applied, routing_ok, rule_rejected)
    assert rules is not None and rules[:2] == ("False", REASON) and "a-slo was rejected" in rules[2]
    assert routing is None

    amc_rejected = rejections([AMC], [event("u2", "AlertmanagerConfig", NOW, "bad URL")], NOW)
    rules, routing = acceptance_conditions(applied, routing_ok, amc_rejected)
    assert rules is None
    assert routing is not None and routing[:2] == ("False", REASON) and "bad URL" in routing[2]
    # Our own, more precise finding (a missing Secret) is kept.
    missing = ("False", "SecretNotFound", "Secret x not found")
    assert acceptance_conditions(applied, missing, amc_rejected) == (None, None)


def test_rules_applied_recovers_and_our_own_failures_are_never_hidden() -> None:
    rejected_before = ("False", REASON, "prometheus-operator rejected ...")
    assert acceptance_conditions(rejected_before, None, []) == (
        ("True", "Applied", "children applied; prometheus-operator reports no rejection"),
        None,
    )
    assert acceptance_conditions(("True", "Applied", "m"), None, []) == (None, None)
    rule_rejected = rejections([RULE], [event("u1", "PrometheusRule", NOW)], NOW)
    for own in ("InvalidSpec", "ApplyFailed"):
        assert acceptance_conditions(("False", own, "m"), None, rule_rejected) == (None, None)


def test_an_event_in_the_same_second_as_the_change_counts_for_a_minute_only() -> None:
    changed = NOW - timedelta(minutes=10)
    same = [event("u1", "PrometheusRule", changed)]
    assert rejections([RULE], same, changed + timedelta(seconds=30), "slo-operator")
    assert rejections([RULE], same, changed + timedelta(seconds=61), "slo-operator") == []
