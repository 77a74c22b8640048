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
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("bentoml")
pytest.importorskip("sklearn")

from support.incident import INCIDENT_FAULTS, incident_load

from model_service.devserver import PROMETHEUS_BIN, PrometheusProcess, ServiceProcess, wait_until
from model_service.sli import SLIQueries, SLITracker
from model_service.traffic import LoadGenerator, post_json

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.access(PROMETHEUS_BIN, os.X_OK), reason=f"{PROMETHEUS_BIN} missing: make prom-stack/tools"
    ),
]

TOKEN = "prometheus-test-token"


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

    _admin(svc, "/admin/faults", INCIDENT_FAULTS)
    config = incident_load(svc.url, rate=80)
    report = asyncio.run(LoadGenerator(config).run())
    faults = _admin(svc, "/admin/faults/status", {})
    _admin(svc, "/admin/faults", {})
    feature_time = time.time() - 120
    post_json(svc.url, "/features/refresh", {"updated_at": feature_time})

    ok = report.predict_status.get(200, 0)
    errors = report.predict_status.get(500, 0)
    assert report.transport_errors == 0 and errors == faults["errors_injected"]
    sent_total = 2 + report.predict_requests
    wait_until(lambda: _predict_total(prom) == sent_total, timeout=20, what="traffic scraped")
    wait_until(
        lambda: _scalar(prom, "sum(model_predictions_evaluated_total)") == ok + 0,
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
    window = f"{round((at - window_start) * 1000)}ms"

    expected_availability = 100.0 * ok / (ok + errors)
    expected_good_latency = 100.0 * (ok + errors - faults["delays_injected"]) / (ok + errors)
    expected_accuracy = 100.0 * report.feedback_correct / ok

    delays = faults["delays_injected"]
    print(f"window={window} ok={ok} 5xx={errors} delays={delays} 4xx={report.invalid_requests}")
    print(f"expected availability={expected_availability:.4f} good_latency={expected_good_latency:.4f}")
    with SLITracker(prom.url) as tracker:
        availability = tracker.calculate_availability_sli(window, at=at)
        assert availability == pytest.approx(expected_availability, abs=0.01)
        good_latency = tracker.calculate_latency_good_sli(0.2, window, at=at)
        assert good_latency is not None
        # undelayed requests can exceed 0.2 s under CPU contention: allow 1 % of requests
        assert expected_good_latency - 1.0 <= good_latency <= expected_good_latency + 0.01
        p50 = tracker.calculate_latency_sli(50, window, at=at)
        p95 = tracker.calculate_latency_sli(95, window, at=at)
        p99 = tracker.calculate_latency_sli(99, window, at=at)
        assert p50 is not None and p95 is not None and p99 is not None
        assert p50 < 100.0  # 80 % of requests are undelayed and take a few ms
        assert 300.0 <= p95 <= 500.0 and 300.0 <= p99 <= 500.0  # delayed ones sit in the (0.3, 0.5] bucket
        accuracy = tracker.calculate_accuracy_sli(window, at=at)
        assert accuracy == pytest.approx(expected_accuracy, abs=0.01)
        print(
            f"measured availability={availability} good_latency={good_latency} p50={p50} p95={p95} p99={p99}"
        )
        print(f"accuracy expected={expected_accuracy:.4f} measured={accuracy}")
        age = tracker.calculate_feature_age_seconds(at=at)
        assert age is not None and abs(age - (at - feature_time)) < 3.0

    # the same SLIs from the tracker's own series agree
    with SLITracker(prom.url, queries=SLIQueries.tracker()) as own:
        assert own.calculate_availability_sli(window, at=at) == pytest.approx(expected_availability, abs=0.01)
        own_good = own.calculate_latency_good_sli(0.2, window, at=at)
        assert (
            own_good is not None and expected_good_latency - 1.0 <= own_good <= expected_good_latency + 0.01
        )

    # a window without traffic is "no data", not NaN
    with SLITracker(prom.url, queries=SLIQueries.bentoml(endpoint="/no-such-endpoint")) as empty:
        assert empty.calculate_availability_sli("1m") is None
        assert empty.calculate_latency_sli(99, "1m") is None
