"""The operator's side of the shared rules: one PrometheusRule per namespace that has SLOs.

What the namespace's shared PrometheusRule holds is a pure function of the shapes of its SLOs
(``shared.shape``). This keeps, per namespace, every SLO's shape and one SLO of each shape, from what the
operator reads anyway: every SLO of the intake's LISTs and watch events (``observe``, ``forget``) and
every reconcile's resolved SLO (``update``). Nothing is listed per reconcile.

A namespace's object is written only once its SLOs are all known: after the intake's first LIST of its
scope (``listed``), so a restart never renders it from the few SLOs seen first (that would drop the
windows of the others for a while). ``flush`` then applies it when it changed since it was last applied
(server-side apply, a no-op when it is what the API server holds), and deletes it when the namespace
has no SLO left. The start-up LIST of the existing shared objects (``prime``) finds those of namespaces
without SLOs, which the first flush deletes. Only the leader runs the operator, so only it writes.

The object is no SLO's child, so the child watch does not guard it: ``check`` (one LIST of the shared
objects per status refresh) finds one deleted or edited since it was written (its ``generation`` moved)
and marks its namespace due, so the next flush writes it again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from slo_operator.children import PROMETHEUS_RULE
from slo_operator.kube import KubeClient, KubeError
from slo_operator.model import SLO
from slo_operator.render import SHARED_LABEL, SHARED_RULE_NAME, RenderOptions, shared_prometheus_rule
from slo_operator.shared import shape

log = logging.getLogger(__name__)

Shape = tuple[tuple[str, str], ...]


class SharedRules:
    """Every namespace's SLO shapes and its shared PrometheusRule as last applied (any thread)."""

    def __init__(self, options: RenderOptions) -> None:
        self.options = options
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self.shapes: dict[str, dict[str, Shape]] = {}  # namespace -> SLO name -> shape
        self.examples: dict[str, dict[Shape, tuple[int, SLO]]] = {}  # namespace -> shape -> (SLOs, one SLO)
        self.applied: dict[str, str] = {}  # namespace -> digest of the object last applied
        self.generations: dict[str, Any] = {}  # namespace -> the object's generation after our last write
        self.complete: set[str] = set()  # LIST scopes seen whole ("": every namespace)
        self.dirty: set[str] = set()
        self._interned: dict[Shape, Shape] = {}
        self.writes = 0

    # ---- what is known ---------------------------------------------------------------------------------

    def update(self, namespace: str, name: str, slo: SLO | None) -> None:
        """The SLO's shape now (None: it has none, invalid or gone)."""
        new = shape(slo, self.options.rules.fast_interval) if slo is not None else None
        with self._lock:
            if new is not None:  # one tuple per shape, however many SLOs have it (10,000 SLOs, a few shapes)
                new = self._interned.setdefault(new, new)
            names = self.shapes.setdefault(namespace, {})
            old = names.get(name)
            if old == new:
                return
            examples = self.examples.setdefault(namespace, {})
            if old is not None:
                count, example = examples[old]
                if count > 1:
                    examples[old] = (count - 1, example)
                else:
                    del examples[old]
                del names[name]
            if new is not None and slo is not None:
                names[name] = new
                count, example = examples.get(new, (0, slo))
                examples[new] = (count + 1, example)
            if not names:
                self.shapes.pop(namespace, None)
                self.examples.pop(namespace, None)
            self.dirty.add(namespace)

    def observe(self, body: dict[str, Any], slo: SLO | None) -> None:
        """An SLO as a LIST or watch event delivered it, resolved (and shaped by its policy)."""
        metadata = body.get("metadata") or {}
        gone = bool(metadata.get("deletionTimestamp"))
        self.update(str(metadata.get("namespace")), str(metadata.get("name")), None if gone else slo)

    def forget(self, namespace: str, name: str) -> None:
        self.update(namespace, name, None)

    def listed(self, scope: str, names: set[tuple[str, str]]) -> None:
        """A whole LIST of the SLOs of ``scope`` (a namespace; "": all) was seen: SLOs known here but not
        in it went meanwhile, and the scope's namespaces may now be written."""
        with self._lock:
            known = [(ns, name) for ns, table in self.shapes.items() if scope in ("", ns) for name in table]
        for key in known:
            if key not in names:
                self.forget(*key)
        with self._lock:
            self.complete.add(scope)
            self.dirty.update(ns for ns in {*self.shapes, *self.applied} if scope in ("", ns))

    def prime(self, kube: KubeClient, namespaces: tuple[str, ...]) -> None:
        """The shared objects that exist (one LIST per configured namespace, at start-up): each is checked
        at the first flush of its namespace, and deleted when the namespace has no SLO."""
        for namespace in namespaces or ("",):
            try:
                items = kube.list_all(PROMETHEUS_RULE, namespace, f"{SHARED_LABEL}=true")
            except KubeError as exc:
                if exc.status == 404:  # no PrometheusRule CRD
                    return
                raise
            with self._lock:
                for item in items:
                    self.applied.setdefault(str(item["metadata"]["namespace"]), "")

    def check(self, kube: KubeClient, namespaces: tuple[str, ...]) -> list[str]:
        """The namespaces whose shared object was deleted or edited since it was last written (one LIST
        per configured namespace): each is marked due, so the next flush writes it again."""
        live: dict[str, Any] = {}
        for namespace in namespaces or ("",):
            try:
                items = kube.list_all(PROMETHEUS_RULE, namespace, f"{SHARED_LABEL}=true")
            except KubeError as exc:
                if exc.status == 404:  # no PrometheusRule CRD
                    return []
                raise
            for item in items:
                metadata = item["metadata"]
                if metadata.get("name") == SHARED_RULE_NAME:
                    live[str(metadata["namespace"])] = metadata.get("generation")
        drifted: list[str] = []
        with self._lock:
            for namespace, digest in list(self.applied.items()):
                if not digest or namespace not in self.generations:
                    continue
                if namespace not in live or live[namespace] != self.generations[namespace]:
                    self.applied[namespace] = ""  # not what was written: write it again
                    self.dirty.add(namespace)
                    drifted.append(namespace)
        return sorted(drifted)

    def desired(self, namespace: str) -> dict[str, Any] | None:
        with self._lock:
            slos = [example for _, example in self.examples.get(namespace, {}).values()]
        return shared_prometheus_rule(namespace, slos, self.options) if slos else None

    # ---- writing ---------------------------------------------------------------------------------------

    def _ready(self, namespace: str) -> bool:
        return "" in self.complete or namespace in self.complete

    def flush(self, kube: KubeClient) -> list[str]:
        """Apply (or delete) the shared object of every namespace whose SLOs changed shape; what was done.

        A namespace whose write fails stays due (the next flush tries again) and does not hold up the
        others; one that is gone (404: deleted with its SLOs) is dropped."""
        done: list[str] = []
        with self._flushing:
            with self._lock:
                due = sorted(ns for ns in self.dirty if self._ready(ns))
                self.dirty.difference_update(due)
            for namespace in due:
                try:
                    done += self._write(kube, namespace)
                except KubeError as exc:
                    if exc.status == 404:
                        with self._lock:
                            self.applied.pop(namespace, None)
                            self.generations.pop(namespace, None)
                        done.append(f"gone {namespace}: {exc}")
                        continue
                    with self._lock:
                        self.dirty.add(namespace)
                    done.append(f"cannot write {namespace}/{SHARED_RULE_NAME}: {exc}")
        return done

    def _write(self, kube: KubeClient, namespace: str) -> list[str]:
        obj = self.desired(namespace)
        if obj is None:
            if namespace not in self.applied:
                return []
            kube.delete(PROMETHEUS_RULE, namespace, SHARED_RULE_NAME)
            with self._lock:
                self.applied.pop(namespace, None)
                self.generations.pop(namespace, None)
            self.writes += 1
            return [f"deleted {namespace}/{SHARED_RULE_NAME}"]
        digest = hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()
        if self.applied.get(namespace) == digest:
            return []
        answer = kube.apply(PROMETHEUS_RULE, obj, metadata_only=True)
        with self._lock:
            self.applied[namespace] = digest
            self.generations[namespace] = (answer.get("metadata") or {}).get("generation")
        self.writes += 1
        return [f"applied {namespace}/{SHARED_RULE_NAME}"]


Resolve = Callable[[dict[str, Any]], SLO | None]


class SharedRulesWatcher:
    """The intake's SLOs into ``SharedRules`` (``slo_intake.IntakeWatcher``): each SLO resolved (and shaped
    by its policy) when its spec or labels changed since it was last seen, not on every status write."""

    def __init__(self, rules: SharedRules, resolve: Resolve) -> None:
        self.rules, self.resolve = rules, resolve
        self._lock = threading.Lock()
        self._versions: dict[tuple[str, str], tuple[Any, int]] = {}  # generation and labels last resolved

    def seen(self, obj: dict[str, Any], deleted: bool) -> None:
        metadata = obj.get("metadata") or {}
        key = (str(metadata.get("namespace")), str(metadata.get("name")))
        if deleted or metadata.get("deletionTimestamp"):
            with self._lock:
                self._versions.pop(key, None)
            self.rules.forget(*key)
            return
        version = (metadata.get("generation"), hash(json.dumps(metadata.get("labels") or {}, sort_keys=True)))
        with self._lock:
            if self._versions.get(key) == version:
                return
            self._versions[key] = version
        self.rules.update(*key, self.resolve(obj))

    def whole(self, namespace: str, keys: set[tuple[str, str]]) -> None:
        with self._lock:
            for key in [k for k in self._versions if namespace in ("", k[0]) and k not in keys]:
                del self._versions[key]
        self.rules.listed(namespace, keys)
