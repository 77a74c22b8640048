"""The operator's own API client paths under API server faults: throttling (429 with Retry-After),
server errors, dropped and stalled connections, on the client, the status refresher and the leader
election loop.

What is asserted is what the fake servers recorded: how many requests arrived and when (their arrival
times, on the server's side), never how long the client took. A throttled client must wait at least the
Retry-After it was given, retry a bounded number of times, and never loop hot; a refresher facing an
overloaded API server sends one failed write per cycle, not one per SLO.

kopf's own watches are not played here: on a watch that cannot resume (410 Gone, the usual answer after
an API server restart) kopf 1.45 ends the stream and lists the kind again (kopf/_cogs/clients/
watching.py ``continuous_watch``), delivering every object as an event of type None; what the operator
does with that re-listing is tested in test_watch_cache.py, and the restart itself on the real control
plane in tests/ha/test_apiserver_restart.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes import ApiServer, ScriptedAPI, StaticPrometheus, serving
from slo_operator.api import ServiceLevelObjective
from slo_operator.children import PROMETHEUS_RULE
from slo_operator.kube import MAX_RETRY_AFTER, KubeError
from slo_operator.leader import Elector, LostLeadership, Timing
from slo_operator.model import resolve
from slo_operator.reconcile import refresh_all

RULE = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "PrometheusRule",
    "metadata": {"name": "r", "namespace": "ns"},
    "spec": {"groups": []},
}
THROTTLED = {"kind": "Status", "code": 429, "reason": "TooManyRequests", "message": "too many requests"}
# Clocks: the server stamps arrivals with time.monotonic(); a few ms of slack for timer granularity.
SLACK = 0.02


@pytest.fixture()
def api() -> Iterator[ScriptedAPI]:
    server = ScriptedAPI()
    yield server
    server.close()


# ---- the client --------------------------------------------------------------------------------------------


def test_a_429_is_retried_no_sooner_than_its_retry_after(api: ScriptedAPI) -> None:
    api.script = [(429, THROTTLED, {"Retry-After": "1"}), (200, {"metadata": {"resourceVersion": "7"}})]
    assert api.client().apply(PROMETHEUS_RULE, RULE)["metadata"]["resourceVersion"] == "7"
    assert len(api.requests) == 2
    assert api.gaps()[0] >= 1 - SLACK


def test_retry_after_in_the_status_details_is_honoured_too(api: ScriptedAPI) -> None:
    """Older API servers put it in ``details.retryAfterSeconds`` of the Status body only."""
    body = {**THROTTLED, "details": {"retryAfterSeconds": 1}}
    api.script = [(429, body), (200, {"items": []})]
    assert api.client().list_objects(PROMETHEUS_RULE, "ns") == []
    assert len(api.requests) == 2 and api.gaps()[0] >= 1 - SLACK


def test_throttling_that_does_not_end_is_retried_a_bounded_number_of_times(api: ScriptedAPI) -> None:
    api.default = (429, THROTTLED)
    api.script = [(429, THROTTLED, {"Retry-After": "0.3"})] * 10
    with pytest.raises(KubeError) as info:
        api.client().apply(PROMETHEUS_RULE, RULE)
    assert info.value.status == 429
    assert len(api.requests) == 4  # the default attempts, then the caller decides
    assert all(gap >= 0.3 - SLACK for gap in api.gaps())


def test_a_429_holds_back_the_next_requests_of_the_whole_client(api: ScriptedAPI) -> None:
    """A status write is tried once (it carries a resourceVersion); its 429 still delays every later
    request of the client, whichever thread sends it, until the Retry-After has passed."""
    api.script = [(429, THROTTLED, {"Retry-After": "1"})]
    kube = api.client()
    with pytest.raises(KubeError):
        kube.patch_slo_status("ns", "x", {"state": "Meeting"}, "41")
    asyncio.run(asyncio.to_thread(kube.get_slo, "ns", "x"))  # another thread, another call
    assert len(api.requests) == 2 and api.gaps()[0] >= 1 - SLACK


def test_a_huge_retry_after_is_capped(api: ScriptedAPI) -> None:
    api.script = [(429, THROTTLED, {"Retry-After": "86400"})]
    kube = api.client()
    with pytest.raises(KubeError):
        kube.patch_slo_status("ns", "x", {"state": "Meeting"}, "41")
    assert kube.not_before - time.monotonic() <= MAX_RETRY_AFTER


def test_server_errors_and_dropped_connections_back_off_and_stop(api: ScriptedAPI) -> None:
    api.script = [(0, {}), (503, {"message": "unavailable"}), (500, {"message": "etcd"}), (0, {})]
    with pytest.raises(KubeError) as info:
        api.client().apply(PROMETHEUS_RULE, RULE)
    assert info.value.status == 0 and "cannot reach the API server" in str(info.value)
    assert len(api.requests) == 4
    gaps = api.gaps()
    assert [gap >= floor - SLACK for gap, floor in zip(gaps, (0.2, 0.4, 0.8), strict=True)] == [True] * 3


def test_a_stalled_request_times_out_and_is_retried(api: ScriptedAPI) -> None:
    api.stall = 2.0
    api.script = [(-1, {}), (200, {"metadata": {"resourceVersion": "8"}})]
    applied = api.client(timeout=0.5).apply(PROMETHEUS_RULE, RULE)
    assert applied["metadata"]["resourceVersion"] == "8" and len(api.requests) == 2


# ---- the status refresher ----------------------------------------------------------------------

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def slos(server: ApiServer, prometheus: StaticPrometheus, count: int) -> None:
    for i in range(count):
        document = {
            "apiVersion": "slo.mlops.dev/v1alpha1",
            "kind": "ServiceLevelObjective",
            "metadata": {"name": f"api-{i}", "namespace": "prod"},
            "spec": {
                "service": "api",
                "objective": 99.9,
                "window": "30d",
                "indicator": {"availability": {"errors": 'x{code="5xx"}', "total": "x"}},
            },
        }
        server.add(document)
        since = (NOW - timedelta(days=40)).timestamp()
        prometheus.set(resolve(ServiceLevelObjective.model_validate(document)), 0.0005, 0.5, since)


@pytest.mark.parametrize(
    "fault",
    [
        (429, THROTTLED, {"Retry-After": "1"}),
        (503, {"kind": "Status", "code": 503, "message": "restarting"}, {}),
    ],
    ids=["throttled", "unavailable"],
)
def test_an_overloaded_api_server_gets_one_failed_write_per_cycle_not_one_per_slo(
    fault: tuple[int, dict[str, Any], dict[str, str]],
) -> None:
    server, prometheus = ApiServer(), StaticPrometheus()
    slos(server, prometheus, 30)
    server.fault = lambda method, path: fault if method == "PATCH" and path.endswith("/status") else None
    with serving(server) as kube:
        first = refresh_all(kube, prometheus.client(), now=NOW)
        patches = [i for i, (method, _) in enumerate(server.requests) if method == "PATCH"]
        assert (first.writes, first.deferred, len(first.errors)) == (0, 29, 1)
        assert len(patches) == 1, "a write per SLO against a server that is refusing them"
        failed_at = server.times[patches[0]]
        # The API server recovers: the next cycle writes every deferred status.
        server.fault = None
        second = refresh_all(kube, prometheus.client(), now=NOW + timedelta(minutes=1))
        assert (second.writes, second.deferred, second.errors) == (30, 0, [])
        assert len(server.status_writes) == 30
        if fault[0] == 429:  # the next cycle's first request waited for the Retry-After
            assert server.times[patches[0] + 1] - failed_at >= 1 - SLACK


# ---- leader election ----------------------------------------------------------------------------

TIMING = Timing(lease_seconds=1.5, renew_deadline_seconds=1.0, retry_seconds=0.2)
LEASE = {
    "apiVersion": "coordination.k8s.io/v1",
    "kind": "Lease",
    "metadata": {"name": "l", "namespace": "ns", "resourceVersion": "1"},
    "spec": {"holderIdentity": "me", "leaseDurationSeconds": 3, "leaseTransitions": 0},
}


def elector(api: ScriptedAPI) -> Elector:
    return Elector(api.client(timeout=1), "ns", "l", "me", TIMING)


def test_a_standby_keeps_trying_through_faults_at_its_own_pace(api: ScriptedAPI) -> None:
    api.script = [
        (503, {"message": "restarting"}),
        (429, THROTTLED, {"Retry-After": "1"}),
        (0, {}),
        (404, {"message": "not found"}),
        (201, LEASE),  # the create
    ]
    candidate = elector(api)
    asyncio.run(asyncio.wait_for(candidate.acquire(time.monotonic), 30))
    assert candidate.leader
    assert [(m, p.split("/")[-1]) for m, p, _, _ in api.requests] == [
        ("GET", "l"), ("GET", "l"), ("GET", "l"), ("GET", "l"), ("POST", "leases")
    ]
    gaps = api.gaps()
    assert all(gap >= TIMING.retry_seconds - SLACK for gap in gaps[:3])  # no hot loop
    assert gaps[1] >= 1 - SLACK  # the Retry-After of the 429


def test_a_leader_that_cannot_renew_gives_up_within_its_deadline_without_a_hot_loop(api: ScriptedAPI) -> None:
    api.script = [(200, LEASE), (200, LEASE)]  # read, renew: leader
    api.default = (503, {"message": "unavailable"})
    leader = elector(api)
    assert leader.attempt(time.monotonic())

    async def keep() -> None:
        await leader.keep(time.monotonic)

    with pytest.raises(LostLeadership):
        asyncio.run(asyncio.wait_for(keep(), 30))
    failed = api.requests[2:]
    # One GET per retry period until the renew deadline passed (1.0 / 0.2 = 5), never a burst.
    assert 1 <= len(failed) <= TIMING.renew_deadline_seconds / TIMING.retry_seconds + 1
    assert all(gap >= TIMING.retry_seconds - SLACK for gap in api.gaps()[2:])
