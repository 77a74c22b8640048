"""The month's numbers from fetched series: pure functions, no I/O.

What Prometheus gives (``SLOData``, filled by ``source``) is turned into an ``SLOMonthReport`` here:

- Compliance is a ratio of sums: the bad and total events of every hour of the month (read from the
  recorded base rates ``slo:bad_events:rate`` / ``slo:total_events:rate``) are added up and divided, so
  each hour weighs by its traffic. For timeslice SLOs (freshness) the same arithmetic gives seconds of
  bad time over seconds measured.
- The error budget of the month is what its traffic allowed: ``(1 - objective) * total``; every share of
  budget (per day, per alert firing, the burn-down) is a share of that.
- Violation periods are runs of consecutive resolution steps at which a condition held (an alert firing,
  the SLO-window SLI below the objective); a run of n steps from t lasts ``[t, t + n * step)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from slo_operator.durations import format_duration, parse_duration
from slo_operator.model import SLO
from slo_operator.reports.data import HOUR, ReportRange, SLOData
from slo_operator.reports.recommendations import recommend
from slo_operator.reports.schema import (
    AlertFiring,
    CostHour,
    CostMonth,
    DayStats,
    ErrorBudget,
    MonthlyReport,
    Period,
    Point,
    ReportSummary,
    SLOMonthReport,
    Violations,
)

WORST_DAYS = 3


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def steps_to_periods(steps: Iterable[float], step: float, rng: ReportRange) -> list[Period]:
    """Runs of consecutive steps (``step`` apart) as periods ``[first, last + step)``, clipped to ``rng``."""
    ordered = sorted({s for s in steps if rng.start_ts <= s < rng.end_ts})
    runs: list[list[float]] = []
    for ts in ordered:
        if runs and abs(ts - runs[-1][1] - step) < 1e-3:
            runs[-1][1] = ts
        else:
            runs.append([ts, ts])
    periods = []
    for first, last in runs:
        end = min(last + step, rng.end_ts)
        periods.append(
            Period(
                start=_utc(first),
                end=_utc(end),
                duration_seconds=end - first,
                open_at_start=first - rng.start_ts < step,
                open_at_end=rng.end_ts - end < step,
            )
        )
    return periods


def apply_hold(periods: list[Period], hold: float) -> list[Period]:
    """An alert with ``for: hold`` fires ``hold`` after its condition starts, if it lasts that long."""
    if hold <= 0:
        return periods
    held = []
    for p in periods:
        if p.duration_seconds <= hold and not p.open_at_start:
            continue
        start = p.start if p.open_at_start else p.start + timedelta(seconds=hold)
        seconds = (p.end - start).total_seconds()
        held.append(p.model_copy(update={"start": start, "duration_seconds": seconds}))
    return held


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _percent(part: float, whole: float) -> float | None:
    return 100 * part / whole if whole > 0 else None


def _hours_were(count: int, which: str) -> str:
    """``1 hour <which> was`` or ``N hours <which> were``: a note reads as a sentence whatever the count."""
    return f"1 hour {which} was" if count == 1 else f"{count} hours {which} were"


def _hours_overlapping(start: datetime, end: datetime, rng: ReportRange) -> range:
    first = int((start - rng.start).total_seconds()) // HOUR
    last = math.ceil((end - rng.start).total_seconds() / HOUR)
    return range(max(0, first), min(rng.hours, last))


def _daily(data: SLOData, rng: ReportRange, allowed: float | None, has_bad: bool) -> list[DayStats]:
    days: dict[date, list[int]] = {}
    for hour in range(rng.hours):
        days.setdefault(rng.hour_start(hour).date(), []).append(hour)
    stats = []
    for day, hours in days.items():
        measured = [h for h in hours if h in data.total]
        total = sum(data.total[h] for h in measured) if measured else None
        bad = sum(data.bad.get(h, 0.0) for h in measured) if measured and has_bad else None
        good = total - bad if total is not None and bad is not None else None
        stats.append(
            DayStats(
                date=day,
                good=good,
                bad=bad,
                total=total,
                compliance_percent=_percent(good, total) if good is not None and total else None,
                budget_consumed_percent=_percent(bad, allowed) if bad is not None and allowed else None,
            )
        )
    return stats


def _firings(slo: SLO, data: SLOData, rng: ReportRange, resolution: float, allowed: float | None,
             ) -> list[AlertFiring]:
    firings: list[AlertFiring] = []
    for alert in slo.alerts:
        periods = steps_to_periods(data.firing_steps.get(alert.name, []), resolution, rng)
        if data.alert_source == "burn_rate" and alert.for_:
            periods = apply_hold(periods, float(parse_duration(alert.for_)))
        for p in periods:
            bad = sum(data.bad.get(h, 0.0) for h in _hours_overlapping(p.start, p.end, rng))
            firings.append(
                AlertFiring(
                    **p.model_dump(),
                    alert=alert.name,
                    severity=alert.severity,
                    budget_consumed_percent=_percent(bad, allowed) if allowed else None,
                )
            )
    known = {a.name for a in slo.alerts}
    for name in sorted(set(data.firing_steps) - known):  # alerts Prometheus knows under an older spec
        for p in steps_to_periods(data.firing_steps[name], resolution, rng):
            firings.append(
                AlertFiring(**p.model_dump(), alert=name, severity="", budget_consumed_percent=None)
            )
    return sorted(firings, key=lambda f: (f.start, f.alert))


def forecast_note(slo: SLO, data: SLOData, rng: ReportRange) -> str | None:
    """The budget forecast (``slo_operator.forecast``) from the month's hourly events, as of the range's
    end, in a sentence; None with under two days of data (no made-up number)."""
    import numpy as np

    from slo_operator.forecast import History, fit, forecast

    total = np.array([data.total.get(h, math.nan) / HOUR for h in range(rng.hours)])
    bad = np.array([data.bad.get(h, 0.0) / HOUR if h in data.total else math.nan for h in range(rng.hours)])
    history = History(int(rng.start_ts) // HOUR * HOUR, bad, total)
    result = forecast(fit(history), history, float(slo.objective), slo.window)
    if not result.sufficient or result.violation_probability is None:
        return None
    window = format_duration(slo.window)
    chance = (f"probability that the {window} window ending {window} after it is below the objective: "
              f"{result.violation_probability:.2f}")

    def day(ts: int | None) -> str:
        return "after the horizon" if ts is None else _utc(ts).strftime("%Y-%m-%d %H:%M UTC")

    as_of = f"Forecast as of {rng.end.isoformat()}: at the current pace the budget"
    if result.exhaustion_at is None:
        return f"{as_of} lasts beyond the next {window}; {chance}."
    earliest, latest = result.interval or (None, None)
    return (f"{as_of} ends on {day(result.exhaustion_at)} (10th-90th percentile: {day(earliest)} to "
            f"{day(latest)}); {chance}.")


def slo_month_report(slo: SLO, data: SLOData, rng: ReportRange, resolution: float) -> SLOMonthReport:
    """One SLO's month from its fetched series."""
    objective = float(slo.objective)
    budget_ratio = float(slo.error_budget)
    hours = [h for h in range(rng.hours) if h in data.total]
    total = sum(data.total[h] for h in hours) if hours else None
    has_bad = any(h in data.bad for h in hours)
    bad = sum(data.bad.get(h, 0.0) for h in hours) if hours and has_bad else None
    measured = total is not None and total > 0 and bad is not None
    good = total - bad if measured and total is not None and bad is not None else None
    compliance = _percent(good, total) if good is not None and total else None
    allowed = budget_ratio * total if measured and total else None
    consumed_percent = _percent(bad, allowed) if bad is not None and allowed else None
    met = None if compliance is None else compliance >= objective * 100 - 1e-9
    status = "no_data" if met is None else ("met" if met else "missed")

    daily = _daily(data, rng, allowed, has_bad)
    worst = sorted((d for d in daily if d.bad), key=lambda d: (-(d.bad or 0.0), d.date))[:WORST_DAYS]
    firings = _firings(slo, data, rng, resolution, allowed)
    below = steps_to_periods(data.sli_below_steps, resolution, rng)

    burndown: list[Point] = []
    if allowed:
        spent = 0.0
        for hour in range(rng.hours):
            spent += data.bad.get(hour, 0.0)
            burndown.append(Point(time=rng.hour_start(hour + 1), value=100 - 100 * spent / allowed))
    sli = [Point(time=rng.hour_start(h + 1), value=100 * v) for h, v in sorted(data.sli.items())
           if math.isfinite(v)]

    remaining_window = _finite(data.window_budget_remaining)
    notes: list[str] = []
    if data.alert_source == "burn_rate" and status != "no_data":
        notes.append(
            "Alert firings are derived from slo:error_ratio / error budget and each alert's threshold "
            "(Prometheus holds no ALERTS series for this SLO in the month), at the report's resolution."
        )
    if not rng.complete:
        notes.append(f"The month had not ended: the report covers it up to {rng.end.isoformat()}.")
    if data.recording_since is not None and data.recording_since > rng.start_ts + HOUR:
        began = _utc(data.recording_since).strftime("%Y-%m-%d %H:%M UTC")
        if data.raw_hours:
            raw = _hours_were(data.raw_hours, "before that")
            notes.append(f"The recorded series cover the month only from {began}: {raw} read from raw "
                         "history.")
        else:
            notes.append(f"The recorded series cover the month only from {began} (no raw history before).")
    elif data.raw_hours:
        notes.append(f"{_hours_were(data.raw_hours, 'without recorded series')} read from raw history.")
    if hours and len(hours) < rng.hours:
        notes.append(f"Data for {len(hours)} of {rng.hours} hours.")
    if (predicted := forecast_note(slo, data, rng)) is not None:
        notes.insert(0, predicted)

    report = SLOMonthReport(
        name=slo.name,
        namespace=slo.namespace,
        service=slo.service,
        description=slo.description,
        kind=slo.kind,
        budgeting_method=slo.method,
        objective_percent=objective * 100,
        window=format_duration(slo.window),
        status=status,
        met=met,
        compliance_percent=compliance,
        unit="seconds" if slo.method == "Timeslices" else "events",
        good=good,
        bad=bad,
        total=total,
        error_budget=ErrorBudget(
            allowed=allowed,
            consumed=bad,
            consumed_percent=consumed_percent,
            remaining_percent=None if consumed_percent is None else 100 - consumed_percent,
            window_remaining_percent_at_end=None if remaining_window is None else 100 * remaining_window,
        ),
        violations=Violations(
            alert_source=data.alert_source,
            alert_firings=firings,
            alert_firing_count=len(firings),
            alert_firing_seconds=sum(f.duration_seconds for f in firings),
            sli_below_objective=below,
            sli_below_objective_count=len(below),
            sli_below_objective_seconds=sum(p.duration_seconds for p in below),
        ),
        worst_days=worst,
        daily=daily,
        budget_burndown=burndown,
        sli=sli,
        recommendations=[],
        notes=notes,
        cost=cost_month(slo, data, rng),
    )
    return report.model_copy(update={"recommendations": recommend(slo, report, data.bucket)})


WORST_HOURS = 5


def cost_month(slo: SLO, data: SLOData, rng: ReportRange) -> CostMonth | None:
    """A cost SLO's month: spend against the budget and the hours with the highest cost per unit."""
    cost = slo.cost
    if cost is None:
        return None
    spend = sum(v for v in data.spend.values() if math.isfinite(v)) if data.spend else None
    budget = None if cost.budget is None else float(cost.budget)
    monthly = budget if cost.period == "month" else None
    worst = sorted(
        (h for h, v in data.per_unit.items() if math.isfinite(v)), key=lambda h: (-data.per_unit[h], h)
    )[:WORST_HOURS]
    return CostMonth(
        currency=cost.currency,
        spend=spend,
        budget=budget,
        budget_period=cost.period,
        budget_used_percent=_percent(spend, monthly) if spend is not None and monthly else None,
        max_per_unit=float(cost.max_per_unit),
        worst_hours=[
            CostHour(start=rng.hour_start(h), spend=_finite(data.spend.get(h)), per_unit=data.per_unit[h])
            for h in worst
        ],
    )


def monthly_report(
    slos: list[SLO], data: dict[tuple[str, str], SLOData], rng: ReportRange, *, resolution: float,
    prometheus_url: str, generated_at: datetime,
) -> MonthlyReport:
    """The whole report; ``data`` is keyed by (namespace, name), a missing SLO reads as no data."""
    reports = [slo_month_report(s, data.get((s.namespace, s.name), SLOData()), rng, resolution) for s in slos]
    return MonthlyReport(
        month=rng.month,
        start=rng.start,
        end=rng.end,
        complete=rng.complete,
        generated_at=generated_at,
        prometheus_url=prometheus_url,
        resolution_seconds=int(resolution),
        summary=ReportSummary(
            slos=len(reports),
            met=sum(r.status == "met" for r in reports),
            missed=sum(r.status == "missed" for r in reports),
            no_data=sum(r.status == "no_data" for r in reports),
            alert_firings=sum(r.violations.alert_firing_count for r in reports),
        ),
        slos=reports,
    )
