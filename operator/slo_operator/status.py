"""The SLO's ``.status``, computed from what the operator did and measured (pure functions).

Conditions follow Kubernetes conventions: one entry per type, ``lastTransitionTime`` changes only when
the status flips. ``Ready`` summarises the others. The measured numbers are rounded to what a person
reads, so a refresh that changes nothing visible writes nothing (no status write storms).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from slo_operator.acceptance import REASON as REJECTED
from slo_operator.coverage import RAW, Coverage, RawFigures, decide, remaining, since_of, window_status
from slo_operator.durations import format_duration
from slo_operator.durations import human_duration as human_duration
from slo_operator.model import SLO
from slo_operator.spend import COST_FORECAST, COST_PER_UNIT, COST_SPENT

VALID = "Valid"
RULES_APPLIED = "RulesApplied"
PROMETHEUS_REACHABLE = "PrometheusReachable"
BUDGET_EXHAUSTED = "BudgetExhausted"
WINDOW_COVERED = "WindowCovered"  # the figures span the whole SLO window (see coverage.py)
ROUTING_READY = "RoutingReady"  # its Secrets exist and prometheus-operator accepted it (reconcile.py)
READY = "Ready"
AT_RISK_REMAINING = 0.1  # below 10% of the budget left, an SLO is at risk even without a firing alert
MEASURED_FIELDS = (
    "sli", "errorBudget", "burnRate", "burnRates", "timeToExhaustion", "state", "policy", "window",
    "forecast", "cost",
)


@dataclass
class Measurement:
    """The numbers of one SLO as read from its recorded series (the worst group when the SLO has groupBy
    labels); ``prometheus.fetch_measurements`` fills it in."""

    sli: float | None = None
    remaining: float | None = None
    time_to_exhaustion: float | None = None
    burn_rates: dict[str, float] = field(default_factory=dict)  # window label -> burn rate
    has_traffic_series: bool = False
    recording_since: dict[str, float] = field(default_factory=dict)  # indicator hash -> Unix seconds
    cost: dict[str, float] = field(default_factory=dict)  # spend series name -> value (cost SLOs)


def window_measurement(
    slo: SLO, measurement: Measurement | None, raw: RawFigures | None, now: float
) -> tuple[Measurement | None, Coverage]:
    """The SLO's measurement with its window figures (SLI, budget, time to exhaustion) from the source
    ``coverage.decide`` picks, and that coverage. Burn rates stay the recorded ones (short windows)."""
    since = None if measurement is None else since_of(slo, measurement.recording_since)
    coverage = decide(slo, since, raw, now)
    if coverage.source == RAW and raw is not None and raw.error_ratio is not None:
        ratio = raw.error_ratio
    elif measurement is not None and measurement.sli is not None:
        if coverage.complete:
            return measurement, coverage  # the recorded figures as they are
        ratio = 1.0 - measurement.sli
    else:
        return measurement, coverage
    left = remaining(ratio, float(slo.error_budget), coverage.fraction)
    base = measurement or Measurement()
    burn = base.burn_rates.get(format_duration(slo.current_burn_window))
    tte = max(left, 0.0) * slo.window / burn if burn else None
    return replace(base, sli=1.0 - ratio, remaining=left, time_to_exhaustion=tte), coverage


def timestamp(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def set_condition(
    conditions: list[dict[str, Any]],
    type_: str,
    status: str,
    reason: str,
    message: str,
    now: datetime,
    generation: int | None = None,
) -> list[dict[str, Any]]:
    """A new list with the condition set; lastTransitionTime is kept unless the status changes."""
    previous = next((c for c in conditions if c.get("type") == type_), None)
    changed = previous is None or previous.get("status") != status
    condition = {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": timestamp(now)
        if changed or previous is None
        else previous.get("lastTransitionTime", timestamp(now)),
    }
    if generation is not None:
        condition["observedGeneration"] = generation
    elif previous is not None and "observedGeneration" in previous:
        condition["observedGeneration"] = previous["observedGeneration"]
    if previous is None:
        return [*conditions, condition]
    # Replaced in place: a stable order keeps an unchanged status byte-identical (no needless writes).
    return [condition if c.get("type") == type_ else c for c in conditions]


def condition_status(conditions: list[dict[str, Any]], type_: str) -> str | None:
    return next((str(c.get("status")) for c in conditions if c.get("type") == type_), None)


def condition_reason(conditions: list[dict[str, Any]], type_: str) -> str | None:
    return next((str(c.get("reason")) for c in conditions if c.get("type") == type_), None)


def with_ready(conditions: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Ready: spec valid, rules applied and Prometheus readable (where known)."""
    problems = []
    if condition_status(conditions, VALID) != "True":
        problems.append("the spec is not valid")
    if condition_status(conditions, RULES_APPLIED) != "True":
        rejected = condition_reason(conditions, RULES_APPLIED) == REJECTED
        problems.append("prometheus-operator rejected the rules" if rejected else "the rules are not applied")
    if condition_status(conditions, PROMETHEUS_REACHABLE) == "False":
        problems.append("Prometheus is unreachable")
    if condition_status(conditions, ROUTING_READY) == "False":
        reason = condition_reason(conditions, ROUTING_READY)
        problems.append(
            "prometheus-operator rejected the alert routing"
            if reason == REJECTED
            else "alert routing refers to a missing Secret"
            if reason in ("SecretNotFound", "KeyNotFound")
            else "alert routing is not ready"
        )
    if problems:
        return set_condition(conditions, READY, "False", "NotReady", "; ".join(problems), now)
    return set_condition(conditions, READY, "True", "Ready", "rules applied and measured", now)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True)
class Measured:
    """The measured part of the status and whether any burn-rate alert is firing."""

    fields: dict[str, Any]
    firing: bool
    exhausted: bool


def measured_status(
    slo: SLO,
    measurement: Measurement | None,
    coverage: Coverage | None = None,
    previous_window: dict[str, Any] | None = None,
) -> Measured:
    """Status numbers for one SLO from its measurement (None: Prometheus has nothing for it).

    ``coverage`` (see ``coverage.window_measurement``) says how much of the window the figures span;
    without it they are taken to span it all. On a partly covered window the state is ``Warming``
    unless the budget is spent in absolute events (``Violating``) or at risk (``AtRisk``).
    """
    window = None if coverage is None else window_status(coverage, previous_window)
    if measurement is None or measurement.sli is None:
        alerts = [
            {
                "name": a.name,
                "severity": a.severity,
                "threshold": float(a.threshold),
                "longWindow": a.long,
                "shortWindow": a.short,
                "firing": False,
            }
            for a in slo.alerts
        ]
        return Measured(
            {
                "sli": None,
                "errorBudget": None,
                "burnRate": None,
                "burnRates": alerts,
                "timeToExhaustion": None,
                "state": "NoData",
                "window": window,
            },
            firing=False,
            exhausted=False,
        )
    burn_rates = []
    firing = False
    for alert in slo.alerts:
        long_rate = measurement.burn_rates.get(alert.long)
        short_rate = measurement.burn_rates.get(alert.short)
        is_firing = (
            long_rate is not None
            and short_rate is not None
            and long_rate > float(alert.threshold)
            and short_rate > float(alert.threshold)
        )
        firing = firing or is_firing
        burn_rates.append(
            {
                "name": alert.name,
                "severity": alert.severity,
                "threshold": float(alert.threshold),
                "longWindow": alert.long,
                "longBurnRate": _round(long_rate, 3),
                "shortWindow": alert.short,
                "shortBurnRate": _round(short_rate, 3),
                "firing": is_firing,
            }
        )
    remaining = measurement.remaining
    current = measurement.burn_rates.get(format_duration(slo.current_burn_window))
    exhausted = remaining is not None and remaining <= 0
    if exhausted:
        state = "Violating"
    elif firing or (remaining is not None and remaining < AT_RISK_REMAINING):
        state = "AtRisk"
    elif coverage is not None and not coverage.complete:
        state = "Warming"
    else:
        state = "Meeting"
    tte = measurement.time_to_exhaustion
    return Measured(
        {
            "sli": _round(measurement.sli * 100, 4),
            "errorBudget": None
            if remaining is None
            else {"remaining": round(remaining * 100, 2), "consumed": round((1 - remaining) * 100, 2)},
            "burnRate": _round(current, 3),
            "burnRates": burn_rates,
            "timeToExhaustion": human_duration(tte) if tte is not None else None,
            "state": state,
            "window": window,
        },
        firing=firing,
        exhausted=exhausted,
    )


def _significant(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else float(f"{value:.{digits}g}")


def cost_status(slo: SLO, measurement: Measurement | None) -> dict[str, Any] | None:
    """``status.cost`` of a cost SLO (None for other kinds): money to the cent, cost per unit to four
    significant digits, so a refresh writes only when a person would see a change."""
    if slo.cost is None:
        return None
    found = {} if measurement is None else measurement.cost

    def money(name: str) -> float | None:
        return None if name not in found else round(found[name], 2)

    budget = slo.cost.budget
    return {
        "spent": money(COST_SPENT) if budget is not None else None,
        "budget": None if budget is None else float(budget),
        "currency": slo.cost.currency,
        "forecastEndOfPeriod": money(COST_FORECAST),
        "perUnit": _significant(found.get(COST_PER_UNIT)),
    }


def refreshed_status(
    slo: SLO,
    current: dict[str, Any],
    measurement: Measurement | None,
    reachable: bool,
    unreachable_reason: str,
    now: datetime,
    coverage: Coverage | None = None,
) -> dict[str, Any]:
    """The whole new status after a refresh. Prometheus down: numbers and lastEvaluated are kept."""
    conditions = list(current.get("conditions") or [])
    status = {k: current.get(k) for k in MEASURED_FIELDS}
    status["lastEvaluated"] = current.get("lastEvaluated")
    if not reachable:
        conditions = set_condition(
            conditions, PROMETHEUS_REACHABLE, "False", "QueryFailed", unreachable_reason, now
        )
        if status.get("state") is None:
            status["state"] = "Unknown"
    else:
        conditions = set_condition(
            conditions,
            PROMETHEUS_REACHABLE,
            "True",
            "QueriesSucceeded",
            "recorded SLO series read from Prometheus",
            now,
        )
        measured = measured_status(slo, measurement, coverage, current.get("window"))
        status.update(measured.fields)
        status["cost"] = cost_status(slo, measurement)
        if coverage is not None:
            conditions = set_condition(
                conditions, WINDOW_COVERED, *window_condition(slo, coverage, status.get("window")), now
            )
        status["lastEvaluated"] = timestamp(now)
        if measured.exhausted:
            conditions = set_condition(
                conditions,
                BUDGET_EXHAUSTED,
                "True",
                "BudgetSpent",
                f"the {format_duration(slo.window)} error budget is used up "
                f"(SLI {status['sli']}% < objective {float(slo.objective * 100)}%)",
                now,
            )
        else:
            conditions = set_condition(
                conditions,
                BUDGET_EXHAUSTED,
                "False",
                "BudgetLeft",
                "error budget left" if measured.fields["sli"] is not None else "no data",
                now,
            )
    status["conditions"] = with_ready(conditions, now)
    return status


def window_condition(
    slo: SLO, coverage: Coverage, held: dict[str, Any] | None = None
) -> tuple[str, str, str]:
    """WindowCovered (status, reason, message): do the figures span the whole SLO window, and from where.

    ``held`` is the ``status.window`` written with this condition (``coverage.window_status``): its
    covered percentage and recording start are held against small moves, and the message says the same
    figures. A live span in the message ("covers 3h12m") would change every minute of the first day,
    and every change of the message is a status write: 10,000 warming SLOs would each be rewritten
    every minute, against the one write per ``COVERED_STEP`` that ``status.window`` is built for.
    """
    held = held or window_status(coverage)
    window = format_duration(slo.window)
    since = held.get("since")
    recorded = (
        "nothing recorded yet for the current indicator"
        if coverage.since is None or not isinstance(since, str)
        else f"recorded series since {since}"
    )
    if coverage.complete and coverage.source != RAW:
        return "True", "Recorded", f"the recorded series cover the whole {window} window ({recorded})"
    if coverage.complete:
        message = f"{recorded}; the {window} figures come from raw history, which covers it"
        return "True", "RawHistory", message
    percent = held.get("covered")
    percent = float(percent) if isinstance(percent, int | float) else 0.0
    covered = human_duration(percent / 100 * slo.window)
    return (
        "False",
        "PartialHistory",
        f"data covers {percent:g}% ({covered}) of the {window} window ({recorded}); the budget counts the "
        "bad events so far against the whole window's budget and the state is Warming unless that is spent",
    )


def needs_write(
    current: dict[str, Any], new: dict[str, Any], now: datetime, heartbeat_seconds: float
) -> bool:
    """Write only when something a reader sees changed, or lastEvaluated is older than the heartbeat."""

    def stored(value: Any) -> Any:  # null members are not stored (objects, list items): None == absent
        if isinstance(value, dict):
            return {k: stored(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [stored(v) for v in value]
        return value

    def visible(status: dict[str, Any]) -> dict[str, Any]:
        return {k: stored(status.get(k)) for k in (*MEASURED_FIELDS, "conditions")}

    if visible(current) != visible(new):
        return True
    last = current.get("lastEvaluated")
    if new.get("lastEvaluated") == last:
        return False
    if not last:
        return True
    try:
        age = (now - datetime.strptime(last, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=now.tzinfo)).total_seconds()
    except ValueError:
        return True
    return age >= heartbeat_seconds


def transitions(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """Condition flips worth an Event: (type, old status, new status)."""
    flips = []
    for condition in after:
        old = condition_status(before, condition["type"])
        if old != condition["status"]:
            flips.append((condition["type"], old or "", condition["status"]))
    return flips
