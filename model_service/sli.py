"""SLI recording (prometheus_client) and SLI calculation (Prometheus HTTP API).

``SLITracker`` has two halves:

* ``record_*`` methods, called by the service on its request path, feed the service's own metrics
  (names in ``MetricNames``). Metric objects are created lazily on first use, so that
  ``prometheus_client`` is imported inside the BentoML worker after ``PROMETHEUS_MULTIPROC_DIR`` is set
  (multiprocess mode); the gauges declare a ``multiprocess_mode``.
* ``calculate_*`` methods query Prometheus' HTTP API (``/api/v1/query``) and return SLI values: percent
  for ratios, milliseconds for latency percentiles, seconds for data age. They return ``None`` when
  Prometheus has no data for the window (no traffic gives "no data", never NaN).

By default the calculations read BentoML's built-in HTTP metrics for availability and latency
(``SLIQueries.bentoml()``); ``SLIQueries.tracker()`` reads the tracker's own series instead. 4xx
responses are client errors: they are excluded from both the good and the valid events.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from model_service.settings import LATENCY_BUCKETS

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_WINDOW_RE = re.compile(r"^(?:[0-9]+(?:ms|[smhdwy]))+$")
_LABEL_VALUE_RE = re.compile(r'^[^"\\\n]*$')


class MetricNames:
    """Names of the metrics the tracker records (exposed on the service's /metrics)."""

    REQUESTS = "model_service_requests_total"  # {endpoint, outcome="success"|"failure"}
    REQUEST_DURATION = "model_service_request_duration_seconds"  # histogram {endpoint}
    PREDICTIONS = "model_predictions_total"  # {model_version}: rows predicted
    EVALUATED = "model_predictions_evaluated_total"  # {model_version}: predictions given ground truth
    CORRECT = "model_predictions_correct_total"  # {model_version}: ... whose label was right
    FEATURES_UPDATED = "model_features_last_updated_timestamp_seconds"  # gauge, unix seconds
    INFO = "model_info"  # gauge = 1 {model_name, model_version}
    # BentoML built-ins (labels endpoint, http_response_code, service_name, service_version, runner_name)
    BENTOML_REQUESTS = "bentoml_service_request_total"
    BENTOML_DURATION = "bentoml_service_request_duration_seconds"


class PrometheusQueryError(RuntimeError):
    pass


def validate_window(window: str) -> str:
    if not _WINDOW_RE.match(window):
        raise ValueError(f"invalid Prometheus duration {window!r} (e.g. 30s, 5m, 1h30m)")
    return window


def _label_value(value: str) -> str:
    if not _LABEL_VALUE_RE.match(value):
        raise ValueError(f"unsupported label value {value!r}")
    return value


def go_float(value: float) -> str:
    """Format a bucket bound the way prometheus_client writes ``le`` (1 -> "1.0", 0.2 -> "0.2")."""
    if value == math.inf:
        return "+Inf"
    return repr(float(value))


@dataclass(frozen=True, slots=True)
class SLIQueries:
    """PromQL templates; ``{window}``, ``{quantile}`` and ``{le}`` are filled in per call.

    ``availability`` / ``latency_good`` / ``accuracy`` yield a ratio in [0, 1]; ``latency_quantile``
    yields seconds; ``freshness_age`` yields seconds.
    """

    availability: str
    latency_quantile: str
    latency_good: str
    accuracy: str
    freshness_age: str

    @classmethod
    def bentoml(cls, endpoint: str = "/predict", selector: str = "") -> SLIQueries:
        """Availability and latency from BentoML's built-in HTTP metrics.

        ``selector`` is extra label matchers, e.g. ``'namespace="ml",job="model-service"'``.
        """
        base = f'endpoint="{_label_value(endpoint)}"' + (f",{selector}" if selector else "")
        valid = f'{base},http_response_code!~"4.."'
        good = f'{base},http_response_code=~"[123].."'
        req = MetricNames.BENTOML_REQUESTS
        dur = MetricNames.BENTOML_DURATION
        return cls(
            availability=f"sum(rate({req}{{{good}}}[{{window}}])) / sum(rate({req}{{{valid}}}[{{window}}]))",
            latency_quantile=(
                f"histogram_quantile({{quantile}}, sum by (le) (rate({dur}_bucket{{{valid}}}[{{window}}])))"
            ),
            latency_good=(
                f'sum(rate({dur}_bucket{{{valid},le="{{le}}"}}[{{window}}]))'
                f" / sum(rate({dur}_count{{{valid}}}[{{window}}]))"
            ),
            accuracy=_accuracy_query(selector),
            freshness_age=_freshness_query(selector),
        )

    @classmethod
    def tracker(cls, endpoint: str = "/predict", selector: str = "") -> SLIQueries:
        """Availability and latency from the tracker's own series (``MetricNames``)."""
        base = f'endpoint="{_label_value(endpoint)}"' + (f",{selector}" if selector else "")
        req = MetricNames.REQUESTS
        dur = MetricNames.REQUEST_DURATION
        return cls(
            availability=(
                f'sum(rate({req}{{{base},outcome="success"}}[{{window}}])) / sum(rate({req}{{{base}}}[{{window}}]))'
            ),
            latency_quantile=f"histogram_quantile({{quantile}}, sum by (le) (rate({dur}_bucket{{{base}}}[{{window}}])))",
            latency_good=(
                f'sum(rate({dur}_bucket{{{base},le="{{le}}"}}[{{window}}])) / sum(rate({dur}_count{{{base}}}[{{window}}]))'
            ),
            accuracy=_accuracy_query(selector),
            freshness_age=_freshness_query(selector),
        )


def _accuracy_query(selector: str) -> str:
    sel = f"{{{selector}}}" if selector else ""
    return (
        f"sum(rate({MetricNames.CORRECT}{sel}[{{window}}])) / sum(rate({MetricNames.EVALUATED}{sel}[{{window}}]))"
    )


def _freshness_query(selector: str) -> str:
    sel = f"{{{selector}}}" if selector else ""
    return f"time() - max({MetricNames.FEATURES_UPDATED}{sel})"


@dataclass(slots=True)
class _Metrics:
    requests: Counter
    duration: Histogram
    predictions: Counter
    evaluated: Counter
    correct: Counter
    features_updated: Gauge
    info: Gauge


class SLITracker:
    """Record SLI events into Prometheus metrics and compute SLIs from Prometheus.

    Args:
        prometheus_url: base URL of the Prometheus HTTP API used by ``calculate_*``.
        enabled: when False every ``record_*`` call is a no-op (used to measure overhead).
        registry: registry for the metrics; by default a private one (in BentoML's multiprocess mode
            the registry does not matter: values go to the multiprocess files and /metrics reads those).
        endpoint: endpoint label of ``record_availability`` / ``record_latency`` when none is given.
        queries: PromQL used by ``calculate_*`` (default ``SLIQueries.bentoml(endpoint)``).
    """

    def __init__(
        self,
        prometheus_url: str = "http://127.0.0.1:9090",
        *,
        enabled: bool = True,
        registry: CollectorRegistry | None = None,
        model_name: str = "unknown",
        model_version: str = "unknown",
        endpoint: str = "/predict",
        buckets: tuple[float, ...] = LATENCY_BUCKETS,
        queries: SLIQueries | None = None,
        timeout_seconds: float = 5.0,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.prometheus_url = prometheus_url.rstrip("/")
        self.enabled = enabled
        self.model_name = model_name
        self.model_version = model_version
        self.endpoint = endpoint
        self.buckets = buckets
        self.queries = queries or SLIQueries.bentoml(endpoint)
        self._registry = registry
        self._timeout = timeout_seconds
        self._client = http_client
        self._owns_client = http_client is None
        self._metrics: _Metrics | None = None
        self._metrics_lock = threading.Lock()

    # ------------------------------------------------------------------ recording

    @property
    def registry(self) -> CollectorRegistry:
        self._ensure_metrics()
        assert self._registry is not None
        return self._registry

    def _ensure_metrics(self) -> _Metrics:
        if self._metrics is not None:
            return self._metrics
        with self._metrics_lock:
            if self._metrics is None:
                self._metrics = self._create_metrics()
        return self._metrics

    def _create_metrics(self) -> _Metrics:
        # Imported here, not at module import: see the module docstring (multiprocess mode).
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        if self._registry is None:
            self._registry = CollectorRegistry(auto_describe=True)
        reg = self._registry
        m = _Metrics(
            requests=Counter(
                MetricNames.REQUESTS,
                "Requests that reached the model (client errors excluded), by outcome.",
                ["endpoint", "outcome"],
                registry=reg,
            ),
            duration=Histogram(
                MetricNames.REQUEST_DURATION,
                "Handler time of requests that reached the model (client errors excluded).",
                ["endpoint"],
                buckets=self.buckets,
                registry=reg,
            ),
            predictions=Counter(
                MetricNames.PREDICTIONS, "Rows predicted by the model.", ["model_version"], registry=reg
            ),
            evaluated=Counter(
                MetricNames.EVALUATED,
                "Predictions whose ground truth arrived through /feedback.",
                ["model_version"],
                registry=reg,
            ),
            correct=Counter(
                MetricNames.CORRECT,
                "Evaluated predictions whose label matched the ground truth.",
                ["model_version"],
                registry=reg,
            ),
            features_updated=Gauge(
                MetricNames.FEATURES_UPDATED,
                "Unix time at which the features used by the model were last updated.",
                registry=reg,
                multiprocess_mode="livemostrecent",
            ),
            info=Gauge(
                MetricNames.INFO,
                "Model being served (value is always 1).",
                ["model_name", "model_version"],
                registry=reg,
                multiprocess_mode="livemax",
            ),
        )
        # Create the series up front so that rate() sees them from the first scrape.
        for outcome in ("success", "failure"):
            m.requests.labels(endpoint=self.endpoint, outcome=outcome)
        m.duration.labels(endpoint=self.endpoint)
        for counter in (m.predictions, m.evaluated, m.correct):
            counter.labels(model_version=self.model_version)
        m.info.labels(model_name=self.model_name, model_version=self.model_version).set(1)
        return m

    def start(self) -> None:
        """Create the metrics now (otherwise on first record) when tracking is enabled."""
        if self.enabled:
            self._ensure_metrics()

    def record_availability(self, success: bool, endpoint: str | None = None) -> None:
        """One request that reached the model; ``success`` False for a server-side failure (5xx).

        Do not call it for client errors (4xx): they do not count against availability.
        """
        if not self.enabled:
            return
        self._ensure_metrics().requests.labels(
            endpoint=endpoint or self.endpoint, outcome="success" if success else "failure"
        ).inc()

    def record_latency(self, seconds: float, endpoint: str | None = None) -> None:
        if not self.enabled:
            return
        self._ensure_metrics().duration.labels(endpoint=endpoint or self.endpoint).observe(seconds)

    def record_predictions(self, count: int, model_version: str | None = None) -> None:
        if not self.enabled:
            return
        self._ensure_metrics().predictions.labels(model_version=model_version or self.model_version).inc(count)

    def record_accuracy(self, prediction: int | str, actual: int | str, model_version: str | None = None) -> bool:
        """Count one evaluated prediction; returns whether it was correct."""
        correct = prediction == actual
        if not self.enabled:
            return correct
        m = self._ensure_metrics()
        version = model_version or self.model_version
        m.evaluated.labels(model_version=version).inc()
        if correct:
            m.correct.labels(model_version=version).inc()
        return correct

    def record_feature_refresh(self, timestamp: float) -> None:
        """Set the features' last-update time (unix seconds)."""
        if not self.enabled:
            return
        self._ensure_metrics().features_updated.set(timestamp)

    # ------------------------------------------------------------------ querying

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self._timeout)
        return self._client

    def close(self) -> None:
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> SLITracker:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def query(self, promql: str, at: float | None = None) -> float | None:
        """Evaluate an instant query that yields one number; None for no data or NaN."""
        params: dict[str, str] = {"query": promql}
        if at is not None:
            params["time"] = repr(at)
        try:
            resp = self._http().get(f"{self.prometheus_url}/api/v1/query", params=params)
        except httpx.HTTPError as exc:
            raise PrometheusQueryError(f"Prometheus unreachable at {self.prometheus_url}: {exc}") from exc
        try:
            body: dict[str, Any] = resp.json()
        except ValueError as exc:
            raise PrometheusQueryError(f"HTTP {resp.status_code}: not JSON: {resp.text[:200]}") from exc
        if resp.status_code != 200 or body.get("status") != "success":
            raise PrometheusQueryError(
                f"query failed ({resp.status_code}): {body.get('errorType')}: {body.get('error')} [{promql}]"
            )
        data = body["data"]
        if data["resultType"] == "scalar":
            raw = data["result"][1]
        elif data["resultType"] == "vector":
            if not data["result"]:
                return None
            if len(data["result"]) > 1:
                raise PrometheusQueryError(f"expected one series, got {len(data['result'])} [{promql}]")
            raw = data["result"][0]["value"][1]
        else:
            raise PrometheusQueryError(f"unexpected result type {data['resultType']} [{promql}]")
        value = float(raw)
        return None if math.isnan(value) else value

    def _ratio_percent(self, template: str, window: str, at: float | None, **fmt: str) -> float | None:
        ratio = self.query(template.format(window=validate_window(window), **fmt), at)
        return None if ratio is None or math.isinf(ratio) else 100.0 * ratio

    def calculate_availability_sli(self, window: str = "5m", at: float | None = None) -> float | None:
        """Percent of valid requests (4xx excluded) not answered with a 5xx over ``window``."""
        return self._ratio_percent(self.queries.availability, window, at)

    def calculate_latency_sli(
        self, percentile: float = 99.0, window: str = "5m", at: float | None = None
    ) -> float | None:
        """Latency percentile (0 < percentile < 100) of valid requests over ``window``, in milliseconds.

        Estimated by ``histogram_quantile``: linear interpolation inside the bucket holding the
        percentile, so the answer is exact only up to that bucket's bounds.
        """
        if not 0.0 < percentile < 100.0:
            raise ValueError("percentile must be in (0, 100), e.g. 99 for p99")
        seconds = self.query(
            self.queries.latency_quantile.format(quantile=repr(percentile / 100.0), window=validate_window(window)),
            at,
        )
        return None if seconds is None or math.isinf(seconds) else seconds * 1000.0

    def calculate_latency_good_sli(
        self, threshold_seconds: float = 0.2, window: str = "5m", at: float | None = None
    ) -> float | None:
        """Percent of valid requests served within ``threshold_seconds`` (must be a bucket bound)."""
        if threshold_seconds not in self.buckets:
            raise ValueError(f"{threshold_seconds} is not a histogram bucket bound {self.buckets}")
        return self._ratio_percent(self.queries.latency_good, window, at, le=go_float(threshold_seconds))

    def calculate_accuracy_sli(self, window: str = "1h", at: float | None = None) -> float | None:
        """Percent of evaluated predictions that were correct (by ground-truth arrival time)."""
        return self._ratio_percent(self.queries.accuracy, window, at)

    def calculate_feature_age_seconds(self, at: float | None = None) -> float | None:
        """Seconds since the features were last updated (freshness SLI input)."""
        return self.query(self.queries.freshness_age, at)
