"""Accuracy: the share of predictions that ground-truth feedback found correct, from two counters."""

from __future__ import annotations

from pydantic import Field, field_validator

from slo_operator.indicators.base import IndicatorKind, Resolution, counter_events
from slo_operator.schema import ApiModel, Selector, check_selector
from slo_operator.selectors import parse_selector


class AccuracyIndicator(ApiModel):
    """Share of predictions that ground-truth feedback found correct, from two counters."""

    correct: Selector = Field(description="Counter of evaluated predictions that were correct.")
    total: Selector = Field(description="Counter of predictions evaluated against ground truth.")

    _selectors = field_validator("correct", "total")(check_selector)


def resolve(model: AccuracyIndicator) -> Resolution:
    return Resolution({"good": parse_selector(model.correct), "total": parse_selector(model.total)})


KIND = IndicatorKind(
    name="accuracy",
    model=AccuracyIndicator,
    description="predictions found correct by ground-truth feedback",
    resolve=resolve,
    series=counter_events,
)
