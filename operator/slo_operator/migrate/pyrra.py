"""Pyrra SLOs (``pyrra.dev/v1alpha1`` ServiceLevelObjective objects, Kubernetes or filesystem mode) into
our ServiceLevelObjectives.

Pyrra derives four multi-window alerts from the SLO window (for 28d: 14x over 1h/5m and 7x over 6h/30m
as critical, 2x over 1d/2h and 1x over 4d/6h as warning, each with a ``for:``), all named
``ErrorBudgetBurn`` and told apart by ``long``/``short`` labels. They become four of ours with the same
windows, thresholds and hold times, named ``<name>Fast``, ``<name>Medium``, ``<name>Slow`` and
``<name>LongTerm`` because our alert names are unique. Pyrra's grouping becomes ``groupBy``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from slo_operator.durations import parse_window
from slo_operator.migrate.common import (
    Finding,
    ImportRefused,
    Result,
    alert_name,
    budget_percent,
    histogram,
    label_findings,
    percent,
    slo_document,
    window,
)
from slo_operator.selectors import SelectorError, parse_selector

API_VERSION = "pyrra.dev/v1alpha1"
KIND = "ServiceLevelObjective"
PROPAGATION_PREFIX = "pyrra.dev/"
DEFAULT_ALERT_NAME = "ErrorBudgetBurn"
# Pyrra's windows as fractions of a 28-day profile: (suffix, severity key, default severity, factor,
# long divisor, short divisor, for divisor) — each duration is sloWindow / divisor, rounded to minutes.
_WINDOWS = (
    ("Fast", "fastBurn", "critical", 14, 28 * 24, 28 * 24 * 12, 28 * 24 * 30),
    ("Medium", "mediumBurn", "critical", 7, 28 * 4, 28 * 24 * 2, 28 * 24 * 4),
    ("Slow", "slowBurn", "warning", 2, 28, 28 * 12, 28 * 24),
    ("LongTerm", "longTermBurn", "warning", 1, 7, 28 * 4, 28 * 8),
)
_NS = 1_000_000_000
_MINUTE = 60 * _NS


def is_pyrra(document: Any) -> bool:
    return (
        isinstance(document, dict)
        and document.get("apiVersion") == API_VERSION
        and document.get("kind") == KIND
    )


def _round_minute(nanos: int) -> int:
    """Go's ``Duration.Round(time.Minute)`` (halves away from zero), in seconds."""
    minutes, rest = divmod(nanos, _MINUTE)
    if rest * 2 >= _MINUTE:
        minutes += 1
    return minutes * 60


def single_unit(seconds: int) -> str:
    """Seconds in the largest unit dividing them exactly: 3600 -> 1h, 5400 -> 90m (our window form)."""
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def pyrra_windows(window_seconds: int) -> list[tuple[str, str, str, int, int, int, int]]:
    """(suffix, severity key, default severity, factor, long, short, for) in seconds, as Pyrra computes."""
    nanos = window_seconds * _NS
    return [
        (
            suffix,
            key,
            severity,
            factor,
            _round_minute(nanos // long),
            _round_minute(nanos // short),
            _round_minute(nanos // hold),
        )
        for suffix, key, severity, factor, long, short, hold in _WINDOWS
    ]


def _metric(indicator: dict[str, Any], key: str, path: str) -> Any:
    query = (indicator.get(key) or {}).get("metric") if isinstance(indicator.get(key), dict) else None
    if not query:
        raise ImportRefused(f"{path}.{key}.metric", "required")
    try:
        return parse_selector(str(query))
    except SelectorError as exc:
        raise ImportRefused(f"{path}.{key}.metric", f"{exc}") from None


def _indicator(spec: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    sli = spec.get("indicator") or {}
    if not isinstance(sli, dict) or not sli:
        raise ImportRefused("spec.indicator", "required: ratio, latency, latencyNative or bool_gauge")
    if "ratio" in sli:
        path = "spec.indicator.ratio"
        ratio = sli["ratio"] or {}
        errors, total = _metric(ratio, "errors", path), _metric(ratio, "total", path)
        return {"availability": {"errors": errors.render(), "total": total.render()}}, list(
            ratio.get("grouping") or []
        )
    if "latency" in sli:
        path = "spec.indicator.latency"
        latency = sli["latency"] or {}
        good, total = _metric(latency, "success", path), _metric(latency, "total", path)
        histo, threshold = histogram(good, total, f"{path}.success.metric")
        return {"latency": {"histogram": histo, "threshold": threshold}}, list(latency.get("grouping") or [])
    if "latencyNative" in sli:
        raise ImportRefused(
            "spec.indicator.latencyNative",
            "native histograms have no fixed bucket at the threshold; slo-operator reads a classic "
            "histogram's le bucket (use indicator.latency with <name>_bucket{le=...})",
        )
    if "bool_gauge" in sli:
        raise ImportRefused(
            "spec.indicator.bool_gauge",
            "a 0/1 gauge sampled over time has no slo-operator indicator (ours count events, or read a "
            "timestamp gauge for freshness); export the outcome as good/total counters",
        )
    raise ImportRefused("spec.indicator", f"unknown indicator {', '.join(map(str, sli))}")


def convert(document: dict[str, Any], source: str, namespace: str | None = None) -> Result:
    result = Result()
    try:
        doc = _convert(document, source, namespace, result.findings)
    except ImportRefused as exc:
        result.findings.append(Finding(source, exc.field, exc.message, "error"))
        return result
    result.documents.append(doc)
    return result


def _convert(
    document: dict[str, Any], source: str, namespace: str | None, findings: list[Finding]
) -> dict[str, Any]:
    metadata = document.get("metadata") or {}
    spec = document.get("spec") or {}
    name = str(metadata.get("name") or "")
    if not name:
        raise ImportRefused("metadata.name", "required")
    src_ns = metadata.get("namespace")
    ns = namespace or src_ns
    indicator, grouping = _indicator(spec)
    slo_window = window(spec.get("window") or "", "spec.window")
    window_seconds = parse_window(slo_window)
    ours: dict[str, Any] = {
        "service": str(metadata.get("labels", {}).get("app.kubernetes.io/name") or name)[:63],
        "objective": percent(spec.get("target"), "spec.target"),
        "window": slo_window,
        "indicator": indicator,
    }
    if not (metadata.get("labels") or {}).get("app.kubernetes.io/name"):
        findings.append(
            Finding(source, "metadata.name", f"Pyrra SLOs have no service; spec.service is {name!r}")
        )
    if spec.get("description"):
        ours["description"] = str(spec["description"])[:1024]
    if grouping:
        ours["groupBy"] = grouping
    for key in ("partial_response_strategy", "performanceOverAccuracy", "ruleOutput"):
        if spec.get(key):
            findings.append(
                Finding(
                    source,
                    f"spec.{key}",
                    "Pyrra rule-generation option with no slo-operator equivalent; not carried over",
                )
            )

    labels, annotations, alert_labels, alert_annotations = {}, {}, {}, {}
    for key, value in (metadata.get("labels") or {}).items():
        if str(key).startswith(PROPAGATION_PREFIX):
            kept, notes = label_findings({key[len(PROPAGATION_PREFIX) :]: value}, source, "metadata.labels")
            alert_labels.update(kept)
            findings.extend(notes)
        else:
            labels[str(key)] = str(value)
    for key, value in (metadata.get("annotations") or {}).items():
        if str(key).startswith(PROPAGATION_PREFIX):
            alert_annotations[key[len(PROPAGATION_PREFIX) :]] = str(value)
        elif key != "kubectl.kubernetes.io/last-applied-configuration":
            annotations[str(key)] = str(value)

    alerting_src = spec.get("alerting") or {}
    severities = alerting_src.get("severities") or {}
    alerting: dict[str, Any] = {}
    if alerting_src.get("disabled"):
        alerting["enabled"] = False
    windows = pyrra_windows(window_seconds)
    if alerting_src.get("burnrates", True) is False:
        alerting["burnRates"] = []
    else:
        base = alert_name(str(alerting_src.get("name") or DEFAULT_ALERT_NAME))
        burn_rates = []
        for suffix, key, severity, factor, long, short, hold in windows:
            alert: dict[str, Any] = {
                "name": base + suffix,
                "severity": str(severities.get(key) or severity),
                "budgetPercent": budget_percent(Decimal(factor), window_seconds, long),
                "longWindow": single_unit(long),
                "shortWindow": single_unit(short),
            }
            if hold:
                alert["for"] = single_unit(hold)
            burn_rates.append(alert)
        alerting["burnRates"] = burn_rates
        findings.append(
            Finding(
                source,
                "spec.alerting.name",
                f"Pyrra names all four burn-rate alerts {base!r} (told apart by long/short labels); "
                "slo-operator alert names are unique: " + ", ".join(a["name"] for a in burn_rates),
            )
        )
    if alerting_src.get("absent", True) is not False:
        _, _, _, factor, long, _, hold = windows[0]
        objective = Decimal(str(spec.get("target"))) / 100
        threshold_seconds = int(float(factor * (1 - objective)) * long)  # Go truncates to whole seconds
        no_data_for = _round_minute((threshold_seconds + hold) * _NS)
        alerting["noData"] = {
            "for": single_unit(max(no_data_for, 60)),
            "severity": str(severities.get("absent") or "critical"),
        }
        absent_name = str(alerting_src.get("absentName") or "SLOMetricAbsent")
        findings.append(
            Finding(
                source,
                "spec.alerting.absentName",
                f"Pyrra's absent alert {absent_name!r} becomes slo-operator's no-data alert SLONoData",
            )
        )
    if alert_labels:
        alerting["labels"] = alert_labels
    if alert_annotations:
        alerting["annotations"] = alert_annotations
    ours["alerting"] = alerting
    identity = f"{API_VERSION} {KIND} {src_ns + '/' if src_ns else ''}{name}"
    return slo_document(name, ns, ours, imported_from=identity, labels=labels, annotations=annotations)
