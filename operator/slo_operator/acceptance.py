"""Did prometheus-operator accept the SLO's children? (pure functions over observed facts)

The API server accepts a PrometheusRule or AlertmanagerConfig that prometheus-operator later refuses: a
rule whose annotation is not a valid Go template, a Slack webhook Secret that holds no URL, a Secret key
that does not exist. prometheus-operator (v0.85) then leaves the object out of what it generates and says
so only in a Warning Event on the object, reason ``InvalidConfiguration`` (status bindings exist only for
ServiceMonitors, behind a feature gate). It repeats the Event at every reconcile while the object stays
invalid (at least every resync, 5 minutes), so:

- an Event counts for the child's current content only if it was last seen at or after the child's last
  change by us (``managedFields`` time of our field manager) and after the last change of the Secrets it
  refers to;
- and only while it is recent (``FRESH_SECONDS``, three resync periods): a fix we cannot see (for
  example to the ``Alertmanager`` resource) clears the condition when the Events stop.

The lookup (one LIST of Events per namespace and cycle, children only when one matches) is in
``reconcile.refresh_all``; here facts become conditions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

REJECTED_REASON = "InvalidConfiguration"  # prometheus-operator's Event reason (pkg/operator/operator.go)
EVENT_FIELD_SELECTOR = f"type=Warning,reason={REJECTED_REASON}"
FRESH_SECONDS = 900.0
# Event and change times have one-second resolution: an Event in the very second of the last change may be
# about the content just replaced. It counts for a minute only (a real one comes back at the next resync).
SAME_SECOND_GRACE = 60.0
REASON = "RejectedByPrometheusOperator"  # our condition reason
PROMETHEUS_RULE = "PrometheusRule"
ALERTMANAGER_CONFIG = "AlertmanagerConfig"
# Reasons of RulesApplied that come from our own reconcile: a rejection never hides them.
OWN_FAILURES = ("InvalidSpec", "ApplyFailed")


@dataclass(frozen=True)
class Rejection:
    """prometheus-operator refused one child."""

    kind: str
    name: str
    message: str
    last_seen: datetime
    count: int


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def last_change(obj: Mapping[str, Any], field_manager: str | None = None) -> datetime | None:
    """When ``obj`` was last written (by ``field_manager`` when given): the latest ``managedFields`` time,
    else its creation time."""
    metadata = obj.get("metadata") or {}
    times = [
        parse_time(entry.get("time"))
        for entry in metadata.get("managedFields") or []
        if field_manager is None or entry.get("manager") == field_manager
    ]
    known = [t for t in times if t is not None]
    return max(known) if known else parse_time(metadata.get("creationTimestamp"))


def _event_seen(event: Mapping[str, Any]) -> datetime | None:
    series = event.get("series") or {}
    candidates = [
        parse_time(series.get("lastObservedTime")),
        parse_time(event.get("lastTimestamp")),
        parse_time(event.get("eventTime")),
        parse_time(event.get("firstTimestamp")),
    ]
    known = [t for t in candidates if t is not None]
    return max(known) if known else None


def rejections(
    children: Iterable[Mapping[str, Any]],
    events: Iterable[Mapping[str, Any]],
    now: datetime,
    field_manager: str | None = None,
    inputs_changed: datetime | None = None,
) -> list[Rejection]:
    """The children prometheus-operator currently refuses, from its Events (see the module docstring).

    ``children``: the SLO's PrometheusRules and AlertmanagerConfigs as read from the API server;
    ``inputs_changed``: the latest change of anything else they refer to (their Secrets)."""
    by_uid = {
        str(child["metadata"].get("uid")): child
        for child in children
        if child.get("kind") in (PROMETHEUS_RULE, ALERTMANAGER_CONFIG)
    }
    latest: dict[str, Rejection] = {}
    for event in events:
        if event.get("reason") != REJECTED_REASON or event.get("type") != "Warning":
            continue
        involved = event.get("involvedObject") or {}
        child = by_uid.get(str(involved.get("uid")))
        seen = _event_seen(event)
        if child is None or seen is None or (now - seen).total_seconds() > FRESH_SECONDS:
            continue
        changed = [t for t in (last_change(child, field_manager), inputs_changed) if t is not None]
        last = max(changed).replace(microsecond=0) if changed else None
        if last is not None and seen < last:
            continue  # about an earlier version of the child or of its Secrets
        if last is not None and seen == last and (now - seen).total_seconds() > SAME_SECOND_GRACE:
            continue  # ambiguous, and not repeated since
        uid = str(involved.get("uid"))
        rejection = Rejection(
            kind=str(child.get("kind")),
            name=str(child["metadata"].get("name")),
            message=str(event.get("message", "")),
            last_seen=seen,
            count=int(event.get("count") or (event.get("series") or {}).get("count") or 1),
        )
        if uid not in latest or latest[uid].last_seen < seen:
            latest[uid] = rejection
    return sorted(latest.values(), key=lambda r: (r.kind, r.name))


def describe(rejected: Sequence[Rejection]) -> str:
    return "; ".join(
        f"prometheus-operator rejected {r.kind} {r.name}: {r.message} "
        f"(Event {REJECTED_REASON}, last seen {r.last_seen.strftime('%Y-%m-%dT%H:%M:%SZ')})"
        for r in rejected
    )


def acceptance_conditions(
    rules_applied: tuple[str, str, str] | None,
    routing_ready: tuple[str, str, str] | None,
    rejected: Sequence[Rejection],
) -> tuple[tuple[str, str, str] | None, tuple[str, str, str] | None]:
    """New (status, reason, message) of RulesApplied and RoutingReady given the current ones (None: not
    set) and what prometheus-operator refuses; None where the condition is to stay as it is.

    A rejected PrometheusRule turns RulesApplied False; a rejected AlertmanagerConfig turns RoutingReady
    False, unless our own check already explains it (a missing Secret or key). When the rejection ends,
    RulesApplied returns to True; RoutingReady is recomputed by the Secret check each cycle anyway."""
    rules = [r for r in rejected if r.kind == PROMETHEUS_RULE]
    routing = [r for r in rejected if r.kind == ALERTMANAGER_CONFIG]
    new_rules: tuple[str, str, str] | None = None
    if rules_applied is not None and rules_applied[1] not in OWN_FAILURES:
        if rules:
            new_rules = ("False", REASON, describe(rules) + "; its alerts are not evaluated")
        elif rules_applied[1] == REASON:
            new_rules = ("True", "Applied", "children applied; prometheus-operator reports no rejection")
    new_routing: tuple[str, str, str] | None = None
    if routing and (routing_ready is None or routing_ready[0] != "False" or routing_ready[1] == REASON):
        new_routing = ("False", REASON, describe(routing) + "; no page or message is routed for this SLO")
    return new_rules, new_routing
