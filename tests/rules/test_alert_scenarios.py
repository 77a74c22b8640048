"""``promtool test rules`` scenarios per indicator kind, against the rendered example SLOs.

Times to fire are not hard-coded: they come from the SRE Workbook formula in ErrorBudgetCalculator and
the alert's derived threshold, so a change to the maths or the rules that slows detection fails here.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from harness import alert_labels, assert_passes, example, run_promtool_test, slo_from
from slo_operator.budget import ErrorBudgetCalculator
from slo_operator.durations import parse_duration
from slo_operator.model import SLO, resolve
from slo_operator.promql import CURRENT_BURN_RATE, ERROR_RATIO
from slo_operator.rules import rule_groups
from support.promtool_series import counter

SCRAPE = 15  # seconds between input samples, like a 15s scrape interval
STEP = 30  # seconds: the fast rule group's evaluation interval
PER_SAMPLE = 150  # requests per scrape: 10 requests/s
OK = 'bentoml_service_request_total{endpoint="/predict",http_response_code="200"}'
ERR = 'bentoml_service_request_total{endpoint="/predict",http_response_code="503"}'
PROBE = 'bentoml_service_request_total{endpoint="/readyz",http_response_code="503"}'


def samples(seconds: float) -> int:
    return int(seconds // SCRAPE)


def fires_by(seconds: float) -> int:
    """First evaluation at or after ``seconds``: one step of tolerance at most."""
    return math.ceil(seconds / STEP) * STEP


def calculator(slo: SLO) -> ErrorBudgetCalculator:
    return ErrorBudgetCalculator(float(slo.objective * 100), slo.window / 86400)


def alert_check(slo: SLO, at: int, name: str, severity: str | None) -> dict[str, Any]:
    expected = (
        [] if severity is None else [{"exp_labels": alert_labels(slo, severity, window=_long(slo, name))}]
    )
    return {"eval_time": f"{at}s", "alertname": name, "exp_alerts": expected}


def _long(slo: SLO, name: str) -> str:
    return next(a.long for a in slo.alerts if a.name == name)


def availability_series(healthy_before: int, phases: list[tuple[float, int]]) -> list[dict[str, str]]:
    """Requests at 10/s; ``phases`` of (error ratio, samples) after ``healthy_before`` healthy samples."""
    ok_steps = [(PER_SAMPLE, healthy_before)] + [(PER_SAMPLE * (1 - e), n) for e, n in phases]
    err_steps = [(0, healthy_before)] + [(PER_SAMPLE * e, n) for e, n in phases]
    return [
        {"series": OK, "values": counter(0, ok_steps)},
        {"series": ERR, "values": counter(0, err_steps)},
        # Probe failures must not count: the SLO filters endpoint="/predict".
        {"series": PROBE, "values": counter(0, [(5, healthy_before + sum(n for _, n in phases))])},
    ]


def test_total_outage_pages_within_time_to_fire_and_resolves_after_short_window(tmp_path: Path) -> None:
    slo = resolve(example("availability"))
    fast = slo.alerts[0]
    start = 2 * 3600
    outage = 10 * 60
    ttf = calculator(slo).time_to_fire(1.0, fast.long_window / 3600, float(fast.threshold)).total_seconds()
    # The outage is visible from the first scrape after it starts.
    deadline = fires_by(start + SCRAPE + ttf)
    recovered = start + outage
    tests = [
        {
            "interval": f"{SCRAPE}s",
            "input_series": availability_series(
                samples(start), [(1.0, samples(outage)), (0.0, samples(3600))]
            ),
            "alert_rule_test": [
                alert_check(slo, start, "SLOFastBurn", None),
                alert_check(slo, deadline - STEP, "SLOFastBurn", None)
                if deadline - STEP > start + SCRAPE
                else alert_check(slo, start, "SLOFastBurn", None),
                alert_check(slo, deadline, "SLOFastBurn", "critical"),
                alert_check(slo, recovered, "SLOFastBurn", "critical"),
                alert_check(slo, recovered + fast.short_window + STEP, "SLOFastBurn", None),
            ],
        }
    ]
    assert_passes(run_promtool_test(tmp_path, [slo], tests))


def test_burn_of_four_warns_but_does_not_page(tmp_path: Path) -> None:
    slo = resolve(example("availability"))
    error_ratio = float(4 * slo.error_budget)  # burn rate 4: above slow (3), below fast (14.4)
    hours = 26
    tests = [
        {
            "interval": "1m",
            "input_series": [
                {"series": OK, "values": counter(0, [(600 * (1 - error_ratio), hours * 60)])},
                {"series": ERR, "values": counter(0, [(600 * error_ratio, hours * 60)])},
            ],
            "alert_rule_test": [
                alert_check(slo, hours * 3600, "SLOSlowBurn", "warning"),
                alert_check(slo, hours * 3600, "SLOFastBurn", None),
                alert_check(slo, 2 * 3600, "SLOFastBurn", None),
            ],
        }
    ]
    assert_passes(run_promtool_test(tmp_path, [slo], tests))


def test_burn_below_one_for_days_alerts_nothing(tmp_path: Path) -> None:
    slo = resolve(example("availability"))
    error_ratio = float(slo.error_budget) * 0.9
    days = 3
    checks = [
        alert_check(slo, h * 3600, name, None)
        for h in range(1, days * 24 + 1, 7)
        for name in ("SLOFastBurn", "SLOSlowBurn")
    ]
    tests = [
        {
            "interval": "1m",
            "input_series": [
                {"series": OK, "values": counter(0, [(600 * (1 - error_ratio), days * 1440)])},
                {"series": ERR, "values": counter(0, [(600 * error_ratio, days * 1440)])},
            ],
            "alert_rule_test": checks,
            "promql_expr_test": [
                {
                    # The 30d burn rate: the share of the budget spent.
                    "expr": "round(1 - slo:error_budget_remaining:ratio, 0.001)",
                    "eval_time": f"{days}d",
                    "exp_samples": [
                        {
                            "labels": '{namespace="ml-serving",service="cancer-classifier",'
                            'slo="model-availability"}',
                            "value": 0.9,
                        }
                    ],
                },
                {
                    # The status' burnRate: the first alert's long window, named by the window label.
                    "expr": "round(slo:current_burn_rate:ratio, 0.001)",
                    "eval_time": f"{days}d",
                    "exp_samples": [
                        {
                            "labels": '{namespace="ml-serving",service="cancer-classifier",'
                            'slo="model-availability",window="1h"}',
                            "value": 0.9,
                        }
                    ],
                },
            ],
        }
    ]
    assert_passes(run_promtool_test(tmp_path, [slo], tests))


def test_current_burn_rate_of_a_slow_window_is_recorded_with_its_source(tmp_path: Path) -> None:
    """A first alert with a long window over 6h: the current burn rate is recorded in the slow group,
    after the burn rates, so it copies its source at the same instant (a copy in the fast group would
    lag by up to the slow interval while the burn rate moves)."""
    document = example("availability").model_dump(by_alias=True, exclude_none=True)
    document["spec"]["alerting"] = {"burnRates": [
        {"name": "Ticket", "severity": "warning", "budgetPercent": 10,
         "longWindow": "1d", "shortWindow": "2h"},
    ]}
    slo = slo_from(document)
    assert slo.current_burn_window == 86400
    groups = {g["name"].rsplit(":", 2)[-2] + ":" + g["name"].rsplit(":", 1)[-1]: g for g in rule_groups(slo)}
    fast, slow = groups["*:fast"], groups["*:slow"]
    assert CURRENT_BURN_RATE not in [r.get("record") for r in fast["rules"]]
    records = [r.get("record") for r in slow["rules"]]
    assert records[records.index(CURRENT_BURN_RATE) - 1] == ERROR_RATIO
    healthy, burning = float(slo.error_budget) / 2, float(slo.error_budget) * 10
    phases = [(healthy, 24 * 60), (burning, 6 * 60)]  # the 1d burn rate climbs for the last 6h
    tests = [
        {
            "interval": "1m",
            "input_series": [
                {"series": OK, "values": counter(0, [(600 * (1 - e), n) for e, n in phases])},
                {"series": ERR, "values": counter(0, [(600 * e, n) for e, n in phases])},
            ],
            "promql_expr_test": [
                {
                    "expr": "slo:current_burn_rate:ratio - ignoring (__name__) "
                    'slo:error_ratio{window="1d"}'
                    " / on (slo, namespace) group_left () (1 - slo:objective:ratio)",
                    "eval_time": f"{t}s",
                    "exp_samples": [
                        {
                            "labels": '{namespace="ml-serving",service="cancer-classifier",'
                            'slo="model-availability",window="1d"}',
                            "value": 0,
                        }
                    ],
                }
                for t in range(24 * 3600 + 600, 30 * 3600, 1770)
            ],
        }
    ]
    assert_passes(run_promtool_test(tmp_path, [slo], tests))


def test_zero_traffic_is_no_data_never_an_alert(tmp_path: Path) -> None:
    slo = resolve(example("availability"))
    tests = [
        {
            "interval": "1m",
            "input_series": [
                {"series": OK, "values": "0x300"},
                {"series": ERR, "values": "0x300"},
            ],
            "alert_rule_test": [
                alert_check(slo, t, n, None)
                for t in (600, 3600, 4 * 3600)
                for n in ("SLOFastBurn", "SLOSlowBurn", "SLONoData")
            ],
            "promql_expr_test": [
                {"expr": "slo:error_ratio", "eval_time": "4h", "exp_samples": []},
                {"expr": "slo:current_burn_rate:ratio", "eval_time": "4h", "exp_samples": []},
                {"expr": "slo:sli:ratio", "eval_time": "4h", "exp_samples": []},
                {"expr": "slo:time_to_exhaustion:seconds", "eval_time": "4h", "exp_samples": []},
            ],
        }
    ]
    assert_passes(run_promtool_test(tmp_path, [slo], tests))


def test_missing_series_fires_no_data_alert(tmp_path: Path) -> None:
    slo = resolve(example("availability"))
    assert slo.no_data_for is not None
    after = int(parse_duration(slo.no_data_for))
    tests = [
        {
            "interval": "1m",
            "input_series": [{"series": 'unrelated_metric{job="x"}', "values": "1x120"}],
            "alert_rule_test": [
                alert_check(slo, 60, "SLONoData", None),
                {
                    "eval_time": f"{after + 120}s",
                    "alertname": "SLONoData",
                    "exp_alerts": [
                        {
                            "exp_labels": {
                                "slo": slo.name,
                                "namespace": slo.namespace,
                                "service": slo.service,
                                "severity": "warning",
                                **slo.alert_labels,
                            }
                        }
                    ],
                },
            ],
        }
    ]
    assert_passes(run_promtool_test(tmp_path, [slo], tests))


def _histogram(prefix: str, steps: list[tuple[float, float, int]]) -> list[dict[str, str]]:
    """Histogram series; steps of (requests per sample, share slower than 200ms, samples)."""
    labels = 'endpoint="/predict",service_name="CancerClassifier"'
    fast_share = [(rps * (1 - slow), n) for rps, slow, n in steps]
    series = []
    for le, portion in (("0.1", 0.5), ("0.2", 1.0)):
        series.append(
            {
                "series": f'{prefix}_bucket{{{labels},le="{le}"}}',
                "values": counter(0, [(v * portion, n) for v, n in fast_share]),
            }
        )
    total = [(rps, n) for rps, _, n in steps]
    series.append({"series": f'{prefix}_bucket{{{labels},le="+Inf"}}', "values": counter(0, total)})
    series.append({"series": f"{prefix}_count{{{labels}}}", "values": counter(0, total)})
    return series


def test_latency_slow_share_above_budget_pages(tmp_path: Path) -> None:
    slo = resolve(example("latency"))
    fast = slo.alerts[0]
    slow_share = 0.9  # budget is 5% slow requests; 90% slow burns at 18x > 14.4
    start = 3600
    ttf = (
        calculator(slo)
        .time_to_fire(slow_share, fast.long_window / 3600, float(fast.threshold))
        .total_seconds()
    )
    deadline = fires_by(start + SCRAPE + ttf)
    tests = [
        {
            "interval": f"{SCRAPE}s",
            "input_series": _histogram(
                "bentoml_service_request_duration_seconds",
                [(PER_SAMPLE, 0.01, samples(start)), (PER_SAMPLE, slow_share, samples(3600))],
            ),
            "alert_rule_test": [
                alert_check(slo, start, "SLOFastBurn", None),
                alert_check(slo, deadline, "SLOFastBurn", "critical"),
            ],
        }
    ]
    assert_passes(run_promtool_test(tmp_path, [slo], tests))


def test_latency_threshold_without_bucket_is_no_data_not_an_outage(tmp_path: Path) -> None:
    document = example("latency").model_dump(by_alias=True, exclude_none=True)
    document["spec"]["indicator"]["latency"]["threshold"] = "300ms"  # no le="0.3" bucket exists
    slo = slo_from(document)
    tests = [
        {
            "interval": f"{SCRAPE}s",
            "input_series": _histogram("bentoml_service_request_duration_seconds", [(PER_SAMPLE, 0.0, 480)]),
            "alert_rule_test": [alert_check(slo, 7200, "SLOFastBurn", None)],
            "promql_expr_test": [{"expr": "slo:error_ratio", "eval_time": "2h", "exp_samples": []}],
        }
    ]
    assert_passes(run_promtool_test(tmp_path, [slo], tests))


def test_stale_features_fire_freshness_alert(tmp_path: Path) -> None:
    slo = resolve(example("freshness"))
    assert slo.max_age == 3600
    fast = slo.alerts[0]
    last_update = 2 * 3600  # the feature pipeline stops at 2h; data is stale from 3h on
    stale_from = last_update + slo.max_age
    # Every evaluation after stale_from is a bad slice: the fast alert needs threshold × budget of the
    # long window to be bad.
    needed = float(fast.threshold * slo.error_budget) * fast.long_window
    deadline = fires_by(stale_from + needed) + STEP
    minutes = 5 * 60
    timestamps = " ".join([f"0+60x{last_update // 60}", f"{last_update}x{minutes - last_update // 60}"])
    tests = [
        {
            "interval": "1m",
            "input_series": [
                {"series": "model_features_last_updated_timestamp_seconds", "values": timestamps}
            ],
            "alert_rule_test": [
                alert_check(slo, stale_from - 60, "SLOFastBurn", None),
                alert_check(slo, deadline, "SLOFastBurn", "critical"),
            ],
            "promql_expr_test": [
                {
                    "expr": 'slo:error_ratio{window="5m"}',
                    "eval_time": f"{stale_from - 600}s",
                    "exp_samples": [
                        {
                            "labels": 'slo:error_ratio{namespace="ml-serving",service="cancer-classifier",'
                            'slo="feature-freshness",window="5m"}',
                            "value": 0,
                        }
                    ],
                }
            ],
        }
    ]
    assert_passes(run_promtool_test(tmp_path, [slo], tests))


def test_delayed_accuracy_feedback_is_no_data_then_alerts_on_bad_labels(tmp_path: Path) -> None:
    slo = resolve(example("accuracy"))
    fast = slo.alerts[0]
    gap = 2 * 3600  # predictions served, but no ground truth arrives for two hours
    wrong = 0.6  # then 60% of the evaluated predictions turn out wrong: burn 0.6/0.15 = 4 > 3.33
    assert wrong / float(slo.error_budget) > float(fast.threshold)
    feedback = samples(3600)
    tests = [
        {
            "interval": f"{SCRAPE}s",
            "input_series": [
                {
                    "series": "model_predictions_evaluated_total",
                    "values": counter(0, [(0, samples(gap)), (20, feedback)]),
                },
                {
                    "series": "model_predictions_correct_total",
                    "values": counter(0, [(0, samples(gap)), (20 * (1 - wrong), feedback)]),
                },
            ],
            "alert_rule_test": [
                alert_check(slo, gap, "SLOFastBurn", None),
                alert_check(slo, gap, "SLOSlowBurn", None),
                alert_check(slo, gap + fast.long_window + STEP, "SLOFastBurn", "critical"),
            ],
            "promql_expr_test": [{"expr": "slo:error_ratio", "eval_time": f"{gap}s", "exp_samples": []}],
        }
    ]
    assert_passes(run_promtool_test(tmp_path, [slo], tests))


@pytest.mark.parametrize("wrong", [0.05, 0.10])
def test_accuracy_within_objective_alerts_nothing(tmp_path: Path, wrong: float) -> None:
    slo = resolve(example("accuracy"))
    n = samples(6 * 3600)
    tests = [
        {
            "interval": f"{SCRAPE}s",
            "input_series": [
                {"series": "model_predictions_evaluated_total", "values": counter(0, [(20, n)])},
                {"series": "model_predictions_correct_total", "values": counter(0, [(20 * (1 - wrong), n)])},
            ],
            "alert_rule_test": [
                alert_check(slo, t, name, None)
                for t in (3600, 6 * 3600)
                for name in ("SLOFastBurn", "SLOSlowBurn")
            ],
        }
    ]
    assert_passes(run_promtool_test(tmp_path, [slo], tests))


def _generic(indicator: dict[str, Any], **spec: Any) -> SLO:
    return slo_from(
        {
            "apiVersion": "slo.mlops.dev/v1alpha1",
            "kind": "ServiceLevelObjective",
            "metadata": {"name": "checkout", "namespace": "shop"},
            "spec": {"service": "checkout", "objective": 99, "window": "7d", "indicator": indicator, **spec},
        }
    )


def test_ratio_of_good_events_pages_on_a_drop(tmp_path: Path) -> None:
    slo = _generic({"ratio": {"good": 'jobs_total{result="ok"}', "total": "jobs_total"}})
    fast = slo.alerts[0]
    start = 3600
    # 30% of jobs fail from `start` on: burn 30 > 14.4; before that 0.5% fail (burn 0.5).
    tests = [
        {
            "interval": f"{SCRAPE}s",
            "input_series": [
                {
                    "series": 'jobs_total{result="ok"}',
                    "values": counter(0, [(99.5, samples(start)), (70, samples(1800))]),
                },
                {
                    "series": 'jobs_total{result="failed"}',
                    "values": counter(0, [(0.5, samples(start)), (30, samples(1800))]),
                },
            ],
            "alert_rule_test": [
                alert_check(slo, start, "SLOFastBurn", None),
                alert_check(slo, start + fast.long_window, "SLOFastBurn", "critical"),
            ],
        }
    ]
    assert_passes(run_promtool_test(tmp_path, [slo], tests))


def test_timeslices_count_bad_slices_not_bad_events(tmp_path: Path) -> None:
    """A 5m slice is bad when more than 5% of its requests fail. 4% errors all the time: every slice is
    good, so nothing fires although an event-based 99% SLO would burn at 4x; 10%: every slice is bad."""
    slo = _generic(
        {"availability": {"errors": 'req_total{code="500"}', "total": "req_total"}},
        budgetingMethod="Timeslices",
        timeslices={"sliceSize": "5m", "goal": 95},
    )
    hours = 3
    tests = [
        {
            "interval": "1m",
            "input_series": [
                {
                    "series": 'req_total{code="200"}',
                    "values": counter(0, [(96, hours * 60), (90, hours * 60)]),
                },
                {
                    "series": 'req_total{code="500"}',
                    "values": counter(0, [(4, hours * 60), (10, hours * 60)]),
                },
            ],
            "alert_rule_test": [
                alert_check(slo, hours * 3600, "SLOFastBurn", None),
                alert_check(slo, hours * 3600, "SLOSlowBurn", None),
                alert_check(slo, 2 * hours * 3600, "SLOFastBurn", "critical"),
            ],
            "promql_expr_test": [
                {
                    "expr": 'slo:error_ratio{window="5m"}',
                    "eval_time": f"{hours}h",
                    "exp_samples": [
                        {
                            "labels": 'slo:error_ratio{namespace="shop",service="checkout",slo="checkout",'
                            'window="5m"}',
                            "value": 0,
                        }
                    ],
                }
            ],
        }
    ]
    assert_passes(run_promtool_test(tmp_path, [slo], tests))
