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
stale — and the result does not depend on how often the coarse group runs (a running sum can be
copied at any cadence; a sum of per-hour sums double-counts when evaluated more often than hourly,
as ``promtool test rules`` does, and loses an hour when one evaluation is missed).

**No rule that runs every 30 seconds reads far back.** A rule is one query, and Prometheus opens every
TSDB block the union of its selectors' ranges touches and looks up every selector in each of them: a
30s rule with one selector reaching back 30 days pays for every block of a month, however few samples
it reads. So the reads are split by how often they run:

- The fine running sum (every 30s) looks back ``CARRY`` (2h) only: its previous value is the newest
  sample of either tier in the last two hours (``previous``). When there is none it records nothing.
- The coarse copy (hourly) carries itself: the newest running-sum value of the last two hours, else its
  own last value within the longest window (the one read that reaches far back, once an hour), else 0
  for a brand-new SLO whose start has not run yet.
- The start (``tier="start"``, in the slow group, every 2m) records 0 for a brand-new SLO: when it has a
  base sample and no coarse copy or start within the longest window. That 0 is what starts the fine
  running sum, within one slow interval of the base series. Its far read is of the sparse tiers only
  (one copy an hour), and once it has recorded its own 0 is inside the window, so it records nothing
  more.
- A window's S(t - W) reads two hours before t - W and the sparse copies (coarse and start) inside the
  window (below), so its query spans W + 2h, not 2W.

Reads per evaluation: S(t) one sample; S(t - W) the samples of the two hours before t - W and the
window's coarse copies (~720 for 30 days). Which tiers exist follows the SLO's windows (``plan``):
windows up to 6h are read from the base series directly in the fast group (``rules``), longer ones from
the running sums, and the coarse interval is the longest window / 720 (1h for 30d, 5m at least).

The running sums never decrease (base rates are never negative) while they continue, and a sum that
resumes after a long outage resumes from the coarse copy, which never decreases either. So the newest
value of either tier is the larger one (``max``), and the coarse copies inside a window are at least
S(t - W) unless the sum resumed below it.

Gaps:

- The base series has no sample (scrape target gone, no traffic): the running sum carries its last
  value unchanged, so it has a sample at every evaluation the fast group runs.
- A missed evaluation (of either group) or a Prometheus outage up to 2h: the running sum continues from
  the newest value of either tier, nothing lost, nothing counted twice. A missed coarse evaluation
  changes nothing.
- An outage over 2h: the fine running sum records nothing until the coarse group's next evaluation
  (up to one coarse interval after the restart), which carries its last copy; the fine sum then resumes
  from it. Lost: the samples between the last coarse copy and the outage, and those between the restart
  and that coarse evaluation (each at most one coarse interval; the raw events of the outage itself are
  lost to every formulation).
- A brand-new SLO (or rules just upgraded to this form without a coarse copy yet): the start records 0
  at the slow group's first evaluation with a base sample (or the coarse copy does, when its group
  happens to run first), and the fine sum continues from it at the fast group's next evaluation: within
  one slow interval of the base series' first sample. Until a window's far edge passes that start, the
  window is everything the running sum holds, as ``sum_over_time`` gives for a series younger than its
  range, less the base samples before the fine sum's first evaluation (at most one slow interval of
  them). ``coverage`` covers the status while the recorded series are younger than the window.
- An outage longer than the longest window: no copy is left inside it, so the start records 0 and the
  sums start again, as for a new SLO.
- S(t - W) is the newest running-sum value in the two hours up to t - W, or the oldest sparse copy
  (coarse or start) inside the window, whichever is smaller; with neither, 0. The smaller one is right
  in every case: normally the newest value (the copies after t - W are at least as large); after an
  outage over 2h, the copy the sum resumed from, so that the samples it lost are not subtracted again;
  for a young SLO, the start's 0 (then the newest value once t - W has passed it: the start records
  once); and with t - W inside an outage over two hours (nothing recorded in the two hours before it),
  the copy the sum resumed from.

Everything here is PromQL text built from parsed parts (``promql``). The simulator (``evaluator``)
runs the fine running-sum rule with ``running_sum_input`` and ``running_sum`` instead of a recurrence
evaluated instant by instant (starting where the first 0 of the start or the coarse copy starts it), and
the start with ``start_input``;
``window_sum`` takes an ``@`` modifier and extra matchers for queries outside the rules.
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
from slo_operator.promql import BAD_EVENTS, RUNNING_SUMS, TOTAL_EVENTS, by, window_range
from slo_operator.selectors import escape_label_value

if TYPE_CHECKING:
    from slo_operator.model import SLO

# Windows up to this long are summed from the base series in the fast group; longer ones are tiered.
FAST_GROUP_MAX_WINDOW = 6 * 3600
# Coarse samples per longest window: the coarse interval is that window divided by this, in whole
# minutes between COARSE_MIN and COARSE_MAX.
COARSE_SAMPLES = 720
COARSE_MIN = 300
COARSE_MAX = 3600
# How far back the running sums look for their newest value (a Prometheus restart, missed evaluations):
# two coarse intervals at most, so while Prometheus runs there is always a coarse copy within it.
CARRY = 2 * COARSE_MAX
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
    start_label = "start"

    @property
    def coarse_carry(self) -> int:
        """How far back the coarse copy looks for its own last value after an outage over ``CARRY``: the
        longest window. After a longer outage the running sums start again from 0, and no window can
        then reach a value from before it (its far edge's look-up takes the smaller of the values before
        and the copies after, and the first copy after is 0)."""
        return self.longest


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


def _sums(name: str, slo: SLO, extra: tuple[str, ...] = ()) -> str:
    """Both tiers of a running sum (no ``tier`` matcher)."""
    parts = [f"slo={escape_label_value(slo.name)}", f"namespace={escape_label_value(slo.namespace)}", *extra]
    return f"{name}{{{','.join(parts)}}}"


def _newest(name: str, slo: SLO, offset: int | None = None, at: str = "", extra: tuple[str, ...] = ()) -> str:
    """The newest running-sum value of either tier within ``CARRY`` (before ``offset``), one per groupBy
    set: the larger one, since a running sum never decreases within ``CARRY`` (``max`` also folds a
    series whose ``service`` label was edited)."""
    shifted = f" offset {format_duration(offset)}" if offset else ""
    matrix = f"{_sums(name, slo, extra)}[{format_duration(CARRY)}]{shifted}{at}"
    return f"max{by(slo)} (last_over_time({matrix}))"


def _copies(name: str, slo: SLO, extra: tuple[str, ...] = ()) -> str:
    """The running sum's sparse tiers: the coarse copies and the start's 0 (every tier but the fine one)."""
    return _sums(name, slo, (*extra, f"{TIER_LABEL}!={escape_label_value(Tiers.fine_label)}"))


def _coarse_last(name: str, slo: SLO, reach: int, at: str = "", extra: tuple[str, ...] = ()) -> str:
    matrix = f"{_selector(name, slo, Tiers.coarse_label, extra)}[{format_duration(reach)}]{at}"
    return f"max{by(slo)} (last_over_time({matrix}))"


def previous(slo: SLO, base: str) -> str:
    """The running sum's value before this evaluation: its newest value of either tier within ``CARRY``."""
    return _newest(running_sum_name(base), slo)


def running_sum_expr(slo: SLO, base: str, tiers: Tiers) -> str:
    """The fine running sum: the previous value plus the new base sample; the previous value alone when
    there is no new sample; nothing when there is no previous value within ``CARRY`` (a new SLO: the
    start gives one; an outage over 2h: the coarse group's next evaluation does).

    ``sum`` over an ``or`` keeps the new sample and the previous value together (their label sets
    differ: the previous value keeps only the groupBy labels); ``and`` drops a new sample without a
    previous value, so a sum never starts again from 0 and every selector reads at most ``CARRY``.
    """
    last = previous(slo, base)
    return f"sum{by(slo)} (\n  {_base(base, slo)}\n  or {last}\n)\nand {last}"


def coarse_expr(slo: SLO, base: str, tiers: Tiers) -> str:
    """The coarse copy: the running sum's newest value within ``CARRY``; else the copy's own last value
    within the longest window (an outage over ``CARRY``: the fine sum resumes from it); else 0 (a new
    SLO with a base series whose start has not run yet: the fine sum starts from it). The one read
    reaching far back, once per coarse interval."""
    name = running_sum_name(base)
    return (
        f"{_newest(name, slo)}\nor {_coarse_last(name, slo, tiers.coarse_carry)}\n"
        f"or 0 * sum{by(slo)} ({_base(base, slo)})"
    )


def start_expr(slo: SLO, base: str, tiers: Tiers) -> str:
    """The start (slow group): 0 when the SLO has a base sample and no coarse copy or start within the
    longest window, else nothing. The fine sum takes this 0 as its previous value, so a new SLO's
    running sums begin within one slow interval of its base series, not at the coarse group's first
    evaluation (up to an hour). Its one far read is of the sparse tiers, and it records once: its own
    0 is in the window from then on. After an outage over ``CARRY`` the coarse copies inside the
    window are there, so it records nothing and the sums resume from the coarse carry; after one longer
    than the window they start again from 0.

    The 0 is ``0 * sum by (...) (base)``, not ``vector(0)``: a base series that is absent on purpose (a
    latency threshold without its bucket) must leave the windows without data, not at 0 errors."""
    name = running_sum_name(base)
    copies = f"{_copies(name, slo)}[{format_duration(tiers.coarse_carry)}]"
    return f"0 * sum{by(slo)} ({_base(base, slo)})\nunless max{by(slo)} (last_over_time({copies}))"


def far_edge(slo: SLO, base: str, window: int, at: str = "", extra: tuple[str, ...] = ()) -> str:
    """S(t - W): the smaller of the newest running-sum value in the ``CARRY`` before t - W and the oldest
    sparse copy (coarse copy or start) inside the window (either may be missing; see the module's notes
    on gaps). The two have different label sets, so ``or`` keeps both and ``min`` picks."""
    name = running_sum_name(base)
    inside = f"{_copies(name, slo, extra)}{window_range(window)}{at}"
    return (
        f"min{by(slo)} (\n      {_newest(name, slo, window, at, extra)}\n"
        f"      or min_over_time({inside})\n    )"
    )


def window_sum(slo: SLO, base: str, window: int, at: str = "", extra: tuple[str, ...] = ()) -> str:
    """The sum of a base series' samples over (t - W, t], from its running sums (for a dashboard query:
    ``at`` a modifier such as `` @ end()``, ``extra`` more label matchers).

    ``S(t) - (S(t - W) or 0)``. Without groupBy labels every term is one label-free element, so the 0 is
    ``vector(0)`` and S(t) is read once; with groupBy labels the 0 needs S(t)'s labels, so the fallback
    is ``S(t) - S(t - W) or S(t)`` (S(t) read twice). Each ``or`` operand is evaluated at every
    evaluation: this is the part of a long window's cost that does not depend on the samples read. The
    query spans W + ``CARRY``.
    """
    name = running_sum_name(base)
    now = f"max{by(slo)} ({_selector(name, slo, Tiers.fine_label, extra)}{at})"
    then = far_edge(slo, base, window, at, extra)
    if not slo.group_by:
        return f"(\n  {now}\n  - (\n    {then}\n    or vector(0)\n  )\n)"
    return f"(\n  {now}\n  - {then}\n)\nor {now}"


def sum_since(slo: SLO, base: str, start: str, reach: int, extra: tuple[str, ...] = ()) -> str:
    """The sum of a base series' samples after ``start`` (a PromQL timestamp such as Grafana's
    ``${__from:date:seconds}``) up to each t: ``S(t) - (S(start) or 0)``, ``window_sum`` with its far
    edge pinned (for a panel over a range of at most ``reach``, the SLO window). S(start) is the newest
    running-sum value within ``CARRY`` before it, else the last coarse copy up to ``reach`` before it,
    else (the running sums began after ``start``) the oldest sparse copy (coarse or start) in the
    ``reach`` before the range's end: their first, as the window's far edge takes it."""
    name = running_sum_name(base)
    now = f"max{by(slo)} ({_selector(name, slo, Tiers.fine_label, extra)})"
    at = f" @ {start}"
    copies = f"{_copies(name, slo, extra)}{window_range(reach)} @ end()"
    first = f"min{by(slo)} (min_over_time({copies}))"
    then = (
        f"{_newest(name, slo, None, at, extra)}\n    or {_coarse_last(name, slo, reach, at, extra)}\n"
        f"    or {first}"
    )
    zero = f"0 * {now}" if slo.group_by else "vector(0)"
    return f"(\n  {now}\n  - (\n    {then}\n    or {zero}\n  )\n)"


def error_ratio_expr(slo: SLO, window: int) -> str:
    bad, total = window_sum(slo, BAD_EVENTS, window), window_sum(slo, TOTAL_EVENTS, window)
    return f"(\n{bad}\n)\n/\n(\n(\n{total}\n) > 0\n)"


# ---- the simulator's side ------------------------------------------------------------------------------


def _tier(rule: dict[str, Any]) -> str | None:
    """The running sum's tier a rule records (None: not a running sum)."""
    if rule.get("record") not in RUNNING_SUMS.values():
        return None
    return str((rule.get("labels") or {}).get(TIER_LABEL, "")) or None


def _grouping(node: Any) -> str:
    """The ``by (...)`` of the first ``sum`` in a running-sum rule (the SLO's groupBy labels)."""
    found: list[Any] = []

    def visit(expr: Any) -> None:
        if isinstance(expr, promql_parser.AggregateExpr) and str(expr.op).strip() == "sum":
            found.append(expr)

    promql_parser.walk(node, pre_visit=visit)
    if not found:
        raise ValueError("a running-sum rule without a sum of its base series")
    modifier = found[0].modifier
    return f" by ({', '.join(modifier.labels)})" if modifier is not None else ""


def _increment(rule: dict[str, Any], node: Any) -> Any:
    labels = rule.get("labels") or {}
    bases = {name: base for base, name in RUNNING_SUMS.items()}
    selector = _base(bases[rule["record"]], _Named(labels["slo"], labels["namespace"]))
    return promql_parser.parse(f"sum{_grouping(node)} ({selector})")


def running_sum_input(rule: dict[str, Any], node: Any) -> Any | None:
    """For a fine running-sum rule, the parsed expression of its new sample (``sum by (...) (base)``);
    None for any other rule (the coarse copy is evaluated as written). The evaluator integrates that
    input with ``running_sum``, from the first evaluation after the first 0 of the start or the coarse
    copy (``seed_input``)."""
    return _increment(rule, node) if _tier(rule) == Tiers.fine_label else None


def _start_zero(rule: dict[str, Any]) -> str:
    """The start's 0 (its expression before ``unless``)."""
    return str(rule["expr"]).split("\nunless ", 1)[0]


def start_input(rule: dict[str, Any], node: Any) -> Any | None:
    """For a start rule, its 0 (``vector(0)``, or ``0 * sum by (...) (base)``) as a parsed expression;
    None for any other rule. The evaluator records that 0 at the rule's first evaluation where it is
    present unless the coarse copy recorded its own 0 first (then the start never records)."""
    return promql_parser.parse(_start_zero(rule)) if _tier(rule) == Tiers.start_label else None


def seed_input(rule: dict[str, Any], node: Any) -> Any | None:
    """For a start or coarse running-sum rule, the expression whose presence makes its first evaluation
    record the 0 the fine sum starts from (the start's 0; the coarse copy's ``sum by (...) (base)``);
    None for any other rule. The earlier of the two starts the fine sum."""
    if _tier(rule) == Tiers.start_label:
        return start_input(rule, node)
    if _tier(rule) != Tiers.coarse_label:
        return None
    if "slo" not in (rule.get("labels") or {}):
        # A namespace's shared coarse copy (``shared.coarse_expr``): its last operand is the 0.
        return promql_parser.parse(str(rule["expr"]).rsplit("\nor ", 1)[1])
    return _increment(rule, node)


def running_sum(values: npt.NDArray[np.float64], started: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """What the fine running-sum rule records at consecutive evaluations given its input at each (NaN: no
    sample) and whether it has a previous value yet (from the first 0 of the start or the coarse copy on):
    nothing before, then 0 plus the samples so far, carried through missing samples. Added one sample
    at a time, in order, exactly as Prometheus adds them."""
    present = ~np.isnan(values) & started
    out = np.cumsum(np.where(present, values, 0.0))
    return np.where(started, out, np.nan)


# ---- backfilling -----------------------------------------------------------------------------------


def backfill_rule(rule: dict[str, Any], span: int) -> dict[str, Any]:
    """A rule as ``promtool tsdb create-blocks-from rules`` can backfill it.

    The backfill evaluates each rule as one range query over data that exists before it runs, so a rule
    reading its own earlier values (either running sum) would see none. The backfill form of both
    running sums (fine and coarse) sums the base series over ``span`` (longer than the whole history:
    the sum of every sample so far, what a running sum holds) and reads nothing recorded under its own
    name. The start's backfill form records nothing: the backfilled coarse copies begin with the base
    series' first samples, so nothing needs starting (and a 0 recorded later would end up in a window's
    far edge). Every other rule is returned as it is.
    """
    tier = _tier(rule)
    if tier is None:
        return rule
    if tier == Tiers.start_label:
        zero = _start_zero(rule)
        return {**rule, "expr": f"{zero}\nunless {zero}"}
    node = promql_parser.parse(rule["expr"])
    labels = rule.get("labels") or {}
    bases = {name: base for base, name in RUNNING_SUMS.items()}
    if "slo" not in labels:
        # A namespace's shared coarse copy: every series of its namespace's base rate.
        selector = _namespace_base(bases[rule["record"]], node)
        summed = f"sum_over_time({selector}[{format_duration(span)}])"
        return {**rule, "expr": f"sum without (window, service) ({summed})"}
    selector = _base(bases[rule["record"]], _Named(labels["slo"], labels["namespace"]))
    return {**rule, "expr": f"sum{_grouping(node)} (sum_over_time({selector}[{format_duration(span)}]))"}


def _namespace_base(base: str, node: Any) -> str:
    """The base-rate selector of a shared rule (``base{namespace="..."}``), as it is written in it."""
    for selector in _base_selectors(node):
        if selector.name == base:
            return str(selector)
    raise ValueError(f"a shared running-sum rule without {base}")


def _base_selectors(node: Any) -> list[Any]:
    found: list[Any] = []

    def visit(expr: Any) -> None:
        if isinstance(expr, promql_parser.VectorSelector):
            found.append(expr)

    promql_parser.walk(node, pre_visit=visit)
    return found


@dataclass(frozen=True)
class _Named:
    name: str
    namespace: str
