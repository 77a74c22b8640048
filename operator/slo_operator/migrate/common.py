"""What every importer shares: findings that name the source field, PromQL shapes slo-operator can read
back into selectors, and the spelling of names, windows and numbers in our API.

Importers are pure: source documents in, our ``ServiceLevelObjective`` documents and findings out. A
finding is an ``error`` when the SLO cannot be imported faithfully (the document is then not emitted)
and a ``warning`` when it is imported but something differs from the source; nothing is dropped
without one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import promql_parser

from slo_operator import API_GROUP, API_VERSION, KIND
from slo_operator.api import ALERT_NAME_PATTERN, RESERVED_LABELS
from slo_operator.durations import WINDOW_PATTERN, DurationError, format_duration, parse_window
from slo_operator.selectors import LABEL_NAME, Selector, SelectorError, parse_selector

IMPORTED_FROM = f"{API_GROUP}/imported-from"
IMPORT_WARNINGS = f"{API_GROUP}/import-warnings"
WINDOW_TEMPLATE = "{{.window}}"
_DNS_LABEL = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True)
class Finding:
    """One thing about one source document that could not be carried over exactly."""

    source: str
    field: str
    message: str
    level: Literal["error", "warning"] = "warning"

    def __str__(self) -> str:
        return f"{self.level}: {self.source}: {self.field}: {self.message}"


@dataclass
class Result:
    """Our documents, and every finding on the way (errors mean a source SLO produced no document)."""

    documents: list[dict[str, Any]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    def extend(self, other: Result) -> None:
        self.documents.extend(other.documents)
        self.findings.extend(other.findings)


class ImportRefused(ValueError):
    """A source field that has no faithful form in our API; carries the field path for the finding."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(message)
        self.field = field_path
        self.message = message


def slo_document(
    name: str,
    namespace: str | None,
    spec: dict[str, Any],
    *,
    imported_from: str,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One of our documents; ``imported-from`` names the source object so it can be traced back."""
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    if labels:
        metadata["labels"] = dict(labels)
    metadata["annotations"] = {**(annotations or {}), IMPORTED_FROM: imported_from}
    return {"apiVersion": f"{API_GROUP}/{API_VERSION}", "kind": KIND, "metadata": metadata, "spec": spec}


def dns_name(*parts: str) -> str:
    """A Kubernetes object name from source names (lower case, '-' for anything else, at most 253)."""
    text = "-".join(p for p in parts if p).lower()
    text = _DNS_LABEL.sub("-", text).strip("-")
    text = re.sub(r"-{2,}", "-", text)[:253].strip("-")
    return text or "slo"


def alert_name(text: str) -> str:
    """A Prometheus alert name from a source name: ``fast-burn`` -> ``FastBurn``; valid ones unchanged."""
    if re.match(ALERT_NAME_PATTERN, text):
        return text
    words = [w for w in re.split(r"[^A-Za-z0-9]+", text) if w]
    name = "".join(w[:1].upper() + w[1:] for w in words) or "SLOAlert"
    if name[0].isdigit():
        name = "SLO" + name
    return name[:63]


def percent(value: Any, field_path: str, *, scale: int = 1) -> float:
    """A percentage from a source number or string (``scale=100`` for ratios such as 0.999), exact."""
    try:
        number = Decimal(str(value).strip()) * scale
    except (InvalidOperation, ValueError):
        raise ImportRefused(field_path, f"{value!r} is not a number") from None
    if not 0 < number < 100:
        raise ImportRefused(
            field_path,
            f"objective {number}% is outside (0, 100): a 100% objective leaves no error budget to alert on",
        )
    return float(number.normalize())


def decimal_float(value: Decimal) -> float:
    """A float with no binary artefacts beyond what the decimal holds (14.4, not 14.400000000000002)."""
    return float(value.normalize())


def window(text: Any, field_path: str) -> str:
    """A source window in our single-unit form (``28d``, ``4w``), or why it cannot be one."""
    value = str(text).strip()
    try:
        seconds = parse_window(value)
    except DurationError as exc:
        raise ImportRefused(field_path, str(exc)) from None
    if re.fullmatch(WINDOW_PATTERN, value):
        return value
    canonical = format_duration(seconds)
    if re.fullmatch(WINDOW_PATTERN, canonical):
        return canonical
    raise ImportRefused(field_path, f"{value!r}: windows must be one number and one unit, e.g. 28d or 4w")


def label_findings(
    labels: dict[str, Any], source: str, field_path: str, *, what: str = "label"
) -> tuple[dict[str, str], list[Finding]]:
    """Labels usable on our alerts; reserved or invalid names become warnings naming the field."""
    kept: dict[str, str] = {}
    findings = []
    for key, value in (labels or {}).items():
        path = f"{field_path}.{key}"
        if not LABEL_NAME.match(str(key)):
            findings.append(
                Finding(source, path, f"{key!r} is not a Prometheus label name; not carried over")
            )
        elif key in RESERVED_LABELS:
            findings.append(
                Finding(source, path, f"{what} {key!r} is set by slo-operator itself; not carried over")
            )
        else:
            kept[str(key)] = str(value)
    return kept, findings


# ---- PromQL shapes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateSum:
    """``sum [by (labels)] (rate|increase(<selector>[range]))``: what we can rebuild from a selector."""

    selector: Selector
    by: tuple[str, ...] = ()


def _unparen(expr: Any) -> Any:
    while isinstance(expr, promql_parser.ParenExpr):
        expr = expr.expr
    return expr


def _selector(vector: Any) -> Selector:
    return parse_selector(str(vector))


def rate_sum(query: str, field_path: str, *, template: bool = True) -> RateSum:
    """Read ``sum(rate(sel[{{.window}}]))`` back into its selector; refuse anything else, saying why.

    slo-operator builds every query itself from selectors (and records them once, deriving the long
    windows), so only this shape — the one Sloth's documentation uses — has an exact equivalent.
    """
    text = query.strip()
    if template:
        if WINDOW_TEMPLATE not in text:
            raise ImportRefused(field_path, "has no {{.window}}: the query must be evaluated per window")
        text = text.replace(WINDOW_TEMPLATE, "5m")
    try:
        expr = _unparen(promql_parser.parse(text))
    except ValueError as exc:
        raise ImportRefused(field_path, f"is not valid PromQL ({exc})") from None
    shape = "sum(rate(<selector>[{{.window}}]))" if template else "a selector or sum(rate(<selector>[w]))"
    if isinstance(expr, promql_parser.VectorSelector) and not template:
        return RateSum(_selector(expr))
    by: tuple[str, ...] = ()
    if isinstance(expr, promql_parser.AggregateExpr) and str(expr.op) == "sum":
        if expr.modifier is not None:
            if "By" not in str(expr.modifier.type):
                raise ImportRefused(
                    field_path, f"sum without (...) cannot be imported; use {shape} or sum by"
                )
            by = tuple(expr.modifier.labels)
        expr = _unparen(expr.expr)
    else:
        raise ImportRefused(field_path, f"only {shape} can be imported (slo-operator builds the queries)")
    if not (
        isinstance(expr, promql_parser.Call)
        and expr.func.name in ("rate", "increase")
        and len(expr.args) == 1
        and isinstance(expr.args[0], promql_parser.MatrixSelector)
    ):
        raise ImportRefused(field_path, f"only {shape} can be imported (slo-operator builds the queries)")
    try:
        return RateSum(_selector(expr.args[0].vector_selector), by)
    except SelectorError as exc:
        raise ImportRefused(field_path, f"selector {exc}") from None


def latency_difference(query: str, field_path: str) -> tuple[RateSum, RateSum] | None:
    """``sum(rate(h_count[w])) - sum(rate(h_bucket{le="x"}[w]))`` (bad = total - good), if it is one."""
    text = query.strip().replace(WINDOW_TEMPLATE, "5m")
    try:
        expr = _unparen(promql_parser.parse(text))
    except ValueError:
        return None
    if not isinstance(expr, promql_parser.BinaryExpr) or str(expr.op) != "-" or expr.modifier is not None:
        return None
    try:
        total = rate_sum(expr.lhs.prettify(), field_path, template=False)
        good = rate_sum(expr.rhs.prettify(), field_path, template=False)
    except ImportRefused:
        return None
    return total, good


def histogram(good: Selector, total: Selector, field_path: str) -> tuple[str, str]:
    """``h_bucket{m,le="0.2"}`` and ``h_count{m}`` -> (``h{m}``, ``200ms``), or why not."""
    if not good.metric.endswith("_bucket") or not total.metric.endswith("_count"):
        raise ImportRefused(
            field_path, "expected a histogram's <name>_bucket{le=...} and <name>_count series"
        )
    base = good.metric.removesuffix("_bucket")
    if total.metric.removesuffix("_count") != base:
        raise ImportRefused(field_path, f"bucket and count series are of different histograms ({base})")
    le = [m for m in good.matchers if m.name == "le"]
    rest = tuple(m for m in good.matchers if m.name != "le")
    if len(le) != 1 or le[0].op != "=":
        raise ImportRefused(field_path, 'the bucket series needs exactly one le="<seconds>" matcher')
    if sorted(rest, key=repr) != sorted(total.matchers, key=repr):
        raise ImportRefused(
            field_path,
            "bucket and count series use different label matchers; slo-operator reads both "
            "from one histogram selector",
        )
    try:
        seconds = Decimal(le[0].value)
    except InvalidOperation:
        raise ImportRefused(field_path, f"le={le[0].value!r} is not a number of seconds") from None
    millis = seconds * 1000
    if seconds <= 0 or millis != millis.to_integral_value():
        raise ImportRefused(field_path, f"le={le[0].value!r}: thresholds are whole milliseconds or more")
    threshold = f"{int(seconds)}s" if seconds == seconds.to_integral_value() else f"{int(millis)}ms"
    return Selector(base, rest).render(), threshold


def le_value(threshold_seconds: Decimal) -> str:
    """The ``le`` label value Prometheus client libraries write for a bucket bound (0.2, 1, 2.5)."""
    text = format(threshold_seconds.normalize(), "f")
    return text


def budget_percent(threshold: Decimal, window_seconds: int, long_seconds: int) -> float:
    """Percent of the budget a burn rate spends within the long window (14.4 over 1h of 30d = 2%)."""
    return decimal_float(threshold * Decimal(long_seconds) / Decimal(window_seconds) * 100)
