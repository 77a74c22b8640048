"""Derived long windows agree with the exact event counts on uneven traffic (ratio of sums).

Traffic alternates every 20 minutes between a busy phase with few errors and a quiet phase with many,
the case where averaging short-window ratios (Sloth's 30d "optimized" rule) goes wrong: each 5 minutes
would weigh the same whatever its traffic. The truth is computed here from the input counters.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import assert_passes, example, run_promtool_test, slo_from
from slo_operator.durations import format_duration
from slo_operator.model import SLO, resolve
from support.promtool_series import counter

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


def steps(column: int, until: int = HOURS * 60) -> list[tuple[float, int]]:
    minutes = per_minute()[:until]
    result: list[tuple[float, int]] = []
    for minute in range(0, len(minutes), PHASE):
        total, errors = minutes[minute]
        value = (total - errors) if column == 0 else errors
        result.append((value, PHASE))
    return result


TIMES = (1500, 1510, 1520, 1530, 1745)  # minutes: phase starts, middles and ends
# The 6h window needs only 6h of history: a shorter run (promtool's time grows with the run's length).
TIMES_6H = (380, 390, 400, 410, 465)


def with_6h_window() -> SLO:
    """The availability example with a third alert whose long window is 6h (Sloth's and the Workbook's
    "5% in 6h" page), so the rendered rules hold a 6h error ratio: the longest edge-corrected window."""
    document = example("availability").model_dump(mode="json", by_alias=True, exclude_none=True)
    document["spec"]["alerting"]["burnRates"] = [
        {"name": "SLOFastBurn", "severity": "critical", "budgetPercent": 2, "longWindow": "1h",
         "shortWindow": "5m"},
        {"name": "SLOPageSlow", "severity": "critical", "budgetPercent": 5, "longWindow": "6h",
         "shortWindow": "30m"},
        {"name": "SLOSlowBurn", "severity": "warning", "budgetPercent": 10, "longWindow": "1d",
         "shortWindow": "2h"},
    ]
    return slo_from(document)


def ratio_labels(window: str) -> str:
    return (
        '{namespace="ml-serving",service="cancer-classifier",slo="model-availability",'
        f'window="{window}"}}'
    )


@pytest.mark.parametrize("window", [60, 360, 1440], ids=["1h", "6h", "1d"])
def test_derived_window_within_one_percent_of_truth(tmp_path: Path, window: int) -> None:
    """The rendered ``slo:error_ratio`` of each window, read by promtool, against the exact counts."""
    slo = with_6h_window() if window == 360 else resolve(example("availability"))
    label = {60: "1h", 360: "6h", 1440: "1d"}[window]
    assert label in {format_duration(w) for w in slo.windows}
    times = TIMES_6H if window == 360 else TIMES
    until = max(times) + 1
    tests = [
        {
            "interval": "1m",
            "input_series": [
                {"series": OK, "values": counter(0, steps(0, until))},
                {"series": ERR, "values": counter(0, steps(1, until))},
            ],
            "promql_expr_test": [
                {
                    "expr": (
                        f'abs(slo:error_ratio{{window="{label}"}} / {true_error_ratio(at, window)!r} - 1) '
                        "< bool 0.01"
                    ),
                    "eval_time": f"{at}m",
                    "exp_samples": [{"labels": ratio_labels(label), "value": 1}],
                }
                for at in times
            ],
        }
    ]
    assert_passes(run_promtool_test(tmp_path, [slo], tests))


OUTAGE_AT = 370  # minutes of steady traffic (50 requests per 30 s scrape) before every request fails


def test_a_fresh_outage_counts_at_once_in_the_6h_window(tmp_path: Path) -> None:
    """README: windows up to 6h are corrected at both edges, so a fresh outage is seen at once rather than
    half a base window (150 s) late. From one base window (5m) into a total outage the rendered ratio equals
    the exact share of failed requests within 1%; without the correction it reads 2.5 minutes of outage
    less (25% low at 10 minutes), as the uncorrected 1d window does. (The 1h window, corrected the same
    way, is proven by the alert scenarios' times to fire.)"""
    slo = with_6h_window()
    window = 360
    label = format_duration(window * 60)
    scrapes = 2 * (OUTAGE_AT + 40) + 1
    before = 2 * OUTAGE_AT
    checks = []
    for minute in (5, 7, 10, 20, 40):
        at = OUTAGE_AT + minute
        truth = (2 * minute) / min(2 * at, 2 * window)  # failed scrapes' requests / all in the window
        checks.append({
            "expr": f'abs(slo:error_ratio{{window="{label}"}} / {truth!r} - 1) < bool 0.01',
            "eval_time": f"{at}m",
            "exp_samples": [{"labels": ratio_labels(label), "value": 1}],
        })
    # the control: the 1d window (no edge correction) is a quarter low 10 minutes in
    young = (2 * 10) / (2 * (OUTAGE_AT + 10))
    checks.append({
        "expr": f'slo:error_ratio{{window="1d"}} / {young!r} < bool 0.8',
        "eval_time": f"{OUTAGE_AT + 10}m",
        "exp_samples": [{"labels": ratio_labels("1d"), "value": 1}],
    })
    tests = [
        {
            "interval": "30s",
            "input_series": [
                {"series": OK, "values": counter(0, [(50, before), (0, scrapes - before)])},
                {"series": ERR, "values": counter(0, [(0, before), (50, scrapes - before)])},
            ],
            "promql_expr_test": checks,
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
