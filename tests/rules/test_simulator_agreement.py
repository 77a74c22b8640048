"""The simulator against ``promtool test rules`` on the scenario files of manifests/scenarios.

Each case turns a scenario into the raw series the SLO reads, hands them to promtool as input series,
and lets the harness assert every alert instant the simulator computed (fire and resolve, one
evaluation before each) and every recorded value within 0.1% (see ``harness.with_simulator_agreement``).
The cases cover every indicator kind, both budgeting methods, failed scrapes (stale markers), gaps,
zero traffic and delayed feedback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import assert_passes, example, run_promtool_test, slo_from
from slo_operator.model import SLO, resolve
from slo_operator.scenario import parse_scenario, promtool_series, raw_series

SCENARIOS = Path(__file__).resolve().parents[2] / "manifests" / "scenarios"


def _checkout(**spec: Any) -> SLO:
    default = {"availability": {"errors": 'req_total{code="500"}', "total": "req_total"}}
    indicator = spec.pop("indicator", default)
    return slo_from({
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": "checkout", "namespace": "shop"},
        "spec": {"service": "checkout", "objective": 99, "window": "7d", "indicator": indicator, **spec},
    })


def _timeslices() -> SLO:
    return _checkout(budgetingMethod="Timeslices", timeslices={"sliceSize": "5m", "goal": 95})


def _ratio() -> SLO:
    return _checkout(indicator={"ratio": {"good": 'jobs_total{result="ok"}', "total": "jobs_total"}})


CASES = {
    "outage-availability": ("outage", lambda: resolve(example("availability"))),
    "degradation-availability": ("degradation", lambda: resolve(example("availability"))),
    "degradation-timeslices": ("degradation", _timeslices),
    "missing-availability": ("missing-scrapes", lambda: resolve(example("availability"))),
    "missing-timeslices": ("missing-scrapes", _timeslices),
    "zero-traffic-availability": ("zero-traffic", lambda: resolve(example("availability"))),
    "seasonality-ratio": ("seasonality", _ratio),
    "latency-shift-latency": ("latency-shift", lambda: resolve(example("latency"))),
    "feedback-delay-accuracy": ("feedback-delay", lambda: resolve(example("accuracy"))),
    "stale-pipeline-freshness": ("stale-pipeline", lambda: resolve(example("freshness"))),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_simulator_agrees_with_promtool(tmp_path: Path, case: str) -> None:
    name, build = CASES[case]
    slo = build()
    scenario = parse_scenario(yaml.safe_load((SCENARIOS / f"{name}.yaml").read_text()))
    series = promtool_series(raw_series(slo, scenario), scenario.scrape_interval, scenario.duration)
    last = int(scenario.duration // 30 * 30)
    test = {
        "interval": f"{int(scenario.scrape_interval)}s",
        "input_series": series,
        # The run's length: one check at the end (what fires then is also asserted by the harness).
        "promql_expr_test": [{"expr": "vector(1)", "eval_time": f"{last}s", "exp_samples": [{"labels": "{}",
                                                                                              "value": 1}]}],
    }
    assert_passes(run_promtool_test(tmp_path, [slo], [test]))
