"""Reading a month of recorded SLO series from Prometheus (the I/O half of the report).

A fixed handful of queries covers every SLO at once (the series carry ``slo`` and ``namespace``
labels); range queries are split so no request asks for more than ``MAX_POINTS`` points per series:

- hourly bad and total events: ``sum by (namespace, slo) (avg_over_time(<base rate>[1h - 1ms])) * 3600``
  at each hour's end. A base-rate sample covers the base window before it, so the samples in
  ``(T - 1h, T]`` cover the hour; the range stops 1 ms short so a sample exactly at ``T - 1h`` (which
  covers the hour before) is not counted twice on Prometheus 2.x, whose ranges include both ends.
- the SLO-window SLI each hour (chart) and, at the report's resolution, the steps where it was below the
  recorded objective;
- ``ALERTS{alertstate="firing"}`` for SLOs Prometheus holds ALERTS series of in the range; for the
  others the alert condition itself, re-evaluated from ``slo:error_ratio`` (same expression as the rule);
- the budget left over the SLO window at the end (``slo:error_budget_remaining:ratio``);
- for latency SLOs without bad-event data, the series API: does ``_count`` exist, and which ``le``
  buckets do?
- for cost SLOs, the hourly spend (``slo:cost_spend_base:rate``, like the events) and the hour's mean cost
  per unit (``slo:cost_per_unit:ratio``): two range queries for every cost SLO together;
- when the recording began (``slo:recording_since:timestamp``, earliest in the month) and, for hours
  the recorded series miss (a young SLO's month: its recording began within the range), the hourly
  events read from the raw counters: one range query for every such event-counting SLO together.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Literal

import httpx

from slo_operator.coverage import FIGURE_LABEL, KEY_LABEL
from slo_operator.indicators import INDICATORS
from slo_operator.model import SLO
from slo_operator.prometheus import MAX_POINTS as MAX_POINTS  # re-exported: the split the tests check
from slo_operator.prometheus import Key as Key
from slo_operator.prometheus import PrometheusClient, Series
from slo_operator.promql import (
    BAD_EVENTS,
    BUDGET_REMAINING,
    OBJECTIVE,
    RECORDING_SINCE,
    SLI,
    TOTAL_EVENTS,
    le_matcher,
    number,
)
from slo_operator.reports.data import HOUR, BucketCheck, ReportRange, SLOData
from slo_operator.rules import burn_rate_expr
from slo_operator.selectors import escape_label_value
from slo_operator.spend import COST_PER_UNIT, COST_SPEND_BASE

HOUR_RANGE = "59m59s999ms"
ALERT_BATCH = 20  # SLOs per derived-alert query (keeps the PromQL text moderate)

AlertSourceChoice = Literal["auto", "alerts", "burn_rate"]


class PrometheusRangeClient(PrometheusClient):
    """The reports' ``PrometheusClient``: POST forms (long alert conditions) and a longer timeout."""

    def __init__(self, url: str, timeout: float = 60.0, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(url, timeout, transport, form=True)


def _key(labels: dict[str, str]) -> Key | None:
    if "namespace" in labels and "slo" in labels:
        return labels["namespace"], labels["slo"]
    return None


def _hourly(client: PrometheusRangeClient, name: str, rng: ReportRange) -> dict[Key, dict[int, float]]:
    expr = f"sum by (namespace, slo) (avg_over_time({name}[{HOUR_RANGE}])) * {HOUR}"
    return _by_hour(client.query_range(expr, rng.start_ts + HOUR, rng.end_ts, HOUR), rng)


def _by_hour(series: Series, rng: ReportRange) -> dict[Key, dict[int, float]]:
    found: dict[Key, dict[int, float]] = {}
    for labels, values in series:
        key = _key(labels)
        if key is None:
            continue
        hours = found.setdefault(key, {})
        for ts, value in values:
            hours[round((ts - rng.start_ts) / HOUR) - 1] = value
    return found


def _steps(series: Series, label: str | None = None) -> dict[Key, dict[str, list[float]]]:
    found: dict[Key, dict[str, list[float]]] = {}
    for labels, values in series:
        key = _key(labels)
        if key is None:
            continue
        name = labels.get(label, "") if label else ""
        found.setdefault(key, {}).setdefault(name, []).extend(ts for ts, _ in values)
    return found


def alert_condition(slo: SLO) -> str:
    """Every burn-rate alert of ``slo`` as one expression labelled ``alertname`` (as the rules have it)."""
    parts = []
    for alert in slo.alerts:
        threshold = number(alert.threshold)
        expr = (
            f"{burn_rate_expr(slo, alert.long_window)} > {threshold} and ignoring (window) "
            f"{burn_rate_expr(slo, alert.short_window)} > {threshold}"
        )
        parts.append(
            f'label_replace(count by (namespace, slo) ({expr}), "alertname", '
            f'{escape_label_value(alert.name)}, "", "")'
        )
    return " or ".join(parts)


def _range_steps(rng: ReportRange, resolution: float) -> tuple[float, float]:
    """First and last step of the range at ``resolution`` (the last one strictly before the end)."""
    count = math.ceil((rng.end_ts - rng.start_ts) / resolution)
    return rng.start_ts, rng.start_ts + (count - 1) * resolution


def fetch_month(
    client: PrometheusRangeClient, slos: Sequence[SLO], rng: ReportRange, *, resolution: float = 60,
    alert_source: AlertSourceChoice = "auto",
) -> dict[Key, SLOData]:
    """What Prometheus holds about ``slos`` over ``rng``."""
    wanted = {(s.namespace, s.name): s for s in slos}
    data = {key: SLOData() for key in wanted}
    first, last = _range_steps(rng, resolution)

    for attribute, name in (("bad", BAD_EVENTS), ("total", TOTAL_EVENTS)):
        for key, hours in _hourly(client, name, rng).items():
            if key in data:
                setattr(data[key], attribute, hours)
    if any(s.cost is not None for s in slos):
        # Cost SLOs: the hour's spend from the recorded 5m spend rate, and its mean cost per unit.
        for key, hours in _hourly(client, COST_SPEND_BASE, rng).items():
            if key in data:
                data[key].spend = hours
        per_unit = f"avg by (namespace, slo) (avg_over_time({COST_PER_UNIT}[{HOUR_RANGE}]))"
        hourly = client.query_range(per_unit, rng.start_ts + HOUR, rng.end_ts, HOUR)
        for key, hours in _by_hour(hourly, rng).items():
            if key in data:
                data[key].per_unit = hours
    sli = client.query_range(f"min by (namespace, slo) ({SLI})", rng.start_ts + HOUR, rng.end_ts, HOUR)
    for key, hours in _by_hour(sli, rng).items():
        if key in data:
            data[key].sli = hours
    below = client.query_range(
        f"min by (namespace, slo) ({SLI}) < on (namespace, slo) max by (namespace, slo) ({OBJECTIVE})",
        first, last, resolution,
    )
    for key, below_steps in _steps(below).items():
        if key in data:
            data[key].sli_below_steps = below_steps.get("", [])
    for labels, value in client.query(f"min by (namespace, slo) ({BUDGET_REMAINING})", rng.end_ts):
        found = _key(labels)
        if found is not None and found in data:
            data[found].window_budget_remaining = value

    month = f"{rng.hours}h"
    for labels, value in client.query(
        f"min by (namespace, slo) (min_over_time({RECORDING_SINCE}[{month}]))", rng.end_ts
    ):
        found = _key(labels)
        if found is not None and found in data:
            data[found].recording_since = value
    # Only SLOs whose recording began by the range's end: one deployed later (or never) reads as no data.
    entries = [(s, data[(s.namespace, s.name)]) for s in slos]
    young = [s for s, e in entries if e.recording_since is not None and len(e.total) < rng.hours]
    _fill_from_raw(client, young, data, rng)

    alerting = [s for s in slos if s.alerting_enabled and s.alerts]
    with_alerts: set[Key] = set()
    if alert_source != "burn_rate" and alerting:
        for labels in client.series('ALERTS{slo!=""}', rng.start_ts, rng.end_ts):
            found = _key(labels)
            if found is not None:
                with_alerts.add(found)
    from_alerts = [s for s in alerting if alert_source == "alerts" or (s.namespace, s.name) in with_alerts]
    derived = [s for s in alerting if s not in from_alerts]
    if from_alerts:
        firing = client.query_range(
            'max by (namespace, slo, alertname) (ALERTS{alertstate="firing", slo!=""} == 1)',
            first, last, resolution,
        )
        alert_steps = _steps(firing, "alertname")
        for slo in from_alerts:
            key = (slo.namespace, slo.name)
            data[key].alert_source = "alerts"
            data[key].firing_steps = alert_steps.get(key, {})
    for batch in _batches(derived, ALERT_BATCH):
        condition = " or ".join(alert_condition(s) for s in batch)
        derived_steps = _steps(client.query_range(condition, first, last, resolution), "alertname")
        for slo in batch:
            key = (slo.namespace, slo.name)
            data[key].alert_source = "burn_rate"
            data[key].firing_steps = derived_steps.get(key, {})

    for slo in slos:
        entry = data[(slo.namespace, slo.name)]
        if slo.kind == "latency" and not entry.bad:
            entry.bucket = check_bucket(client, slo, rng)
    return data


def raw_hourly_query(slos: Sequence[SLO]) -> str | None:
    """Hourly bad and total events of event-counting SLOs read from their raw counters, told apart by
    the labels ``coverage.raw_query`` uses. Timeslice SLOs are left out: their slices are not events."""
    parts = []
    for slo in slos:
        kind = INDICATORS[slo.kind]
        if slo.method != "Occurrences" or kind.measures != "events":
            continue
        for figure, expr in zip(("bad", "total"), kind.series(slo, HOUR), strict=True):
            parts.append(
                f'label_replace(label_replace(sum ({expr}) * {HOUR}, "{KEY_LABEL}", '
                f'{escape_label_value(slo.key)}, "", ""), "{FIGURE_LABEL}", "{figure}", "", "")'
            )
    return " or ".join(parts) if parts else None


def _fill_from_raw(
    client: PrometheusRangeClient, slos: Sequence[SLO], data: dict[Key, SLOData], rng: ReportRange
) -> None:
    """Hours the recorded series miss, from raw history (a recorded hour is never replaced)."""
    query = raw_hourly_query(slos)
    if query is None:
        return
    by_key = {s.key: (s.namespace, s.name) for s in slos}
    raw: dict[tuple[Key, str], dict[int, float]] = {}
    for labels, values in client.query_range(query, rng.start_ts + HOUR, rng.end_ts, HOUR):
        key = by_key.get(labels.get(KEY_LABEL, ""))
        figure = labels.get(FIGURE_LABEL, "")
        if key is None or figure not in ("bad", "total"):
            continue
        hours = raw.setdefault((key, figure), {})
        for ts, value in values:
            hours[round((ts - rng.start_ts) / HOUR) - 1] = value
    for key in set(by_key.values()):
        entry = data[key]
        bad, total = raw.get((key, "bad"), {}), raw.get((key, "total"), {})
        # Both or neither: a latency SLO without its bucket must stay without data, not read as all good.
        missing = [h for h in total if h in bad and h not in entry.total]
        for hour in missing:
            entry.total[hour] = total[hour]
            entry.bad[hour] = bad[hour]
        entry.raw_hours = len(missing)


def _batches(items: Sequence[SLO], size: int) -> Iterable[Sequence[SLO]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def check_bucket(client: PrometheusRangeClient, slo: SLO, rng: ReportRange) -> BucketCheck:
    """Whether the latency histogram's ``_count`` and its threshold bucket have series in the range."""
    assert slo.latency_threshold is not None
    count = client.series(slo.selectors["total"].render(), rng.start_ts, rng.end_ts)
    buckets = client.series(slo.selectors["good"].render(), rng.start_ts, rng.end_ts)
    matcher = le_matcher(slo.latency_threshold)
    spellings = set(matcher.value.replace("\\", "").split("|"))
    available = sorted({b["le"] for b in buckets if "le" in b}, key=_le_order)
    return BucketCheck(
        count_exists=bool(count),
        bucket_exists=any(b.get("le") in spellings for b in buckets),
        available_le=tuple(available),
    )


def _le_order(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return math.inf
