"""The status the operator writes, computed from measurements (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slo_operator.api import ServiceLevelObjective
from slo_operator.budget import ErrorBudgetCalculator
from slo_operator.coverage import RAW, Coverage
from slo_operator.model import SLO, resolve
from slo_operator.prometheus import Measurement
from slo_operator.status import (
    human_duration,
    measured_status,
    needs_write,
    refreshed_status,
    set_condition,
    transitions,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def slo(objective: float = 99.9, window: str = "30d") -> SLO:
    return resolve(
        ServiceLevelObjective.model_validate(
            {
                "apiVersion": "slo.mlops.dev/v1alpha1",
                "kind": "ServiceLevelObjective",
                "metadata": {"name": "api", "namespace": "prod"},
                "spec": {
                    "service": "api",
                    "objective": objective,
                    "window": window,
                    "indicator": {"availability": {"errors": 'x{code="5xx"}', "total": "x"}},
                },
            }
        )
    )


def measurement_for(error_ratio: float, target: SLO, elapsed_fraction: float = 1.0) -> Measurement:
    """What Prometheus would report for a constant error ratio (same formulas as the rules)."""
    budget = float(target.error_budget)
    burn = error_ratio / budget
    remaining = 1 - burn * elapsed_fraction
    burn_rates = {a.long: burn for a in target.alerts} | {a.short: burn for a in target.alerts}
    tte = max(remaining, 0) * target.window / burn if burn > 0 else None
    return Measurement(
        sli=1 - error_ratio,
        remaining=remaining,
        time_to_exhaustion=tte,
        burn_rates=burn_rates,
        has_traffic_series=True,
    )


@pytest.mark.parametrize(
    ("error_ratio", "state"),
    [
        (0.0, "Meeting"),
        (0.0005, "Meeting"),
        (0.00095, "AtRisk"),
        (0.002, "Violating"),
        (0.02, "Violating"),
    ],
)
def test_state_follows_budget_and_alerts(error_ratio: float, state: str) -> None:
    target = slo()
    result = measured_status(target, measurement_for(error_ratio, target))
    assert result.fields["state"] == state
    calc = ErrorBudgetCalculator(99.9, 30)
    assert result.fields["errorBudget"]["remaining"] == pytest.approx(
        100 * calc.remaining_budget(error_ratio, 30), abs=0.01
    )
    assert result.fields["sli"] == pytest.approx(100 * (1 - error_ratio))


def test_half_spent_budget_with_fast_burn_is_at_risk_and_firing() -> None:
    target = slo()
    fast = measurement_for(0.02, target, elapsed_fraction=0.01)  # burn 20 for 7 hours of the month
    result = measured_status(target, fast)
    assert result.fields["state"] == "AtRisk"
    assert result.firing
    assert [b["firing"] for b in result.fields["burnRates"]] == [True, True]
    calc = ErrorBudgetCalculator(99.9, 30)
    expected = calc.time_to_exhaustion(0.02, 0.3)
    assert expected is not None
    assert result.fields["timeToExhaustion"] == human_duration(expected.total_seconds())


@pytest.mark.parametrize(
    ("remaining", "state"),
    [
        (0.5, "Meeting"),
        (0.1001, "Meeting"),
        (0.1, "Meeting"),  # "less than 10% left": exactly 10% is not at risk yet
        (0.0999, "AtRisk"),
        (0.0001, "AtRisk"),
        (0.0, "Violating"),
        (-0.5, "Violating"),
    ],
)
def test_at_risk_below_a_tenth_of_the_budget_without_any_alert(remaining: float, state: str) -> None:
    """Both sides of the AtRisk limit (README: less than 10% of the budget left), with every burn rate
    far below its threshold, so only the budget left decides."""
    target = slo()
    calm = {window: 0.5 for a in target.alerts for window in (a.long, a.short)}
    result = measured_status(target, Measurement(sli=0.999, remaining=remaining, burn_rates=calm))
    assert not result.firing
    assert result.fields["state"] == state


def test_at_risk_limit_holds_on_a_partly_covered_window() -> None:
    """On a young SLO the same limit turns Warming into AtRisk."""
    target = slo()
    calm = {window: 0.5 for a in target.alerts for window in (a.long, a.short)}
    young = Coverage(30 * 86400, RAW, 3 * 86400, NOW.timestamp() - 3 * 86400)
    states = {
        remaining: measured_status(target, Measurement(sli=0.999, remaining=remaining, burn_rates=calm),
                                   young).fields["state"]
        for remaining in (0.1001, 0.0999)
    }
    assert states == {0.1001: "Warming", 0.0999: "AtRisk"}


@pytest.mark.parametrize(
    ("long_factor", "short_factor", "firing"),
    [
        (1.001, 1.001, True), (1.0, 1.001, False), (1.001, 1.0, False), (0.999, 2.0, False),
        (2.0, 0.999, False),
    ],
)
def test_an_alert_condition_holds_only_when_both_windows_exceed_the_threshold(
    long_factor: float, short_factor: float, firing: bool
) -> None:
    """``firing`` and AtRisk follow the rule's ``>``: both windows strictly above the threshold."""
    target = slo()
    first = target.alerts[0]
    rates = {window: 0.1 for a in target.alerts for window in (a.long, a.short)}
    rates[first.long] = float(first.threshold) * long_factor
    rates[first.short] = float(first.threshold) * short_factor
    result = measured_status(target, Measurement(sli=0.999, remaining=0.9, burn_rates=rates))
    assert result.firing is firing
    assert result.fields["burnRates"][0]["firing"] is firing
    assert result.fields["state"] == ("AtRisk" if firing else "Meeting")


def test_no_data_is_its_own_state() -> None:
    result = measured_status(slo(), None)
    assert result.fields["state"] == "NoData" and result.fields["sli"] is None
    assert not result.firing


def test_prometheus_down_keeps_numbers_and_time() -> None:
    target = slo()
    first = refreshed_status(target, {}, measurement_for(0.0005, target), True, "", NOW)
    later = NOW + timedelta(minutes=5)
    down = refreshed_status(target, first, None, False, "connection refused", later)
    assert down["sli"] == first["sli"] and down["lastEvaluated"] == first["lastEvaluated"]
    reachable = next(c for c in down["conditions"] if c["type"] == "PrometheusReachable")
    assert reachable["status"] == "False" and "connection refused" in reachable["message"]
    ready = next(c for c in down["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert ("PrometheusReachable", "True", "False") in transitions(first["conditions"], down["conditions"])


def test_unknown_before_first_measurement_when_prometheus_is_down() -> None:
    status = refreshed_status(slo(), {}, None, False, "refused", NOW)
    assert status["state"] == "Unknown"


def test_condition_keeps_transition_time_and_position() -> None:
    conditions: list[dict[str, Any]] = []
    conditions = set_condition(conditions, "Valid", "True", "SpecValid", "", NOW)
    conditions = set_condition(conditions, "Ready", "True", "Ready", "", NOW)
    later = set_condition(conditions, "Valid", "True", "SpecValid", "still", NOW + timedelta(hours=1))
    assert [c["type"] for c in later] == ["Valid", "Ready"]
    assert later[0]["lastTransitionTime"] == conditions[0]["lastTransitionTime"]
    flipped = set_condition(conditions, "Valid", "False", "InvalidSpec", "bad", NOW + timedelta(hours=1))
    assert flipped[0]["lastTransitionTime"] == "2026-11-29T13:00:00Z"


def test_unchanged_refresh_does_not_write_until_heartbeat() -> None:
    target = slo()
    measured = measurement_for(0.0005, target)
    first = refreshed_status(target, {}, measured, True, "", NOW)
    assert needs_write({}, first, NOW, 300)
    again = refreshed_status(target, first, measured, True, "", NOW + timedelta(seconds=60))
    assert not needs_write(first, again, NOW + timedelta(seconds=60), 300)
    beat = refreshed_status(target, first, measured, True, "", NOW + timedelta(seconds=301))
    assert needs_write(first, beat, NOW + timedelta(seconds=301), 300)
    moved = refreshed_status(
        target, first, measurement_for(0.0009, target), True, "", NOW + timedelta(seconds=60)
    )
    assert needs_write(first, moved, NOW + timedelta(seconds=60), 300)


def test_null_members_count_as_absent_as_the_api_server_stores_them() -> None:
    """A merge patch's nulls delete: the stored status lacks them, and must not look changed each cycle."""
    stored = {"forecast": {"model": "insufficient-history"}, "lastEvaluated": "2026-11-29T12:00:00Z"}
    new = {"forecast": {"model": "insufficient-history", "budgetConsumed": None, "interval": None},
           "lastEvaluated": "2026-11-29T12:01:00Z"}
    assert not needs_write(stored, new, NOW, 300)
    assert needs_write(stored, {**new, "forecast": {"model": "seasonal"}}, NOW, 300)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0m"),
        (1, "1m"),  # any time left reads as at least a minute, never as none
        (30, "1m"),
        (59 * 60, "59m"),
        (3600, "1h"),
        (3660, "1h1m"),
        (86400, "1d"),
        (90000, "1d1h"),
    ],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text
