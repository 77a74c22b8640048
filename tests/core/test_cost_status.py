"""status.cost of cost SLOs: read in one query for all of them together, rounded for people."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
from slo_operator.loader import parse_object
from slo_operator.model import SLO, resolve
from slo_operator.prometheus import PrometheusClient, fetch_measurements, fetch_window_measurements
from slo_operator.spend import COST_FORECAST, COST_PER_UNIT, COST_SPENT
from slo_operator.status import refreshed_status
from support.prometheus_api import request_params

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def slo(name: str, indicator: dict[str, Any], **spec: Any) -> SLO:
    obj, problems = parse_object({
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": name, "namespace": "ml"},
        "spec": {"service": "model", "objective": 99, "indicator": indicator, **spec},
    }, "test")
    assert obj is not None, problems
    return resolve(obj)


COST = {"cost": {
    "dollars": "model_serving_cost_dollars_total",
    "units": "model_predictions_total",
    "maxCostPerUnit": "0.0004",
    "budget": {"amount": "2000", "currency": "USD"},
}}
AVAILABILITY = {"availability": {"errors": 'req_total{code="500"}', "total": "req_total"}}


def prometheus(answers: dict[str, list[dict[str, Any]]], seen: list[str]) -> PrometheusClient:
    """A stand-in for Prometheus' HTTP API answering by what the query starts with."""

    def handle(request: httpx.Request) -> httpx.Response:
        query = request_params(request)["query"]
        seen.append(query)
        result = next((v for k, v in answers.items() if query.startswith(k)), [])
        body = {"status": "success", "data": {"resultType": "vector", "result": result}}
        return httpx.Response(200, content=json.dumps(body))

    return PrometheusClient("http://prometheus.invalid", transport=httpx.MockTransport(handle))


def sample(name: str, slo_name: str, value: float) -> dict[str, Any]:
    labels = {"__name__": name, "slo": slo_name, "namespace": "ml", "service": "model"}
    return {"metric": labels, "value": [NOW.timestamp(), repr(value)]}


def test_cost_figures_come_in_one_query_for_every_cost_slo() -> None:
    slos = [slo(f"cost-{i}", COST) for i in range(3)] + [slo("api", AVAILABILITY)]
    answers = {"{__name__=~": [
        s for i in range(3) for s in (
            sample(COST_SPENT, f"cost-{i}", 1234.5678 + i),
            sample(COST_FORECAST, f"cost-{i}", 2345.6789),
            sample(COST_PER_UNIT, f"cost-{i}", 0.000345678),
        )
    ]}
    seen: list[str] = []
    client = prometheus(answers, seen)
    measurements = fetch_measurements(client)
    plain = client.queries_made
    figures = fetch_window_measurements(client, slos, measurements, NOW.timestamp())
    assert client.queries_made == plain + 2  # the young SLOs' raw history, and the spend of all
    statuses = {
        s.name: refreshed_status(s, {}, figures[(s.namespace, s.name)][0], True, "", NOW) for s in slos
    }
    assert statuses["cost-1"]["cost"] == {
        "spent": 1235.57, "budget": 2000.0, "currency": "USD", "forecastEndOfPeriod": 2345.68,
        "perUnit": 0.0003457,
    }
    assert statuses["api"]["cost"] is None
    # Without cost SLOs, no query for them.
    client = prometheus(answers, [])
    fetch_window_measurements(client, [slos[-1]], fetch_measurements(client), NOW.timestamp())
    assert client.queries_made == plain + 1


def test_an_idle_slice_has_no_cost_per_unit_and_the_spend_stays() -> None:
    cost = slo("cost", COST)
    client = prometheus({"{__name__=~": [sample(COST_SPENT, "cost", 12.0)]}, [])
    figures = fetch_window_measurements(client, [cost], fetch_measurements(client), NOW.timestamp())
    status = refreshed_status(cost, {}, figures[("ml", "cost")][0], True, "", NOW)
    assert status["cost"]["perUnit"] is None and status["cost"]["spent"] == 12.0
