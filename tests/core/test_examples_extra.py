"""The latency example in 5-minute windows says exactly "P95 <= 200 ms over 5-minute windows"."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from slo_operator.loader import load
from slo_operator.model import SLO, resolve

REPO = Path(__file__).resolve().parents[2]


def slo(path: str) -> SLO:
    objects, problems = load([str(REPO / path)])
    assert not problems, problems
    (obj,) = objects
    return resolve(obj)


def test_p95_over_5_minute_windows_is_timeslices_of_5m_with_goal_95() -> None:
    windows = slo("manifests/examples-extra/latency-p95-5m.yaml")
    assert (windows.kind, windows.method) == ("latency", "Timeslices")
    assert windows.slice_size == 300 and windows.slice_goal == Decimal("0.95")
    assert windows.objective == Decimal("0.95") and windows.latency_threshold == Decimal("0.2")
    assert windows.base_window == 300  # each slice reads the raw histogram over exactly 5 minutes


def test_it_reads_the_same_series_as_the_request_ratio_form() -> None:
    windows = slo("manifests/examples-extra/latency-p95-5m.yaml")
    ratio = slo("manifests/examples/latency.yaml")
    assert ratio.method == "Occurrences"
    assert windows.selectors == ratio.selectors
    assert (windows.latency_threshold, windows.window, windows.service) == (
        ratio.latency_threshold, ratio.window, ratio.service,
    )


def test_the_cost_example_reads_the_model_services_counters() -> None:
    from model_service.sli import MetricNames

    cost = slo("manifests/examples-extra/cost.yaml")
    assert (cost.kind, cost.method, cost.slice_size) == ("cost", "Timeslices", 3600)
    assert cost.selectors["dollars"].metric == MetricNames.COST
    assert cost.selectors["units"].metric == MetricNames.PREDICTIONS
    assert cost.cost is not None and cost.cost.period == "month" and cost.cost.currency == "USD"
