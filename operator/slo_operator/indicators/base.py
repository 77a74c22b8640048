"""What an indicator kind provides (``IndicatorKind``) and the counter-based series most kinds share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from slo_operator.promql import on, rate_sum
from slo_operator.selectors import Selector

if TYPE_CHECKING:
    from slo_operator.model import SLO


@dataclass(frozen=True)
class CostParams:
    """A cost indicator's numbers: the maximum cost per unit and the optional spend budget."""

    max_per_unit: Decimal
    source: Literal["dollars", "opencost"]
    budget: Decimal | None = None
    currency: str | None = None
    period: Literal["month", "window"] | None = None


@dataclass(frozen=True)
class Resolution:
    """What the resolved model keeps of an indicator: its parsed selectors and parameters."""

    selectors: dict[str, Selector]
    latency_threshold: Decimal | None = None
    max_age: int | None = None
    cost: CostParams | None = None


@dataclass(frozen=True)
class IndicatorKind:
    """One kind of indicator: everything the engine needs to know about it, in one place.

    ``name`` is its field under ``spec.indicator``; ``model`` its API model (the CRD schema and the
    ``kubectl explain`` text come from it); ``methods`` the budgeting methods it allows, the default
    first; ``resolve`` turns the validated model into parsed selectors and parameters; ``series`` gives
    the two base series every window is derived from, over a window in seconds.

    ``measures`` says what ``series`` counts. ``"events"``: (bad, total) events per second — the
    generic code turns them into timeslices when the SLO asks for it. ``"time"``: (bad, total) slices
    already, 1 or 0 per evaluation (freshness), so the kind is measured in timeslices only and needs
    no ``timeslices`` settings. ``"slices"``: (bad, total) slices over the window it is given, which is
    the SLO's ``timeslices.sliceSize`` (cost: a slice is bad when its cost per unit is too high); measured
    in timeslices only, ``timeslices.goal`` does not apply.
    """

    name: str
    model: type[BaseModel]
    description: str
    resolve: Callable[[Any], Resolution]
    series: Callable[[SLO, int], tuple[str, str]]
    measures: Literal["events", "time", "slices"] = "events"
    methods: tuple[str, ...] = ("Occurrences", "Timeslices")

    @property
    def default_method(self) -> str:
        return self.methods[0]


def counter_events(slo: SLO, window: int) -> tuple[str, str]:
    """(bad, total) per second from counters: ``bad`` and ``total``, or ``good`` and ``total``."""
    total = rate_sum(slo.selectors["total"], window, slo)
    if "bad" in slo.selectors:
        bad = rate_sum(slo.selectors["bad"], window, slo)
        # A counter of errors that has never been incremented may not exist yet: that means 0 errors.
        return f"({bad} or {on(slo)}(0 * {total}))", total
    good = rate_sum(slo.selectors["good"], window, slo)
    return f"clamp_min({total} - {on(slo)}({good} or {on(slo)}(0 * {total})), 0)", total
