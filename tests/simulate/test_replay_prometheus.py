"""Replay against a real Prometheus: the simulated alerts match the ALERTS series Prometheus recorded.

A real Prometheus on loopback scrapes an exporter whose error ratio the test sets (healthy, a total
outage, recovery) and evaluates the SLO's generated rules itself. The simulator then reads the raw
series back from that Prometheus (``replay.fetch``, as ``simulate --replay`` does), evaluates the same
rules on each group's own schedule (slotted like Prometheus', the offsets read from the recorded
series) and must find the alert firing and resolving at the instants the ALERTS series holds, within
one evaluation of the fast group.

Short windows keep the real-time run to a few minutes: a 1d SLO paging at 2% of its budget in 2m
(threshold 14.4, base window 1m), rules every 5s, scrapes every 1s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slo_operator.api import ServiceLevelObjective
from slo_operator.evaluator import Semantics
from slo_operator.model import SLO, resolve
from slo_operator.prometheus import PrometheusClient
from slo_operator.render import RenderOptions, rule_file
from slo_operator.replay import fetch
from slo_operator.rules import RuleOptions
from slo_operator.simulate import Timing, evaluate
from support.processes import Prometheus, SteadyTraffic

from devstack import promstack
from devstack.cluster import wait_for

STEP = 5.0
OPTIONS = RuleOptions(fast_interval="5s", slow_interval="10s")


def _slo() -> SLO:
    return resolve(ServiceLevelObjective.model_validate({
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": "replayed", "namespace": "sim"},
        "spec": {
            "service": "iris",
            "objective": 99,
            "window": "1d",
            "indicator": {"availability": {
                "errors": 'bentoml_service_request_total{endpoint="/predict",http_response_code="503"}',
                "total": 'bentoml_service_request_total{endpoint="/predict"}',
            }},
            "alerting": {"burnRates": [{"name": "Page", "severity": "critical", "budgetPercent": 2,
                                        "longWindow": "2m", "shortWindow": "1m"}]},
        },
    }))


@pytest.fixture(scope="module")
def traffic() -> Iterator[SteadyTraffic]:
    exporter = SteadyTraffic(error_ratio=0.0)
    yield exporter
    exporter.stop()


@pytest.fixture(scope="module")
def prometheus(traffic: SteadyTraffic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    server = Prometheus(tmp_path_factory.mktemp("prometheus"), [traffic.target], scrape_interval="1s")
    server.write_rules("slo", rule_file([_slo()], RenderOptions(rules=OPTIONS))["groups"])
    server.start()
    yield server
    server.stop()


def _raw(client: PrometheusClient, selector: str, end: float) -> list[tuple[dict[str, str], list[float]]]:
    return [(labels, [t for t, _ in points]) for labels, points in client.raw_samples(selector, end, "30m")]


def _recorded_spans(times: list[float]) -> list[tuple[float, float | None]]:
    """Firing spans from the timestamps of ALERTS{alertstate="firing"} samples (one per evaluation)."""
    spans: list[tuple[float, float | None]] = []
    for t in sorted(times):
        if spans and t - (spans[-1][1] or 0) <= STEP * 1.5:
            spans[-1] = (spans[-1][0], t)
        else:
            spans.append((t, t))
    # Resolved at the first evaluation without the alert: one step after the last firing sample.
    return [(a, (b or a) + STEP) for a, b in spans]


def test_simulated_alerts_match_the_alerts_prometheus_recorded(
    traffic: SteadyTraffic, prometheus: Prometheus
) -> None:
    slo = _slo()
    client = PrometheusClient(prometheus.url, timeout=30)
    groups = rule_file([slo], RenderOptions(rules=OPTIONS))["groups"]
    # Healthy until the burn rates exist (the base window is 1m), then a total outage, then recovery.
    wait_for(lambda: client.query('slo:error_ratio{window="2m"}'), 180, 1, "healthy burn rates recorded")
    traffic.error_ratio = 1.0
    wait_for(lambda: client.query('ALERTS{alertname="Page",alertstate="firing"}'), 180, 1, "the page fired")
    firing = 'ALERTS{alertname="Page",alertstate="firing"}'
    wait_for(lambda: len(_raw(client, firing, time.time())[0][1]) >= 6, 120, 1, "six firing evaluations")
    traffic.error_ratio = 0.0
    wait_for(lambda: not client.query('ALERTS{alertname="Page"}'), 300, 1, "the page resolved")
    # One more short-window of healthy traffic so the replay range ends after the resolution.
    end = time.time() + 5
    wait_for(lambda: time.time() > end, 30, 0.5, "the range end")

    [(_, fast_times)] = _raw(client, 'slo:bad_events:rate{slo="replayed"}', end)
    start = fast_times[0] - 1e-3
    # Each group's slot, from the first sample of a series it records (its evaluations are an interval
    # apart): the SLO's own fast, alerts and slow groups, and the namespace's shared ones.
    firsts = {
        "sim:replayed:fast": fast_times[0],
        "sim:replayed:alerts": 'ALERTS{alertname="Page"}',
        "sim:replayed:slow": 'slo:recording_since:timestamp{slo="replayed"}',
        "sim:*:fast": 'slo:error_ratio{slo="replayed",window="2m"}',
        "sim:*:slow": 'slo:sli:ratio{slo="replayed"}',
    }
    offsets = {}
    for group in groups:
        found = firsts.get(group["name"].removeprefix("slo:"))
        if isinstance(found, str):
            series = _raw(client, found, end)
            found = min(series[0][1]) if series else None
        if found is not None:
            interval = float(group["interval"].removesuffix("s"))
            offsets[group["name"]] = (found - start) % interval
    [(_, alert_times)] = _raw(client, 'ALERTS{alertname="Page",alertstate="firing"}', end)
    recorded = _recorded_spans(alert_times)

    inputs = fetch(client, slo, start, end, progress=lambda text: None)
    version = promstack.version(promstack.binary("prometheus"))
    timing = Timing(step=STEP, semantics=Semantics.for_version(version), options=OPTIONS)
    outcome = evaluate(slo, inputs, end, timing, start=start, offsets=offsets)
    simulated = [(s.fired, s.resolved) for s in outcome.spans if s.alert == "Page"]

    assert len(simulated) == len(recorded) == 1, (simulated, recorded)
    (sim_fired, sim_resolved), (prom_fired, prom_resolved) = simulated[0], recorded[0]
    assert abs(sim_fired - prom_fired) <= STEP, (simulated, recorded)
    assert sim_resolved is not None and prom_resolved is not None
    assert abs(sim_resolved - prom_resolved) <= STEP, (simulated, recorded)
    _report(simulated, recorded)


def _report(simulated: Any, recorded: Any) -> None:
    print(f"simulated {simulated}\nrecorded  {recorded}")


def test_replay_command_reads_history_and_compares_policies(prometheus: Prometheus, tmp_path: Path) -> None:
    """The command end to end on the same Prometheus: the SLO as written and a second policy."""
    import json

    from slo_operator.cli import app
    from typer.testing import CliRunner

    slo_file = tmp_path / "slo.yaml"
    import yaml

    document = {
        "apiVersion": "slo.mlops.dev/v1alpha1", "kind": "ServiceLevelObjective",
        "metadata": {"name": "replayed", "namespace": "sim"},
        "spec": {"service": "iris", "objective": 99, "window": "1d",
                 "indicator": {"availability": {
                     "errors": 'bentoml_service_request_total{endpoint="/predict",http_response_code="503"}',
                     "total": 'bentoml_service_request_total{endpoint="/predict"}'}},
                 "alerting": {"burnRates": [{"name": "Page", "severity": "critical", "budgetPercent": 2,
                                             "longWindow": "2m", "shortWindow": "1m"}]}},
    }
    slo_file.write_text(yaml.safe_dump(document))
    policy = tmp_path / "slow.yaml"
    ticket = {"name": "Ticket", "severity": "warning", "budgetPercent": 10, "longWindow": "1h",
              "shortWindow": "5m"}
    policy.write_text(yaml.safe_dump({"name": "ticket-only", "burnRates": [ticket]}))
    result = CliRunner().invoke(app, [
        "simulate", "-f", str(slo_file), "--replay", "--prometheus", prometheus.url, "--range", "15m",
        "--policy", str(policy), "--output", "json", "--step", "5s",
    ])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert [p["policy"] for p in body["policies"]] == ["as written", "ticket-only"]
    assert "precision" in body["definitions"] and "recall" in body["definitions"]
    # The outage of the test above spent over 2% of the day's budget: one significant burn, paged by
    # the SLO as written (its windows hold only the minutes since Prometheus started: young history).
    assert len(body["significantBurns"]) == 1
    written = body["policies"][0]
    assert written["pages"] == 1 and written["recall"] == 1.0 and written["precision"] == 1.0
