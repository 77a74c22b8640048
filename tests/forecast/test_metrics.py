"""The operator's /metrics: forecast gauges per SLO, read from the latest forecasts at scrape time."""

from __future__ import annotations

import httpx
from prometheus_client import CollectorRegistry, generate_latest
from slo_operator import metrics
from slo_operator.forecast import INSUFFICIENT, SEASONAL, Forecast


def test_forecast_gauges_follow_the_latest_forecasts() -> None:
    latest = {
        ("prod", "api"): Forecast(model=SEASONAL, trained_on=86400 * 30, budget_consumed=1.2,
                                  end_of_window_sli=0.9988, violation_probability=0.85,
                                  exhaustion_at=1_800_000_000, interval=(1_799_990_000, None)),
        ("dev", "young"): Forecast(model=INSUFFICIENT),
    }
    registry = CollectorRegistry()
    registry.register(metrics.ForecastCollector(lambda: latest))
    text = generate_latest(registry).decode()
    assert 'slo_operator_forecast_violation_probability{slo="api",slo_namespace="prod"} 0.85' in text
    assert 'slo_operator_forecast_budget_consumed_ratio{slo="api",slo_namespace="prod"} 1.2' in text
    exhaustion = "slo_operator_forecast_exhaustion_timestamp_seconds"
    assert f'{exhaustion}{{quantile="0.5",slo="api",slo_namespace="prod"}} 1.8e+09' in text
    assert 'quantile="0.9"' not in text  # beyond the horizon: no sample rather than a made-up time
    info = 'slo_operator_forecast_info{model="insufficient-history",slo="young",slo_namespace="dev"} 1.0'
    assert info in text
    young = [line for line in text.splitlines() if 'slo="young"' in line]
    assert len(young) == 1 and young[0].startswith("slo_operator_forecast_info{")  # no made-up numbers
    del latest[("prod", "api")]  # a deleted SLO's series go away
    assert 'slo="api"' not in generate_latest(registry).decode()


def test_metrics_are_served_over_http() -> None:
    server = metrics.serve("127.0.0.1:0")
    try:
        port = server.server_port
        metrics.RECONCILES.labels("ok").inc()
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        assert "slo_operator_reconciles_total" in body
        assert "slo_operator_status_refresh_duration_seconds_bucket" in body
    finally:
        server.shutdown()
        server.server_close()
