"""Coverage of young SLOs: which source the window figures come from and what the status says (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import promql_parser
import pytest
from slo_operator.api import ServiceLevelObjective
from slo_operator.coverage import (
    RAW,
    RECORDED,
    Coverage,
    RawFigures,
    decide,
    indicator_hash,
    parse_raw,
    raw_query,
    raw_step,
    remaining,
    window_status,
)
from slo_operator.model import SLO, resolve
from slo_operator.prometheus import PrometheusClient, fetch_measurements, fetch_window_measurements
from slo_operator.promql import RECORDING_SINCE
from slo_operator.rules import slo_groups
from slo_operator.status import Measurement, measured_status, refreshed_status, window_measurement
from support.prometheus_api import request_params

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC).timestamp()
DAY = 86400


def slo(name: str = "api", objective: float = 99.9, window: str = "30d", errors: str = 'x{code="5xx"}',
        **spec: Any) -> SLO:
    return resolve(ServiceLevelObjective.model_validate({
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": name, "namespace": "prod"},
        "spec": {"service": "api", "objective": objective, "window": window,
                 "indicator": {"availability": {"errors": errors, "total": "x"}}, **spec},
    }))


def test_indicator_hash_keeps_objective_and_alert_edits_and_changes_with_selectors() -> None:
    base = indicator_hash(slo())
    assert indicator_hash(slo(objective=99.5)) == base
    assert indicator_hash(slo(window="28d")) == base
    alerts = {"alerting": {"burnRates": [
        {"name": "Fast", "severity": "critical", "budgetPercent": 5, "longWindow": "2h",
         "shortWindow": "10m"}]}}
    assert indicator_hash(slo(**alerts)) == base
    assert indicator_hash(slo(errors='x{code=~"5.."}')) != base
    assert len(base) == 10


def test_rules_record_when_recording_began_carrying_their_own_value() -> None:
    target = slo()
    slow = {g["name"].rsplit(":", 1)[-1]: g for g in slo_groups(target)}["slow"]["rules"]
    rule = slow[0]
    assert rule["record"] == RECORDING_SINCE
    assert rule["labels"] == {"slo": "api", "namespace": "prod", "service": "api",
                              "indicator": indicator_hash(target)}
    assert f'indicator="{indicator_hash(target)}"' in rule["expr"]
    assert "or on () vector(time())" in rule["expr"]
    promql_parser.parse(rule["expr"])


def test_no_data_alert_reads_only_the_base_series() -> None:
    """A young SLO has its base series at once: the no-data alert never waits for a long window."""
    target = slo(alerting={"noData": {"for": "15m"}})
    (alert,) = [r for g in slo_groups(target) for r in g["rules"] if r.get("alert") == "SLONoData"]
    assert alert["expr"] == 'absent(slo:total_events:rate{slo="api",namespace="prod"})'


def test_covered_slos_read_recorded_figures_young_ones_raw_history() -> None:
    target = slo()
    full = RawFigures(error_ratio=0.0005, start=NOW - 40 * DAY)
    assert decide(target, NOW - 31 * DAY, full, NOW) == Coverage(30 * DAY, RECORDED, 30 * DAY, NOW - 31 * DAY)
    young = decide(target, NOW - 2 * DAY, full, NOW)
    assert (young.source, young.complete) == (RAW, True)
    # raw history shorter than the window: the figures span what exists (rounded up by one grid step)
    short = decide(target, NOW - DAY, RawFigures(0.0005, NOW - 10 * DAY), NOW)
    assert short.source == RAW and short.covered == 10 * DAY + raw_step(target.window)
    assert not short.complete
    # nothing raw: the recorded span, however short
    assert decide(target, NOW - 60, None, NOW) == Coverage(30 * DAY, RECORDED, 60, NOW - 60)
    # raw data younger than one grid step and nothing recorded yet: one step, an upper bound
    first = decide(target, None, RawFigures(0.1, None), NOW)
    assert first.covered == raw_step(target.window) == 3600


def test_budget_counts_bad_events_against_the_whole_windows_budget() -> None:
    assert remaining(0.0005, 0.001, 1.0) == pytest.approx(0.5)
    # `make demo`'s young SLO: 10.8% errors over about a minute of a 30d window
    demo = remaining(0.10783, 0.001, 60 / (30 * DAY))
    assert demo == pytest.approx(1 - 107.83 / 43200)
    assert demo > 0.99
    # Spent in absolute terms: 100% errors for a whole day of a 30d, 99.9% SLO is 30x the budget
    assert remaining(1.0, 0.001, 1 / 30) < 0


def test_the_demo_symptom_is_warming_not_violating() -> None:
    """About a minute of data with an outage: SLI shown as measured, budget not −10,683%, Warming."""
    target = slo()
    recorded = Measurement(sli=1 - 0.10683, remaining=1 - 106.83, burn_rates={"1h": 106.83, "5m": 106.83},
                           recording_since={indicator_hash(target): NOW - 60})
    measurement, coverage = window_measurement(target, recorded, RawFigures(0.10683, None), NOW)
    measured = measured_status(target, measurement, coverage)
    assert measured.fields["sli"] == pytest.approx(89.317)
    assert measured.fields["errorBudget"]["remaining"] == pytest.approx(99.75, abs=0.01)
    assert measured.fields["state"] == "AtRisk"  # the fast-burn alert fires: that is real
    calm = Measurement(sli=1 - 0.10683, remaining=1 - 106.83, burn_rates={"1h": 2.0, "5m": 2.0},
                       recording_since={indicator_hash(target): NOW - 60})
    measurement, coverage = window_measurement(target, calm, RawFigures(0.10683, None), NOW)
    fields = measured_status(target, measurement, coverage).fields
    assert fields["state"] == "Warming"
    assert fields["window"] == {"covered": 0.0, "since": "2026-12-01T11:59:00Z", "source": RAW}


def test_partial_window_is_violating_only_when_the_whole_budget_is_spent() -> None:
    target = slo()
    since = NOW - 2 * DAY
    m = Measurement(sli=0.9, remaining=-99, burn_rates={"1h": 0.5, "5m": 0.5},
                    recording_since={indicator_hash(target): since})
    measurement, coverage = window_measurement(target, m, None, NOW)
    assert coverage.source == RECORDED and not coverage.complete
    assert measurement is not None and measurement.remaining == pytest.approx(1 - 100 * 2 / 30)
    assert measured_status(target, measurement, coverage).fields["state"] == "Violating"


def test_covered_recorded_figures_are_used_as_they_are() -> None:
    target = slo()
    m = Measurement(sli=0.9996, remaining=0.6, time_to_exhaustion=1e6, burn_rates={"1h": 0.4},
                    recording_since={indicator_hash(target): NOW - 31 * DAY})
    measurement, coverage = window_measurement(target, m, None, NOW)
    assert measurement is m and coverage.complete and coverage.source == RECORDED
    fields = measured_status(target, measurement, coverage).fields
    assert fields["state"] == "Meeting" and fields["window"]["covered"] == 100.0


def test_a_changed_indicator_restarts_coverage() -> None:
    target = slo(errors='x{code=~"5.."}')
    old = Measurement(sli=0.999, remaining=0.0, recording_since={indicator_hash(slo()): NOW - 60 * DAY})
    _, coverage = window_measurement(target, old, None, NOW)
    assert coverage.since is None and coverage.covered == 0


def test_window_status_hysteresis() -> None:
    cov = Coverage(30 * DAY, RAW, 3 * DAY, NOW - 3 * DAY)
    first = window_status(cov)
    assert first == {"covered": 10.0, "since": "2026-11-28T12:00:00Z", "source": RAW}
    later = window_status(Coverage(30 * DAY, RAW, 3.2 * DAY, NOW - 3 * DAY + 30), first)
    assert later == first  # 0.67 points and 30 s of jitter: nothing to write
    moved = window_status(Coverage(30 * DAY, RAW, 3.4 * DAY, NOW - 3 * DAY), first)
    assert moved["covered"] == 11.3
    switched = window_status(Coverage(30 * DAY, RECORDED, 30 * DAY, NOW - 30 * DAY), moved)
    assert switched["covered"] == 100.0 and switched["source"] == RECORDED


def test_window_covered_condition_and_status_field() -> None:
    target = slo()
    coverage = Coverage(30 * DAY, RAW, 30 * DAY, NOW - DAY)
    m = Measurement(sli=0.9995, remaining=0.5, burn_rates={"1h": 0.5})
    status = refreshed_status(target, {}, m, True, "", datetime.fromtimestamp(NOW, UTC), coverage)
    (condition,) = [c for c in status["conditions"] if c["type"] == "WindowCovered"]
    assert (condition["status"], condition["reason"]) == ("True", "RawHistory")
    assert "2026-11-30T12:00:00Z" in condition["message"]
    partial = Coverage(30 * DAY, RECORDED, DAY, NOW - DAY)
    status = refreshed_status(target, {}, m, True, "", datetime.fromtimestamp(NOW, UTC), partial)
    (condition,) = [c for c in status["conditions"] if c["type"] == "WindowCovered"]
    assert (condition["status"], condition["reason"]) == ("False", "PartialHistory")
    assert status["state"] == "Warming"


def test_raw_query_is_one_query_for_all_young_slos() -> None:
    slos = [slo(f"api-{i}") for i in range(3)] + [
        slo("slices", budgetingMethod="Timeslices", timeslices={"sliceSize": "1m", "goal": 99}),
    ]
    assert raw_query([]).text is None
    query = raw_query(slos)
    assert query.text is not None
    promql_parser.parse(query.text)
    # The three api SLOs read the same series over the same window: their figures are asked once.
    assert query.tags == {"prod/api-0": "0", "prod/api-1": "0", "prod/api-2": "0", "prod/slices": "1"}
    assert len(query.parts) == 4 and query.text.count("rate(x[30d1ms])") == 2  # ratio and start, once
    assert "rate(x[30d1ms])" in query.text  # raw rates reach 1 ms past the window (promql.counter_range)
    assert "[30d:1m]" in query.text  # time slices re-evaluated at their slice size
    results = [({"slo_key": "0", "slo_figure": "ratio"}, 0.01),
               ({"slo_key": "0", "slo_figure": "start"}, NOW - DAY),
               ({"slo_key": "1", "slo_figure": "ratio"}, 0.0)]
    shared = RawFigures(0.01, NOW - DAY)
    assert parse_raw(results, query) == {"prod/api-0": shared, "prod/api-1": shared, "prod/api-2": shared,
                                         "prod/slices": RawFigures(0.0, None)}
    # Another indicator or another window is another part.
    other = raw_query([slo("api-0"), slo("api-1", window="7d")])
    assert other.tags == {"prod/api-0": "0", "prod/api-1": "1"} and len(other.parts) == 4


def _prometheus(answers: dict[str, list[dict[str, Any]]], seen: list[str]) -> PrometheusClient:
    """Prometheus' HTTP API answering by the query's first series name (a stand-in for the server only)."""

    def handle(request: httpx.Request) -> httpx.Response:
        query = request_params(request)["query"]
        seen.append(query)
        name = next((n for n in answers if query.startswith(n)), "")
        body = {"status": "success", "data": {"resultType": "vector", "result": answers.get(name, [])}}
        return httpx.Response(200, content=json.dumps(body))

    return PrometheusClient("http://prometheus.invalid", transport=httpx.MockTransport(handle))


@pytest.mark.parametrize("count", [1, 25])
def test_queries_per_refresh_do_not_grow_with_the_number_of_slos(count: int) -> None:
    slos = [slo(f"api-{i}") for i in range(count)]
    old = [{"metric": {"slo": s.name, "namespace": "prod", "indicator": indicator_hash(s)},
            "value": [NOW, str(NOW - 40 * DAY)]} for s in slos]
    for since, extra in ((old, 0), ([], 1)):  # all covered: no raw query; all young: exactly one
        seen: list[str] = []
        client = _prometheus({RECORDING_SINCE: since}, seen)
        measurements = fetch_measurements(client)
        figures = fetch_window_measurements(client, slos, measurements, NOW)
        assert len(figures) == count
        assert client.queries_made == 6 + extra, seen
