"""The indicator registry: one entry (an ``IndicatorKind``) per kind of ``spec.indicator``.

Each kind lives in its own module with its API model, how its selectors resolve and its base series;
``api`` builds ``spec.indicator`` and the spec's CEL rules from this table, ``model`` resolves through
it and ``rules`` reads the base series from it. Adding a kind: write ``indicators/<kind>.py`` with a
``KIND`` entry (copy ``availability.py``), list it in ``KINDS`` below, add its field to
``api.Indicator`` (a test checks the two agree), add golden cases under ``tests/golden/cases/`` (a test
checks every kind has them) and run ``make generate``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slo_operator.indicators import accuracy, availability, cost, freshness, latency, ratio
from slo_operator.indicators.base import IndicatorKind, Resolution
from slo_operator.promql import number, on

if TYPE_CHECKING:
    from slo_operator.model import SLO

KINDS: tuple[IndicatorKind, ...] = (
    availability.KIND, latency.KIND, accuracy.KIND, freshness.KIND, ratio.KIND, cost.KIND,
)
INDICATORS: dict[str, IndicatorKind] = {kind.name: kind for kind in KINDS}

__all__ = ["INDICATORS", "KINDS", "IndicatorKind", "Resolution", "base_series"]


def base_series(slo: SLO) -> tuple[str, str]:
    """Expressions for the two base series every window is derived from.

    Occurrences: bad and total events per second over the base window. Timeslices: per evaluation, 1 if
    the current slice is bad (0 if good) and 1 for every slice with data, so the ratio of their sums over
    a window is the share of bad slices. Kinds measured in time give slices directly.
    """
    kind = INDICATORS[slo.kind]
    bad, total = kind.series(slo, slo.base_window)
    if kind.measures != "events" or slo.method == "Occurrences":
        return bad, total
    assert slo.slice_goal is not None
    ratio = f"({bad} / {on(slo)}({total} > 0))"
    return f"{ratio} > bool {number(1 - slo.slice_goal)}", f"clamp({ratio}, 1, 1)"
