"""Forecasts for every SLO, kept up to date by the status refresh at bounded cost.

The hourly history of every SLO comes from ONE range query (``HISTORY_QUERY``: the recorded bad and
total event rates of all SLOs, averaged per hour, summed over groupBy values) and is kept in memory,
at most ``span`` hours per SLO. A refresh queries Prometheus only when a new hour has completed, and
then only for the hours it lacks (the whole span, a week per request, for SLOs it has not asked about
before). Each SLO's
model is refitted when its history gained an hour (``forecast.ForecastCache``); between those, a refresh
reuses the forecast. The SLOs' incident days are pooled (``forecast.pool_of``): an SLO with a short or
lucky history borrows the cluster's incident climate, as much as the SLOs look alike.
``status_of`` turns a forecast into ``status.forecast`` (rounded, so an unchanged
forecast writes nothing).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

import numpy as np

from slo_operator.durations import human_duration
from slo_operator.forecast import HOUR, MAX_HISTORY, Forecast, ForecastCache, History, Pool, pool_of
from slo_operator.model import SLO
from slo_operator.promql import BAD_EVENTS, TOTAL_EVENTS

CHUNK_HOURS = 7 * 24  # hours per range query while filling the history
MAX_HOURS = 10_000  # Prometheus' points per series in one range query (and memory per SLO)
HISTORY_QUERY = " or ".join(
    f'label_replace(sum by (namespace, slo) (avg_over_time({name}[1h])), "series", "{series}", "", "")'
    for name, series in ((BAD_EVENTS, "bad"), (TOTAL_EVENTS, "total"))
)

Key = tuple[str, str]  # (namespace, slo name)


class RangeQuerier(Protocol):
    def query_range(
        self, expr: str, start: float, end: float, step: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]: ...


class Forecastable(Protocol):
    """What a forecast reads of an SLO (``SLO`` has it; ``Subject`` is just that)."""

    @property
    def namespace(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def objective(self) -> Decimal: ...
    @property
    def window(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Subject:
    """An SLO as the forecaster reads it, for a caller that does not keep whole SLOs (the status refresh)."""

    namespace: str
    name: str
    key: str
    objective: Decimal
    window: int

    @classmethod
    def of(cls, slo: SLO) -> Subject:
        return cls(slo.namespace, slo.name, slo.key, slo.objective, slo.window)


def span_hours(slos: Sequence[Forecastable]) -> int:
    """Hours of history kept: the longest window (the rolling sums need it) or the fit's five weeks."""
    longest = max((math.ceil(s.window / HOUR) for s in slos), default=0)
    return min(MAX_HOURS, max(longest, MAX_HISTORY))


@dataclass
class Forecaster:
    """History, models and forecasts of the SLOs the refresh sees (state of one operator process)."""

    cache: ForecastCache = field(default_factory=ForecastCache)
    history: dict[Key, History] = field(default_factory=dict)
    asked: set[Key] = field(default_factory=set)  # SLOs the last full query covered
    fetched_until: int = 0  # end of the last hour fetched (Unix seconds)
    latest: dict[Key, Forecast] = field(default_factory=dict)  # the last refresh's (``metrics`` gauges)
    queries: int = 0
    pool: Pool | None = None  # the cluster's incident days (``forecast.pool_of``)
    pooled: int = 0  # number of SLOs the pool was built from

    def refresh(self, client: RangeQuerier, slos: Sequence[Forecastable], now: float) -> dict[Key, Forecast]:
        """The forecast of every SLO in ``slos`` at ``now``; raises what the client raises."""
        if not slos:  # nothing to forecast: no query, no state
            self.history, self.latest, self.asked = {}, {}, set()
            self.cache.keep_only(set())
            return {}
        hour_end = int(now // HOUR) * HOUR
        span = span_hours(slos)
        keys = {(s.namespace, s.name) for s in slos}
        full = not keys <= self.asked
        if full or hour_end > self.fetched_until:
            if full:
                self.history = {}
            first = hour_end - span * HOUR if full or not self.fetched_until else self.fetched_until
            first = max(first, hour_end - span * HOUR)
            # A week per request: the first fill of a thousand SLOs would otherwise parse one answer of
            # millions of points at once (memory). Afterwards a refresh asks for the last hour only.
            while first < hour_end:
                stop = min(hour_end, first + CHUNK_HOURS * HOUR)
                # The sample at T averages (T - 1h, T]: the hour that starts at T - 1h.
                result = client.query_range(HISTORY_QUERY, first + HOUR, stop, HOUR)
                self.queries += 1
                self._merge(result, first, stop, span)
                first = stop
            if full:
                self.asked = set(keys)
            self.fetched_until = hour_end
        # Models first (refitted once an hour), then the cluster's pool of incident days from all of
        # them (rebuilt only when a model changed), then each forecast with it.
        fits = self.cache.fits
        models = [self.cache.model(slo.key, self.history.get((slo.namespace, slo.name))) for slo in slos]
        if self.cache.fits != fits or self.pooled != len(models):
            self.pool = pool_of(models)
            self.pooled = len(models)
        forecasts = {}
        for slo in slos:
            key = (slo.namespace, slo.name)
            history = self.history.get(key)
            forecasts[key] = self.cache.get(slo.key, history, float(slo.objective), slo.window, self.pool)
        self.cache.keep_only({s.key for s in slos})
        for gone in set(self.history) - keys:
            del self.history[gone]
        self.latest = forecasts
        return forecasts

    def _merge(self, result: list[tuple[dict[str, str], list[tuple[float, float]]]], first: int,
               end: int, span: int) -> None:
        hours = (end - first) // HOUR
        fresh: dict[Key, dict[str, np.ndarray]] = {}
        for labels, samples in result:
            series = labels.get("series")
            if "namespace" not in labels or "slo" not in labels or series not in ("bad", "total"):
                continue
            values = np.full(hours, np.nan)
            for t, v in samples:
                index = (round(t) - HOUR - first) // HOUR
                if 0 <= index < hours:
                    values[index] = v
            fresh.setdefault((labels["namespace"], labels["slo"]), {})[str(series)] = values
        keys = set(fresh) | set(self.history)
        for key in keys:
            new = fresh.get(key, {})
            bad = new.get("bad", np.full(hours, np.nan))
            total = new.get("total", np.full(hours, np.nan))
            old = self.history.get(key)
            if old is not None and old.end == first:
                bad = np.concatenate((old.bad, bad))
                total = np.concatenate((old.total, total))
            start = end - HOUR * len(total)
            self.history[key] = History(start, bad, total).tail(span)


def _time(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_of(forecast: Forecast) -> dict[str, Any]:
    """``status.forecast``: percentages as the rest of the status, times in RFC 3339, rounded so that a
    forecast that did not move visibly does not write."""
    if not forecast.sufficient:
        return {"model": forecast.model, "endOfWindowSLI": None, "budgetConsumed": None,
                "violationProbability": None, "exhaustionAt": None, "interval": None,
                "trainedOn": None, "horizonEnd": None}
    interval = None
    if forecast.interval is not None:
        interval = {"earliest": _time(forecast.interval[0]), "latest": _time(forecast.interval[1])}
    return {
        "model": forecast.model,
        "endOfWindowSLI": None if forecast.end_of_window_sli is None
        else round(forecast.end_of_window_sli * 100, 3),
        "budgetConsumed": None if forecast.budget_consumed is None
        else round(forecast.budget_consumed * 100, 1),
        "violationProbability": None if forecast.violation_probability is None
        else round(forecast.violation_probability, 2),
        "exhaustionAt": _time(forecast.exhaustion_at),
        "interval": interval,
        "trainedOn": None if forecast.trained_on is None else human_duration(forecast.trained_on),
        "horizonEnd": _time(forecast.horizon_end),
    }


def _day(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


def summary(slo: SLO, forecast: Forecast) -> list[str]:
    """The forecast in sentences (``slo-operator forecast``, monthly reports)."""
    if not forecast.sufficient:
        return [f"{slo.key}: no forecast yet (insufficient history: it needs two days of the SLO's "
                "recorded series)"]
    assert forecast.budget_consumed is not None and forecast.violation_probability is not None
    objective = float(slo.objective) * 100
    trained = human_duration(forecast.trained_on or 0)
    low = forecast.consumed_quantiles.get("p10")
    high = forecast.consumed_quantiles.get("p90")
    spread = "" if low is None or high is None else (
        f" (10th-90th percentile {100 * float(low[-1]):.0f}%-{100 * float(high[-1]):.0f}%)")
    lines = [
        f"{slo.key}: {forecast.model}, trained on {trained} of history",
        f"  next {human_duration(slo.window)}: SLI {100 * (forecast.end_of_window_sli or 0):.3f}% against "
        f"{objective:g}%, {100 * forecast.budget_consumed:.0f}% of the budget spent{spread}",
        f"  probability the window ends below its objective: {forecast.violation_probability:.2f}",
    ]
    if forecast.exhaustion_at is not None:
        earliest, latest = forecast.interval or (None, None)
        between = (f"{_day(earliest) if earliest else '?'} and "
                   f"{_day(latest) if latest else 'after the horizon'}")
        lines.append(f"  at the current pace the budget ends on {_day(forecast.exhaustion_at)} "
                     f"(10th-90th percentile: between {between})")
    else:
        lines.append("  at the current pace the budget lasts beyond the horizon "
                     f"(in {100 * (forecast.exhaustion_probability or 0):.0f}% of futures it runs out)")
    return lines
