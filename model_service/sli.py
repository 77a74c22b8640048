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

#: Placeholders in ``SLIQueries`` templates (plain text replacement, so selectors may hold any braces).
WINDOW = "__WINDOW__"
QUANTILE = "__QUANTILE__"
LE = "__LE__"

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
    COST = "model_serving_cost_dollars_total"  # {model_version}: CPU seconds used × price per CPU-hour
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


def _sum_rate(metric: str, matchers: str) -> str:
    """``sum(rate(metric{matchers}[WINDOW]))`` with the window left as a placeholder."""
    return f"sum(rate({metric}{_braces(matchers)}[{WINDOW}]))"


def _braces(matchers: str) -> str:
    return "{" + matchers + "}" if matchers else ""


def _join(*matchers: str) -> str:
    return ",".join(m for m in matchers if m)


@dataclass(frozen=True, slots=True)
class SLIQueries:
    """PromQL templates; the placeholders ``WINDOW``, ``QUANTILE`` and ``LE`` (module constants) are
    replaced per call.

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
        base = _join(f'endpoint="{_label_value(endpoint)}"', selector)
        valid = _join(base, 'http_response_code!~"4.."')
        good = _join(base, 'http_response_code=~"[123].."')
        req = MetricNames.BENTOML_REQUESTS
        dur = MetricNames.BENTOML_DURATION
        return cls(
            availability=f"{_sum_rate(req, good)} / {_sum_rate(req, valid)}",
            latency_quantile=(
                f"histogram_quantile({QUANTILE}, sum by (le) (rate({dur}_bucket{_braces(valid)}[{WINDOW}])))"
            ),
            latency_good=_latency_good(dur, valid),
            accuracy=_accuracy_query(selector),
            freshness_age=_freshness_query(selector),
        )

    @classmethod
    def tracker(cls, endpoint: str = "/predict", selector: str = "") -> SLIQueries:
        """Availability and latency from the tracker's own series (``MetricNames``)."""
        base = _join(f'endpoint="{_label_value(endpoint)}"', selector)
        req = MetricNames.REQUESTS
        dur = MetricNames.REQUEST_DURATION
        return cls(
            availability=f"{_sum_rate(req, _join(base, _SUCCESS))} / {_sum_rate(req, base)}",
            latency_quantile=(
                f"histogram_quantile({QUANTILE}, sum by (le) (rate({dur}_bucket{_braces(base)}[{WINDOW}])))"
            ),
            latency_good=_latency_good(dur, base),
            accuracy=_accuracy_query(selector),
            freshness_age=_freshness_query(selector),
        )


_SUCCESS = 'outcome="success"'
_LE = f'le="{LE}"'


def _latency_good(histogram: str, matchers: str) -> str:
    good = _sum_rate(histogram + "_bucket", _join(matchers, _LE))
    return f"{good} / {_sum_rate(histogram + '_count', matchers)}"


def _accuracy_query(selector: str) -> str:
    return f"{_sum_rate(MetricNames.CORRECT, selector)} / {_sum_rate(MetricNames.EVALUATED, selector)}"


def _freshness_query(selector: str) -> str:
    return f"time() - max({MetricNames.FEATURES_UPDATED}{_braces(selector)})"


@dataclass(slots=True)
class _Metrics:
    requests: Counter
    duration: Histogram
    predictions: Counter
    evaluated: Counter
    correct: Counter
    features_updated: Gauge
    info: Gauge
    cost: Counter


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
            cost=Counter(
                MetricNames.COST,
                "Money spent serving: CPU seconds the worker used × the configured price per CPU-hour.",
                ["model_version"],
                registry=reg,
            ),
        )
        # Create the series up front so that rate() sees them from the first scrape.
        for outcome in ("success", "failure"):
            m.requests.labels(endpoint=self.endpoint, outcome=outcome)
        m.duration.labels(endpoint=self.endpoint)
        for counter in (m.predictions, m.evaluated, m.correct, m.cost):
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
        self._ensure_metrics().predictions.labels(model_version=model_version or self.model_version).inc(
            count
        )

    def record_cost(self, dollars: float, model_version: str | None = None) -> None:
        """Money spent serving (``CostMeter``); negative amounts are ignored."""
        if not self.enabled or not dollars > 0:
            return
        self._ensure_metrics().cost.labels(model_version=model_version or self.model_version).inc(dollars)

    def record_accuracy(
        self, prediction: int | str, actual: int | str, model_version: str | None = None
    ) -> bool:
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

    @staticmethod
    def _fill(template: str, window: str, quantile: float | None = None, le: str | None = None) -> str:
        promql = template.replace(WINDOW, validate_window(window))
        if quantile is not None:
            promql = promql.replace(QUANTILE, repr(quantile))
        if le is not None:
            promql = promql.replace(LE, le)
        return promql

    def _ratio_percent(self, promql: str, at: float | None) -> float | None:
        ratio = self.query(promql, at)
        return None if ratio is None or math.isinf(ratio) else 100.0 * ratio

    def calculate_availability_sli(self, window: str = "5m", at: float | None = None) -> float | None:
        """Percent of valid requests (4xx excluded) not answered with a 5xx over ``window``."""
        return self._ratio_percent(self._fill(self.queries.availability, window), at)

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
            self._fill(self.queries.latency_quantile, window, quantile=percentile / 100.0),
            at,
        )
        return None if seconds is None or math.isinf(seconds) else seconds * 1000.0

    def calculate_latency_good_sli(
        self, threshold_seconds: float = 0.2, window: str = "5m", at: float | None = None
    ) -> float | None:
        """Percent of valid requests served within ``threshold_seconds`` (must be a bucket bound)."""
        if threshold_seconds not in self.buckets:
            raise ValueError(f"{threshold_seconds} is not a histogram bucket bound {self.buckets}")
        return self._ratio_percent(
            self._fill(self.queries.latency_good, window, le=go_float(threshold_seconds)), at
        )

    def calculate_accuracy_sli(self, window: str = "1h", at: float | None = None) -> float | None:
        """Percent of evaluated predictions that were correct (by ground-truth arrival time)."""
        return self._ratio_percent(self._fill(self.queries.accuracy, window), at)

    def calculate_feature_age_seconds(self, at: float | None = None) -> float | None:
        """Seconds since the features were last updated (freshness SLI input)."""
        return self.query(self.queries.freshness_age, at)
