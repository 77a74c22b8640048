"""Reading the recorded SLO series from Prometheus: a constant number of queries for any number of SLOs.

Every recorded series carries ``slo`` and ``namespace`` labels and windows are a label, so one instant
query per series name returns the numbers of every SLO at once; ``fetch_measurements`` makes exactly
``len(QUERIES)`` requests per refresh whatever the number of SLOs. ``PrometheusClient`` is the package's
one client of Prometheus' HTTP API: the reports' range queries and series look-ups go through it too.
"""

from __future__ import annotations

import math
from typing import Any, Self
from urllib.parse import quote_plus

import httpx

from slo_operator.coverage import Coverage, RawFigures, RawQuery, is_young, parse_raw, raw_query, since_of
from slo_operator.model import SLO
from slo_operator.promql import (
    BUDGET_REMAINING,
    ERROR_RATIO,
    OBJECTIVE,
    RECORDING_SINCE,
    SLI,
    TIME_TO_EXHAUSTION,
    TOTAL_EVENTS,
)
from slo_operator.spend import COST_STATUS_SERIES
from slo_operator.status import Measurement as Measurement
from slo_operator.status import window_measurement

# Burn rates per window: each recorded error ratio over its SLO's error budget (1 - objective).
BURN_RATES = (
    f"{ERROR_RATIO} / on (namespace, slo) group_left () (1 - max by (namespace, slo) ({OBJECTIVE}))"
)
QUERIES = {
    "sli": SLI,
    "remaining": BUDGET_REMAINING,
    "burn": BURN_RATES,
    "tte": TIME_TO_EXHAUSTION,
    "total": TOTAL_EVENTS,
    "since": RECORDING_SINCE,
}


class PrometheusUnavailable(RuntimeError):
    """Prometheus could not be queried (down, unreachable, or answered with an error)."""


Key = tuple[str, str]  # (namespace, slo name)
Series = list[tuple[dict[str, str], list[tuple[float, float]]]]  # (labels, [(time, value)]) per series

MAX_POINTS = 10_000  # Prometheus refuses more than 11,000 points per series in one range query


LONG_QUERY = 4096  # characters of parameters above which a query is POSTed as a form


class PrometheusClient:
    """Queries and series look-ups against Prometheus' HTTP API; every failure is ``PrometheusUnavailable``.

    Requests are GETs, or POST forms with ``form=True`` (long PromQL texts, as the reports send).
    """

    def __init__(
        self,
        url: str,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        *,
        form: bool = False,
    ) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)
        self._form = form
        self.queries_made = 0

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, path: str, params: dict[str, str]) -> Any:
        """The ``data`` of a successful answer."""
        self.queries_made += 1
        try:
            # One query covers every SLO: with thousands its text passes the URL limits (httpx refuses
            # a query string over 64 KiB; proxies less), so long ones go as a form body.
            if self._form or sum(len(value) for value in params.values()) > LONG_QUERY:
                response = self._http.post(path, content=form_body(params), headers=FORM)
            else:
                response = self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise PrometheusUnavailable(f"cannot reach Prometheus at {self.url}: {exc}") from exc
        if response.status_code >= 400:
            raise PrometheusUnavailable(
                f"Prometheus at {self.url} answered {response.status_code}: {response.text[:300]}"
            )
        body = response.json()
        if body.get("status") != "success":
            raise PrometheusUnavailable(f"query failed: {body.get('error', body)}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[tuple[dict[str, str], float]]:
        """Instant query, at ``at`` (Unix seconds) or Prometheus' now; non-finite values left out."""
        params = {"query": expr} if at is None else {"query": expr, "time": _ts(at)}
        results = []
        for item in self._request("/api/v1/query", params)["result"]:
            value = float(item["value"][1])
            if math.isfinite(value):
                results.append((dict(item["metric"]), value))
        return results

    def query_range(self, expr: str, start: float, end: float, step: float) -> Series:
        """Samples at ``start, start + step, ...`` up to ``end`` (inclusive), in as few requests as fit
        ``MAX_POINTS`` per series; non-finite values left out."""
        merged: dict[tuple[tuple[str, str], ...], tuple[dict[str, str], list[tuple[float, float]]]] = {}
        chunk = start
        while chunk <= end:
            chunk_end = min(end, chunk + (MAX_POINTS - 1) * step)
            data = self._request(
                "/api/v1/query_range",
                {"query": expr, "start": _ts(chunk), "end": _ts(chunk_end), "step": _ts(step)},
            )
            for item in data["result"]:
                labels = dict(item["metric"])
                key = tuple(sorted(labels.items()))
                entry = merged.setdefault(key, (labels, []))
                entry[1].extend(
                    (float(t), float(v)) for t, v in item["values"] if math.isfinite(float(v))
                )
            chunk = chunk_end + step
        return list(merged.values())

    def raw_samples(self, selector: str, end: float, window: str) -> Series:
        """The stored samples of ``selector`` in the ``window`` before ``end`` (a range-vector instant
        query: original timestamps, no resampling; stale markers are not returned by Prometheus)."""
        data = self._request("/api/v1/query", {"query": f"{selector}[{window}]", "time": _ts(end)})
        return [
            (dict(item["metric"]), [(float(t), float(v)) for t, v in item["values"]])
            for item in data["result"]
        ]

    def series(self, match: str, start: float, end: float) -> list[dict[str, str]]:
        """The label sets of the series matching ``match`` in ``[start, end]``."""
        data = self._request("/api/v1/series", {"match[]": match, "start": _ts(start), "end": _ts(end)})
        return [dict(item) for item in data]


FORM = {"Content-Type": "application/x-www-form-urlencoded"}
QUOTE_CHUNK = 16_384  # characters quoted at a time


def form_body(params: dict[str, str]) -> bytes:
    """``params`` as an urlencoded form, as ``urllib.parse.urlencode`` writes it, quoted a chunk at a
    time: ``quote`` builds a list of one string per character of what it quotes (over 8 bytes a
    character, for a query text of megabytes)."""
    return "&".join(
        f"{quote_plus(name)}="
        + "".join(quote_plus(value[i : i + QUOTE_CHUNK]) for i in range(0, len(value), QUOTE_CHUNK))
        for name, value in params.items()
    ).encode()


def _ts(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


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
    for labels, value in client.query(QUERIES["since"]):
        if (m := entry(labels)) is not None and "indicator" in labels:
            indicator = labels["indicator"]
            m.recording_since[indicator] = min(value, m.recording_since.get(indicator, value))
    return found


COST_QUERY = '{__name__=~"' + "|".join(COST_STATUS_SERIES) + '"}'


def fetch_cost(client: PrometheusClient, measurements: dict[Key, Measurement]) -> None:
    """The spend series of every cost SLO in one query (``spend``), into ``Measurement.cost``."""
    for labels, value in client.query(COST_QUERY):
        if "slo" in labels and "namespace" in labels and "__name__" in labels:
            found = measurements.setdefault((labels["namespace"], labels["slo"]), Measurement())
            found.cost[labels["__name__"]] = value


def young(slo: SLO, measurements: dict[Key, Measurement], now: float) -> bool:
    """Whether the SLO's window figures come from raw history (``coverage.is_young``), by the recording
    start ``fetch_measurements`` found for its current indicator."""
    found = measurements.get((slo.namespace, slo.name))
    return is_young(slo, None if found is None else since_of(slo, found.recording_since), now)


def fetch_raw(client: PrometheusClient, query: RawQuery) -> dict[str, RawFigures]:
    """The raw figures of the young SLOs in ``query`` by SLO key, in one query (none when it is empty)."""
    text = query.text
    return parse_raw(client.query(text), query) if text is not None else {}


def fetch_window_measurements(
    client: PrometheusClient, slos: list[SLO], measurements: dict[Key, Measurement], now: float
) -> dict[Key, tuple[Measurement | None, Coverage]]:
    """Every SLO's window figures (``status.window_measurement``): at most two queries more than
    ``fetch_measurements`` — the raw history of all young SLOs together (none when all are covered), and
    the spend series of all cost SLOs together (none without cost SLOs)."""

    raw = fetch_raw(client, raw_query([slo for slo in slos if young(slo, measurements, now)]))
    if any(slo.cost is not None for slo in slos):
        fetch_cost(client, measurements)
    return {
        (slo.namespace, slo.name): window_measurement(
            slo, measurements.get((slo.namespace, slo.name)), raw.get(slo.key), now
        )
        for slo in slos
    }
