"""The simulator's engine and commands, in process: PromQL semantics that move alert times, the
scenario files, the detection table against the Workbook's closed form, policies and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from slo_operator.api import ServiceLevelObjective
from slo_operator.cli import app
from slo_operator.evaluator import INPUT, Semantics, Series, Store, labels_of, parse_series_values, run_groups
from slo_operator.model import SLO, resolve
from slo_operator.promtool_compat import check_promtool_case
from slo_operator.render import rule_file
from slo_operator.replay import with_stale_markers
from slo_operator.rules import FAST_GROUP_MAX_WINDOW
from slo_operator.scenario import parse_scenario, profile
from slo_operator.simulate import (
    Timing,
    closed_form,
    detection_table,
    score,
    significant_burns,
    simulate_scenario,
    summary,
    with_policy,
)
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "manifests" / "examples"
SCENARIOS = REPO / "manifests" / "scenarios"
PROMTOOL = Timing(promtool=True)


def example(name: str) -> SLO:
    document = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    return resolve(ServiceLevelObjective.model_validate(document))


def scenario(name: str, **override: Any) -> Any:
    document = yaml.safe_load((SCENARIOS / f"{name}.yaml").read_text())
    document.update(override)
    return parse_scenario(document)


def _store(**series: tuple[list[float], list[float]]) -> Store:
    store = Store()
    for name, (times, values) in series.items():
        data = Series(np.asarray(times, float), np.asarray(values, float), INPUT)
        store.add(labels_of({"__name__": name}), data)
    return store


def _semantics(generation: int) -> Semantics:
    return Semantics(generation, 42 if generation == 2 else 16)


def _one(groups: list[dict[str, Any]], store: Store, end: float, generation: int, record: str) -> np.ndarray:
    result = run_groups(groups, store, end=end, step=30, semantics=_semantics(generation))
    [(_, series)] = result.recorded(record)
    return series.values


def test_range_selectors_are_left_open_on_prometheus_3() -> None:
    """A 1h range over a series recorded every 30s: 121 samples on 2.x, 120 on 3.x (left-open)."""
    store = _store(x=(list(np.arange(0, 7201, 30.0)), [1.0] * 241))
    groups = [{"name": "g", "interval": "30s", "rules": [{"record": "n", "expr": "count_over_time(x[1h])"}]}]
    assert _one(groups, store, 7200, 2, "n")[-1] == 121
    assert _one(groups, store, 7200, 3, "n")[-1] == 120


def test_rate_extrapolates_like_prometheus() -> None:
    """Samples every 15s growing 1/s, first sample at 7.5s: a 1m rate is exactly 1 (extrapolated to the
    window edges, which are within 1.1 sample intervals)."""
    times = list(np.arange(7.5, 600, 15.0))
    store = _store(c=(times, [t for t in times]))
    groups = [{"name": "g", "interval": "30s", "rules": [{"record": "r", "expr": "rate(c[1m])"}]}]
    values = _one(groups, store, 600, 2, "r")
    assert np.allclose(values[~np.isnan(values)][2:], 1.0)
    # A counter reset counts the value before the reset as an increase.
    reset = _store(c=([0, 15, 30, 45], [10, 20, 5, 15]))
    groups = [{"name": "g", "interval": "30s", "rules": [{"record": "i", "expr": "increase(c[45s])"}]}]
    result = run_groups(groups, reset, end=60, step=15, semantics=Semantics(2, 42))
    [(_, series)] = result.recorded("i")
    # [0, 45]: 20-10 + 15-5 + 10... Prometheus: last - first + value before reset = 15 - 10 + 20 = 25.
    assert series.values[3] == pytest.approx(25.0)


@pytest.mark.parametrize("generation", [2, 3])
def test_stale_marker_hides_a_series_at_once_a_gap_only_after_the_lookback(generation: int) -> None:
    times, values, stale = parse_series_values("1 1 stale 1 _ _ _ _ _ _ _ _ _ _ _ 1", 60)
    assert stale.tolist() == [False, False, True, False, False] and math.isnan(values[2])
    store = _store(x=(list(times), list(values)))
    groups = [{"name": "g", "interval": "1m", "rules": [{"record": "y", "expr": "x"}]}]
    result = run_groups(groups, store, end=900, step=60, semantics=Semantics(generation, 0))
    [(_, series)] = result.recorded("y")
    present = ~np.isnan(series.values)
    assert present.tolist()[:4] == [True, True, False, True]  # stale marker at 2m: gone at once
    # Gap from 4m: the 3m sample is looked back to for 5m, the edge included on 2.x only.
    last = 8 if generation == 2 else 7
    assert present[4 : last + 1].all() and not present[last + 1 : 15].any()
    assert present[15]


@pytest.mark.parametrize("generation", [2, 3])
def test_every_alert_rule_of_the_examples_evaluates(generation: int) -> None:
    for name in ("availability", "latency", "accuracy", "freshness"):
        slo = example(name)
        outcome = simulate_scenario(slo, scenario("outage"), Timing(semantics=_semantics(generation)))
        assert outcome.result.recorded("slo:current_burn_rate:ratio"), name


def test_outage_pages_within_the_workbook_time_and_resets_after_the_short_window() -> None:
    slo = example("availability")
    sc = scenario("outage")
    outcome = simulate_scenario(slo, sc, PROMTOOL)
    result = summary(outcome, sc.incident)
    fast = slo.alerts[0]
    assert result["firstPage"]["alert"] == "SLOFastBurn"
    bound = closed_form(slo, fast, 1.0, 30) + sc.scrape_interval + 2 * 30
    assert 0 < result["detectionSeconds"] <= bound
    fast_span = next(a for a in result["alerts"] if a["alert"] == "SLOFastBurn")
    assert sc.incident is not None
    assert 0 < fast_span["resolvedAt"] - sc.incident[1] <= fast.short_window + 2 * 30
    # 10 minutes at 100% errors on 10 req/s: 6000 bad requests of a 30d budget of 25920.
    spent = 100 * (6000 + 0.0002 * 10 * 5 * 3600) / 25920
    assert result["budgetSpentPercent"] == pytest.approx(spent, rel=0.01)


def test_zero_traffic_is_no_data_and_never_pages() -> None:
    slo = example("availability")
    sc = scenario("zero-traffic", events=[{"at": "1h", "for": "3h", "traffic": 0}])
    outcome = simulate_scenario(slo, sc, PROMTOOL)
    assert [s.alert for s in outcome.spans] == []
    ts, values = outcome.series("slo:error_ratio", window="5m")
    quiet = (ts > 3600 + 600) & (ts <= 4 * 3600)
    assert np.isnan(values[quiet]).all()


def test_failed_scrapes_drop_the_burn_rates_and_the_alerts_with_them() -> None:
    slo = example("availability")
    sc = scenario("missing-scrapes")
    outcome = simulate_scenario(slo, sc, PROMTOOL)
    ts, values = outcome.series("slo:bad_events:rate")
    # Scrapes fail from 1h10m to 1h22m: ranges drop stale markers, so the 5m rate lives on until the
    # last good samples leave its window, then the series is gone until scrapes succeed again.
    assert not np.isnan(values[(ts > 4200) & (ts < 4200 + 240)]).any()
    assert np.isnan(values[(ts >= 4200 + 300) & (ts < 4920)]).all()
    fast = [s for s in outcome.spans if s.alert == "SLOFastBurn"]
    assert fast and fast[0].resolved is not None and fast[0].resolved <= 4920


def test_delayed_feedback_pages_only_once_the_labels_arrive() -> None:
    slo = example("accuracy")
    sc = scenario("feedback-delay")
    outcome = simulate_scenario(slo, sc, PROMTOOL)
    first = outcome.spans[0]
    assert first.fired > 3600 + sc.feedback_delay


def test_latency_shift_and_stale_pipeline_alert() -> None:
    assert simulate_scenario(example("latency"), scenario("latency-shift"), PROMTOOL).spans
    stale = simulate_scenario(example("freshness"), scenario("stale-pipeline"), PROMTOOL)
    assert stale.spans and stale.spans[0].fired > 2 * 3600 + 3600  # maxAge 1h after the pipeline stopped


def test_seasonality_shapes_traffic() -> None:
    p = profile(scenario("seasonality"))
    noon, midnight = np.argmin(np.abs(p.times - 12 * 3600)), np.argmin(np.abs(p.times - 24 * 3600))
    assert p.rate[noon] > 1.5 * p.rate[midnight]


def _allowed_lag(slo: SLO, alert_name: str, step: float, scrape: float) -> float:
    """How late the generated rules may be against the closed form: one evaluation to reach the grid,
    one more while the 5m base rate ramps up after a step change, one scrape to see the change, and
    for windows over 6h (no edge correction, slow group) half the base window plus the slow interval."""
    alert = next(a for a in slo.alerts if a.name == alert_name)
    lag = 2 * step + scrape
    if alert.long_window > FAST_GROUP_MAX_WINDOW:
        lag += slo.base_window / 2 + 120
    return lag


def test_detection_table_matches_the_closed_form_for_the_default_alerts() -> None:
    slo = example("availability")
    rows = detection_table(slo)
    assert [r["errorRate"] for r in rows] == [1.0, 0.5, 0.1, 0.05, 0.01, 0.005]
    for row in rows:
        assert row["alert"] is not None
        closed = row["closedFormSeconds"]
        assert closed >= 30
        assert closed - 30 <= row["detectionSeconds"] <= closed + _allowed_lag(slo, row["alert"], 30, 15), row
        expected_spent = 100 * row["errorRate"] * row["detectionSeconds"] / (0.001 * 30 * 86400)
        assert row["budgetSpentPercent"] == pytest.approx(expected_spent, rel=1e-3)
    assert [r["alert"] for r in rows] == ["SLOFastBurn"] * 4 + ["SLOSlowBurn"] * 2


def test_table_json_contract() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["simulate", "-f", str(EXAMPLES / "availability.yaml"), "--table",
                                 "--output", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert isinstance(rows, list) and len(rows) == 6
    for row in rows:
        assert 0 < row["errorRate"] <= 1
        assert row["alert"] is None or isinstance(row["alert"], str)
        assert isinstance(row["detectionSeconds"], float | int)
        assert isinstance(row["budgetSpentPercent"], float | int)


def test_table_row_without_an_alert_is_null() -> None:
    slo = example("availability")
    [row] = detection_table(slo, error_rates=(0.0005,))
    assert row["alert"] is None and row["detectionSeconds"] is None and row["closedFormSeconds"] is None


def test_scenario_command_writes_json_and_a_plot(tmp_path: Path) -> None:
    png = tmp_path / "outage.png"
    result = CliRunner().invoke(app, [
        "simulate", "-f", str(EXAMPLES / "availability.yaml"), "--scenario", str(SCENARIOS / "outage.yaml"),
        "--output", "json", "--plot", str(png),
    ])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["firstPage"]["alert"] == "SLOFastBurn" and body["detectionSeconds"] > 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_scenario_is_refused_with_the_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("events:\n  - {at: 1h, for: 5m, errrorRatio: 1}\n")
    result = CliRunner().invoke(app, ["simulate", "-f", str(EXAMPLES / "availability.yaml"), "--scenario",
                                      str(bad)])
    assert result.exit_code != 0 and "known keys" in result.output


def test_policies_side_by_side_precision_and_recall() -> None:
    """A month-like run with one real incident and one short blip under the significance bar: the
    default alerts page for the incident only; a twitchy policy pages for the blip too."""
    slo = example("availability")
    sc = parse_scenario({"duration": "30h", "scrapeInterval": "30s", "traffic": {"rate": 10},
                         "events": [{"at": "4h", "for": "40m", "errorRatio": 0.05},
                                    {"at": "20h", "for": "3m", "errorRatio": 0.1}]})
    written = simulate_scenario(slo, sc)
    burns = significant_burns(written, threshold_percent=2.0)
    assert len(burns) == 1 and burns[0].start == pytest.approx(4 * 3600, abs=600)
    base = score(written, burns)
    assert base["recall"] == 1.0 and base["precision"] == 1.0
    twitchy = with_policy(slo, [{"name": "Twitchy", "severity": "critical", "budgetPercent": 0.2,
                                 "longWindow": "10m", "shortWindow": "5m"}])
    other = score(simulate_scenario(twitchy, sc), burns)
    assert other["recall"] == 1.0 and other["precision"] is not None and other["precision"] < 1.0


def test_inferred_stale_markers_for_replayed_holes() -> None:
    times = np.asarray([0, 15, 30, 45, 200, 215], float)
    marked_t, marked_v = with_stale_markers(times, np.ones(6))
    assert marked_t.tolist() == [0, 15, 30, 45, 60, 200, 215] and math.isnan(marked_v[4])


def test_simulator_meets_a_promtool_scenario_and_fails_a_wrong_one() -> None:
    slo = example("availability")
    groups = rule_file([slo])["groups"]
    ok = 'bentoml_service_request_total{endpoint="/predict",http_response_code="200"}'
    err = 'bentoml_service_request_total{endpoint="/predict",http_response_code="503"}'
    labels = {"slo": slo.name, "namespace": slo.namespace, "service": slo.service, "severity": "critical",
              "team": "ml-platform", "window": "1h"}
    test = {
        "interval": "15s",
        "input_series": [{"series": ok, "values": "0+150x480 72000x240"},
                         {"series": err, "values": "0x480 0+150x240"}],
        "alert_rule_test": [{"eval_time": "2h5m", "alertname": "SLOFastBurn",
                             "exp_alerts": [{"exp_labels": labels}]}],
    }
    assert check_promtool_case(groups, test, 30.0) == []
    test["alert_rule_test"][0]["eval_time"] = "1h50m"
    assert check_promtool_case(groups, test, 30.0) != []
