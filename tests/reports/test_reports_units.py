"""The pure half of the report: ranges, periods, month arithmetic and recommendations on synthetic data."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import yaml
from slo_operator.api import ServiceLevelObjective
from slo_operator.model import SLO, resolve
from slo_operator.reports import BucketCheck, ReportRange, SLOData, SLOReporter, month_range, previous_month
from slo_operator.reports.compute import apply_hold, monthly_report, slo_month_report, steps_to_periods
from slo_operator.reports.recommendations import suggested_objective
from slo_operator.reports.source import MAX_POINTS, PrometheusRangeClient

T0 = datetime(2026, 10, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 2, tzinfo=UTC)


def make_slo(
    objective: float = 99.9, window: str = "30d", kind: str = "availability", name: str = "api", **extra: Any
) -> SLO:
    indicators = {
        "availability": {"availability": {"errors": 'req_total{code="500"}', "total": "req_total"}},
        "latency": {"latency": {"histogram": "req_seconds", "threshold": "150ms"}},
    }
    document = {
        "apiVersion": "slo.mlops.dev/v1alpha1", "kind": "ServiceLevelObjective",
        "metadata": {"name": name, "namespace": "team"},
        "spec": {"service": "api", "objective": objective, "window": window, "indicator": indicators[kind],
                 **extra},
    }
    return resolve(ServiceLevelObjective.model_validate(document))


OCTOBER = month_range("2026-10", NOW)


def steady(total_per_hour: float, bad_per_hour: float = 0.0, rng: ReportRange = OCTOBER) -> SLOData:
    return SLOData(bad={h: bad_per_hour for h in range(rng.hours)},
                   total={h: total_per_hour for h in range(rng.hours)}, alert_source="burn_rate")


# ---- months and periods ---------------------------------------------------------------------------


def test_month_range() -> None:
    assert (OCTOBER.start, OCTOBER.end, OCTOBER.complete, OCTOBER.hours) == (
        T0, datetime(2026, 11, 1, tzinfo=UTC), True, 744)
    assert month_range("2026-02", NOW).hours == 28 * 24
    partial = month_range("2026-11", datetime(2026, 11, 2, 13, 59, 59, tzinfo=UTC))
    assert (partial.end, partial.complete) == (datetime(2026, 11, 2, 13, tzinfo=UTC), False)
    assert partial.hours == 37
    for bad in ("2026-13", "2026/10", "26-10", "october"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            month_range(bad, NOW)
    with pytest.raises(ValueError, match="no whole hour"):
        month_range("2026-12", NOW)
    assert previous_month(datetime(2026, 1, 1, 6, tzinfo=UTC)) == "2025-12"
    assert previous_month(NOW) == "2026-10"


def test_steps_become_periods() -> None:
    start = OCTOBER.start_ts
    steps = [start, start + 60, start + 120, start + 600, start + 3600 * 744 - 60]
    periods = steps_to_periods(steps, 60, OCTOBER)
    assert [(p.start - T0, p.duration_seconds, p.open_at_start, p.open_at_end) for p in periods] == [
        (timedelta(0), 180, True, False),
        (timedelta(seconds=600), 60, False, False),
        (timedelta(hours=744, seconds=-60), 60, False, True),
    ]
    assert steps_to_periods([start - 60, start + 3600 * 744], 60, OCTOBER) == []  # outside the month


def test_for_holds_delay_and_drop_short_firings() -> None:
    start = OCTOBER.start_ts + 3600
    periods = steps_to_periods([start + 60 * i for i in range(10)] + [start + 3600], 60, OCTOBER)
    held = apply_hold(periods, 300)
    assert [(p.start - T0, p.duration_seconds) for p in held] == [(timedelta(hours=1, minutes=5), 300)]


# ---- numbers --------------------------------------------------------------------------------------


def test_compliance_is_weighted_by_traffic() -> None:
    # Hour 0: 10 bad of 1,000; hour 1: 10 bad of 10. Ratio of sums 20/1010, not the mean of 1% and 100%.
    rng = ReportRange("2026-10", T0, T0 + timedelta(hours=2), True)
    r = slo_month_report(make_slo(), SLOData(bad={0: 10, 1: 10}, total={0: 1000, 1: 10}), rng, 60)
    assert r.compliance_percent == pytest.approx(100 * (1 - 20 / 1010))
    assert r.error_budget.allowed == pytest.approx(1.01)
    assert r.error_budget.consumed_percent == pytest.approx(100 * 20 / 1.01)
    assert r.status == "missed" and r.met is False
    assert [p.value for p in r.budget_burndown] == pytest.approx([100 - 1000 / 1.01, 100 - 2000 / 1.01])


def test_a_counter_with_no_errors_yet_means_zero_bad_not_no_data() -> None:
    # Bad-event series exist only for hours with samples; missing bad hours within measured ones are 0.
    r = slo_month_report(make_slo(), SLOData(bad={0: 0.0}, total={h: 100.0 for h in range(744)}), OCTOBER, 60)
    assert r.compliance_percent == 100 and r.status == "met"
    assert r.daily[0].bad == 0 and r.worst_days == []


@pytest.mark.parametrize(
    ("bad_per_thousand", "status"),
    [(0.99, "met"), (1.0, "met"), (1.01, "missed"), (1.1, "missed")],
)
def test_met_or_missed_on_both_sides_of_the_objective(bad_per_thousand: float, status: str) -> None:
    """A month exactly at its objective is met; a hair below it is missed (99.9%: 1 bad in 1000)."""
    slo = make_slo(99.9)
    r = slo_month_report(slo, steady(1000, bad_per_thousand), OCTOBER, 60)
    assert r.compliance_percent == pytest.approx(100 - bad_per_thousand / 10)
    assert (r.status, r.met) == (status, status == "met")
    assert r.error_budget.consumed_percent == pytest.approx(100 * bad_per_thousand)


@pytest.mark.parametrize("objective", [95.0, 99.0, 99.5, 99.95, 99.99])
def test_the_verdict_turns_at_the_objective_for_any_objective(objective: float) -> None:
    slo = make_slo(objective)
    allowed = 1000 * (100 - objective) / 100  # bad events per hour the objective allows
    at = slo_month_report(slo, steady(1000, allowed), OCTOBER, 60)
    above = slo_month_report(slo, steady(1000, allowed * 0.99), OCTOBER, 60)
    below = slo_month_report(slo, steady(1000, allowed * 1.01), OCTOBER, 60)
    assert (at.status, above.status, below.status) == ("met", "met", "missed")
    # the summary counts each verdict
    report = monthly_report(
        [slo, make_slo(objective, name="other")],
        {("team", "api"): steady(1000, allowed * 1.01), ("team", "other"): steady(1000, allowed)},
        OCTOBER, resolution=60, prometheus_url="http://prometheus.invalid", generated_at=NOW,
    )
    assert (report.summary.met, report.summary.missed, report.summary.no_data) == (1, 1, 0)


def test_no_data() -> None:
    r = slo_month_report(make_slo(), SLOData(), OCTOBER, 60)
    assert (r.status, r.met, r.compliance_percent, r.budget_burndown) == ("no_data", None, None, [])
    assert [rec.code for rec in r.recommendations] == ["no_data"]
    assert len(r.daily) == 31 and all(d.total is None for d in r.daily)


def test_missing_latency_bucket() -> None:
    data = SLOData(total={0: 100.0}, bucket=BucketCheck(True, False, ("0.1", "0.25", "+Inf")))
    r = slo_month_report(make_slo(kind="latency"), data, OCTOBER, 60)
    (rec,) = r.recommendations
    assert rec.code == "missing_latency_bucket"
    assert "le=0.15s" in rec.message and "0.1, 0.25, +Inf" in rec.message


def test_objective_too_tight_when_errors_are_spread() -> None:
    # 0.2% errors every hour against a 99.9% objective: missed, no day stands out.
    r = slo_month_report(make_slo(), steady(10_000, 20), OCTOBER, 60)
    assert r.status == "missed"
    (rec,) = r.recommendations
    assert rec.code == "objective_too_tight" and "99.5%" in rec.message


def test_incident_dominated_miss() -> None:
    data = steady(10_000, 0)
    for hour in range(24 * 13, 24 * 13 + 3):  # three bad hours on the 14th
        data.bad[hour] = 5_000
    r = slo_month_report(make_slo(), data, OCTOBER, 60)
    (rec,) = r.recommendations
    assert rec.code == "incident_dominated" and "2026-10-14 alone spent 100%" in rec.message
    assert r.worst_days[0].date.isoformat() == "2026-10-14"


def test_objective_too_loose() -> None:
    r = slo_month_report(make_slo(objective=99), steady(10_000, 1), OCTOBER, 60)  # 0.01% errors, 1% allowed
    (rec,) = r.recommendations
    assert rec.code == "objective_too_loose" and "Consider 99.95%" in rec.message


def test_alert_without_budget_impact_and_low_traffic() -> None:
    data = steady(10, 0)
    data.bad[100] = 1
    data.firing_steps = {"SLOFastBurn": [OCTOBER.start_ts + 100 * 3600 + 60 * i for i in range(5)]}
    r = slo_month_report(make_slo(objective=99), data, OCTOBER, 60)
    codes = [rec.code for rec in r.recommendations]
    # 7,440 events: one bad event is 1.3% of the month's 74.4 allowed. The firing spent exactly that.
    assert codes == ["objective_too_loose", "alert_without_budget_impact", "low_traffic"]
    (firing,) = r.violations.alert_firings
    assert firing.budget_consumed_percent == pytest.approx(100 / 74.4)
    assert r.violations.alert_firing_seconds == 300


def test_suggested_objectives() -> None:
    assert suggested_objective(0.011) == Decimal("97")
    assert suggested_objective(0.00001) == Decimal("99.99")
    assert suggested_objective(0.4) is None


# ---- the reporter, with a fake source, and the range client ---------------------------------------


class FakeSource:
    url = "fake://"

    def __init__(self) -> None:
        self.asked: list[tuple[list[str], ReportRange, float]] = []

    def fetch(
        self, slos: Sequence[SLO], rng: ReportRange, resolution: float
    ) -> dict[tuple[str, str], SLOData]:
        self.asked.append(([s.name for s in slos], rng, resolution))
        return {(s.namespace, s.name): steady(1000, 0, rng) for s in slos}


def test_reporter_selects_slos_and_uses_its_source() -> None:
    source = FakeSource()
    slos = [make_slo(), resolve(ServiceLevelObjective.model_validate(yaml.safe_load(
        "apiVersion: slo.mlops.dev/v1alpha1\nkind: ServiceLevelObjective\nmetadata: {name: other}\n"
        "spec: {service: s, objective: 99, indicator: {availability: {errors: e_total, total: t_total}}}")))]
    reporter = SLOReporter(slos, source=source, resolution=30, now=lambda: NOW)
    report = reporter.generate_monthly_report("2026-10", ["team/api"])
    assert [r.name for r in report.slos] == ["api"] and report.summary.met == 1
    assert source.asked == [(["api"], OCTOBER, 30)]
    assert [r.name for r in reporter.generate_monthly_report("2026-10").slos] == ["api", "other"]
    with pytest.raises(ValueError, match="no SLO named nope"):
        reporter.generate_monthly_report("2026-10", ["nope"])
    with pytest.raises(ValueError, match="prometheus_url or a source"):
        SLOReporter(slos)


def test_range_queries_are_split_without_gaps_or_overlaps() -> None:
    asked: list[tuple[float, float, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        start, end, step = float(form["start"]), float(form["end"]), float(form["step"])
        asked.append((start, end, step))
        values = [[start + i * step, "1"] for i in range(int((end - start) / step) + 1)]
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {"slo": "api", "namespace": "team"}, "values": values}]}})

    client = PrometheusRangeClient("http://prometheus", transport=httpx.MockTransport(handler))
    first, last = OCTOBER.start_ts, OCTOBER.end_ts - 60
    ((labels, values),) = client.query_range("up", first, last, 60)
    assert labels == {"slo": "api", "namespace": "team"}
    assert [t for t, _ in values] == [first + 60 * i for i in range(744 * 60)]
    assert len(asked) == 5 and all((end - start) / step + 1 <= MAX_POINTS for start, end, step in asked)


def test_the_report_says_when_the_budget_ends_at_the_current_pace() -> None:
    # October at 0.2% errors against a 99.9% objective: twice the budget, so the window runs out soon.
    r = slo_month_report(make_slo(), steady(3600, 7.2), OCTOBER, 60)
    (forecast,) = [n for n in r.notes if n.startswith("Forecast as of")]
    assert "at the current pace the budget ends on 2026-11-01" in forecast, forecast
    assert "below the objective: 1.00" in forecast
    # Half the budget: it lasts.
    r = slo_month_report(make_slo(), steady(3600, 1.8), OCTOBER, 60)
    (forecast,) = [n for n in r.notes if n.startswith("Forecast as of")]
    assert "the budget lasts beyond the next 30d" in forecast and "objective: 0.00" in forecast
    # A day of data: no forecast rather than a guess.
    day = ReportRange("2026-10", T0, T0 + timedelta(hours=24), False)
    r = slo_month_report(make_slo(), steady(3600, 7.2, day), day, 60)
    assert not any(n.startswith("Forecast") for n in r.notes)
