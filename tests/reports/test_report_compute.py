"""The month's arithmetic of ``reports/compute.py`` on small synthetic months, to the exact number and text.

Each test pins what a reader of the report sees (the figures, the periods, the sentences of the notes) on
both sides of the boundaries the code draws: these are the tests ``make mutation`` found missing.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from slo_operator.loader import parse_object
from slo_operator.model import SLO, resolve
from slo_operator.reports import ReportRange, SLOData
from slo_operator.reports.compute import (
    apply_hold,
    cost_month,
    monthly_report,
    slo_month_report,
    steps_to_periods,
)
from slo_operator.reports.schema import AlertSource, CostHour, CostMonth
from support.slo_documents import cost_slo

T0 = datetime(2026, 10, 1, tzinfo=UTC)
HOUR = 3600


def slo(indicator: dict[str, Any], name: str = "api", **spec: Any) -> SLO:
    obj, problems = parse_object({
        "apiVersion": "slo.mlops.dev/v1alpha1", "kind": "ServiceLevelObjective",
        "metadata": {"name": name, "namespace": "team"},
        "spec": {"service": "api", "objective": 99, "indicator": indicator, **spec},
    }, "test")
    assert obj is not None, problems
    return resolve(obj)


AVAILABILITY = {"availability": {"errors": 'req_total{code="500"}', "total": "req_total"}}
DERIVED = ("Alert firings are derived from slo:error_ratio / error budget and each alert's threshold "
           "(Prometheus holds no ALERTS series for this SLO in the month), at the report's resolution.")


def hours(n: int, complete: bool = True) -> ReportRange:
    return ReportRange("2026-10", T0, T0 + timedelta(hours=n), complete)


def minutes(start: int, count: int) -> list[float]:
    """``count`` one-minute steps from ``start`` minutes into the month."""
    return [T0.timestamp() + 60 * (start + i) for i in range(count)]


# ---- cost SLOs ------------------------------------------------------------------------------------


def test_cost_month_sums_the_spend_against_a_monthly_budget_and_ranks_the_worst_hours() -> None:
    """Spend is the sum of the finite hourly spend; the worst hours are the five highest costs per unit
    (ties in hour order), each with its spend (null when Prometheus had none, or not a number)."""
    rng = hours(10)
    data = SLOData(
        spend={0: 10.0, 1: 20.0, 2: math.nan, 3: math.inf, 4: 0.5, 6: 2.0},
        per_unit={0: 0.001, 1: 0.003, 2: 0.003, 3: math.nan, 4: 0.0005, 5: 0.002, 6: 0.0001, 7: 0.0002,
                  8: math.inf},
    )
    month = cost_month(cost_slo({"amount": "50", "currency": "EUR"}), data, rng)
    assert month == CostMonth(
        currency="EUR", spend=32.5, budget=50.0, budget_period="month", budget_used_percent=65.0,
        max_per_unit=0.0004,
        worst_hours=[
            CostHour(start=T0 + timedelta(hours=1), spend=20.0, per_unit=0.003),
            CostHour(start=T0 + timedelta(hours=2), spend=None, per_unit=0.003),
            CostHour(start=T0 + timedelta(hours=5), spend=None, per_unit=0.002),
            CostHour(start=T0, spend=10.0, per_unit=0.001),
            CostHour(start=T0 + timedelta(hours=4), spend=0.5, per_unit=0.0005),
        ],
    )


def test_cost_month_with_a_window_budget_no_budget_or_no_spend() -> None:
    rng = hours(4)
    spent = SLOData(spend={0: 30.0, 1: 10.0}, per_unit={1: 0.002})
    second = CostHour(start=T0 + timedelta(hours=1), spend=10.0, per_unit=0.002)
    # A budget per SLO window is not a month's: no share of it is claimed.
    window = cost_month(cost_slo({"amount": "2000", "currency": "USD", "period": "window"}), spent, rng)
    assert window == CostMonth(
        currency="USD", spend=40.0, budget=2000.0, budget_period="window", budget_used_percent=None,
        max_per_unit=0.0004, worst_hours=[second],
    )
    unbudgeted = cost_month(cost_slo(), spent, rng)
    assert unbudgeted == CostMonth(
        currency=None, spend=40.0, budget=None, budget_period=None, budget_used_percent=None,
        max_per_unit=0.0004, worst_hours=[second],
    )
    # No spend series at all is unknown spend, not zero; no finite per-unit figure ranks no hour.
    budget = {"amount": "2000", "currency": "USD"}
    nothing = cost_month(cost_slo(budget), SLOData(per_unit={0: math.nan}), rng)
    assert nothing is not None
    assert (nothing.spend, nothing.budget_used_percent, nothing.worst_hours) == (None, None, [])


def test_only_cost_slos_have_a_cost_section_and_the_month_report_carries_it() -> None:
    rng = hours(2)
    data = SLOData(spend={0: 1.0, 1: 3.0}, per_unit={0: 0.0001, 1: 0.0003})
    assert cost_month(slo(AVAILABILITY), data, rng) is None
    assert slo_month_report(slo(AVAILABILITY), data, rng, 60).cost is None
    report = slo_month_report(cost_slo({"amount": "8", "currency": "USD"}), data, rng, 60)
    assert report.cost is not None
    assert (report.cost.spend, report.cost.budget_used_percent) == (4.0, 50.0)
    assert [h.start for h in report.cost.worst_hours] == [T0 + timedelta(hours=1), T0]


def test_at_most_five_worst_hours() -> None:
    rng = hours(8)
    data = SLOData(per_unit={h: 0.001 * (h + 1) for h in range(8)})
    month = cost_month(cost_slo(), data, rng)
    assert month is not None
    assert [h.start.hour for h in month.worst_hours] == [7, 6, 5, 4, 3]




# ---- days, the burn-down, the SLI and the budget ------------------------------------------------


def test_days_burn_down_and_sli_of_a_month_with_gaps() -> None:
    """Three days (the month not ended): an unmeasured hour is left out, not counted as zero traffic; a day
    without traffic has no compliance; a day without measurements has no numbers at all."""
    rng = hours(72, complete=False)
    total = {h: 100.0 for h in range(24) if h != 5} | {24: 50.0, 25: 50.0, 48: 0.0}
    data = SLOData(bad={0: 2.0, 24: 1.0}, total=total, sli={3: 0.995, 1: 0.999, 2: math.nan},
                   window_budget_remaining=0.25, sli_below_steps=minutes(600, 3))
    r = slo_month_report(slo(AVAILABILITY), data, rng, 60)
    # The month: 3 bad of 2,400 against 99%: 24 allowed, 12.5% of them spent.
    assert (r.status, r.met, r.total, r.bad, r.good) == ("met", True, 2400, 3, 2397)
    assert r.compliance_percent == pytest.approx(99.875)
    assert r.error_budget.model_dump() == {
        "allowed": 24.0, "consumed": 3.0, "consumed_percent": 12.5, "remaining_percent": 87.5,
        "window_remaining_percent_at_end": 25.0,
    }
    assert [d.model_dump() for d in r.daily] == [
        {"date": date(2026, 10, 1), "good": 2298.0, "bad": 2.0, "total": 2300.0,
         "compliance_percent": round(100 * 2298 / 2300, 6),
         "budget_consumed_percent": round(100 * 2 / 24, 6)},
        {"date": date(2026, 10, 2), "good": 99.0, "bad": 1.0, "total": 100.0,
         "compliance_percent": 99.0, "budget_consumed_percent": round(100 / 24, 6)},
        {"date": date(2026, 10, 3), "good": 0.0, "bad": 0.0, "total": 0.0,
         "compliance_percent": None, "budget_consumed_percent": 0.0},
    ]
    assert [d.date.day for d in r.worst_days] == [1, 2]  # a day without bad events is not among the worst
    assert [p.time for p in r.budget_burndown] == [T0 + timedelta(hours=h + 1) for h in range(72)]
    assert [p.value for p in r.budget_burndown] == pytest.approx([100 - 100 * 2 / 24] * 24 + [87.5] * 48)
    assert [(p.time, p.value) for p in r.sli] == [(T0 + timedelta(hours=2), 99.9),
                                                  (T0 + timedelta(hours=4), 99.5)]
    (below,) = r.violations.sli_below_objective
    assert (below.start, below.duration_seconds) == (T0 + timedelta(hours=10), 180)
    assert (r.violations.sli_below_objective_count, r.violations.sli_below_objective_seconds) == (1, 180)
    assert r.notes == ["The month had not ended: the report covers it up to 2026-10-04T00:00:00+00:00.",
                       "Data for 26 of 72 hours."]
    # Without a budget figure for the window, none is made up.
    for remaining in (None, math.nan, math.inf):
        data.window_budget_remaining = remaining
        budget = slo_month_report(slo(AVAILABILITY), data, rng, 60).error_budget
        assert budget.window_remaining_percent_at_end is None


def test_traffic_without_bad_event_series_is_no_data_day_by_day() -> None:
    """Total events but no bad-event series at all: the share of good events is unknown, so nothing is
    claimed (no compliance, no budget), neither for the month nor for a day."""
    rng = hours(48)
    r = slo_month_report(slo(AVAILABILITY), SLOData(total={h: 10.0 for h in range(48)}), rng, 60)
    assert (r.status, r.met, r.total, r.bad, r.good, r.compliance_percent) == (
        "no_data", None, 480, None, None, None)
    assert r.error_budget.model_dump() == {"allowed": None, "consumed": None, "consumed_percent": None,
                                           "remaining_percent": None, "window_remaining_percent_at_end": None}
    assert [(d.total, d.bad, d.good, d.compliance_percent, d.budget_consumed_percent) for d in r.daily] == [
        (240.0, None, None, None, None)] * 2
    assert (r.budget_burndown, r.worst_days) == ([], [])
    # Zero traffic all month is no data too, not 100%.
    idle_data = SLOData(bad={0: 0.0}, total={h: 0.0 for h in range(48)})
    idle = slo_month_report(slo(AVAILABILITY), idle_data, rng, 60)
    assert (idle.status, idle.compliance_percent, idle.error_budget.allowed) == ("no_data", None, None)
    assert (idle.total, idle.bad, idle.good) == (0, 0, None)
    nothing = slo_month_report(slo(AVAILABILITY), SLOData(), rng, 60)
    assert (nothing.total, nothing.bad, nothing.good, nothing.status) == (None, None, None, "no_data")


def test_the_three_worst_days_most_bad_first_ties_by_date() -> None:
    rng = hours(24 * 5)
    per_day = [1.0, 3.0, 3.0, 2.0, 0.5]
    data = SLOData(bad={24 * d: b for d, b in enumerate(per_day)},
                   total={h: 1000.0 for h in range(rng.hours)})
    r = slo_month_report(slo(AVAILABILITY), data, rng, 60)
    assert [(d.date.day, d.bad) for d in r.worst_days] == [(2, 3.0), (3, 3.0), (4, 2.0)]


def test_timeslice_slos_count_seconds() -> None:
    freshness = slo({"freshness": {"timestamp": "features_last_update_seconds", "maxAge": "10m"}})
    r = slo_month_report(freshness, SLOData(bad={0: 60.0}, total={0: 3600.0}), hours(1), 60)
    assert (r.unit, r.budgeting_method, r.kind, r.window, r.objective_percent) == (
        "seconds", "Timeslices", "freshness", "30d", 99.0)
    assert r.compliance_percent == pytest.approx(100 * 3540 / 3600)
    events = slo_month_report(slo(AVAILABILITY), SLOData(bad={0: 1.0}, total={0: 100.0}), hours(1), 60)
    assert (events.unit, events.budgeting_method, events.kind) == ("events", "Occurrences", "availability")


# ---- alert firings --------------------------------------------------------------------------------

ALERTS = {"burnRates": [
    {"name": "FastBurn", "severity": "critical", "budgetPercent": 2, "longWindow": "1h", "shortWindow": "5m",
     "for": "5m"},
    {"name": "SlowBurn", "severity": "warning", "budgetPercent": 10, "longWindow": "6h",
     "shortWindow": "30m"},
]}
ALERTING = slo(AVAILABILITY, window="30d", alerting=ALERTS)


def firing_month(source: AlertSource) -> SLOData:
    """Six hours of 1,000,000 events; bad events 10^h in hour h, so a firing's share names its hours; hour
    0 had no errors (no bad-event sample)."""
    return SLOData(
        bad={h: float(10**h) for h in range(1, 6)}, total={h: 1e6 for h in range(6)}, alert_source=source,
        firing_steps={
            "FastBurn": minutes(0, 3) + minutes(90, 30) + minutes(180, 5),
            "SlowBurn": minutes(270, 90),
            "OldBurn": minutes(120, 2),  # an alert of an older spec, still in Prometheus
        },
    )


def test_firings_from_burn_rate_hold_for_and_charge_the_hours_they_overlap() -> None:
    """Derived from the burn rates, an alert with `for: 5m` fires 5m after its condition starts and not at
    all when the condition lasts 5m or less, except a firing already going at the month's start. Each firing
    is charged the bad events of the hours it overlaps (a firing ending on the hour does not reach into the
    next). Alerts no longer in the spec are listed without severity or share."""
    r = slo_month_report(ALERTING, firing_month("burn_rate"), hours(6), 60)
    allowed = 0.01 * 6e6
    assert [f.model_dump() for f in r.violations.alert_firings] == [
        {"start": T0, "end": T0 + timedelta(minutes=3), "duration_seconds": 180.0, "open_at_start": True,
         "open_at_end": False, "alert": "FastBurn", "severity": "critical", "budget_consumed_percent": 0.0},
        {"start": T0 + timedelta(minutes=95), "end": T0 + timedelta(hours=2), "duration_seconds": 1500.0,
         "open_at_start": False, "open_at_end": False, "alert": "FastBurn", "severity": "critical",
         "budget_consumed_percent": round(100 * 10 / allowed, 6)},
        {"start": T0 + timedelta(hours=2), "end": T0 + timedelta(minutes=122), "duration_seconds": 120.0,
         "open_at_start": False, "open_at_end": False, "alert": "OldBurn", "severity": "",
         "budget_consumed_percent": None},
        {"start": T0 + timedelta(minutes=270), "end": T0 + timedelta(hours=6), "duration_seconds": 5400.0,
         "open_at_start": False, "open_at_end": True, "alert": "SlowBurn", "severity": "warning",
         "budget_consumed_percent": round(100 * 110000 / allowed, 6)},
    ]
    v = r.violations
    assert (v.alert_source, v.alert_firing_count, v.alert_firing_seconds) == ("burn_rate", 4, 7200)
    assert r.notes == [DERIVED]


def test_firings_from_alerts_are_taken_as_recorded() -> None:
    """ALERTS series already include the `for` hold: nothing is shifted or dropped, and no note."""
    r = slo_month_report(ALERTING, firing_month("alerts"), hours(6), 60)
    fast = [(f.start, f.duration_seconds, f.budget_consumed_percent) for f in r.violations.alert_firings
            if f.alert == "FastBurn"]
    assert fast == [(T0, 180, 0.0), (T0 + timedelta(minutes=90), 1800, round(1000 / 6e4, 6)),
                    (T0 + timedelta(hours=3), 300, round(100_000 / 6e4, 6))]
    assert r.notes == []
    # No budget (no data): firings are still listed, without a share.
    empty = firing_month("alerts")
    empty.bad, empty.total = {}, {}
    r = slo_month_report(ALERTING, empty, hours(6), 60)
    assert r.status == "no_data" and r.violations.alert_firing_count == 5
    assert {f.budget_consumed_percent for f in r.violations.alert_firings} == {None}


def test_a_firing_in_the_months_first_hour_is_charged_that_hours_bad_events() -> None:
    """The month's first hour counts like any other: a firing open at the start is charged its bad events."""
    month = firing_month("alerts")
    month.bad[0] = 7.0
    r = slo_month_report(ALERTING, month, hours(6), 60)
    first = r.violations.alert_firings[0]
    share = round(100 * 7 / 6e4, 6)
    assert (first.alert, first.start, first.budget_consumed_percent) == ("FastBurn", T0, share)


# ---- notes ----------------------------------------------------------------------------------------


DAY = hours(24)


def notes(rng: ReportRange = DAY, **data: Any) -> list[str]:
    full = {"bad": {0: 0.0}, "total": {h: 100.0 for h in range(rng.hours)}} | data
    return slo_month_report(slo(AVAILABILITY), SLOData(**full), rng, 60).notes


def test_notes_say_where_the_numbers_came_from() -> None:
    start = T0.timestamp()
    assert notes() == []
    # Recording that began within the first hour is the whole month; later, the note says when.
    assert notes(recording_since=start + HOUR) == []
    assert notes(recording_since=start + HOUR + 1) == [
        "The recorded series cover the month only from 2026-10-01 01:00 UTC (no raw history before)."]
    assert notes(recording_since=start + 2 * HOUR, raw_hours=2) == [
        "The recorded series cover the month only from 2026-10-01 02:00 UTC: 2 hours before that were read "
        "from raw history."]
    assert notes(recording_since=start - 86400, raw_hours=3) == [
        "3 hours without recorded series were read from raw history."]
    assert notes(raw_hours=5) == ["5 hours without recorded series were read from raw history."]
    # One hour is one hour, in either note.
    assert notes(raw_hours=1) == ["1 hour without recorded series was read from raw history."]
    assert notes(raw_hours=2) == ["2 hours without recorded series were read from raw history."]
    assert notes(recording_since=start + 2 * HOUR, raw_hours=1) == [
        "The recorded series cover the month only from 2026-10-01 02:00 UTC: 1 hour before that was read "
        "from raw history."]
    # Every hour measured but one; a month not ended.
    assert notes(total={h: 100.0 for h in range(23)}) == ["Data for 23 of 24 hours."]
    assert notes(hours(24, complete=False)) == [
        "The month had not ended: the report covers it up to 2026-10-02T00:00:00+00:00."]
    # Derived firings are explained only when there is something to report.
    assert notes(alert_source="burn_rate") == [DERIVED]
    assert notes(alert_source="burn_rate", bad={}, total={}) == []
    assert notes(alert_source="alerts") == notes(alert_source="none") == []


# ---- the forecast ---------------------------------------------------------------------------------


def forecast_notes(rng: ReportRange, bad_ratio: float, measured: range | None = None) -> list[str]:
    """The notes but the one on derived firings and the one on missing hours."""
    hours_ = measured if measured is not None else range(rng.hours)
    data = SLOData(bad={h: 3600 * bad_ratio for h in hours_}, total={h: 3600.0 for h in hours_},
                   alert_source="burn_rate")
    found = slo_month_report(slo(AVAILABILITY, objective=99.9, window="30d"), data, rng, 60).notes
    assert DERIVED in found  # the forecast, when there is one, opens the notes:
    assert all(not n.startswith("Forecast") for n in found[1:])
    return [n for n in found if n != DERIVED and not n.startswith("Data for")]


def test_the_forecast_sentence_of_a_steady_month() -> None:
    """The forecast opens the notes. Steady traffic at twice the allowed error ratio has already spent the
    window's budget: it ends in the first hour after the month, every path agrees. At half the ratio it
    lasts, and nothing violates."""
    october = ReportRange("2026-10", T0, datetime(2026, 11, 1, tzinfo=UTC), True)
    assert forecast_notes(october, 0.002) == [
        "Forecast as of 2026-11-01T00:00:00+00:00: at the current pace the budget ends on 2026-11-01 "
        "01:00 UTC (10th-90th percentile: 2026-11-01 01:00 UTC to 2026-11-01 01:00 UTC); probability that "
        "the 30d window ending 30d after it is below the objective: 1.00."]
    # An hour without a bad-event sample had no errors (the counter had not moved): 100 good events an hour.
    quiet = SLOData(bad={0: 0.0}, total={h: 100.0 for h in range(744)})
    (note,) = slo_month_report(slo(AVAILABILITY, objective=99.9, window="30d"), quiet, october, 60).notes
    assert "the budget lasts beyond the next 30d" in note and note.endswith("objective: 0.00."), note
    assert forecast_notes(october, 0.0005) == [
        "Forecast as of 2026-11-01T00:00:00+00:00: at the current pace the budget lasts beyond the next 30d; "
        "probability that the 30d window ending 30d after it is below the objective: 0.00."]


def test_the_forecast_says_when_some_paths_never_run_out() -> None:
    """Three short incidents spent 90% of the window's budget. Whether another comes before they leave the
    window is chance: most paths run out, some never do within the horizon, and the sentence says so."""
    october = ReportRange("2026-10", T0, datetime(2026, 11, 1, tzinfo=UTC), True)
    per_hour = 0.9 * 0.001 * 720 * 3600 / 9
    data = SLOData(bad={24 * day + 10 + i: per_hour for day in (12, 18, 24) for i in range(3)},
                   total={h: 3600.0 for h in range(744)})
    (note,) = slo_month_report(slo(AVAILABILITY, objective=99.9, window="30d"), data, october, 60).notes
    when = r"(2026-11-\d\d \d\d:00) UTC"
    found = re.fullmatch(
        rf"Forecast as of 2026-11-01T00:00:00\+00:00: at the current pace the budget ends on {when} "
        rf"\(10th-90th percentile: {when} to after the horizon\); probability that the 30d window ending 30d "
        r"after it is below the objective: 0\.\d\d\.", note)
    assert found is not None, note
    assert found[2] <= found[1]


def test_the_forecast_needs_two_days_of_data_not_two_days_of_month() -> None:
    three_days = hours(72)
    assert len(forecast_notes(three_days, 0.002, range(24, 72))) == 1  # two days measured, the first missing
    assert forecast_notes(three_days, 0.002, range(25, 72)) == []


# ---- periods --------------------------------------------------------------------------------------


def test_runs_of_steps_become_periods_at_the_edges_of_the_range() -> None:
    rng = hours(2)
    start, end = rng.start_ts, rng.end_ts
    spans = [(p.start, p.end, p.duration_seconds, p.open_at_start, p.open_at_end)
             for p in steps_to_periods([start + 59, start + 119.0005, end - 30], 60, rng)]
    # A step within 1 ms of the next is the same run; the last step is cut at the end of the range.
    assert spans == [
        (T0 + timedelta(seconds=59), T0 + timedelta(seconds=179.0005), 120.0005, True, False),
        (T0 + timedelta(seconds=7170), T0 + timedelta(hours=2), 30, False, True),
    ]
    # Half a step late is another run; a run starting one step in was not going at the start, and one
    # ending one step early was not going at the end.
    spans = [(p.start, p.duration_seconds, p.open_at_start, p.open_at_end)
             for p in steps_to_periods([start + 60, start + 150, end - 120], 60, rng)]
    assert spans == [(T0 + timedelta(seconds=s), 60, False, False) for s in (60, 150, 7080)]
    # Consecutive means one step apart to the millisecond: a step a second late starts another run.
    assert [p.duration_seconds for p in steps_to_periods([start + 60, start + 121], 60, rng)] == [60, 60]


def test_a_hold_drops_conditions_no_longer_than_it_and_delays_the_rest() -> None:
    rng = hours(2)
    periods = steps_to_periods(minutes(0, 2) + minutes(10, 5) + minutes(20, 6), 60, rng)
    assert apply_hold(periods, 0) == periods
    assert [p.start for p in apply_hold(periods, 1)] == [T0, T0 + timedelta(minutes=10, seconds=1),
                                                          T0 + timedelta(minutes=20, seconds=1)]
    held = [(p.start, p.duration_seconds, p.open_at_start) for p in apply_hold(periods, 300)]
    assert held == [(T0, 120, True), (T0 + timedelta(minutes=25), 60, False)]


# ---- the whole report -----------------------------------------------------------------------------


def test_the_summary_counts_each_verdict_and_every_firing() -> None:
    """Three SLOs met, missed and without data (one absent from the fetched data), two firings in all."""
    rng = hours(24)
    met, missed, silent, absent = (slo(AVAILABILITY, name=n) for n in ("met", "missed", "silent", "absent"))
    steps = {"SLOFastBurn": minutes(60, 3) + minutes(120, 2)}
    data = {
        ("team", "met"): SLOData(bad={0: 1.0}, total={h: 100.0 for h in range(24)}),
        ("team", "missed"): SLOData(bad={0: 100.0}, total={h: 100.0 for h in range(24)}, firing_steps=steps,
                                    alert_source="alerts"),
        ("team", "silent"): SLOData(total={h: 100.0 for h in range(24)}),
    }
    report = monthly_report([met, missed, silent, absent], data, rng, resolution=60,
                            prometheus_url="http://prometheus.invalid", generated_at=T0)
    assert report.summary.model_dump() == {"slos": 4, "met": 1, "missed": 1, "no_data": 2, "alert_firings": 2}
    assert [r.status for r in report.slos] == ["met", "missed", "no_data", "no_data"]
    firings = report.slos[1].violations.alert_firings
    assert [(f.start, f.duration_seconds) for f in firings] == [(T0 + timedelta(hours=1), 180),
                                                                (T0 + timedelta(hours=2), 120)]
    assert (report.month, report.start, report.end, report.complete, report.resolution_seconds) == (
        "2026-10", T0, T0 + timedelta(hours=24), True, 60)


def test_a_budget_of_less_than_one_event_is_still_a_budget() -> None:
    """50 events at 99%: half an event allowed, a quarter spent is half the budget."""
    r = slo_month_report(slo(AVAILABILITY), SLOData(bad={0: 0.25}, total={0: 50.0}), hours(1), 60)
    assert (r.error_budget.allowed, r.error_budget.consumed_percent, r.daily[0].budget_consumed_percent) == (
        0.5, 50.0, 50.0)
    assert [p.value for p in r.budget_burndown] == [50.0]
    # Half an event in the month, none bad: met, however little the traffic.
    r = slo_month_report(slo(AVAILABILITY), SLOData(bad={0: 0.0}, total={0: 0.5}), hours(1), 60)
    assert (r.status, r.compliance_percent, r.error_budget.allowed) == ("met", 100.0, 0.005)
