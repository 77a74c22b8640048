"""Sloth SLOs (``sloth.slok.dev/v1`` PrometheusServiceLevel objects and ``prometheus/v1`` spec files)
into our ServiceLevelObjectives.

Sloth's page and ticket alerts are each two window pairs OR-ed under one alert name (page: 2% of the
budget in 1h/5m or 5% in 6h/30m; ticket: 10% in 1d/2h or 10% in 3d/6h, the 30d defaults); our burn-rate
alerts are one window pair each with unique names, so one Sloth alert becomes two of ours
(``<name>Page``/``<name>PageSlow``, ``<name>Ticket``/``<name>TicketSlow``), with the same windows and
thresholds. Sloth has no per-SLO window: its default 30d is used.
"""

from __future__ import annotations

from typing import Any

from slo_operator.migrate.common import (
    Finding,
    ImportRefused,
    Result,
    alert_name,
    dns_name,
    histogram,
    label_findings,
    latency_difference,
    percent,
    rate_sum,
    slo_document,
)

CR_API_VERSION = "sloth.slok.dev/v1"
CR_KIND = "PrometheusServiceLevel"
SPEC_VERSION = "prometheus/v1"
SLOTH_WINDOW = "30d"
# Sloth's google-30d alert windows: (suffix, budget %, long, short) for page and ticket.
PAGE_WINDOWS = (("Page", 2, "1h", "5m"), ("PageSlow", 5, "6h", "30m"))
TICKET_WINDOWS = (("Ticket", 10, "1d", "2h"), ("TicketSlow", 10, "3d", "6h"))
DEFAULT_SEVERITY = {"page": "critical", "ticket": "warning"}


def is_sloth(document: Any) -> bool:
    return isinstance(document, dict) and (
        (document.get("apiVersion") == CR_API_VERSION and document.get("kind") == CR_KIND)
        or document.get("version") == SPEC_VERSION
    )


def _get(mapping: Any, camel: str, snake: str | None = None) -> Any:
    """A field by its CR (camelCase) or spec-file (snake_case) spelling."""
    if not isinstance(mapping, dict):
        return None
    if camel in mapping:
        return mapping[camel]
    return mapping.get(snake) if snake else None


def convert(document: dict[str, Any], source: str, namespace: str | None = None) -> Result:
    """Every SLO of one Sloth document; each failing SLO yields errors instead of a document."""
    result = Result()
    is_cr = document.get("kind") == CR_KIND
    root = document.get("spec") if is_cr else document
    prefix = "spec." if is_cr else ""
    if not isinstance(root, dict):
        result.findings.append(Finding(source, "spec", "expected a mapping", "error"))
        return result
    metadata = document.get("metadata") or {}
    ns = namespace or (metadata.get("namespace") if is_cr else None)
    identity = (
        f"{CR_API_VERSION} {CR_KIND} {metadata.get('namespace', '')}/{metadata.get('name', '')}".replace(
            " /", " "
        )
        if is_cr
        else f"sloth {SPEC_VERSION} service {root.get('service', '')}"
    )
    service = str(root.get("service") or "")
    plugins = _get(root, "sloPlugins", "slo_plugins")
    if plugins:
        result.findings.append(
            Finding(
                source,
                f"{prefix}{'sloPlugins' if is_cr else 'slo_plugins'}",
                "Sloth SLO plugins change Sloth's own rules; slo-operator has no plugins, not carried over",
            )
        )
    slos = root.get("slos") or []
    if not slos:
        result.findings.append(Finding(source, f"{prefix}slos", "no SLOs in this document", "error"))
    for i, slo in enumerate(slos):
        path = f"{prefix}slos[{i}]"
        findings: list[Finding] = []
        try:
            doc = _convert_slo(slo, i, path, root, service, ns, identity, is_cr, source, findings)
        except ImportRefused as exc:
            findings.append(Finding(source, exc.field, exc.message, "error"))
            doc = None
        result.findings.extend(findings)
        if doc is not None:
            result.documents.append(doc)
    return result


def _indicator(sli: Any, path: str, is_cr: bool) -> tuple[dict[str, Any], list[str]]:
    if not isinstance(sli, dict) or not sli:
        raise ImportRefused(f"{path}.sli", "an SLI is required (events, raw or plugin)")
    if "raw" in sli:
        raise ImportRefused(
            f"{path}.sli.raw",
            "a precomputed error ratio cannot be imported: slo-operator records good/bad and total counters "
            "and derives every window from them (weighted by traffic); write the counters' selectors",
        )
    if "plugin" in sli:
        plugin = sli.get("plugin") or {}
        raise ImportRefused(
            f"{path}.sli.plugin",
            f"SLI plugin {plugin.get('id', '')!r} builds its queries in Go code; write the counters' "
            "selectors instead",
        )
    events = sli.get("events")
    if not isinstance(events, dict):
        raise ImportRefused(f"{path}.sli", "expected events, raw or plugin")
    error_field = f"{path}.sli.events.{'errorQuery' if is_cr else 'error_query'}"
    total_field = f"{path}.sli.events.{'totalQuery' if is_cr else 'total_query'}"
    error_query = str(_get(events, "errorQuery", "error_query") or "")
    total_query = str(_get(events, "totalQuery", "total_query") or "")
    total = rate_sum(total_query, total_field)
    difference = latency_difference(error_query, error_field) if "{{.window}}" in error_query else None
    if difference is not None:
        minuend, good = difference
        if minuend != total:
            raise ImportRefused(error_field, "the subtracted-from series must be the total query's series")
        histo, threshold = histogram(good.selector, total.selector, error_field)
        if good.by != total.by:
            raise ImportRefused(error_field, "both sums must keep the same labels (sum by)")
        return {"latency": {"histogram": histo, "threshold": threshold}}, list(total.by)
    errors = rate_sum(error_query, error_field)
    if errors.by != total.by:
        raise ImportRefused(
            error_field, f"error and total queries keep different labels ({errors.by} vs {total.by})"
        )
    indicator = {"availability": {"errors": errors.selector.render(), "total": total.selector.render()}}
    return indicator, list(total.by)


def _convert_slo(
    slo: Any,
    index: int,
    path: str,
    root: dict[str, Any],
    service: str,
    namespace: str | None,
    identity: str,
    is_cr: bool,
    source: str,
    findings: list[Finding],
) -> dict[str, Any] | None:
    if not isinstance(slo, dict):
        raise ImportRefused(path, "expected a mapping")
    name = str(slo.get("name") or "")
    if not name:
        raise ImportRefused(f"{path}.name", "every Sloth SLO needs a name")
    indicator, group_by = _indicator(slo.get("sli"), path, is_cr)
    spec: dict[str, Any] = {
        "service": service,
        "objective": percent(slo.get("objective"), f"{path}.objective"),
        "window": SLOTH_WINDOW,
        "indicator": indicator,
    }
    if slo.get("description"):
        spec["description"] = str(slo["description"])[:1024]
    if group_by:
        spec["groupBy"] = group_by
    if slo.get("plugins"):
        findings.append(Finding(source, f"{path}.plugins", "Sloth SLO plugins are not carried over"))

    # Labels: Sloth puts spec/SLO labels on recordings and alerts; ours go on the alerts (recordings
    # carry slo, namespace and service).
    alert_labels: dict[str, str] = {}
    for field_path, labels in (
        (f"{'spec.' if is_cr else ''}labels", root.get("labels")),
        (f"{path}.labels", slo.get("labels")),
    ):
        kept, notes = label_findings(labels or {}, source, field_path)
        alert_labels.update(kept)
        findings.extend(notes)
    alerting_src = slo.get("alerting") or {}
    kept, notes = label_findings(alerting_src.get("labels") or {}, source, f"{path}.alerting.labels")
    alert_labels.update(kept)
    findings.extend(notes)
    alert_annotations = {str(k): str(v) for k, v in (alerting_src.get("annotations") or {}).items()}

    alerts: list[dict[str, Any]] = []
    base_name = str(alerting_src.get("name") or "")
    kinds = (
        ("page", "pageAlert", "page_alert", PAGE_WINDOWS),
        ("ticket", "ticketAlert", "ticket_alert", TICKET_WINDOWS),
    )
    per_alert: dict[str, dict[str, Any]] = {}
    for kind, camel, snake, windows in kinds:
        spec_alert = _get(alerting_src, camel, snake) or {}
        field_path = f"{path}.alerting.{camel if is_cr else snake}"
        if spec_alert.get("disable"):
            continue
        per_alert[kind] = spec_alert
        labels = dict(spec_alert.get("labels") or {})
        severity = str(labels.pop("severity", DEFAULT_SEVERITY[kind]))
        if not base_name:
            raise ImportRefused(f"{path}.alerting.name", "alerts are enabled but have no name")
        for suffix, budget, long, short in windows:
            alerts.append(
                {
                    "name": alert_name(base_name) + suffix,
                    "severity": severity,
                    "budgetPercent": budget,
                    "longWindow": long,
                    "shortWindow": short,
                }
            )
        extra = {k: v for k, v in labels.items()}
        for key, value in extra.items():
            findings.append(
                Finding(
                    source,
                    f"{field_path}.labels.{key}",
                    f"a label on the {kind} alert only ({key}={value!r}): slo-operator's alert labels apply "
                    "to every alert of the SLO; not carried over (route on severity instead)",
                )
            )
        for key in spec_alert.get("annotations") or {}:
            findings.append(
                Finding(
                    source,
                    f"{field_path}.annotations.{key}",
                    f"an annotation on the {kind} alert only: slo-operator's alert annotations apply to "
                    "every alert of the SLO; not carried over",
                )
            )
    alerting: dict[str, Any] = {}
    if alerts:
        alerting["burnRates"] = alerts
        findings.append(
            Finding(
                source,
                f"{path}.alerting.name",
                f"Sloth names its page and ticket alerts {base_name!r} (told apart by sloth_severity), each "
                "with two window pairs; slo-operator alert names are unique, one pair each: "
                + ", ".join(a["name"] for a in alerts),
            )
        )
    else:
        alerting["enabled"] = False
    if alert_labels:
        alerting["labels"] = alert_labels
    if alert_annotations:
        alerting["annotations"] = alert_annotations
    spec["alerting"] = alerting
    our_name = dns_name(service, name)
    return slo_document(our_name, namespace, spec, imported_from=f"{identity} slo {name}")
