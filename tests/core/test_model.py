"""The resolved model: default burn-rate alerts and their scaling, thresholds, base window, exact()."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from slo_operator import model
from slo_operator.model import (
    SLO,
    THIRTY_DAYS,
    WINDOW_FLOOR,
    ResolvedAlert,
    burn_rate_threshold,
    default_alerts,
    exact,
)
from support.slo_documents import resolved, slo_document

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "manifests" / "examples"
DAY = 86400


def document(**spec: Any) -> dict[str, Any]:
    return slo_document("test-slo", "team-a", **spec)


def slo_of(**spec: Any) -> SLO:
    return resolved(document(**spec))


def example(name: str) -> SLO:
    return resolved(yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text()))


def derived_budget(alert: ResolvedAlert, window: int) -> Fraction:
    """The exact budget share a default alert's threshold spends within its long window."""
    return Fraction(alert.threshold) * Fraction(alert.long_window, window) * 100


def close_to(value: Decimal, expected: Fraction) -> bool:
    """``value`` is ``expected`` to the 12 significant digits model rounds derived numbers to."""
    return abs(Fraction(value) - expected) <= expected * Fraction(5, 10**12)


def summary(alert: ResolvedAlert) -> tuple[Any, ...]:
    return (
        alert.name,
        alert.severity,
        alert.budget_percent,
        alert.long_window,
        alert.short_window,
        alert.threshold,
    )


# ---- defaults for 30 days -------------------------------------------------------------------------------


def test_default_alerts_for_30_days() -> None:
    fast, slow = default_alerts(30 * DAY)
    assert summary(fast) == ("SLOFastBurn", "critical", Decimal(2), 3600, 300, Decimal("14.4"))
    assert summary(slow) == ("SLOSlowBurn", "warning", Decimal(10), 86400, 3600, Decimal(3))
    for alert in (fast, slow):
        assert isinstance(alert.threshold, Decimal)
        assert isinstance(alert.budget_percent, Decimal)
        assert alert.for_ is None
    assert (fast.long, fast.short, slow.long, slow.short) == ("1h", "5m", "1d", "1h")
    assert exact(fast.threshold) == "14.4"
    assert exact(slow.threshold) == "3"


def test_resolved_slo_uses_the_defaults() -> None:
    slo = slo_of()
    assert slo.alerts == default_alerts(30 * DAY)
    assert slo.objective == Decimal("0.999")
    assert slo.error_budget == Decimal("0.001")
    assert slo.window == 30 * DAY
    assert slo.method == "Occurrences"
    assert slo.alerting_enabled
    assert slo.base_window == 300
    assert slo.windows == (300, 3600, 86400, 30 * DAY)
    assert slo.current_burn_window == 3600
    assert slo.key == "team-a/test-slo"


# ---- scaling to other windows ---------------------------------------------------------------------------


def test_default_alerts_for_7_days() -> None:
    fast, slow = default_alerts(7 * DAY)
    # 1h * 7/30 = 14m; 5m * 7/30 = 70s -> floored to 5m.
    assert summary(fast) == ("SLOFastBurn", "critical", Decimal(2), 14 * 60, WINDOW_FLOOR, Decimal("14.4"))
    # 24h * 7/30 = 5h36m; 1h * 7/30 = 14m.
    assert summary(slow) == ("SLOSlowBurn", "warning", Decimal(10), 5 * 3600 + 36 * 60, 14 * 60, Decimal(3))
    assert (fast.long, fast.short, slow.long, slow.short) == ("14m", "5m", "5h36m", "14m")


def test_default_alerts_for_24_hours() -> None:
    fast, slow = default_alerts(DAY)
    # Short windows hit the floor; long windows are kept at least twice the short window.
    assert (fast.short_window, slow.short_window) == (WINDOW_FLOOR, WINDOW_FLOOR)
    assert fast.long_window == 2 * WINDOW_FLOOR
    assert slow.long_window == 48 * 60  # 24h / 30
    # The 30d thresholds are kept, so the budget share follows from the windows actually used.
    assert fast.threshold == Decimal("14.4")
    assert fast.budget_percent == Decimal(10)  # 14.4 * 10m / 24h
    assert slow.threshold == Decimal(3)
    assert slow.budget_percent == Decimal(10)  # 3 * 48m / 24h
    assert fast.threshold > slow.threshold > 1
    assert (fast.long, fast.short, slow.long, slow.short) == ("10m", "5m", "48m", "5m")
    assert exact(fast.budget_percent) == "10" and exact(slow.budget_percent) == "10"


def test_24h_example_resolves_with_scaled_alerts() -> None:
    slo = example("accuracy")
    assert slo.window == DAY
    assert slo.error_budget == Decimal("0.15")
    assert slo.alerts == default_alerts(DAY, Decimal("0.15"))
    fast, slow = slo.alerts
    # At 85% the highest possible burn rate is 1/0.15 = 6.67: the page is capped at half of it.
    assert exact(fast.threshold) == "3.33333333333"
    assert abs(Fraction(fast.threshold) - Fraction(10, 3)) <= Fraction(1, 10**11)
    assert fast.threshold * slo.error_budget <= Decimal("0.5")
    assert close_to(fast.budget_percent, derived_budget(fast, DAY))  # 3.33 * 10m / 24h = 2.31%
    assert slow.threshold == Decimal(3)  # under the cap, kept
    assert slow.budget_percent == Decimal(10)
    assert (fast.long_window, fast.short_window) == (600, WINDOW_FLOOR)
    assert (slow.long_window, slow.short_window) == (48 * 60, WINDOW_FLOOR)


@pytest.mark.parametrize(
    ("objective", "fast", "slow"),
    [
        ("0.999", "14.4", "3"),
        ("0.99", "14.4", "3"),
        ("0.95", "10", "3"),  # 1 / (2 * 0.05)
        ("0.85", "3.33333333333", "3"),
        ("0.8", "2.5", "2.5"),
        ("0.5", "1", "1"),  # never below 1: a burn rate of 1 spends exactly the budget
        ("0.1", "1", "1"),
    ],
)
def test_default_thresholds_are_capped_by_the_reachable_burn_rate(
    objective: str, fast: str, slow: str
) -> None:
    budget = 1 - Decimal(objective)
    alerts = default_alerts(30 * DAY, budget)
    assert [exact(a.threshold) for a in alerts] == [fast, slow]
    assert [(a.long_window, a.short_window) for a in alerts] == [(3600, 300), (DAY, 3600)]
    for alert in alerts:
        # The windows are unchanged; the budget share is derived from the threshold.
        assert close_to(alert.budget_percent, derived_budget(alert, 30 * DAY))
        assert alert.threshold * budget <= Decimal("0.5") or alert.threshold == 1


# Every window the API accepts is at least 1h; cover single-unit spellings up to a year.
api_windows = st.one_of(
    st.integers(1, 24 * 365).map(lambda h: h * 3600),
    st.integers(1, 365).map(lambda d: d * DAY),
    st.integers(1, 52).map(lambda w: w * 7 * DAY),
    st.integers(60, 60 * 24 * 365).map(lambda m: m * 60),
)


@given(api_windows, st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("0.9999"), places=4))
def test_default_thresholds_are_ordered_and_reachable(window: int, error_budget: Decimal) -> None:
    fast, slow = default_alerts(window, error_budget)
    assert fast.threshold >= slow.threshold >= 1
    for alert in (fast, slow):
        assert alert.threshold <= Fraction(window, alert.long_window)  # at most the whole budget
        assert alert.budget_percent <= 100
        # At most half the highest possible burn rate (up to the 12 significant digits kept).
        reachable = max(Fraction(1), 1 / (2 * Fraction(error_budget)))
        assert Fraction(alert.threshold) <= reachable * (1 + Fraction(5, 10**12))
        assert alert.threshold * error_budget < 1  # the error ratio can reach it
        assert close_to(alert.budget_percent, derived_budget(alert, window))


@given(api_windows)
def test_scaled_windows_respect_floor_and_order(window: int) -> None:
    alerts = default_alerts(window)
    assert [a.name for a in alerts] == ["SLOFastBurn", "SLOSlowBurn"]
    for alert in alerts:
        assert alert.short_window >= WINDOW_FLOOR
        assert alert.long_window > alert.short_window
        assert alert.long_window >= 2 * alert.short_window
        assert alert.long_window <= window
        assert alert.short_window % 60 == 0 and alert.long_window % 60 == 0  # whole minutes
    fast, slow = alerts
    assert fast.long_window <= slow.long_window
    assert fast.short_window <= slow.short_window


@given(api_windows)
def test_scaled_thresholds_follow_the_formula_exactly(window: int) -> None:
    for alert, (_, _, percent, long30, _) in zip(
        default_alerts(window), model.DEFAULT_BURN_RATES, strict=True
    ):
        # The 30d profile's threshold is kept, capped at spending the whole budget within the long window.
        profile = Fraction(percent, 100) * Fraction(THIRTY_DAYS, long30)
        assert Fraction(alert.threshold) == min(profile, Fraction(window, alert.long_window))
        expected = Fraction(alert.budget_percent) / 100 * Fraction(window, alert.long_window)
        if Fraction(alert.budget_percent) == derived_budget(alert, window):
            # The derived budget share terminates: threshold == budget% / 100 * window / long, exactly.
            assert Fraction(alert.threshold) == expected
            assert alert.threshold == burn_rate_threshold(alert.budget_percent, window, alert.long_window)
        else:
            # It is rounded to 12 significant digits (3h: 3 * 10m / 3h = 16.66...%).
            assert abs(Fraction(alert.threshold) - expected) <= expected * Fraction(5, 10**12)


@given(st.integers(2, 1000))
def test_windows_scale_linearly_when_no_floor_applies(days: int) -> None:
    # From 5d up, nothing is floored: every window is the 30d one times days/30 (rounded to minutes).
    window = days * DAY
    for alert, (_, _, percent, long30, short30) in zip(
        default_alerts(window), model.DEFAULT_BURN_RATES, strict=True
    ):
        if short30 * days / 30 >= WINDOW_FLOOR:
            assert abs(alert.short_window - short30 * days / 30) <= 30
        # The 30d thresholds (14.4 and 3) are kept on every window of 2d or more.
        assert alert.threshold == burn_rate_threshold(Decimal(percent), THIRTY_DAYS, long30)
        if long30 * days / 30 >= 2 * alert.short_window:
            assert abs(alert.long_window - long30 * days / 30) <= 30
            # Long windows of the defaults scale to whole minutes, so the budget share is kept exactly.
            assert alert.long_window * 30 == long30 * days
            assert alert.budget_percent == percent
        else:
            # A floored long window is longer: the same threshold spends more of the budget.
            assert alert.long_window > long30 * days / 30
            assert alert.budget_percent > percent


@pytest.mark.parametrize("window", [3600, 6 * 3600, DAY], ids=["1h", "6h", "24h"])
def test_default_thresholds_stay_meaningful_on_short_windows(window: int) -> None:
    fast, slow = default_alerts(window)
    assert slow.threshold > 1
    assert fast.threshold > slow.threshold


# ---- custom burn rates ----------------------------------------------------------------------------------


def test_custom_burn_rates() -> None:
    slo = slo_of(
        alerting={
            "burnRates": [
                {
                    "name": "Page",
                    "severity": "critical",
                    "budgetPercent": 5,
                    "longWindow": "6h",
                    "shortWindow": "30m",
                    "for": "2m",
                },
                {
                    "name": "Ticket",
                    "severity": "warning",
                    "budgetPercent": 10,
                    "longWindow": "3d",
                    "shortWindow": "6h",
                },
                {
                    "name": "Odd",
                    "severity": "info",
                    "budgetPercent": 2.5,
                    "longWindow": "7h",
                    "shortWindow": "2m",
                },
            ]
        }
    )
    page, ticket, odd = slo.alerts
    assert summary(page) == ("Page", "critical", Decimal(5), 6 * 3600, 1800, Decimal(6))
    assert page.for_ == "2m"
    assert summary(ticket) == ("Ticket", "warning", Decimal(10), 3 * DAY, 6 * 3600, Decimal(1))
    assert ticket.for_ is None
    assert odd.budget_percent == Decimal("2.5")
    assert exact(odd.threshold) == "2.57142857143"  # 2.5% * 720h / 7h, 12 significant digits
    # The shortest short window (2m) is under the floor, so raw series are read over 2m.
    assert slo.base_window == 120
    assert slo.current_burn_window == 6 * 3600
    assert slo.windows == tuple(sorted({120, 1800, 6 * 3600, 7 * 3600, 3 * DAY, 30 * DAY}))


def test_custom_burn_rates_scale_with_window() -> None:
    slo = slo_of(
        window="7d",
        alerting={
            "burnRates": [
                {
                    "name": "A",
                    "severity": "critical",
                    "budgetPercent": 2,
                    "longWindow": "1h",
                    "shortWindow": "5m",
                }
            ]
        },
    )
    assert slo.alerts[0].threshold == Decimal("3.36")  # 2% * 168h / 1h


def test_empty_burn_rates_means_no_alerts() -> None:
    slo = slo_of(alerting={"burnRates": []})
    assert slo.alerts == ()
    assert slo.base_window == WINDOW_FLOOR
    assert slo.current_burn_window == 3600


# ---- base window ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "base"),
    [
        ({}, 300),
        ({"window": "7d"}, 300),
        ({"window": "24h"}, 300),
        ({"budgetingMethod": "Timeslices", "timeslices": {"goal": 95, "sliceSize": "1m"}}, 60),
        ({"budgetingMethod": "Timeslices", "timeslices": {"goal": 95}}, 300),
        ({"indicator": {"freshness": {"timestamp": "ts", "maxAge": "1h"}}}, WINDOW_FLOOR),
        (
            {
                "alerting": {
                    "burnRates": [
                        {
                            "name": "A",
                            "severity": "critical",
                            "budgetPercent": 2,
                            "longWindow": "1h",
                            "shortWindow": "1m",
                        }
                    ]
                }
            },
            60,
        ),
        (
            {
                "alerting": {
                    "burnRates": [
                        {
                            "name": "A",
                            "severity": "critical",
                            "budgetPercent": 2,
                            "longWindow": "2h",
                            "shortWindow": "10m",
                        }
                    ]
                }
            },
            300,  # never longer than the floor
        ),
    ],
    ids=[
        "default",
        "7d",
        "24h",
        "timeslices-1m",
        "timeslices-default-5m",
        "freshness",
        "short-1m",
        "short-10m",
    ],
)
def test_base_window(spec: dict[str, Any], base: int) -> None:
    slo = slo_of(**spec)
    assert slo.base_window == base
    assert slo.windows[0] == base


def test_resolved_examples() -> None:
    latency = example("latency")
    assert latency.kind == "latency"
    assert latency.latency_threshold == Decimal("0.2")
    assert latency.objective == Decimal("0.95")
    assert latency.selectors["good"].metric == "bentoml_service_request_duration_seconds_bucket"
    assert latency.selectors["total"].metric == "bentoml_service_request_duration_seconds_count"
    freshness = example("freshness")
    assert (freshness.kind, freshness.method, freshness.max_age) == ("freshness", "Timeslices", 3600)
    availability = example("availability")
    assert availability.no_data_for == "15m"
    assert availability.alert_labels == {"team": "ml-platform"}
    assert set(availability.selectors) == {"bad", "total"}


# ---- exact numbers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal.from_float(0.0144), "0.0144"),  # the binary float 0.014400000000000001...
        (Decimal(2) / Decimal(100) * Decimal(2592000) / Decimal(3600), "14.4"),
        (Decimal("14.400"), "14.4"),
        (Decimal("3.0"), "3"),
        (Decimal(3), "3"),
        (Decimal("1E+2"), "100"),
        (Decimal(2592000), "2592000"),
        (Decimal("0.999"), "0.999"),
        (Decimal(1) - Decimal("0.999"), "0.001"),
        (Decimal(str(1 - 0.999)), "0.001"),  # 0.0010000000000000009 rounds away
        (Decimal.from_float(0.1) + Decimal.from_float(0.2), "0.3"),
        (Decimal(1) / Decimal(3), "0.333333333333"),
        (Decimal("0.00001"), "0.00001"),  # no exponent
        (Decimal("-0"), "0"),
        (Decimal(0), "0"),
    ],
)
def test_exact(value: Decimal, text: str) -> None:
    assert exact(value) == text


@given(
    st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), allow_nan=False, allow_infinity=False)
)
def test_exact_is_plain_promql_number(value: Decimal) -> None:
    text = exact(value)
    assert "E" not in text and "e" not in text
    assert not (text.endswith("0") and "." in text)  # no trailing zeros after the point
    assert not text.endswith(".")
    assert abs(Decimal(text) - value) <= abs(value) * Decimal("1e-11") + Decimal("1e-30")


def test_without_burn_rate_alerts_the_current_burn_rate_window_is_still_recorded() -> None:
    doc = document(alerting={"burnRates": []})
    slo = resolved(doc)
    assert slo.alerts == ()
    assert slo.current_burn_window in slo.windows  # status.burnRate and time to exhaustion need it


def test_every_spec_field_reaches_the_resolved_model() -> None:
    """What generators, status and reports read comes from the spec as written, or from the documented
    default when a field is left out; nothing is dropped on the way."""
    slo = slo_of(
        description="Checkout answers fast", groupBy=["model_version"], budgetingMethod="Timeslices",
        timeslices={"sliceSize": "2m", "goal": 95},
        indicator={"latency": {"histogram": 'req_seconds{job="api"}', "threshold": "250ms"}},
        alerting={"labels": {"team": "ml"}, "annotations": {"runbook_url": "https://runbooks.example/x"},
                  "noData": {"for": "30m", "severity": "critical"},
                  "forecast": {"threshold": 0.9, "for": "2h", "severity": "critical"},
                  "burnRates": [{"name": "Fast", "severity": "critical", "budgetPercent": 2,
                                 "longWindow": "1h", "shortWindow": "5m", "for": "2m"}],
                  "routing": {"slack": {"apiURL": {"name": "slack", "key": "url"}, "channel": "#ml"}}},
    )
    assert (slo.name, slo.namespace, slo.service, slo.description, slo.kind, slo.method) == (
        "test-slo", "team-a", "svc", "Checkout answers fast", "latency", "Timeslices")
    assert (slo.group_by, slo.alert_labels, slo.alert_annotations) == (
        ("model_version",), {"team": "ml"}, {"runbook_url": "https://runbooks.example/x"})
    assert (slo.no_data_for, slo.no_data_severity) == ("30m", "critical")
    assert (slo.forecast_threshold, slo.forecast_for, slo.forecast_severity) == (
        Decimal("0.9"), "2h", "critical")
    assert (slo.slice_size, slo.slice_goal, slo.latency_threshold) == (120, Decimal("0.95"), Decimal("0.250"))
    assert slo.alerts == (ResolvedAlert("Fast", "critical", Decimal(2), 3600, 300, Decimal("14.4"), "2m"),)
    assert slo.routing is not None and slo.routing.slack is not None and slo.routing.slack.channel == "#ml"
    assert (slo.alerting_enabled, slo.cost, slo.max_age) == (True, None, None)
    # Switched off, an alert keeps the settings written next to it but is not rendered.
    off = slo_of(alerting={
        "enabled": False, "noData": {"enabled": False, "for": "30m", "severity": "critical"},
        "forecast": {"enabled": False, "threshold": 0.9, "for": "2h", "severity": "critical"}})
    assert (off.alerting_enabled, off.no_data_for, off.no_data_severity) == (False, None, "critical")
    assert (off.forecast_threshold, off.forecast_for, off.forecast_severity) == (None, "2h", "critical")
    # Left out: the defaults.
    plain = slo_of()
    assert (plain.description, plain.group_by, plain.alert_labels, plain.alert_annotations) == (
        "", (), {}, {})
    assert (plain.no_data_for, plain.no_data_severity) == (None, "warning")
    assert (plain.forecast_threshold, plain.forecast_for, plain.forecast_severity) == (None, "1h", "warning")
    assert (plain.slice_size, plain.slice_goal, plain.routing, plain.latency_threshold) == (None,) * 4
