"""Freshness: the share of time the data in use was younger than maxAge, from a gauge of timestamps.

Measured in time, not events: each evaluation is one slice, bad when the newest timestamp is older than
maxAge. So the kind only allows Timeslices and needs no ``timeslices`` settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from slo_operator.durations import parse_window
from slo_operator.indicators.base import IndicatorKind, Resolution
from slo_operator.promql import by, number
from slo_operator.schema import ApiModel, Selector, Window, check_selector
from slo_operator.selectors import parse_selector

if TYPE_CHECKING:
    from slo_operator.model import SLO


class FreshnessIndicator(ApiModel):
    """Share of time the data in use was younger than maxAge, from a gauge of unix timestamps."""

    timestamp: Selector = Field(
        description="Gauge of the unix time (seconds) when the features/model data were last updated."
    )
    max_age: Window = Field(description="Data older than this is stale, e.g. `1h`.")

    _selectors = field_validator("timestamp")(check_selector)


def resolve(model: FreshnessIndicator) -> Resolution:
    return Resolution({"timestamp": parse_selector(model.timestamp)}, max_age=parse_window(model.max_age))


def series(slo: SLO, window: int) -> tuple[str, str]:
    """(1 when the data is stale, 1 when there is data) per evaluation; ``window`` is not used."""
    assert slo.max_age is not None
    newest = f"max{by(slo)} ({slo.selectors['timestamp'].render()})"
    return f"(time() - {newest}) > bool {number(slo.max_age)}", f"clamp({newest}, 1, 1)"


KIND = IndicatorKind(
    name="freshness",
    model=FreshnessIndicator,
    description="time the data in use was younger than maxAge",
    resolve=resolve,
    series=series,
    measures="time",
    methods=("Timeslices",),
)
