"""The status the operator writes, computed from measurements (pure functions)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slo_operator.api import ServiceLevelObjective
from slo_operator.budget import ErrorBudgetCalculator
from slo_operator.coverage import RAW, RECORDED, Coverage, RawFigures, indicator_hash
from slo_operator.model import SLO, resolve
from slo_operator.prometheus import Measurement
from slo_operator.spend import COST_PER_UNIT, COST_SPENT
from slo_operator.status import (
    cost_status,
    human_duration,
    measured_status,
    needs_write,
    refreshed_status,
    set_condition,
    transitions,
    window_condition,
    window_measurement,
    with_ready,
)
from support.slo_documents import cost_slo

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


def test_null_members_of_list_items_count_as_absent() -> None:
    """A burn rate whose long window has no value yet (a young SLO's 1d window) is stored without it: the
    refresh must not rewrite the status every cycle for it."""
    rate = {"name": "SLOSlowBurn", "shortBurnRate": 0, "threshold": 3}
    stored = {"burnRates": [rate], "lastEvaluated": "2026-11-29T12:00:00Z"}
    new = {"burnRates": [{**rate, "longBurnRate": None}], "lastEvaluated": "2026-11-29T12:01:00Z"}
    assert not needs_write(stored, new, NOW, 300)
    assert needs_write(stored, {**new, "burnRates": [{**rate, "longBurnRate": 0.5}]}, NOW, 300)


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


DAY = 86400
PARTIAL_NOTE = (
    "the budget counts the bad events so far against the whole window's budget and the state is Warming "
    "unless that is spent"
)


@pytest.mark.parametrize(
    ("coverage", "expected"),
    [
        (Coverage(30 * DAY, RECORDED, 30 * DAY, NOW.timestamp() - 31 * DAY),
         ("True", "Recorded",
          "the recorded series cover the whole 30d window (recorded series since 2026-10-29T12:00:00Z)")),
        (Coverage(30 * DAY, RAW, 30 * DAY, NOW.timestamp() - 2 * DAY),
         ("True", "RawHistory",
          "recorded series since 2026-11-27T12:00:00Z; the 30d figures come from raw history, which "
          "covers it")),
        (Coverage(30 * DAY, RAW, 30 * DAY, None),
         ("True", "RawHistory", "nothing recorded yet for the current indicator; the 30d figures come from "
          "raw history, which covers it")),
        (Coverage(30 * DAY, RAW, 3 * DAY + 3600, NOW.timestamp() - DAY),
         ("False", "PartialHistory",
          "data covers 10.1% (3d) of the 30d window (recorded series since 2026-11-28T12:00:00Z); "
          f"{PARTIAL_NOTE}")),
        (Coverage(30 * DAY, RECORDED, 60, None),
         ("False", "PartialHistory",
          "data covers 0% (0m) of the 30d window (nothing recorded yet for the current indicator); "
          f"{PARTIAL_NOTE}")),
        (Coverage(30 * DAY, RECORDED, 30 * DAY - 3600, NOW.timestamp() - 30 * DAY + 3600),
         ("False", "PartialHistory", "data covers 99.8% (29d22h) of the 30d window (recorded series since "
          f"2026-10-30T13:00:00Z); {PARTIAL_NOTE}")),
    ],
    ids=["recorded", "raw", "raw-nothing-recorded", "partial-raw", "partial-recorded", "an-hour-short"],
)
def test_window_covered_says_where_the_figures_come_from_and_how_much_they_span(
    coverage: Coverage, expected: tuple[str, str, str]
) -> None:
    """The WindowCovered condition, exactly as a reader sees it: complete from the recorded series or
    from raw history (with or without anything recorded yet), or partial with the span covered."""
    assert window_condition(slo(), coverage) == expected


def test_the_heartbeat_rewrites_an_unchanged_status_from_exactly_its_period() -> None:
    target = slo()
    measured = measurement_for(0.0005, target)
    first = refreshed_status(target, {}, measured, True, "", NOW)
    for seconds, write in ((299, False), (300, True)):
        later = NOW + timedelta(seconds=seconds)
        again = refreshed_status(target, first, measured, True, "", later)
        assert needs_write(first, again, later, 300) is write


def test_prometheus_down_longer_than_the_heartbeat_writes_once_not_every_cycle() -> None:
    """Down, the numbers and lastEvaluated are kept: the first cycle writes the condition, later ones
    have nothing new to say, however old lastEvaluated grows (the heartbeat is for fresh evaluations)."""
    target = slo()
    up = refreshed_status(target, {}, measurement_for(0.0005, target), True, "", NOW)
    down_at = NOW + timedelta(minutes=1)
    down = refreshed_status(target, up, None, False, "connection refused", down_at)
    assert needs_write(up, down, down_at, 300)
    hours_later = NOW + timedelta(hours=3)
    still_down = refreshed_status(target, down, None, False, "connection refused", hours_later)
    assert still_down["lastEvaluated"] == down["lastEvaluated"] == up["lastEvaluated"]
    assert not needs_write(down, still_down, hours_later, 300)


def test_a_first_or_unreadable_last_evaluated_is_written_even_when_nothing_else_changed() -> None:
    target = slo()
    new = refreshed_status(target, {}, measurement_for(0.0005, target), True, "", NOW)
    never = {k: v for k, v in new.items() if k != "lastEvaluated"}
    assert needs_write(never, new, NOW, 300)
    assert needs_write({**new, "lastEvaluated": ""}, new, NOW, 300)
    assert needs_write({**new, "lastEvaluated": "yesterday"}, new, NOW, 300)
    assert not needs_write(new, dict(new), NOW, 300)


def test_cost_status_without_a_budget_or_without_figures() -> None:
    """No budget: no spend figure (a spend series left from a removed budget is not shown) and no budget;
    no figures yet: the budget alone. Other kinds have no cost status."""
    unbudgeted = cost_slo(None)
    leftover = Measurement(cost={COST_SPENT: 12.0, COST_PER_UNIT: 0.000123456})
    assert cost_status(unbudgeted, leftover) == {
        "spent": None, "budget": None, "currency": None,
        "forecastEndOfPeriod": None, "perUnit": 0.0001235,
    }
    budgeted = cost_slo({"amount": "2000", "currency": "EUR"})
    assert cost_status(budgeted, None) == {
        "spent": None, "budget": 2000.0, "currency": "EUR", "forecastEndOfPeriod": None, "perUnit": None,
    }
    assert cost_status(slo(), leftover) is None


def test_prometheus_down_is_a_query_failure_with_the_error_as_message() -> None:
    status = refreshed_status(slo(), {}, None, False, "connection refused", NOW)
    reachable = next(c for c in status["conditions"] if c["type"] == "PrometheusReachable")
    assert reachable == {"type": "PrometheusReachable", "status": "False", "reason": "QueryFailed",
                         "message": "connection refused", "lastTransitionTime": "2026-11-29T12:00:00Z"}


@pytest.mark.parametrize("error_ratio", [0.0005, 0.00095, 0.002])
def test_prometheus_down_keeps_the_last_state(error_ratio: float) -> None:
    """Unknown only before the first measurement: a known state is kept while Prometheus is down."""
    target = slo()
    up = refreshed_status(target, {}, measurement_for(error_ratio, target), True, "", NOW)
    down = refreshed_status(target, up, None, False, "refused", NOW + timedelta(minutes=1))
    assert up["state"] in ("Meeting", "AtRisk", "Violating")
    assert down["state"] == up["state"]


def conditions_of(**statuses: tuple[str, str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for type_, (status, reason) in statuses.items():
        found = set_condition(found, type_, status, reason, "", NOW)
    return found


GOOD = {"Valid": ("True", "SpecValid"), "RulesApplied": ("True", "Applied")}


@pytest.mark.parametrize(
    ("statuses", "message"),
    [
        (GOOD, None),
        ({**GOOD, "PrometheusReachable": ("True", "QueriesSucceeded"), "RoutingReady": ("True", "Ready")},
         None),
        ({**GOOD, "Valid": ("False", "InvalidSpec")}, "the spec is not valid"),
        ({"Valid": ("False", "InvalidSpec")}, "the spec is not valid; the rules are not applied"),
        ({**GOOD, "RulesApplied": ("False", "ApplyFailed")}, "the rules are not applied"),
        ({**GOOD, "RulesApplied": ("False", "RejectedByPrometheusOperator")},
         "prometheus-operator rejected the rules"),
        ({**GOOD, "PrometheusReachable": ("False", "QueryFailed")}, "Prometheus is unreachable"),
        ({**GOOD, "RoutingReady": ("False", "RejectedByPrometheusOperator")},
         "prometheus-operator rejected the alert routing"),
        ({**GOOD, "RoutingReady": ("False", "SecretNotFound")}, "alert routing refers to a missing Secret"),
        ({**GOOD, "RoutingReady": ("False", "KeyNotFound")}, "alert routing refers to a missing Secret"),
        ({**GOOD, "RoutingReady": ("False", "ApplyFailed")}, "alert routing is not ready"),
        ({"Valid": ("True", "SpecValid"), "RulesApplied": ("False", "RejectedByPrometheusOperator"),
          "PrometheusReachable": ("False", "QueryFailed"), "RoutingReady": ("False", "KeyNotFound")},
         "prometheus-operator rejected the rules; Prometheus is unreachable; alert routing refers to a "
         "missing Secret"),
    ],
    ids=["ready", "ready-all-known", "invalid", "invalid-unapplied", "unapplied", "rules-rejected",
         "unreachable", "routing-rejected", "secret-missing", "key-missing", "routing-not-ready", "several"],
)
def test_ready_names_every_problem_with_its_cause(
    statuses: dict[str, tuple[str, str]], message: str | None
) -> None:
    """Ready summarises the other conditions: unknown ones (no Prometheus reading yet, no routing) are no
    problem; each False one is named, with the cause its reason gives, in a fixed order."""
    (ready,) = [c for c in with_ready(conditions_of(**statuses), NOW) if c["type"] == "Ready"]
    if message is None:
        assert ready == {"type": "Ready", "status": "True", "reason": "Ready", "message":
                         "rules applied and measured", "lastTransitionTime": "2026-11-29T12:00:00Z"}
    else:
        assert ready == {"type": "Ready", "status": "False", "reason": "NotReady", "message": message,
                         "lastTransitionTime": "2026-11-29T12:00:00Z"}


def test_no_data_lists_every_alert_as_not_firing() -> None:
    assert measured_status(slo(), None).fields == {
        "sli": None, "errorBudget": None, "burnRate": None, "timeToExhaustion": None, "state": "NoData",
        "window": None,
        "burnRates": [
            {"name": "SLOFastBurn", "severity": "critical", "threshold": 14.4, "longWindow": "1h",
             "shortWindow": "5m", "firing": False},
            {"name": "SLOSlowBurn", "severity": "warning", "threshold": 3.0, "longWindow": "1d",
             "shortWindow": "1h", "firing": False},
        ],
    }


def test_measured_figures_are_rounded_to_what_a_person_reads() -> None:
    """SLI to 4 decimals of a percent, budget to 2, burn rates to 3, time left in days and hours; a
    window without a reading is null and its alert not firing."""
    rates = {"1h": 1.23456, "5m": 2.34567, "6h": 0.45678}
    measurement = Measurement(sli=0.99912345, remaining=0.123456, time_to_exhaustion=90061.0,
                              burn_rates=rates)
    assert measured_status(slo(), measurement).fields == {
        "sli": 99.9123, "errorBudget": {"remaining": 12.35, "consumed": 87.65}, "burnRate": 1.235,
        "timeToExhaustion": "1d1h", "state": "Meeting", "window": None,
        "burnRates": [
            {"name": "SLOFastBurn", "severity": "critical", "threshold": 14.4, "longWindow": "1h",
             "longBurnRate": 1.235, "shortWindow": "5m", "shortBurnRate": 2.346, "firing": False},
            {"name": "SLOSlowBurn", "severity": "warning", "threshold": 3.0, "longWindow": "1d",
             "longBurnRate": None, "shortWindow": "1h", "shortBurnRate": 1.235, "firing": False},
        ],
    }


def test_young_window_figures_count_the_bad_events_so_far_against_the_whole_budget() -> None:
    """On a partly covered window the SLI, budget left and time to exhaustion come from the raw history
    (or the recorded series when there is none), the budget against the whole window's budget, and the
    time left at the current (1h) burn rate: spent is no time left, no burn is no estimate."""
    target = slo()
    now = NOW.timestamp()
    since = {indicator_hash(target): now - 2 * DAY}
    recorded = Measurement(sli=0.999, remaining=0.5, burn_rates={"1h": 2.0, "5m": 2.0}, recording_since=since)
    ten_days_raw = RawFigures(0.0005, now - 10 * DAY)  # covers 10d and a 1h grid step: 867,600 s

    young, coverage = window_measurement(target, recorded, ten_days_raw, now)
    assert (coverage.source, coverage.covered) == (RAW, 867600)
    assert young is not None and young.sli == pytest.approx(0.9995)
    assert young.remaining == pytest.approx(1 - 0.5 * 867600 / (30 * DAY))  # 0.8326
    assert young.time_to_exhaustion == pytest.approx(young.remaining * 30 * DAY / 2.0)
    assert young.burn_rates == recorded.burn_rates

    first, _ = window_measurement(target, None, ten_days_raw, now)  # nothing recorded yet
    assert first is not None and first.remaining == pytest.approx(young.remaining)
    assert first.time_to_exhaustion is None and first.burn_rates == {}

    from_recorded, coverage = window_measurement(target, recorded, None, now)
    assert (coverage.source, coverage.covered) == (RECORDED, 2 * DAY)
    assert from_recorded is not None and from_recorded.sli == 0.999
    assert from_recorded.remaining == pytest.approx(1 - 1.0 * 2 / 30)
    assert from_recorded.time_to_exhaustion == pytest.approx((1 - 2 / 30) * 30 * DAY / 2.0)

    spent, _ = window_measurement(target, recorded, RawFigures(0.1, now - 10 * DAY), now)
    assert spent is not None and spent.remaining is not None and spent.remaining < 0
    assert spent.time_to_exhaustion == 0.0
    calm = replace(recorded, burn_rates={"1h": 0.0, "5m": 0.0})
    not_burning, _ = window_measurement(target, calm, ten_days_raw, now)
    assert not_burning is not None and not_burning.time_to_exhaustion is None


def test_observed_generation_is_set_when_given_and_kept_otherwise() -> None:
    conditions = set_condition([], "RulesApplied", "True", "Applied", "", NOW, generation=3)
    assert conditions[0]["observedGeneration"] == 3
    later = NOW + timedelta(minutes=5)
    kept = set_condition(conditions, "RulesApplied", "True", "Applied", "again", later)
    assert kept[0]["observedGeneration"] == 3 and kept[0]["message"] == "again"
    newer = set_condition(kept, "RulesApplied", "False", "ApplyFailed", "no", later, generation=4)
    assert newer == [{"type": "RulesApplied", "status": "False", "reason": "ApplyFailed", "message": "no",
                      "lastTransitionTime": "2026-11-29T12:05:00Z", "observedGeneration": 4}]
    plain = set_condition([], "Ready", "True", "Ready", "", NOW)
    assert "observedGeneration" not in set_condition(plain, "Ready", "True", "Ready", "", later)[0]


def test_a_condition_stored_without_transition_time_gets_one() -> None:
    stored = [{"type": "Valid", "status": "True", "reason": "SpecValid", "message": ""}]
    (condition,) = set_condition(stored, "Valid", "True", "SpecValid", "", NOW)
    assert condition["lastTransitionTime"] == "2026-11-29T12:00:00Z"


def test_a_successful_refresh_says_prometheus_was_read() -> None:
    status = refreshed_status(slo(), {}, measurement_for(0.0005, slo()), True, "", NOW)
    reachable = next(c for c in status["conditions"] if c["type"] == "PrometheusReachable")
    assert reachable == {"type": "PrometheusReachable", "status": "True", "reason": "QueriesSucceeded",
                         "message": "recorded SLO series read from Prometheus",
                         "lastTransitionTime": "2026-11-29T12:00:00Z"}


def test_the_refresh_keeps_status_window_steady_while_coverage_grows_slowly() -> None:
    """The refresh hands the stored ``window`` to the hysteresis: 0.67 points more coverage and 30 s of
    jitter in the start keep it as it was; a full point more moves it."""
    target = slo()
    start = NOW.timestamp() - 3 * DAY
    measured = Measurement(sli=0.9995, remaining=0.9, burn_rates={"1h": 0.5, "5m": 0.5})
    first = refreshed_status(target, {}, measured, True, "", NOW, Coverage(30 * DAY, RAW, 3 * DAY, start))
    assert first["window"] == {"covered": 10.0, "since": "2026-11-26T12:00:00Z", "source": RAW}
    later = NOW + timedelta(minutes=1)
    grown = Coverage(30 * DAY, RAW, 3.2 * DAY, start + 30)
    assert refreshed_status(target, first, measured, True, "", later, grown)["window"] == first["window"]
    moved = Coverage(30 * DAY, RAW, 3.4 * DAY, start)
    assert refreshed_status(target, first, measured, True, "", later, moved)["window"]["covered"] == 11.3


def test_a_warming_slo_is_not_rewritten_every_minute_while_its_coverage_grows() -> None:
    """The WindowCovered message says the held coverage, not the live span: refreshes a minute, then an
    hour, later (coverage and recording start moving a little) need no write until the heartbeat, and a
    full COVERED_STEP more rewrites the status with the message and ``status.window`` in agreement."""
    target = slo()
    start = NOW.timestamp() - 3 * DAY
    measured = Measurement(sli=0.9995, remaining=0.9, burn_rates={"1h": 0.5, "5m": 0.5})
    first = refreshed_status(target, {}, measured, True, "", NOW, Coverage(30 * DAY, RAW, 3 * DAY, start))
    for later in (NOW + timedelta(minutes=1), NOW + timedelta(hours=1)):
        grown = Coverage(30 * DAY, RAW, 3 * DAY + (later - NOW).total_seconds(), start + 30)
        new = refreshed_status(target, first, measured, True, "", later, grown)
        assert not needs_write(first, new, later, heartbeat_seconds=3 * 3600), later
    eight_hours = NOW + timedelta(hours=8)
    wider = Coverage(30 * DAY, RAW, 3.4 * DAY, start)
    moved = refreshed_status(target, first, measured, True, "", eight_hours, wider)
    assert needs_write(first, moved, eight_hours, heartbeat_seconds=24 * 3600)
    covered = next(c for c in moved["conditions"] if c["type"] == "WindowCovered")
    assert covered["message"].startswith("data covers 11.3% (3d9h) of the 30d window"), covered


def test_the_recording_start_is_written_in_utc_whatever_the_operators_time_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    coverage = Coverage(30 * DAY, RAW, 3 * DAY, NOW.timestamp() - 3 * DAY)
    expected = window_condition(slo(), coverage)
    assert "since 2026-11-26T12:00:00Z" in expected[2]
    monkeypatch.setenv("TZ", "EST+5")
    time.tzset()
    try:
        assert window_condition(slo(), coverage) == expected
    finally:
        monkeypatch.undo()
        time.tzset()


def test_no_data_is_neither_firing_nor_exhausted() -> None:
    target = slo()
    result = measured_status(target, None)
    assert result.firing is False and result.exhausted is False
    status = refreshed_status(target, {}, None, True, "", NOW)
    exhausted = next(c for c in status["conditions"] if c["type"] == "BudgetExhausted")
    assert [exhausted[k] for k in ("status", "reason", "message")] == ["False", "BudgetLeft", "no data"]
    quiet = resolve(ServiceLevelObjective.model_validate({
        "apiVersion": "slo.mlops.dev/v1alpha1", "kind": "ServiceLevelObjective",
        "metadata": {"name": "quiet", "namespace": "prod"},
        "spec": {"service": "api", "objective": 99.9, "alerting": {"burnRates": []},
                 "indicator": {"availability": {"errors": 'x{code="5xx"}', "total": "x"}}},
    }))
    measured = measured_status(quiet, Measurement(sli=0.9995, remaining=0.5, burn_rates={"1h": 0.5}))
    assert measured.firing is False and measured.exhausted is False and measured.fields["burnRates"] == []


@pytest.mark.parametrize(
    ("error_ratio", "expected"),
    [
        (0.002, ["True", "BudgetSpent", "the 30d error budget is used up (SLI 99.8% < objective 99.9%)"]),
        (0.0005, ["False", "BudgetLeft", "error budget left"]),
    ],
)
def test_budget_exhausted_condition_as_written(error_ratio: float, expected: list[str]) -> None:
    target = slo()
    status = refreshed_status(target, {}, measurement_for(error_ratio, target), True, "", NOW)
    exhausted = next(c for c in status["conditions"] if c["type"] == "BudgetExhausted")
    assert [exhausted[k] for k in ("status", "reason", "message")] == expected


def test_an_sli_without_a_budget_reading_has_no_error_budget() -> None:
    fields = measured_status(slo(), Measurement(sli=0.9995, remaining=None, burn_rates={})).fields
    assert fields["errorBudget"] is None and fields["sli"] == 99.95 and fields["state"] == "Meeting"


def test_a_covered_window_keeps_its_recorded_figures_even_with_raw_history_at_hand() -> None:
    target = slo()
    now = NOW.timestamp()
    recorded = Measurement(sli=0.9996, remaining=0.6, time_to_exhaustion=1e6, burn_rates={"1h": 0.4},
                           recording_since={indicator_hash(target): now - 31 * DAY})
    measurement, coverage = window_measurement(target, recorded, RawFigures(0.01, now - 40 * DAY), now)
    assert coverage.source == RECORDED and coverage.complete
    assert measurement is recorded
