"""The operator's watch on its children, as metadata only.

A reconcile needs to know of each child only its name, owner and resourceVersion (``watch_cache``), and
a hand edit or deletion of a child only has to trigger a reconcile of its SLO. kopf's watches deliver
whole objects: every event of a dashboard ConfigMap (tens of KB of JSON) and of a PrometheusRule was
read, parsed, queued and handed to a handler that looked at its metadata alone. Creating 1,000 SLOs
streamed some 100 MB of bodies through the operator, and the parsed bodies waiting in kopf's queues
set its memory high-water mark.

Here the API server is asked for ``PartialObjectMetadata`` (the ``Accept`` header that client-go's
metadata informers use): one LIST per child kind at start-up, then a watch from its resourceVersion,
resumed from the last event seen (bookmarks keep that recent). When the watch cannot resume (``410
Gone``, e.g. after an API server restart), it lists again: children that changed or went meanwhile
have their SLOs reconciled. Read-only: a standby replica never starts it (it runs beside kopf).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from slo_operator.children import ChildKind
from slo_operator.kube import Credentials, KubeClient, KubeError, follow_watch, read_watch, watch_client
from slo_operator.render import NAME_LABEL
from slo_operator.watch_cache import WatchCache, restores

log = logging.getLogger(__name__)

ACCEPT_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
ACCEPT_WATCH = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
WATCH_SECONDS = 300  # the API server ends each watch after this; it is resumed at once
PAGE = 500  # items per LIST page: 10,000 children are 20 requests, not one answer of tens of MB


def collection_path(kind: ChildKind, namespace: str) -> str:
    base = f"/apis/{kind.api_version}" if kind.group else f"/api/{kind.version}"
    return f"{base}/namespaces/{namespace}/{kind.plural}" if namespace else f"{base}/{kind.plural}"


def list_metadata(
    kube: KubeClient, kind: ChildKind, namespace: str, selector: str
) -> tuple[list[dict[str, Any]], str]:
    """Every child of ``kind`` matching ``selector`` as metadata, and the list's resourceVersion."""
    items: list[dict[str, Any]] = []
    params = {"labelSelector": selector, "limit": str(PAGE)}
    while True:
        page = kube.request(
            "GET", collection_path(kind, namespace), params=params, headers={"Accept": ACCEPT_LIST}
        )
        items.extend(page.get("items") or [])
        meta = page.get("metadata") or {}
        if not meta.get("continue"):
            return items, str(meta.get("resourceVersion", ""))
        params = {**params, "continue": meta["continue"]}


OnNews = Callable[[str, str], None]  # (namespace, SLO name): a child of it changed or went


class ChildWatch:
    """One watch per child kind (and configured namespace) keeping ``cache`` current."""

    def __init__(
        self, credentials: Credentials, kube: KubeClient, cache: WatchCache, selector: str, on_news: OnNews
    ) -> None:
        self.kube, self.cache, self.selector, self.on_news = kube, cache, selector, on_news
        self._http = watch_client(credentials, WATCH_SECONDS)
        self.events = 0  # watch events seen (tests, logs)
        self.relists = 0

    def prime(self, kind: ChildKind, namespace: str) -> str | None:
        """The start-up LIST (before kopf's watches start): the resourceVersion to watch from, None when
        the kind's CRD is not installed."""
        try:
            items, version = list_metadata(self.kube, kind, namespace, self.selector)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise
        self.cache.prime_children(kind.plural, items)
        return version

    async def follow(self, kind: ChildKind, namespace: str, version: str | None) -> None:
        """Watch ``kind`` from ``version`` for ever (cancelled at shutdown); LIST again when it must."""

        async def relist() -> str:
            items, listed = await asyncio.to_thread(list_metadata, self.kube, kind, namespace, self.selector)
            self.relists += 1
            assert listed is not None
            owners = self.cache.resync_children(kind.plural, namespace or None, items)
            message = "watch of %s resumed by a re-listing: %d SLOs to restore"
            log.info(message, kind.plural, len(owners))
            for owner in sorted(owners):
                self.on_news(*owner)
            return listed

        await follow_watch(kind.plural, relist, lambda resume: self._watch(kind, namespace, resume), version)

    async def _watch(self, kind: ChildKind, namespace: str, version: str) -> str | None:
        """One watch request; returns the resourceVersion to resume from (None: it must LIST again)."""
        params = {
            "watch": "1",
            "labelSelector": self.selector,
            "resourceVersion": version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(WATCH_SECONDS),
        }

        def on_event(event_type: str, obj: dict[str, Any]) -> None:
            self.events += 1
            self.observe(kind, event_type, obj)

        return await read_watch(
            self._http, collection_path(kind, namespace), params, on_event, {"Accept": ACCEPT_WATCH}
        )

    def observe(self, kind: ChildKind, event_type: str, obj: dict[str, Any]) -> None:
        """A watch event: the echo of our own write only updates the cache; a change or deletion by
        someone else has the owning SLO reconciled."""
        if not restores(event_type, self.cache.observe_child(kind.plural, event_type, obj)):
            return
        metadata = obj.get("metadata") or {}
        owner = (metadata.get("labels") or {}).get(NAME_LABEL)
        if owner:
            self.on_news(str(metadata.get("namespace")), str(owner))

    async def close(self) -> None:
        await self._http.aclose()
