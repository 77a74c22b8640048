"""OpenSLO v1 (``openslo/v1``: SLO, SLI, AlertPolicy, AlertCondition) to and from our
ServiceLevelObjectives.

Export writes one SLO with an ``indicatorRef``, one SLI, and per burn-rate alert one AlertPolicy
referring to one AlertCondition (OpenSLO allows exactly one condition per policy). OpenSLO has one
lookback window per burn-rate condition and no place for alert labels, grouping or routing; those travel
as ``slo.mlops.dev/*`` annotations, which the importer reads back, so ours -> OpenSLO -> ours is
exact and OpenSLO -> ours -> OpenSLO is stable for documents in that shape. Without the short-window
annotation the short window is 1/12 of the lookback window (the SRE Workbook's ratio), with a warning.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import promql_parser

from slo_operator import API_GROUP
from slo_operator.api import ALERT_NAME_PATTERN, SEVERITY_PATTERN, ServiceLevelObjective
from slo_operator.durations import parse_duration, parse_window
from slo_operator.migrate.common import (
    IMPORTED_FROM,
    Finding,
    ImportRefused,
    Result,
    alert_name,
    budget_percent,
    decimal_float,
    dns_name,
    histogram,
    le_value,
    percent,
    rate_sum,
    slo_document,
    window,
)
from slo_operator.migrate.pyrra import single_unit
from slo_operator.model import SLO, exact, resolve
from slo_operator.selectors import Matcher, parse_selector

API_VERSION = "openslo/v1"
KINDS = ("SLO", "SLI", "AlertPolicy", "AlertCondition", "AlertNotificationTarget", "DataSource", "Service")
A_INDICATOR = f"{API_GROUP}/indicator"
A_SHORT_WINDOW = f"{API_GROUP}/short-window"
A_ALERT_LABELS = f"{API_GROUP}/alert-labels"
A_ALERT_ANNOTATIONS = f"{API_GROUP}/alert-annotations"
A_GROUP_BY = f"{API_GROUP}/group-by"
A_NO_DATA = f"{API_GROUP}/no-data"
A_ROUTING = f"{API_GROUP}/routing"
A_NAMESPACE = f"{API_GROUP}/namespace"
A_ALERTING_DISABLED = f"{API_GROUP}/alerting-disabled"
_CARRIED = {
    A_ALERT_LABELS,
    A_ALERT_ANNOTATIONS,
    A_GROUP_BY,
    A_NO_DATA,
    A_ROUTING,
    A_NAMESPACE,
    A_ALERTING_DISABLED,
    IMPORTED_FROM,
}


def is_openslo(document: Any) -> bool:
    return isinstance(document, dict) and document.get("apiVersion") == API_VERSION


# ---- export ----------------------------------------------------------------------------------------


def _source(query: str) -> dict[str, Any]:
    return {"metricSource": {"type": "Prometheus", "spec": {"query": query}}}


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def export(obj: ServiceLevelObjective) -> list[dict[str, Any]]:
    """OpenSLO documents for one of our SLOs (SLO, SLI, then AlertPolicy/AlertCondition pairs)."""
    slo = resolve(obj)
    spec = obj.spec
    name = obj.name
    indicator = spec.indicator
    sli_annotations = {A_INDICATOR: indicator.kind}
    ratio: dict[str, Any] = {"counter": True}
    if indicator.availability is not None:
        ratio["bad"] = _source(indicator.availability.errors)
        ratio["total"] = _source(indicator.availability.total)
    elif indicator.latency is not None:
        base = parse_selector(indicator.latency.histogram)
        assert slo.latency_threshold is not None
        le = Matcher("le", "=", le_value(slo.latency_threshold))
        ratio["good"] = _source(base.with_metric(base.metric + "_bucket").with_matcher(le).render())
        ratio["total"] = _source(base.with_metric(base.metric + "_count").render())
    elif indicator.accuracy is not None:
        ratio["good"] = _source(indicator.accuracy.correct)
        ratio["total"] = _source(indicator.accuracy.total)
    elif indicator.ratio is not None:
        if indicator.ratio.good is not None:
            ratio["good"] = _source(indicator.ratio.good)
        else:
            assert indicator.ratio.bad is not None
            ratio["bad"] = _source(indicator.ratio.bad)
        ratio["total"] = _source(indicator.ratio.total)
    sli_spec: dict[str, Any] = {"ratioMetric": ratio}
    objective: dict[str, Any] = {"target": decimal_float(slo.objective)}
    if indicator.freshness is not None:
        # A threshold metric on the data's age, judged per time slice (OpenSLO's form of "fresh enough").
        sli_spec = {"thresholdMetric": _source(f"time() - max({indicator.freshness.timestamp})")}
        objective = {"op": "lte", "value": parse_window(indicator.freshness.max_age), **objective}
    sli_name = f"{name}-sli"
    sli = {
        "apiVersion": API_VERSION,
        "kind": "SLI",
        "metadata": {"name": sli_name, "annotations": sli_annotations},
        "spec": sli_spec,
    }
    if slo.method == "Timeslices":
        goal = spec.timeslices.goal if spec.timeslices is not None else None
        goal = 100 if goal is None else goal
        objective["timeSliceTarget"] = decimal_float(Decimal(str(goal)) / 100)
        objective["timeSliceWindow"] = spec.timeslices.slice_size if spec.timeslices is not None else "5m"
    annotations: dict[str, str] = {}
    if obj.metadata.namespace:
        annotations[A_NAMESPACE] = obj.metadata.namespace
    alerting = spec.alerting
    if alerting.labels:
        annotations[A_ALERT_LABELS] = _json(alerting.labels)
    if alerting.annotations:
        annotations[A_ALERT_ANNOTATIONS] = _json(alerting.annotations)
    if spec.group_by:
        annotations[A_GROUP_BY] = ",".join(spec.group_by)
    if not alerting.enabled:
        annotations[A_ALERTING_DISABLED] = "true"
    if alerting.routing is not None:
        annotations[A_ROUTING] = _json(alerting.routing.model_dump(by_alias=True, exclude_none=True))
    no_data = alerting.no_data is not None and alerting.no_data.enabled
    if no_data:
        assert alerting.no_data is not None
        annotations[A_NO_DATA] = _json({"for": alerting.no_data.for_, "severity": alerting.no_data.severity})
    metadata: dict[str, Any] = {"name": name}
    if obj.metadata.labels:
        metadata["labels"] = dict(obj.metadata.labels)
    if annotations:
        metadata["annotations"] = annotations
    out_spec: dict[str, Any] = {}
    if spec.description:
        out_spec["description"] = spec.description
    out_spec.update(
        {
            "service": spec.service,
            "indicatorRef": sli_name,
            "timeWindow": [{"duration": spec.window, "isRolling": True}],
            "budgetingMethod": slo.method,
            "objectives": [objective],
        }
    )
    policies, rest = _alert_documents(slo, name, no_data)
    if policies:
        out_spec["alertPolicies"] = [{"alertPolicyRef": p} for p in policies]
    return [{"apiVersion": API_VERSION, "kind": "SLO", "metadata": metadata, "spec": out_spec}, sli, *rest]


def _alert_documents(slo: SLO, name: str, no_data: bool) -> tuple[list[str], list[dict[str, Any]]]:
    policies: list[str] = []
    documents: list[dict[str, Any]] = []
    for alert in slo.alerts:
        base = dns_name(name, _kebab(alert.name))
        condition = {
            "apiVersion": API_VERSION,
            "kind": "AlertCondition",
            "metadata": {
                "name": f"{base}-condition",
                "annotations": {A_SHORT_WINDOW: single_unit(alert.short_window)},
            },
            "spec": {
                "severity": alert.severity,
                "condition": {
                    "kind": "burnrate",
                    "threshold": _number(alert.threshold),
                    "lookbackWindow": single_unit(alert.long_window),
                    "alertAfter": alert.for_ or "0m",
                },
            },
        }
        policy = {
            "apiVersion": API_VERSION,
            "kind": "AlertPolicy",
            "metadata": {"name": base, "displayName": alert.name},
            "spec": {
                "alertWhenBreaching": True,
                "alertWhenResolved": False,
                "alertWhenNoData": no_data,
                "conditions": [{"conditionRef": f"{base}-condition"}],
                "notificationTargets": [],
            },
        }
        policies.append(base)
        documents += [policy, condition]
    return policies, documents


def _number(value: Decimal) -> int | float:
    """A threshold as the rules write it (12 significant digits: 14, not 14.000000000000002)."""
    text = exact(value)
    return int(text) if "." not in text else float(text)


def _kebab(text: str) -> str:
    out = ""
    for i, ch in enumerate(text):
        if (
            ch.isupper()
            and i
            and (not text[i - 1].isupper() or (i + 1 < len(text) and text[i + 1].islower()))
        ):
            out += "-"
        out += ch
    return out.lower().replace("_", "-")


# ---- import ----------------------------------------------------------------------------------------


class _Index:
    """Named OpenSLO objects of one import, for resolving ``*Ref`` fields."""

    def __init__(self, documents: list[tuple[str, dict[str, Any]]]) -> None:
        self.by_kind: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {k: {} for k in KINDS}
        for source, doc in documents:
            name = str((doc.get("metadata") or {}).get("name") or "")
            if doc.get("kind") in self.by_kind and name:
                self.by_kind[str(doc["kind"])][name] = (source, doc)

    def get(self, kind: str, name: str, field_path: str) -> dict[str, Any]:
        found = self.by_kind[kind].get(name)
        if found is None:
            raise ImportRefused(field_path, f"no {kind} named {name!r} among the imported documents")
        return found[1]


def convert_all(documents: list[tuple[str, dict[str, Any]]], namespace: str | None = None) -> Result:
    """Every OpenSLO SLO among ``documents`` (SLIs, policies and conditions may be separate documents)."""
    result = Result()
    index = _Index(documents)
    for source, doc in documents:
        kind = doc.get("kind")
        if kind not in KINDS:
            result.findings.append(Finding(source, "kind", f"unknown OpenSLO kind {kind!r}; skipped"))
            continue
        if kind != "SLO":
            continue
        findings: list[Finding] = []
        try:
            result.documents.append(_convert(doc, source, index, namespace, findings))
        except ImportRefused as exc:
            findings.append(Finding(source, exc.field, exc.message, "error"))
        result.findings.extend(findings)
    if not any(d.get("kind") == "SLO" for _, d in documents):
        result.findings.append(Finding("(input)", "kind", "no OpenSLO SLO documents found", "error"))
    return result


def _query(holder: Any, field_path: str, index: _Index) -> str:
    source = (holder or {}).get("metricSource") if isinstance(holder, dict) else None
    if not isinstance(source, dict):
        raise ImportRefused(field_path, "metricSource is required")
    kind = source.get("type")
    if not kind and source.get("metricSourceRef"):
        kind = (
            index.get(
                "DataSource", str(source["metricSourceRef"]), f"{field_path}.metricSource.metricSourceRef"
            ).get("spec")
            or {}
        ).get("type")
    if str(kind).lower() != "prometheus":
        raise ImportRefused(f"{field_path}.metricSource.type", f"{kind!r}: only Prometheus sources import")
    query = (source.get("spec") or {}).get("query")
    if not query:
        raise ImportRefused(f"{field_path}.metricSource.spec.query", "required")
    return str(query)


def _selector(holder: Any, field_path: str, index: _Index) -> str:
    query = _query(holder, field_path, index)
    found = rate_sum(query, f"{field_path}.metricSource.spec.query", template="{{.window}}" in query)
    if found.by:
        raise ImportRefused(
            f"{field_path}.metricSource.spec.query", "sum by (...) is not imported from OpenSLO"
        )
    return found.selector.render()


def _freshness(query: str, objective: dict[str, Any], path: str) -> dict[str, Any]:
    """``time() - max(<timestamp gauge>)`` with ``op: lte``/``lt`` and ``value`` (seconds) -> freshness."""
    refused = (
        "only the age of a timestamp gauge, time() - max(<selector>), imports (as freshness); other "
        "threshold metrics compare raw values that slo-operator's indicators do not read"
    )
    try:
        expr = promql_parser.parse(query)
    except ValueError:
        raise ImportRefused(path, refused) from None
    while isinstance(expr, promql_parser.ParenExpr):
        expr = expr.expr
    if not (
        isinstance(expr, promql_parser.BinaryExpr)
        and str(expr.op) == "-"
        and isinstance(expr.lhs, promql_parser.Call)
        and expr.lhs.func.name == "time"
    ):
        raise ImportRefused(path, refused)
    rhs = expr.rhs
    if isinstance(rhs, promql_parser.AggregateExpr) and str(rhs.op) == "max" and rhs.modifier is None:
        rhs = rhs.expr
    if not isinstance(rhs, promql_parser.VectorSelector):
        raise ImportRefused(path, refused)
    if objective.get("op") not in ("lte", "lt"):
        raise ImportRefused("spec.objectives[0].op", "freshness needs op lte (the age at most value)")
    value = Decimal(str(objective.get("value")))
    if value < 1 or value != value.to_integral_value():
        raise ImportRefused("spec.objectives[0].value", "the maximum age must be whole seconds")
    return {"freshness": {"timestamp": parse_selector(str(rhs)).render(), "maxAge": single_unit(int(value))}}


def _indicator(
    sli: dict[str, Any], path: str, index: _Index, objective: dict[str, Any]
) -> dict[str, Any]:
    spec = sli.get("spec") or {}
    hint = ((sli.get("metadata") or {}).get("annotations") or {}).get(A_INDICATOR)
    if "thresholdMetric" in spec:
        tpath = f"{path}.thresholdMetric"
        return _freshness(_query(spec["thresholdMetric"], tpath, index), objective, tpath)
    if "op" in objective or "value" in objective:
        raise ImportRefused("spec.objectives[0].op", "op/value belong to threshold metrics")
    ratio = spec.get("ratioMetric")
    if not isinstance(ratio, dict):
        raise ImportRefused(path, "ratioMetric is required")
    rpath = f"{path}.ratioMetric"
    if "raw" in ratio:
        raise ImportRefused(
            f"{rpath}.raw", "a precomputed ratio cannot be imported; give good or bad and total"
        )
    if not ratio.get("counter", False):
        raise ImportRefused(f"{rpath}.counter", "only counters (counter: true) can be imported")
    total = _selector(ratio.get("total"), f"{rpath}.total", index)
    if "good" in ratio and "bad" in ratio:
        raise ImportRefused(rpath, "give good or bad, not both")
    if "bad" in ratio:
        bad = _selector(ratio["bad"], f"{rpath}.bad", index)
        if hint == "ratio":
            return {"ratio": {"bad": bad, "total": total}}
        return {"availability": {"errors": bad, "total": total}}
    if "good" not in ratio:
        raise ImportRefused(rpath, "good or bad is required")
    good = _selector(ratio["good"], f"{rpath}.good", index)
    if hint == "accuracy":
        return {"accuracy": {"correct": good, "total": total}}
    good_sel, total_sel = parse_selector(good), parse_selector(total)
    if hint in (None, "latency") and good_sel.metric.endswith("_bucket") and "le" in good_sel.label_names():
        histo, threshold = histogram(good_sel, total_sel, f"{rpath}.good")
        return {"latency": {"histogram": histo, "threshold": threshold}}
    return {"ratio": {"good": good, "total": total}}


def _policy(entry: Any, path: str, index: _Index) -> tuple[str, dict[str, Any]]:
    if isinstance(entry, str):
        return f"{path}", index.get("AlertPolicy", entry, path)
    if isinstance(entry, dict) and "alertPolicyRef" in entry:
        return f"{path}", index.get("AlertPolicy", str(entry["alertPolicyRef"]), f"{path}.alertPolicyRef")
    if isinstance(entry, dict) and entry.get("kind") == "AlertPolicy":
        return f"{path}", entry
    raise ImportRefused(path, "expected an alertPolicyRef or an inline AlertPolicy")


def _condition(policy: dict[str, Any], path: str, index: _Index) -> dict[str, Any]:
    conditions = (policy.get("spec") or {}).get("conditions") or []
    if len(conditions) != 1:
        raise ImportRefused(f"{path}.spec.conditions", "OpenSLO allows exactly one condition per policy")
    entry = conditions[0]
    if isinstance(entry, dict) and "conditionRef" in entry:
        return index.get(
            "AlertCondition", str(entry["conditionRef"]), f"{path}.spec.conditions[0].conditionRef"
        )
    if isinstance(entry, dict) and entry.get("kind") == "AlertCondition":
        return entry
    raise ImportRefused(f"{path}.spec.conditions[0]", "expected a conditionRef or an inline AlertCondition")


def _alerts(
    spec: dict[str, Any], window_seconds: int, source: str, index: _Index, findings: list[Finding]
) -> tuple[list[dict[str, Any]], bool]:
    alerts: list[dict[str, Any]] = []
    no_data = False
    for i, entry in enumerate(spec.get("alertPolicies") or []):
        path = f"spec.alertPolicies[{i}]"
        _, policy = _policy(entry, path, index)
        pspec = policy.get("spec") or {}
        pmeta = policy.get("metadata") or {}
        if pspec.get("alertWhenNoData"):
            no_data = True
        if pspec.get("alertWhenResolved"):
            findings.append(
                Finding(
                    source,
                    f"{path}.spec.alertWhenResolved",
                    "resolved notifications are an "
                    "Alertmanager receiver setting (send_resolved); not carried over",
                )
            )
        if pspec.get("notificationTargets"):
            findings.append(
                Finding(
                    source,
                    f"{path}.spec.notificationTargets",
                    "notification targets are not "
                    "imported: set spec.alerting.routing (PagerDuty/Slack Secret references)",
                )
            )
        if pspec.get("alertWhenBreaching") is False:
            findings.append(Finding(source, f"{path}.spec.alertWhenBreaching", "false: no alert imported"))
            continue
        condition = _condition(policy, path, index)
        cpath = f"{path}.conditions[0]"
        cspec = condition.get("spec") or {}
        cond = cspec.get("condition") or {}
        if cond.get("kind", "burnrate") != "burnrate":
            raise ImportRefused(
                f"{cpath}.spec.condition.kind", f"{cond.get('kind')!r}: only burnrate imports"
            )
        if cond.get("op", "gt") not in ("gt", "gte"):
            raise ImportRefused(f"{cpath}.spec.condition.op", "burn-rate alerts fire above the threshold")
        long_text = window(cond.get("lookbackWindow"), f"{cpath}.spec.condition.lookbackWindow")
        long = parse_window(long_text)
        short_text = ((condition.get("metadata") or {}).get("annotations") or {}).get(A_SHORT_WINDOW)
        if short_text:
            short_text = window(short_text, f"{cpath}.metadata.annotations.{A_SHORT_WINDOW}")
        else:
            short_text = single_unit(max(60, long // 12 // 60 * 60))
            findings.append(
                Finding(
                    source,
                    f"{cpath}.spec.condition.lookbackWindow",
                    f"OpenSLO has one window; the short window is 1/12 of it: {short_text}",
                )
            )
        threshold = Decimal(str(cond.get("threshold")))
        display = str(pmeta.get("displayName") or "")
        name = (
            display
            if re.match(ALERT_NAME_PATTERN, display)
            else alert_name(str(pmeta.get("name") or f"SLOAlert{i}"))
        )
        severity = str(cspec.get("severity") or "")
        if not re.match(SEVERITY_PATTERN, severity):
            raise ImportRefused(f"{cpath}.spec.severity", f"{severity!r}: severities are lower-case words")
        alert: dict[str, Any] = {
            "name": name,
            "severity": severity,
            "budgetPercent": budget_percent(threshold, window_seconds, long),
            "longWindow": long_text,
            "shortWindow": short_text,
        }
        after = str(cond.get("alertAfter") or "0m")
        if parse_duration(after) if after not in ("0", "0m", "0s") else False:
            alert["for"] = after
        alerts.append(alert)
    return alerts, no_data


def _convert(
    doc: dict[str, Any], source: str, index: _Index, namespace: str | None, findings: list[Finding]
) -> dict[str, Any]:
    metadata = doc.get("metadata") or {}
    spec = doc.get("spec") or {}
    name = str(metadata.get("name") or "")
    if not name:
        raise ImportRefused("metadata.name", "required")
    annotations = {str(k): str(v) for k, v in (metadata.get("annotations") or {}).items()}
    if "indicator" in spec:
        sli, sli_path = spec["indicator"], "spec.indicator"
    elif spec.get("indicatorRef"):
        sli = index.get("SLI", str(spec["indicatorRef"]), "spec.indicatorRef")
        sli_path = f"SLI {spec['indicatorRef']}.spec"
    else:
        raise ImportRefused("spec", "indicator or indicatorRef is required")
    windows = spec.get("timeWindow") or []
    if len(windows) != 1:
        raise ImportRefused("spec.timeWindow", "exactly one time window is required")
    if not windows[0].get("isRolling", "calendar" not in windows[0]):
        raise ImportRefused(
            "spec.timeWindow[0].calendar",
            "calendar-aligned windows are not supported; slo-operator budgets over a rolling window",
        )
    slo_window = window(windows[0].get("duration"), "spec.timeWindow[0].duration")
    objectives = spec.get("objectives") or []
    if len(objectives) != 1:
        raise ImportRefused(
            "spec.objectives",
            f"{len(objectives)} objectives: slo-operator has one per SLO "
            "(write one OpenSLO SLO per objective)",
        )
    objective = objectives[0]
    indicator = _indicator(sli, sli_path, index, objective)
    if "targetPercent" in objective:
        target = percent(objective["targetPercent"], "spec.objectives[0].targetPercent")
    else:
        target = percent(objective.get("target"), "spec.objectives[0].target", scale=100)
    ours: dict[str, Any] = {
        "service": str(spec.get("service") or name),
        "objective": target,
        "window": slo_window,
        "indicator": indicator,
    }
    if spec.get("description"):
        ours["description"] = str(spec["description"])[:1024]
    method = spec.get("budgetingMethod", "Occurrences")
    slice_window = str(objective.get("timeSliceWindow", "5m"))
    default_slices = slice_window == "5m" and Decimal(str(objective.get("timeSliceTarget", 1))) == 1
    if "freshness" in indicator:
        if method != "Timeslices":
            findings.append(Finding(source, "spec.budgetingMethod", "freshness is measured in timeslices"))
        elif not default_slices:
            ours["timeslices"] = {
                "sliceSize": window(slice_window, "spec.objectives[0].timeSliceWindow"),
                "goal": decimal_float(Decimal(str(objective.get("timeSliceTarget", 1))) * 100),
            }
    elif method == "Timeslices":
        ours["budgetingMethod"] = "Timeslices"
        ours["timeslices"] = {
            "sliceSize": window(objective.get("timeSliceWindow", "5m"), "spec.objectives[0].timeSliceWindow"),
            "goal": percent(objective.get("timeSliceTarget"), "spec.objectives[0].timeSliceTarget", scale=100)
            if Decimal(str(objective.get("timeSliceTarget", 0))) < 1
            else 100.0,
        }
    elif method != "Occurrences":
        raise ImportRefused("spec.budgetingMethod", f"{method!r}: Occurrences or Timeslices")
    if annotations.get(A_GROUP_BY):
        ours["groupBy"] = annotations[A_GROUP_BY].split(",")
    alerts, no_data = _alerts(spec, parse_window(slo_window), source, index, findings)
    alerting: dict[str, Any] = {"burnRates": alerts}
    if annotations.get(A_ALERTING_DISABLED) == "true":
        alerting["enabled"] = False
    for key, field_name in (
        (A_ALERT_LABELS, "labels"),
        (A_ALERT_ANNOTATIONS, "annotations"),
        (A_ROUTING, "routing"),
    ):
        if annotations.get(key):
            try:
                alerting[field_name] = json.loads(annotations[key])
            except ValueError:
                raise ImportRefused(f"metadata.annotations.{key}", "is not JSON") from None
    if no_data:
        carried = json.loads(annotations[A_NO_DATA]) if annotations.get(A_NO_DATA) else None
        if carried is None:
            findings.append(
                Finding(
                    source,
                    "spec.alertPolicies",
                    "alertWhenNoData: slo-operator's no-data "
                    "alert fires after 15m without data (severity warning)",
                )
            )
        alerting["noData"] = carried or {"for": "15m", "severity": "warning"}
    ours["alerting"] = alerting
    labels: dict[str, str] = {}
    for key, value in (metadata.get("labels") or {}).items():
        if isinstance(value, list):
            findings.append(Finding(source, f"metadata.labels.{key}", "a list value: joined with ','"))
            value = ",".join(map(str, value))
        labels[str(key)] = str(value)
    ns = namespace or annotations.get(A_NAMESPACE)
    kept = {k: v for k, v in annotations.items() if k not in _CARRIED}
    if metadata.get("displayName"):
        kept[f"{API_GROUP}/display-name"] = str(metadata["displayName"])
    return slo_document(
        dns_name(name), ns, ours, imported_from=f"{API_VERSION} SLO {name}", labels=labels, annotations=kept
    )
