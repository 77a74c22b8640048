"""Long windows from running sums (``slo_operator.tiers``) are the flat sums, across gaps and restarts.

Every promtool scenario here also runs on the simulator (``harness.with_simulator_agreement``), so the
simulator's shortcut for running sums is held to what Prometheus records, on every promtool of the
matrix.

- Raw history that stops and resumes after 30, 60 or 90 minutes: the tiered 1d error ratio equals
  ``sum_over_time`` of the base series over the same window at every checked instant (while the gap is
  the newest data, while it is inside the window, and while it crosses the window's far edge), and once
  the raw series are back every rule records its series again.
- A Prometheus restart, written as the history it leaves behind (input series of the running sums with
  a hole): the running sum continues from its last value after a short outage; after one longer than
  an hour it continues from the coarse copy; and a window whose far edge falls in the hole subtracts the
  running sum's value through the hole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from harness import assert_passes, run_promtool_test, slo_from
from slo_operator import tiers
from slo_operator.model import SLO
from slo_operator.promql import BAD_EVENTS, RUNNING_SUMS, TOTAL_EVENTS
from slo_operator.render import rule_file

OK = 'req_total{code="200"}'
ERR = 'req_total{code="500"}'
GAPS = ((60, 30), (150, 60), (270, 90))  # (start, length) in minutes
WINDOW_MINUTES = 7 * 60
END = 800  # minutes: every gap has crossed the window's far edge


def seven_hour_slo() -> SLO:
    """A 7h SLO: its own window is the one tiered window (over 6h), its coarse tier 5m."""
    return slo_from({
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": "checkout", "namespace": "shop"},
        "spec": {"service": "checkout", "objective": 99, "window": "7h",
                 "indicator": {"availability": {"errors": ERR, "total": "req_total"}}},
    })


def _in_gap(minute: int) -> bool:
    return any(start <= minute < start + length for start, length in GAPS)


def raw_with_gaps() -> list[dict[str, str]]:
    """Per-minute counters, busy (1000/min, 0.1% errors) and quiet (50/min, 5%) phases of 20 minutes,
    with no samples during the GAPS (the counters keep counting meanwhile). No traffic in the first
    minute: the running sums start from the base samples after the first (the start's 0, see
    test_new_slo_starts_at_its_first_base_sample), so a young window equals the flat sum when that
    first sample is 0."""
    rows: dict[str, list[str]] = {OK: [], ERR: []}
    ok = err = 0.0
    for minute in range(END + 1):
        rows[OK].append("_" if _in_gap(minute) else repr(ok))
        rows[ERR].append("_" if _in_gap(minute) else repr(err))
        rate, ratio = (1000, 0.001) if (minute // 20) % 2 == 0 else (50, 0.05)
        if minute == 0:
            rate = 0
        ok += rate * (1 - ratio)
        err += rate * ratio
    return [{"series": name, "values": " ".join(values)} for name, values in rows.items()]


def flat(base: str, slo: SLO) -> str:
    window = f"{WINDOW_MINUTES - 1}m59s999ms"
    return f'sum_over_time({base}{{slo="{slo.name}",namespace="{slo.namespace}"}}[{window}])'


def test_tiered_window_equals_the_flat_sum_across_gaps_in_the_raw_history(tmp_path: Path) -> None:
    """Raw history stops for 30, 60 and 90 minutes. Checked while each gap is the newest data, just after
    the raw series return, while the window's far edge crosses the gap, and as it leaves it."""
    slo = seven_hour_slo()
    assert tiers.plan(slo, 30) == tiers.Tiers(fine=30, coarse=300, longest=WINDOW_MINUTES * 60)
    # The SLO window's error ratio is recorded as the SLI (1 - ratio).
    ratio = f'(1 - slo:sli:ratio{{slo="{slo.name}",namespace="{slo.namespace}"}})'
    exact = f"({flat(BAD_EVENTS, slo)} / {flat(TOTAL_EVENTS, slo)})"
    labels = f'{{namespace="{slo.namespace}",service="{slo.service}",slo="{slo.name}"}}'
    minutes = []
    for start, length in GAPS:
        back = start + length
        far = WINDOW_MINUTES + start
        minutes += [start + length // 2, back + 2, far - 1, far + length // 2, far + length + 1]
    # Every recording rule but the starts (they record once, for a new SLO: checked below).
    records = [rule for group in rule_file([slo])["groups"] for rule in group["rules"]
               if "record" in rule and (rule.get("labels") or {}).get(tiers.TIER_LABEL) != "start"]
    every = f'count({{__name__=~"slo:.+",slo="{slo.name}",namespace="{slo.namespace}"}})'
    sums = f'count({{__name__=~"slo:.+_events:rate_sum",slo="{slo.name}"}})'
    tests = [{
        "interval": "1m",
        "input_series": raw_with_gaps(),
        "promql_expr_test": [
            *({"expr": f"abs({ratio} / ignoring (window) {exact} - 1) < bool 1e-9", "eval_time": f"{m}m",
               "exp_samples": [{"labels": labels, "value": 1}]} for m in minutes),
            # Every recording rule has its series again five minutes (the base window) after the raw
            # series are back; the running sums (fine and coarse) never stopped.
            *({"expr": every, "eval_time": f"{start + length + 5}m",
               "exp_samples": [{"labels": "{}", "value": len(records)}]} for start, length in GAPS),
            *({"expr": sums, "eval_time": f"{start + length // 2}m",
               "exp_samples": [{"labels": "{}", "value": 4}]} for start, length in GAPS),
        ],
    }]
    # Every group at every minute (the running sums do not depend on how often they are evaluated).
    assert_passes(run_promtool_test(tmp_path, [slo], tests, evaluation_interval="60s"))


# ---- a Prometheus restart, as the history it leaves --------------------------------------------------

NAME, NAMESPACE = "restarted", "shop"
PLAN = tiers.Tiers(fine=30, coarse=3600, longest=30 * 86400)
WINDOW = 6 * 3600
HOUR = 120  # 30s steps


def _restart_slo() -> SLO:
    return slo_from({
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {"service": "checkout", "objective": 99, "window": "30d",
                 "indicator": {"availability": {"errors": ERR, "total": "req_total"}}},
    })


def _series(base: list[str], fine: list[str], coarse: list[str], start: list[str] | None = None,
            ) -> list[dict[str, str]]:
    labels = f'slo="{NAME}",namespace="{NAMESPACE}",service="checkout"'
    name = RUNNING_SUMS[BAD_EVENTS]
    series = [
        {"series": f'{BAD_EVENTS}{{{labels},window="5m"}}', "values": " ".join(base)},
        {"series": f'{name}{{{labels},tier="fine"}}', "values": " ".join(fine)},
        {"series": f'{name}{{{labels},tier="coarse"}}', "values": " ".join(coarse)},
    ]
    if start is not None:
        series.append({"series": f'{name}{{{labels},tier="start"}}', "values": " ".join(start)})
    return series


def history(down: tuple[int, int], end: int, sums_at_end: bool = True) -> list[dict[str, str]]:
    """What a Prometheus that was down from step ``down[0]`` to ``down[1]`` (30s steps, under 2h)
    recorded up to step ``end``: a base sample of 1 per evaluation, its running sum (continued from its
    last value after the outage) and the hourly coarse copy (without the running sums' samples at
    ``end`` when the test computes them there)."""
    base: list[str] = []
    fine: list[str] = []
    coarse: list[str] = []
    total = 0
    for step in range(end + 1):
        if down[0] <= step < down[1]:
            base.append("_")
            fine.append("_")
            coarse.append("_")
            continue
        total += 1
        base.append("1")
        fine.append(str(total))
        coarse.append(str(total) if step % HOUR == 0 else "_")
    if not sums_at_end:
        fine[-1] = coarse[-1] = "_"
    return _series(base, fine, coarse)


# A 3h outage from 2h50m: the last coarse copy before it is from 2h (241, after the sample of step 240).
# Back at step 701, the fine sum records nothing (no running-sum value within 2h) until the coarse
# group's next evaluation (step 720) carries its copy of 2h; the fine sum resumes from it at step 721.
# Counted: the samples up to step 240 and from step 721; lost: those of steps 241-340 and 701-720.
LONG_DOWN = (341, 701)
RESUMED = 720


def long_outage_history(end: int, blank: str = "") -> list[dict[str, str]]:
    """The history the rules leave across LONG_DOWN, up to step ``end`` (``blank``: the tier, fine or
    coarse, whose sample at ``end`` the test computes)."""
    base: list[str] = []
    fine: list[str] = []
    coarse: list[str] = []
    total = 0
    for step in range(end + 1):
        down = LONG_DOWN[0] <= step < LONG_DOWN[1]
        base.append("_" if down else "1")
        if down or LONG_DOWN[1] <= step <= RESUMED:
            fine.append("_")
        else:
            total = step + 1 if step < LONG_DOWN[0] else 241 + step - RESUMED
            fine.append(str(total))
        if step == RESUMED:
            coarse.append("241")
        else:
            coarse.append(str(total) if step % HOUR == 0 and not down else "_")
    if blank == "fine":
        fine[-1] = "_"
    elif blank == "coarse":
        coarse[-1] = "_"
    return _series(base, fine, coarse)


def _counted(step: int) -> bool:
    return step <= 240 or step > RESUMED


def _expect(expr: str, step: int, value: float | None) -> dict[str, Any]:
    samples = [] if value is None else [{"labels": "{}", "value": value}]
    return {"expr": expr, "eval_time": f"{step * 30}s", "exp_samples": samples}


@pytest.mark.parametrize("down_minutes", [30, 90])
def test_running_sum_continues_after_an_outage_under_two_hours(tmp_path: Path, down_minutes: int) -> None:
    """Down from step 241 (2h, after the sample worth 241) for ``down_minutes``: the first evaluation
    after the restart adds its sample to 241, the newest running-sum value. A copy an hour older would
    give 121 + 1; starting again would give 1."""
    slo = _restart_slo()
    start, back = 241, 241 + down_minutes * 2
    expr = tiers.running_sum_expr(slo, BAD_EVENTS, PLAN)
    tests = [{"interval": "30s", "input_series": history((start, back), back, sums_at_end=False),
              "promql_expr_test": [_expect(expr, back, 242)]}]
    assert_passes(run_promtool_test(tmp_path, [], tests))


def test_running_sums_across_a_three_hour_outage(tmp_path: Path) -> None:
    """LONG_DOWN: nothing within 2h at the restart, so the fine sum records nothing (it must not start
    again from its new sample); the coarse copy carries its last value (241, read from a month of its
    own history); the fine sum resumes from that copy. One test per computed sample."""
    slo = _restart_slo()
    fine = tiers.running_sum_expr(slo, BAD_EVENTS, PLAN)
    coarse = tiers.coarse_expr(slo, BAD_EVENTS, PLAN)
    back = LONG_DOWN[1]
    cases = [
        (back, "fine", fine, None),
        (RESUMED - 1, "fine", fine, None),
        (RESUMED, "coarse", coarse, 241),
        (RESUMED + 1, "fine", fine, 242),
        (RESUMED + HOUR, "coarse", coarse, 241 + HOUR),
    ]
    tests = [{"interval": "30s", "input_series": long_outage_history(step, blank),
              "promql_expr_test": [_expect(expr, step, value)]} for step, blank, expr, value in cases]
    assert_passes(run_promtool_test(tmp_path, [], tests))


# Down 30 minutes from 1h (step 121): the newest running-sum value before the far edge is the one just
# before the outage. Down 110 minutes: the fine sum still continues from it (under 2h), the coarse copies
# after the outage are larger, and the far edge's look-up must take the value before it.
@pytest.mark.parametrize("down", [(121, 181), (121, 341)], ids=["30m", "110m"])
def test_window_far_edge_inside_an_outage(tmp_path: Path, down: tuple[int, int]) -> None:
    """Sum over (t - 6h, t] with t - 6h inside the outage, at its start, middle and end and just after:
    exactly the samples recorded in the window."""
    slo = _restart_slo()
    end = down[1] + 720 + 20
    checks = []
    for step in (down[0] + 720 + 10, (down[0] + down[1]) // 2 + 720, down[1] + 720 - 1, end):
        recorded = sum(1 for s in range(step - 720 + 1, step + 1) if not down[0] <= s < down[1])
        checks.append(_expect(tiers.window_sum(slo, BAD_EVENTS, WINDOW), step, recorded))
    tests = [{"interval": "30s", "input_series": history(down, end), "promql_expr_test": checks}]
    assert_passes(run_promtool_test(tmp_path, [], tests))


def test_window_far_edge_across_a_three_hour_outage(tmp_path: Path) -> None:
    """Sum over (t - 6h, t] across LONG_DOWN: the samples the running sum counted in the window. Its far
    edge before the last coarse copy, between it and the outage (the lost samples must not be subtracted
    again), inside the outage with and without a value in the 2h before (the copy the sum resumed from,
    not 0), between the restart and the resumption, and after."""
    slo = _restart_slo()
    edges = (200, 300, 350, 650, 710, 730)
    end = edges[-1] + 720
    checks = [
        _expect(tiers.window_sum(slo, BAD_EVENTS, WINDOW), e + 720,
                sum(1 for s in range(e + 1, e + 721) if _counted(s)))
        for e in edges
    ]
    tests = [{"interval": "30s", "input_series": long_outage_history(end), "promql_expr_test": checks}]
    assert_passes(run_promtool_test(tmp_path, [], tests))


def _group_by_slo() -> SLO:
    return slo_from({
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {"service": "checkout", "objective": 99, "window": "30d", "groupBy": ["region"],
                 "indicator": {"availability": {"errors": 'req_total{code="500"}', "total": "req_total"}}},
    })


@pytest.mark.parametrize(
    ("coarse_ran", "group_by"),
    [(True, False), (False, False), (False, True)],
    ids=["with-coarse-copy", "before-coarse-group", "group-by-before-coarse-group"],
)
def test_new_slo_starts_at_its_first_base_sample(
    tmp_path: Path, coarse_ran: bool, group_by: bool
) -> None:
    """The whole rule file on raw counters from scratch, every group every 30s. The first base sample
    (30s: rate needs two scrapes) makes the start (slow group) record 0, with no running sum yet; the
    fine sum starts at the next evaluation, from 0, and then holds every base sample after the first;
    the young 1d window and the SLI are their sums. The first half-minute is error-heavy, so counting
    its sample, or starting the fine sum from its own sample, changes the figures. Without the coarse
    group (its first evaluation is up to an hour away in Prometheus; promtool runs every group at every
    step) the start alone starts the sums: without it nothing would be recorded for that hour. With the
    coarse group, its first copy is that 0 too. With groupBy labels, per group."""
    slo = _group_by_slo() if group_by else _restart_slo()
    labels = f'slo="{NAME}",namespace="{NAMESPACE}"'
    bad, total = f"{BAD_EVENTS}{{{labels}}}", f"{TOTAL_EVENTS}{{{labels}}}"
    fine = f'{RUNNING_SUMS[BAD_EVENTS]}{{{labels},tier="fine"}}'
    coarse = f'{RUNNING_SUMS[BAD_EVENTS]}{{{labels},tier="coarse"}}'
    start = f'{RUNNING_SUMS[BAD_EVENTS]}{{{labels},tier="start"}}'
    sli = f"slo:sli:ratio{{{labels}}}"
    ratio = f'slo:error_ratio{{{labels},window="1d"}}'
    # At 60m: every base sample but the first (30s, 59m30s old).
    counted = [f"sum(sum_over_time({x}[59m59s999ms]) - {x} offset 59m30s)" for x in (bad, total)]
    exact = f"{counted[0]} / {counted[1]}"
    steps = [(50, 1), (10, 120)]  # errors per 30s, steps: a bad first half-minute, then 1 in 60
    ok = err = 0
    rows: dict[str, list[str]] = {OK: ["0"], ERR: ["0"]}
    for errors, count in steps:
        for _ in range(count):
            ok += 600 - errors
            err += errors
            rows[OK].append(str(ok))
            rows[ERR].append(str(err))
    raw = ',region="eu"' if group_by else ""
    tests = [{
        "interval": "30s",
        "input_series": [{"series": name[:-1] + raw + "}", "values": " ".join(values)}
                         for name, values in rows.items()],
        "promql_expr_test": [
            {"expr": f"count({start})", "eval_time": "1s", "exp_samples": []},
            {"expr": f"max({start})", "eval_time": "30s", "exp_samples": [{"labels": "{}", "value": 0}]},
            {"expr": f"count({fine})", "eval_time": "30s", "exp_samples": []},
            {"expr": f"max({fine}) - sum({bad})", "eval_time": "60s",
             "exp_samples": [{"labels": "{}", "value": 0}]},
            {"expr": f"max({coarse})", "eval_time": "30s",
             "exp_samples": [{"labels": "{}", "value": 0}] if coarse_ran else []},
            # The start records once: its own 0 is inside the window from then on.
            {"expr": f"count(count_over_time({start}[60m]))", "eval_time": "59m30s",
             "exp_samples": [{"labels": "{}", "value": 1}]},
            {"expr": f"sum(count_over_time({start}[60m]))", "eval_time": "59m30s",
             "exp_samples": [{"labels": "{}", "value": 1}]},
            {"expr": f"abs(max({fine}) - {counted[0]}) < bool 1e-9",
             "eval_time": "60m", "exp_samples": [{"labels": "{}", "value": 1}]},
            {"expr": f"abs(max({ratio}) / ({exact}) - 1) < bool 1e-9", "eval_time": "60m",
             "exp_samples": [{"labels": "{}", "value": 1}]},
            {"expr": f"abs((1 - max({sli})) / ({exact}) - 1) < bool 1e-9", "eval_time": "60m",
             "exp_samples": [{"labels": "{}", "value": 1}]},
        ],
    }]
    without = () if coarse_ran else (":tier",)
    assert_passes(run_promtool_test(tmp_path, [slo], tests, without_groups=without))


# A young SLO: the start recorded its 0 at step 2 (the stale marker at the slow group's next evaluation),
# the fine sum holds the samples from step 3 on, and the coarse group first ran at step 60.
YOUNG_START = 2
FIRST_COPY = 60


def young_history(end: int) -> list[dict[str, str]]:
    base: list[str] = []
    fine: list[str] = []
    coarse: list[str] = []
    start: list[str] = []
    for step in range(end + 1):
        total = step - YOUNG_START
        base.append("1")
        fine.append(str(total) if step > YOUNG_START else "_")
        coarse.append(str(total) if step >= FIRST_COPY and (step - FIRST_COPY) % HOUR == 0 else "_")
        start.append({YOUNG_START: "0", YOUNG_START + 4: "stale"}.get(step, "_"))
    return _series(base, fine, coarse, start)


def test_window_far_edge_of_a_young_slo(tmp_path: Path) -> None:
    """Sum over (t - 6h, t] while t - 6h passes the start: before it (the start's 0: the whole running
    sum), at it, just after it, and between it and the coarse group's first copy (the fine sum's value
    there, not the start's 0 and not the first copy)."""
    slo = _restart_slo()
    edges = (0, 1, YOUNG_START, YOUNG_START + 1, 5, 30, FIRST_COPY - 1, FIRST_COPY, FIRST_COPY + 1, 200)
    end = edges[-1] + 720
    checks = [
        _expect(tiers.window_sum(slo, BAD_EVENTS, WINDOW), e + 720,
                sum(1 for s in range(e + 1, e + 721) if s > YOUNG_START))
        for e in edges
    ]
    tests = [{"interval": "30s", "input_series": young_history(end), "promql_expr_test": checks}]
    assert_passes(run_promtool_test(tmp_path, [], tests))


def test_start_records_only_for_a_new_slo(tmp_path: Path) -> None:
    """The start's 0: for an SLO with a base sample and no copy in the window; not after its own 0 (the
    fine sum carries on); not after an outage over 2h with coarse copies inside the window (the sums
    resume from the coarse carry, see test_running_sums_across_a_three_hour_outage; a 0 there would lose
    the window's budget)."""
    slo = _restart_slo()
    start = tiers.start_expr(slo, BAD_EVENTS, PLAN)
    young = young_history(YOUNG_START)
    young[3]["values"] = " ".join(["_"] * (YOUNG_START + 1))  # the start not recorded yet
    tests = [
        {"interval": "30s", "input_series": young, "promql_expr_test": [_expect(start, YOUNG_START, 0)]},
        {"interval": "30s", "input_series": young_history(YOUNG_START + 4),
         "promql_expr_test": [_expect(start, YOUNG_START + 4, None)]},
        {"interval": "30s", "input_series": long_outage_history(LONG_DOWN[1]),
         "promql_expr_test": [_expect(start, LONG_DOWN[1], None)]},
    ]
    assert_passes(run_promtool_test(tmp_path, [], tests))


def test_tiers_follow_the_windows() -> None:
    slo = _restart_slo()
    plan = tiers.plan(slo, 30)
    assert plan == tiers.Tiers(fine=30, coarse=3600, longest=30 * 86400)
    assert tiers.coarse_interval(7 * 86400) == 840
    assert tiers.coarse_interval(86400) == 300
    assert tiers.plan(slo_from({
        "apiVersion": "slo.mlops.dev/v1alpha1", "kind": "ServiceLevelObjective",
        "metadata": {"name": "short", "namespace": "shop"},
        "spec": {"service": "checkout", "objective": 99, "window": "6h",
                 "indicator": {"availability": {"errors": ERR, "total": "req_total"}}},
    }), 30) is None
