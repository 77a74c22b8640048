"""A resolved SLO: the spec with every default applied and every number made exact.

``resolve()`` is the one place where API defaults become concrete: the default burn-rate alerts scaled
to the SLO window, each alert's burn-rate threshold, the base window read from raw series, and the
budgeting method. Everything downstream (rules, dashboards, status) works from this model, never from
the raw spec, so they cannot disagree about a default.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal

from slo_operator.api import BurnRateAlert, Routing, ServiceLevelObjective, ServiceLevelObjectiveSpec
from slo_operator.durations import format_duration, parse_window
from slo_operator.indicators import INDICATORS
from slo_operator.indicators.base import CostParams
from slo_operator.promql import exact
from slo_operator.selectors import Selector

THIRTY_DAYS = 30 * 86400
# The shortest window slo-operator reads raw counters over. rate() needs several scrapes inside its
# window to be meaningful; 5m covers scrape intervals up to ~1m (4+ samples). Default alert windows are
# never scaled below it, so on a short SLO window (24h) the fast-burn alert cannot react faster than
# about 5 minutes of data allows — see README "Short SLO windows".
WINDOW_FLOOR = 300

# (name, severity, budget percent, long window, short window) for a 30d SLO.
DEFAULT_BURN_RATES: tuple[tuple[str, str, int, int, int], ...] = (
    ("SLOFastBurn", "critical", 2, 3600, 300),
    ("SLOSlowBurn", "warning", 10, 86400, 3600),
)

_CONTEXT = Context(prec=12, rounding=ROUND_HALF_EVEN)

__all__ = ["SLO", "ResolvedAlert", "default_alerts", "exact", "resolve", "resolve_spec"]


@dataclass(frozen=True)
class ResolvedAlert:
    """A burn-rate alert with exact windows (seconds) and its derived threshold."""

    name: str
    severity: str
    budget_percent: Decimal
    long_window: int
    short_window: int
    threshold: Decimal
    for_: str | None = None

    @property
    def long(self) -> str:
        return format_duration(self.long_window)

    @property
    def short(self) -> str:
        return format_duration(self.short_window)


@dataclass(frozen=True)
class SLO:
    """Everything the generators need about one SLO, with defaults applied."""

    name: str
    namespace: str
    service: str
    description: str
    objective: Decimal  # fraction, e.g. 0.999
    window: int  # seconds
    kind: str  # a name in indicators.INDICATORS
    method: str  # Occurrences | Timeslices
    selectors: dict[str, Selector]
    group_by: tuple[str, ...]
    alerts: tuple[ResolvedAlert, ...]
    alerting_enabled: bool
    alert_labels: dict[str, str] = field(default_factory=dict)
    alert_annotations: dict[str, str] = field(default_factory=dict)
    no_data_for: str | None = None
    no_data_severity: str = "warning"
    forecast_threshold: Decimal | None = None  # SLOForecastViolation above this probability; None: off
    forecast_for: str = "1h"
    forecast_severity: str = "warning"
    latency_threshold: Decimal | None = None
    max_age: int | None = None
    slice_size: int | None = None
    slice_goal: Decimal | None = None
    routing: Routing | None = None  # spec.alerting.routing as written; defaults are merged in routing.py
    cost: CostParams | None = None  # cost indicators: maximum per unit and spend budget

    @property
    def error_budget(self) -> Decimal:
        """Allowed fraction of bad events (or bad slices): 1 - objective."""
        return 1 - self.objective

    @property
    def base_window(self) -> int:
        """Window over which raw series are read; every other window is derived from it."""
        if INDICATORS[self.kind].measures == "time":
            return WINDOW_FLOOR
        if INDICATORS[self.kind].measures == "slices":
            return self.slice_size or WINDOW_FLOOR
        if self.method == "Timeslices" and self.slice_size is not None:
            return self.slice_size
        shortest = min((a.short_window for a in self.alerts), default=WINDOW_FLOOR)
        return min(WINDOW_FLOOR, shortest)

    @property
    def windows(self) -> tuple[int, ...]:
        """Every window that gets an error-ratio and burn-rate series, shortest first."""
        found = {self.base_window, self.window, self.current_burn_window}
        for alert in self.alerts:
            found.update((alert.long_window, alert.short_window))
        return tuple(sorted(found))

    @property
    def current_burn_window(self) -> int:
        """Window whose burn rate is "the" current burn rate: the first alert's long window (1h default)."""
        return self.alerts[0].long_window if self.alerts else min(3600, self.window)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def burn_rate_threshold(budget_percent: Decimal, window: int, long_window: int) -> Decimal:
    """Burn rate that spends ``budget_percent`` % of the budget within ``long_window``."""
    return budget_percent / Decimal(100) * Decimal(window) / Decimal(long_window)


def _round_minutes(seconds: Decimal) -> int:
    minutes = int((seconds / 60).to_integral_value(rounding=ROUND_HALF_EVEN))
    return max(1, minutes) * 60


@functools.lru_cache(maxsize=256)
def default_alerts(window: int, error_budget: Decimal = Decimal("0.001")) -> tuple[ResolvedAlert, ...]:
    """The two default alerts, their windows scaled by window/30d with the floor applied.

    Memoised (the alerts are frozen): most SLOs share a window and an objective, so one tuple serves
    them all instead of two alerts with four Decimals each per SLO resolved.

    Scaled exactly, the windows keep the 30d profile's burn-rate thresholds (14.4 and 3): the formula
    budget% × window / longWindow is invariant under scaling. When the floor lengthens a window (short
    SLO windows such as 24h), the thresholds are kept and the budget share is derived from them instead,
    so the page stays stricter than the warning and neither fires while the SLO is met. A threshold can
    at most spend the whole budget within its long window (window / longWindow). For low objectives
    (85% accuracy: at most 1/0.15 = 6.7x) a threshold is also capped at half the highest possible burn
    rate (an error ratio of 50%), so the page can still fire.
    """
    scale = Decimal(window) / Decimal(THIRTY_DAYS)
    alerts = []
    for name, severity, percent, long30, short30 in DEFAULT_BURN_RATES:
        short = max(WINDOW_FLOOR, _round_minutes(short30 * scale))
        long = min(window, max(_round_minutes(long30 * scale), 2 * short))
        profile = burn_rate_threshold(Decimal(percent), THIRTY_DAYS, long30)
        reachable = max(Decimal(1), 1 / (2 * error_budget))
        threshold = _CONTEXT.plus(min(profile, Decimal(window) / Decimal(long), reachable)).normalize()
        budget = _CONTEXT.plus(threshold * Decimal(long) / Decimal(window) * 100).normalize()
        alerts.append(ResolvedAlert(name, severity, budget, long, short, threshold))
    return tuple(alerts)


def _resolve_alert(alert: BurnRateAlert, window: int) -> ResolvedAlert:
    long = parse_window(alert.long_window)
    budget = Decimal(str(alert.budget_percent))
    return ResolvedAlert(
        name=alert.name,
        severity=alert.severity,
        budget_percent=budget,
        long_window=long,
        short_window=parse_window(alert.short_window),
        threshold=burn_rate_threshold(budget, window, long),
        for_=alert.for_,
    )


def resolve(obj: ServiceLevelObjective) -> SLO:
    """The resolved model of a validated object."""
    return resolve_spec(obj.metadata.name, obj.metadata.namespace, obj.spec)


def resolve_spec(name: str, namespace: str, spec: ServiceLevelObjectiveSpec) -> SLO:
    """The resolved model of a validated spec, named ``namespace/name``."""
    window = parse_window(spec.window)
    kind = INDICATORS[spec.indicator.kind]
    resolution = kind.resolve(getattr(spec.indicator, kind.name))

    alerting = spec.alerting
    objective = Decimal(str(spec.objective)) / Decimal(100)
    if alerting.burn_rates is None:
        alerts = default_alerts(window, 1 - objective)
    else:
        alerts = tuple(_resolve_alert(a, window) for a in alerting.burn_rates)
    no_data = alerting.no_data
    forecast = alerting.forecast
    return SLO(
        name=name,
        namespace=namespace,
        service=spec.service,
        description=spec.description,
        objective=objective,
        window=window,
        kind=kind.name,
        method=spec.method,
        selectors=resolution.selectors,
        group_by=tuple(spec.group_by),
        alerts=alerts,
        alerting_enabled=alerting.enabled,
        alert_labels=dict(alerting.labels),
        alert_annotations=dict(alerting.annotations),
        no_data_for=no_data.for_ if no_data is not None and no_data.enabled else None,
        no_data_severity=no_data.severity if no_data is not None else "warning",
        forecast_threshold=None if forecast is None or not forecast.enabled
        else Decimal(str(forecast.threshold)),
        forecast_for=forecast.for_ if forecast is not None else "1h",
        forecast_severity=forecast.severity if forecast is not None else "warning",
        latency_threshold=resolution.latency_threshold,
        max_age=resolution.max_age,
        slice_size=parse_window(spec.timeslices.slice_size) if spec.timeslices else None,
        slice_goal=(
            Decimal(str(spec.timeslices.goal)) / Decimal(100)
            if spec.timeslices is not None and spec.timeslices.goal is not None
            else None
        ),
        routing=alerting.routing,
        cost=resolution.cost,
    )
