"""Recommendations derived from a month of data (pure): each names what was seen and what to do.

Thresholds are module constants so the report's wording and the tests agree on them:

- ``no_data`` / ``missing_latency_bucket``: nothing measured; for a latency SLO whose histogram
  ``_count`` has data, the threshold's ``le`` bucket is missing (the SLI cannot be computed).
- ``incident_dominated``: missed, and one day spent at least half of what was spent.
- ``objective_too_tight``: missed with the spending spread over many days: the service does not deliver
  the objective (fix reliability, or set an objective it can keep).
- ``objective_too_loose``: met while spending under ``LOOSE_CONSUMED_PERCENT`` of the budget: a tighter
  objective would still be met and would make alerts meaningful earlier.
- ``alert_without_budget_impact``: an alert fired, yet the hours it fired in spent under
  ``QUIET_FIRING_PERCENT`` of the month's budget.
- ``low_traffic``: one bad event spends ``LOW_TRAFFIC_EVENT_PERCENT`` or more of the month's budget.
"""

from __future__ import annotations

from decimal import Decimal

from slo_operator.model import SLO, exact
from slo_operator.reports.data import BucketCheck
from slo_operator.reports.schema import Recommendation, SLOMonthReport

LOOSE_CONSUMED_PERCENT = 10.0
INCIDENT_SHARE = 0.5
QUIET_FIRING_PERCENT = 5.0
LOW_TRAFFIC_EVENT_PERCENT = 1.0
# Objectives people actually pick; suggestions are taken from these.
COMMON_OBJECTIVES = tuple(
    Decimal(v) for v in ("80", "85", "90", "95", "97", "98", "99", "99.5", "99.9", "99.95", "99.99", "99.999")
)
# A suggested objective leaves room: the observed error ratio uses at most this share of its budget.
SUGGESTION_HEADROOM = Decimal("0.5")


def _pct(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}%"


def suggested_objective(error_ratio: float) -> Decimal | None:
    """The tightest common objective whose budget the observed error ratio uses at most half of."""
    observed = Decimal(str(error_ratio))
    fitting = [o for o in COMMON_OBJECTIVES if observed <= SUGGESTION_HEADROOM * (1 - o / 100)]
    return max(fitting) if fitting else None


def _threshold_text(slo: SLO) -> str:
    return f"{exact(slo.latency_threshold)}s" if slo.latency_threshold is not None else "?"


def recommend(slo: SLO, report: SLOMonthReport, bucket: BucketCheck | None) -> list[Recommendation]:
    found: list[Recommendation] = []
    objective = report.objective_percent
    if report.status == "no_data":
        if slo.kind == "latency" and bucket is not None and bucket.count_exists and not bucket.bucket_exists:
            histogram = slo.selectors["total"].render()
            present = ", ".join(bucket.available_le) or "none"
            found.append(Recommendation(
                code="missing_latency_bucket",
                severity="warning",
                message=(
                    f"{histogram} has data but no bucket with le={_threshold_text(slo)} (the threshold), so "
                    f"the SLI could not be measured all month. Buckets present: {present}. Add the "
                    "threshold to the histogram's buckets, or set the threshold to one of them."
                ),
            ))
        else:
            found.append(Recommendation(
                code="no_data",
                severity="warning",
                message=(
                    "No data for the month: check that the SLO's rules are loaded (slo:total_events:rate "
                    "exists) and that its selectors match the service's series."
                ),
            ))
        return found

    bad = report.bad or 0.0
    total = report.total or 0.0
    consumed = report.error_budget.consumed_percent
    error_ratio = bad / total if total else 0.0
    if report.status == "missed":
        worst = report.worst_days[0] if report.worst_days else None
        share = (worst.bad or 0.0) / bad if worst is not None and bad else 0.0
        if worst is not None and share >= INCIDENT_SHARE:
            found.append(Recommendation(
                code="incident_dominated",
                severity="warning",
                message=(
                    f"Missed ({_pct(report.compliance_percent, 3)} against {objective:g}%), and "
                    f"{worst.date.isoformat()} alone spent {share:.0%} of what was spent "
                    f"({_pct(worst.budget_consumed_percent, 0)} of the month's budget). Review that "
                    "incident; without it the objective would "
                    + ("have been met." if (bad - (worst.bad or 0.0)) <= (1 - objective / 100) * total
                       else "still have been missed: look at the other days too.")
                ),
            ))
        else:
            suggestion = suggested_objective(error_ratio)
            hint = (f" or an objective of {suggestion}% it can keep" if suggestion is not None
                    and suggestion < Decimal(str(objective)) else "")
            found.append(Recommendation(
                code="objective_too_tight",
                severity="warning",
                message=(
                    f"Missed ({_pct(report.compliance_percent, 3)} against {objective:g}%, "
                    f"{_pct(consumed, 0)} of the budget) with the errors spread over many days: the "
                    f"objective is tighter than the service delivers. Plan reliability work{hint}."
                ),
            ))
    elif consumed is not None and consumed < LOOSE_CONSUMED_PERCENT:
        suggestion = suggested_objective(error_ratio)
        if suggestion is not None and suggestion > Decimal(str(objective)):
            found.append(Recommendation(
                code="objective_too_loose",
                severity="info",
                message=(
                    f"Met with only {_pct(consumed, 1)} of the budget spent "
                    f"({_pct(report.compliance_percent, 3)} against {objective:g}%): the objective is "
                    "looser than the service's reliability, so burn-rate alerts react late. Consider "
                    f"{suggestion}%, which this month would also have met with room to spare."
                ),
            ))

    by_alert: dict[str, list[float]] = {}
    for firing in report.violations.alert_firings:
        by_alert.setdefault(firing.alert, []).append(firing.budget_consumed_percent or 0.0)
    for alert, spent in sorted(by_alert.items()):
        if sum(spent) < QUIET_FIRING_PERCENT:
            found.append(Recommendation(
                code="alert_without_budget_impact",
                severity="info",
                message=(
                    f"{alert} fired {len(spent)} time(s), but the hours it fired in spent only "
                    f"{sum(spent):.2f}% of the month's budget. If nobody needed to act, raise its "
                    "budgetPercent or lengthen its windows"
                    + (f" (the SLO window is {report.window}, much shorter than the month)."
                       if slo.window < 7 * 86400 else ".")
                ),
            ))

    if report.unit == "events" and total > 0:
        per_event = 100 / (float(slo.error_budget) * total)
        if per_event >= LOW_TRAFFIC_EVENT_PERCENT:
            found.append(Recommendation(
                code="low_traffic",
                severity="warning",
                message=(
                    f"Low traffic: {total:,.0f} events in the month, so a single bad event spends "
                    f"{per_event:.1f}% of the month's budget and one failure can page. Consider a longer "
                    "window, synthetic probes to add traffic, or timeslice budgeting."
                ),
            ))
    return found
