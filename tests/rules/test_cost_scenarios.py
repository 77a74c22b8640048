"""``promtool test rules`` scenarios of cost SLOs: cost per unit in time slices, idle hours, the spend
budget's projection, and OpenCost's allocation × node price against a hand calculation.

Expected instants come from the SRE Workbook formula (slices) and from a model of the spend written
here independently of the rules (the budget projection); the harness also holds the simulator to every
scenario.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from harness import alert_labels, assert_passes, run_promtool_test, slo_from
from slo_operator.budget import ErrorBudgetCalculator
from slo_operator.model import SLO
from slo_operator.spend import alert_name
from support.promtool_series import counter

SCRAPE = 15
STEP = 30
UNITS = 'bentoml_service_request_total{endpoint="/predict"}'
DOLLARS = "model_serving_cost_dollars_total"
UNITS_PER_SAMPLE = 150  # 10 predictions/s
PRICE = 0.0003  # dollars per prediction before the spike
MONTH = 31 * 86400  # the scenarios run in January 1970 (promtool's time 0)


def cost_slo(cost: dict[str, Any], **spec: Any) -> SLO:
    return slo_from({
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": "serving-cost", "namespace": "ml-serving"},
        "spec": {
            "service": "cancer-classifier",
            "objective": 99,
            "window": "30d",
            "timeslices": {"sliceSize": "1h"},
            "indicator": {"cost": {"dollars": DOLLARS, "units": UNITS, **cost}},
            **spec,
        },
    })


def samples(seconds: float) -> int:
    return int(seconds // SCRAPE)


def fires_by(seconds: float) -> int:
    return math.ceil(seconds / STEP) * STEP


def alert_check(slo: SLO, at: float, name: str, severity: str | None, window: str) -> dict[str, Any]:
    expected = [] if severity is None else [{"exp_labels": alert_labels(slo, severity, window=window)}]
    return {"eval_time": f"{int(at)}s", "alertname": name, "exp_alerts": expected}


def test_price_doubling_drops_the_per_unit_sli_and_pages_at_the_workbook_time(tmp_path: Path) -> None:
    """$0.30 per 1,000 predictions, maximum $0.452: when the price doubles, the 1h slice's cost per unit
    passes the maximum about half an hour later; from then on every slice is bad, and the fast alert
    needs threshold × budget of its long window to be bad (the Workbook's time to fire at error ratio 1).
    (Not exactly $0.45: the slice would reach it exactly at an evaluation, a tie of float roundings.)"""
    slo = cost_slo({"maxCostPerUnit": "0.000452"})
    fast = slo.alerts[0]
    spike = 2 * 3600
    crossing = spike + (0.000452 / PRICE - 1) * 3600  # mean price over the slice = the maximum
    ttf = ErrorBudgetCalculator(99, 30).time_to_fire(1.0, fast.long_window / 3600, float(fast.threshold))
    deadline = fires_by(crossing + ttf.total_seconds()) + STEP
    spent = PRICE * UNITS_PER_SAMPLE
    tests = [{
        "interval": f"{SCRAPE}s",
        "input_series": [
            {"series": UNITS, "values": counter(0, [(UNITS_PER_SAMPLE, samples(spike + 3600))])},
            {"series": DOLLARS, "values": counter(0, [(spent, samples(spike)), (2 * spent, samples(3600))])},
        ],
        "alert_rule_test": [
            alert_check(slo, spike, fast.name, None, fast.long),
            alert_check(slo, crossing + ttf.total_seconds() - 2 * STEP, fast.name, None, fast.long),
            alert_check(slo, deadline, fast.name, "critical", fast.long),
        ],
        "promql_expr_test": [
            {
                "expr": "round(slo:cost_per_unit:ratio * 1e7)",
                "eval_time": f"{spike}s",
                "exp_samples": [{"labels": _labels(window="1h"), "value": round(PRICE * 1e7)}],
            },
            {
                "expr": "round(slo:cost_per_unit:ratio * 1e7)",
                "eval_time": f"{spike + 3600}s",
                "exp_samples": [{"labels": _labels(window="1h"), "value": round(2 * PRICE * 1e7)}],
            },
            {
                "expr": "slo:bad_events:rate",
                "eval_time": f"{int(crossing) - 120}s",
                "exp_samples": [{"labels": _labels("slo:bad_events:rate", window="1h"), "value": 0}],
            },
            {
                "expr": "slo:bad_events:rate",
                "eval_time": f"{int(crossing) + 120}s",
                "exp_samples": [{"labels": _labels("slo:bad_events:rate", window="1h"), "value": 1}],
            },
        ],
    }]
    assert_passes(run_promtool_test(tmp_path, [slo], tests))


def _labels(name: str = "", **extra: str) -> str:
    labels = {"namespace": "ml-serving", "service": "cancer-classifier", "slo": "serving-cost", **extra}
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def test_idle_hours_without_units_are_no_data_not_a_page(tmp_path: Path) -> None:
    """Nothing is predicted for three hours while the pods idle at 5% of their busy spend: the hours
    without units have no cost per unit and no slice (never a division by zero), and nothing pages. The
    slices that straddle the start of the idle period carry its spend on their last few units; with a
    maximum of twice the busy price that is a few minutes of bad slices, far from any alert."""
    slo = cost_slo({"maxCostPerUnit": "0.0006"})
    busy, idle = 2 * 3600, 3 * 3600
    spent = PRICE * UNITS_PER_SAMPLE
    at = busy + 2 * 3600  # the last 1h slice with units ended an hour ago
    tests = [{
        "interval": f"{SCRAPE}s",
        "input_series": [
            {"series": UNITS, "values": counter(0, [(UNITS_PER_SAMPLE, samples(busy)), (0, samples(idle))])},
            {"series": DOLLARS, "values": counter(0, [(spent, samples(busy)), (spent / 20, samples(idle))])},
        ],
        "alert_rule_test": [
            alert_check(slo, t, a.name, None, a.long)
            for t in range(busy, busy + idle + 1, 600)
            for a in slo.alerts
        ],
        "promql_expr_test": [
            {"expr": "slo:cost_per_unit:ratio", "eval_time": f"{at}s", "exp_samples": []},
            {"expr": "slo:bad_events:rate", "eval_time": f"{at}s", "exp_samples": []},
            {"expr": "slo:total_events:rate", "eval_time": f"{at}s", "exp_samples": []},
            {"expr": 'slo:error_ratio{window="1h"}', "eval_time": f"{at}s", "exp_samples": []},
            {
                # The idle spend goes on: 0.0045 / 20 $/s.
                "expr": 'round(slo:cost_spend:rate{window="5m"} * 1e7)',
                "eval_time": f"{at}s",
                "exp_samples": [{"labels": _labels(window="5m"), "value": round(spent / 20 / SCRAPE * 1e7)}],
            },
        ],
    }]
    assert_passes(run_promtool_test(tmp_path, [slo], tests))


def _projection_crossing(rate1: float, rate2: float, jump: float, amount: float, long: int) -> float:
    """First second the month's spend projected at the pace of the last ``long`` seconds exceeds
    ``amount``: spend since the 1st + pace × seconds left, with the pace read over 5m like the rules."""
    t = np.arange(0, jump + 4 * 3600, 1.0)
    pace5 = rate1 + (rate2 - rate1) * np.clip((t - jump) / 300, 0, 1)
    spent = np.cumsum(pace5)
    window = np.convolve(pace5, np.ones(long), "full")[: len(t)] / np.minimum(np.arange(1, len(t) + 1), long)
    projected = spent + window * (MONTH - t)
    return float(t[np.argmax(projected > amount)])


def test_monthly_spend_alert_fires_when_the_projection_crosses_the_budget_and_not_before(
    tmp_path: Path,
) -> None:
    """Spending at 80% of the budget's pace alerts nothing; when the spend rate doubles, the month's
    projection crosses the budget once the long window's pace is 25% higher: the page fires then."""
    amount = 2000
    rate1 = 0.8 * amount / MONTH
    slo = cost_slo({"maxCostPerUnit": "1", "budget": {"amount": str(amount), "currency": "USD"}})
    fast = slo.alerts[0]
    name = alert_name(fast)
    jump = 3 * 3600
    crossing = _projection_crossing(rate1, 2 * rate1, jump, amount, fast.long_window)
    assert jump + 600 < crossing < jump + 1200  # ~15 minutes: (1 + x/1h) × 80% = 100%
    per_sample = rate1 * SCRAPE
    tests = [{
        "interval": f"{SCRAPE}s",
        "input_series": [
            {"series": UNITS, "values": counter(0, [(UNITS_PER_SAMPLE, samples(jump + 2 * 3600))])},
            {
                "series": DOLLARS,
                "values": counter(0, [(per_sample, samples(jump)), (2 * per_sample, samples(2 * 3600))]),
            },
        ],
        "alert_rule_test": [
            alert_check(slo, jump, name, None, fast.long),
            alert_check(slo, crossing - 3 * STEP, name, None, fast.long),
            alert_check(slo, crossing + 3 * STEP, name, "critical", fast.long),
        ],
        "promql_expr_test": [
            {
                "expr": "slo:cost_budget:total",
                "eval_time": f"{jump}s",
                "exp_samples": [
                    {"labels": _labels("slo:cost_budget:total", currency="USD"), "value": amount}
                ],
            },
            {
                # January: 31 days left at midnight of the 1st, minus the seconds gone.
                "expr": "slo:cost_period_remaining:seconds",
                "eval_time": f"{jump}s",
                "exp_samples": [
                    {"labels": _labels("slo:cost_period_remaining:seconds"), "value": MONTH - jump}
                ],
            },
            {
                # Before the jump the forecast is the steady pace over the month, 80% of the budget, within
                # 2% (the day's pace also averages the first minutes, when the 5m rate has few scrapes).
                "expr": f"abs(slo:cost_forecast:total - {0.8 * amount}) < bool {0.02 * 0.8 * amount}",
                "eval_time": f"{jump}s",
                "exp_samples": [{"labels": _labels(), "value": 1}],
            },
        ],
    }]
    assert_passes(run_promtool_test(tmp_path, [slo], tests))


OPENCOST_SLO: dict[str, Any] = {
    "opencost": {"namespace": "ml-serving", "pods": "cancer-classifier-.*"},
    "maxCostPerUnit": "0.001",
}


def test_opencost_spend_equals_the_hand_calculation(tmp_path: Path) -> None:
    """Two pods on two nodes (one with a GPU), a pod of another namespace and one of another workload on
    the same nodes: spend = Σ allocation × the price of the pod's node, per hour."""
    slo = slo_from({
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": "serving-cost", "namespace": "ml-serving"},
        "spec": {
            "service": "cancer-classifier",
            "objective": 99,
            "timeslices": {"sliceSize": "1h"},
            "indicator": {"cost": {**OPENCOST_SLO, "units": UNITS}},
        },
    })
    gib = 1073741824
    oc = 'instance="oc:9003"'  # OpenCost's own address (honor_labels keeps the pod's labels)
    pod_a = f'namespace="ml-serving",pod="cancer-classifier-7d9f-abcde",container="bentoml",node="n1",{oc}'
    pod_b = f'namespace="ml-serving",pod="cancer-classifier-7d9f-fghij",container="bentoml",node="n2",{oc}'
    other = f'namespace="batch",pod="cancer-classifier-train",container="train",node="n1",{oc}'
    neighbour = f'namespace="ml-serving",pod="feature-store-0",container="redis",node="n2",{oc}'
    n1 = 'node="n1",instance="oc:9003",instance_type="g5.xlarge",region="eu-west-1"'
    n2 = 'node="n2",instance="oc:9003",instance_type="m5.large",region="eu-west-1"'
    hours = 2
    n = hours * 3600 // SCRAPE

    def gauge(series: str, value: float) -> dict[str, str]:
        return {"series": series, "values": f"{value}x{n}"}

    inputs = [
        gauge(f"container_cpu_allocation{{{pod_a}}}", 2),
        gauge(f"container_cpu_allocation{{{pod_b}}}", 1.5),
        gauge(f"container_cpu_allocation{{{other}}}", 8),
        gauge(f"container_cpu_allocation{{{neighbour}}}", 4),
        gauge(f"container_memory_allocation_bytes{{{pod_a}}}", 4 * gib),
        gauge(f"container_memory_allocation_bytes{{{pod_b}}}", 2 * gib),
        gauge(f"container_memory_allocation_bytes{{{other}}}", 32 * gib),
        gauge(f"container_memory_allocation_bytes{{{neighbour}}}", 16 * gib),
        gauge(f"container_gpu_allocation{{{pod_a}}}", 1),
        gauge(f"container_gpu_allocation{{{other}}}", 1),
        gauge(f"node_cpu_hourly_cost{{{n1}}}", 0.04),
        gauge(f"node_cpu_hourly_cost{{{n2}}}", 0.05),
        gauge(f"node_ram_hourly_cost{{{n1}}}", 0.005),
        gauge(f"node_ram_hourly_cost{{{n2}}}", 0.006),
        gauge(f"node_gpu_hourly_cost{{{n1}}}", 0.9),
        {"series": UNITS, "values": counter(0, [(UNITS_PER_SAMPLE, n)])},
    ]
    # By hand: CPU 2 × 0.04 + 1.5 × 0.05, memory 4 × 0.005 + 2 × 0.006, GPU 1 × 0.9 dollars per hour.
    hourly = 2 * 0.04 + 1.5 * 0.05 + 4 * 0.005 + 2 * 0.006 + 1 * 0.9
    assert math.isclose(hourly, 1.087)
    at = f"{hours * 3600 - 60}s"
    tests = [{
        "interval": f"{SCRAPE}s",
        "input_series": inputs,
        "promql_expr_test": [
            {
                "expr": 'round(slo:cost_spend:rate{window="5m"} * 3600, 0.000001)',
                "eval_time": at,
                "exp_samples": [{"labels": _labels(window="5m"), "value": 1.087}],
            },
            {
                # Per prediction at 10 predictions/s.
                "expr": "round(slo:cost_per_unit:ratio * 36000, 0.000001)",
                "eval_time": at,
                "exp_samples": [{"labels": _labels(window="1h"), "value": 1.087}],
            },
        ],
    }]
    assert_passes(run_promtool_test(tmp_path, [slo], tests))
