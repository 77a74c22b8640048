"""The pure core of error-budget policies: selection, steps with hysteresis, ticket identity, the
admission policy's objects, the CRD and `policy explain`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from slo_operator.cli import app
from slo_operator.crd import render_policy_crd_yaml
from slo_operator.policy import (
    OVERRIDE_ANNOTATION,
    Signals,
    active_step,
    decide,
    freeze_admission_binding,
    freeze_admission_policy,
    freeze_manifests_yaml,
    policy_for,
    selector_matches,
    ticket_identity,
    window_start,
)
from slo_operator.policy_api import ErrorBudgetPolicy, LabelSelector
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "manifests" / "policy" / "example.yaml"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DAY = 86400


def policy(steps: list[dict[str, Any]] | None = None, **spec: Any) -> ErrorBudgetPolicy:
    return ErrorBudgetPolicy.model_validate(
        {
            "apiVersion": "slo.mlops.dev/v1alpha1",
            "kind": "ErrorBudgetPolicy",
            "metadata": {"name": spec.pop("name", "p"), "namespace": "ns"},
            "spec": {
                "selector": spec.pop("selector", {}),
                "steps": steps
                or [
                    {"name": "ticket", "consumed": 50, "actions": ["ticket"]},
                    {"name": "escalate", "consumed": 75, "actions": ["notify"]},
                    {"name": "freeze", "consumed": 100, "severity": "critical", "actions": ["freeze"]},
                ],
                "ticket": {"webhook": {"url": {"name": "hook", "key": "url"}}},
                **spec,
            },
        }
    )


def test_selector_semantics() -> None:
    assert not selector_matches(None, {"a": "1"})
    assert selector_matches(LabelSelector(), {})
    sel = LabelSelector.model_validate(
        {
            "matchLabels": {"tier": "web"},
            "matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod"]},
                {"key": "skip", "operator": "DoesNotExist"},
            ],
        }
    )
    assert selector_matches(sel, {"tier": "web", "env": "prod"})
    assert not selector_matches(sel, {"tier": "web", "env": "dev"})
    assert not selector_matches(sel, {"tier": "web", "env": "prod", "skip": ""})
    assert not selector_matches(sel, {"env": "prod"})


def test_policy_ref_wins_and_two_selecting_policies_are_a_conflict() -> None:
    a, b = policy(name="a"), policy(name="b")
    assert policy_for({}, "b", [a, b]) == (b, None)
    found, problem = policy_for({}, None, [a, b])
    assert found is None and problem is not None and "a, b" in problem
    found, problem = policy_for({}, "missing", [a])
    assert found is None and problem is not None and "missing" in problem
    nothing = policy(name="c", selector={"matchLabels": {"x": "y"}})
    assert policy_for({}, None, [nothing]) == (None, None)


@pytest.mark.parametrize(
    ("consumed", "firing", "current", "expected"),
    [
        (10, set(), None, None),
        (50, set(), None, "ticket"),
        (80, set(), None, "escalate"),
        (120, set(), None, "freeze"),
        (10, {"critical"}, None, "freeze"),  # severity alone reaches the step
        (97, set(), "freeze", "freeze"),  # within hysteresis: kept
        (94, set(), "freeze", "escalate"),  # below 100 - 5: left, lower step still reached
        (72, set(), "escalate", "escalate"),
        (69, set(), "escalate", "ticket"),
        (46, set(), "ticket", "ticket"),
        (44, set(), "ticket", None),
        (60, {"critical"}, "ticket", "freeze"),
    ],
)
def test_active_step_with_hysteresis(
    consumed: float, firing: set[str], current: str | None, expected: str | None
) -> None:
    steps = policy().spec.steps
    index = active_step(steps, Signals(consumed, frozenset(firing)), current, 5)
    assert (steps[index].name if index is not None else None) == expected


def test_a_budget_hovering_at_a_threshold_does_not_flap() -> None:
    steps = policy().spec.steps
    current = None
    changes = 0
    for consumed in [99, 101, 99, 98, 101, 97, 100, 96, 99]:
        index = active_step(steps, Signals(consumed), current, 5)
        name = steps[index].name if index is not None else None
        changes += name != current
        current = name
    assert changes == 2  # escalate at 99, freeze at 101, then kept
    assert current == "freeze"


def test_ticket_identity_is_stable_per_slo_step_and_window() -> None:
    start = window_start(30 * DAY, NOW)
    assert start <= NOW < start + timedelta(days=30)
    assert start.timestamp() % (30 * DAY) == 0
    same = ticket_identity("uid-1", "ticket", window_start(30 * DAY, NOW + timedelta(seconds=1)))
    assert ticket_identity("uid-1", "ticket", start) == same
    assert ticket_identity("uid-2", "ticket", start) != same
    assert ticket_identity("uid-1", "freeze", start) != same
    later = window_start(30 * DAY, start + timedelta(days=30))
    assert ticket_identity("uid-1", "ticket", later) != same
    assert len(same) <= 50 and " " not in same  # GitHub label limit, Jira labels have no spaces


def test_decide_walks_steps_records_since_and_plans_one_ticket() -> None:
    p = policy()
    first = decide(p, "uid", 30 * DAY, Signals(55), None, NOW)
    assert (first.step, first.entered, first.frozen) == ("ticket", True, False)
    assert first.since == "2026-12-01T12:00:00Z"
    assert first.ticket is not None and first.ticket.known is None and not first.ticket.comment
    status = first.status(
        tickets=[{"backend": "webhook", "key": "K-1", "step": "ticket", "window": first.ticket.window}]
    )
    again = decide(p, "uid", 30 * DAY, Signals(60), status, NOW + timedelta(minutes=5))
    assert again.since == first.since and not again.entered
    assert again.ticket is not None and again.ticket.known is not None and not again.ticket.comment
    frozen = decide(p, "uid", 30 * DAY, Signals(101), again.status(), NOW + timedelta(minutes=10))
    assert frozen.frozen and frozen.entered and frozen.left == "ticket" and frozen.ticket is None
    back = decide(p, "uid", 30 * DAY, Signals(52), frozen.status(), NOW + timedelta(minutes=20))
    assert back.step == "ticket" and back.entered and not back.frozen
    assert back.ticket is not None and back.ticket.comment  # reached again: comment, not a new ticket
    assert back.tickets == status["tickets"]


def test_no_data_keeps_the_step_and_the_freeze() -> None:
    p = policy()
    frozen = decide(p, "uid", DAY, Signals(120), None, NOW)
    kept = decide(p, "uid", DAY, Signals(None), frozen.status(), NOW + timedelta(hours=1))
    assert kept.frozen and kept.step == "freeze" and not kept.entered and kept.since == frozen.since


def test_validation_refuses_what_the_crd_refuses() -> None:
    with pytest.raises(ValidationError, match="increasing"):
        policy(
            [
                {"name": "a", "consumed": 80, "actions": ["notify"]},
                {"name": "b", "consumed": 50, "actions": ["notify"]},
            ]
        )
    with pytest.raises(ValidationError, match="consumed, severity or both"):
        policy([{"name": "a", "actions": ["notify"]}])
    with pytest.raises(ValidationError, match="exactly one ticket backend"):
        policy(ticket={})
    spec = policy().spec.model_dump(by_alias=True, exclude_none=True)
    spec.pop("ticket")
    with pytest.raises(ValidationError, match=r"needs spec\.ticket"):
        ErrorBudgetPolicy.model_validate(
            {
                "apiVersion": "slo.mlops.dev/v1alpha1",
                "kind": "ErrorBudgetPolicy",
                "metadata": {"name": "x"},
                "spec": spec,
            }
        )


def test_freeze_admission_policy_reads_slos_as_parameters() -> None:
    vap, binding = freeze_admission_policy(), freeze_admission_binding()
    assert vap["spec"]["paramKind"] == {
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
    }
    rule = vap["spec"]["matchConstraints"]["resourceRules"][0]
    assert rule["operations"] == ["UPDATE"]
    assert set(rule["resources"]) == {"deployments", "statefulsets", "daemonsets"}  # not */scale
    assert OVERRIDE_ANNOTATION in json.dumps(vap)
    assert binding["spec"]["paramRef"] == {"selector": {}, "parameterNotFoundAction": "Allow"}
    assert "namespace" not in binding["spec"]["paramRef"]  # the workload's own namespace


def test_generated_files_are_current() -> None:
    assert (REPO / "crds" / "slo.mlops.dev_errorbudgetpolicies.yaml").read_text() == render_policy_crd_yaml()
    assert (
        REPO / "helm" / "slo-operator" / "crds" / "slo.mlops.dev_errorbudgetpolicies.yaml"
    ).read_text() == (render_policy_crd_yaml())
    assert (REPO / "manifests" / "policy" / "deploy-freeze.yaml").read_text() == freeze_manifests_yaml()


def test_example_policy_is_valid() -> None:
    ErrorBudgetPolicy.model_validate(yaml.safe_load(EXAMPLE.read_text()))


def test_explain_prints_step_and_effects(tmp_path: Path) -> None:
    slo = yaml.safe_load((REPO / "manifests" / "examples" / "availability.yaml").read_text())
    slo["metadata"]["labels"] = {"tier": "model-serving"}
    slo_file = tmp_path / "slo.yaml"
    slo_file.write_text(yaml.safe_dump(slo))
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "policy",
            "explain",
            "-f",
            str(EXAMPLE),
            "-f",
            str(slo_file),
            "--consumed",
            "80",
            "--output",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    (found,) = json.loads(result.output)
    assert found["step"] == "escalate" and found["actions"] == ["ticket", "notify"] and found["selected"]
    assert any("github ticket" in e for e in found["effects"])
    text = runner.invoke(
        app, ["policy", "explain", "-f", str(EXAMPLE), "-f", str(slo_file), "--consumed", "100"]
    )
    assert text.exit_code == 0 and "step freeze" in text.output and "cancer-classifier" in text.output
    unlabelled = tmp_path / "other.yaml"
    slo["metadata"]["labels"] = {}
    unlabelled.write_text(yaml.safe_dump(slo))
    none = runner.invoke(
        app, ["policy", "explain", "-f", str(EXAMPLE), "-f", str(unlabelled), "--consumed", "100"]
    )
    assert none.exit_code == 0 and "not selected" in none.output


def test_ticket_tier_alert_and_its_route() -> None:
    from decimal import Decimal

    from slo_operator.api import ServiceLevelObjective
    from slo_operator.model import resolve
    from slo_operator.policy import ticket_tier_alert, with_policy
    from slo_operator.routing import RoutingOptions, alertmanager_config_spec, secret_references

    alert = ticket_tier_alert(30 * DAY)
    assert (alert.severity, alert.long_window, alert.short_window, alert.threshold) == (
        "ticket",
        3 * DAY,
        6 * 3600,
        Decimal(1),
    )
    assert alert.budget_percent == 10
    short = ticket_tier_alert(DAY)  # scaled like the defaults, with the 5m floor
    assert short.short_window == 720 and short.long_window == 8640 and short.threshold == 1
    document = yaml.safe_load((REPO / "manifests" / "examples" / "availability.yaml").read_text())
    slo = resolve(ServiceLevelObjective.model_validate(document))
    routing = RoutingOptions(slack_api_url=secret_references_example())
    assert with_policy(slo, policy(), routing) == (slo, routing)  # ticketAlerts off: unchanged
    hooked = policy(ticketAlerts=True)
    shaped, shaped_routing = with_policy(slo, hooked, routing)
    assert [a.severity for a in shaped.alerts][-1] == "ticket"
    spec = alertmanager_config_spec(shaped, shaped_routing)
    assert spec is not None
    assert {
        "receiver": "ticket",
        "matchers": [{"name": "severity", "value": "ticket", "matchType": "="}],
    } in (spec["route"]["routes"])
    ticket = next(r for r in spec["receivers"] if r["name"] == "ticket")
    assert ticket["webhookConfigs"][0]["urlSecret"] == {"name": "hook", "key": "url"}
    unchanged = alertmanager_config_spec(slo, routing)
    assert unchanged is not None and all(r["receiver"] != "ticket" for r in unchanged["route"]["routes"])
    assert secret_references(shaped, shaped_routing)  # the Slack reference is still checked


def secret_references_example() -> Any:
    from slo_operator.api import SecretKeySelector

    return SecretKeySelector(name="slack", key="url")


def test_status_patch_removes_policy_keys_that_went_away() -> None:
    from slo_operator.reconcile import _merge_patch

    current = {"policy": {"name": "p", "step": "freeze", "since": "t", "frozen": True, "message": "x"}}
    left = decide(policy(), "uid", DAY, Signals(10), current["policy"], NOW).status()
    patch = _merge_patch(current, {"policy": left, "sli": 99.0})
    assert patch["policy"]["step"] is None and patch["policy"]["since"] is None
    assert patch["policy"]["message"] is None and patch["policy"]["frozen"] is False and patch["sli"] == 99.0
    assert _merge_patch({}, {"policy": None}) == {"policy": None}
