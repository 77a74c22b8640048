"""Scenarios: a small YAML language of traffic and failures over time, turned into the raw series an
SLO's selectors read (counters, histogram buckets, timestamps) as a scrape would have stored them.

    duration: 8h                # simulated time
    scrapeInterval: 15s         # one sample per series per scrape
    traffic:
      rate: 10                  # events per second
      daily: 0.3                # ± share of the rate over 24h (peak at 12:00; time 0 is a Monday 00:00)
      weekly: 0.1               # ± share over 7 days (weekdays busier than the weekend)
      latency: {median: 80ms, spread: 0.4}   # log-normal request latency (latency SLOs)
    errorRatio: 0.0002          # background share of bad events (wrong predictions for accuracy)
    feedbackDelay: 0s           # accuracy: ground truth for a prediction arrives this much later
    updateInterval: 1m          # freshness: how often the pipeline refreshes its timestamp
    events:                     # each from `at` for `for`; later events win where they overlap
      - {at: 2h, for: 10m, errorRatio: 1}          # outage
      - {at: 4h, for: 30m, errorRatio: 0.02}       # partial degradation
      - {at: 5h, for: 20m, latencyFactor: 4}       # latency shift: every request 4x slower
      - {at: 6h, for: 15m, traffic: 0}             # zero traffic (multiplies the rate)
      - {at: 7h, for: 10m, missing: stale}         # failed scrapes: stale markers, as Prometheus writes
      - {at: 7h30m, for: 5m, missing: gap}         # samples never stored (no stale markers)
      - {at: 3h, for: 1h, stale: true}             # freshness: the pipeline stops updating

Values are expected counts (no noise), so a scenario always gives the same alerts. The series carry the
labels the SLO's selectors match (an error series and a good series for availability, the threshold's
``le`` bucket for latency, ...), so the generated rules read them exactly as they would in production.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from slo_operator.durations import parse_duration
from slo_operator.evaluator import INPUT, NAME, Array, Series, Store, labels_of
from slo_operator.model import SLO
from slo_operator.promql import le_matcher
from slo_operator.selectors import Matcher, Selector

DAY = 86400.0


class ScenarioError(ValueError):
    """A scenario document that cannot be simulated, with what to write instead."""


def _seconds(value: Any, what: str) -> float:
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(parse_duration(str(value)))
    except ValueError as exc:
        raise ScenarioError(f"{what}: {exc}") from None


@dataclass(frozen=True)
class Event:
    at: float
    duration: float
    error_ratio: float | None = None
    traffic: float | None = None
    latency_factor: float | None = None
    missing: str | None = None  # "stale" | "gap"
    stale: bool = False

    @property
    def end(self) -> float:
        return self.at + self.duration

    @property
    def harmful(self) -> bool:
        return self.error_ratio is not None or self.latency_factor is not None or self.stale


@dataclass(frozen=True)
class Scenario:
    duration: float = 6 * 3600.0
    scrape_interval: float = 15.0
    rate: float = 10.0
    daily: float = 0.0
    weekly: float = 0.0
    latency_median: float = 0.08
    latency_spread: float = 0.4
    error_ratio: float = 0.0
    feedback_delay: float = 0.0
    update_interval: float = 60.0
    events: tuple[Event, ...] = field(default_factory=tuple)

    @property
    def incident(self) -> tuple[float, float] | None:
        """(start, end) of the first harmful event, from which detection and reset times are measured."""
        harmful = [e for e in self.events if e.harmful and (e.error_ratio is None or e.error_ratio > 0)]
        if not harmful:
            return None
        first = min(harmful, key=lambda e: e.at)
        return first.at, first.end


_EVENT_KEYS = {"at", "for", "errorRatio", "traffic", "latencyFactor", "missing", "stale"}
_TOP_KEYS = {"duration", "scrapeInterval", "traffic", "errorRatio", "feedbackDelay", "updateInterval",
             "events", "description", "name"}


def parse_scenario(document: dict[str, Any]) -> Scenario:
    """A scenario from its YAML document; unknown keys are errors (a typo must not simulate nothing)."""
    if not isinstance(document, dict):
        raise ScenarioError("a scenario is a YAML mapping (duration, traffic, errorRatio, events)")
    unknown = set(document) - _TOP_KEYS
    if unknown:
        raise ScenarioError(f"unknown keys {sorted(unknown)}; known: {sorted(_TOP_KEYS)}")
    traffic = document.get("traffic") or {}
    if isinstance(traffic, int | float):
        traffic = {"rate": traffic}
    latency = traffic.get("latency") or {}
    events = []
    for i, raw in enumerate(document.get("events") or []):
        bad = set(raw) - _EVENT_KEYS
        if bad or "at" not in raw or "for" not in raw:
            raise ScenarioError(f"events[{i}]: needs at and for; known keys {sorted(_EVENT_KEYS)}")
        missing = raw.get("missing")
        if missing is True:
            missing = "stale"
        if missing not in (None, "stale", "gap"):
            raise ScenarioError(f"events[{i}].missing: stale (failed scrapes) or gap (samples not stored)")
        events.append(Event(
            at=_seconds(raw["at"], f"events[{i}].at"),
            duration=_seconds(raw["for"], f"events[{i}].for"),
            error_ratio=_ratio(raw.get("errorRatio"), f"events[{i}].errorRatio"),
            traffic=None if raw.get("traffic") is None else float(raw["traffic"]),
            latency_factor=None if raw.get("latencyFactor") is None else float(raw["latencyFactor"]),
            missing=missing,
            stale=bool(raw.get("stale", False)),
        ))
    return Scenario(
        duration=_seconds(document.get("duration", "6h"), "duration"),
        scrape_interval=_seconds(document.get("scrapeInterval", "15s"), "scrapeInterval"),
        rate=float(traffic.get("rate", 10.0)),
        daily=float(traffic.get("daily", 0.0)),
        weekly=float(traffic.get("weekly", 0.0)),
        latency_median=_seconds(latency.get("median", "80ms"), "traffic.latency.median"),
        latency_spread=float(latency.get("spread", 0.4)),
        error_ratio=_ratio(document.get("errorRatio", 0.0), "errorRatio") or 0.0,
        feedback_delay=_seconds(document.get("feedbackDelay", 0), "feedbackDelay"),
        update_interval=_seconds(document.get("updateInterval", "1m"), "updateInterval"),
        events=tuple(events),
    )


def _ratio(value: Any, what: str) -> float | None:
    if value is None:
        return None
    ratio = float(value)
    if not 0 <= ratio <= 1:
        raise ScenarioError(f"{what} is a fraction between 0 and 1, got {value}")
    return ratio


# -- time profiles -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """Per-scrape instants and what happened between the previous scrape and each one."""

    times: Array
    rate: Array  # events per second
    bad_share: Array  # share of events that are bad (availability, ratio, accuracy)
    latency_factor: Array
    missing: Array  # 0 present, 1 stale marker, 2 not stored
    fresh: Array  # 1 while the freshness pipeline updates


def profile(scenario: Scenario) -> Profile:
    times = np.arange(0.0, scenario.duration + scenario.scrape_interval / 2, scenario.scrape_interval)
    rate = np.full(times.shape, scenario.rate)
    if scenario.daily:
        rate *= 1 + scenario.daily * np.sin(2 * np.pi * (times / DAY - 0.25))
    if scenario.weekly:
        rate *= 1 + scenario.weekly * np.cos(2 * np.pi * (times / (7 * DAY) - 2 / 7))
    bad = np.full(times.shape, scenario.error_ratio)
    factor = np.ones(times.shape)
    missing = np.zeros(times.shape)
    fresh = np.ones(times.shape)
    for event in scenario.events:
        # A scrape at t reports what happened in (t - interval, t]: an event starting at `at` shows from
        # the first scrape after it.
        inside = (times > event.at) & (times <= event.end)
        if event.error_ratio is not None:
            bad[inside] = event.error_ratio
        if event.traffic is not None:
            rate[inside] *= event.traffic
        if event.latency_factor is not None:
            factor[inside] = event.latency_factor
        if event.missing is not None:
            missing[(times >= event.at) & (times < event.end)] = 1 if event.missing == "stale" else 2
        if event.stale:
            fresh[inside] = 0
    return Profile(times, rate, bad, factor, missing, fresh)


def _slow_share(median: float, spread: float, threshold: float, factor: Array) -> Array:
    """Share of a log-normal latency (median × factor, sigma ``spread``) above ``threshold``."""
    z = (np.log(threshold) - np.log(median * factor)) / (spread * math.sqrt(2))
    erf = np.vectorize(math.erf)
    return np.asarray(0.5 * (1 - erf(z)), dtype=np.float64)


def _counter(per_second: Array, times: Array) -> Array:
    """Cumulative count at each scrape of events happening at ``per_second`` since the previous one."""
    gaps = np.diff(times, prepend=times[0])
    return np.cumsum(per_second * gaps)


# -- labels matching the SLO's selectors ----------------------------------------------------------


def _candidates(matcher: Matcher) -> list[str]:
    value = matcher.value
    simple = re.sub(r"[\^$()]", "", value.split("|")[0])
    simple = re.sub(r"\\(.)", r"\1", simple.replace(".*", "").replace(".+", "0").replace(".", "0"))
    return [simple, value, "200", "500", "ok", "error", "true", "false", "0", "1", "x"]


def _matches(matcher: Matcher, value: str) -> bool:
    if matcher.op == "=":
        return value == matcher.value
    if matcher.op == "!=":
        return value != matcher.value
    hit = re.fullmatch(matcher.value, value) is not None
    return hit if matcher.op == "=~" else not hit


def _selects(selector: Selector, metric: str, labels: dict[str, str]) -> bool:
    return metric == selector.metric and all(_matches(m, labels.get(m.name, "")) for m in selector.matchers)


def series_labels(selector: Selector, avoid: Selector | None = None) -> dict[str, str]:
    """Concrete labels of a series ``selector`` matches and ``avoid`` does not (e.g. a good request)."""
    names = sorted(selector.label_names() | (avoid.label_names() if avoid else set()))
    options: list[list[str]] = []
    for name in names:
        values: list[str] = []
        for m in (*selector.matchers, *(avoid.matchers if avoid else ())):
            if m.name == name:
                values += _candidates(m)
        options.append(list(dict.fromkeys(values)))
    for combo in itertools.product(*options):
        labels = {n: v for n, v in zip(names, combo, strict=True) if v != ""}
        if _selects(selector, selector.metric, labels) and not (
            avoid is not None and _selects(avoid, selector.metric, labels)
        ):
            return labels
    wanted = selector.render() + (f" but not {avoid.render()}" if avoid else "")
    raise ScenarioError(f"cannot make up labels for a series matching {wanted}")


# -- series ----------------------------------------------------------------------------------------


def _series(metric: str, labels: dict[str, str], times: Array, values: Array, missing: Array,
            store: Store) -> None:
    values = np.where(missing == 1, np.nan, values)
    keep = missing != 2
    store.add(labels_of({**labels, NAME: metric}), Series(times[keep], values[keep], INPUT))


def raw_series(slo: SLO, scenario: Scenario) -> Store:
    """The raw series the SLO's selectors read, as Prometheus would have stored them."""
    p = profile(scenario)
    store = Store()
    if slo.kind == "freshness":
        selector = slo.selectors["timestamp"]
        updates = np.floor(p.times / scenario.update_interval) * scenario.update_interval
        stamp = np.maximum.accumulate(np.where(p.fresh > 0, updates, -np.inf))
        stamp = np.where(np.isfinite(stamp), stamp, 0.0)
        _series(selector.metric, series_labels(selector), p.times, stamp, p.missing, store)
        return store
    if slo.kind == "latency":
        assert slo.latency_threshold is not None
        good_sel, total_sel = slo.selectors["good"], slo.selectors["total"]
        slow = bad_share(slo, scenario, p)  # errorRatio on a latency SLO: that share is slow
        base = series_labels(total_sel)
        # Counters are sums of their own increments: a difference of two sums can step back by a
        # rounding error, which Prometheus reads as a counter reset (a huge false rate).
        good = _counter(p.rate * (1 - slow), p.times)
        total = good + _counter(p.rate * slow, p.times)
        le = _le_value(slo.latency_threshold)
        _series(good_sel.metric, {**base, "le": le}, p.times, good, p.missing, store)
        _series(good_sel.metric, {**base, "le": "+Inf"}, p.times, total, p.missing, store)
        _series(total_sel.metric, base, p.times, total, p.missing, store)
        return store
    rate, share, times = p.rate, p.bad_share, p.times
    bad = _counter(rate * share, times)
    good = _counter(rate * (1 - share), times)
    total = good + bad
    if slo.kind == "accuracy" and scenario.feedback_delay > 0:
        # Ground truth for what was served at t is counted at t + delay.
        delay = round(scenario.feedback_delay / scenario.scrape_interval)
        total = np.concatenate((np.zeros(delay), total))[: len(times)]
        bad = np.concatenate((np.zeros(delay), bad))[: len(times)]
        good = np.concatenate((np.zeros(delay), good))[: len(times)]
    total_sel = slo.selectors["total"]
    if "bad" in slo.selectors:
        bad_sel = slo.selectors["bad"]
        if bad_sel.metric == total_sel.metric:
            _series(bad_sel.metric, series_labels(bad_sel, None), times, bad, p.missing, store)
            good_labels = series_labels(total_sel, bad_sel)
            _series(total_sel.metric, good_labels, times, good, p.missing, store)
        else:
            _series(bad_sel.metric, series_labels(bad_sel), times, bad, p.missing, store)
            _series(total_sel.metric, series_labels(total_sel), times, total, p.missing, store)
        return store
    good_sel = slo.selectors["good"]
    if good_sel.metric == total_sel.metric:
        _series(good_sel.metric, series_labels(good_sel), times, good, p.missing, store)
        _series(total_sel.metric, series_labels(total_sel, good_sel), times, bad, p.missing, store)
    else:
        _series(good_sel.metric, series_labels(good_sel), times, good, p.missing, store)
        _series(total_sel.metric, series_labels(total_sel), times, total, p.missing, store)
    return store


def _le_value(threshold: Decimal) -> str:
    """The bucket label a Go client writes for the threshold (one of the spellings the rules accept)."""
    pattern = le_matcher(threshold).value
    return pattern.split("|")[0].replace("\\", "")


def promtool_series(store: Store, scrape_interval: float, duration: float) -> list[dict[str, str]]:
    """The store as a promtool test's ``input_series`` (explicit values; ``_`` and ``stale`` kept)."""
    slots = round(duration / scrape_interval) + 1
    out = []
    for labels, series in store.series.items():
        values = ["_"] * slots
        for t, v in zip(series.times, series.values, strict=True):
            slot = round(t / scrape_interval)
            values[slot] = "stale" if np.isnan(v) else repr(float(v))
        name = dict(labels).get(NAME, "")
        inner = ",".join(f'{k}="{v}"' for k, v in labels if k != NAME)
        out.append({"series": f"{name}{{{inner}}}", "values": " ".join(values)})
    return out


def bad_share(slo: SLO, scenario: Scenario, p: Profile) -> Array:
    if slo.kind == "latency" and slo.latency_threshold is not None:
        slow = _slow_share(scenario.latency_median, scenario.latency_spread, float(slo.latency_threshold),
                           p.latency_factor)
        return np.maximum(slow, p.bad_share)
    return p.bad_share


def budget_spent(slo: SLO, scenario: Scenario, start: float, until: float) -> float:
    """Percent of the window's budget the scenario's bad events in (start, until] spend, against the
    traffic of a whole window at the scenario's average rate (the truth, not what the rules see)."""
    p = profile(scenario)
    gaps = np.diff(p.times, prepend=p.times[0])
    events = p.rate * gaps
    bad = events * bad_share(slo, scenario, p)
    inside = (p.times > start) & (p.times <= until)
    average = float(np.sum(events)) / max(float(p.times[-1]), 1.0)
    if average <= 0:
        return 0.0
    return 100.0 * float(np.sum(bad[inside])) / (float(slo.error_budget) * average * slo.window)
