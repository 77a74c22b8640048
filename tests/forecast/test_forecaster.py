"""Forecasts of many SLOs from one range query per completed hour; the status they write."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from slo_operator.api import ForecastStatus, ServiceLevelObjective
from slo_operator.forecast import HOUR, INSUFFICIENT, NO_FORECAST, SEASONAL, Forecast
from slo_operator.forecaster import HISTORY_QUERY, Forecaster, status_of
from slo_operator.model import SLO, resolve

NOW = int(datetime(2026, 11, 30, 12, 0, tzinfo=UTC).timestamp()) + 600


def slo(name: str, namespace: str = "prod") -> SLO:
    return resolve(ServiceLevelObjective.model_validate({
        "apiVersion": "slo.mlops.dev/v1alpha1", "kind": "ServiceLevelObjective",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"service": "api", "objective": 99.9, "window": "30d",
                 "indicator": {"availability": {"errors": 'x{code="5xx"}', "total": "x"}}},
    }))


class RecordedSeries:
    """Prometheus answering ``HISTORY_QUERY`` for SLOs with data since ``since`` (hourly averages of a
    daily rhythm; 0.05% errors), counting the requests it gets."""

    def __init__(self, since: dict[str, int]) -> None:
        self.since = since
        self.calls: list[tuple[float, float]] = []

    def query_range(self, expr: str, start: float, end: float,
                    step: float) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        assert expr == HISTORY_QUERY and step == HOUR
        self.calls.append((start, end))
        out = []
        for name, since in self.since.items():
            times = [t for t in np.arange(start, end + 1, step) if t - HOUR >= since]
            total = [20 * (1 + 0.5 * np.sin(2 * np.pi * (t % 86400) / 86400)) for t in times]
            out.append(({"namespace": "prod", "slo": name, "series": "total"},
                        [(float(t), float(v)) for t, v in zip(times, total, strict=True)]))
            out.append(({"namespace": "prod", "slo": name, "series": "bad"},
                        [(float(t), float(v) * 0.0005) for t, v in zip(times, total, strict=True)]))
        return out


def test_one_query_per_completed_hour_for_every_slo() -> None:
    prometheus = RecordedSeries({"old": NOW - 40 * 86400, "young": NOW - 86400})
    forecaster = Forecaster()
    slos = [slo("old"), slo("young"), slo("empty")]
    first = forecaster.refresh(prometheus, slos, NOW)
    hour_end = NOW // HOUR * HOUR
    # Five weeks (more than the 30d window), a week per request, for all SLOs together.
    start = hour_end - 35 * 86400
    assert prometheus.calls == [(start + week * 7 * 86400 + HOUR, start + (week + 1) * 7 * 86400)
                                for week in range(5)]
    assert first[("prod", "old")].model == SEASONAL
    assert first[("prod", "young")].model == INSUFFICIENT  # one day of data
    assert first[("prod", "empty")].model == INSUFFICIENT
    assert first[("prod", "young")] is first[("prod", "empty")] is NO_FORECAST  # one object for all
    old = first[("prod", "old")]
    assert old.budget_consumed is not None and abs(old.budget_consumed - 0.5) < 0.02
    # Later in the same hour: no query, the same forecast objects.
    again = forecaster.refresh(prometheus, slos, NOW + 1200)
    assert len(prometheus.calls) == 5 and again[("prod", "old")] is old
    fits = forecaster.cache.fits
    # The next hour: only that hour is asked for, and each SLO with history (old, young) is refitted.
    forecaster.refresh(prometheus, slos, NOW + HOUR)
    assert prometheus.calls[5] == (hour_end + HOUR, hour_end + HOUR)
    assert forecaster.cache.fits == fits + 2
    assert forecaster.history[("prod", "old")].end == hour_end + HOUR
    assert len(forecaster.history[("prod", "old")].total) == 35 * 24
    # A new SLO: the whole span once more; a deleted SLO's state is dropped.
    forecaster.refresh(prometheus, [slo("old"), slo("new")], NOW + HOUR)
    assert len(prometheus.calls) == 11 and prometheus.calls[6][0] == hour_end + HOUR - 35 * 86400 + HOUR
    # an SLO without history keeps no entry: its forecast is the one shared "insufficient history"
    assert set(forecaster.cache.entries) == {"prod/old"} and set(forecaster.cache.models) == {"prod/old"}
    assert ("prod", "young") not in forecaster.history
    # No SLOs left: no query and no state.
    calls = len(prometheus.calls)
    assert forecaster.refresh(prometheus, [], NOW + 2 * HOUR) == {}
    assert len(prometheus.calls) == calls and not forecaster.history and not forecaster.cache.entries


def test_the_refresh_pools_the_slos_with_a_model() -> None:
    """Three SLOs with five weeks of history share their days (``forecast.pool_of``); the pool is rebuilt
    when the models are refitted or the SLOs change, and two SLOs with a model are too few."""
    prometheus = RecordedSeries({name: NOW - 40 * 86400 for name in ("a", "b", "c")} | {"young": NOW - 86400})
    forecaster = Forecaster()
    forecaster.refresh(prometheus, [slo("a"), slo("b"), slo("c"), slo("young")], NOW)
    pool = forecaster.pool
    assert pool is not None and pool.ratio_noise.shape[0] == 3 * 34  # whole UTC days of three SLOs
    forecaster.refresh(prometheus, [slo("a"), slo("b"), slo("c"), slo("young")], NOW + 1200)
    assert forecaster.pool is pool  # same hour, same models: not rebuilt
    forecaster.refresh(prometheus, [slo("a"), slo("b"), slo("c"), slo("young")], NOW + HOUR)
    assert forecaster.pool is not None and forecaster.pool is not pool
    forecaster.refresh(prometheus, [slo("a"), slo("b"), slo("young")], NOW + HOUR)
    assert forecaster.pool is None


def test_status_has_numbers_only_from_a_model() -> None:
    none = status_of(Forecast(model=INSUFFICIENT))
    assert none["model"] == "insufficient-history"
    assert {k for k, v in none.items() if v is not None} == {"model"}
    ForecastStatus.model_validate(none)
    full = status_of(Forecast(
        model=SEASONAL, trained_on=34 * 86400, horizon_end=NOW + 30 * 86400, budget_consumed=1.234,
        end_of_window_sli=0.99876543, violation_probability=0.8312, exhaustion_probability=0.9,
        exhaustion_at=NOW + 86400, interval=(NOW + 3600, None),
    ))
    assert full["endOfWindowSLI"] == 99.877 and full["budgetConsumed"] == 123.4
    assert full["violationProbability"] == 0.83 and full["trainedOn"] == "34d"
    assert full["interval"] == {"earliest": "2026-11-30T13:10:00Z", "latest": None}
    assert full["exhaustionAt"] == "2026-12-01T12:10:00Z"
    parsed = ForecastStatus.model_validate(full)
    assert parsed.end_of_window_sli == 99.877
