"""The inputs of a report: the reported range and what Prometheus holds about each SLO (plain data)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from slo_operator.reports.schema import AlertSource

HOUR = 3600


@dataclass(frozen=True)
class ReportRange:
    """The reported range: a calendar month in UTC, cut at the last whole hour if it has not ended."""

    month: str
    start: datetime
    end: datetime  # exclusive, on an hour boundary
    complete: bool

    @property
    def hours(self) -> int:
        return int((self.end - self.start).total_seconds()) // HOUR

    def hour_start(self, index: int) -> datetime:
        return self.start + timedelta(hours=index)

    @property
    def start_ts(self) -> float:
        return self.start.timestamp()

    @property
    def end_ts(self) -> float:
        return self.end.timestamp()


def parse_month(month: str | date) -> tuple[int, int]:
    if isinstance(month, date):
        return month.year, month.month
    text = month.strip()
    try:
        year_text, month_text = text.split("-")
        year, number = int(year_text), int(month_text)
    except ValueError:
        raise ValueError(f"{month!r}: write the month as YYYY-MM, e.g. 2026-10") from None
    if len(year_text) != 4 or not 1 <= number <= 12:
        raise ValueError(f"{month!r}: write the month as YYYY-MM, e.g. 2026-10")
    return year, number


def month_range(month: str | date, now: datetime) -> ReportRange:
    """The range to report for ``month`` as seen at ``now`` (an unfinished month ends at the last hour)."""
    year, number = parse_month(month)
    start = datetime(year, number, 1, tzinfo=UTC)
    days = calendar.monthrange(year, number)[1]
    end = start + timedelta(days=days)
    complete = now >= end
    if not complete:
        end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        if end <= start:
            raise ValueError(f"{year:04d}-{number:02d} has no whole hour of data yet")
    return ReportRange(f"{year:04d}-{number:02d}", start, end, complete)


def previous_month(now: datetime) -> str:
    first = now.astimezone(UTC).replace(day=1)
    last = first - timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"


@dataclass(frozen=True)
class BucketCheck:
    """For a latency SLO: do the histogram's ``_count`` and the threshold's ``_bucket`` series exist?"""

    count_exists: bool
    bucket_exists: bool
    available_le: tuple[str, ...] = ()


@dataclass
class SLOData:
    """What Prometheus holds about one SLO over the range (hour ``i`` is ``[start + i h, + 1 h)``)."""

    bad: dict[int, float] = field(default_factory=dict)  # hour -> bad events (seconds) in that hour
    total: dict[int, float] = field(default_factory=dict)
    sli: dict[int, float] = field(default_factory=dict)  # hour -> SLO-window SLI (ratio) at its end
    sli_below_steps: list[float] = field(default_factory=list)  # unix seconds
    firing_steps: dict[str, list[float]] = field(default_factory=dict)  # alert name -> unix seconds
    alert_source: AlertSource = "none"
    window_budget_remaining: float | None = None  # ratio, at the end of the range
    recording_since: float | None = None  # unix seconds: when the recorded series began (None: unknown)
    raw_hours: int = 0  # hours whose events were read from raw history (recorded series missing)
    bucket: BucketCheck | None = None
    spend: dict[int, float] = field(default_factory=dict)  # hour -> money spent (cost SLOs)
    per_unit: dict[int, float] = field(default_factory=dict)  # hour -> mean cost per unit of its slices
