"""A vectorised evaluator of Prometheus rule groups: the rule expressions slo-operator generates, run on
numpy arrays over every evaluation instant at once.

The simulator does not re-derive the SLO maths: it parses the very PromQL text ``rules.rule_groups``
emits (with ``promql_parser``) and evaluates it with Prometheus' semantics, so a change to windows,
thresholds or edge corrections in the rules is simulated the moment it is generated. What is modelled,
because alert timing depends on it:

- instant selectors look back 5m for the newest sample; a stale marker (NaN here) hides the series;
- range selectors hold the samples of ``[t-W, t]`` (Prometheus 2) or ``(t-W, t]`` (Prometheus 3, left
  open: 120 samples of a 30s series in 1h, not 121); stale markers are dropped from ranges;
- ``rate``/``increase`` extrapolate exactly like Prometheus (counter resets, the 1.1 × average-interval
  threshold, the zero point of a counter; the order of those two steps changed after 2.42);
- rules of a group run in order at each instant and each sees what the earlier ones recorded at the
  same instant; a later group's series are seen as of its previous evaluation; a recorded series that
  disappears gets a stale marker; alerts fire once active for their ``for:`` duration.

A value of an instant vector is a float array over the evaluation instants with NaN where the series
has no sample, so an expression costs a few array operations whatever the number of instants. The
PromQL subset is the one rule groups use: selectors, offset, arithmetic, comparisons (with ``bool``),
``and``/``or``/``unless`` with ``on``/``ignoring``, ``sum``/``min``/``max``/``count``/``avg`` with
``by``/``without``, and the functions in ``FUNCTIONS`` (calendar ones in UTC). Anything else raises
``Unsupported``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import promql_parser

from slo_operator import tiers
from slo_operator.promql import RUNNING_SUMS

Array = npt.NDArray[np.float64]
Labels = tuple[tuple[str, str], ...]  # sorted (name, value) pairs, __name__ included when present
Vector = dict[Labels, Array]
Order = tuple[int, int]  # (group, rule) that writes a series; inputs come first
INPUT: Order = (-1, -1)
AFTER_ALL: Order = (1 << 30, 0)
NAME = "__name__"
LOOKBACK = 300.0


class Unsupported(ValueError):
    """An expression outside the PromQL subset rule groups use."""


@dataclass(frozen=True)
class Semantics:
    """Where Prometheus versions differ in ways that move alert times."""

    generation: int = 3  # major version
    minor: int = 16

    @classmethod
    def for_version(cls, version: str) -> Semantics:
        """From ``X.Y.Z`` (``unknown``: the newest)."""
        parts = version.split(".")
        if len(parts) < 2 or not (parts[0].isdigit() and parts[1].isdigit()):
            return cls()
        return cls(int(parts[0]), int(parts[1]))

    @property
    def left_open(self) -> bool:
        """Ranges and the lookback exclude their left edge (3.x)."""
        return self.generation >= 3

    @property
    def zero_point_first(self) -> bool:
        """Older 2.x (2.42 of Debian; no longer in 2.53) limits the extrapolation to a counter's zero point
        before the 1.1 × interval test instead of after it."""
        return (self.generation, self.minor) < (2, 50)


def labels_of(mapping: Mapping[str, str]) -> Labels:
    return tuple(sorted(mapping.items()))


@dataclass
class Series:
    """Samples of one stored series; NaN values are stale markers."""

    times: Array
    values: Array
    order: Order = INPUT

    def present(self) -> tuple[Array, Array]:
        keep = ~np.isnan(self.values)
        return self.times[keep], self.values[keep]


@dataclass
class Store:
    """Every series by labels (``__name__`` included), inputs and recorded ones alike."""

    series: dict[Labels, Series] = field(default_factory=dict)

    def add(self, labels: Labels, series: Series) -> None:
        self.series[labels] = series

    def select(self, selector: promql_parser.VectorSelector) -> list[tuple[Labels, Series]]:
        tests = _matchers(selector)
        found = []
        for labels, series in self.series.items():
            values = dict(labels)
            if all(test(values.get(name, "")) for name, test in tests):
                found.append((labels, series))
        return found


def _matchers(selector: promql_parser.VectorSelector) -> list[tuple[str, Callable[[str], bool]]]:
    tests: list[tuple[str, Callable[[str], bool]]] = []
    if selector.name:
        tests.append((NAME, _equal(selector.name)))
    for m in selector.matchers.matchers:
        op, value = str(m.op).rsplit(".", 1)[-1], m.value
        if op == "Equal":
            tests.append((m.name, _equal(value)))
        elif op == "NotEqual":
            tests.append((m.name, _not(_equal(value))))
        elif op == "Re":
            tests.append((m.name, _regex(value)))
        else:
            tests.append((m.name, _not(_regex(value))))
    if selector.matchers.or_matchers:
        raise Unsupported("'or' inside a selector")
    return tests


def _equal(value: str) -> Callable[[str], bool]:
    return lambda v: v == value


def _regex(pattern: str) -> Callable[[str], bool]:
    compiled = re.compile(pattern)
    return lambda v: compiled.fullmatch(v) is not None


def _not(test: Callable[[str], bool]) -> Callable[[str], bool]:
    return lambda v: not test(v)


def equality_labels(selector: promql_parser.VectorSelector) -> dict[str, str]:
    """Labels ``absent()`` gives its result: the selector's equality matchers."""
    out = {}
    for m in selector.matchers.matchers:
        if str(m.op).rsplit(".", 1)[-1] == "Equal" and m.name != NAME:
            out[m.name] = m.value
    return out


def _seconds(delta: Any) -> float:
    return 0.0 if delta is None else float(delta.total_seconds())


def _op(token: Any) -> str:
    return str(token).strip()


ARITHMETIC: dict[str, Callable[[Array, Array], Array]] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": lambda a, b: _divide(a, b),
    "%": lambda a, b: np.fmod(a, b),
    "^": np.power,
}
COMPARISON: dict[str, Callable[[Array, Array], npt.NDArray[np.bool_]]] = {
    "==": np.equal,
    "!=": np.not_equal,
    ">": np.greater,
    "<": np.less,
    ">=": np.greater_equal,
    "<=": np.less_equal,
}


def _divide(a: Array, b: Array) -> Array:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.divide(a, b), dtype=np.float64)


class Evaluator:
    """Evaluates expressions at the instants ``ts`` against ``store`` (one rule's point of view)."""

    def __init__(
        self, store: Store, ts: Array, order: Order, semantics: Semantics,
        selections: dict[str, list[tuple[Labels, Series]]] | None = None,
    ) -> None:
        self.store, self.ts, self.order, self.semantics = store, ts, order, semantics
        self.selections = selections

    def select(self, selector: promql_parser.VectorSelector) -> list[tuple[Labels, Series]]:
        if self.selections is None:
            return self.store.select(selector)
        key = str(selector)
        if key not in self.selections:
            self.selections[key] = self.store.select(selector)
        return self.selections[key]

    # -- selectors -------------------------------------------------------------------------------
    def _sees_now(self, series: Series) -> bool:
        """Whether the sample written at the evaluated instant itself is visible to this rule."""
        return series.order < self.order

    def instant(self, series: Series, at: Array) -> Array:
        side: Literal["left", "right"] = "right" if self._sees_now(series) else "left"
        idx = np.searchsorted(series.times, at, side=side) - 1
        ok = idx >= 0
        safe = np.where(ok, idx, 0)
        age = at - series.times[safe]
        ok &= (age < LOOKBACK) if self.semantics.left_open else (age <= LOOKBACK)
        return np.where(ok, series.values[safe], np.nan)

    def window(self, series: Series, at: Array, width: float) -> tuple[Array, Array, Any, Any]:
        times, values = series.present()
        left: Literal["left", "right"] = "right" if self.semantics.left_open else "left"
        right: Literal["left", "right"] = "right" if self._sees_now(series) else "left"
        lo = np.searchsorted(times, at - width, side=left)
        hi = np.searchsorted(times, at, side=right)
        return times, values, lo, hi

    def vector_selector(self, node: promql_parser.VectorSelector) -> Vector:
        if node.at is not None:
            raise Unsupported("@ modifier")
        at = self.ts - _seconds(node.offset)
        out: Vector = {}
        for labels, series in self.select(node):
            values = self.instant(series, at)
            if not np.all(np.isnan(values)):
                out[labels] = values
        return out

    # -- evaluation ------------------------------------------------------------------------------
    def eval(self, node: Any) -> Vector | Array:
        if isinstance(node, promql_parser.NumberLiteral):
            return np.full(self.ts.shape, float(node.val))
        if isinstance(node, promql_parser.ParenExpr):
            return self.eval(node.expr)
        if isinstance(node, promql_parser.UnaryExpr):
            inner = self.eval(node.expr)
            if isinstance(inner, dict):
                return {_drop_name(k): -v for k, v in inner.items()}
            return -inner
        if isinstance(node, promql_parser.VectorSelector):
            return self.vector_selector(node)
        if isinstance(node, promql_parser.Call):
            return self.call(node)
        if isinstance(node, promql_parser.AggregateExpr):
            return self.aggregate(node)
        if isinstance(node, promql_parser.BinaryExpr):
            return self.binary(node)
        raise Unsupported(type(node).__name__)

    def vector(self, node: Any) -> Vector:
        value = self.eval(node)
        if not isinstance(value, dict):
            raise Unsupported("a scalar where an instant vector is needed")
        return value

    def scalar(self, node: Any) -> Array:
        value = self.eval(node)
        if isinstance(value, dict):
            raise Unsupported("an instant vector where a scalar is needed")
        return value

    def call(self, node: promql_parser.Call) -> Vector | Array:
        name = node.func.name
        args = node.args
        if name == "time":
            return self.ts.copy()
        if name == "vector":
            return {(): self.scalar(args[0])}
        if name in CALENDAR:
            if not args:
                return {(): CALENDAR[name](self.ts)}
            return {_drop_name(k): CALENDAR[name](v) for k, v in self.vector(args[0]).items()}
        if name in RANGE_FUNCTIONS:
            matrix = args[0]
            if not isinstance(matrix, promql_parser.MatrixSelector):
                raise Unsupported(f"{name} of a subquery")
            return self.range_function(name, matrix)
        if name == "absent":
            inner = self.vector(args[0])
            present = np.zeros(self.ts.shape, dtype=bool)
            for values in inner.values():
                present |= ~np.isnan(values)
            base = args[0]
            selector = isinstance(base, promql_parser.VectorSelector)
            labels = labels_of(equality_labels(base)) if selector else ()
            return {labels: np.where(present, np.nan, 1.0)}
        if name in ELEMENTWISE:
            inner = self.vector(args[0])
            extra = [self.scalar(a) for a in args[1:]]
            fn = ELEMENTWISE[name]
            return {_drop_name(k): fn(v, *extra) for k, v in inner.items()}
        raise Unsupported(f"function {name}")

    def range_function(self, name: str, node: promql_parser.MatrixSelector) -> Vector:
        selector = node.vector_selector
        width = _seconds(node.range)
        at = self.ts - _seconds(selector.offset)
        out: Vector = {}
        for labels, series in self.select(selector):
            times, values, lo, hi = self.window(series, at, width)
            if name in ("rate", "increase"):
                result = _extrapolated(times, values, lo, hi, at - width, at, name == "rate", self.semantics)
            elif name == "last_over_time":
                result = np.where(hi > lo, values[np.maximum(hi - 1, 0)] if len(values) else np.nan, np.nan)
            elif name in ("min_over_time", "max_over_time"):
                result = _extreme(np.minimum if name == "min_over_time" else np.maximum, values, lo, hi)
            else:
                result = _over_time(name, values, lo, hi)
            if not np.all(np.isnan(result)):
                # last_over_time keeps the metric name (Prometheus 3 does; 2.x drops it, rules rename anyway).
                out[labels if name == "last_over_time" else _drop_name(labels)] = result
        return out

    def aggregate(self, node: promql_parser.AggregateExpr) -> Vector:
        op = _op(node.op)
        if op not in AGGREGATIONS or node.param is not None:
            raise Unsupported(f"aggregation {op}")
        inner = self.vector(node.expr)
        modifier = node.modifier
        groups: dict[Labels, list[Array]] = {}
        for labels, values in inner.items():
            if modifier is None:
                key: Labels = ()
            elif str(modifier.type).endswith("By"):
                keep = set(modifier.labels)
                key = tuple(kv for kv in labels if kv[0] in keep)
            else:
                drop = {*modifier.labels, NAME}
                key = tuple(kv for kv in labels if kv[0] not in drop)
            groups.setdefault(key, []).append(values)
        return {key: AGGREGATIONS[op](np.vstack(rows)) for key, rows in groups.items()}

    def binary(self, node: promql_parser.BinaryExpr) -> Vector | Array:
        op = _op(node.op)
        modifier = node.modifier
        return_bool = bool(modifier and modifier.return_bool)
        lhs, rhs = self.eval(node.lhs), self.eval(node.rhs)
        if op in ("and", "or", "unless"):
            if not isinstance(lhs, dict) or not isinstance(rhs, dict):
                raise Unsupported(f"{op} between scalars")
            return _set_operation(op, lhs, rhs, _signature(modifier))
        if not isinstance(lhs, dict) and not isinstance(rhs, dict):
            if op in COMPARISON:
                return COMPARISON[op](lhs, rhs).astype(np.float64)
            return ARITHMETIC[op](lhs, rhs)
        if isinstance(lhs, dict) and isinstance(rhs, dict):
            return _vector_binary(op, lhs, rhs, modifier, return_bool)
        out: Vector = {}
        if isinstance(lhs, dict):
            assert not isinstance(rhs, dict)
            for labels, values in lhs.items():
                out.update(_elementwise(op, labels, values, values, rhs, return_bool))
        else:
            assert isinstance(rhs, dict)
            for labels, values in rhs.items():
                out.update(_elementwise(op, labels, values, lhs, values, return_bool))
        return out


def _elementwise(op: str, labels: Labels, keep: Array, a: Array, b: Array, return_bool: bool) -> Vector:
    present = ~np.isnan(keep)
    if op in COMPARISON:
        with np.errstate(invalid="ignore"):
            truth = COMPARISON[op](a, b)
        if return_bool:
            return {_drop_name(labels): np.where(present, truth.astype(np.float64), np.nan)}
        return {labels: np.where(present & truth, keep, np.nan)}
    with np.errstate(invalid="ignore", over="ignore"):
        return {_drop_name(labels): np.where(present, ARITHMETIC[op](a, b), np.nan)}


Signature = Callable[[Labels], Labels]


def _signature(modifier: Any) -> Signature:
    matching = modifier.matching if modifier is not None else None
    if matching is None:
        return lambda labels: tuple(kv for kv in labels if kv[0] != NAME)
    names = set(matching.labels)
    if str(matching.type).endswith("Include"):
        return lambda labels: tuple(kv for kv in labels if kv[0] in names)
    return lambda labels: tuple(kv for kv in labels if kv[0] not in names and kv[0] != NAME)


def _presence(vector: Vector, sig: Signature, shape: tuple[int, ...]) -> dict[Labels, npt.NDArray[np.bool_]]:
    seen: dict[Labels, npt.NDArray[np.bool_]] = {}
    for labels, values in vector.items():
        key = sig(labels)
        seen[key] = seen.get(key, np.zeros(shape, dtype=bool)) | ~np.isnan(values)
    return seen


def _set_operation(op: str, lhs: Vector, rhs: Vector, sig: Signature) -> Vector:
    shape = next(iter({**lhs, **rhs}.values())).shape if lhs or rhs else (0,)
    out: Vector = {}
    if op == "or":
        out.update(lhs)
        left = _presence(lhs, sig, shape)
        for labels, values in rhs.items():
            hidden = left.get(sig(labels))
            add = values if hidden is None else np.where(hidden, np.nan, values)
            out[labels] = add if labels not in out else np.where(np.isnan(out[labels]), add, out[labels])
        return out
    right = _presence(rhs, sig, shape)
    for labels, values in lhs.items():
        there = right.get(sig(labels), np.zeros(shape, dtype=bool))
        kept = np.where(there if op == "and" else ~there, values, np.nan)
        if not np.all(np.isnan(kept)):
            out[labels] = kept
    return out


def _vector_binary(op: str, lhs: Vector, rhs: Vector, modifier: Any, return_bool: bool) -> Vector:
    card = str(modifier.card).rsplit(".", 1)[-1] if modifier is not None else "OneToOne"
    # ``group_left ()``: many left elements to one right one, each keeping its own labels (no labels
    # copied from the right: the status' burn rates divide every error ratio by its SLO's budget).
    many_to_one = card == "ManyToOne" and not list(getattr(modifier, "group_labels", None) or [])
    if card != "OneToOne" and not many_to_one:
        raise Unsupported("group_right, or group_left with labels")
    sig = _signature(modifier)
    matching = modifier.matching if modifier is not None else None
    right: dict[Labels, list[Array]] = {}
    for labels, values in rhs.items():
        right.setdefault(sig(labels), []).append(values)
    out: Vector = {}
    for labels, values in lhs.items():
        for other in right.get(sig(labels), []):
            both = ~np.isnan(values) & ~np.isnan(other)
            result_labels = labels
            if op in ARITHMETIC or return_bool:
                result_labels = _drop_name(result_labels)
            if matching is not None and not many_to_one:
                names = set(matching.labels)
                if str(matching.type).endswith("Include"):
                    result_labels = tuple(kv for kv in result_labels if kv[0] in names)
                else:
                    result_labels = tuple(kv for kv in result_labels if kv[0] not in names)
            if op in COMPARISON:
                with np.errstate(invalid="ignore"):
                    truth = COMPARISON[op](values, other)
                result = (
                    np.where(both, truth.astype(np.float64), np.nan)
                    if return_bool
                    else np.where(both & truth, values, np.nan)
                )
            else:
                with np.errstate(invalid="ignore", over="ignore"):
                    result = np.where(both, ARITHMETIC[op](values, other), np.nan)
            if result_labels in out:
                result = np.where(np.isnan(out[result_labels]), result, out[result_labels])
            out[result_labels] = result
    return out


def _drop_name(labels: Labels) -> Labels:
    return tuple(kv for kv in labels if kv[0] != NAME)


def _nan_reduce(fn: Callable[..., Array]) -> Callable[[Array], Array]:
    def reduce(rows: Array) -> Array:
        empty = np.all(np.isnan(rows), axis=0)
        with np.errstate(invalid="ignore"):
            safe = np.where(empty[None, :], 0.0, rows)
            return np.where(empty, np.nan, fn(safe, axis=0))

    return reduce


AGGREGATIONS: dict[str, Callable[[Array], Array]] = {
    "sum": _nan_reduce(np.nansum),
    "max": _nan_reduce(np.nanmax),
    "min": _nan_reduce(np.nanmin),
    "avg": _nan_reduce(np.nanmean),
    "count": lambda rows: np.where(
        np.all(np.isnan(rows), axis=0), np.nan, np.sum(~np.isnan(rows), axis=0).astype(np.float64)
    ),
}


def _clamp(v: Array, lo: Array, hi: Array) -> Array:
    return np.where(lo > hi, np.nan, np.minimum(np.maximum(v, lo), hi))


def _round(v: Array, to: Array | None = None) -> Array:
    unit = 1.0 if to is None else to
    return np.floor(v / unit + 0.5) * unit


ELEMENTWISE: dict[str, Callable[..., Array]] = {
    "clamp_min": lambda v, lo: np.maximum(v, lo),
    "clamp_max": lambda v, hi: np.minimum(v, hi),
    "clamp": _clamp,
    "abs": np.abs,
    "round": _round,
    "ceil": np.ceil,
    "floor": np.floor,
}
def _calendar(part: str) -> Callable[[Array], Array]:
    """A calendar field of Unix times in UTC, as Prometheus' ``month()``, ``day_of_month()``,
    ``days_in_month()`` compute it (NaN stays NaN)."""

    def field(values: Array) -> Array:
        known = ~np.isnan(values)
        seconds = np.where(known, np.floor(values), 0).astype("int64").astype("datetime64[s]")
        months = seconds.astype("datetime64[M]")
        if part == "month":
            result = months.astype("int64") % 12 + 1
        elif part == "day_of_month":
            result = (seconds.astype("datetime64[D]") - months.astype("datetime64[D]")).astype("int64") + 1
        else:
            result = ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype("int64")
        return np.where(known, result.astype(np.float64), np.nan)

    return field


CALENDAR: dict[str, Callable[[Array], Array]] = {
    name: _calendar(name) for name in ("month", "day_of_month", "days_in_month")
}
RANGE_FUNCTIONS = (
    "rate", "increase", "sum_over_time", "count_over_time", "avg_over_time", "last_over_time",
    "min_over_time", "max_over_time",
)
FUNCTIONS = ("time", "vector", "absent", *CALENDAR, *ELEMENTWISE, *RANGE_FUNCTIONS)


def _prefix(values: Array) -> Array:
    return np.concatenate(([0.0], np.cumsum(values)))


def _over_time(name: str, values: Array, lo: Any, hi: Any) -> Array:
    count = (hi - lo).astype(np.float64)
    total = _prefix(values)
    nonzero = _prefix((values != 0).astype(np.float64))
    summed = total[hi] - total[lo]
    # Differences of running sums leave rounding dust where every sample was zero: zero traffic must
    # stay exactly zero, or a `> 0` guard would let 0/0-like ratios through.
    summed = np.where(nonzero[hi] - nonzero[lo] == 0, 0.0, summed)
    empty = count == 0
    if name == "sum_over_time":
        return np.where(empty, np.nan, summed)
    if name == "count_over_time":
        return np.where(empty, np.nan, count)
    return np.where(empty, np.nan, summed / np.where(empty, 1.0, count))


def _extreme(ufunc: np.ufunc, values: Array, lo: Any, hi: Any) -> Array:
    """``min_over_time``/``max_over_time``: the reduction of ``values[lo:hi]`` at every instant (NaN when
    empty), one ``reduceat`` over the interleaved bounds."""
    empty = hi <= lo
    if len(values) == 0:
        return np.full(np.shape(lo), np.nan)
    padded = np.append(values, np.nan)  # ``reduceat`` needs every index inside the array
    bounds = np.empty(2 * len(lo), dtype=np.intp)
    bounds[0::2] = np.where(empty, 0, lo)
    bounds[1::2] = np.where(empty, 0, hi)
    reduced = ufunc.reduceat(padded, bounds)[0::2]
    return np.where(empty, np.nan, reduced)


def _extrapolated(
    times: Array, values: Array, lo: Any, hi: Any, start: Array, end: Array, per_second: bool,
    semantics: Semantics,
) -> Array:
    """Prometheus' ``extrapolatedRate`` for counters, for every instant at once."""
    n = hi - lo
    ok = n >= 2
    if len(values) == 0:
        return np.full(start.shape, np.nan)
    first_i = np.where(ok, lo, 0)
    last_i = np.where(ok, hi - 1, 0)
    first, last = values[first_i], values[last_i]
    resets = np.concatenate(([0.0], np.where(values[1:] < values[:-1], values[:-1], 0.0)))
    reset_sum = np.cumsum(resets)
    result = last - first + (reset_sum[last_i] - reset_sum[first_i])
    first_t, last_t = times[first_i], times[last_i]
    to_start = first_t - start
    to_end = end - last_t
    sampled = last_t - first_t
    with np.errstate(divide="ignore", invalid="ignore"):
        average = sampled / np.where(ok, n - 1, 1)
        threshold = average * 1.1
        to_zero = np.where((result > 0) & (first >= 0), sampled * (first / np.where(result > 0, result, 1)),
                           np.inf)
        if semantics.zero_point_first:
            to_start = np.minimum(to_start, to_zero)
            extend_start = np.where(to_start < threshold, to_start, average / 2)
        else:
            extend_start = np.where(to_start >= threshold, average / 2, to_start)
            extend_start = np.minimum(extend_start, to_zero)
        extend_end = np.where(to_end < threshold, to_end, average / 2)
        factor = (sampled + extend_start + extend_end) / sampled
        if per_second:
            factor = factor / (end - start)
        out = result * factor
    return np.where(ok & (sampled > 0), out, np.nan)


# -- rule groups ---------------------------------------------------------------------------------


@dataclass
class AlertState:
    """One alert series (rule plus labels): whether it fires at each instant of its group."""

    name: str
    labels: dict[str, str]
    ts: Array
    firing: npt.NDArray[np.bool_]
    active: npt.NDArray[np.bool_]
    value: Array

    def spans(self) -> list[tuple[float, float | None]]:
        """(fired at, resolved at or None) for every firing span."""
        out: list[tuple[float, float | None]] = []
        edges = np.diff(np.concatenate(([0], self.firing.astype(np.int8), [0])))
        for start, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
            out.append((float(self.ts[start]), float(self.ts[stop]) if stop < len(self.ts) else None))
        return out


@dataclass
class Result:
    """What the rule groups recorded and which alerts fired, like Prometheus' TSDB after the run."""

    store: Store
    alerts: list[AlertState]
    semantics: Semantics

    def recorded(self, name: str, **match: str) -> list[tuple[dict[str, str], Series]]:
        out = []
        for labels, series in self.store.series.items():
            values = dict(labels)
            if values.get(NAME) == name and all(values.get(k) == v for k, v in match.items()):
                out.append((values, series))
        return out

    def query(self, expr: str, at: Iterable[float]) -> Vector:
        """An instant query after the whole run (promtool's ``promql_expr_test``)."""
        ts = np.asarray(list(at), dtype=np.float64)
        return Evaluator(self.store, ts, AFTER_ALL, self.semantics).vector(promql_parser.parse(expr))


def _duration(text: str | None) -> float:
    if not text:
        return 0.0
    return float(promql_parser.parse_duration(text).total_seconds())


def run_groups(
    groups: list[dict[str, Any]],
    inputs: Store,
    end: float,
    step: float | None = None,
    start: float = 0.0,
    semantics: Semantics | None = None,
    offsets: Mapping[str, float] | None = None,
) -> Result:
    """Evaluate rule groups (``groups:`` entries) from ``start`` to ``end`` inclusive.

    ``step`` given: every group is evaluated at every multiple of it, in file order, as ``promtool test
    rules`` does (its ``evaluation_interval``). ``step`` None: each group at its own ``interval``, shifted
    by ``offsets[name]`` seconds, as a running Prometheus does.
    """
    semantics = semantics or Semantics()
    store = Store(dict(inputs.series))
    alerts: list[AlertState] = []
    grids: list[Array] = []
    for group in groups:
        interval = step if step is not None else _duration(group.get("interval", "1m"))
        first = start + ((offsets or {}).get(group["name"], 0.0) if step is None else 0.0)
        grids.append(np.arange(first, end + interval / 2, interval, dtype=np.float64))
    seeds = _seeds(groups, grids)
    for g, r, rule, node in _dependency_order(groups):
        ts = grids[g]
        extra = rule.get("labels") or {}
        if "record" in rule and _reads_itself(rule, node):
            increment = tiers.running_sum_input(rule, node)
            found = seeds.get((rule["record"], extra.get("slo"), extra.get("namespace")), [])
            if "slo" in extra:
                # The namespace's shared start and coarse copy seed an SLO's own running sum too.
                found = found + seeds.get((rule["record"], None, None), [])
            if increment is not None:
                _running_sum(store, ts, (g, r), semantics, increment, rule["record"], extra, found)
            elif tiers.start_input(rule, node) is not None:
                _start(store, ts, (g, r), semantics, rule["record"], extra, found)
            else:
                _recurrence(store, ts, (g, r), semantics, node, rule["record"], extra)
            continue
        vector = Evaluator(store, ts, (g, r), semantics).vector(node)
        if "record" in rule:
            for labels, values in vector.items():
                merged = {**dict(labels), **extra, NAME: rule["record"]}
                store.add(labels_of(merged), Series(ts, values, (g, r)))
        else:
            for labels, values in vector.items():
                merged = {**dict(_drop_name(labels)), **extra, "alertname": rule["alert"]}
                active = ~np.isnan(values)
                firing = _held(active, ts, _duration(rule.get("for")))
                alerts.append(AlertState(rule["alert"], merged, ts, firing, active, values))
    return Result(store, alerts, semantics)


# A seed expression (start or coarse copy), its group's instants, its order, and the labels its output
# lacks (an SLO's own rule: its slo and namespace; a namespace's shared rule: none).
Seed = tuple[Any, Array, Order, Mapping[str, str]]


def _seeds(groups: list[dict[str, Any]], grids: list[Array]) -> dict[tuple[Any, Any, Any], list[Seed]]:
    """Each running sum's start and coarse copy (``tiers.seed_input``), by record name and SLO."""
    out: dict[tuple[Any, Any, Any], list[Seed]] = {}
    for g, group in enumerate(groups):
        for r, rule in enumerate(group["rules"]):
            if "record" not in rule or rule["record"] not in RUNNING_SUMS.values():
                continue
            seed = tiers.seed_input(rule, promql_parser.parse(rule["expr"]))
            if seed is not None:
                labels = rule.get("labels") or {}
                key = (rule["record"], labels.get("slo"), labels.get("namespace"))
                identity = {k: labels[k] for k in ("slo", "namespace") if k in labels}
                out.setdefault(key, []).append((seed, grids[g], (g, r), identity))
    return out


def _first_zeros(store: Store, semantics: Semantics, seeds: list[Seed]) -> dict[Labels, tuple[float, Order]]:
    """Where the running sums start, per groupBy set: the first evaluation (instant, then rule order) of
    the start or the coarse copy that sees a base sample (and records 0; the other one then never does)."""
    out: dict[Labels, tuple[float, Order]] = {}
    for expr, seed_ts, seed_order, identity in seeds:
        seeded = Evaluator(store, seed_ts, seed_order, semantics).vector(expr)
        for labels, values in seeded.items():
            present = np.flatnonzero(~np.isnan(values))
            if not len(present):
                continue
            key = labels_of({**dict(_drop_name(labels)), **identity})
            first = (float(seed_ts[present[0]]), seed_order)
            out[key] = min(out.get(key, first), first)
    return out


def _running_sum(
    store: Store, ts: Array, order: Order, semantics: Semantics, increment: Any, record: str,
    extra: Mapping[str, str], seeds: list[Seed],
) -> None:
    """A fine running sum (``tiers``): its input evaluated at every instant, then added up in order.

    Evaluated instant by instant it is a recurrence whose value changes at every step; here it costs one
    evaluation of its input. It starts where Prometheus starts it: at the first evaluation that sees the
    first 0 (recorded by the start, or by the coarse copy when its group runs first, at the first
    evaluation with a base sample); without either it never starts. Every evaluation of a run happens
    (no Prometheus restarts), so the previous value is always the last one and the coarse copy is never
    needed again.
    """
    vector = Evaluator(store, ts, order, semantics).vector(increment)
    zeros = _first_zeros(store, semantics, seeds)
    identity = {k: extra[k] for k in ("slo", "namespace") if k in extra}
    for labels, values in vector.items():
        key = _drop_name(labels)
        found = zeros.get(labels_of({**dict(key), **identity}))
        if found is None:
            continue
        at, seed_order = found
        # The 0 is visible from the same instant when its rule runs first.
        started = ts >= at if seed_order < order else ts > at
        merged = labels_of({**dict(key), **extra, NAME: record})
        store.add(merged, Series(ts, tiers.running_sum(values, started), order))


def _start(
    store: Store, ts: Array, order: Order, semantics: Semantics, record: str, extra: Mapping[str, str],
    seeds: list[Seed],
) -> None:
    """A start rule (``tiers.start_expr``): its 0 at its first evaluation with a base sample, when that
    comes before the coarse copy's first (which records the 0 itself otherwise); nothing after it (its
    own 0 stays inside the window; runs have no outage longer than it)."""
    for key, (at, seed_order) in _first_zeros(store, semantics, seeds).items():
        if seed_order != order:
            continue
        values = np.where(ts == at, 0.0, np.nan)
        store.add(labels_of({**dict(key), **extra, NAME: record}), Series(ts, values, order))


def _recurrence(
    store: Store, ts: Array, order: Order, semantics: Semantics, node: Any, record: str,
    extra: Mapping[str, str], block: int = 2048,
) -> None:
    """A rule reading its own output (a value carried from one evaluation to the next).

    Each output depends only on outputs of earlier instants, so a guess for a block of instants — every
    output equal to the last one known — is checked by evaluating the block once: up to the first
    instant where the result differs from the guess, guess and result agree and are therefore the
    outputs; that instant's result is right too (it only saw agreeing earlier values). The rest of the
    block's results are the next guess. A carried value, or one that follows another series (a coarse
    copy of a running sum), costs about two evaluations per block instead of one per instant.
    """
    own: dict[Labels, Series] = {}

    def output(labels: Labels) -> Series:
        merged = labels_of({**dict(labels), **extra, NAME: record})
        if merged not in own:
            own[merged] = Series(ts, np.full(ts.shape, np.nan), order)
            store.add(merged, own[merged])
        return own[merged]

    i = guessed = 0
    while i < len(ts):
        stop = min(len(ts), i + block) if i else 1
        for series in own.values():
            # Instants already guessed keep the last evaluation's results (a value that follows another
            # series, such as a coarse copy, then agrees at the next pass); new ones carry the last value.
            series.values[max(i, guessed):stop] = series.values[i - 1] if i else np.nan
        guessed = max(guessed, stop)
        vector = Evaluator(store, ts[i:stop], order, semantics).vector(node)
        for labels in vector:
            output(labels)
        results = {labels_of({**dict(k), **extra, NAME: record}): v for k, v in vector.items()}
        agree = stop - i
        for labels, series in own.items():
            computed = results.get(labels, np.full(stop - i, np.nan))
            guess = series.values[i:stop]
            differs = np.flatnonzero(~((computed == guess) | (np.isnan(computed) & np.isnan(guess))))
            if len(differs):
                agree = min(agree, int(differs[0]) + 1)
        for labels, series in own.items():
            series.values[i:stop] = results.get(labels, np.full(stop - i, np.nan))
        i += agree


def _selectors(node: Any) -> list[promql_parser.VectorSelector]:
    found: list[promql_parser.VectorSelector] = []

    def visit(expr: Any) -> None:
        if isinstance(expr, promql_parser.VectorSelector) and expr.name:
            found.append(expr)

    promql_parser.walk(node, pre_visit=visit)
    return found


def _may_read(selector: promql_parser.VectorSelector, rule: dict[str, Any]) -> bool:
    """Whether a selector can match what a recording rule writes: its name, and no equality matcher
    contradicting the rule's own labels (a running sum's coarse copy, ``tier="1h"``, is not read by a
    selector for ``tier="30s"``)."""
    if selector.name != rule.get("record"):
        return False
    labels = rule.get("labels") or {}
    for name, value in equality_labels(selector).items():
        if name in labels and labels[name] != value:
            return False
    return True


def _reads_itself(rule: dict[str, Any], node: Any) -> bool:
    return any(_may_read(selector, rule) for selector in _selectors(node))


def _dependency_order(groups: list[dict[str, Any]]) -> list[tuple[int, int, dict[str, Any], Any]]:
    """Rules in an order where every rule comes after the rules whose series it reads.

    Whole runs are evaluated rule by rule (each over every instant), so a rule of the fast group that
    reads a series the slow group records must wait for it; which sample each reader sees at an instant
    is decided by the (group, rule) order in ``Evaluator``, as in Prometheus. A rule's own output does
    not hold it back (that is a recurrence); two rules recording one name with different labels are
    told apart by the reader's matchers. A fine running sum does not wait for its coarse copy (which
    reads it), nor does the start: both are computed from the base series and the schedules of the
    start and the coarse copy (``_running_sum``, ``_start``). Cycles keep file order.
    """
    pending = []
    for g, group in enumerate(groups):
        for r, rule in enumerate(group["rules"]):
            node = promql_parser.parse(rule["expr"])
            reads = _selectors(node)
            if "record" in rule and (tiers.running_sum_input(rule, node) is not None
                                     or tiers.start_input(rule, node) is not None):
                reads = [selector for selector in reads if selector.name != rule["record"]]
            pending.append((g, r, rule, node, reads))
    ordered = []
    while pending:
        ready = [
            item for item in pending
            if not any(_may_read(selector, other[2]) for selector in item[4]
                       for other in pending if other is not item and "record" in other[2])
        ]
        if not ready:
            ready = pending[:1]
        for item in ready:
            pending.remove(item)
            ordered.append(item[:4])
    return ordered


def _held(active: npt.NDArray[np.bool_], ts: Array, hold: float) -> npt.NDArray[np.bool_]:
    if hold <= 0:
        return active.copy()
    idx = np.arange(len(active))
    run_start = np.maximum.accumulate(np.where(~active, idx + 1, 0))
    run_start = np.minimum(run_start, len(ts) - 1)
    return active & (ts - ts[run_start] >= hold - 1e-9)


def parse_series_values(text: str, interval: float) -> tuple[Array, Array, Array]:
    """promtool's expanding notation (``0+10x5 _x3 stale 7``) as (times, values, is-stale) arrays.

    Missing samples (``_``) are left out; ``stale`` is a stale marker.
    """
    times: list[float] = []
    values: list[float] = []
    stale: list[bool] = []
    position = 0
    for token in text.split():
        if token == "_":
            position += 1
            continue
        if token == "stale":
            times.append(position * interval)
            values.append(math.nan)
            stale.append(True)
            position += 1
            continue
        match = re.fullmatch(r"_x(\d+)", token)
        if match:
            position += int(match.group(1))
            continue
        match = re.fullmatch(r"([-+]?[0-9.eE+-]*?[0-9.])(?:([+-])([0-9.eE+-]+))?x(\d+)", token)
        if match:
            base = float(match.group(1))
            delta = float(match.group(3) or 0) * (-1 if match.group(2) == "-" else 1)
            count = int(match.group(4))
            for i in range(count + 1):
                times.append(position * interval)
                values.append(base + i * delta)
                stale.append(False)
                position += 1
            continue
        times.append(position * interval)
        values.append(float(token))
        stale.append(False)
        position += 1
    return np.asarray(times), np.asarray(values), np.asarray(stale, dtype=bool)


def parse_labels(text: str) -> Labels:
    """A series written as PromQL (``name{a="b"}``) as labels."""
    node = promql_parser.parse(text)
    if not isinstance(node, promql_parser.VectorSelector):
        raise Unsupported(f"{text!r} is not a series")
    out = equality_labels(node)
    if node.name:
        out[NAME] = node.name
    return labels_of(out)


def promtool_inputs(input_series: list[dict[str, str]], interval: float) -> Store:
    """A promtool test's ``input_series`` as a store of input series."""
    store = Store()
    for item in input_series:
        times, values, _ = parse_series_values(item["values"], interval)
        store.add(parse_labels(item["series"]), Series(times, values, INPUT))
    return store
