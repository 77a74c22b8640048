"""Derived long windows agree with the exact event counts on uneven traffic (ratio of sums).

Traffic alternates every 20 minutes between a busy phase with few errors and a quiet phase with many,
the case where averaging short-window ratios (Sloth's 30d "optimized" rule) goes wrong: each 5 minutes
would weigh the same whatever its traffic. The truth is computed here from the input counters.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import assert_passes, counter, example, run_promtool_test
from slo_operator.model import resolve

OK = 'bentoml_service_request_total{endpoint="/predict",http_response_code="200"}'
ERR = 'bentoml_service_request_total{endpoint="/predict",http_response_code="500"}'
PHASE = 20  # minutes
BUSY = (1000, 0.001)  # requests per minute, error ratio
QUIET = (50, 0.05)
HOURS = 30


def per_minute() -> list[tuple[float, float]]:
    """(requests, errors) in each minute of the scenario."""
    out = []
    for minute in range(HOURS * 60):
        rate, err = BUSY if (minute // PHASE) % 2 == 0 else QUIET
        out.append((rate, rate * err))
    return out


def true_error_ratio(at_minute: int, window_minutes: int) -> float:
    minutes = per_minute()[max(0, at_minute - window_minutes) : at_minute]
    return sum(e for _, e in minutes) / sum(r for r, _ in minutes)


def steps(column: int) -> list[tuple[float, int]]:
    minutes = per_minute()
    result: list[tuple[float, int]] = []
    for minute in range(0, len(minutes), PHASE):
        total, errors = minutes[minute]
        value = (total - errors) if column == 0 else errors
        result.append((value, PHASE))
    return result


TIMES = (1500, 1510, 1520, 1530, 1745)  # minutes: phase starts, middles and ends


@pytest.mark.parametrize("window", [60, 360, 1440], ids=["1h", "6h", "1d"])
def test_derived_window_within_one_percent_of_truth(tmp_path: Path, window: int) -> None:
    slo = resolve(example("availability"))
    label = {60: "1h", 360: "6h", 1440: "1d"}[window]
    derived = (
        f'slo:error_ratio{{window="{label}"}}'
        if label != "6h"
        # 6h is not an alert window of the default profile: derive it the same way, from the base series.
        else ("sum_over_time(slo:bad_events:rate[6h]) / sum_over_time(slo:total_events:rate[6h])")
    )
    labels = (
        '{namespace="ml-serving",service="cancer-classifier",slo="model-availability",'
        f'window="{"5m" if label == "6h" else label}"}}'
    )
    tests = [
        {
            "interval": "1m",
            "input_series": [
                {"series": OK, "values": counter(0, steps(0))},
                {"series": ERR, "values": counter(0, steps(1))},
            ],
            "promql_expr_test": [
                {
                    "expr": f"abs(({derived}) / {true_error_ratio(at, window)!r} - 1) < bool 0.01",
                    "eval_time": f"{at}m",
                    "exp_samples": [{"labels": labels, "value": 1}],
                }
                for at in TIMES
            ],
        }
    ]
    assert_passes(run_promtool_test(tmp_path, [slo], tests))


def test_averaging_short_ratios_would_be_wrong_here(tmp_path: Path) -> None:
    """The control: the average of 5m ratios misses the truth by far more than 1% on this traffic."""
    slo = resolve(example("availability"))
    at, window = 1530, 360
    truth = true_error_ratio(at, window)
    tests = [
        {
            "interval": "1m",
            "input_series": [
                {"series": OK, "values": counter(0, steps(0))},
                {"series": ERR, "values": counter(0, steps(1))},
            ],
            "promql_expr_test": [
                {
                    "expr": (
                        f'abs(avg_over_time(slo:error_ratio{{window="5m"}}[6h]) / {truth!r} - 1) > bool 0.5'
                    ),
                    "eval_time": f"{at}m",
                    "exp_samples": [
                        {
                            "labels": '{namespace="ml-serving",service="cancer-classifier",'
                            'slo="model-availability",window="5m"}',
                            "value": 1,
                        }
                    ],
                }
            ],
        }
    ]
    assert_passes(run_promtool_test(tmp_path, [slo], tests))
