"""The whole status refresh cycle (``reconcile.refresh_all``) against stand-ins of its two HTTP APIs.

README promises checked here: a status is written only when what a reader sees changed (plus the
``lastEvaluated`` heartbeat); a write carries the resourceVersion it read, so a concurrent change wins
(409) and the next cycle catches up; Events are posted on transitions, never on every refresh; a refresh
costs the same number of Prometheus queries whatever the number of SLOs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest
from fakes import SLO_PATH, ApiServer, StaticPrometheus, prometheus_from, serving
from slo_operator.api import ServiceLevelObjective
from slo_operator.budget import ErrorBudgetCalculator
from slo_operator.evaluator import promtool_inputs, run_groups
from slo_operator.forecaster import Forecaster
from slo_operator.kube import KubeClient
from slo_operator.model import SLO, resolve
from slo_operator.prometheus import QUERIES, PrometheusClient
from slo_operator.reconcile import (
    Listed,
    Outcome,
    RefreshReport,
    first_status,
    reconcile_decision,
    refresh_all,
)
from slo_operator.rules import rule_groups
from support.prometheus_api import request_params

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
OLD = (NOW - timedelta(days=40)).timestamp()  # recording began long before the 30d window
MINUTE = timedelta(minutes=1)
HEARTBEAT = 300.0


def document(name: str, namespace: str = "prod") -> dict[str, Any]:
    return {
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "service": "api",
            "objective": 99.9,
            "window": "30d",
            "indicator": {"availability": {"errors": 'x{code="5xx"}', "total": "x"}},
        },
    }


def slo_of(doc: dict[str, Any]) -> SLO:
    return resolve(ServiceLevelObjective.model_validate(doc))


@pytest.fixture()
def api() -> ApiServer:
    return ApiServer()


@pytest.fixture()
def kube(api: ApiServer) -> Iterator[KubeClient]:
    with serving(api) as client:
        yield client


def refresh(
    kube: KubeClient, client: PrometheusClient, forecaster: Forecaster, now: datetime
) -> RefreshReport:
    """One refresh cycle as the operator runs it (its forecaster included: status.forecast is compared)."""
    return refresh_all(kube, client, now=now, heartbeat_seconds=HEARTBEAT, forecaster=forecaster)


def cluster(api: ApiServer, prometheus: StaticPrometheus, count: int, since: float = OLD) -> list[SLO]:
    slos = []
    for i in range(count):
        doc = document(f"api-{i}")
        api.add(doc)
        slos.append(slo_of(doc))
        prometheus.set(slos[-1], error_ratio=0.0005, remaining=0.5, since=since)
    return slos


def test_a_status_is_written_only_when_what_a_reader_sees_changed(api: ApiServer, kube: KubeClient) -> None:
    prometheus = StaticPrometheus()
    slos = cluster(api, prometheus, 3)
    client = prometheus.client()
    forecaster = Forecaster()
    first = refresh(kube, client, forecaster, NOW)
    assert (first.slos, first.writes, first.conflicts, first.errors) == (3, 3, 0, [])
    assert api.status("prod", "api-0")["state"] == "Meeting"
    # Nothing changed: refreshes within the heartbeat write nothing.
    for minutes in (1, 2, 4):
        again = refresh(kube, client, forecaster, NOW + minutes * MINUTE)
        assert again.writes == 0, minutes
    assert len(api.status_writes) == 3
    # A visible number of one SLO changes: that SLO alone is written.
    prometheus.set(slos[1], error_ratio=0.0005, remaining=0.4, since=OLD)
    changed = refresh(kube, client, forecaster, NOW + 4.5 * MINUTE)
    assert changed.writes == 1 and api.status_writes[-1] == ("prod", "api-1")
    assert api.status("prod", "api-1")["errorBudget"]["remaining"] == 40.0
    # The heartbeat: lastEvaluated is rewritten once it is HEARTBEAT old, for the others too.
    beat = refresh(kube, client, forecaster, NOW + 5 * MINUTE)
    assert beat.writes == 2
    assert api.status("prod", "api-0")["lastEvaluated"] == "2026-11-29T12:05:00Z"
    assert refresh(kube, client, forecaster, NOW + 6 * MINUTE).writes == 0
    assert api.events == []  # numbers changing are not news: no Event without a condition flip


def test_a_concurrent_change_wins_and_the_next_cycle_catches_up(api: ApiServer, kube: KubeClient) -> None:
    prometheus = StaticPrometheus()
    cluster(api, prometheus, 2)
    client = prometheus.client()
    forecaster = Forecaster()
    refresh(kube, client, forecaster, NOW)
    written = api.status("prod", "api-0")
    # Prometheus goes down; between our LIST and our write someone edits api-0.
    prometheus.down = True
    api.before_patch = lambda namespace, name: api.touch(namespace, name) if name == "api-0" else None
    report = refresh(kube, client, forecaster, NOW + MINUTE)
    assert (report.reachable, report.conflicts, report.writes, report.errors) == (False, 1, 1, [])
    assert api.status("prod", "api-0") == written  # the concurrent change won: nothing of ours landed
    assert api.reasons("api-0") == []  # and no Event for a write that did not happen
    assert api.reasons("api-1") == ["PrometheusUnreachable"]
    # Next cycle, no interference: api-0 catches up, with its Event, once.
    api.before_patch = None
    report = refresh(kube, client, forecaster, NOW + 2 * MINUTE)
    assert (report.conflicts, report.writes) == (0, 1)
    conditions = {c["type"]: c["status"] for c in api.status("prod", "api-0")["conditions"]}
    assert conditions["PrometheusReachable"] == "False"
    assert api.reasons("api-0") == ["PrometheusUnreachable"]
    assert api.reasons("api-1") == ["PrometheusUnreachable"]


def test_events_on_transitions_never_on_every_refresh(api: ApiServer, kube: KubeClient) -> None:
    prometheus = StaticPrometheus()
    (target,) = cluster(api, prometheus, 1)
    client = prometheus.client()
    forecaster = Forecaster()
    timeline = [
        # (Prometheus down, budget remaining) per cycle, a minute apart
        (False, 0.5), (False, 0.5),  # first read: not news
        (True, 0.5), (True, 0.5), (True, 0.5),  # down: one PrometheusUnreachable
        (False, 0.5), (False, 0.5),  # back: one PrometheusReachable
        (False, -0.2), (False, -0.3), (False, -0.4),  # spent, and spending more: one BudgetExhausted
        (False, -0.4), (False, -0.4), (False, -0.4), (False, -0.4), (False, -0.4), (False, -0.4),  # heartbeat
        (False, 0.2),  # recovered: BudgetExhausted False is not an Event
        (False, -0.1),  # spent again: a new transition, a new Event
    ]
    for minute, (down, remaining) in enumerate(timeline):
        prometheus.down = down
        prometheus.set(target, error_ratio=0.0005, remaining=remaining, since=OLD)
        report = refresh(kube, client, forecaster, NOW + minute * MINUTE)
        assert report.errors == [], minute
    assert api.reasons() == [
        "PrometheusUnreachable", "PrometheusReachable", "BudgetExhausted", "BudgetExhausted",
    ]
    assert [e["type"] for e in api.events] == ["Warning", "Normal", "Warning", "Warning"]
    # the cycles wrote: first read, down, back, each budget change, one heartbeat, recovery, spent again
    assert len(api.status_writes) == 9


def test_slos_are_listed_a_page_at_a_time(api: ApiServer, kube: KubeClient) -> None:
    """The refresh reads SLOs ``limit`` at a time (limit/continue), not every whole SLO in one answer."""
    for i in range(5):
        api.add(document(f"api-{i}"))
    pages = list(kube.slo_pages(limit=2))
    assert [len(page) for page in pages] == [2, 2, 1]
    assert sorted(o["metadata"]["name"] for page in pages for o in page) == [f"api-{i}" for i in range(5)]
    assert [len(page) for page in kube.slo_pages(("prod",), limit=3)] == [3, 2]


def test_a_cycle_keeps_of_an_slo_what_the_refresh_reads(api: ApiServer, kube: KubeClient) -> None:
    """Listed drops managedFields, annotations and kopf's record; the refresh then leaves them as they are."""
    prometheus = StaticPrometheus()
    cluster(api, prometheus, 1)
    item = api.slos["prod", "api-0"]
    item["metadata"]["managedFields"] = [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]
    item["metadata"]["annotations"] = {"note": "x"}
    kopf_record = {"last-handled-configuration": '{"spec": {}}'}
    item["status"] = {"kopf": kopf_record, "state": "Unknown"}
    whole = Listed.of(item).whole()
    assert set(whole["metadata"]) == {"name", "namespace", "uid", "resourceVersion", "generation"}
    assert whole["status"] == {"state": "Unknown"} and whole["spec"] == item["spec"]
    assert (whole["apiVersion"], whole["kind"]) == (item["apiVersion"], item["kind"])
    report = refresh(kube, prometheus.client(), Forecaster(), NOW)
    assert (report.slos, report.writes, report.errors) == (1, 1, [])
    assert api.status("prod", "api-0")["kopf"] == kopf_record
    assert api.status("prod", "api-0")["state"] == "Meeting"
    written = {**item, "status": api.status("prod", "api-0")}
    listed = Listed.of(written)
    assert listed.whole()["status"] == {k: v for k, v in written["status"].items() if k != "kopf"}
    text = len(json.dumps({k: written[k] for k in ("apiVersion", "kind", "spec", "status")}))
    assert len(listed.packed) < text / 2, "a cycle holds the spec and status of every SLO: packed"


@pytest.mark.parametrize("young", [False, True], ids=["recorded", "young"])
def test_queries_per_refresh_do_not_depend_on_the_number_of_slos(young: bool) -> None:
    """README: one LIST of SLOs and a constant number of Prometheus queries whatever the number of SLOs
    (one more, for all young SLOs together, while any is young)."""
    since = (NOW - timedelta(days=2)).timestamp() if young else OLD
    counts: dict[int, tuple[int, int]] = {}
    for count in (1, 7, 40):
        api = ApiServer()
        prometheus = StaticPrometheus()
        cluster(api, prometheus, count, since=since)
        with serving(api) as kube:
            report = refresh_all(kube, prometheus.client(), now=NOW, heartbeat_seconds=HEARTBEAT)
        assert (report.slos, report.writes) == (count, count)
        lists = [r for r in api.requests if r == ("GET", f"{SLO_PATH}/servicelevelobjectives")]
        counts[count] = (report.queries, len(lists))
    assert set(counts.values()) == {(len(QUERIES) + int(young), 1)}, counts


# ---- the status against ErrorBudgetCalculator on traffic that changes --------------------------------

STEP = 30  # seconds between scrapes (and fast rule evaluations)
HOURS = 27


def changing_traffic() -> tuple[np.ndarray, np.ndarray]:
    """(requests, errors) in each 30 s step: 20-minute phases alternating busy and quiet with different
    error ratios (each minute must weigh by its traffic), and a 30-minute incident at 25h10m."""
    requests, errors = [], []
    for step in range(HOURS * 3600 // STEP + 1):
        minute = step * STEP / 60
        if 25 * 60 + 10 <= minute < 25 * 60 + 40:
            per_minute, ratio = 600.0, 0.05
        elif (minute // 20) % 2 == 0:
            per_minute, ratio = 1000.0, 0.001
        else:
            per_minute, ratio = 50.0, 0.04
        requests.append(per_minute * STEP / 60)
        errors.append(per_minute * STEP / 60 * ratio)
    requests[0] = errors[0] = 0.0
    return np.asarray(requests), np.asarray(errors)


def exact_error_ratio(requests: np.ndarray, errors: np.ndarray, at: float, window: float) -> float:
    """Errors / requests in (at - window, at]: step j holds the traffic of ((j - 1) * STEP, j * STEP]."""
    first, last = int((at - window) // STEP) + 1, int(at // STEP)
    return float(errors[first : last + 1].sum() / requests[first : last + 1].sum())


def test_status_equals_the_error_budget_calculator_on_changing_traffic(
    api: ApiServer, kube: KubeClient
) -> None:
    """README: the status equals ErrorBudgetCalculator within 5% -- here on traffic whose volume and error
    ratio change every 20 minutes and through an incident, read through the rendered rules as Prometheus
    evaluates them (the simulator) and the operator's whole refresh cycle."""
    doc = document("api")
    doc["spec"].update(objective=99, window="1d")
    doc["spec"]["indicator"] = {
        "availability": {"errors": 'req_total{code="500"}', "total": 'req_total{code=~"200|500"}'}
    }
    api.add(doc)
    target = slo_of(doc)
    requests, errors = changing_traffic()
    counters = {
        'req_total{code="200"}': np.cumsum(requests - errors),
        'req_total{code="500"}': np.cumsum(errors),
    }
    inputs = [{"series": name, "values": " ".join(map(str, v.tolist()))} for name, v in counters.items()]
    store = promtool_inputs(inputs, STEP)
    evaluated = run_groups(rule_groups(target), store, end=HOURS * 3600.0)
    clock = {"now": 0.0}
    prometheus = prometheus_from(evaluated, lambda: clock["now"])
    calc = ErrorBudgetCalculator(99, 1)
    seen = set()
    # Instants whose current-burn window (10m) and its base-window edge lie in even traffic: in the quiet and
    # busy phases, during the incident (fast burn) and after it (the 48m window still holds it).
    for minute in (1499, 1530, 1538, 1578, 1598):
        at = minute * 60.0
        clock["now"] = at
        now = datetime.fromtimestamp(at, UTC)
        report = refresh_all(kube, prometheus, now=now, heartbeat_seconds=HEARTBEAT)
        assert report.reachable and report.errors == [], report
        status = api.status("prod", "api")
        window_ratio = exact_error_ratio(requests, errors, at, target.window)
        current_ratio = exact_error_ratio(requests, errors, at, target.current_burn_window)
        where = (minute, status)
        assert status["window"]["source"] == "recorded", where
        assert 100 - status["sli"] == pytest.approx(100 * window_ratio, rel=0.05), where
        assert status["errorBudget"]["consumed"] == pytest.approx(
            100 * calc.consumed_budget(window_ratio, 1), rel=0.05), where
        assert status["burnRate"] == pytest.approx(calc.burn_rate(current_ratio), rel=0.05), where
        for alert, shown in zip(target.alerts, status["burnRates"], strict=True):
            rates = [calc.burn_rate(exact_error_ratio(requests, errors, at, w))
                     for w in (alert.long_window, alert.short_window)]
            assert shown["longBurnRate"] == pytest.approx(rates[0], rel=0.05), (alert.name, where)
            assert shown["shortBurnRate"] == pytest.approx(rates[1], rel=0.05), (alert.name, where)
            firing = all(rate > float(alert.threshold) for rate in rates)
            assert shown["firing"] == firing, (alert.name, where)
        seen.add(status["state"])
    assert seen == {"Meeting", "AtRisk"}  # the incident fires an alert; before and after it, none fires


def test_a_new_slo_costs_one_status_write(api: ApiServer, kube: KubeClient) -> None:
    """The handler's first write of a new SLO (``first_status``) already says what the refresh would:
    while Prometheus has nothing of it, the refresh after it writes nothing; once it has, it writes."""
    prometheus = StaticPrometheus()
    cluster(api, prometheus, 1)
    client = prometheus.client()
    forecaster = Forecaster()
    first = refresh(kube, client, forecaster, NOW)
    doc = document("new")
    body = api.add(doc)
    assert first.measured == frozenset({("prod", "api-0")})
    outcome = Outcome(applied=["PrometheusRule/new-slo"], slo=slo_of(doc))
    created = NOW + 10 * timedelta(seconds=1)
    decision = reconcile_decision(body, outcome, created)
    assert decision.status is not None
    kube.patch_slo_status("prod", "new", first_status(slo_of(doc), decision.status, created, True), None)
    assert api.status_writes[-1] == ("prod", "new")
    written = api.status("prod", "new")
    assert written["state"] == "NoData" and written["observedGeneration"] == 1
    ready = {c["type"]: c["status"] for c in written["conditions"]}
    assert ready["Ready"] == "True" and ready["PrometheusReachable"] == "True"
    for minutes in (1, 2):
        assert refresh(kube, client, forecaster, NOW + minutes * MINUTE).writes == 0
    assert api.status("prod", "new") == written
    # Prometheus records it: the figures are news.
    prometheus.set(slo_of(doc), error_ratio=0.0005, remaining=0.5, since=OLD)
    measured = refresh(kube, client, forecaster, NOW + 3 * MINUTE)
    assert measured.writes == 1 and api.status("prod", "new")["state"] == "Meeting"


def test_the_operator_refresh_leaves_slos_not_yet_reconciled_alone(api: ApiServer, kube: KubeClient) -> None:
    """A cycle between a burst of creates and their reconciles: the SLOs with no condition yet wait for
    their reconcile's single status write (``reconciled_only``), the others are refreshed as usual."""
    prometheus = StaticPrometheus()
    cluster(api, prometheus, 1)
    client = prometheus.client()
    forecaster = Forecaster()
    api.add(document("pending"))
    report = refresh_all(kube, client, now=NOW, forecaster=forecaster, reconciled_only=True)
    assert (report.slos, report.writes) == (2, 0)  # api-0 has no condition either: nothing reconciled it
    api.slos[("prod", "api-0")]["status"] = {"conditions": [{"type": "Valid", "status": "True"}]}
    report = refresh_all(kube, client, now=NOW, forecaster=forecaster, reconciled_only=True)
    assert report.writes == 1 and api.status_writes == [("prod", "api-0")]
    assert api.status("prod", "pending") == {}
    assert refresh_all(kube, client, now=NOW, forecaster=forecaster).writes == 1  # tools refresh all
    assert api.status_writes[-1] == ("prod", "pending")


# ---- a cycle over several LIST pages --------------------------------------------------------------------

PAGE = 2  # SLOs per LIST page in these tests: five SLOs are three pages


def paged(kube: KubeClient, client: PrometheusClient, forecaster: Forecaster, now: datetime) -> RefreshReport:
    return refresh_all(kube, client, now=now, heartbeat_seconds=HEARTBEAT, forecaster=forecaster, page=PAGE)


def slo_lists(api: ApiServer) -> int:
    return sum(1 for r in api.requests if r == ("GET", f"{SLO_PATH}/servicelevelobjectives"))


def test_a_cycle_over_pages_writes_each_changed_slo_once_and_only_those(
    api: ApiServer, kube: KubeClient
) -> None:
    prometheus = StaticPrometheus()
    slos = cluster(api, prometheus, 5)
    client = prometheus.client()
    forecaster = Forecaster()
    first = paged(kube, client, forecaster, NOW)
    assert (first.slos, first.writes, first.errors, slo_lists(api)) == (5, 5, [], 3)
    assert sorted(api.status_writes) == [("prod", f"api-{i}") for i in range(5)]
    assert first.queries == len(QUERIES)  # the same queries whatever the pages
    # Nothing visible changed: no page writes anything.
    again = paged(kube, client, forecaster, NOW + MINUTE)
    assert (again.slos, again.writes, slo_lists(api)) == (5, 0, 6)
    # One SLO of the last page changes: that one alone is written.
    prometheus.set(slos[4], error_ratio=0.0005, remaining=0.3, since=OLD)
    changed = paged(kube, client, forecaster, NOW + 2 * MINUTE)
    assert changed.writes == 1 and api.status_writes[-1] == ("prod", "api-4")
    assert api.status("prod", "api-4")["errorBudget"]["remaining"] == 30.0
    assert api.status("prod", "api-3")["errorBudget"]["remaining"] == 50.0


def test_young_slos_of_every_page_share_one_raw_query_and_get_their_own_figures(
    api: ApiServer, kube: KubeClient
) -> None:
    """Which SLOs are young is known page by page; their raw history is still one query, asked once the
    last page is read, and each SLO gets the figures of its own indicator (a distinct one each here)."""
    young_since = (NOW - timedelta(days=2)).timestamp()
    prometheus = StaticPrometheus()
    for i in range(5):
        doc = document(f"api-{i}")
        doc["spec"]["indicator"]["availability"]["errors"] = f'x{{code="5xx",shard="{i}"}}'
        api.add(doc)
        prometheus.set(slo_of(doc), error_ratio=0.0005, remaining=0.5, since=young_since)
    raw_queries: list[str] = []
    static = prometheus.client()

    def handle(request: httpx.Request) -> httpx.Response:
        query = request_params(request)["query"]
        if "slo_figure" not in query:
            return static._http._transport.handle_request(request)  # type: ignore[union-attr]
        raw_queries.append(query)
        # The raw error ratio of each SLO's own indicator: 1% for shard 0, 2% for shard 1, ...
        samples = []
        for part in query.split("\nor\n"):
            tag = part.rsplit('"slo_key", "', 1)[1].split('"')[0]
            figure = part.rsplit('"slo_figure", "', 1)[1].split('"')[0]
            if figure == "ratio":  # the start part reads the total series only: no shard in it
                value = (int(part.split('shard="')[1].split('"')[0]) + 1) / 100
            else:
                value = young_since
            samples.append({"metric": {"slo_key": tag, "slo_figure": figure}, "value": [0, repr(value)]})
        body = {"status": "success", "data": {"resultType": "vector", "result": samples}}
        return httpx.Response(200, content=json.dumps(body))

    client = PrometheusClient("http://prometheus.invalid", transport=httpx.MockTransport(handle))
    report = paged(kube, client, Forecaster(), NOW)
    assert (report.slos, report.writes, report.errors, slo_lists(api)) == (5, 5, [], 3)
    assert len(raw_queries) == 1 and report.queries == len(QUERIES) + 1
    for i in range(5):
        status = api.status("prod", f"api-{i}")
        assert status["window"]["source"] == "raw", (i, status["window"])
        assert status["sli"] == pytest.approx(100 - (i + 1)), (i, status["sli"])


def test_an_slo_deleted_between_pages_is_neither_written_nor_an_error(
    api: ApiServer, kube: KubeClient
) -> None:
    """api-0 (page one) and api-3 (page two) are deleted once page one was read: the others, api-4 after
    the gap included, are written; api-0's write finds it gone (not an error, no back-off)."""
    prometheus = StaticPrometheus()
    cluster(api, prometheus, 5)
    lists = {"n": 0}

    def delete_after_first_page(method: str, path: str) -> None:
        if (method, path) == ("GET", f"{SLO_PATH}/servicelevelobjectives"):
            lists["n"] += 1
            if lists["n"] == 2:
                del api.slos[("prod", "api-0")], api.slos[("prod", "api-3")]

    api.fault = lambda method, path: delete_after_first_page(method, path)
    report = paged(kube, prometheus.client(), Forecaster(), NOW)
    assert (report.slos, report.writes, report.gone, report.errors) == (4, 3, 1, [])
    assert sorted(api.status_writes) == [("prod", "api-1"), ("prod", "api-2"), ("prod", "api-4")]
    assert set(api.slos) == {("prod", "api-1"), ("prod", "api-2"), ("prod", "api-4")}


def test_an_slo_refused_at_its_write_turn_is_skipped_not_asserted(
    api: ApiServer, kube: KubeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write pass validates each packed SLO again; should that ever refuse one that passed on its page
    it is skipped explicitly (an ``assert`` would vanish under ``python -O``), and the others are written."""
    from slo_operator import reconcile

    prometheus = StaticPrometheus()
    cluster(api, prometheus, 3)
    seen: dict[str, int] = {}
    shaped = reconcile.refreshable

    def refused_the_second_time(item: dict[str, Any], *args: Any) -> SLO | None:
        name = item["metadata"]["name"]
        seen[name] = seen.get(name, 0) + 1
        return None if (name, seen[name]) == ("api-1", 2) else shaped(item, *args)

    monkeypatch.setattr(reconcile, "refreshable", refused_the_second_time)
    report = refresh(kube, prometheus.client(), Forecaster(), NOW)
    assert (report.slos, report.writes, report.errors) == (3, 2, [])
    assert sorted(api.status_writes) == [("prod", "api-0"), ("prod", "api-2")]
    assert seen == {"api-0": 2, "api-1": 2, "api-2": 2}
