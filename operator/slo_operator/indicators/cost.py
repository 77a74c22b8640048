"""Cost: the share of time slices whose cost per unit (prediction, request, token) is at most a maximum.

Spend comes from one of two sources. ``dollars``: a counter of money spent that the service exports
itself (e.g. CPU seconds × a configured price). ``opencost``: OpenCost's metrics, the cost of the
workload's pods = their allocation × the hourly price of the node they run on, read from
``container_cpu_allocation``, ``container_memory_allocation_bytes`` and ``container_gpu_allocation``
(labels ``namespace``, ``pod``, ``container``, ``node``) joined on ``node`` with
``node_cpu_hourly_cost`` (per vCPU), ``node_ram_hourly_cost`` (per GiB) and ``node_gpu_hourly_cost``
(per GPU). Allocations are summed per node and prices taken once per node before the product, so the
join is one-to-one whatever other labels (``instance``, ``instance_type``, ``region``) the price series
carry. GPU terms count only where GPUs are allocated.

A slice is good when spend / units over the slice is at or below ``maxCostPerUnit``; a slice without
units (idle hours) has no cost per unit and is no data: never a division by zero, never a bad slice.
The optional spend ``budget`` (an amount of money per calendar month or per SLO window) is turned into
recorded series and alerts by ``spend``.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic.config import JsonDict

from slo_operator.indicators.base import CostParams, IndicatorKind, Resolution
from slo_operator.promql import counter_range, number, rate_sum
from slo_operator.schema import ApiModel, Selector, check_selector
from slo_operator.selectors import Matcher, parse_selector
from slo_operator.selectors import Selector as ParsedSelector

if TYPE_CHECKING:
    from slo_operator.model import SLO

# A positive decimal with at most 12 significant digits (what ``promql.exact`` writes without rounding).
DECIMAL_PATTERN = r"^[0-9]+([.][0-9]+)?$"
DECIMAL_MAX_LENGTH = 32
SIGNIFICANT_DIGITS = 12
NAMESPACE_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
GIB = 1073741824
# OpenCost's metric names (allocation per container, price per node and hour).
OPENCOST_ALLOCATION = {
    "cpu": "container_cpu_allocation",
    "memory": "container_memory_allocation_bytes",
    "gpu": "container_gpu_allocation",
}
OPENCOST_PRICE = {
    "cpu": "node_cpu_hourly_cost",
    "memory": "node_ram_hourly_cost",
    "gpu": "node_gpu_hourly_cost",
}
EXAMPLES = {"budget.amount": "2000", "cost.maxCostPerUnit": "0.0004"}


def _hint(field: str) -> str:
    return f'a positive decimal string such as "{EXAMPLES.get(field, "0.0004")}" (quoted in YAML)'


def _decimal_rule(path: str, field: str) -> JsonDict:
    return {
        "rule": f"{path}.matches('{DECIMAL_PATTERN}') && {path}.matches('[1-9]')",
        "message": f"{field} must be {_hint(field)}",
    }


def parse_decimal(value: str, field: str) -> Decimal:
    """``value`` as an exact positive Decimal, or ValueError naming ``field`` and the fix."""
    if not re.match(DECIMAL_PATTERN, value):
        raise ValueError(f"{field} must be {_hint(field)}, not {value!r}")
    try:
        amount = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise ValueError(f"{field} must be {_hint(field)}") from None
    if amount <= 0:
        raise ValueError(f"{field} must be greater than zero (got {value!r})")
    if len(amount.normalize().as_tuple().digits) > SIGNIFICANT_DIGITS:
        raise ValueError(
            f"{field} has more than {SIGNIFICANT_DIGITS} significant digits ({value!r}); rules could not "
            "write it exactly: round it"
        )
    return amount


class OpenCostSpend(ApiModel):
    """Spend of the workload's pods from OpenCost's allocation and node price metrics."""

    namespace: str = Field(
        max_length=63, pattern=NAMESPACE_PATTERN, description="Namespace of the workload's pods."
    )
    pods: str = Field(
        min_length=1,
        max_length=253,
        description="Regular expression (RE2, anchored) matching the names of the workload's pods, e.g. "
        "`cancer-classifier-.*`; matched against OpenCost's `pod` label.",
    )
    container: str | None = Field(
        default=None,
        min_length=1,
        max_length=253,
        description="Optional regular expression on OpenCost's `container` label (default: every container "
        "of the pods, sidecars included).",
    )

    @field_validator("pods", "container")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"{value!r} is not a valid regular expression ({exc})") from None
        return value


class CostBudget(ApiModel):
    """How much may be spent per period; an alert fires when the spend would exceed it."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                _decimal_rule("self.amount", "budget.amount"),
                {
                    "rule": "self.currency.matches('^[A-Z]{3}$')",
                    "message": "budget.currency must be a 3-letter ISO 4217 code in capitals, e.g. USD",
                },
            ]
        }
    )

    amount: str = Field(
        min_length=1,
        max_length=DECIMAL_MAX_LENGTH,
        description='Money that may be spent per period, a decimal string such as `"2000"`.',
    )
    currency: str = Field(
        min_length=3, max_length=3, description="ISO 4217 code of the amount and of the spend, e.g. `USD`."
    )
    period: Literal["month", "window"] = Field(
        default="month",
        description="`month`: each calendar month (UTC), spend since the 1st projected to the month's end; "
        "`window`: the SLO's rolling window.",
    )

    @field_validator("amount")
    @classmethod
    def _amount(cls, value: str) -> str:
        parse_decimal(value, "budget.amount")
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not re.match(r"^[A-Z]{3}$", value):
            raise ValueError(
                f"budget.currency must be a 3-letter ISO 4217 code in capitals, e.g. USD, not {value!r}"
            )
        return value


class CostIndicator(ApiModel):
    """Share of time slices whose cost per unit is at most maxCostPerUnit, and an optional spend budget."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.dollars) != has(self.opencost)",
                    "message": "cost: set exactly one spend source: dollars (a counter of money spent) or "
                    "opencost (namespace and pods of the workload)",
                },
                _decimal_rule("self.maxCostPerUnit", "cost.maxCostPerUnit"),
            ]
        }
    )

    dollars: Selector | None = Field(
        default=None,
        description="Counter of money spent, in the budget's currency, e.g. "
        "`model_serving_cost_dollars_total`.",
    )
    opencost: OpenCostSpend | None = Field(
        default=None, description="Spend from OpenCost's metrics: allocation × node price of the pods."
    )
    units: Selector = Field(
        description="Counter of the units the spend buys: predictions, requests, tokens, e.g. "
        '`bentoml_service_request_total{endpoint="/predict"}`.'
    )
    max_cost_per_unit: str = Field(
        min_length=1,
        max_length=DECIMAL_MAX_LENGTH,
        description='A slice is good when its spend per unit is at most this, a decimal string: `"0.0004"` '
        "is $0.40 per 1,000 units.",
    )
    budget: CostBudget | None = Field(
        default=None, description="Optional spend budget per calendar month or per SLO window."
    )

    @field_validator("dollars", "units")
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        return None if value is None else check_selector(value)

    @field_validator("max_cost_per_unit")
    @classmethod
    def _max(cls, value: str) -> str:
        parse_decimal(value, "cost.maxCostPerUnit")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> CostIndicator:
        if (self.dollars is None) == (self.opencost is None):
            raise ValueError(
                "cost: set exactly one spend source: dollars (a counter of money spent) or opencost "
                "(namespace and pods of the workload)"
            )
        return self


def resolve(model: CostIndicator) -> Resolution:
    selectors: dict[str, ParsedSelector] = {"units": parse_selector(model.units)}
    if model.dollars is not None:
        selectors["dollars"] = parse_selector(model.dollars)
    else:
        assert model.opencost is not None
        spend = model.opencost
        pods = [Matcher("namespace", "=", spend.namespace), Matcher("pod", "=~", spend.pods)]
        if model.opencost.container is not None:
            pods.append(Matcher("container", "=~", model.opencost.container))
        for resource, metric in OPENCOST_ALLOCATION.items():
            selectors[f"opencost_{resource}"] = ParsedSelector(metric, tuple(pods))
        for resource, metric in OPENCOST_PRICE.items():
            selectors[f"opencost_{resource}_price"] = ParsedSelector(metric)
    budget = model.budget
    return Resolution(
        selectors,
        cost=CostParams(
            max_per_unit=parse_decimal(model.max_cost_per_unit, "cost.maxCostPerUnit"),
            source="dollars" if model.dollars is not None else "opencost",
            budget=None if budget is None else parse_decimal(budget.amount, "budget.amount"),
            currency=None if budget is None else budget.currency,
            period=None if budget is None else budget.period,
        ),
    )


def spend_rate(slo: SLO, window: int) -> str:
    """Money spent per second over ``window`` (raw series; no labels)."""
    if "dollars" in slo.selectors:
        return rate_sum(slo.selectors["dollars"], window, slo)
    terms = []
    for resource, scale in (("cpu", ""), ("memory", f" / {GIB}"), ("gpu", "")):
        allocation = slo.selectors[f"opencost_{resource}"].render()
        price = slo.selectors[f"opencost_{resource}_price"].render()
        rng = counter_range(window)
        term = (
            f"sum (sum by (node) (avg_over_time({allocation}{rng})){scale}\n"
            f"  * on (node) max by (node) (avg_over_time({price}{rng})))"
        )
        # A workload without GPUs has no GPU allocation: its GPU term is 0, not a missing sum.
        terms.append(f"({term} or vector(0))" if resource == "gpu" else term)
    return "(\n" + "\n+ ".join(terms) + "\n) / 3600"


def units_rate(slo: SLO, window: int) -> str:
    return rate_sum(slo.selectors["units"], window, slo)


def per_unit(slo: SLO, window: int) -> str:
    """Spend per unit over ``window``; no data when no unit was produced (idle)."""
    return f"({spend_rate(slo, window)}) / ({units_rate(slo, window)} > 0)"


def series(slo: SLO, window: int) -> tuple[str, str]:
    """(1 when the slice's cost per unit is above the maximum, 1 for every slice with units)."""
    assert slo.cost is not None
    ratio = per_unit(slo, window)
    return f"({ratio}) > bool {number(slo.cost.max_per_unit)}", f"clamp({ratio}, 1, 1)"


KIND = IndicatorKind(
    name="cost",
    model=CostIndicator,
    description="time slices whose cost per unit is at most maxCostPerUnit",
    resolve=resolve,
    series=series,
    measures="slices",
    methods=("Timeslices",),
)
