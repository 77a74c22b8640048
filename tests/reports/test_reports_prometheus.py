"""The monthly report read from a real Prometheus holding October 2026 of known data (see monthdata).

Every expected number comes from the minute-by-minute events in monthdata, not from Prometheus:

- bad and total events (hence compliance and budget) within ``Expected.tolerance``: the sum of the
  per-minute rate changes over the month, the most Prometheus' rate() extrapolation of 1-minute scrapes
  over 5-minute windows can move them (exact where the rates are constant);
- violation periods within ``PERIOD_TOLERANCE`` of a minute-level reference model: two rule evaluation
  intervals (a recorded sample covers the 5 minutes before it, and a derived window is evaluated up to one
  interval after its input) plus one report step.

Firing periods come from the burn-rate series (the rule backfiller does not evaluate alerts), except
for model-accuracy, whose ALERTS series are backfilled too, with times of their own.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import monthdata
import pytest
from slo_operator.model import SLO
from slo_operator.reports import MonthlyReport, SLOMonthReport, SLOReporter
from slo_operator.reports.schema import Period

PERIOD_TOLERANCE = timedelta(minutes=2 * monthdata.EVAL // 60 + 1)
SLOS = {s.name: s for s in monthdata.slos()}

pytestmark = pytest.mark.slow


def of(report: MonthlyReport, name: str) -> SLOMonthReport:
    return next(r for r in report.slos if r.name == name)


def close(actual: datetime, expected: datetime) -> bool:
    return abs(actual - expected) <= PERIOD_TOLERANCE


def test_the_report_covers_the_whole_month(month_report: MonthlyReport) -> None:
    assert month_report.schema_version == "1.1"
    assert month_report.month == "2026-10" and month_report.complete
    assert (month_report.start, month_report.end) == (monthdata.MONTH_START, monthdata.MONTH_END)
    assert [r.name for r in month_report.slos] == [s.name for s in monthdata.slos()]
    assert month_report.summary.model_dump() == {
        "slos": 7, "met": 5, "missed": 1, "no_data": 1,
        "alert_firings": sum(r.violations.alert_firing_count for r in month_report.slos),
    }
    for r in month_report.slos:
        assert len(r.daily) == 31
        if r.status != "no_data":
            assert len(r.budget_burndown) == 31 * 24
            assert len(r.sli) == 31 * 24


@pytest.mark.parametrize("name", sorted(monthdata.EVENTS))
def test_compliance_and_budget_match_the_known_events(month_report: MonthlyReport, name: str) -> None:
    r, expected, slo = of(month_report, name), monthdata.expected(name), SLOS[name]
    assert r.bad is not None and r.total is not None and r.compliance_percent is not None
    tol = expected.tolerance
    assert abs(r.bad - expected.bad) <= tol, (r.bad, expected.bad, tol)
    assert abs(r.total - expected.total) <= tol, (r.total, expected.total, tol)
    # Compliance and budget within the range those tolerances allow.
    worst_ratio = (expected.bad + tol) / (expected.total - tol)
    best_ratio = max(0.0, expected.bad - tol) / (expected.total + tol)
    assert 100 * (1 - worst_ratio) <= r.compliance_percent <= 100 * (1 - best_ratio)
    budget = float(slo.error_budget)
    consumed = r.error_budget.consumed_percent
    assert consumed is not None and 100 * best_ratio / budget <= consumed <= 100 * worst_ratio / budget
    assert r.error_budget.allowed == pytest.approx(budget * r.total)
    assert r.met is (expected.compliance_percent() >= float(slo.objective) * 100)
    assert r.unit == ("seconds" if name == "feature-freshness" else "events")
    # The daily numbers add up to the month.
    assert sum(d.bad or 0 for d in r.daily) == pytest.approx(r.bad)
    assert sum(d.total or 0 for d in r.daily) == pytest.approx(r.total)
    # The worst day is the day of the known incident; the burn-down ends where the month's budget does.
    assert r.worst_days[0].date.isoformat() == expected.worst_days(1)[0]
    assert r.budget_burndown[-1].value == pytest.approx(100 - consumed)


def test_the_known_incidents_are_the_worst_days(month_report: MonthlyReport) -> None:
    days = {r.name: [d.date.isoformat() for d in r.worst_days] for r in month_report.slos}
    assert days["model-availability"][:2] == ["2026-10-14", "2026-10-21"]
    assert days["model-latency"][0] == "2026-10-07"
    assert days["model-accuracy"][0] == "2026-10-25"
    assert days["feature-freshness"] == ["2026-10-09", "2026-10-28"]
    assert days["batch-availability"] == ["2026-10-03"]
    availability = of(month_report, "model-availability")
    outage = availability.worst_days[0]
    assert outage.bad == pytest.approx(12000, abs=monthdata.expected("model-availability").tolerance)
    assert availability.total is not None
    allowed = 0.001 * availability.total
    assert outage.budget_consumed_percent == pytest.approx(100 * 12000 / allowed, rel=0.02)


def _assert_periods(actual: list[Period], reference: list[monthdata.Stretch], what: str,
                    check_end: bool = True) -> None:
    assert len(actual) == len(reference), (what, actual, reference)
    for got, want in zip(actual, reference, strict=True):
        assert close(got.start, want.start), (what, got.start, want.start)
        assert got.open_at_end is want.open_at_end, what
        if check_end:
            assert close(got.end, want.end), (what, got.end, want.end)
            assert abs(got.duration_seconds - (want.end - want.start).total_seconds()) <= \
                2 * PERIOD_TOLERANCE.total_seconds()


@pytest.mark.parametrize("name", ["model-availability", "feature-freshness", "model-latency",
                                  "batch-availability"])
def test_alert_firings_derived_from_burn_rates(month_report: MonthlyReport, name: str) -> None:
    r, slo = of(month_report, name), SLOS[name]
    assert r.violations.alert_source == "burn_rate"
    for alert in slo.alerts:
        firings = [f for f in r.violations.alert_firings if f.alert == alert.name]
        assert all(f.severity == alert.severity for f in firings)
        _assert_periods(firings, monthdata.reference_firings(slo, alert.name), f"{name} {alert.name}")
    assert r.violations.alert_firing_count == len(r.violations.alert_firings)
    assert r.violations.alert_firing_seconds == pytest.approx(
        sum(f.duration_seconds for f in r.violations.alert_firings))


def test_the_outage_fired_the_fast_burn_alert_for_two_hours(month_report: MonthlyReport) -> None:
    r = of(month_report, "model-availability")
    (fast,) = [f for f in r.violations.alert_firings if f.alert == "SLOFastBurn"]
    assert close(fast.start, monthdata.OUTAGE[0]) and fast.start >= monthdata.OUTAGE[0]
    assert abs(fast.duration_seconds - 7200) <= PERIOD_TOLERANCE.total_seconds()
    assert fast.budget_consumed_percent is not None and fast.budget_consumed_percent > 250
    slow = [f for f in r.violations.alert_firings if f.alert == "SLOSlowBurn"]
    assert [f.start.date().isoformat() for f in slow] == ["2026-10-14", "2026-10-21"]


def test_alert_firings_read_from_alerts_when_prometheus_has_them(month_report: MonthlyReport) -> None:
    r = of(month_report, "model-accuracy")
    assert r.violations.alert_source == "alerts"
    got = [(f.alert, f.severity, f.start, f.end) for f in r.violations.alert_firings]
    # Exactly the backfilled firing states; the pending ones before them do not count.
    assert got == [(name, severity, firing, resolved)
                   for name, severity, _pending, firing, resolved in monthdata.ACCURACY_ALERTS]


def test_alert_source_can_be_forced_to_burn_rates(month_prometheus: monthdata.PrometheusServer) -> None:
    reporter = SLOReporter(monthdata.slos(), month_prometheus.url, alert_source="burn_rate",
                           now=lambda: monthdata.REPORT_TIME)
    (r,) = reporter.generate_monthly_report("2026-10", ["ml-serving/model-accuracy"]).slos
    assert r.violations.alert_source == "burn_rate"
    slo = SLOS["model-accuracy"]
    for alert in slo.alerts:
        firings = [f for f in r.violations.alert_firings if f.alert == alert.name]
        _assert_periods(firings, monthdata.reference_firings(slo, alert.name), alert.name)


@pytest.mark.parametrize("name", sorted(monthdata.EVENTS))
def test_sli_below_objective_stretches(month_report: MonthlyReport, name: str) -> None:
    r, slo = of(month_report, name), SLOS[name]
    reference = monthdata.reference_sli_below(slo)
    # batch-availability leaves the violation when its ~10 bad events fall under 0.1% of the traffic
    # since the data began: each bad event more or less moves that by 1000 minutes, so its end is not
    # checked (its count and start are).
    _assert_periods(r.violations.sli_below_objective, reference, name, check_end=name != "batch-availability")
    assert r.violations.sli_below_objective_seconds == pytest.approx(
        sum(p.duration_seconds for p in r.violations.sli_below_objective))


def test_the_outage_left_the_30d_sli_below_objective_to_the_end(month_report: MonthlyReport) -> None:
    (below,) = of(month_report, "model-availability").violations.sli_below_objective
    assert below.open_at_end and below.end == monthdata.MONTH_END
    assert monthdata.OUTAGE[0] < below.start < monthdata.OUTAGE[0] + timedelta(minutes=30)


def test_budget_left_over_the_slo_window_at_the_end(month_report: MonthlyReport) -> None:
    for name in monthdata.EVENTS:
        r, slo = of(month_report, name), SLOS[name]
        reference = monthdata.reference_window_remaining(slo)
        assert r.error_budget.window_remaining_percent_at_end == pytest.approx(reference, abs=2.0), name
    assert (of(month_report, "model-availability").error_budget.window_remaining_percent_at_end or 0) < -150


def test_recommendations_follow_from_the_data(month_report: MonthlyReport) -> None:
    codes = {r.name: [rec.code for rec in r.recommendations] for r in month_report.slos}
    assert codes == {
        "model-accuracy": [
            "objective_too_loose", "alert_without_budget_impact", "alert_without_budget_impact",
        ],
        "model-availability": ["incident_dominated"],
        "feature-freshness": [],
        "model-latency": [],
        "batch-availability": ["low_traffic"],
        "model-latency-strict": ["missing_latency_bucket"],
        "model-cost": ["objective_too_loose"],  # 99.6% of good hours against 95%
    }
    strict = of(month_report, "model-latency-strict")
    assert strict.status == "no_data"
    assert strict.total == pytest.approx(monthdata.expected("model-latency").total)
    (bucket,) = strict.recommendations
    assert "le=0.15s" in bucket.message and "0.05, 0.1, 0.2, 0.5, 1.0, +Inf" in bucket.message
    (loose,) = [rec for rec in of(month_report, "model-accuracy").recommendations
                if rec.code == "objective_too_loose"]
    assert "Consider 97%" in loose.message
    (incident,) = of(month_report, "model-availability").recommendations
    # Without the outage, 1,440 errors of ~4.4 million requests: 0.03%, inside the 0.1% budget.
    assert "2026-10-14" in incident.message and "would have been met" in incident.message


def test_an_unfinished_month_ends_at_the_last_hour(month_prometheus: monthdata.PrometheusServer) -> None:
    now = datetime(2026, 10, 14, 11, 42, tzinfo=monthdata.UTC)
    report = SLOReporter(monthdata.slos(), month_prometheus.url, now=lambda: now).generate_monthly_report(
        "2026-10", ["model-availability"])
    (r,) = report.slos
    assert not report.complete and report.end == datetime(2026, 10, 14, 11, tzinfo=monthdata.UTC)
    assert len(r.daily) == 14 and r.notes[-1].startswith("The month had not ended")
    # 13 days 10 hours at 98 requests a minute, then one hour of the outage at 100 errors a minute.
    # The cut falls inside the outage: the events of the last evaluation interval before it are in a
    # sample after it (up to 5 minutes of 100 errors).
    cut = 5 * 100 + monthdata.expected("model-availability").tolerance
    assert r.bad == pytest.approx(6000, abs=cut)
    assert r.total == pytest.approx((13 * 1440 + 600) * 98 + 60 * 100, abs=cut)


def test_slos_without_recording_rules_read_as_no_data(month_prometheus: monthdata.PrometheusServer) -> None:
    unknown = SLO(**{**SLOS["model-latency"].__dict__, "name": "never-deployed"})
    reporter = SLOReporter([unknown], month_prometheus.url, now=lambda: monthdata.REPORT_TIME)
    (r,) = reporter.generate_monthly_report("2026-10").slos
    assert r.status == "no_data" and r.met is None and r.total is None
    assert [rec.code for rec in r.recommendations] == ["no_data"]


def test_cost_month_has_the_known_spend_and_the_spike_as_worst_hour(month_report: MonthlyReport) -> None:
    """October's spend is the sum of the known per-minute spend; the hour whose 1h slices lie wholly in
    the tripled-price stretch (10:00-11:00 on the 18th) has the highest cost per unit, three times the
    usual, and the two hours around it (half in the stretch on average) come next."""
    r = of(month_report, "model-cost")
    assert r.cost is not None and r.status == "met"
    spent = sum(monthdata.cost_dollars(k) for k in monthdata.month_minutes())
    assert r.cost.spend == pytest.approx(spent, rel=0.005)
    assert r.cost.budget == 1000 and r.cost.budget_period == "month" and r.cost.currency == "USD"
    assert r.cost.budget_used_percent == pytest.approx(100 * spent / 1000, rel=0.005)
    worst, *others = r.cost.worst_hours
    start, _end = monthdata.COST_SPIKE
    assert worst.start == start + timedelta(hours=1)
    assert worst.per_unit == pytest.approx(3 * monthdata.PRICE, rel=0.01)
    assert {h.start for h in others[:2]} == {start, start + timedelta(hours=2)}
    assert all(h.per_unit is not None and h.per_unit < worst.per_unit for h in others)
