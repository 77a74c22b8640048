"""Latency: the share of requests served at or under a threshold, from a Prometheus histogram.

Good requests are read from the bucket whose ``le`` equals the threshold; there is no fallback to a
neighbouring bucket, so a threshold without its bucket reads as no data, never as "every request was
slow".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from slo_operator.durations import DurationError, parse_duration
from slo_operator.indicators.base import IndicatorKind, Resolution
from slo_operator.promql import le_matcher, on, rate_sum
from slo_operator.schema import ApiModel, Duration, Selector, check_selector
from slo_operator.selectors import parse_selector

if TYPE_CHECKING:
    from slo_operator.model import SLO


class LatencyIndicator(ApiModel):
    """Share of requests served at or under a latency threshold, from a Prometheus histogram."""

    histogram: Selector = Field(
        description=(
            "The histogram's base name with label matchers, e.g. "
            '`http_request_duration_seconds{job="api"}`; slo-operator reads its `_bucket` series '
            "(the bucket whose `le` equals the threshold) and its `_count` series."
        )
    )
    threshold: Duration = Field(
        description=(
            "Requests at or under this duration are good, e.g. `200ms`. The histogram must have a bucket "
            "with exactly this upper bound, otherwise the SLI cannot be measured."
        )
    )

    _selectors = field_validator("histogram")(check_selector)

    @field_validator("histogram")
    @classmethod
    def _base_name(cls, value: str) -> str:
        selector = parse_selector(value)
        for suffix in ("_bucket", "_count", "_sum"):
            if selector.metric.endswith(suffix):
                raise ValueError(
                    f"name the histogram without its {suffix} suffix "
                    f"(e.g. {selector.metric.removesuffix(suffix)}); slo-operator adds _bucket and _count"
                )
        if "le" in selector.label_names():
            raise ValueError("must not match on 'le': the bucket is chosen from threshold")
        return value

    @field_validator("threshold")
    @classmethod
    def _threshold(cls, value: str) -> str:
        try:
            parse_duration(value)
        except DurationError as exc:
            raise ValueError(str(exc)) from None
        return value


def resolve(model: LatencyIndicator) -> Resolution:
    base = parse_selector(model.histogram)
    return Resolution(
        {
            "good": base.with_metric(base.metric + "_bucket"),
            "total": base.with_metric(base.metric + "_count"),
        },
        latency_threshold=parse_duration(model.threshold),
    )


def series(slo: SLO, window: int) -> tuple[str, str]:
    """(slow requests, all requests) per second: all minus those in the threshold's bucket."""
    assert slo.latency_threshold is not None
    total = rate_sum(slo.selectors["total"], window, slo)
    good = rate_sum(slo.selectors["good"].with_matcher(le_matcher(slo.latency_threshold)), window, slo)
    return f"clamp_min({total} - {on(slo)}{good}, 0)", total


KIND = IndicatorKind(
    name="latency",
    model=LatencyIndicator,
    description="requests served at or under a latency threshold",
    resolve=resolve,
    series=series,
)
