"""The operator's intake of SLO events (slo_intake): one pending entry per SLO whatever its number of
events, the echoes of status writes dropped as they arrive, one reconcile at a time per SLO."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import kopf
from slo_operator.handlers import LeanStatusDiffBaseStorage
from slo_operator.kube import Credentials, KubeClient
from slo_operator.slo_intake import SLOIntake, unpack

STORAGE, PROGRESS = LeanStatusDiffBaseStorage(name="kopf"), kopf.SmartProgressStorage()
CREDENTIALS = Credentials("https://127.0.0.1:9", None, None, None, False, None)


def due(obj: dict[str, Any]) -> str | None:
    return STORAGE.record(obj, PROGRESS)


def slo(name: str, objective: float = 99.9, version: int = 1, handled: float | None = None) -> dict[str, Any]:
    spec = {"service": name, "objective": objective, "window": "30d"}
    status: dict[str, Any] = {}
    if handled is not None:  # the record a reconcile of this spec (objective ``handled``) wrote
        record = STORAGE.record({"spec": {**spec, "objective": handled}, "metadata": {}}, PROGRESS)
        status["kopf"] = {"last-handled-configuration": record}
    return {
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": name, "namespace": "shop", "uid": f"u-{name}", "resourceVersion": str(version),
                     "managedFields": [{"manager": "slo-operator", "fieldsV1": {"f:status": {}}}] * 4},
        "spec": spec,
        "status": status,
    }


def intake(handle: Any = None, workers: int = 2) -> SLOIntake:
    return SLOIntake(CREDENTIALS, KubeClient(CREDENTIALS), handle or (lambda obj, record: None), due, workers)


def test_events_of_one_slo_wait_as_one_entry_with_the_newest_object() -> None:
    news = intake()
    news.observe("ADDED", slo("a"))
    news.observe("MODIFIED", slo("a", version=2))
    news.observe("MODIFIED", slo("a", 99.5, version=3))
    assert list(news.pending) == [("shop", "a")]
    waiting = news.pending["shop", "a"]
    assert waiting.packed is not None and not waiting.force
    obj = unpack(waiting.packed)
    assert obj["metadata"]["resourceVersion"] == "3" and obj["spec"]["objective"] == 99.5
    assert "managedFields" not in obj["metadata"]
    assert len(waiting.packed) < len(json.dumps(slo("a"))) / 2


def test_handled_specs_are_not_queued_and_deletions_drop_what_waits() -> None:
    news = intake()
    news.observe("MODIFIED", slo("settled", handled=99.9))  # e.g. the echo of a status write
    assert not news.pending
    news.observe("MODIFIED", slo("changed", 99.5, handled=99.9))  # a spec change: kopf's update
    news.observe("ADDED", slo("gone"))
    news.observe("DELETED", slo("gone"))
    deleting = slo("deleting")
    deleting["metadata"]["deletionTimestamp"] = "2026-12-02T12:00:00Z"
    news.observe("MODIFIED", deleting)
    assert list(news.pending) == [("shop", "changed")]


def test_start_up_forces_every_slo_and_a_relisting_only_the_changed() -> None:
    news = intake()
    news.resync("", [news.listed(slo("a", handled=99.9), True), news.listed(slo("b", handled=99.9), True)])
    assert sorted(news.pending) == [("shop", "a"), ("shop", "b")]  # kopf's resume
    assert all(p.force for p in news.pending.values())
    later = intake()
    later.observe("ADDED", slo("deleted-meanwhile"))
    relisted = [slo("a", handled=99.9), slo("b", 99.0, handled=99.9)]
    later.resync("", [later.listed(item, False) for item in relisted])
    assert list(later.pending) == [("shop", "b")]
    assert later.listed(relisted[0], False).packed is None, "only what may wait is packed"


def test_a_child_changed_forces_its_slo_read_when_its_turn_comes() -> None:
    news = intake()
    news.request("shop", "a")
    assert news.pending["shop", "a"].packed is None and news.pending["shop", "a"].force
    news.observe("ADDED", slo("b"))
    news.request("shop", "b")
    assert news.pending["shop", "b"].packed is not None and news.pending["shop", "b"].force
    news.resync("", [])  # a re-listing does not drop a restore that reads the SLO afresh
    assert list(news.pending) == [("shop", "a")]


def test_workers_reconcile_each_slo_once_at_a_time_with_its_newest_object() -> None:
    handled: list[tuple[str, str]] = []
    running: set[str] = set()
    overlap: list[str] = []
    gate = threading.Event()

    def handle(obj: dict[str, Any], _record: str | None) -> None:
        name = obj["metadata"]["name"]
        if name in running:
            overlap.append(name)
        running.add(name)
        if name == "slow":
            gate.wait(5)
        handled.append((name, obj["metadata"]["resourceVersion"]))
        running.discard(name)

    async def scenario() -> SLOIntake:
        news = intake(handle, workers=3)
        news.start_workers()
        news.observe("ADDED", slo("slow"))
        for i in range(20):
            news.observe("ADDED", slo(f"s{i}"))
        await asyncio.sleep(0)  # the workers pick up "slow" and two others
        for _ in range(200):
            if news.handled >= 3 or ("slow", "1") in handled:
                break
            await asyncio.sleep(0.01)
        news.observe("MODIFIED", slo("slow", 99.0, version=2))  # news while it is being handled
        gate.set()
        for _ in range(500):
            if news.idle() and news.handled >= 22:
                break
            await asyncio.sleep(0.01)
        await news.close()
        return news

    news = asyncio.run(scenario())
    assert not overlap
    assert [v for n, v in handled if n == "slow"] == ["1", "2"]
    assert sorted(n for n, _ in handled if n != "slow") == sorted(f"s{i}" for i in range(20))
    assert news.idle()


def test_slos_offered_from_another_thread_are_reconciled_even_when_handled() -> None:
    handled: list[str] = []

    async def scenario() -> None:
        news = intake(lambda obj, _record: handled.append(obj["metadata"]["name"]))
        news.start_workers()
        settled = [slo(f"p{i}", handled=99.9) for i in range(3)] + [slo("new")]
        await asyncio.to_thread(lambda: news.offer([news.listed(item, True) for item in settled]))
        for _ in range(300):
            if news.idle() and len(handled) >= 4:
                break
            await asyncio.sleep(0.01)
        await news.close()

    asyncio.run(scenario())
    assert sorted(handled) == ["new", "p0", "p1", "p2"]


def test_whether_an_slo_is_due_is_computed_once_per_object() -> None:
    """The record of a new SLO's spec, computed when its event is queued, is the one its reconcile stores:
    not computed again when its turn comes nor by the reconcile. A newer object replacing the one waiting
    is judged afresh, once; an SLO forced at start-up (not judged when listed) once, at its turn."""
    calls: list[str] = []
    handled: list[tuple[str, str | None]] = []

    def counting(obj: dict[str, Any]) -> str | None:
        calls.append(obj["metadata"]["name"])
        return due(obj)

    news = SLOIntake(CREDENTIALS, KubeClient(CREDENTIALS),
                     lambda obj, record: handled.append((obj["metadata"]["name"], record)), counting)

    def turn(name: str) -> None:
        news._handle_one(("shop", name), news.pending.pop(("shop", name)))

    news.observe("ADDED", slo("new"))
    turn("new")
    assert calls == ["new"] and handled == [("new", due(slo("new")))]
    assert handled[0][1] is not None

    calls.clear()
    news.observe("ADDED", slo("changed"))
    news.observe("MODIFIED", slo("changed", 99.5, version=2))  # replaces the object waiting
    turn("changed")
    assert calls == ["changed", "changed"] and handled[-1] == ("changed", due(slo("changed", 99.5)))

    calls.clear()
    news.resync("", [news.listed(slo("settled", handled=99.9), True)])  # start-up: reconciled all the same
    turn("settled")
    assert calls == ["settled"] and handled[-1] == ("settled", None)
