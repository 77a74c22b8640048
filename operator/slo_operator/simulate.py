"""What an SLO's alerts would have done: on a scenario, on real history, and as a detection-time table.

Everything runs through ``evaluator.run_groups`` on the rule groups ``rules.rule_groups`` generates for
the SLO — the simulator has no burn-rate formula of its own. Answers are the SRE Workbook's: when each
alert fired and resolved, detection time (first page − incident start), reset time (last resolve −
incident end), share of the error budget spent by the first page, and for a month of history how many
pages there were and how many fell on significant budget burns (precision and recall, defined in
``score``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import numpy as np

from slo_operator.evaluator import Array, Result, Semantics, Store, run_groups
from slo_operator.model import SLO, ResolvedAlert, burn_rate_threshold
from slo_operator.promql import BAD_EVENTS, BUDGET_REMAINING, SLI, TOTAL_EVENTS
from slo_operator.rules import RuleOptions, rule_groups
from slo_operator.scenario import Scenario, budget_spent, raw_series

ERROR_RATES = (1.0, 0.5, 0.1, 0.05, 0.01, 0.005)
SEVERITY_RANK = {"critical": 0, "page": 0, "warning": 1, "ticket": 2}


@dataclass(frozen=True)
class Timing:
    """How rule groups are scheduled: promtool's (every group each ``step``) or a server's own intervals."""

    step: float = 30.0
    promtool: bool = False
    semantics: Semantics = field(default_factory=Semantics)
    options: RuleOptions = field(default_factory=RuleOptions)


@dataclass
class Span:
    alert: str
    severity: str
    labels: dict[str, str]
    fired: float
    resolved: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"alert": self.alert, "severity": self.severity, "firedAt": self.fired,
                "resolvedAt": self.resolved, "labels": self.labels}


@dataclass
class Outcome:
    """One SLO (or alert policy) run over inputs: alert spans and the recorded series."""

    slo: SLO
    result: Result
    spans: list[Span]
    end: float
    # Percent of the budget spent in (start, until], from the inputs' truth when it is known (scenarios
    # of event-based SLOs); otherwise integrated from the recorded base series.
    truth: Callable[[float, float], float] | None = None

    def series(self, name: str, **match: str) -> tuple[Array, Array]:
        found = self.result.recorded(name, **match)
        if not found:
            return np.zeros(0), np.zeros(0)
        _, series = found[0]
        return series.times, series.values

    def budget_spent(self, until: float, start: float = 0.0) -> float:
        """Percent of the SLO window's error budget the bad events of [start, until] spent.

        Integrated from the recorded base series (events per second, or 1 per bad slice), against the
        traffic of a whole window at the average rate seen so far.
        """
        if self.truth is not None:
            return self.truth(start, until)
        ts, bad = self.series(BAD_EVENTS)
        _, total = self.series(TOTAL_EVENTS)
        if len(ts) < 2:
            return 0.0
        step = float(ts[1] - ts[0])
        inside = (ts > start) & (ts <= until)
        seen = np.nan_to_num(total)
        average = float(np.mean(seen[ts <= self.end])) if np.any(seen) else 0.0
        if average <= 0:
            return 0.0
        spent = float(np.nansum(bad[inside])) * step
        allowed = float(self.slo.error_budget) * average * self.slo.window
        return 100.0 * spent / allowed

    def final(self, name: str) -> float | None:
        _, values = self.series(name)
        present = values[~np.isnan(values)] if len(values) else values
        return float(present[-1]) if len(present) else None


def evaluate(
    slo: SLO, inputs: Store, end: float, timing: Timing | None = None, start: float = 0.0,
    offsets: dict[str, float] | None = None,
) -> Outcome:
    """Run the SLO's generated rule groups over ``inputs`` from ``start`` to ``end`` (``offsets``: each
    group's first evaluation after ``start``, by group name, as a running Prometheus slots them)."""
    timing = timing or Timing()
    groups = rule_groups(slo, timing.options)
    step = timing.step if timing.promtool else None
    result = run_groups(
        groups, inputs, end=end, step=step, start=start, semantics=timing.semantics, offsets=offsets
    )
    severities = {a.name: a.severity for a in slo.alerts}
    spans = []
    for alert in result.alerts:
        severity = alert.labels.get("severity", severities.get(alert.name, ""))
        for fired, resolved in alert.spans():
            spans.append(Span(alert.name, severity, dict(alert.labels), fired, resolved))
    spans.sort(key=lambda s: (s.fired, SEVERITY_RANK.get(s.severity, 9)))
    return Outcome(slo, result, spans, end)


def simulate_scenario(slo: SLO, scenario: Scenario, timing: Timing | None = None) -> Outcome:
    outcome = evaluate(slo, raw_series(slo, scenario), scenario.duration, timing)
    if slo.method == "Occurrences" and slo.kind != "freshness":
        outcome.truth = lambda start, until: budget_spent(slo, scenario, start, until)
    return outcome


def summary(outcome: Outcome, incident: tuple[float, float] | None) -> dict[str, Any]:
    """The timeline and the Workbook's numbers for one run."""
    pages = [s for s in outcome.spans if s.alert != "SLONoData"]
    first = pages[0] if pages else None
    detection = reset = None
    if incident is not None and first is not None:
        after = [s for s in pages if s.fired >= incident[0]]
        if after:
            detection = after[0].fired - incident[0]
        resolved = [s.resolved for s in pages if s.resolved is not None and s.fired >= incident[0]]
        still = any(s.resolved is None for s in pages)
        if resolved and not still:
            reset = max(resolved) - incident[1]
    return {
        "slo": outcome.slo.key,
        "alerts": [s.as_dict() for s in outcome.spans],
        "firstPage": first.as_dict() if first else None,
        "budgetSpentAtFirstPercent": (
            round(outcome.budget_spent(first.fired), 4) if first else None
        ),
        "incident": {"start": incident[0], "end": incident[1]} if incident else None,
        "detectionSeconds": detection,
        "resetSeconds": reset,
        "budgetSpentPercent": round(outcome.budget_spent(outcome.end), 4),
        "finalSli": outcome.final(SLI),
        "finalBudgetRemaining": outcome.final(BUDGET_REMAINING),
    }


# -- the detection-time table ----------------------------------------------------------------------


def closed_form(slo: SLO, alert: ResolvedAlert, error_rate: float, step: float) -> float:
    """Workbook detection time: threshold × budget × long window / error rate, at least one step."""
    seconds = float(alert.threshold * slo.error_budget) * alert.long_window / error_rate
    return max(seconds, step)


def _steady(slo: SLO, error_rate: float, healthy: float, burning: float, scrape: float) -> Store:
    from slo_operator.scenario import Event, Scenario

    scenario = Scenario(
        duration=healthy + burning, scrape_interval=scrape, rate=10.0,
        events=(Event(at=healthy, duration=burning, error_ratio=error_rate),),
    )
    return raw_series(slo, scenario)


def detection_table(
    slo: SLO, error_rates: tuple[float, ...] = ERROR_RATES, timing: Timing | None = None,
    scrape: float = 15.0,
) -> list[dict[str, Any]]:
    """For each error rate from a healthy start: the first alert, its detection time, budget spent by then.

    Each row is simulated (healthy traffic for the longest alert window, then the error rate for as
    long as the slowest alert could need), and carries the closed form next to it.
    """
    timing = timing or Timing()
    longest = max((a.long_window for a in slo.alerts), default=3600)
    rows = []
    for rate in error_rates:
        outcome = evaluate(slo, _steady(slo, rate, longest, longest, scrape), 2 * longest, timing)
        pages = [s for s in outcome.spans if s.alert != "SLONoData" and s.fired > longest]
        row: dict[str, Any] = {"errorRate": rate, "burnRate": rate / float(slo.error_budget)}
        expected = [
            (closed_form(slo, a, rate, timing.step), a) for a in slo.alerts
            if rate / float(slo.error_budget) > float(a.threshold)
        ]
        expected.sort(key=lambda pair: (pair[0], SEVERITY_RANK.get(pair[1].severity, 9)))
        row["closedFormSeconds"] = expected[0][0] if expected else None
        if pages:
            first = pages[0]
            detection = first.fired - longest
            row.update(alert=first.alert, severity=first.severity, detectionSeconds=detection,
                       budgetSpentPercent=round(100 * rate * detection / (float(slo.error_budget)
                                                                          * slo.window), 4))
        else:
            row.update(alert=None, severity=None, detectionSeconds=None, budgetSpentPercent=None)
        rows.append(row)
    return rows


# -- alert policies side by side --------------------------------------------------------------------


def with_policy(slo: SLO, policy: list[dict[str, Any]]) -> SLO:
    """The SLO with other burn-rate alerts (``burnRates`` entries as in the CRD)."""
    from slo_operator.durations import parse_window

    alerts = []
    for item in policy:
        long = parse_window(str(item["longWindow"]))
        budget = Decimal(str(item["budgetPercent"]))
        alerts.append(ResolvedAlert(
            name=str(item["name"]), severity=str(item.get("severity", "critical")), budget_percent=budget,
            long_window=long, short_window=parse_window(str(item["shortWindow"])),
            threshold=burn_rate_threshold(budget, slo.window, long), for_=item.get("for"),
        ))
    return replace(slo, alerts=tuple(alerts))


@dataclass(frozen=True)
class Burn:
    """A significant budget burn in the truth: where and how much budget it spent."""

    start: float
    end: float
    spent_percent: float


def significant_burns(outcome: Outcome, threshold_percent: float = 2.0, merge: float = 1800.0) -> list[Burn]:
    """Runs of burn rate above 1 on the base series, merged across gaps shorter than ``merge``, that
    spent at least ``threshold_percent`` of the window's budget (the Workbook's "significant event")."""
    ts, bad = outcome.series(BAD_EVENTS)
    _, total = outcome.series(TOTAL_EVENTS)
    if len(ts) < 2:
        return []
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(np.nan_to_num(total) > 0, np.nan_to_num(bad) / total, 0.0)
    burning = ratio > float(outcome.slo.error_budget)
    edges = np.diff(np.concatenate(([0], burning.astype(np.int8), [0])))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    runs = [(int(a), int(b)) for a, b in zip(starts, stops, strict=True)]
    merged: list[list[int]] = []
    for a, b in runs:
        if merged and ts[a] - ts[merged[-1][1] - 1] <= merge:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    burns = []
    for a, b in merged:
        start, end = float(ts[a]), float(ts[b - 1])
        spent = outcome.budget_spent(end, start=start - 1e-9)
        if spent >= threshold_percent:
            burns.append(Burn(start, end, spent))
    return burns


def score(outcome: Outcome, burns: list[Burn], severity: str | None = None) -> dict[str, Any]:
    """Precision: share of pages that overlap a significant burn (from its start to one hour after its
    end). Recall: share of significant burns that got at least one page by then. Detection: page −
    burn start; reset: last resolve − burn end."""
    pages = [
        s for s in outcome.spans if s.alert != "SLONoData" and (severity is None or s.severity == severity)
    ]
    grace = 3600.0

    def overlaps(span: Span, burn: Burn) -> bool:
        resolved = span.resolved if span.resolved is not None else math.inf
        return span.fired <= burn.end + grace and resolved >= burn.start

    true_pages = [p for p in pages if any(overlaps(p, b) for b in burns)]
    detected, detections, resets = 0, [], []
    for burn in burns:
        hits = [p for p in pages if overlaps(p, burn)]
        if hits:
            detected += 1
            detections.append(max(0.0, min(p.fired for p in hits) - burn.start))
            ends = [p.resolved for p in hits if p.resolved is not None]
            if ends and len(ends) == len(hits):
                resets.append(max(ends) - burn.end)
    return {
        "pages": len(pages),
        "pagesDuringSignificantBurns": len(true_pages),
        "significantBurns": len(burns),
        "detected": detected,
        "precision": len(true_pages) / len(pages) if pages else None,
        "recall": detected / len(burns) if burns else None,
        "meanDetectionSeconds": float(np.mean(detections)) if detections else None,
        "meanResetSeconds": float(np.mean(resets)) if resets else None,
    }
