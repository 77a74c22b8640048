"""Bringing one SLO's children in line with its spec, and refreshing every SLO's status.

Plain functions over a ``KubeClient`` and a ``PrometheusClient``: the kopf handlers only call them, so
they can be driven directly in tests against a real API server.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from slo_operator.children import CHILD_KINDS, desired_children
from slo_operator.kube import KubeClient, KubeError
from slo_operator.loader import parse_object
from slo_operator.model import SLO, resolve
from slo_operator.prometheus import PrometheusClient, PrometheusUnavailable, fetch_measurements
from slo_operator.render import NAME_LABEL, RenderOptions
from slo_operator.status import (
    BUDGET_EXHAUSTED,
    PROMETHEUS_REACHABLE,
    RULES_APPLIED,
    VALID,
    needs_write,
    refreshed_status,
    set_condition,
    transitions,
    with_ready,
)

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What a reconcile did."""

    problems: list[str] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)  # children created or changed
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def valid(self) -> bool:
        return not self.problems


def validate(body: dict[str, Any]) -> tuple[SLO | None, list[str]]:
    """The resolved SLO, or the problems with it (field path and what to do)."""
    metadata = body.get("metadata", {})
    source = f"{metadata.get('namespace')}/{metadata.get('name')}"
    document = {k: body.get(k) for k in ("apiVersion", "kind", "metadata", "spec")}
    obj, problems = parse_object(document, source)
    if obj is None:
        return None, [f"{p.field}: {p.message}" for p in problems]
    return resolve(obj), []


def reconcile_children(body: dict[str, Any], kube: KubeClient, options: RenderOptions) -> Outcome:
    """Validate, apply every desired child (server-side apply), delete children no longer rendered."""
    slo, problems = validate(body)
    if slo is None:
        return Outcome(problems=problems)
    outcome = Outcome()
    namespace, name = slo.namespace, slo.name
    desired = desired_children(slo, body, options)
    try:
        for kind in CHILD_KINDS:
            existing = {
                item["metadata"]["name"]: item["metadata"].get("resourceVersion")
                for item in kube.list_objects(kind, namespace, f"{NAME_LABEL}={name}")
                if _owned_by(item, body)
            }
            wanted = {obj["metadata"]["name"]: obj for k, obj in desired if k is kind}
            for child_name, obj in wanted.items():
                applied = kube.apply(kind, obj)
                label = f"{kind.kind}/{child_name}"
                if applied["metadata"].get("resourceVersion") == existing.get(child_name):
                    outcome.unchanged.append(label)
                else:
                    outcome.applied.append(label)
            for stale in sorted(set(existing) - set(wanted)):
                if kube.delete(kind, namespace, stale):
                    outcome.deleted.append(f"{kind.kind}/{stale}")
    except KubeError as exc:
        outcome.error = str(exc)
    return outcome


def _owned_by(child: dict[str, Any], owner: dict[str, Any]) -> bool:
    uid = owner["metadata"].get("uid")
    return any(ref.get("uid") == uid for ref in child["metadata"].get("ownerReferences", []))


def status_after_reconcile(
    body: dict[str, Any], outcome: Outcome, now: datetime | None = None
) -> dict[str, Any]:
    """The conditions part of the status after a reconcile (numbers are the refresher's job)."""
    now = now or datetime.now(UTC)
    status = body.get("status") or {}
    generation = body["metadata"].get("generation")
    conditions = list(status.get("conditions") or [])
    if not outcome.valid:
        message = "; ".join(outcome.problems)
        conditions = set_condition(conditions, VALID, "False", "InvalidSpec", message, now, generation)
        conditions = set_condition(
            conditions,
            RULES_APPLIED,
            "False",
            "InvalidSpec",
            "nothing applied until the spec is fixed",
            now,
            generation,
        )
    else:
        conditions = set_condition(
            conditions, VALID, "True", "SpecValid", "the spec is valid", now, generation
        )
        if outcome.error:
            conditions = set_condition(
                conditions, RULES_APPLIED, "False", "ApplyFailed", outcome.error, now, generation
            )
        else:
            children = ", ".join(outcome.applied + outcome.unchanged) or "none"
            conditions = set_condition(
                conditions, RULES_APPLIED, "True", "Applied", f"children: {children}", now, generation
            )
    result: dict[str, Any] = {"conditions": with_ready(conditions, now)}
    if outcome.valid and not outcome.error:
        result["observedGeneration"] = generation
    return result


# ---- status refresh ---------------------------------------------------------------------------------

EVENTS = {
    (PROMETHEUS_REACHABLE, "False"): ("Warning", "PrometheusUnreachable"),
    (PROMETHEUS_REACHABLE, "True"): ("Normal", "PrometheusReachable"),
    (BUDGET_EXHAUSTED, "True"): ("Warning", "BudgetExhausted"),
}


@dataclass
class RefreshReport:
    """What one refresh cycle did (for logs and tests)."""

    slos: int = 0
    writes: int = 0
    conflicts: int = 0
    queries: int = 0
    reachable: bool = True
    errors: list[str] = field(default_factory=list)


def refresh_all(
    kube: KubeClient,
    prometheus: PrometheusClient,
    namespaces: tuple[str, ...] = (),
    heartbeat_seconds: float = 300.0,
    now: datetime | None = None,
) -> RefreshReport:
    """Read every SLO's numbers (constant number of queries) and write the statuses that changed."""
    now = now or datetime.now(UTC)
    report = RefreshReport()
    bodies = kube.list_slos(namespaces)
    report.slos = len(bodies)
    before = prometheus.queries_made
    reason = ""
    try:
        measurements = fetch_measurements(prometheus)
    except PrometheusUnavailable as exc:
        measurements, reason = {}, str(exc)
        report.reachable = False
    report.queries = prometheus.queries_made - before
    for body in bodies:
        metadata = body["metadata"]
        if metadata.get("deletionTimestamp"):
            continue
        slo, _problems = validate(body)
        if slo is None:
            continue  # the handler reports invalid specs; there is nothing to measure
        current = body.get("status") or {}
        new = refreshed_status(
            slo, current, measurements.get((slo.namespace, slo.name)), report.reachable, reason, now
        )
        if not needs_write(current, new, now, heartbeat_seconds):
            continue
        try:
            kube.patch_slo_status(slo.namespace, slo.name, new, metadata.get("resourceVersion"))
        except KubeError as exc:
            if exc.status == 409:  # changed since we listed it: the next cycle sees the new version
                report.conflicts += 1
            else:
                report.errors.append(f"{slo.key}: {exc}")
            continue
        report.writes += 1
        for type_, _old, new_status in transitions(current.get("conditions") or [], new["conditions"]):
            # A first successful read is not news; a first failure is.
            if (type_, new_status) in EVENTS and not (
                type_ == PROMETHEUS_REACHABLE and new_status == "True" and not _old
            ):
                event_type, event_reason = EVENTS[(type_, new_status)]
                message = next(c["message"] for c in new["conditions"] if c["type"] == type_)
                kube.post_event(body, event_type, event_reason, message)
    return report
