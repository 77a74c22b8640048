"""Bringing one SLO's children in line with its spec, and refreshing every SLO's status.

Plain functions over a ``KubeClient`` and a ``PrometheusClient``: the kopf handlers only call them, so
they can be driven directly in tests against a real API server.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import zlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from slo_operator.acceptance import EVENT_FIELD_SELECTOR, REASON, Rejection, acceptance_conditions, rejections
from slo_operator.children import (
    ALERTMANAGER_CONFIG,
    CHILD_KINDS,
    PROMETHEUS_RULE,
    ChildKind,
    desired_children,
)
from slo_operator.coverage import Coverage, RawFigures, RawQuery
from slo_operator.forecast import NO_FORECAST, Forecast
from slo_operator.forecaster import Forecaster, Subject, status_of
from slo_operator.kube import POLICY_KIND, SLO_PAGE, KubeClient, KubeError
from slo_operator.loader import parse_object
from slo_operator.model import SLO, resolve
from slo_operator.policy import policy_for, with_policy
from slo_operator.policy_reconcile import (
    POLICY_READY,
    Policies,
    apply_policy,
    load_policies,
    parse_policies,
    policy_statuses,
)
from slo_operator.prometheus import (
    Measurement,
    PrometheusClient,
    PrometheusUnavailable,
    fetch_cost,
    fetch_measurements,
    fetch_raw,
    young,
)
from slo_operator.ratelimit import TokenBucket
from slo_operator.render import NAME_LABEL, RenderOptions
from slo_operator.routing import RoutingOptions, secret_references
from slo_operator.status import (
    BUDGET_EXHAUSTED,
    PROMETHEUS_REACHABLE,
    ROUTING_READY,
    RULES_APPLIED,
    VALID,
    needs_write,
    refreshed_status,
    set_condition,
    transitions,
    window_measurement,
    with_ready,
)
from slo_operator.watch_cache import RENDERED_ANNOTATION, WatchCache, owned_versions, stale_children

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What a reconcile did."""

    problems: list[str] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)  # children created or changed
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    error: str | None = None
    routing: tuple[str, str, str] | None = None  # RoutingReady (status, reason, message); None: not checked
    slo: SLO | None = None  # the resolved SLO as its policy shapes it (None: invalid spec)

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


def reconcile_children(
    body: dict[str, Any], kube: KubeClient, options: RenderOptions, cache: WatchCache | None = None
) -> Outcome:
    """Validate, write every desired child, delete children no longer rendered.

    With ``cache`` (the operator's watches) the existing children and policies come from it: no LIST,
    and each child is written only when it is missing or differs from what is rendered now
    (``write_child``), then the deletions of stale children. Without it (tools, tests) they are listed
    and every child is applied (server-side apply: a no-op when nothing changed).
    """
    slo, problems = validate(body)
    if slo is None:
        return Outcome(problems=problems)
    outcome = Outcome()
    namespace, name = slo.namespace, slo.name
    uid = str(body["metadata"].get("uid"))
    try:
        slo, options = _shaped_by_policy(slo, body, kube, options, cache)
    except KubeError as exc:
        return Outcome(error=f"cannot read ErrorBudgetPolicies: {exc}")
    outcome.slo = slo
    desired = desired_children(slo, body, options)
    outcome.routing = check_routing(slo, kube, options)
    try:
        for kind in CHILD_KINDS:
            wanted = {obj["metadata"]["name"]: obj for k, obj in desired if k is kind}
            if cache is not None:
                existing = owned_versions(cache.children(kind.plural, namespace, name), uid)
            else:
                try:
                    found = kube.list_objects(kind, namespace, f"{NAME_LABEL}={name}")
                except KubeError as exc:
                    if exc.status == 404 and not wanted:
                        continue  # the kind's CRD is not installed (no AlertmanagerConfig CRD), none wanted
                    raise
                existing = {
                    item["metadata"]["name"]: item["metadata"].get("resourceVersion")
                    for item in found
                    if _owned_by(item, body)
                }
            for child_name, obj in wanted.items():
                if cache is not None:
                    known = cache.children(kind.plural, namespace, name).get(child_name)
                    written = write_child(kube, kind, obj, known)
                    if written is not None:
                        cache.record_child(kind.plural, written)
                    applied = written or {"metadata": {"resourceVersion": existing.get(child_name)}}
                else:
                    applied = kube.apply(kind, obj, metadata_only=True)
                label = f"{kind.kind}/{child_name}"
                if applied["metadata"].get("resourceVersion") == existing.get(child_name):
                    outcome.unchanged.append(label)
                else:
                    outcome.applied.append(label)
            for stale in stale_children(existing, wanted):
                if cache is not None:
                    cache.forget_child(kind.plural, namespace, name, stale)
                if kube.delete(kind, namespace, stale):
                    outcome.deleted.append(f"{kind.kind}/{stale}")
    except KubeError as exc:
        outcome.error = str(exc)
    return outcome


def rendered_digest(obj: dict[str, Any]) -> str:
    """What identifies a rendered child (all of it, its owner reference too): 16 hex digits of the SHA-256
    of its canonical JSON."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def write_child(
    kube: KubeClient, kind: ChildKind, obj: dict[str, Any], known: tuple[str, str, str] | None
) -> dict[str, Any] | None:
    """Bring one child in line with ``obj`` as cheaply as the watch cache allows: the answer's metadata,
    or None when nothing was sent. ``known``: the cache's (owner uid, resourceVersion, digest) of the
    child of that name, None when it has none.

    The child carries the digest of what was rendered into it (``RENDERED_ANNOTATION``), which the cache
    keeps while only the operator has written it (``watch_cache.clean_digest``). So:

    - not there: created (POST; cheaper for the API server than a server-side apply, ``KubeClient.create``);
    - there with this digest and written by nobody else: nothing at all (a restart sends no request for a
      settled child);
    - else (rendered differently, edited by hand, written by an older version of the operator): replaced
      whole (PUT at the cached resourceVersion): every field is what is rendered, including the removal
      of what is no longer rendered, whoever owned it. A version that moved on meanwhile, or a child gone
      meanwhile, is read again once.
    """
    metadata = obj["metadata"]
    digest = rendered_digest(obj)
    metadata["annotations"] = {**(metadata.get("annotations") or {}), RENDERED_ANNOTATION: digest}
    namespace, name = metadata["namespace"], metadata["name"]
    if known is None:
        try:
            return kube.create(kind, obj)
        except KubeError as exc:
            if exc.status != 409:  # 409: it exists all the same (not labelled as ours, or not seen yet)
                raise
    elif known[2] == digest:
        return None
    else:
        try:
            return kube.replace(kind, obj, known[1])
        except KubeError as exc:
            if exc.status not in (404, 409):
                raise
    current = kube.get_metadata(kind, namespace, name)
    if current is None:
        return kube.create(kind, obj)
    return kube.replace(kind, obj, str(current["metadata"]["resourceVersion"]))


def shaped_slo(
    body: dict[str, Any], kube: KubeClient, options: RenderOptions, cache: WatchCache | None
) -> SLO | None:
    """The SLO ``body`` resolved and shaped by its policy, as a reconcile renders it (None: invalid; a
    policy that cannot be read leaves it as written)."""
    slo, _ = validate(body)
    if slo is None:
        return None
    try:
        return _shaped_by_policy(slo, body, kube, options, cache)[0]
    except KubeError:
        return slo


def _shaped_by_policy(
    slo: SLO, body: dict[str, Any], kube: KubeClient, options: RenderOptions, cache: WatchCache | None
) -> tuple[SLO, RenderOptions]:
    """The SLO's error-budget policy may add the ticket-tier alert and its routing (policy.with_policy)."""
    if cache is not None:
        bodies = cache.policies(slo.namespace)
    else:
        try:
            bodies = kube.list_objects(POLICY_KIND, slo.namespace)
        except KubeError as exc:
            if exc.status != 404:  # 404: the ErrorBudgetPolicy CRD is not installed
                raise
            bodies = []
    policies = parse_policies(bodies).by_namespace.get(slo.namespace, [])
    if not policies:
        return slo, options
    labels = body["metadata"].get("labels") or {}
    policy, _problem = policy_for(labels, (body.get("spec") or {}).get("policyRef"), policies)
    slo, routing = with_policy(slo, policy, options.routing)
    return slo, replace(options, routing=routing)


def check_routing(
    slo: SLO,
    kube: KubeClient,
    options: RenderOptions,
    cache: dict[tuple[str, str], frozenset[str] | None] | None = None,
) -> tuple[str, str, str]:
    """The RoutingReady condition (status, reason, message): do the Secret keys the SLO's
    AlertmanagerConfig refers to exist in its namespace?

    prometheus-operator skips an AlertmanagerConfig whose Secret is missing and says so only in its own
    log, so a typo would silently lose every page of the SLO; this puts it in the SLO's status and Events.
    Only the named Secrets are read (RBAC ``get`` on secrets); without that permission the condition is
    Unknown and nothing else changes. ``cache`` shares lookups between SLOs within one refresh cycle.
    """
    uses = secret_references(slo, options.routing)
    if not uses:
        return (
            "True",
            "NotConfigured",
            "no receiver in spec.alerting.routing or the operator's defaults: no AlertmanagerConfig",
        )
    cache = {} if cache is None else cache
    problems: list[tuple[str, str]] = []
    for use in uses:
        ref = f"Secret {slo.namespace}/{use.secret.name}"
        lookup = (slo.namespace, use.secret.name)
        try:
            if lookup not in cache:
                cache[lookup] = kube.get_secret_keys(*lookup)
        except KubeError as exc:
            reason = "SecretCheckForbidden" if exc.status == 403 else "SecretCheckFailed"
            return "Unknown", reason, f"cannot check {ref} ({use.source}): {exc}"
        keys = cache[lookup]
        if keys is None:
            problems.append(("SecretNotFound", f"{use.receiver}: {ref} not found ({use.source})"))
        elif use.secret.key not in keys:
            problems.append(
                ("KeyNotFound", f"{use.receiver}: {ref} has no key {use.secret.key!r} ({use.source})")
            )
    if problems:
        message = "; ".join(text for _, text in problems)
        return "False", problems[0][0], f"{message}; prometheus-operator ignores the SLO's AlertmanagerConfig"
    return "True", "SecretsFound", "receivers " + ", ".join(u.receiver for u in uses) + ": Secret keys found"


def routing_event(before: dict[str, Any], after: dict[str, Any]) -> tuple[str, str, str] | None:
    """The Event (type, reason, message) for a RoutingReady change between two statuses, if any: a
    Warning when it turns False or its problem changes, a Normal one when it recovers."""

    def get(status: dict[str, Any]) -> dict[str, Any]:
        return next((c for c in status.get("conditions") or [] if c.get("type") == ROUTING_READY), {})

    old, new = get(before), get(after)
    changed = (old.get("status"), old.get("message")) != ("False", new.get("message"))
    if new.get("status") == "False" and changed:
        return "Warning", str(new.get("reason")), str(new.get("message"))
    if new.get("status") == "True" and old.get("status") == "False":
        return "Normal", "RoutingReady", str(new.get("message"))
    return None


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
        kept = not outcome.applied and _reason(conditions, ROUTING_READY) == REASON
        if outcome.routing is not None and not (kept and outcome.routing[0] == "True"):
            # (a refusal by prometheus-operator of unchanged children stands until the refresher re-checks)
            conditions = set_condition(conditions, ROUTING_READY, *outcome.routing, now, generation)
        if outcome.error:
            conditions = set_condition(
                conditions, RULES_APPLIED, "False", "ApplyFailed", outcome.error, now, generation
            )
        elif not outcome.applied and _reason(conditions, RULES_APPLIED) == REASON:
            pass  # nothing changed: prometheus-operator still refuses it (the refresher re-checks)
        else:
            children = ", ".join(outcome.applied + outcome.unchanged) or "none"
            conditions = set_condition(
                conditions, RULES_APPLIED, "True", "Applied", f"children: {children}", now, generation
            )
    result: dict[str, Any] = {"conditions": with_ready(conditions, now)}
    if outcome.valid and not outcome.error:
        result["observedGeneration"] = generation
    return result


@dataclass(frozen=True)
class Decision:
    """What to do after a reconcile, decided without I/O (``reconcile_decision``); the handler does it.

    ``status``: the status to write, None when nothing visible changed. ``events``: (type, reason,
    message) to post, in order. ``log``: (level, message) for the operator's log. ``retry``: when set,
    the handler asks kopf to retry with this message (children could not be applied).
    """

    status: dict[str, Any] | None
    events: tuple[tuple[str, str, str], ...] = ()
    log: tuple[int, str] | None = None
    retry: str | None = None


def reconcile_decision(body: dict[str, Any], outcome: Outcome, now: datetime | None = None) -> Decision:
    """The status write, Events, log line and retry that follow from a reconcile's outcome."""
    meta = body["metadata"]
    key = f"{meta.get('namespace')}/{meta.get('name')}"
    status = status_after_reconcile(body, outcome, now)
    current = body.get("status") or {}
    generation = status.get("observedGeneration", current.get("observedGeneration"))
    changed = status["conditions"] != current.get("conditions") or generation != current.get(
        "observedGeneration"
    )
    events: list[tuple[str, str, str]] = []
    event = routing_event(current, status)
    if event is not None:  # a Secret reference of the alert routing broke or was fixed
        events.append(event)
    write = status if changed else None
    if not outcome.valid:
        problems = "; ".join(outcome.problems)
        events.append(("Warning", "InvalidSpec", problems))
        return Decision(write, tuple(events), (logging.WARNING, f"{key} invalid: {problems}"))
    if outcome.error:
        events.append(("Warning", "ApplyFailed", outcome.error))
        return Decision(write, tuple(events), retry=f"applying children failed: {outcome.error}")
    if not (outcome.applied or outcome.deleted):
        return Decision(write, tuple(events))
    parts = []
    if outcome.applied:
        parts.append("applied " + ", ".join(outcome.applied))
    if outcome.deleted:
        parts.append("deleted " + ", ".join(outcome.deleted))
    message = "; ".join(parts)
    if _reason(current.get("conditions") or [], RULES_APPLIED) is not None:
        # A change of children the SLO already had (spec change, hand edit undone, stale child deleted) is
        # news. Its first children are not: RulesApplied and Ready say so in the status written with them,
        # and an Event per created SLO would be one more request each.
        events.append(("Normal", "RulesApplied", message))
    return Decision(write, tuple(events), (logging.INFO, f"{key}: {message}"))


def first_status(
    slo: SLO, status: dict[str, Any], now: datetime, forecasting: bool = False
) -> dict[str, Any]:
    """A new SLO's first status: the reconcile's conditions plus what the next status refresh would
    write for an SLO Prometheus has recorded nothing of yet (state NoData, PrometheusReachable,
    WindowCovered, BudgetExhausted; with ``forecasting``, the forecast "insufficient history").

    The handler uses it only when the last refresh reached Prometheus and found no series of this SLO:
    the refresh that follows then has nothing visible to change, and creating an SLO costs one status
    write instead of two. When Prometheus does have figures for it (raw history of a young SLO), the
    refresh writes them as usual.
    """
    measurement, coverage = window_measurement(slo, None, None, now.timestamp())
    new = {**status, **refreshed_status(slo, status, measurement, True, "", now, coverage)}
    if forecasting:
        new["forecast"] = status_of(NO_FORECAST)
    return new


# ---- status refresh ---------------------------------------------------------------------------------

SERVER_TROUBLE = {0, 429}  # no connection, throttled (plus every 5xx): the API server needs a pause

EVENTS = {
    (RULES_APPLIED, "False"): ("Warning", REASON),  # in a refresh, only a rejection turns it False
    (RULES_APPLIED, "True"): ("Normal", "RulesAccepted"),
    (PROMETHEUS_REACHABLE, "False"): ("Warning", "PrometheusUnreachable"),
    (PROMETHEUS_REACHABLE, "True"): ("Normal", "PrometheusReachable"),
    (BUDGET_EXHAUSTED, "True"): ("Warning", "BudgetExhausted"),
}


def observe_rejections(
    slo: SLO,
    owner: dict[str, Any],
    kube: KubeClient,
    options: RenderOptions | None,
    events: dict[str, list[dict[str, Any]] | None],
    now: datetime,
) -> list[Rejection]:
    """What prometheus-operator refuses of this SLO's children (see ``acceptance``): one LIST of its
    Warning ``InvalidConfiguration`` Events per namespace and cycle (shared through ``events``); the
    children, and the Secrets they refer to, are read only when an Event names one of them. Without
    ``list`` on events (RBAC) nothing is reported."""
    if slo.namespace not in events:
        try:
            events[slo.namespace] = kube.list_events(slo.namespace, EVENT_FIELD_SELECTOR)
        except KubeError as exc:
            log.info("cannot list events in %s (%s): rejections unseen", slo.namespace, exc)
            events[slo.namespace] = None
    found = events[slo.namespace] or []
    kinds = {PROMETHEUS_RULE.kind: PROMETHEUS_RULE, ALERTMANAGER_CONFIG.kind: ALERTMANAGER_CONFIG}
    named = [
        e for e in found if (e.get("involvedObject") or {}).get("kind") in kinds
        and str((e.get("involvedObject") or {}).get("name", "")).startswith(slo.name)
    ]
    if not named:
        return []
    children: list[dict[str, Any]] = []
    for kind in {kinds[str(e["involvedObject"]["kind"])] for e in named}:
        try:
            items = kube.list_objects(kind, slo.namespace, f"{NAME_LABEL}={slo.name}")
        except KubeError as exc:
            log.warning("cannot list %s of %s: %s", kind.plural, slo.key, exc)
            continue
        children += [{**item, "kind": kind.kind} for item in items if _owned_by(item, owner)]
    inputs_changed = None
    if options is not None and any(c["kind"] == ALERTMANAGER_CONFIG.kind for c in children):
        times = []
        for name in sorted({use.secret.name for use in secret_references(slo, options.routing)}):
            try:
                times.append(kube.secret_last_change(slo.namespace, name))
            except KubeError:
                continue
        known = [t for t in times if t is not None]
        inputs_changed = max(known) if known else None
    return rejections(children, named, now, kube.field_manager, inputs_changed)


def _reason(conditions: list[dict[str, Any]], type_: str) -> str | None:
    return next((str(c.get("reason")) for c in conditions if c.get("type") == type_), None)


def _condition_tuple(conditions: list[dict[str, Any]], type_: str) -> tuple[str, str, str] | None:
    found = next((c for c in conditions if c.get("type") == type_), None)
    if found is None:
        return None
    return str(found.get("status")), str(found.get("reason")), str(found.get("message"))


@dataclass
class RefreshReport:
    """What one refresh cycle did (for logs and tests)."""

    slos: int = 0
    writes: int = 0
    deferred: int = 0  # writes left for a later cycle by the write budget or a throttling API server
    conflicts: int = 0
    gone: int = 0  # SLOs deleted between their LIST page and their status write
    queries: int = 0
    forecast_queries: int = 0  # the forecasts' history: one range query when an hour has passed, or none
    reachable: bool = True
    errors: list[str] = field(default_factory=list)
    # (namespace, name) of the SLOs Prometheus had recorded series of (None: Prometheus unreachable)
    measured: frozenset[tuple[str, str]] | None = None


def _merge_patch(current: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new`` as a JSON merge patch over ``current``: keys of ``status.policy`` that went away are sent as
    null (a merge patch leaves absent keys untouched: a lifted step would otherwise stay)."""
    patch = dict(new)
    old_policy, new_policy = current.get("policy"), new.get("policy")
    if isinstance(old_policy, dict) and isinstance(new_policy, dict):
        patch["policy"] = {**dict.fromkeys(old_policy), **new_policy}
    return patch


# What the status refresh keeps of an SLO's metadata for its cycle (not managedFields: half the object).
KEPT_METADATA = ("name", "namespace", "uid", "resourceVersion", "generation", "labels", "deletionTimestamp")


@dataclass(frozen=True, slots=True)
class Listed:
    """One SLO as a refresh cycle holds it from its LIST to its status write: what the refresh reads of it
    (apiVersion, kind, the metadata in ``KEPT_METADATA``, spec and status) as compressed compact JSON,
    unpacked only for its own turn (``whole``).

    A cycle holds every SLO it refreshes at once: the young SLOs' raw history is one query for all of
    them, and the forecasts pool every SLO's history, so no status can be decided before the last page
    is read. Whole parsed objects were about 24 KB each, over half of it ``managedFields``: 240 MB at
    10,000 SLOs, which the allocator then kept. Packed this is under 1 KB (zlib's fastest level: some
    20 µs an SLO). ``status.kopf`` (kopf's record of the last handled spec) is left out: the refresh
    never writes it, and a merge patch leaves it as it is."""

    packed: bytes

    @classmethod
    def of(cls, item: dict[str, Any]) -> Listed:
        metadata = item.get("metadata") or {}
        kept = {
            "apiVersion": item.get("apiVersion"),
            "kind": item.get("kind"),
            "metadata": {k: metadata[k] for k in KEPT_METADATA if k in metadata},
            "spec": item.get("spec"),
            "status": {k: v for k, v in (item.get("status") or {}).items() if k != "kopf"},
        }
        return cls(zlib.compress(json.dumps(kept, separators=(",", ":")).encode(), 1))

    def whole(self) -> dict[str, Any]:
        """The SLO as the refresh reads it, with its status (a fresh copy each call)."""
        body: dict[str, Any] = json.loads(zlib.decompress(self.packed))
        return body


def refreshable(
    item: dict[str, Any], policies: Policies | None, reconciled_only: bool
) -> SLO | None:
    """The SLO a refresh measures from a listed object (shaped by its policy), or None when it leaves it
    alone: being deleted, not reconciled yet (``reconciled_only``), or invalid (the handler reports
    invalid specs; there is nothing to measure)."""
    metadata = item["metadata"]
    if metadata.get("deletionTimestamp"):
        return None
    if reconciled_only and not (item.get("status") or {}).get("conditions"):
        return None
    slo, _problems = validate(item)
    if slo is None:
        return None
    if policies is not None:  # the policy's ticket-tier alert is measured like the SLO's own
        governing, _ = policy_for(
            metadata.get("labels") or {},
            (item.get("spec") or {}).get("policyRef"),
            policies.by_namespace.get(slo.namespace, []),
        )
        slo, _routing = with_policy(slo, governing, RoutingOptions())
    return slo


def refresh_all(
    kube: KubeClient,
    prometheus: PrometheusClient,
    namespaces: tuple[str, ...] = (),
    heartbeat_seconds: float = 300.0,
    now: datetime | None = None,
    options: RenderOptions | None = None,
    forecaster: Forecaster | None = None,
    budget: TokenBucket | None = None,
    reconciled_only: bool = False,
    page: int = SLO_PAGE,
) -> RefreshReport:
    """Read every SLO's numbers (constant number of queries) and write the statuses that changed.

    With ``options``, the Secret references of alert routing are checked again too (one GET per distinct
    Secret per cycle), so creating a missing Secret, or deleting one, shows up without a spec change.
    prometheus-operator's rejections of the children (its Events) turn RulesApplied / RoutingReady False.
    With ``budget`` a write without a token is left for a later cycle (``RefreshReport.deferred``).
    Once a write is throttled (429) or fails on the server's side (5xx, no connection), the cycle's
    remaining writes are deferred too: one failed request per cycle, not one per SLO, while the API server
    is overloaded or restarting (the next cycle recomputes them, nothing is lost).
    With ``reconciled_only`` (the operator) SLOs with no condition yet are left alone: their reconcile
    is pending, and its one status write carries their first figures (``first_status``); a cycle that
    fell between a burst of creates and their reconciles would otherwise cost each a second write.
    """
    now = now or datetime.now(UTC)
    now_ts = now.timestamp()
    secrets: dict[tuple[str, str], frozenset[str] | None] = {}
    events: dict[str, list[dict[str, Any]] | None] = {}
    report = RefreshReport()
    try:
        policies = load_policies(kube, namespaces)
    except KubeError as exc:
        report.errors.append(f"cannot list ErrorBudgetPolicies: {exc}")
        policies = None
    # Prometheus first: its figures are per SLO key, and which SLOs are young (their window figures
    # read from raw history) follows from them and each SLO's spec as the pages are read.
    before = prometheus.queries_made
    reason = ""
    measurements: dict[tuple[str, str], Measurement] = {}
    try:
        measurements = fetch_measurements(prometheus)
        report.measured = frozenset(measurements)
    except PrometheusUnavailable as exc:
        reason = str(exc)
        report.reachable = False
    # One LIST page of whole SLOs at a time; of each SLO the cycle keeps its packed form, and what the
    # one query of the young SLOs' raw history and the forecasts need.
    cycle: list[Listed] = []
    young_history = RawQuery()
    subjects: list[Subject] = []
    costs = False
    for items in kube.slo_pages(namespaces, page):
        report.slos += len(items)
        items.reverse()
        while items:  # each whole SLO is dropped once read, and the page is empty before the next one
            item = items.pop()
            slo = refreshable(item, policies, reconciled_only)
            if slo is None:
                continue
            cycle.append(Listed.of(item))
            if report.reachable and young(slo, measurements, now_ts):
                young_history.add(slo)
            costs = costs or slo.cost is not None
            if forecaster is not None:
                subjects.append(Subject.of(slo))
    raw: dict[str, RawFigures] = {}
    if report.reachable:
        try:
            raw = fetch_raw(prometheus, young_history)  # one query for all young SLOs (none without)
            if costs:
                fetch_cost(prometheus, measurements)
        except PrometheusUnavailable as exc:
            reason = str(exc)
            report.reachable = False
    del young_history
    report.queries = prometheus.queries_made - before
    forecasts: dict[tuple[str, str], Forecast] = {}
    if forecaster is not None and report.reachable:
        before = prometheus.queries_made
        try:
            forecasts = forecaster.refresh(prometheus, subjects, now_ts)
        except PrometheusUnavailable as exc:  # the forecasts stay as they were
            report.errors.append(f"forecast history: {exc}")
        report.forecast_queries = prometheus.queries_made - before
    del subjects
    backing_off = False  # the API server refused a write for load or health: write nothing more this cycle
    cycle.reverse()
    while cycle:  # each SLO's packed form is dropped once its turn is over
        body = cycle.pop().whole()
        slo = refreshable(body, policies, reconciled_only)
        if slo is None:  # not expected: the same object passed on its page (validation is deterministic)
            continue
        metadata = body["metadata"]
        current = body["status"]
        measurement: Measurement | None = None
        coverage: Coverage | None = None
        if report.reachable:
            measurement, coverage = window_measurement(
                slo, measurements.get((slo.namespace, slo.name)), raw.get(slo.key), now_ts
            )
        new = refreshed_status(slo, current, measurement, report.reachable, reason, now, coverage)
        if (forecast := forecasts.get((slo.namespace, slo.name))) is not None:
            new["forecast"] = status_of(forecast)
        routing: tuple[str, str, str] | None = None
        if options is not None and secret_references(slo, options.routing):
            routing = check_routing(slo, kube, options, secrets)
        rejected = observe_rejections(slo, body, kube, options, events, now)
        rules_applied, refused_routing = acceptance_conditions(
            _condition_tuple(new["conditions"], RULES_APPLIED),
            routing or _condition_tuple(new["conditions"], ROUTING_READY),
            rejected,
        )
        routing = refused_routing or routing
        if routing is not None or rules_applied is not None:
            conditions = new["conditions"]
            if routing is not None:
                conditions = set_condition(conditions, ROUTING_READY, *routing, now)
            if rules_applied is not None:
                conditions = set_condition(conditions, RULES_APPLIED, *rules_applied, now)
            new["conditions"] = with_ready(conditions, now)
        outcome = None
        if policies is not None:
            outcome = apply_policy(
                slo, body, new, policies, kube, (options or RenderOptions()).routing, report.reachable, now
            )
            new["policy"] = outcome.status
            if outcome.condition is not None:
                new["conditions"] = set_condition(new["conditions"], POLICY_READY, *outcome.condition, now)
            if outcome.status is not None:
                policies.governed.setdefault((slo.namespace, outcome.status["name"]), []).append(
                    {k: v for k in ("step", "since", "frozen") if (v := outcome.status.get(k)) is not None}
                    | {"name": slo.name}
                )
        if not needs_write(current, new, now, heartbeat_seconds):
            continue
        if backing_off or (budget is not None and not budget.take(time.monotonic())):
            report.deferred += 1
            continue
        try:
            kube.patch_slo_status(
                slo.namespace, slo.name, _merge_patch(current, new), metadata.get("resourceVersion")
            )
        except KubeError as exc:
            if exc.status == 409:  # changed since we listed it: the next cycle sees the new version
                report.conflicts += 1
            elif exc.status == 404:  # deleted since its page was read: nothing to write
                report.gone += 1
            else:
                report.errors.append(f"{slo.key}: {exc}")
                backing_off = exc.status in SERVER_TROUBLE or exc.status >= 500
            continue
        report.writes += 1
        for type_, _old, new_status in transitions(current.get("conditions") or [], new["conditions"]):
            # A first successful read is not news; a first failure is. Rules are news when accepted again.
            if (type_, new_status) in EVENTS and not (
                (type_ == PROMETHEUS_REACHABLE and new_status == "True" and not _old)
                or (type_ == RULES_APPLIED and new_status == "True" and _old != "False")
            ):
                event_type, event_reason = EVENTS[(type_, new_status)]
                message = next(c["message"] for c in new["conditions"] if c["type"] == type_)
                kube.post_event(body, event_type, event_reason, message)
        event = routing_event(current, new)
        if event is not None:
            kube.post_event(body, *event)
        if outcome is not None:
            for event in outcome.events:
                kube.post_event(body, *event)
            ready = next((c for c in new["conditions"] if c["type"] == POLICY_READY), None)
            was: dict[str, Any] = next(
                (c for c in current.get("conditions") or [] if c.get("type") == POLICY_READY), {}
            )
            if ready and ready["status"] == "False" and (was.get("status"), was.get("reason")) != (
                "False", ready["reason"]
            ):
                kube.post_event(body, "Warning", ready["reason"], ready["message"])
    if policies is not None:
        for policy_body, policy_status in policy_statuses(policies, now):
            meta = policy_body["metadata"]
            try:
                kube.patch_policy_status(meta["namespace"], meta["name"], policy_status)
            except KubeError as exc:
                report.errors.append(f"ErrorBudgetPolicy {meta['namespace']}/{meta['name']}: {exc}")
    return report
