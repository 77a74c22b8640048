"""How much of an SLO's window its figures cover, and where they come from (pure functions).

Every long window is derived from the two base series the rules record, and those begin when the rules
are first evaluated. Until they span the whole window, "30d" would silently mean "since the SLO was
applied": one bad minute on day one would read as a month's objective missed. So:

- The rules record ``slo:recording_since:timestamp``: the time of their first evaluation for the SLO's
  current indicator, carried forward by reading its own last value (``since_expr``). Its ``indicator``
  label is a hash of what decides which events are bad or counted (kind, selectors, thresholds, slices,
  groupBy): editing the objective or the alert windows keeps the recorded history, editing the
  selectors starts coverage again (the old history measured something else).
- While recording covers less than the window (a "young" SLO), the status refresh reads the window's
  SLI from the raw series instead, in one query for all young SLOs together (``raw_query``). A covered
  SLO is not in that query, so a mature fleet pays nothing for it.
- When neither covers the whole window (a service newer than the window, or a retention shorter than
  it), the figures cover what exists and the budget counts the bad events so far against the whole
  window's budget, the traffic of the covered span extrapolated to the window: a bad first minute spends
  a minute's share, not a month's (``remaining``). The state is then ``Warming`` unless even that
  budget is spent.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from slo_operator.durations import format_duration
from slo_operator.indicators import INDICATORS, base_series
from slo_operator.model import SLO
from slo_operator.promql import RECORDING_SINCE
from slo_operator.selectors import escape_label_value

RECORDED = "recorded"
RAW = "raw"
# A recording start survives a Prometheus outage up to this long; a longer gap in the recorded series
# restarts coverage, since the recorded sums then miss part of the window.
SINCE_CARRY = 3600
# The raw history's start is found on a grid of at most this many points over the window (1h for 30d).
RAW_START_POINTS = 720
# Hysteresis of the status: coverage moves in steps of at least this many percentage points, and a
# recording start that moved by less than this many seconds keeps its old value (no status write).
COVERED_STEP = 1.0
SINCE_JITTER = 120
KEY_LABEL = "slo_key"
FIGURE_LABEL = "slo_figure"


def indicator_hash(slo: SLO) -> str:
    """A short, stable hash of what the SLO counts as bad and total events (not objective or alerts)."""
    parts = {
        "kind": slo.kind,
        "method": slo.method,
        "selectors": {name: selector.render() for name, selector in sorted(slo.selectors.items())},
        "groupBy": list(slo.group_by),
        "threshold": None if slo.latency_threshold is None else str(slo.latency_threshold),
        "maxAge": slo.max_age,
        "sliceSize": slo.slice_size,
        "sliceGoal": None if slo.slice_goal is None else str(slo.slice_goal),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:10]


def since_selector(slo: SLO) -> str:
    labels = [
        f"slo={escape_label_value(slo.name)}",
        f"namespace={escape_label_value(slo.namespace)}",
        f"indicator={escape_label_value(indicator_hash(slo))}",
    ]
    return f"{RECORDING_SINCE}{{{','.join(labels)}}}"


def since_expr(slo: SLO) -> str:
    """Its own last value (kept across short gaps), or now on the first evaluation.

    ``min`` folds a series whose other labels (``service``) changed into one; ``or on()`` adds ``time()``
    only when there is nothing to carry.
    """
    carried = f"min(last_over_time({since_selector(slo)}[{format_duration(SINCE_CARRY)}]))"
    return f"{carried}\nor on () vector(time())"


def raw_step(window: int) -> int:
    """Grid step (whole minutes) on which the raw history's start is found."""
    return max(60, math.ceil(window / RAW_START_POINTS / 60) * 60)


def _tag(expr: str, tag: str, figure: str) -> str:
    return (
        f'label_replace(label_replace({expr}, "{KEY_LABEL}", {escape_label_value(tag)}, "", ""), '
        f'"{FIGURE_LABEL}", "{figure}", "", "")'
    )


def raw_figures(slo: SLO) -> tuple[str, str]:
    """(worst group's error ratio over the window, first grid time the raw series had data) in PromQL.

    Event counts read the raw counters over the whole window (what the recorded sums approximate);
    time slices and freshness re-evaluate the base series on a subquery at the base window, as the
    rules would have.
    """
    window = format_duration(slo.window)
    kind = INDICATORS[slo.kind]
    if slo.method == "Occurrences" and kind.measures == "events":
        bad, total = kind.series(slo, slo.window)
        ratio = f"max(({bad}) / ({total} > 0))"
    else:
        bad, total = base_series(slo)
        base = format_duration(slo.base_window)
        bad_sum = f"sum_over_time(({bad})[{window}:{base}])"
        ratio = f"max({bad_sum} / (sum_over_time(({total})[{window}:{base}]) > 0))"
    _, total_base = base_series(slo)
    start = f"min(min_over_time(timestamp({total_base})[{window}:{format_duration(raw_step(slo.window))}]))"
    return ratio, start


class RawQuery:
    """One instant query returning both raw figures of every SLO added, told apart by two labels.

    Each distinct pair of expressions is asked once, under a tag that stands for every SLO that reads it
    (``tags``): the figures depend on the SLO's indicator and window only, not on its name, and SLOs made
    from one template (a team's services on the same metric) read the same series. A part is some
    300-500 characters; ten thousand young SLOs written out one by one made a 5 MB query text, held
    several times over while it was encoded and sent."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.tags: dict[str, str] = {}  # SLO key -> the KEY_LABEL value of its figures
        self._seen: dict[tuple[str, str], str] = {}

    def add(self, slo: SLO) -> None:
        figures = raw_figures(slo)
        tag = self._seen.get(figures)
        if tag is None:
            tag = self._seen[figures] = str(len(self._seen))
            self.parts += [_tag(figures[0], tag, "ratio"), _tag(figures[1], tag, "start")]
        self.tags[slo.key] = tag

    @property
    def text(self) -> str | None:
        """The PromQL (None: no SLO added)."""
        return "\nor\n".join(self.parts) if self.parts else None


def raw_query(slos: list[SLO]) -> RawQuery:
    query = RawQuery()
    for slo in slos:
        query.add(slo)
    return query


@dataclass(frozen=True)
class RawFigures:
    error_ratio: float | None = None
    start: float | None = None  # first grid time with raw data in the window


def parse_raw(results: list[tuple[dict[str, str], float]], query: RawQuery) -> dict[str, RawFigures]:
    """``raw_query``'s answer by SLO key (``namespace/name``)."""
    found: dict[str, dict[str, float]] = {}
    for labels, value in results:
        tag, figure = labels.get(KEY_LABEL), labels.get(FIGURE_LABEL)
        if tag and figure in ("ratio", "start"):
            found.setdefault(tag, {})[figure] = value
    by_tag = {tag: RawFigures(f.get("ratio"), f.get("start")) for tag, f in found.items()}
    return {key: by_tag[tag] for key, tag in query.tags.items() if tag in by_tag}


@dataclass(frozen=True)
class Coverage:
    """Where an SLO's window figures come from and how much of the window they span."""

    window: int  # seconds
    source: str  # RECORDED or RAW
    covered: float  # seconds of the window the figures span
    since: float | None  # when recording began for the current indicator (None: not yet)

    @property
    def fraction(self) -> float:
        return min(1.0, max(0.0, self.covered / self.window))

    @property
    def complete(self) -> bool:
        return self.covered >= self.window


def recorded_span(since: float | None, now: float, window: int) -> float:
    return 0.0 if since is None else min(float(window), max(0.0, now - since))


def since_of(slo: SLO, recording_since: dict[str, float]) -> float | None:
    """When recording began for the SLO's current indicator (older indicators' starts do not count)."""
    return recording_since.get(indicator_hash(slo))


def is_young(slo: SLO, since: float | None, now: float) -> bool:
    """Whether the recorded series cover less than the SLO's window."""
    return recorded_span(since, now, slo.window) < slo.window


def decide(slo: SLO, since: float | None, raw: RawFigures | None, now: float) -> Coverage:
    """Recorded figures once they span the window (or when raw history has nothing); raw before that.

    The raw span is measured on a grid, so it is rounded up by one step; raw data younger than one step
    counts as one step when nothing was recorded yet (an upper bound: it can only make the budget
    stricter, never hide a spent one).
    """
    recorded = recorded_span(since, now, slo.window)
    if recorded >= slo.window or raw is None or raw.error_ratio is None:
        return Coverage(slo.window, RECORDED, recorded, since)
    step = raw_step(slo.window)
    if raw.start is not None:
        raw_span = min(float(slo.window), max(0.0, now - raw.start + step))
    else:
        raw_span = 0.0 if recorded > 0 else float(min(step, slo.window))
    return Coverage(slo.window, RAW, max(raw_span, recorded), since)


def remaining(error_ratio: float, error_budget: float, fraction: float) -> float:
    """Budget left: bad events so far against the whole window's budget.

    With the traffic of the covered span extrapolated to the window, the window's budget is
    ``error_budget * total / fraction`` events, so the share spent is ``error_ratio / error_budget *
    fraction``; on a covered window (fraction 1) this is the usual ``1 - error_ratio / error_budget``.
    """
    return 1.0 - error_ratio / error_budget * fraction


def _timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(text: str) -> float | None:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def window_status(coverage: Coverage, previous: dict[str, object] | None = None) -> dict[str, object]:
    """``status.window``: percent covered, recording start and source, with hysteresis against
    ``previous`` so a slowly growing coverage writes the status about once per ``COVERED_STEP``."""
    covered = 100.0 if coverage.complete else math.floor(coverage.fraction * 1000) / 10
    since = None if coverage.since is None else _timestamp(coverage.since)
    previous = previous or {}
    old_covered, old_since = previous.get("covered"), previous.get("since")
    same_source = previous.get("source") == coverage.source
    if (
        same_source
        and isinstance(old_covered, int | float)
        and covered < 100
        and old_covered < 100
        and 0 <= covered - old_covered < COVERED_STEP
    ):
        covered = float(old_covered)
    if since is not None and isinstance(old_since, str):
        old = _seconds(old_since)
        if old is not None and coverage.since is not None and abs(old - coverage.since) < SINCE_JITTER:
            since = old_since
    # No nulls: a merge patch would drop them, and the stored status would then differ on every refresh.
    found: dict[str, object] = {"covered": covered, "source": coverage.source}
    if since is not None:
        found["since"] = since
    return found
