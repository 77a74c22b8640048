"""Availability: the share of requests that did not fail, from a counter of errors and one of all."""

from __future__ import annotations

from pydantic import Field, field_validator

from slo_operator.indicators.base import IndicatorKind, Resolution, counter_events
from slo_operator.schema import ApiModel, Selector, check_selector
from slo_operator.selectors import parse_selector


class AvailabilityIndicator(ApiModel):
    """Share of requests that did not fail, from two counters."""

    errors: Selector = Field(description="Counter of failed requests (e.g. 5xx responses only).")
    total: Selector = Field(description="Counter of all requests that count towards the SLO.")

    _selectors = field_validator("errors", "total")(check_selector)


def resolve(model: AvailabilityIndicator) -> Resolution:
    return Resolution({"bad": parse_selector(model.errors), "total": parse_selector(model.total)})


KIND = IndicatorKind(
    name="availability",
    model=AvailabilityIndicator,
    description="requests that did not fail",
    resolve=resolve,
    series=counter_events,
)
