"""Recording rules and multi-window multi-burn-rate alerts for one SLO (Prometheus rule groups).

An SLO's own groups (``slo_groups``) hold what needs its own selectors or text: the base rates, the
fine running sums, the objective (with the parameters of the shared rules as labels), the recording
start, the alerts and the spend. The windows, the current burn rate, the SLI, the budget and the
running sums' start and coarse copies are rules shared by the namespace's SLOs (``shared``); the notes
below say what each computes. ``rule_groups`` gives both for a namespace holding only the SLO.

Cheap and accurate long windows: raw series are read once, over the base window (5m by default), into
``slo:bad_events:rate`` and ``slo:total_events:rate``. Every longer window is a ratio of sums of those
two recorded series (bad samples over (t - W, t] / total samples over it), so each minute weighs by its
traffic — unlike averaging short-window ratios. Windows up to 6h live in the fast group (every 30s,
with the alerts) and sum the base series directly (``sum_over_time``); longer ones live in a slow group
(every 2m, well inside Prometheus' 5m lookback) and are differences of running sums of the base series
kept at two resolutions (``tiers``: a fine one in the fast group, a coarse copy in a third group at the
coarse interval, and a start in the slow group for a new SLO), so a 30d window reads a few samples
instead of 86,400 per series, exactly.

Few series per SLO (every recorded series is a sample per evaluation to append, index and keep): the
error ratio of each alert window and the base window; burn rates are not recorded per window (a burn rate
is the error ratio / the error budget: the alerts, the status and the dashboards divide inline), and the
SLO window's ratio is recorded only as the SLI (``1 - ratio``; the budget remaining derives from it).
``slo:current_burn_rate:ratio`` is the one recorded burn rate: the SLO's current window (the first
alert's long window, 1h by default: what the status calls ``burnRate``), keeping its ``window`` label, so
a board of many SLOs reads each one's current burn rate without knowing its alerts. It is recorded right
after its error ratio, in the same group, so it is evaluated at the same instant and always equals it
divided by the budget.

``slo:recording_since:timestamp`` (first in the slow group) records when the SLO's current indicator began
to be recorded, so the status, dashboards and reports know how much of the window the recorded series
cover (see ``coverage``). It changes only when the indicator does, so it is not re-read every 30s: in the
slow group it is at most one slow interval later than the base series' first sample (coverage is then
understated by that much, never overstated).

Zero traffic gives no data: denominators are filtered with ``> 0`` so no NaN can fire or hide an alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from slo_operator import shared, spend
from slo_operator import tiers as tiering
from slo_operator.coverage import indicator_hash, since_expr
from slo_operator.durations import format_duration, human_duration, parse_duration
from slo_operator.indicators import base_series
from slo_operator.model import SLO, ResolvedAlert
from slo_operator.promql import (
    BAD_EVENTS,
    ERROR_RATIO,
    FORECAST_VIOLATION,
    OBJECTIVE,
    RECORDING_SINCE,
    RUNNING_SUMS,
    TOTAL_EVENTS,
    alert_rule_labels,
    number,
    record_rule,
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


def _window_sum(series: str, window: int, slo: SLO, options: RuleOptions) -> str:
    """Sum of a base series' samples over ``window``, with the edges of the base window corrected.

    The range is ``[W - 1ms]`` (``promql.window_range``): exactly n = W / interval samples, at t, t - i,
    ..., t - W + i, on Prometheus 2.x and 3.x alike. Each sample of a base rate covers the base window b
    before it (its raw range is ``[b + 1ms]``, ``promql.counter_range``), so the sum weighs the newest
    b - i of traffic on a ramp (a fresh outage would show up late) and the b - i before the window on
    the opposite ramp: the ramps miss, and add, (b/i - 1) / 2 samples' worth of traffic. Adding
    ``k*series - k*(series offset W)`` with k = (b - i) / (2 × interval) makes the sum cover (t-W, t]
    exactly when traffic is even within each edge. Only the fast windows need it; on 1d and longer the
    edge is under 0.4% of the window and is left alone (and those are read from ``tiers``). Without
    groupBy labels the terms are summed to one label-free element each, so a base series that changed
    its ``service`` label within the window still counts both halves.
    """
    summed = f"sum_over_time({series}{window_range(window)})"
    k = shared.edge_factor(slo, window, parse_duration(options.fast_interval))
    if k is None:
        return summed
    label = format_duration(window)
    if not slo.group_by:
        # One label-free element per term: the base is read once and a missing value W ago (a young
        # SLO) is vector(0), instead of ``series * 0`` reading the base a second time.
        then = f"(sum ({series} offset {label}) or vector(0))"
        return f"(sum ({summed}) + {number(k)} * (sum ({series}) - {then}))"
    return f"({summed} + {number(k)} * ({series} - ({series} offset {label} or {series} * 0)))"


def _error_ratio_expr(slo: SLO, window: int, options: RuleOptions) -> str:
    bad, total = recorded(BAD_EVENTS, slo), recorded(TOTAL_EVENTS, slo)
    tiers = tiering.plan(slo, parse_duration(options.fast_interval))
    if slo.method == "Occurrences" and window == slo.base_window:
        return f"{bad} / ({total} > 0)"
    if tiers is not None and tiering.tiered(window):
        return tiering.error_ratio_expr(slo, window)
    bad_sum, total_sum = _window_sum(bad, window, slo, options), _window_sum(total, window, slo, options)
    return f"{bad_sum}\n/\n({total_sum} > 0)"


def _error_ratio(slo: SLO, window: int, options: RuleOptions) -> dict[str, Any]:
    expr = _error_ratio_expr(slo, window, options)
    return record_rule(ERROR_RATIO, expr, slo, window=format_duration(window))


def burn_rate_expr(slo: SLO, window: int) -> str:
    """The burn rate over ``window``: its recorded error ratio / the error budget. Not recorded per window
    (alerts, status and dashboards divide inline); ``slo:current_burn_rate:ratio`` records the current one."""
    return f"{recorded(ERROR_RATIO, slo, window)} / {number(slo.error_budget)}"


def _burn_alert(slo: SLO, alert: ResolvedAlert) -> dict[str, Any]:
    threshold = number(alert.threshold)
    expr = (
        f"{burn_rate_expr(slo, alert.long_window)} > {threshold}\n"
        f"and ignoring (window)\n"
        f"{burn_rate_expr(slo, alert.short_window)} > {threshold}"
    )
    exhausted_in = human_duration(Decimal(slo.window) / alert.threshold)
    objective = number(slo.objective * 100)
    rule: dict[str, Any] = {
        "alert": alert.name,
        "expr": expr,
        "labels": alert_rule_labels(slo, alert.severity),
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
        "labels": alert_rule_labels(slo, slo.no_data_severity),
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
        "labels": alert_rule_labels(slo, slo.forecast_severity),
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


def slo_groups(slo: SLO, options: RuleOptions | None = None) -> list[dict[str, Any]]:
    """The SLO's own groups (``fast``, ``alerts``, ``slow``): what needs its own selectors or text. Every
    window, the SLI, the budget and the running sums' start and coarse copies come from the namespace's
    shared groups (``shared``)."""
    options = options or RuleOptions()
    bad, total = base_series(slo)
    objective = record_rule(OBJECTIVE, f"vector({number(slo.objective)})", slo,
                            **shared.params(slo, options.fast_interval))
    fast: list[dict[str, Any]] = [
        objective,
        *spend.fast_rules(slo, options.fast_interval),
        record_rule(BAD_EVENTS, bad, slo, window=format_duration(slo.base_window)),
        record_rule(TOTAL_EVENTS, total, slo, window=format_duration(slo.base_window)),
    ]
    tiers = tiering.plan(slo, parse_duration(options.fast_interval))
    if tiers is not None:
        for base in (BAD_EVENTS, TOTAL_EVENTS):
            fast.append(record_rule(RUNNING_SUMS[base], tiering.running_sum_expr(slo, base, tiers), slo,
                                    **{tiering.TIER_LABEL: tiers.fine_label}))
    since = record_rule(RECORDING_SINCE, since_expr(slo), slo, indicator=indicator_hash(slo))
    slow: list[dict[str, Any]] = [since, *spend.slow_rules(slo, options.fast_interval)]
    alerts: list[dict[str, Any]] = []
    if slo.alerting_enabled:
        alerts.extend(_burn_alert(slo, alert) for alert in slo.alerts)
        if slo.no_data_for:
            alerts.append(_no_data_alert(slo))
        alerts.extend(spend.alerts(slo))
        if slo.forecast_threshold is not None:
            slow.append(_forecast_alert(slo))
    prefix = f"slo:{slo.namespace}:{slo.name}"
    groups = [
        {"name": f"{prefix}:fast", "interval": options.fast_interval, "rules": fast},
        {"name": f"{prefix}:alerts", "interval": options.fast_interval, "rules": alerts},
        {"name": f"{prefix}:slow", "interval": options.slow_interval, "rules": slow},
    ]
    return [g for g in groups if g["rules"]]


def shared_groups(
    namespace: str, slos: list[SLO], options: RuleOptions | None = None
) -> list[dict[str, Any]]:
    """The groups shared by the namespace's SLOs (see ``shared``)."""
    options = options or RuleOptions()
    return shared.shared_groups(namespace, slos, options.fast_interval, options.slow_interval)


def _kind(group: dict[str, Any]) -> str:
    return str(group["name"]).rsplit(":", 1)[-1]


# Where each group runs in a file holding both kinds, so that each rule reads what it depends on as
# evaluated at the same instant when every group runs at every step (promtool, the simulator): the base
# rates and running sums, then the windows, then the alerts on them; the objective (the shared rules'
# parameters) comes first. A running Prometheus evaluates groups on their own schedules anyway.
_ORDER = (("own", "fast"), ("shared", "fast"), ("own", "alerts"), ("own", "slow"), ("shared", "slow"),
          ("shared", "tier"))


def namespace_groups(slos: list[SLO], options: RuleOptions | None = None) -> list[dict[str, Any]]:
    """Every SLO's own groups and their namespaces' shared groups, in evaluation order (``_ORDER``)."""
    options = options or RuleOptions()
    own = [g for slo in slos for g in slo_groups(slo, options)]
    namespaces = sorted({slo.namespace for slo in slos})
    common = [g for ns in namespaces for g in shared_groups(ns, slos, options)]
    out: list[dict[str, Any]] = []
    for kind, name in _ORDER:
        out.extend(g for g in (own if kind == "own" else common) if _kind(g) == name)
    return out


def rule_groups(slo: SLO, options: RuleOptions | None = None) -> list[dict[str, Any]]:
    """The Prometheus rule groups (``groups:`` entries) for one SLO: its own groups and the shared groups
    of a namespace holding only it."""
    return namespace_groups([slo], options)
