"""ErrorBudgetCalculator: worked examples from the SRE Workbook, bad inputs, and algebraic identities."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from slo_operator.budget import ErrorBudgetCalculator

REL = 1e-9

# Objectives as users write them (a few decimals), plus arbitrary floats strictly inside (0, 100).
written_targets = st.sampled_from([50, 85, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999])
any_targets = st.floats(min_value=0.01, max_value=99.999, allow_nan=False, allow_infinity=False)
targets = st.one_of(written_targets, any_targets)
windows = st.one_of(
    st.sampled_from([1, 7, 28, 30, 90]),
    st.floats(min_value=0.05, max_value=400, allow_nan=False, allow_infinity=False),
)
error_rates = st.floats(min_value=0, max_value=1, allow_nan=False)
positive_rates = st.floats(min_value=1e-6, max_value=1, allow_nan=False)
elapsed = st.floats(min_value=0, max_value=400, allow_nan=False)


def close(a: float, b: float, rel: float = REL, abs_: float = 1e-12) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


# ---- worked examples: 99.9% over 30 days ------------------------------------------------------------


@pytest.fixture
def calc() -> ErrorBudgetCalculator:
    return ErrorBudgetCalculator(slo_target=99.9, window_days=30)


def test_allowed_error_rate_is_exact(calc: ErrorBudgetCalculator) -> None:
    # 1 - 0.999 in binary floats is 0.0010000000000000009; the calculator works in decimals.
    assert calc.allowed_error_rate() == 0.001
    assert ErrorBudgetCalculator(99.99, 30).allowed_error_rate() == 0.0001
    assert ErrorBudgetCalculator(95, 30).allowed_error_rate() == 0.05
    assert ErrorBudgetCalculator(85, 1).allowed_error_rate() == 0.15


def test_allowed_downtime_is_43_2_minutes(calc: ErrorBudgetCalculator) -> None:
    downtime = calc.allowed_downtime()
    assert isinstance(downtime, timedelta)
    assert abs(downtime - timedelta(minutes=43.2)) < timedelta(milliseconds=1)
    assert abs(ErrorBudgetCalculator(99.9, 7).allowed_downtime() - timedelta(minutes=10.08)) < timedelta(
        milliseconds=1
    )
    assert abs(ErrorBudgetCalculator(99, 1).allowed_downtime() - timedelta(minutes=14.4)) < timedelta(
        milliseconds=1
    )


def test_burn_rate_examples(calc: ErrorBudgetCalculator) -> None:
    assert calc.burn_rate(0.002) == 2.0
    assert calc.burn_rate(0.001) == 1.0
    assert calc.burn_rate(0) == 0.0
    assert calc.burn_rate(0.0144) == 14.4
    assert calc.burn_rate(1) == 1000.0


def test_remaining_and_consumed_examples(calc: ErrorBudgetCalculator) -> None:
    assert calc.remaining_budget(0, 30) == 1.0
    assert calc.remaining_budget(0.001, 0) == 1.0
    assert calc.remaining_budget(0.001, 15) == 0.5
    assert calc.consumed_budget(0.001, 15) == 0.5
    assert calc.remaining_budget(0.001, 30) == 0.0
    assert calc.remaining_budget(0.002, 30) == -1.0  # overspent: negative, not clamped
    assert calc.consumed_budget(0.0005, 30) == 0.5
    # 14.4x for one hour spends 2% of a 30d budget (the fast-burn alert's definition).
    assert close(calc.consumed_budget(0.0144, 1 / 24), 0.02)


def test_is_budget_exhausted(calc: ErrorBudgetCalculator) -> None:
    assert not calc.is_budget_exhausted(0, 30)
    assert not calc.is_budget_exhausted(0.001, 29.9)
    assert calc.is_budget_exhausted(0.001, 30)  # exactly used up counts as exhausted
    assert calc.is_budget_exhausted(0.002, 15)
    assert calc.is_budget_exhausted(1, 1)
    assert not calc.is_budget_exhausted(0.002, 14.9)


def test_time_to_exhaustion(calc: ErrorBudgetCalculator) -> None:
    assert calc.time_to_exhaustion(0, 0) is None
    assert calc.time_to_exhaustion(0, 10) is None
    assert calc.time_to_exhaustion(0.002, 15) == timedelta(0)  # exactly exhausted
    assert calc.time_to_exhaustion(0.01, 20) == timedelta(0)  # overspent
    assert calc.time_to_exhaustion(0.001, 0) == timedelta(days=30)
    assert calc.time_to_exhaustion(0.002, 0) == timedelta(days=15)
    # Half the budget left, burning at 2x: 15 days of budget at 2x = 7.5 days.
    assert calc.time_to_exhaustion(0.002, 7.5) == timedelta(days=7.5)
    fast = calc.time_to_exhaustion(0.0144, 0)
    assert fast is not None
    assert abs(fast - timedelta(days=30 / 14.4)) < timedelta(milliseconds=1)


def test_burn_rate_thresholds_for_30_days(calc: ErrorBudgetCalculator) -> None:
    # SRE Workbook table: 2% in 1h, 5% in 6h, 10% in 24h (1d), 10% in 3d.
    assert calc.burn_rate_threshold(2, 1) == 14.4
    assert calc.burn_rate_threshold(5, 6) == 6.0
    assert calc.burn_rate_threshold(10, 24) == 3.0
    assert calc.burn_rate_threshold(10, 72) == 1.0
    assert calc.burn_rate_threshold(100, 720) == 1.0


def test_burn_rate_thresholds_scale_with_window() -> None:
    assert ErrorBudgetCalculator(99.9, 7).burn_rate_threshold(2, 1) == 3.36
    assert ErrorBudgetCalculator(99.9, 28).burn_rate_threshold(2, 1) == 13.44


def test_time_to_fire(calc: ErrorBudgetCalculator) -> None:
    # SRE Workbook: (1 - SLO) / e * W * threshold. At a 100% error rate a 1h/14.4x alert fires in 0.864 min.
    assert abs(calc.time_to_fire(1.0, 1, 14.4) - timedelta(minutes=0.864)) < timedelta(milliseconds=1)
    # At exactly the threshold error ratio it takes the whole long window.
    assert calc.time_to_fire(0.0144, 1, 14.4) == timedelta(hours=1)
    assert calc.time_to_fire(0.003, 24, 3) == timedelta(hours=24)
    # Twice the threshold error ratio: half the window.
    assert calc.time_to_fire(0.0288, 1, 14.4) == timedelta(minutes=30)


# ---- bad inputs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "window"),
    [
        (0, 30),
        (100, 30),
        (-1, 30),
        (100.5, 30),
        (150, 30),
        (float("nan"), 30),
        (float("inf"), 30),
        (99.9, 0),
        (99.9, -1),
        (99.9, float("nan")),
        (99.9, float("inf")),
    ],
    ids=[
        "target-0",
        "target-100",
        "target-negative",
        "target-100.5",
        "target-150",
        "target-nan",
        "target-inf",
        "window-0",
        "window-negative",
        "window-nan",
        "window-inf",
    ],
)
def test_constructor_rejects_bad_inputs(target: float, window: float) -> None:
    with pytest.raises(ValueError):
        ErrorBudgetCalculator(target, window)


@pytest.mark.parametrize("rate", [-0.1, 1.5, -1e-9, 1 + 1e-9, float("nan"), float("inf")])
def test_error_rates_outside_0_1_are_refused(calc: ErrorBudgetCalculator, rate: float) -> None:
    with pytest.raises(ValueError):
        calc.burn_rate(rate)
    with pytest.raises(ValueError):
        calc.remaining_budget(rate, 1)
    with pytest.raises(ValueError):
        calc.consumed_budget(rate, 1)
    with pytest.raises(ValueError):
        calc.is_budget_exhausted(rate, 1)
    with pytest.raises(ValueError):
        calc.time_to_exhaustion(rate, 1)
    with pytest.raises(ValueError):
        calc.time_to_fire(rate, 1, 14.4)


@pytest.mark.parametrize("days", [-1, -1e-9, float("nan"), float("inf")])
def test_bad_elapsed_days_are_refused(calc: ErrorBudgetCalculator, days: float) -> None:
    with pytest.raises(ValueError):
        calc.remaining_budget(0.001, days)
    with pytest.raises(ValueError):
        calc.time_to_exhaustion(0.001, days)


@pytest.mark.parametrize(
    ("percent", "hours"),
    [(0, 1), (-2, 1), (101, 1), (2, 0), (2, -1), (float("nan"), 1), (2, float("nan"))],
    ids=[
        "percent-0",
        "percent-negative",
        "percent-101",
        "hours-0",
        "hours-negative",
        "percent-nan",
        "hours-nan",
    ],
)
def test_bad_burn_rate_threshold_inputs(calc: ErrorBudgetCalculator, percent: float, hours: float) -> None:
    with pytest.raises(ValueError):
        calc.burn_rate_threshold(percent, hours)


@pytest.mark.parametrize(
    ("rate", "hours", "threshold"),
    [(0, 1, 14.4), (0.01, 0, 14.4), (0.01, -1, 14.4), (0.01, 1, 0), (0.01, 1, -3)],
    ids=["rate-0-never-fires", "window-0", "window-negative", "threshold-0", "threshold-negative"],
)
def test_bad_time_to_fire_inputs(
    calc: ErrorBudgetCalculator, rate: float, hours: float, threshold: float
) -> None:
    with pytest.raises(ValueError):
        calc.time_to_fire(rate, hours, threshold)


# ---- properties -------------------------------------------------------------------------------------------


@given(targets, windows, error_rates, elapsed)
def test_remaining_plus_consumed_is_one(target: float, window: float, rate: float, days: float) -> None:
    calc = ErrorBudgetCalculator(target, window)
    consumed = calc.consumed_budget(rate, days)
    remaining = calc.remaining_budget(rate, days)
    assert math.isclose(remaining + consumed, 1.0, rel_tol=1e-12, abs_tol=1e-12 * max(1.0, abs(consumed)))


@given(targets, windows)
def test_burning_at_the_allowed_rate_is_burn_rate_one(target: float, window: float) -> None:
    calc = ErrorBudgetCalculator(target, window)
    assert close(calc.burn_rate(calc.allowed_error_rate()), 1.0, rel=1e-12)


@given(written_targets, st.sampled_from([1, 7, 28, 30, 90]))
def test_written_targets_are_exact(target: float, window: float) -> None:
    calc = ErrorBudgetCalculator(target, window)
    assert calc.burn_rate(calc.allowed_error_rate()) == 1.0
    assert calc.remaining_budget(calc.allowed_error_rate(), window) == 0.0
    assert calc.is_budget_exhausted(calc.allowed_error_rate(), window)


@given(targets, windows, positive_rates)
def test_budget_lasts_window_over_burn_rate(target: float, window: float, rate: float) -> None:
    calc = ErrorBudgetCalculator(target, window)
    burn = calc.burn_rate(rate)
    lasts = calc.time_to_exhaustion(rate, 0)
    assert lasts is not None
    assert math.isclose(lasts.total_seconds(), window * 86400 / burn, rel_tol=1e-9, abs_tol=1e-5)


@given(targets, windows, positive_rates, elapsed)
def test_time_to_exhaustion_is_remaining_budget_at_the_burn_rate(
    target: float, window: float, rate: float, days: float
) -> None:
    calc = ErrorBudgetCalculator(target, window)
    lasts = calc.time_to_exhaustion(rate, days)
    remaining = calc.remaining_budget(rate, days)
    assert lasts is not None
    if remaining <= 0:
        assert lasts == timedelta(0)
    else:
        # Spending for `lasts` more days at the same rate uses up exactly what is left, up to the
        # microsecond resolution of timedelta.
        per_microsecond = calc.consumed_budget(rate, 1e-6 / 86400)
        assert math.isclose(
            calc.consumed_budget(rate, lasts.total_seconds() / 86400),
            remaining,
            rel_tol=1e-6,
            abs_tol=per_microsecond + 1e-9,
        )


@given(targets, windows, error_rates, elapsed, elapsed)
def test_remaining_is_monotone_in_elapsed(
    target: float, window: float, rate: float, d1: float, d2: float
) -> None:
    calc = ErrorBudgetCalculator(target, window)
    early, late = sorted((d1, d2))
    assert calc.remaining_budget(rate, late) <= calc.remaining_budget(rate, early)


@given(targets, windows, error_rates, error_rates, elapsed)
def test_remaining_is_monotone_in_error_rate(
    target: float, window: float, r1: float, r2: float, days: float
) -> None:
    calc = ErrorBudgetCalculator(target, window)
    low, high = sorted((r1, r2))
    assert calc.remaining_budget(high, days) <= calc.remaining_budget(low, days)
    assert calc.burn_rate(high) >= calc.burn_rate(low)


@given(targets, windows, error_rates, elapsed)
def test_exhausted_iff_nothing_remains(target: float, window: float, rate: float, days: float) -> None:
    calc = ErrorBudgetCalculator(target, window)
    assert calc.is_budget_exhausted(rate, days) == (calc.remaining_budget(rate, days) <= 0)
    if calc.is_budget_exhausted(rate, days):
        assert calc.time_to_exhaustion(rate, days) == timedelta(0)


@given(targets, windows)
def test_a_window_at_the_allowed_rate_spends_exactly_the_budget(target: float, window: float) -> None:
    calc = ErrorBudgetCalculator(target, window)
    assert math.isclose(calc.remaining_budget(calc.allowed_error_rate(), window), 0.0, abs_tol=1e-12)


@given(
    targets, windows, st.floats(min_value=0.01, max_value=100), st.floats(min_value=0.01, max_value=24 * 400)
)
def test_threshold_spends_budget_percent_within_long_window(
    target: float, window: float, percent: float, hours: float
) -> None:
    calc = ErrorBudgetCalculator(target, window)
    assume(hours <= window * 24)
    threshold = calc.burn_rate_threshold(percent, hours)
    # Burning at `threshold` for `hours` consumes `percent` % of the budget.
    error_rate = threshold * calc.allowed_error_rate()
    assume(error_rate <= 1)
    assert math.isclose(calc.consumed_budget(error_rate, hours / 24), percent / 100, rel_tol=1e-9)
    # And the alert at that threshold fires after exactly the long window at that error rate.
    assert math.isclose(
        calc.time_to_fire(error_rate, hours, threshold).total_seconds(), hours * 3600, rel_tol=1e-6
    )


def test_the_defaults_are_the_workbook_example() -> None:
    """``ErrorBudgetCalculator()`` is 99.9% over 30 days, as the README's examples use it."""
    calc = ErrorBudgetCalculator()
    assert (calc.slo_target, calc.window_days) == (99.9, 30.0)
    assert calc.allowed_downtime() == timedelta(minutes=43.2)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ErrorBudgetCalculator(100, 30),
         r"^slo_target must be between 0 and 100 \(exclusive\), got 100$"),
        (lambda: ErrorBudgetCalculator(99, 0), r"^window_days must be a positive finite number, got 0$"),
        (lambda: ErrorBudgetCalculator().burn_rate(2),
         r"^an error rate is a fraction between 0 and 1, got 2$"),
        (lambda: ErrorBudgetCalculator().consumed_budget(0.1, -1),
         r"^elapsed_days must be a finite number of days >= 0, got -1$"),
        (lambda: ErrorBudgetCalculator().burn_rate_threshold(0, 1),
         r"^budget_percent must be in \(0, 100\], got 0$"),
        (lambda: ErrorBudgetCalculator().burn_rate_threshold(2, 0),
         r"^long_window_hours must be a positive finite number, got 0$"),
        (lambda: ErrorBudgetCalculator().time_to_fire(0, 1, 14.4),
         r"^an error rate of 0 never fires an alert$"),
        (lambda: ErrorBudgetCalculator().time_to_fire(0.1, 0, 14.4),
         r"^long_window_hours must be a positive finite number, got 0$"),
        (lambda: ErrorBudgetCalculator().time_to_fire(0.1, 1, 0),
         r"^threshold must be a positive finite number, got 0$"),
    ],
)
def test_refusals_name_the_argument_and_the_value(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
