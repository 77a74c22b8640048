"""Recording rules and multi-window multi-burn-rate alerts for one SLO (Prometheus rule groups).

Cheap and accurate long windows: raw series are read once, over the base window (5m by default), into
``slo:bad_events:rate`` and ``slo:total_events:rate``. Every longer window is a ratio of sums of those
two recorded series (bad samples over (t - W, t] / total samples over it), so each minute weighs by its
traffic — unlike averaging short-window ratios. Windows up to 6h live in the fast group (every 30s,
with the alerts) and sum the base series directly (``sum_over_time``); longer ones live in a slow group
(every 2m, well inside Prometheus' 5m lookback) and are differences of running sums of the base series
kept at two resolutions (``tiers``: a fine one in the fast group, a coarse copy in a third group at the
coarse interval), so a 30d window reads a few samples instead of 86,400 per series, exactly.

``slo:current_burn_rate:ratio`` copies the burn rate of the SLO's current window (the first alert's long
window, 1h by default: what the status calls ``burnRate``), keeping its ``window`` label, so a board of
many SLOs reads each one's current burn rate without knowing its alerts. It is recorded right after the
burn rates, in the group of its source window (the fast group unless that window is longer than 6h), so
it is evaluated at the same instant as its source and always equals it.

``slo:recording_since:timestamp`` (first in the fast group) records when the SLO's current indicator began
to be recorded, so the status, dashboards and reports know how much of the window the recorded series
cover (see ``coverage``).

Zero traffic gives no data: denominators are filtered with ``> 0`` so no NaN can fire or hide an alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from slo_operator import spend
from slo_operator import tiers as tiering
from slo_operator.coverage import indicator_hash, since_expr
from slo_operator.durations import format_duration, human_duration, parse_duration
from slo_operator.indicators import base_series
from slo_operator.model import SLO, ResolvedAlert
from slo_operator.promql import (
    BAD_EVENTS,
    BUDGET_REMAINING,
    BURN_RATE,
    CURRENT_BURN_RATE,
    ERROR_RATIO,
    FORECAST_VIOLATION,
    OBJECTIVE,
    RECORDING_SINCE,
    RUNNING_SUMS,
    SLI,
    TIME_TO_EXHAUSTION,
    TOTAL_EVENTS,
    WINDOW_SECONDS,
    number,
    recorded,
    window_range,
)
from slo_operator.selectors import escape_label_value

FAST_GROUP_MAX_WINDOW = tiering.FAST_GROUP_MAX_WINDOW


@dataclass(frozen=True)
class RuleOptions:
    """Deployment-wide choices about rule evaluation."""

    fast_interval: str = "30s"
    slow_interval: str = "2m"


def series_labels(slo: SLO) -> dict[str, str]:
    """Labels every recorded series and alert of the SLO carries."""
    return {"slo": slo.name, "namespace": slo.namespace, "service": slo.service}


def _record(name: str, expr: str, slo: SLO, **extra: str) -> dict[str, Any]:
    return {"record": name, "expr": expr, "labels": {**series_labels(slo), **extra}}


def _window_sum(series: str, window: int, slo: SLO, options: RuleOptions) -> str:
    """Sum of a base series' samples over ``window``, with the edges of the base window corrected.

    The range is ``[W - 1ms]`` (``promql.window_range``): exactly n = W / interval samples, at t, t - i,
    ..., t - W + i, on Prometheus 2.x and 3.x alike. Each sample of a base rate covers the base window b
    before it (its raw range is ``[b + 1ms]``, ``promql.counter_range``), so the sum weighs the newest
    b - i of traffic on a ramp (a fresh outage would show up late) and the b - i before the window on
    the opposite ramp: the ramps miss, and add, (b/i - 1) / 2 samples' worth of traffic. Adding
    ``k*series - k*(series offset W)`` with k = (b - i) / (2 × interval) makes the sum cover (t-W, t]
    exactly when traffic is even within each edge. Only the fast windows need it; on 1d and longer the
    edge is under 0.4% of the window and is left alone (and those are read from ``tiers``).
    """
    summed = f"sum_over_time({series}{window_range(window)})"
    if slo.method != "Occurrences" or window > FAST_GROUP_MAX_WINDOW:
        return summed
    interval = parse_duration(options.fast_interval)
    k = (Decimal(slo.base_window) - interval) / (2 * interval)
    if k <= 0:
        return summed
    label = format_duration(window)
    return f"({summed} + {number(k)} * ({series} - ({series} offset {label} or {series} * 0)))"


def _error_ratio(slo: SLO, window: int, options: RuleOptions) -> dict[str, Any]:
    label = format_duration(window)
    bad, total = recorded(BAD_EVENTS, slo), recorded(TOTAL_EVENTS, slo)
    tiers = tiering.plan(slo, parse_duration(options.fast_interval))
    if slo.method == "Occurrences" and window == slo.base_window:
        expr = f"{bad} / ({total} > 0)"
    elif tiers is not None and tiering.tiered(window):
        expr = tiering.error_ratio_expr(slo, window)
    else:
        bad_sum, total_sum = _window_sum(bad, window, slo, options), _window_sum(total, window, slo, options)
        expr = f"{bad_sum}\n/\n({total_sum} > 0)"
    return _record(ERROR_RATIO, expr, slo, window=label)


def _burn_rate(slo: SLO, window: int) -> dict[str, Any]:
    expr = f"{recorded(ERROR_RATIO, slo, window)} / {number(slo.error_budget)}"
    return _record(BURN_RATE, expr, slo, window=format_duration(window))


def _current_burn_rate(slo: SLO) -> dict[str, Any]:
    """The burn rate of the current window under a window-free name; the source's window label is kept."""
    return _record(CURRENT_BURN_RATE, recorded(BURN_RATE, slo, slo.current_burn_window), slo)


def _burn_alert(slo: SLO, alert: ResolvedAlert) -> dict[str, Any]:
    threshold = number(alert.threshold)
    expr = (
        f"{recorded(BURN_RATE, slo, alert.long_window)} > {threshold}\n"
        f"and ignoring (window)\n"
        f"{recorded(BURN_RATE, slo, alert.short_window)} > {threshold}"
    )
    exhausted_in = human_duration(Decimal(slo.window) / alert.threshold)
    objective = number(slo.objective * 100)
    rule: dict[str, Any] = {
        "alert": alert.name,
        "expr": expr,
        "labels": {
            **slo.alert_labels,
            "severity": alert.severity,
            "slo": slo.name,
            "namespace": slo.namespace,
            "service": slo.service,
        },
        "annotations": {
            "summary": (
                f"SLO {slo.namespace}/{slo.name} ({slo.service}, {slo.kind} {objective}% over "
                f"{format_duration(slo.window)}) is burning its error budget "
                "{{ $value | printf \"%.1f\" }}x too fast"
            ),
            "description": (
                f"Both the {alert.long} and the {alert.short} burn rates are above {threshold}: "
                f"{number(alert.budget_percent)}% of the {format_duration(slo.window)} error budget is spent "
                f"within {alert.long}, and at {threshold}x the whole budget lasts {exhausted_in}. "
                f"Look at slo:error_ratio{{slo=\"{slo.name}\",namespace=\"{slo.namespace}\"}} by window and "
                f"at the {slo.service} service's recent changes, errors and saturation."
            ),
            **slo.alert_annotations,
        },
    }
    if alert.for_:
        rule["for"] = alert.for_
    return rule


def _no_data_alert(slo: SLO) -> dict[str, Any]:
    return {
        "alert": "SLONoData",
        "expr": f"absent({recorded(TOTAL_EVENTS, slo)})",
        "for": slo.no_data_for,
        "labels": {**slo.alert_labels, "severity": slo.no_data_severity, "slo": slo.name,
                   "namespace": slo.namespace, "service": slo.service},
        "annotations": {
            "summary": f"SLO {slo.namespace}/{slo.name} ({slo.service}) has no data",
            "description": (
                f"No series match the SLO's indicator for {slo.no_data_for}: the SLI, budget and burn-rate "
                "alerts are blind. Check the scrape target, the metric names and the selectors in the SLO."
            ),
            **slo.alert_annotations,
        },
    }


def _forecast_alert(slo: SLO) -> dict[str, Any]:
    """SLOForecastViolation: the operator's forecast gauge (``metrics``) above the threshold. ``max by``
    drops the scrape's own labels and keeps one series when two operator pods are scraped."""
    assert slo.forecast_threshold is not None
    labels = f"slo_namespace={escape_label_value(slo.namespace)},slo={escape_label_value(slo.name)}"
    threshold = number(slo.forecast_threshold)
    return {
        "alert": "SLOForecastViolation",
        "expr": f"max by (slo_namespace, slo) ({FORECAST_VIOLATION}{{{labels}}}) > {threshold}",
        "for": slo.forecast_for,
        "labels": {**slo.alert_labels, "severity": slo.forecast_severity, "slo": slo.name,
                   "namespace": slo.namespace, "service": slo.service},
        "annotations": {
            "summary": f"SLO {slo.namespace}/{slo.name} ({slo.service}) will likely miss its objective",
            "description": (
                f"The budget forecast gives a probability above {threshold} that the "
                f"{format_duration(slo.window)} window ends below the objective (for {slo.forecast_for}). "
                "See status.forecast (kubectl get slo -o yaml) for when the budget runs out."
            ),
            **slo.alert_annotations,
        },
    }


def rule_groups(slo: SLO, options: RuleOptions | None = None) -> list[dict[str, Any]]:
    """The Prometheus rule groups (``groups:`` entries) for one SLO."""
    options = options or RuleOptions()
    bad, total = base_series(slo)
    fast: list[dict[str, Any]] = [
        _record(RECORDING_SINCE, since_expr(slo), slo, indicator=indicator_hash(slo)),
        *spend.fast_rules(slo, options.fast_interval),
        _record(BAD_EVENTS, bad, slo, window=format_duration(slo.base_window)),
        _record(TOTAL_EVENTS, total, slo, window=format_duration(slo.base_window)),
    ]
    tiers = tiering.plan(slo, parse_duration(options.fast_interval))
    coarse: list[dict[str, Any]] = []
    if tiers is not None:
        for base in (BAD_EVENTS, TOTAL_EVENTS):
            fast.append(_record(RUNNING_SUMS[base], tiering.running_sum_expr(slo, base, tiers), slo,
                                **{tiering.TIER_LABEL: tiers.fine_label}))
            coarse.append(_record(RUNNING_SUMS[base], tiering.coarse_expr(slo, base, tiers), slo,
                                  **{tiering.TIER_LABEL: tiers.coarse_label}))
    slow: list[dict[str, Any]] = []
    for window in slo.windows:
        target = fast if window <= FAST_GROUP_MAX_WINDOW else slow
        target.extend((_error_ratio(slo, window, options), _burn_rate(slo, window)))
    (fast if slo.current_burn_window <= FAST_GROUP_MAX_WINDOW else slow).append(_current_burn_rate(slo))
    slo_window = slo.window
    remaining = f"1 - {recorded(ERROR_RATIO, slo, slo_window)} / {number(slo.error_budget)}"
    slow.extend([
        _record(SLI, f"1 - {recorded(ERROR_RATIO, slo, slo_window)}", slo),
        _record(OBJECTIVE, f"vector({number(slo.objective)})", slo),
        _record(WINDOW_SECONDS, f"vector({slo_window})", slo),
        _record(BUDGET_REMAINING, remaining, slo),
        _record(
            TIME_TO_EXHAUSTION,
            f"clamp_min({recorded(BUDGET_REMAINING, slo)}, 0) * {slo_window}\n"
            f"/ ignoring (window) ({recorded(BURN_RATE, slo, slo.current_burn_window)} > 0)",
            slo,
        ),
    ])
    slow.extend(spend.slow_rules(slo, options.fast_interval))
    if slo.alerting_enabled:
        fast.extend(_burn_alert(slo, alert) for alert in slo.alerts)
        if slo.no_data_for:
            fast.append(_no_data_alert(slo))
        fast.extend(spend.alerts(slo))
        if slo.forecast_threshold is not None:
            slow.append(_forecast_alert(slo))
    prefix = f"slo:{slo.namespace}:{slo.name}"
    groups = [
        {"name": f"{prefix}:fast", "interval": options.fast_interval, "rules": fast},
        {"name": f"{prefix}:slow", "interval": options.slow_interval, "rules": slow},
    ]
    if tiers is not None:
        # Last: the slow group's windows read the coarse copy only as a fallback (see ``tiers``).
        groups.append({"name": f"{prefix}:tier", "interval": format_duration(tiers.coarse), "rules": coarse})
    return groups
