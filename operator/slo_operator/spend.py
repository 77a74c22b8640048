"""Recorded series and alerts of a cost SLO's spend: money per second, per unit, and the spend budget.

Raw spend is read once, over 5m, into ``slo:cost_spend_base:rate`` (money per second); the spend pace
over every alert window, ``slo:cost_spend:rate{window}``, averages that recorded series, like the error
ratios of ``rules`` derive from the base events. ``slo:cost_per_unit:ratio`` is the cost per
unit over the slice (what the slices of the SLI are judged on).

A spend budget (``budget: {amount, currency, period}``) adds:

- ``slo:cost_spent:total``: money spent in the period so far. ``period: window``: the sum over the SLO's
  rolling window. ``period: month``: since the 1st of the calendar month (UTC). A range cannot start at
  a moving instant, so every fast evaluation records its share of the spend (5m rate × interval) as
  ``slo:cost_spend:increment`` labelled with its month's ``phase`` (month mod 3): a 31-day range then
  holds the whole current month and, of the same phase, nothing older (the two months in between
  always span more than 31 days), so the month-to-date spend is the 31-day sum of the current phase.
  It needs no self-referencing rule and survives restarts (a gap loses only the gap's spend).
- ``slo:cost_period_remaining:seconds`` (month only), ``slo:cost_budget:total`` (the amount, with a
  ``currency`` label) and ``slo:cost_forecast:total``: the period's spend at the pace of the longest
  alert window (spent + pace × time left; for a rolling window, pace × window).
- One alert per burn-rate alert of the SLO, with its windows and severity: it fires when the spend
  projected to the end of the period at the pace of the long window *and* at the pace of the short
  window both exceed the amount (for a rolling window: pace × window). The short window makes it reset
  quickly once the pace drops. Money is written with ``promql.number`` (exact decimals).
"""

from __future__ import annotations

from typing import Any

from slo_operator.durations import format_duration, parse_duration
from slo_operator.indicators.cost import per_unit, spend_rate
from slo_operator.model import SLO, WINDOW_FLOOR, ResolvedAlert
from slo_operator.promql import alert_rule_labels, number, record_rule, recorded, window_range

COST_SPEND_BASE = "slo:cost_spend_base:rate"
COST_SPEND = "slo:cost_spend:rate"
COST_PER_UNIT = "slo:cost_per_unit:ratio"
COST_MAX_PER_UNIT = "slo:cost_max_per_unit:ratio"
COST_INCREMENT = "slo:cost_spend:increment"
COST_REMAINING = "slo:cost_period_remaining:seconds"
COST_SPENT = "slo:cost_spent:total"
COST_BUDGET = "slo:cost_budget:total"
COST_FORECAST = "slo:cost_forecast:total"
# Every recorded series of a cost SLO, in the order each reads only earlier ones.
SPEND_SERIES = (
    COST_SPEND_BASE, COST_SPEND, COST_PER_UNIT, COST_MAX_PER_UNIT, COST_INCREMENT, COST_REMAINING,
    COST_SPENT, COST_BUDGET, COST_FORECAST,
)
# Series the status reads (one instant query per name for every SLO).
COST_STATUS_SERIES = (COST_SPENT, COST_FORECAST, COST_PER_UNIT)

PHASES = 3
MONTH_RANGE = 31 * 86400
FAST_GROUP_MAX_WINDOW = 6 * 3600


def _phase_selector(slo: SLO, phase: int) -> str:
    base = recorded(COST_INCREMENT, slo)
    return base[:-1] + f',phase="{phase}"}}'


def _spend_windows(slo: SLO) -> list[int]:
    """Windows whose spend pace is recorded: 5m (raw) and every alert window, shortest first."""
    found = {WINDOW_FLOOR}
    if slo.cost is not None and slo.cost.budget is not None:
        for alert in slo.alerts:
            found.update((alert.long_window, alert.short_window))
        found.add(forecast_window(slo))
    return sorted(found)


def forecast_window(slo: SLO) -> int:
    """The pace the forecast extrapolates: the longest alert window (a day by default)."""
    return max((a.long_window for a in slo.alerts), default=min(86400, slo.window))


def _pace(slo: SLO, window: int) -> dict[str, Any]:
    base = recorded(COST_SPEND_BASE, slo)
    expr = base if window == WINDOW_FLOOR else f"avg_over_time({base}{window_range(window)})"
    return record_rule(COST_SPEND, expr, slo, window=format_duration(window))


def fast_rules(slo: SLO, fast_interval: str) -> list[dict[str, Any]]:
    """Rules of the fast group, before the SLI's base series."""
    if slo.cost is None:
        return []
    rules = [
        record_rule(
            COST_SPEND_BASE, spend_rate(slo, WINDOW_FLOOR), slo, window=format_duration(WINDOW_FLOOR)
        ),
        record_rule(
            COST_PER_UNIT, per_unit(slo, slo.base_window), slo, window=format_duration(slo.base_window)
        ),
    ]
    rules += [_pace(slo, w) for w in _spend_windows(slo) if w <= FAST_GROUP_MAX_WINDOW]
    if slo.cost.budget is not None and slo.cost.period == "month":
        interval = number(parse_duration(fast_interval))
        pace = recorded(COST_SPEND_BASE, slo)
        rules += [
            record_rule(
                COST_INCREMENT,
                f"sum without (window) ({pace}) * {interval}\nand on () (month() % {PHASES} == {phase})",
                slo,
                phase=str(phase),
            )
            for phase in range(PHASES)
        ]
        rules.append(record_rule(
            COST_REMAINING, "(days_in_month() - day_of_month() + 1) * 86400 - time() % 86400", slo
        ))
    return rules


def slow_rules(slo: SLO, fast_interval: str) -> list[dict[str, Any]]:
    """Rules of the slow group: long paces, spent, budget, forecast, the maximum per unit."""
    if slo.cost is None:
        return []
    cost = slo.cost
    rules = [_pace(slo, w) for w in _spend_windows(slo) if w > FAST_GROUP_MAX_WINDOW]
    rules.append(record_rule(COST_MAX_PER_UNIT, f"vector({number(cost.max_per_unit)})", slo))
    if cost.budget is None:
        return rules
    interval = number(parse_duration(fast_interval))
    pace = recorded(COST_SPEND, slo, forecast_window(slo))
    if cost.period == "month":
        month = window_range(MONTH_RANGE)
        terms = [
            f"(sum_over_time({_phase_selector(slo, p)}{month}) and on () (month() % {PHASES} == {p}))"
            for p in range(PHASES)
        ]
        spent = "sum without (phase) (\n  " + "\nor\n  ".join(terms) + "\n)"
        forecast = (
            f"sum without (window) ({pace}) * {recorded(COST_REMAINING, slo)}\n+ {recorded(COST_SPENT, slo)}"
        )
    else:
        five = recorded(COST_SPEND_BASE, slo)
        spent = f"sum without (window) (sum_over_time({five}{window_range(slo.window)})) * {interval}"
        forecast = f"sum without (window) ({pace}) * {slo.window}"
    rules += [
        record_rule(COST_SPENT, spent, slo),
        record_rule(COST_BUDGET, f"vector({number(cost.budget)})", slo, currency=cost.currency or ""),
        record_rule(COST_FORECAST, forecast, slo),
    ]
    return rules


def _projection(slo: SLO, window: int) -> str:
    """Spend of the whole period at the pace of ``window``."""
    assert slo.cost is not None
    pace = recorded(COST_SPEND, slo, window)
    if slo.cost.period == "month":
        return (
            f"{pace} * ignoring (window) {recorded(COST_REMAINING, slo)}\n"
            f"  + ignoring (window) {recorded(COST_SPENT, slo)}"
        )
    return f"{pace} * {slo.window}"


def alert_name(alert: ResolvedAlert) -> str:
    """``SLOFastBurn`` -> ``SLOSpendFastBurn``; other names get a ``Spend`` suffix."""
    if alert.name.startswith("SLO") and len(alert.name) > 3:
        return "SLOSpend" + alert.name[3:]
    return alert.name + "Spend"


def alerts(slo: SLO) -> list[dict[str, Any]]:
    """The spend alerts (one per burn-rate alert of the SLO); none without a budget."""
    cost = slo.cost
    if cost is None or cost.budget is None or not slo.alerting_enabled:
        return []
    amount = number(cost.budget)
    period = "this month" if cost.period == "month" else f"in {format_duration(slo.window)}"
    money = f"{amount} {cost.currency}"
    out = []
    for alert in slo.alerts:
        expr = (
            f"{_projection(slo, alert.long_window)} > {amount}\n"
            f"and ignoring (window)\n"
            f"{_projection(slo, alert.short_window)} > {amount}"
        )
        out.append({
            "alert": alert_name(alert),
            "expr": expr,
            "labels": alert_rule_labels(slo, alert.severity, window=alert.long),
            "annotations": {
                "summary": (
                    f"SLO {slo.namespace}/{slo.name} ({slo.service}) would spend "
                    "{{ $value | printf \"%.2f\" }} "
                    + f"{cost.currency} {period}, over its budget of {money}"
                ),
                "description": (
                    f"At the spend pace of both the last {alert.long} and the last {alert.short}, "
                    f"the {slo.service} service's spend {period} exceeds {money}. Look at "
                    f'{COST_SPEND}{{slo="{slo.name}",namespace="{slo.namespace}"}} by window and at '
                    f"{COST_PER_UNIT}: more traffic, or a higher cost per unit (prices, replicas, "
                    "resource requests)?"
                ),
                **slo.alert_annotations,
            },
        })
    return out


