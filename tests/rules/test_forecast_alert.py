"""SLOForecastViolation in promtool, fed by the operator's own forecast gauges as a scrape stores them."""

from __future__ import annotations

from pathlib import Path

from harness import alert_labels, assert_passes, run_promtool_test, slo_from
from prometheus_client import CollectorRegistry
from slo_operator.forecast import SEASONAL, Forecast
from slo_operator.metrics import VIOLATION_PROBABILITY, ForecastCollector

SLO_DOCUMENT = {
    "apiVersion": "slo.mlops.dev/v1alpha1",
    "kind": "ServiceLevelObjective",
    "metadata": {"name": "checkout", "namespace": "shop"},
    "spec": {
        "service": "checkout",
        "objective": 99.9,
        "window": "30d",
        "indicator": {"availability": {"errors": 'http_requests_total{code=~"5.."}',
                                       "total": "http_requests_total"}},
        "alerting": {"forecast": {}},  # defaults: above 0.8 for 1h, severity warning
    },
}


def scraped_series(probabilities: list[float]) -> list[dict[str, str]]:
    """What Prometheus stores from scraping the operator's /metrics every minute while its forecast of
    the SLO moves through ``probabilities``: the collector's own samples plus the scrape's labels."""
    values: list[str] = []
    labels: dict[str, str] = {}
    for probability in probabilities:
        latest = {("shop", "checkout"): Forecast(model=SEASONAL, violation_probability=probability)}
        registry = CollectorRegistry()
        registry.register(ForecastCollector(lambda latest=latest: latest))
        (sample,) = [s for family in registry.collect() for s in family.samples
                     if s.name == VIOLATION_PROBABILITY]
        labels = dict(sample.labels)
        values.append(repr(sample.value))
    scrape = {"job": "slo-operator", "instance": "10.0.0.7:8081", "namespace": "slo-system"}
    inner = ",".join(f'{k}="{v}"' for k, v in sorted({**labels, **scrape}.items()))
    return [{"series": f"{VIOLATION_PROBABILITY}{{{inner}}}", "values": " ".join(values)}]


def test_forecast_violation_fires_after_staying_above_the_threshold(tmp_path: Path) -> None:
    slo = slo_from(SLO_DOCUMENT)
    assert slo.forecast_threshold is not None and float(slo.forecast_threshold) == 0.8
    # 0.5 for 30 minutes, 0.9 for 90 minutes, a dip to 0.7, then 0.95 for 50 minutes.
    minutes = [0.5] * 30 + [0.9] * 90 + [0.7] * 5 + [0.95] * 50
    firing = [{"exp_labels": alert_labels(slo, "warning", slo_namespace="shop")}]
    tests = [{
        "interval": "1m",
        "input_series": scraped_series(minutes),
        "alert_rule_test": [
            {"eval_time": "29m", "alertname": "SLOForecastViolation", "exp_alerts": []},
            {"eval_time": "80m", "alertname": "SLOForecastViolation", "exp_alerts": []},  # pending
            {"eval_time": "100m", "alertname": "SLOForecastViolation", "exp_alerts": firing},
            {"eval_time": "122m", "alertname": "SLOForecastViolation", "exp_alerts": []},  # dip: reset
            {"eval_time": "170m", "alertname": "SLOForecastViolation", "exp_alerts": []},  # < 1h again
        ],
    }]
    assert_passes(run_promtool_test(tmp_path, [slo], tests, evaluation_interval="60s"))
