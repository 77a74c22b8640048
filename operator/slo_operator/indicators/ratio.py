"""Ratio: the generic form, a counter of good (or bad) events over a counter of all events."""

from __future__ import annotations

from pydantic import ConfigDict, Field, field_validator, model_validator

from slo_operator.indicators.base import IndicatorKind, Resolution, counter_events
from slo_operator.schema import ApiModel, Selector, check_selector
from slo_operator.selectors import parse_selector


class RatioIndicator(ApiModel):
    """Generic ratio of two counters: give `good` or `bad`, and `total`."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.good) != has(self.bad)",
                    "message": "set exactly one of good or bad (together with total)",
                }
            ]
        }
    )

    good: Selector | None = Field(default=None, description="Counter of good events.")
    bad: Selector | None = Field(default=None, description="Counter of bad events.")
    total: Selector = Field(description="Counter of all events.")

    @field_validator("good", "bad", "total")
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        return None if value is None else check_selector(value)

    @model_validator(mode="after")
    def _one_of(self) -> RatioIndicator:
        if (self.good is None) == (self.bad is None):
            raise ValueError("set exactly one of good or bad (together with total)")
        return self


def resolve(model: RatioIndicator) -> Resolution:
    selectors = {"total": parse_selector(model.total)}
    if model.good is not None:
        selectors["good"] = parse_selector(model.good)
    if model.bad is not None:
        selectors["bad"] = parse_selector(model.bad)
    return Resolution(selectors)


KIND = IndicatorKind(
    name="ratio",
    model=RatioIndicator,
    description="good events out of all events, from any two counters",
    resolve=resolve,
    series=counter_events,
)
