"""Replay: the raw series an SLO reads, fetched from Prometheus over a past range, as simulator input.

Prometheus does not return stale markers from range queries, so a hole longer than twice a series'
usual scrape interval is read as failed scrapes (a stale marker one interval after the last sample,
what Prometheus writes when a target goes down); shorter holes stay gaps, covered by the 5m lookback.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

import numpy as np

from slo_operator.durations import format_duration
from slo_operator.evaluator import INPUT, Series, Store, labels_of
from slo_operator.model import SLO
from slo_operator.prometheus import PrometheusClient

CHUNK = 6 * 3600  # seconds of raw samples per request: ~1440 samples per series at a 15s scrape


def raw_selectors(slo: SLO) -> list[str]:
    """Selectors of every raw series the SLO's rules read (histogram buckets of the threshold only)."""
    from slo_operator.promql import le_matcher

    out = []
    for role, selector in slo.selectors.items():
        if slo.kind == "latency" and role == "good" and slo.latency_threshold is not None:
            selector = selector.with_matcher(le_matcher(slo.latency_threshold))
        out.append(selector.render())
    return list(dict.fromkeys(out))


def with_stale_markers(times: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(times) < 3:
        return times, values
    usual = float(np.median(np.diff(times)))
    holes = np.flatnonzero(np.diff(times) > 2 * usual)
    if not len(holes):
        return times, values
    marks = times[holes] + usual
    merged_t = np.concatenate((times, marks))
    merged_v = np.concatenate((values, np.full(len(marks), math.nan)))
    order = np.argsort(merged_t, kind="stable")
    return merged_t[order], merged_v[order]


def fetch(
    client: PrometheusClient, slo: SLO, start: float, end: float,
    progress: Callable[[str], None] | None = None,
) -> Store:
    """Raw samples of the SLO's selectors in ``(start - base window, end]`` (Unix times, so ``time()``
    in the rules means what it meant to Prometheus)."""
    report = progress or (lambda text: print(text, file=sys.stderr))
    first = start - slo.base_window - 60
    found: dict[tuple[tuple[str, str], ...], dict[float, float]] = {}
    chunks = max(1, math.ceil((end - first) / CHUNK))
    selectors = raw_selectors(slo)
    done = 0
    for selector in selectors:
        upper = end
        while upper > first:
            width = min(CHUNK, upper - first)
            for labels, points in client.raw_samples(selector, upper, format_duration(math.ceil(width))):
                samples = found.setdefault(labels_of(labels), {})
                for t, v in points:
                    if t > first:
                        samples[t] = v
            upper -= width
            done += 1
            report(f"replay: {done}/{chunks * len(selectors)} requests ({selector})")
    store = Store()
    for key, samples in found.items():
        times = np.asarray(sorted(samples), dtype=np.float64)
        values = np.asarray([samples[t] for t in sorted(samples)], dtype=np.float64)
        times, values = with_stale_markers(times, values)
        store.add(key, Series(times, values, INPUT))
    return store
