"""Building blocks of the API models, shared by ``api`` and the indicator modules (``indicators``).

Kept apart from ``api`` so an indicator kind's module can declare its API model without importing the
whole spec (which itself lists the indicator kinds).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from slo_operator.durations import DURATION_PATTERN, WINDOW_PATTERN
from slo_operator.selectors import SelectorError, parse_selector

# CEL helper: seconds in a single-unit window such as "30d" (windows are restricted to that form).
_SECS = (
    "int({0}.substring(0, {0}.size() - 1)) * ({0}.endsWith('w') ? 604800 : {0}.endsWith('d') ? 86400 : "
    "{0}.endsWith('h') ? 3600 : {0}.endsWith('m') ? 60 : 1)"
)


def cel_seconds(path: str) -> str:
    """CEL expression for the seconds in the single-unit window at ``path``."""
    return "(" + _SECS.format(path) + ")"


Selector = Annotated[
    str,
    Field(
        min_length=1,
        max_length=1024,
        description=(
            "A PromQL vector selector: a metric name with optional label matchers, e.g. "
            '`bentoml_service_request_total{endpoint="/predict",http_response_code=~"5.."}`. '
            "Nothing else (no functions, ranges, offset or operators): slo-operator builds the queries."
        ),
    ),
]
Window = Annotated[
    str,
    Field(
        pattern=WINDOW_PATTERN,
        max_length=8,
        description="A window: one whole number and one unit of s, m, h, d or w, e.g. `5m`, `1h`, `30d`.",
    ),
]
Duration = Annotated[
    str,
    Field(pattern=DURATION_PATTERN, max_length=32, description="A Prometheus duration, e.g. `200ms`, `1h`."),
]


class ApiModel(BaseModel):
    """Base of every spec model: camelCase aliases, unknown fields refused, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, validate_default=True
    )


def check_selector(value: str) -> str:
    """Field validator: ``value`` must parse as a plain vector selector."""
    try:
        parse_selector(value)
    except SelectorError as exc:
        raise ValueError(f"{value!r} {exc}") from None
    return value
