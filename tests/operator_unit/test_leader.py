"""Leader election decisions on a Lease, without a server: who creates, renews, takes over or waits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from slo_operator.leader import Leadership, Observation, Record, Timing, decide, lease_body, timing_for

ME, OTHER = "operator-a", "operator-b"


def record(holder: str, version: str = "7", lease: float = 15, transitions: int = 0) -> Record:
    return Record(holder=holder, lease_seconds=lease, transitions=transitions, resource_version=version)


def test_no_lease_is_created_and_our_own_is_renewed() -> None:
    assert decide(None, ME, None, 0.0) == ("create", None)
    assert decide(record(ME), ME, None, 0.0) == ("renew", None)


def test_a_released_lease_is_taken_at_once() -> None:
    assert decide(record(""), ME, None, 0.0)[0] == "acquire"


def test_a_standby_takes_over_only_after_the_lease_stood_still_for_its_duration() -> None:
    action, seen = decide(record(OTHER, "7"), ME, None, 100.0)
    assert action == "wait" and seen == Observation("7", 100.0)
    assert decide(record(OTHER, "7"), ME, seen, 114.9) == ("wait", seen)
    assert decide(record(OTHER, "7"), ME, seen, 115.0)[0] == "acquire"


def test_a_renewal_by_the_leader_restarts_the_standbys_count() -> None:
    _, seen = decide(record(OTHER, "7"), ME, None, 100.0)
    action, seen = decide(record(OTHER, "8"), ME, seen, 114.0)  # renewed: a new resourceVersion
    assert action == "wait" and seen == Observation("8", 114.0)
    assert decide(record(OTHER, "8"), ME, seen, 120.0)[0] == "wait"


def test_the_write_guard_closes_at_the_renew_deadline_even_across_a_pause() -> None:
    timing = Timing(lease_seconds=15, renew_deadline_seconds=10, retry_seconds=2)
    leadership = Leadership(timing)
    assert not leadership.may_write(0.0)  # never renewed
    leadership = leadership.renewed_at(50.0)
    assert leadership.may_write(59.9)
    assert not leadership.may_write(60.0)  # e.g. woken from SIGSTOP: a standby may hold the lease soon


def test_lease_bodies_carry_the_version_read_and_count_transitions() -> None:
    now = datetime(2026, 12, 1, 12, 0, 0, 123456, tzinfo=UTC)
    timing = timing_for(15)
    created = lease_body("slo-system", "slo-operator", ME, timing, None, now, "create")
    assert created["spec"] == {
        "holderIdentity": ME, "leaseDurationSeconds": 15, "renewTime": "2026-12-01T12:00:00.123456Z",
        "leaseTransitions": 0, "acquireTime": "2026-12-01T12:00:00.123456Z",
    }
    assert "resourceVersion" not in created["metadata"]
    taken = lease_body("ns", "lease", ME, timing, record(OTHER, "9", transitions=2), now, "acquire")
    assert taken["metadata"]["resourceVersion"] == "9" and taken["spec"]["leaseTransitions"] == 3
    renewed = lease_body("ns", "lease", ME, timing, record(ME, "10", transitions=3), now, "renew")
    assert renewed["spec"]["leaseTransitions"] == 3 and "acquireTime" not in renewed["spec"]


def test_timings_keep_client_gos_proportions_and_refuse_nonsense() -> None:
    assert timing_for(15) == Timing(15, 10, 2)
    with pytest.raises(ValueError):
        Timing(lease_seconds=5, renew_deadline_seconds=6, retry_seconds=1)
