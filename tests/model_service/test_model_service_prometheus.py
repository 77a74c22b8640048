"""A real Prometheus (1 s scrapes, loopback) against a fresh service: SLITracker's queries vs what was sent.

Exactness argument: every /predict series that counts (200/500 counters and histograms, the tracker's
series) exists before the measured window opens (a warm-up creates them). The window starts exactly on
a quiet scrape (warm-up done, traffic not yet started) and ends exactly on a scrape that saw all the
traffic, so rate() does not extrapolate (Prometheus 2.x range selectors include both ends) and the
ratio of rates is the ratio of the counts sent. Tolerances: ratios 0.01 percentage points (float rounding);
latency percentiles are histogram_quantile interpolations, so they are checked against the bucket
that must contain them; the freshness age is within 3 s (scrape interval + query latency).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.incident import INCIDENT_FAULTS, incident_load

from model_service.devserver import (
    MetricsSnapshot,
    PrometheusProcess,
    ServiceProcess,
    wait_until,
)
from model_service.sli import SLIQueries, SLITracker
from model_service.traffic import LoadGenerator, post_json

pytestmark = [
    pytest.mark.slow,
    pytest.mark.usefixtures("prometheus_installed"),
]

TOKEN = "prometheus-test-token"
REQ = "bentoml_service_request_total"
DUR = "bentoml_service_request_duration_seconds"
OWN = "model_service_request_duration_seconds"


class Recorded:
    """What the service's /metrics recorded between two scrapes of it."""

    def __init__(self, before: MetricsSnapshot, after: MetricsSnapshot) -> None:
        self.before, self.after = before, after

    def delta(self, name: str, **labels: Any) -> float:
        return self.after.value(name, **labels) - self.before.value(name, **labels)

    def predict(self, code: str) -> float:
        return self.delta(REQ, endpoint="/predict", http_response_code=code)

    def predict_5xx(self) -> float:
        return self.delta(
            REQ, endpoint="/predict", where=lambda lab: lab["http_response_code"].startswith("5")
        )

    def predict_all(self) -> float:
        return self.delta(REQ, endpoint="/predict")

    def _valid(self, labels: dict[str, str]) -> bool:
        return not labels["http_response_code"].startswith("4")

    def slow_valid(self, threshold: float) -> float:
        """Valid /predict requests the service's histogram put above ``threshold`` seconds."""
        total = self.delta(f"{DUR}_count", endpoint="/predict", where=self._valid)
        fast = self.delta(f"{DUR}_bucket", endpoint="/predict", le=str(threshold), where=self._valid)
        return total - fast

    def bucket_holding(self, quantile: float) -> tuple[float, float]:
        """(lower, upper) bound in seconds of the bucket histogram_quantile interpolates ``quantile`` in."""
        counts: dict[float, float] = {}
        for name, labels, _ in self.after.samples:
            if name == f"{DUR}_bucket" and labels.get("endpoint") == "/predict" and labels["le"] != "+Inf":
                bound = float(labels["le"])
                le = labels["le"]
                counts[bound] = self.delta(f"{DUR}_bucket", endpoint="/predict", le=le, where=self._valid)
        total = self.delta(f"{DUR}_count", endpoint="/predict", where=self._valid)
        lower = 0.0
        for bound in sorted(counts):
            if counts[bound] >= quantile * total:
                return lower, bound
            lower = bound
        return lower, float("inf")


@pytest.fixture(scope="module")
def stack(
    model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServiceProcess, PrometheusProcess]]:
    env = {
        "MODEL_SERVICE_ADMIN_ENABLED": "true",
        "MODEL_SERVICE_ADMIN_TOKEN": TOKEN,
        "MODEL_FEATURE_REFRESH_INTERVAL_SECONDS": "0",
    }
    with ServiceProcess(tmp_path_factory.mktemp("psvc"), model_dir=model_dir, env=env) as svc:
        target = svc.url.removeprefix("http://")
        with PrometheusProcess(tmp_path_factory.mktemp("prom"), [target], scrape_interval="1s") as prom:
            yield svc, prom


def _scalar(prom: PrometheusProcess, promql: str) -> float | None:
    result = prom.query(promql)
    return float(result[0]["value"][1]) if result else None


def _admin(svc: ServiceProcess, path: str, payload: dict[str, Any]) -> dict[str, Any]:
    return post_json(svc.url, path, payload, TOKEN)


def post_json_status(svc: ServiceProcess, body: dict[str, Any]) -> int:
    return httpx.post(svc.url + "/predict", json=body, timeout=10).status_code


def _last_scrape(prom: PrometheusProcess) -> float:
    ts = _scalar(prom, f'timestamp(up{{job="{prom.job}"}})')
    return ts if ts is not None else 0.0


def _predict_total(prom: PrometheusProcess) -> float:
    return _scalar(prom, 'sum(bentoml_service_request_total{endpoint="/predict"})') or 0.0


def test_sli_queries_match_the_traffic(stack: tuple[ServiceProcess, PrometheusProcess]) -> None:
    svc, prom = stack
    row = [[0.0] * 30]
    # Warm-up: create the 500 and 200 series of every /predict metric before the window opens.
    _admin(svc, "/admin/faults", {"error_rate": 1.0})
    assert post_json_status(svc, {"instances": row}) == 500
    _admin(svc, "/admin/faults", {})
    assert post_json_status(svc, {"instances": row}) == 200
    wait_until(lambda: _predict_total(prom) == 2, timeout=20, what="warm-up scraped")
    seen = time.time()
    wait_until(lambda: _last_scrape(prom) > seen, timeout=10, what="a quiet scrape")
    window_start = _last_scrape(prom)  # a sample timestamp: no extrapolation at the window's start

    before = MetricsSnapshot.scrape(svc.url)
    _admin(svc, "/admin/faults", INCIDENT_FAULTS)
    config = incident_load(svc.url, rate=80)
    report = asyncio.run(LoadGenerator(config).run())
    faults = _admin(svc, "/admin/faults/status", {})
    _admin(svc, "/admin/faults", {})
    feature_time = time.time() - 120
    post_json(svc.url, "/features/refresh", {"updated_at": feature_time})
    recorded = Recorded(before, MetricsSnapshot.scrape(svc.url))

    # The truth is what the service recorded and its fault injector counted (a client timeout on a
    # busy machine loses an answer, not a request the service counted).
    ok, errors = recorded.predict("200"), recorded.predict_5xx()
    assert report.predict_requests - report.transport_errors <= recorded.predict_all()
    assert recorded.predict_all() <= report.predict_requests
    assert errors == faults["errors_injected"] and ok + errors == faults["requests_seen"]
    server_total = recorded.after.value(REQ, endpoint="/predict")
    wait_until(lambda: _predict_total(prom) == server_total, timeout=20, what="traffic scraped")
    evaluated = recorded.delta("model_predictions_evaluated_total")
    wait_until(
        lambda: _scalar(prom, "sum(model_predictions_evaluated_total)") == evaluated,
        timeout=20,
        what="feedback scraped",
    )
    wait_until(
        lambda: (
            abs((_scalar(prom, "max(model_features_last_updated_timestamp_seconds)") or 0) - feature_time)
            < 0.01
        ),
        timeout=20,
        what="feature refresh scraped",
    )
    at = _last_scrape(prom)  # the window ends on a sample that saw everything: no extrapolation either
    # +1 ms: Prometheus 3 ranges leave out their left end, and the sample at window_start is the baseline.
    window = f"{round((at - window_start) * 1000) + 1}ms"

    delays = faults["delays_injected"]
    slow = recorded.slow_valid(0.2)
    assert slow >= delays  # every injected delay (0.3 s) is over the threshold; contention may add more
    expected_availability = 100.0 * ok / (ok + errors)
    expected_good_latency = 100.0 * (ok + errors - slow) / (ok + errors)
    expected_accuracy = 100.0 * recorded.delta("model_predictions_correct_total") / evaluated

    print(f"window={window} ok={ok} 5xx={errors} delays={delays} slow={slow} 4xx={report.invalid_requests}")
    print(f"expected availability={expected_availability:.4f} good_latency={expected_good_latency:.4f}")
    with SLITracker(prom.url) as tracker:
        availability = tracker.calculate_availability_sli(window, at=at)
        assert availability == pytest.approx(expected_availability, abs=0.01)
        good_latency = tracker.calculate_latency_good_sli(0.2, window, at=at)
        assert good_latency == pytest.approx(expected_good_latency, abs=0.01)
        for q in (50, 95, 99):
            percentile = tracker.calculate_latency_sli(q, window, at=at)
            low, high = recorded.bucket_holding(q / 100)
            assert percentile is not None and low * 1000 <= percentile <= high * 1000, (q, percentile, low)
        accuracy = tracker.calculate_accuracy_sli(window, at=at)
        assert accuracy == pytest.approx(expected_accuracy, abs=0.01)
        print(f"measured availability={availability} good_latency={good_latency}")
        print(f"accuracy expected={expected_accuracy:.4f} measured={accuracy}")
        age = tracker.calculate_feature_age_seconds(at=at)
        assert age is not None and abs(age - (at - feature_time)) < 3.0

    # the same SLIs from the tracker's own series agree with what the tracker's histogram recorded
    with SLITracker(prom.url, queries=SLIQueries.tracker()) as own:
        assert own.calculate_availability_sli(window, at=at) == pytest.approx(expected_availability, abs=0.01)
        own_good = own.calculate_latency_good_sli(0.2, window, at=at)
        own_total = recorded.delta(f"{OWN}_count", endpoint="/predict")
        own_slow = own_total - recorded.delta(f"{OWN}_bucket", endpoint="/predict", le="0.2")
        assert own_slow >= delays
        assert own_good == pytest.approx(100.0 * (own_total - own_slow) / own_total, abs=0.01)

    with SLITracker(prom.url, queries=SLIQueries.bentoml(endpoint="/no-such-endpoint")) as empty:
        assert empty.calculate_availability_sli("1m") is None
        assert empty.calculate_latency_sli(99, "1m") is None
