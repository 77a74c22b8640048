"""The operator's intake of SLO events: its own watch, one pending entry per SLO, a fixed set of workers.

kopf queued every event of every SLO in a queue of its own per object (the parsed event, an
``asyncio.Queue`` and ``Event``, a pending worker coroutine: about 11 KB per SLO waiting), without bound
and without back-pressure, and kept per-object state for each SLO it had seen. 10,000 SLOs created at
once held some 100 MB while they waited. Here:

- **One entry per SLO waiting**, whatever the number of its events: the latest object, without
  ``managedFields``, as zlib-packed compact JSON (under 1 KB), and whether it must be reconciled even
  when its spec is the one last handled (``force``: found at start-up, or a child changed under it).
  A newer event of the same SLO replaces the object; a deletion drops the entry.
- **A fixed number of workers** (``WORKERS``, each with a thread of its own) take the SLOs in the order
  they first became due; one SLO is never reconciled by two workers at once.
- **Nothing is kept of an SLO once it is handled**: whether an event calls for a reconcile is read from
  the object itself (``due``: its spec, labels and annotations against the record of the last handled
  ones in ``status.kopf``, which the reconcile writes with its status). The echoes of the operator's own
  status writes, and the refresher's, are dropped as they arrive. That record is computed once per
  object: the one an event is queued with reaches the reconcile (``handle``) unless a newer object of
  the SLO replaced it meanwhile.

The semantics are kopf's, which the operator used before: every SLO found at start-up is reconciled
(resume; a settled one costs no write, as server-side apply of an unchanged child changes nothing), a
new one (created) and one whose spec changed (update) are; a failed reconcile is retried (after the
``delay`` of the exception, e.g. ``kopf.TemporaryError``, else ``RETRY_SECONDS``); a deleted SLO needs
nothing (its children go with it through their owner references; no finalizer). The record keeps
kopf's format, so either can take over from the other.

The watch is resumed from the last resourceVersion seen (bookmarks keep it recent); when it cannot
resume (``410 Gone``) the SLOs are listed again and only those whose spec is not the handled one are
reconciled: no reconcile storm after an API server restart. Like the children's watch it runs only
where kopf runs: on the leader.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from slo_operator import API_GROUP, API_VERSION, PLURAL
from slo_operator.kube import Credentials, KubeClient, KubeError, follow_watch, read_watch, watch_client

log = logging.getLogger(__name__)

WATCH_SECONDS = 300
READ_RETRY_SECONDS = 30.0  # after a failed GET of an SLO that is due
RETRY_SECONDS = 60.0  # after a failure that names no delay of its own (kopf's default backoff)
WORKERS = min(32, (os.cpu_count() or 1) + 4)  # as many as kopf's handler threads were

Key = tuple[str, str]  # (namespace, name)


# What ``Pending.record`` holds when the record of the waiting object is not known yet.
UNKNOWN = "?"


@dataclass(frozen=True, slots=True)
class Listed:
    """One SLO of a LIST: its key, its object packed when it is due (else None), whether it is being
    deleted, whether it is reconciled even with its spec handled (start-up), and the record of its spec
    (``due``; ``UNKNOWN`` when not computed)."""

    key: Key
    packed: bytes | None
    deleting: bool
    force: bool
    record: str | None = UNKNOWN


@dataclass(slots=True)
class Pending:
    """An SLO waiting for a worker: its latest object packed (None: read it when its turn comes), whether
    it is reconciled even when its spec was handled already, and the record of that object's spec
    (``due``: None when handled already; ``UNKNOWN`` until computed)."""

    packed: bytes | None
    force: bool
    record: str | None = UNKNOWN


def pack(obj: dict[str, Any]) -> bytes:
    """The object without ``metadata.managedFields`` (half of it, read by nobody here), as zlib of
    compact JSON."""
    metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return zlib.compress(json.dumps({**obj, "metadata": metadata}, separators=(",", ":")).encode(), 1)


def unpack(packed: bytes) -> dict[str, Any]:
    return dict(json.loads(zlib.decompress(packed)))


def key_of(obj: dict[str, Any]) -> Key:
    metadata = obj.get("metadata") or {}
    return str(metadata.get("namespace")), str(metadata.get("name"))


def collection_path(namespace: str) -> str:
    base = f"/apis/{API_GROUP}/{API_VERSION}"
    return f"{base}/namespaces/{namespace}/{PLURAL}" if namespace else f"{base}/{PLURAL}"


class IntakeWatcher(Protocol):
    """What else wants to see every SLO the intake reads (``shared_rules``), in the thread that reads it."""

    def seen(self, obj: dict[str, Any], deleted: bool) -> None: ...

    def whole(self, namespace: str, keys: set[Key]) -> None:
        """Every SLO of a whole LIST (of ``namespace``; "": all)."""


class SLOIntake:
    """SLO events from the API server to ``handle`` (called in a worker thread, with the object and the
    record of its spec, None when that spec was handled already).

    ``due(obj)``: the record of an SLO's spec (labels, annotations) to store once it is handled, None
    when it is the one last handled. ``handle`` may raise: the SLO is then read again and reconciled
    after the exception's ``delay`` (or ``RETRY_SECONDS``).
    """

    def __init__(
        self,
        credentials: Credentials,
        kube: KubeClient,
        handle: Callable[[dict[str, Any], str | None], None],
        due: Callable[[dict[str, Any]], str | None],
        workers: int = WORKERS,
        watcher: IntakeWatcher | None = None,
    ) -> None:
        self.kube, self.handle, self.due = kube, handle, due
        self.watcher = watcher
        self.pending: dict[Key, Pending] = {}
        self._queue: asyncio.Queue[Key] = asyncio.Queue()
        self._queued: set[Key] = set()
        self._running: set[Key] = set()
        self._workers = workers
        self._executor = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="reconcile")
        self._http = watch_client(credentials, WATCH_SECONDS)
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.events = 0  # watch events seen
        self.relists = 0
        self.handled = 0

    # ---- what is due --------------------------------------------------------------------------------

    def observe(self, event_type: str, obj: dict[str, Any]) -> None:
        """One SLO as a watch event delivered it."""
        key = key_of(obj)
        metadata = obj.get("metadata") or {}
        if self.watcher is not None:
            self.watcher.seen(obj, event_type == "DELETED")
        if event_type == "DELETED" or metadata.get("deletionTimestamp"):
            self.pending.pop(key, None)  # its children go with it (owner references)
            return
        waiting = self.pending.get(key)
        if waiting is not None:  # the newest object replaces the one waiting (and keeps its force)
            waiting.packed, waiting.record = pack(obj), UNKNOWN
            return
        record = self.due(obj)
        if record is not None:
            self.pending[key] = Pending(pack(obj), False, record)
            self._enqueue(key)

    def request(self, namespace: str, name: str) -> None:
        """Reconcile ``namespace/name`` even if its spec was handled (a child of it changed or went); it
        is read when its turn comes unless a newer object of it is waiting already."""
        key = (namespace, name)
        waiting = self.pending.get(key)
        if waiting is not None:
            waiting.force = True
            return
        self.pending[key] = Pending(None, True)
        self._enqueue(key)

    def listed(self, item: dict[str, Any], force: bool) -> Listed:
        """What a LIST's item means here (any thread): packed only when it may have to wait."""
        metadata = item.get("metadata") or {}
        if self.watcher is not None:
            self.watcher.seen(item, False)
        deleting = bool(metadata.get("deletionTimestamp"))
        record = UNKNOWN if deleting or force else self.due(item)
        due = not deleting and (force or record is not None)
        return Listed(key_of(item), pack(item) if due else None, deleting, force, record)

    def resync(self, namespace: str, entries: Iterable[Listed]) -> None:
        """A LIST of the SLOs (of ``namespace``; "": all): those due wait, and those waiting that are no
        longer there are dropped (deleted while the watch was away)."""
        seen: set[Key] = set()
        for entry in entries:
            seen.add(entry.key)
            self._take(entry)
        if self.watcher is not None:
            self.watcher.whole(namespace, seen)
        for key in [k for k in self.pending if namespace in ("", k[0]) and k not in seen]:
            if self.pending[key].packed is not None:
                del self.pending[key]

    def offer(self, entries: list[Listed]) -> None:
        """SLOs to reconcile (``listed`` with ``force``), from any thread: e.g. every SLO of a namespace
        whose error-budget policy changed. Each joins what waits of it already."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._take_all, entries)

    def _take_all(self, entries: list[Listed]) -> None:
        for entry in entries:
            self._take(entry)

    def _take(self, entry: Listed) -> None:
        waiting = self.pending.get(entry.key)
        if entry.deleting:
            self.pending.pop(entry.key, None)
        elif waiting is not None:
            if entry.packed is not None:
                waiting.packed, waiting.record = entry.packed, entry.record
            waiting.force = waiting.force or entry.force
        elif entry.packed is not None:
            self.pending[entry.key] = Pending(entry.packed, entry.force, entry.record)
            self._enqueue(entry.key)

    def _enqueue(self, key: Key) -> None:
        if key not in self._queued and key not in self._running:
            self._queued.add(key)
            self._queue.put_nowait(key)

    # ---- workers --------------------------------------------------------------------------------------

    def start(self, namespaces: tuple[str, ...]) -> None:
        """Watch the SLOs (of each of ``namespaces``; none: all) and run the workers."""
        for namespace in namespaces or ("",):
            self._tasks.append(asyncio.create_task(self.follow(namespace)))
        self.start_workers()

    def start_workers(self) -> None:
        self._loop = asyncio.get_running_loop()
        for _ in range(self._workers):
            self._tasks.append(asyncio.create_task(self._work()))

    def idle(self) -> bool:
        """Nothing waiting and nothing being handled."""
        return not self.pending and not self._running

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            waiting = self.pending.pop(key, None)
            if waiting is None:
                continue  # deleted meanwhile
            self._running.add(key)
            try:
                delay = await loop.run_in_executor(self._executor, self._handle_one, key, waiting)
            finally:
                self._running.discard(key)
            if key in self.pending:  # news of it while it was handled
                self._enqueue(key)
            elif delay is not None:
                loop.call_later(delay, self.request, *key)

    def _handle_one(self, key: Key, waiting: Pending) -> float | None:
        """Reconcile one SLO (in a worker thread); the seconds after which to try again, None when done."""
        if waiting.packed is not None:
            obj: dict[str, Any] | None = unpack(waiting.packed)
        else:
            try:
                obj = self.kube.get_slo(*key)
            except KubeError as exc:
                log.warning("cannot read SLO %s/%s: %s", *key, exc)
                return READ_RETRY_SECONDS
        if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp"):
            return None  # gone: its children go with it
        record = self.due(obj) if waiting.record == UNKNOWN or waiting.packed is None else waiting.record
        if not waiting.force and record is None:
            return None
        try:
            self.handle(obj, record)
        except Exception as exc:  # retried, as kopf retries a failed handler
            delay = getattr(exc, "delay", None)
            seconds = float(delay) if isinstance(delay, int | float) else RETRY_SECONDS
            log.warning("reconcile of SLO %s/%s failed (%s); again in %.0fs", *key, exc, seconds)
            return seconds
        finally:
            self.handled += 1
        return None

    # ---- the watch ------------------------------------------------------------------------------------

    async def follow(self, namespace: str) -> None:
        """LIST the SLOs (each reconciled once: start-up), then watch; LIST again when the watch cannot
        resume (only changed specs are reconciled then)."""
        first = True

        async def relist() -> str:
            nonlocal first
            entries, version = await asyncio.to_thread(self._list, namespace, first)
            self.resync(namespace, entries)
            if not first:
                self.relists += 1
                log.info("watch of SLOs resumed by a re-listing of %d", len(entries))
            first = False
            return version

        await follow_watch("SLOs", relist, lambda version: self._watch(namespace, version))

    def _list(self, namespace: str, force: bool) -> tuple[list[Listed], str]:
        """Every SLO (in ``namespace``), a page at a time, as ``Listed``; the list's resourceVersion."""
        entries: list[Listed] = []
        params = {"limit": "500"}
        while True:
            page = self.kube.request("GET", collection_path(namespace), params=params)
            entries.extend(self.listed(item, force) for item in page.get("items") or [])
            meta = page.get("metadata") or {}
            del page
            if not meta.get("continue"):
                return entries, str(meta.get("resourceVersion", ""))
            params = {**params, "continue": meta["continue"]}

    async def _watch(self, namespace: str, version: str) -> str | None:
        """One watch request; the resourceVersion to resume from (None: LIST again)."""
        params = {
            "watch": "1",
            "resourceVersion": version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(WATCH_SECONDS),
        }

        def on_event(event_type: str, obj: dict[str, Any]) -> None:
            self.events += 1
            self.observe(event_type, obj)

        return await read_watch(self._http, collection_path(namespace), params, on_event)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        self._executor.shutdown(wait=False, cancel_futures=True)
        await self._http.aclose()
