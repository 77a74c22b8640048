"""What the operator's watches already deliver, kept so a reconcile needs no LIST.

Without it every reconcile listed each child kind (looking for stale children) and the namespace's
ErrorBudgetPolicies: four LISTs per SLO, 4,000 requests for 1,000 new SLOs. The cache is primed once at
start-up (one LIST per kind, before the watches start) and then kept current by the watch events:
children's as metadata only (``child_watch``, the operator's label selector), policies' in full (kopf).

Per child it keeps only its owner's uid, its resourceVersion and, while only the operator has written it,
the digest of what the operator rendered into it (``RENDERED_ANNOTATION``): a few dozen bytes per SLO. The
decisions (which children are stale, whether an event is the echo of our own write) are pure functions
over these tables, tested without a server.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from slo_operator.render import NAME_LABEL

# (plural, namespace, SLO name) -> {child name: (owner uid, resourceVersion, rendered digest)}
ChildKey = tuple[str, str, str]
Known = Mapping[str, tuple[str, str, str]]
# The digest of the rendered child (``reconcile.rendered_digest``) the operator writes with it: a child
# whose digest is the one rendered now, and that nobody else has written to, needs no request at all.
RENDERED_ANNOTATION = "slo.mlops.dev/rendered-digest"


def newer(candidate: str | None, current: str | None) -> bool:
    """Whether ``candidate`` may replace ``current``: resourceVersions are opaque, but etcd's are
    increasing integers; a watch event older than what an apply already returned must not win."""
    if candidate is None or current is None:
        return True
    if candidate.isdigit() and current.isdigit():
        return int(candidate) >= int(current)
    return True


def owned_versions(known: Known, owner_uid: str) -> dict[str, str]:
    """The children in ``known`` that belong to the SLO with ``owner_uid`` (a recreated SLO of the same
    name has another uid: its predecessor's children are not its own), by name -> resourceVersion."""
    return {name: entry[1] for name, entry in known.items() if entry[0] == owner_uid}


def clean_digest(metadata: Mapping[str, Any], manager: str) -> str:
    """The rendered digest a child carries when only ``manager`` (the operator's field manager) has
    written its fields, else "": then its content may differ from what the digest describes (a hand edit,
    another tool), and the reconcile writes it again. Status writes (``subresource``) do not count.

    A hand edit made under the operator's own field manager name, keeping the digest, is not seen."""
    for entry in metadata.get("managedFields") or []:
        if not entry.get("subresource") and entry.get("manager") != manager:
            return ""
    return str((metadata.get("annotations") or {}).get(RENDERED_ANNOTATION) or "")


def stale_children(existing: Iterable[str], wanted: Iterable[str]) -> list[str]:
    """Children the SLO has (``owned_versions``) but no longer renders: the reconcile deletes them."""
    return sorted(set(existing) - set(wanted))


def restores(event_type: str | None, news: bool) -> bool:
    """Whether a child's watch event calls for reconciling its SLO: something we did not know
    (``WatchCache.observe_child``), seen live (MODIFIED, DELETED) or in a re-listing.

    kopf lists a kind again (events of type None) whenever its watch cannot resume: the API server
    restarted, or answered 410 Gone because the resourceVersion it resumes from has expired. A child
    whose resourceVersion differs from the cache's was changed while the watch was away; the others
    (all of them after a plain restart) are neither news nor writes, so a re-list causes no reconcile
    storm. At start-up the cache is primed from the same objects, so kopf's first listing is no news
    either. ADDED is the echo of our own create.
    """
    return news and event_type in (None, "MODIFIED", "DELETED")


def _owner_uid(metadata: Mapping[str, Any]) -> str:
    refs = metadata.get("ownerReferences") or []
    return str(
        next((ref.get("uid") for ref in refs if ref.get("controller")), refs[0].get("uid") if refs else "")
    )


@dataclass
class WatchCache:
    """Children by owner and policies by namespace, as last seen through a watch or our own writes."""

    children_by_owner: dict[ChildKey, dict[str, tuple[str, str, str]]] = field(default_factory=dict)
    policies_by_namespace: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    manager: str = "slo-operator"  # the operator's field manager (``clean_digest``)

    # ---- children --------------------------------------------------------------------------------------

    def children(self, plural: str, namespace: str, slo_name: str) -> Known:
        return self.children_by_owner.get((plural, namespace, slo_name), {})

    def observe_child(self, plural: str, event_type: str | None, body: Mapping[str, Any]) -> bool:
        """Record a watch event of a child; True when it says something we did not know (a change or
        deletion by someone else), False for the echo of our own apply or delete."""
        metadata = body.get("metadata") or {}
        owner = (metadata.get("labels") or {}).get(NAME_LABEL)
        if not owner:
            return False
        key = (plural, str(metadata.get("namespace")), str(owner))
        name = str(metadata.get("name"))
        table = self.children_by_owner.get(key, {})
        previous = table.get(name)
        version = metadata.get("resourceVersion")
        if event_type == "DELETED":
            if previous is None:
                return False  # we deleted it ourselves (forget_child) or never knew it
            table.pop(name, None)
            if not table:
                self.children_by_owner.pop(key, None)
            return True
        if previous is not None and not newer(version, previous[1]):
            return False  # an older event than what our apply returned
        digest = clean_digest(metadata, self.manager)
        self.children_by_owner.setdefault(key, {})[name] = (_owner_uid(metadata), str(version), digest)
        return previous is None or previous[1] != str(version)

    def record_child(self, plural: str, obj: Mapping[str, Any]) -> None:
        """Our own apply's answer: its resourceVersion, so the watch echo of it is recognised."""
        self.observe_child(plural, "APPLIED", obj)

    def forget_child(self, plural: str, namespace: str, slo_name: str, name: str) -> None:
        """We deleted it: the watch's DELETED event is then our own echo."""
        table = self.children_by_owner.get((plural, namespace, slo_name))
        if table is not None:
            table.pop(name, None)
            if not table:
                self.children_by_owner.pop((plural, namespace, slo_name), None)

    def prime_children(self, plural: str, items: Iterable[Mapping[str, Any]]) -> None:
        for item in items:
            self.observe_child(plural, None, item)

    def resync_children(
        self, plural: str, namespace: str | None, items: Iterable[Mapping[str, Any]]
    ) -> set[tuple[str, str]]:
        """Replace what is known of ``plural`` (in ``namespace``; None: all) by a fresh LIST; the SLOs
        (namespace, name) whose children vanished or changed meanwhile, which the reconcile restores.

        A watch that resumes after a gap delivers no DELETED event for what was deleted during it: a
        re-listing only shows what is still there. Where both know a child, the newer resourceVersion
        wins (an apply of ours may have landed after the LIST was read)."""
        fresh = WatchCache()
        fresh.prime_children(plural, items)
        owners: set[tuple[str, str]] = set()
        scope = [k for k in self.children_by_owner if k[0] == plural and namespace in (None, k[1])]
        for key in set(scope) | set(fresh.children_by_owner):
            old = self.children_by_owner.get(key, {})
            new = fresh.children_by_owner.get(key, {})
            for name, (_uid, version, _digest) in old.items():
                if name not in new:
                    owners.add((key[1], key[2]))
                elif new[name][1] != version:
                    if newer(new[name][1], version):
                        owners.add((key[1], key[2]))
                    else:
                        new[name] = old[name]
            if new:
                self.children_by_owner[key] = new
            else:
                self.children_by_owner.pop(key, None)
        return owners

    # ---- error-budget policies ---------------------------------------------------------------------------

    def policies(self, namespace: str) -> list[dict[str, Any]]:
        return list(self.policies_by_namespace.get(namespace, {}).values())

    def observe_policy(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        metadata = body.get("metadata") or {}
        namespace, uid = str(metadata.get("namespace")), str(metadata.get("uid"))
        if event_type == "DELETED":
            table = self.policies_by_namespace.get(namespace, {})
            table.pop(uid, None)
            if not table:
                self.policies_by_namespace.pop(namespace, None)
            return
        self.policies_by_namespace.setdefault(namespace, {})[uid] = dict(body)

    def resync_policies(
        self, namespace: str | None, items: Iterable[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Replace the policies (of ``namespace``; None: all) by a fresh LIST; those that vanished meanwhile
        (the caller handles them as deleted)."""
        known = {
            uid: body
            for ns, table in self.policies_by_namespace.items()
            if namespace in (None, ns)
            for uid, body in table.items()
        }
        for ns in [ns for ns in self.policies_by_namespace if namespace in (None, ns)]:
            del self.policies_by_namespace[ns]
        for item in items:
            self.observe_policy(None, item)
        present = {uid for table in self.policies_by_namespace.values() for uid in table}
        return [body for uid, body in known.items() if uid not in present]


class Listings:
    """Which watch events begin a re-listing of a kind, in one scope (a namespace, or "" for all).

    kopf lists a kind before it watches it, and again whenever the watch cannot resume (410 Gone): each
    listed object comes as an event of type None. A run of such events with no other event between them
    and no pause longer than ``gap`` seconds is one listing; its first event starts it. The scopes primed
    at start-up are marked as listed (``primed``): kopf's first listing is not a re-listing.
    """

    def __init__(self, gap: float = 30.0) -> None:
        self.gap = gap
        self._last: dict[tuple[str, str], tuple[str | None, float]] = {}
        self._lock = threading.Lock()  # handlers run in kopf's thread pool

    def primed(self, scope: tuple[str, str], now: float) -> None:
        with self._lock:
            self._last[scope] = (None, now)

    def starts(self, scope: tuple[str, str], event_type: str | None, now: float) -> bool:
        """Record an event; True when it is the first of a (re-)listing of ``scope``."""
        with self._lock:
            previous = self._last.get(scope)
            self._last[scope] = (event_type, now)
        if event_type is not None:
            return False
        return previous is None or previous[0] is not None or now - previous[1] > self.gap
