"""``SLOReporter``: the monthly report of a set of SLOs, read from a Prometheus holding their rules."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Protocol

from slo_operator.api import ServiceLevelObjective
from slo_operator.model import SLO, resolve
from slo_operator.reports.compute import monthly_report
from slo_operator.reports.data import ReportRange, SLOData, month_range
from slo_operator.reports.schema import MonthlyReport
from slo_operator.reports.source import AlertSourceChoice, Key, PrometheusRangeClient, fetch_month


class MonthSource(Protocol):
    """Where the month's series come from (Prometheus, or a fake in unit tests)."""

    url: str

    def fetch(self, slos: Sequence[SLO], rng: ReportRange, resolution: float) -> dict[Key, SLOData]: ...


class PrometheusSource:
    """The month's series from Prometheus' HTTP API."""

    def __init__(self, url: str, *, timeout: float = 60.0, alert_source: AlertSourceChoice = "auto") -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.alert_source: AlertSourceChoice = alert_source

    def fetch(self, slos: Sequence[SLO], rng: ReportRange, resolution: float) -> dict[Key, SLOData]:
        with PrometheusRangeClient(self.url, timeout=self.timeout) as client:
            return fetch_month(client, slos, rng, resolution=resolution, alert_source=self.alert_source)


def _now() -> datetime:
    return datetime.now(UTC)


class SLOReporter:
    """Monthly compliance reports of ``slos`` (resolved, or objects as loaded from files).

    ``prometheus_url`` (or a ``source``) is where the recorded series are read; ``resolution`` is the
    step, in seconds, at which violation periods are found.
    """

    def __init__(
        self,
        slos: Iterable[SLO | ServiceLevelObjective],
        prometheus_url: str | None = None,
        *,
        source: MonthSource | None = None,
        resolution: int = 60,
        alert_source: AlertSourceChoice = "auto",
        timeout: float = 60.0,
        now: Callable[[], datetime] = _now,
    ) -> None:
        self.slos = [s if isinstance(s, SLO) else resolve(s) for s in slos]
        if source is None:
            if not prometheus_url:
                raise ValueError("give prometheus_url or a source")
            source = PrometheusSource(prometheus_url, timeout=timeout, alert_source=alert_source)
        if resolution < 1:
            raise ValueError("resolution must be at least 1 second")
        self.source = source
        self.resolution = resolution
        self.now = now

    def select(self, names: Iterable[str] | None) -> list[SLO]:
        """The SLOs named ``name`` or ``namespace/name``; all of them when ``names`` is empty."""
        wanted = [n for n in names or [] if n]
        if not wanted:
            return list(self.slos)
        chosen = [s for s in self.slos if s.name in wanted or s.key in wanted]
        unknown = [n for n in wanted if not any(n in (s.name, s.key) for s in self.slos)]
        if unknown:
            raise ValueError(f"no SLO named {', '.join(unknown)}")
        return chosen

    def generate_monthly_report(self, month: str | date, slos: Iterable[str] | None = None) -> MonthlyReport:
        """The report of calendar month ``month`` (``YYYY-MM``, UTC) for every SLO or the named ones."""
        now = self.now()
        rng = month_range(month, now)
        selected = self.select(slos)
        data = self.source.fetch(selected, rng, self.resolution)
        return monthly_report(
            selected, data, rng, resolution=self.resolution, prometheus_url=self.source.url, generated_at=now
        )
