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
    with no samples during the GAPS (the counters keep counting meanwhile)."""
    rows: dict[str, list[str]] = {OK: [], ERR: []}
    ok = err = 0.0
    for minute in range(END + 1):
        rows[OK].append("_" if _in_gap(minute) else repr(ok))
        rows[ERR].append("_" if _in_gap(minute) else repr(err))
        rate, ratio = (1000, 0.001) if (minute // 20) % 2 == 0 else (50, 0.05)
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
    records = [rule for group in rule_file([slo])["groups"] for rule in group["rules"] if "record" in rule]
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
PLAN = tiers.Tiers(fine=30, coarse=3600, longest=6 * 3600)
WINDOW = 6 * 3600


def _restart_slo() -> SLO:
    return slo_from({
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {"service": "checkout", "objective": 99, "window": "30d",
                 "indicator": {"availability": {"errors": ERR, "total": "req_total"}}},
    })


def history(down: tuple[int, int], end: int, sums_at_end: bool = True) -> list[dict[str, str]]:
    """What a Prometheus that was down from ``down[0]`` to ``down[1]`` (30s steps) recorded up to step
    ``end``: a base sample of 1 per evaluation, its running sum, and the hourly coarse copy (without
    the running sums' samples at ``end`` when the test computes them there)."""
    base: list[str] = []
    fine: list[str] = []
    coarse: list[str] = []
    total = 0
    for step in range(end + 1):
        running = down[0] <= step < down[1]
        if running:
            base.append("_")
            fine.append("_")
        else:
            total += 1
            base.append("1")
            fine.append(str(total))
        coarse.append(str(total) if step % 120 == 0 and not running else "_")
    if not sums_at_end:
        fine[-1] = coarse[-1] = "_"
    labels = f'slo="{NAME}",namespace="{NAMESPACE}",service="checkout"'
    name = RUNNING_SUMS[BAD_EVENTS]
    return [
        {"series": f'{BAD_EVENTS}{{{labels},window="5m"}}', "values": " ".join(base)},
        {"series": f'{name}{{{labels},tier="fine"}}', "values": " ".join(fine)},
        {"series": f'{name}{{{labels},tier="coarse"}}', "values": " ".join(coarse)},
    ]


def _expect(expr: str, step: int, value: float) -> dict[str, Any]:
    return {"expr": expr, "eval_time": f"{step * 30}s", "exp_samples": [{"labels": "{}", "value": value}]}


@pytest.mark.parametrize("down_minutes", [30, 90])
def test_running_sum_continues_after_a_restart(tmp_path: Path, down_minutes: int) -> None:
    """Down from step 241 (2h, after the sample worth 241) for ``down_minutes``: the first evaluation
    after the restart adds its sample to 241 (an outage up to an hour), or to the coarse copy of 2h
    (241 as well: the outage began right after it). A copy an hour older would give 121 + 1."""
    slo = _restart_slo()
    start, back = 241, 241 + down_minutes * 2
    expr = tiers.running_sum_expr(slo, BAD_EVENTS, PLAN)
    tests = [{"interval": "30s", "input_series": history((start, back), back, sums_at_end=False),
              "promql_expr_test": [_expect(expr, back, 242)]}]
    assert_passes(run_promtool_test(tmp_path, [], tests))


def test_running_sum_after_a_long_outage_misses_at_most_one_coarse_interval(tmp_path: Path) -> None:
    """Down from 2h50m (after 341 samples) for 90 minutes: the newest coarse copy is from 2h (241), so
    the restart continues from it: the 100 samples between the copy and the outage are not counted."""
    slo = _restart_slo()
    start, back = 341, 341 + 180
    expr = tiers.running_sum_expr(slo, BAD_EVENTS, PLAN)
    tests = [{"interval": "30s", "input_series": history((start, back), back, sums_at_end=False),
              "promql_expr_test": [_expect(expr, back, 242)]}]
    assert_passes(run_promtool_test(tmp_path, [], tests))


# Down 30 minutes from 1h (step 121): the newest fine sample before the far edge is the one just before
# the outage. Down 2h from 1h: those are more than an hour older than the far edge in its second hour;
# the coarse copy of 1h is the running sum's value through the hole (the outage began right after it).
@pytest.mark.parametrize("down", [(121, 181), (121, 361)], ids=["30m", "2h"])
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
