"""Two operator replicas on the real API server: one leads, the other stands by and takes over.

Each replica is ``slo-operator run --leader-election`` with the identity of manifests/rbac.yaml; the
Lease lasts ``LEASE_SECONDS``. What is asserted is what the API server recorded: the Lease's holder and
transitions, the children (one PrometheusRule per SLO, one owner each) and their resourceVersions, the
SLOs' observedGeneration. Deadlines are the lease bounds times a generous factor plus a minute (a loaded
2-core machine); passing runs return as soon as the condition holds.
"""

from __future__ import annotations

import json
import signal
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.cluster import kubectl, wait_for
from support.processes import OperatorProcess
from support.slo_objects import apply, listed
from support.slo_objects import availability_slo as slo

LEASE_SECONDS = 6.0
LEASE_NAMESPACE = "slo-system"  # manifests/rbac.yaml's Role grants Leases there only
TAKEOVER = 5 * LEASE_SECONDS + 60  # a lease, a retry, start-up of kopf on a loaded machine
CONVERGE = 90.0
UNREACHABLE_PROMETHEUS = "http://127.0.0.1:9"

pytestmark = [pytest.mark.cluster, pytest.mark.slow]



def lease(name: str, kubeconfig: Path) -> dict[str, Any]:
    out = kubectl("get", "lease", name, "-n", LEASE_NAMESPACE, "-o", "json", kubeconfig=kubeconfig).stdout
    return dict(json.loads(out)["spec"])


def holder(name: str, kubeconfig: Path) -> str:
    return str(lease(name, kubeconfig).get("holderIdentity") or "")


def converged(namespace: str, names: list[str], kubeconfig: Path) -> dict[str, str] | None:
    """Every SLO reconciled at its current generation (observedGeneration, RulesApplied) with exactly its
    own children: their resourceVersions; None while not there yet."""
    slos = {s["metadata"]["name"]: s for s in listed("slo", namespace, kubeconfig)}
    for name in names:
        status = slos[name].get("status") or {}
        applied = next((c for c in status.get("conditions") or [] if c["type"] == "RulesApplied"), {})
        if status.get("observedGeneration") != slos[name]["metadata"]["generation"]:
            return None
        if applied.get("status") != "True":
            return None
    everything = listed("prometheusrule", namespace, kubeconfig)
    # The namespace's shared rules: one object, no SLO's child (shared_rules.py).
    rules = [r for r in everything if "slo.mlops.dev/shared" not in (r["metadata"].get("labels") or {})]
    if len(everything) - len(rules) > 1:
        raise AssertionError("duplicated shared rules")
    boards = listed("configmap", namespace, kubeconfig)
    boards = [b for b in boards if "slo.mlops.dev/name" in (b["metadata"].get("labels") or {})]
    assert sorted(r["metadata"]["name"] for r in rules) == sorted(f"{n}-slo" for n in names), (
        "duplicated rule"
    )
    for child in rules + boards:
        refs = child["metadata"]["ownerReferences"]
        assert (
            len(refs) == 1
            and refs[0]["uid"] == slos[child["metadata"]["labels"]["slo.mlops.dev/name"]]["metadata"]["uid"]
        )
    return {f"{c['kind']}/{c['metadata']['name']}": c["metadata"]["resourceVersion"] for c in rules + boards}


def replica(
    tmp_path: Path, identity: str, kubeconfig: Path, namespace: str, lease_name: str
) -> OperatorProcess:
    workdir = tmp_path / identity
    workdir.mkdir()
    return OperatorProcess(
        workdir,
        kubeconfig,
        UNREACHABLE_PROMETHEUS,
        extra=["--leader-election", "--lease-seconds", str(LEASE_SECONDS), "--namespace", namespace],
        env={
            "POD_ID": identity,
            "SLO_OPERATOR_LEASE_NAME": lease_name,
            "SLO_OPERATOR_LEASE_NAMESPACE": LEASE_NAMESPACE,
        },
    )


def ready(process: OperatorProcess) -> bool:
    return httpx.get(f"{process.url}/readyz", timeout=2).status_code == 200


def test_standby_takes_over_from_a_killed_leader_and_a_paused_leader_stops_writing(
    kubeconfig: Path, ha_kubeconfig: Path, namespace: str, tmp_path: Path
) -> None:
    lease_name = f"ha-{uuid.uuid4().hex[:8]}"
    a = replica(tmp_path, "replica-a", ha_kubeconfig, namespace, lease_name)
    b = replica(tmp_path, "replica-b", ha_kubeconfig, namespace, lease_name)
    c = replica(tmp_path, "replica-c", ha_kubeconfig, namespace, lease_name)
    try:
        a.start()
        wait_for(lambda: holder(lease_name, kubeconfig) == "replica-a", TAKEOVER, message="replica-a leads")
        b.start()
        wait_for(lambda: ready(a) and ready(b), CONVERGE, message="leader and warm standby both ready")
        names = ["checkout", "search", "payments"]
        apply(kubeconfig, *(slo(namespace, n) for n in names))
        wait_for(lambda: converged(namespace, names, kubeconfig), CONVERGE, message="children of 3 SLOs")
        assert "holds Lease" not in b.log(), "the standby must not lead while the leader renews"

        # SIGKILL the leader; SLOs created and changed meanwhile are handled by the standby.
        a.stop(kill=True)
        names += ["cart", "login"]
        apply(kubeconfig, *(slo(namespace, n) for n in names[3:]), slo(namespace, "checkout", 99.5))
        wait_for(
            lambda: holder(lease_name, kubeconfig) == "replica-b", TAKEOVER, message="replica-b takes over"
        )
        settled = wait_for(
            lambda: converged(namespace, names, kubeconfig), CONVERGE, message="5 SLOs converge"
        )
        assert lease(lease_name, kubeconfig)["leaseTransitions"] == 1

        # SIGSTOP the new leader past its lease: the standby takes over; the paused one, resumed, exits
        # before writing anything (its lease is past its renew deadline).
        c.start()
        assert b.process is not None
        b.process.send_signal(signal.SIGSTOP)
        try:
            wait_for(lambda: holder(lease_name, kubeconfig) == "replica-c", TAKEOVER, message="replica-c")
            apply(kubeconfig, slo(namespace, "search", 99.0))
            settled = wait_for(
                lambda: converged(namespace, names, kubeconfig), CONVERGE, message="c reconciles"
            )
        finally:
            b.process.send_signal(signal.SIGCONT)
        resumed = b.process
        code = wait_for(
            lambda: resumed.poll() is not None and resumed.returncode, TAKEOVER, message="b exits"
        )
        assert code == 70, b.tail()
        b.process = None
        assert "exiting" in b.log()
        spec = lease(lease_name, kubeconfig)
        assert (spec["holderIdentity"], spec["leaseTransitions"]) == ("replica-c", 2)
        refreshes = c.log().count("status refresh: slos=")
        wait_for(
            lambda: c.log().count("status refresh: slos=") >= refreshes + 2, CONVERGE, message="refreshes"
        )
        assert converged(namespace, names, kubeconfig) == settled, (
            "a child changed after the paused leader resumed"
        )
    finally:
        for process in (a, b, c):
            if process.process is not None:
                process.stop()
        print("---- replica-c log (tail) ----\n" + c.tail(40))
