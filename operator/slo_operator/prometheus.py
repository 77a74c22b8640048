"""Reading the recorded SLO series from Prometheus: a constant number of queries for any number of SLOs.

Every recorded series carries ``slo`` and ``namespace`` labels and windows are a label, so one instant
query per series name returns the numbers of every SLO at once; ``fetch_measurements`` makes exactly
``len(QUERIES)`` requests per refresh whatever the number of SLOs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import httpx

from slo_operator.promql import BUDGET_REMAINING, BURN_RATE, SLI, TIME_TO_EXHAUSTION, TOTAL_EVENTS

QUERIES = {
    "sli": SLI,
    "remaining": BUDGET_REMAINING,
    "burn": BURN_RATE,
    "tte": TIME_TO_EXHAUSTION,
    "total": TOTAL_EVENTS,
}


class PrometheusUnavailable(RuntimeError):
    """Prometheus could not be queried (down, unreachable, or answered with an error)."""


@dataclass
class Measurement:
    """The numbers of one SLO (the worst group when the SLO has groupBy labels)."""

    sli: float | None = None
    remaining: float | None = None
    time_to_exhaustion: float | None = None
    burn_rates: dict[str, float] = field(default_factory=dict)  # window label -> burn rate
    has_traffic_series: bool = False


Key = tuple[str, str]  # (namespace, slo name)


class PrometheusClient:
    """Instant queries against Prometheus' HTTP API."""

    def __init__(self, url: str, timeout: float = 10.0, transport: httpx.BaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)
        self.queries_made = 0

    def close(self) -> None:
        self._http.close()

    def query(self, expr: str) -> list[tuple[dict[str, str], float]]:
        self.queries_made += 1
        try:
            response = self._http.get("/api/v1/query", params={"query": expr})
        except httpx.HTTPError as exc:
            raise PrometheusUnavailable(f"cannot reach Prometheus at {self.url}: {exc}") from exc
        if response.status_code >= 400:
            raise PrometheusUnavailable(
                f"Prometheus at {self.url} answered {response.status_code}: {response.text[:300]}"
            )
        body = response.json()
        if body.get("status") != "success":
            raise PrometheusUnavailable(f"query failed: {body.get('error', body)}")
        results = []
        for item in body["data"]["result"]:
            value = float(item["value"][1])
            if math.isfinite(value):
                results.append((dict(item["metric"]), value))
        return results


def fetch_measurements(client: PrometheusClient) -> dict[Key, Measurement]:
    """The numbers of every SLO Prometheus knows, in ``len(QUERIES)`` queries."""
    found: dict[Key, Measurement] = {}

    def entry(labels: dict[str, str]) -> Measurement | None:
        if "slo" not in labels or "namespace" not in labels:
            return None
        return found.setdefault((labels["namespace"], labels["slo"]), Measurement())

    for labels, value in client.query(QUERIES["sli"]):
        if (m := entry(labels)) is not None:
            m.sli = value if m.sli is None else min(m.sli, value)
    for labels, value in client.query(QUERIES["remaining"]):
        if (m := entry(labels)) is not None:
            m.remaining = value if m.remaining is None else min(m.remaining, value)
    for labels, value in client.query(QUERIES["burn"]):
        if (m := entry(labels)) is not None and "window" in labels:
            window = labels["window"]
            m.burn_rates[window] = max(value, m.burn_rates.get(window, value))
    for labels, value in client.query(QUERIES["tte"]):
        if (m := entry(labels)) is not None:
            m.time_to_exhaustion = value if m.time_to_exhaustion is None else min(m.time_to_exhaustion, value)
    for labels, _ in client.query(QUERIES["total"]):
        if (m := entry(labels)) is not None:
            m.has_traffic_series = True
    return found
