"""The operator's own ``/metrics`` (prometheus-client, the convention for controllers).

One registry (``REGISTRY``) holds everything the operator exports, so any part of it can add its
metrics here and one HTTP server (``serve``) exposes them:

- reconciles and status refreshes: counts by outcome and durations;
- the forecast of every SLO as gauges (``slo_operator_forecast_*``), labelled ``slo_namespace`` and
  ``slo``: a scrape adds the operator pod's own ``namespace`` label, so the SLO's namespace needs a name
  of its own. They are read from the forecasts of the last refresh at scrape time, so a deleted SLO's
  series go away and memory follows the number of SLOs. The generated ``SLOForecastViolation`` alert
  (``rules.forecast_alert``) reads ``slo_operator_forecast_violation_probability``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from slo_operator.forecast import Forecast
from slo_operator.promql import FORECAST_CONSUMED, FORECAST_CONSUMED_QUANTILE, FORECAST_VIOLATION

REGISTRY = CollectorRegistry()
NAMESPACE_LABEL = "slo_namespace"
VIOLATION_PROBABILITY = FORECAST_VIOLATION

RECONCILES = Counter(
    "slo_operator_reconciles", "Reconciles of an SLO's children, by outcome (ok, retry, error).",
    ["outcome"], registry=REGISTRY,
)
RECONCILE_SECONDS = Histogram(
    "slo_operator_reconcile_duration_seconds", "Time to reconcile one SLO's children.", registry=REGISTRY,
)
REFRESHES = Counter(
    "slo_operator_status_refreshes", "Status refresh cycles, by outcome (ok, unreachable, error).",
    ["outcome"], registry=REGISTRY,
)
REFRESH_SECONDS = Histogram(
    "slo_operator_status_refresh_duration_seconds", "Time of one status refresh cycle (all SLOs).",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300), registry=REGISTRY,
)
API_REQUESTS = Counter(
    "slo_operator_api_requests",
    "Requests the operator's own API client sent, by method and answer (HTTP status; 0: no connection). "
    "kopf's watches and its patches of status are not included.",
    ["method", "code"], registry=REGISTRY,
)
PROMETHEUS_QUERIES = Counter(
    "slo_operator_prometheus_queries", "Queries sent to Prometheus by the status refresh.",
    registry=REGISTRY,
)

Key = tuple[str, str]


class ForecastCollector(Collector):
    """Gauges of the latest forecasts; SLOs with ``insufficient-history`` export only ``..._info``."""

    def __init__(self, source: Callable[[], dict[Key, Forecast]]) -> None:
        self.source = source

    def collect(self) -> Iterator[Any]:
        labels = [NAMESPACE_LABEL, "slo"]
        probability = GaugeMetricFamily(
            VIOLATION_PROBABILITY, "Forecast probability that the SLO window ends below its objective.",
            labels=labels)
        consumed = GaugeMetricFamily(
            FORECAST_CONSUMED,
            "Forecast share of the error budget spent at the horizon's end (median; 1 = all of it).",
            labels=labels)
        spread = GaugeMetricFamily(
            FORECAST_CONSUMED_QUANTILE,
            "Forecast share of the error budget spent at the horizon's end, 10th and 90th percentile.",
            labels=[*labels, "quantile"])
        sli = GaugeMetricFamily(
            "slo_operator_forecast_end_of_window_sli_ratio",
            "Forecast SLI of the window that ends one window from now.", labels=labels)
        exhaustion = GaugeMetricFamily(
            "slo_operator_forecast_exhaustion_timestamp_seconds",
            "Forecast time the budget runs out, by quantile of the futures (0.1, 0.5, 0.9); absent: not "
            "within the horizon.", labels=[*labels, "quantile"])
        info = GaugeMetricFamily(
            "slo_operator_forecast_info", "The forecast model of each SLO (1).", labels=[*labels, "model"])
        for (namespace, name), forecast in sorted(self.source().items()):
            values = [namespace, name]
            info.add_metric([*values, forecast.model], 1.0)
            if forecast.violation_probability is not None:
                probability.add_metric(values, forecast.violation_probability)
            if forecast.budget_consumed is not None:
                consumed.add_metric(values, forecast.budget_consumed)
            for quantile, key in (("0.1", "p10"), ("0.9", "p90")):
                if key in forecast.consumed_quantiles:
                    spread.add_metric([*values, quantile], float(forecast.consumed_quantiles[key][-1]))
            if forecast.end_of_window_sli is not None:
                sli.add_metric(values, forecast.end_of_window_sli)
            low, high = forecast.interval if forecast.interval is not None else (None, None)
            for quantile, at in (("0.1", low), ("0.5", forecast.exhaustion_at), ("0.9", high)):
                if at is not None:
                    exhaustion.add_metric([*values, quantile], float(at))
        yield from (probability, consumed, spread, sli, exhaustion, info)


def watch_forecasts(source: Callable[[], dict[Key, Forecast]]) -> ForecastCollector:
    collector = ForecastCollector(source)
    REGISTRY.register(collector)
    return collector


def serve(address: str) -> Any:
    """Serve ``REGISTRY`` on ``host:port`` (``/metrics``); returns the server (``shutdown()``)."""
    host, _, port = address.rpartition(":")
    server, _thread = start_http_server(int(port), addr=host or "0.0.0.0", registry=REGISTRY)
    return server
