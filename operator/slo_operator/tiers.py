"""Long windows from running sums at two resolutions: exact, and a few samples read per evaluation.

A window W of a base series (``slo:bad_events:rate``, ``slo:total_events:rate``) is the sum of its
samples over (t - W, t]. Summing them again at every evaluation (``sum_over_time(x[30d])``) reads
W / interval samples each time: 86,400 per series for 30 days at 30s. Here every base series also
gets a *running sum* in the fast group, ``slo:bad_events:rate_sum{tier="fine"}`` = the sum of all its
samples so far (its previous value plus the new sample), and a coarse copy in a group of its own,
evaluated at the coarse interval (``tier="coarse"``, every hour for a 30d window). A window is then a
difference::

    sum over (t - W, t]  =  S(t) - S(t - W)

where S(t) is the fine running sum at the last evaluation and S(t - W) its value W ago. That is the
same set of samples ``sum_over_time(x[W - 1ms])`` adds up (``promql.window_range``), on Prometheus 2.x
and 3.x alike, so the windows stay exact — the partial newest hour included, nothing is an hour
stale — and the result no longer depends on how often the coarse group runs (a running sum can be
copied at any cadence; a sum of per-hour sums double-counts when evaluated more often than hourly,
as ``promtool test rules`` does, and loses an hour when one evaluation is missed).

Reads per evaluation: S(t) one sample; S(t - W) the last fine sample of the hour before t - W, or,
only when the fine series has a gap there longer than that, the last coarse sample before it. Which
tiers exist follows the SLO's windows (``plan``): windows up to 6h are read from the base series
directly in the fast group (``rules``), longer ones from the running sums, and the coarse interval is
the longest window / 720 (1h for 30d, 5m at least), so a window never reads more than ~720 coarse
samples.

Gaps:

- The base series has no sample (scrape target gone, no traffic): the running sum carries its last
  value unchanged, so it has a sample at every evaluation the fast group runs.
- A missed evaluation (of either group) or a Prometheus restart: the running sum reads its last value
  from the last hour of its own samples, so nothing recorded before the gap is lost, and nothing is
  counted twice. A gap longer than an hour is bridged from the coarse copy (the running sum as of the
  last coarse evaluation before the gap: only samples recorded between that copy and the gap are
  missed, at most one coarse interval). The coarse copy is a fallback only: a missed coarse evaluation
  changes no window.
- S(t - W) inside a gap: the last sample before t - W is the running sum's value through the gap
  (no samples were added while it lasted), found in the hour before t - W, or from the coarse copy.
- No running sum W ago (a young SLO, or the rules were just upgraded to this formulation): the window
  is S(t), everything recorded so far — as ``sum_over_time`` gives for a series younger than its range.
  ``coverage`` covers the status while the recorded series are younger than the window.

Everything here is PromQL text built from parsed parts (``promql``). The simulator (``evaluator``)
runs the running-sum rule with ``running_sum_input`` and ``running_sum`` instead of a recurrence
evaluated instant by instant; ``window_sum`` takes an ``@`` modifier and extra matchers for queries
outside the rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import promql_parser

from slo_operator.durations import format_duration
from slo_operator.promql import BAD_EVENTS, RUNNING_SUMS, TOTAL_EVENTS, by
from slo_operator.selectors import escape_label_value

if TYPE_CHECKING:
    from slo_operator.model import SLO

# Windows up to this long are summed from the base series in the fast group; longer ones are tiered.
FAST_GROUP_MAX_WINDOW = 6 * 3600
# The running sum finds its previous value within this much of its own history (a Prometheus restart,
# a missed evaluation); a longer gap is bridged from the coarse tier.
FINE_CARRY = 3600
# Coarse samples per longest window: the coarse interval is that window divided by this, in whole
# minutes between COARSE_MIN and COARSE_MAX.
COARSE_SAMPLES = 720
COARSE_MIN = 300
COARSE_MAX = 3600
TIER_LABEL = "tier"


@dataclass(frozen=True)
class Tiers:
    """The resolutions an SLO's long windows are read at (seconds)."""

    fine: int  # the fast group's interval: one running-sum sample per evaluation
    coarse: int  # the coarse group's interval
    longest: int  # the longest tiered window

    # The ``tier`` label values. Not the intervals: a changed interval keeps the running sums going.
    fine_label = "fine"
    coarse_label = "coarse"

    @property
    def coarse_carry(self) -> int:
        """How far back the running sum looks for a coarse copy: twice the longest window, so that a
        window's look-up of S(t - W) (which reaches back another window) cannot meet a running sum that
        restarted after a longer outage."""
        return 2 * self.longest


def tiered(window: int) -> bool:
    """Whether a window is read from the running sums (longer than the fast group's windows)."""
    return window > FAST_GROUP_MAX_WINDOW


def coarse_interval(longest: int) -> int:
    """The coarse tier for the longest window: ~COARSE_SAMPLES samples, whole minutes, within bounds."""
    minutes = max(1, math.ceil(longest / COARSE_SAMPLES / 60))
    return min(COARSE_MAX, max(COARSE_MIN, minutes * 60))


def plan(slo: SLO, fast_interval: Decimal | int) -> Tiers | None:
    """The SLO's tiers, or None when none of its windows is long enough to need them."""
    long = [w for w in slo.windows if tiered(w)]
    if not long:
        return None
    fine = Decimal(fast_interval)
    if fine != fine.to_integral_value() or fine < 1:
        raise ValueError(f"the fast interval must be whole seconds for running sums, not {fast_interval}")
    return Tiers(int(fine), coarse_interval(max(long)), max(long))


def running_sum_name(base: str) -> str:
    return RUNNING_SUMS[base]


def _selector(name: str, slo: SLO, tier: str, extra: tuple[str, ...] = ()) -> str:
    parts = [f"slo={escape_label_value(slo.name)}", f"namespace={escape_label_value(slo.namespace)}",
             f"{TIER_LABEL}={escape_label_value(tier)}", *extra]
    return f"{name}{{{','.join(parts)}}}"


def _base(base: str, slo: SLO | _Named) -> str:
    parts = [f"slo={escape_label_value(slo.name)}", f"namespace={escape_label_value(slo.namespace)}"]
    return f"{base}{{{','.join(parts)}}}"


def _latest(name: str, slo: SLO, tier: str, reach: int, offset: int | None = None, at: str = "",
            extra: tuple[str, ...] = ()) -> str:
    """The newest sample within ``reach`` (before ``offset``), one per groupBy set (``max`` folds a
    series whose ``service`` label was edited)."""
    shifted = f" offset {format_duration(offset)}" if offset else ""
    matrix = f"{_selector(name, slo, tier, extra)}[{format_duration(reach)}]{shifted}{at}"
    return f"max{by(slo)} (last_over_time({matrix}))"


def running_sum_expr(slo: SLO, base: str, tiers: Tiers) -> str:
    """The fine running sum: the new base sample plus the previous value; the previous value alone when
    there is no new sample; the new sample alone on the very first evaluation.

    One ``sum`` over an ``or`` of the three inputs, so each selector is evaluated once per evaluation
    (``(new + previous) or new or previous`` reads the deep coarse fallback twice and the base three
    times). ``or`` keeps the new sample and the previous value together (their label sets differ: the
    previous value keeps only the groupBy labels), and the coarse copy only when the fine series has
    nothing in the last hour (same groupBy labels as the fine value).
    """
    name = running_sum_name(base)
    return (
        f"sum{by(slo)} (\n  {_base(base, slo)}\n  or {_latest(name, slo, tiers.fine_label, FINE_CARRY)}\n"
        f"  or {_latest(name, slo, tiers.coarse_label, tiers.coarse_carry)}\n)"
    )


def coarse_expr(slo: SLO, base: str, tiers: Tiers) -> str:
    """The coarse copy: the fine running sum as of the coarse group's evaluation."""
    return f"max{by(slo)} ({_selector(running_sum_name(base), slo, tiers.fine_label)})"


def window_sum(slo: SLO, base: str, window: int, at: str = "", extra: tuple[str, ...] = ()) -> str:
    """The sum of a base series' samples over (t - W, t], from its running sums (for a dashboard query:
    ``at`` a modifier such as `` @ end()``, ``extra`` more label matchers).

    ``S(t) - (S(t - W) or 0)``: a running sum with nothing W ago (a young SLO) counts everything so far.
    Without groupBy labels every term is one label-free element, so the 0 is ``vector(0)`` and S(t) is
    read once; with groupBy labels the 0 needs S(t)'s labels, so the fallback is ``S(t) - S(t - W) or
    S(t)`` (S(t) read twice). Each ``or`` operand is evaluated at every evaluation: this is the part of a
    long window's cost that does not depend on the samples read.
    """
    name = running_sum_name(base)
    now = f"max{by(slo)} ({_selector(name, slo, Tiers.fine_label, extra)}{at})"
    then = (
        f"{_latest(name, slo, Tiers.fine_label, FINE_CARRY, window, at, extra)}\n"
        f"    or {_latest(name, slo, Tiers.coarse_label, window, window, at, extra)}"
    )
    if not slo.group_by:
        return f"(\n  {now}\n  - (\n    {then}\n    or vector(0)\n  )\n)"
    return f"(\n  {now}\n  - (\n    {then}\n  )\n)\nor {now}"


def sum_since(slo: SLO, base: str, start: str, reach: int, extra: tuple[str, ...] = ()) -> str:
    """The sum of a base series' samples after ``start`` (a PromQL timestamp such as Grafana's
    ``${__from:date:seconds}``) up to each t: ``S(t) - (S(start) or 0)``, ``window_sum`` with its far
    edge pinned (for a panel over a range; S(start) is looked up like S(t - W), the coarse copy up to
    ``reach`` before it)."""
    name = running_sum_name(base)
    now = f"max{by(slo)} ({_selector(name, slo, Tiers.fine_label, extra)})"
    at = f" @ {start}"
    then = (
        f"{_latest(name, slo, Tiers.fine_label, FINE_CARRY, None, at, extra)}\n"
        f"    or {_latest(name, slo, Tiers.coarse_label, reach, None, at, extra)}"
    )
    zero = f"0 * {now}" if slo.group_by else "vector(0)"
    return f"(\n  {now}\n  - (\n    {then}\n    or {zero}\n  )\n)"


def error_ratio_expr(slo: SLO, window: int) -> str:
    bad, total = window_sum(slo, BAD_EVENTS, window), window_sum(slo, TOTAL_EVENTS, window)
    return f"(\n{bad}\n)\n/\n(\n(\n{total}\n) > 0\n)"


# ---- the simulator's side ------------------------------------------------------------------------------


def running_sum_input(rule: dict[str, Any], node: Any) -> Any | None:
    """For a fine running-sum rule, the parsed expression of its new sample (``sum by (...) (base)``);
    None for any other rule (the coarse copy is a ``max``). The evaluator integrates that input with
    ``running_sum``."""
    record = rule.get("record")
    bases = {name: base for base, name in RUNNING_SUMS.items()}
    if record not in bases:
        return None
    if not isinstance(node, promql_parser.AggregateExpr) or str(node.op).strip() != "sum":
        return None
    labels = rule.get("labels") or {}
    grouping = f" by ({', '.join(node.modifier.labels)})" if node.modifier is not None else ""
    selector = _base(bases[record], _Named(labels["slo"], labels["namespace"]))
    return promql_parser.parse(f"sum{grouping} ({selector})")


def running_sum(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """What the running-sum rule records at consecutive evaluations given its input at each (NaN: no
    sample): nothing before the first sample, then the sum so far, carried through missing samples.
    Added one sample at a time, in order, exactly as Prometheus adds them."""
    present = ~np.isnan(values)
    out = np.cumsum(np.where(present, values, 0.0))
    started = np.cumsum(present) > 0
    return np.where(started, out, np.nan)


# ---- backfilling -----------------------------------------------------------------------------------


def backfill_rule(rule: dict[str, Any], span: int) -> dict[str, Any]:
    """A rule as ``promtool tsdb create-blocks-from rules`` can backfill it.

    The backfill evaluates each rule as one range query over data that exists before it runs, so a rule
    reading its own earlier values (the fine running sum) would see none and record its input alone.
    The backfill form of both running sums (fine and coarse) sums the base series over ``span`` (longer
    than the whole history: the sum of every sample so far, what a running sum holds) and reads nothing
    recorded under its own name. Every other rule is returned as it is.
    """
    record = rule.get("record")
    bases = {name: base for base, name in RUNNING_SUMS.items()}
    if record not in bases:
        return rule
    node = promql_parser.parse(rule["expr"])
    increment = running_sum_input(rule, node)
    aggregate = increment if increment is not None else node
    if not isinstance(aggregate, promql_parser.AggregateExpr):
        raise ValueError(f"unexpected running-sum rule: {rule['expr']}")
    labels = rule.get("labels") or {}
    selector = _base(bases[record], _Named(labels["slo"], labels["namespace"]))
    grouping = f" by ({', '.join(aggregate.modifier.labels)})" if aggregate.modifier is not None else ""
    return {**rule, "expr": f"sum{grouping} (sum_over_time({selector}[{format_duration(span)}]))"}


@dataclass(frozen=True)
class _Named:
    name: str
    namespace: str
