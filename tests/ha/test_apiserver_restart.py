"""The operator rides out a restart of the real kube-apiserver under load: no restart of its own, no
duplicated child, no reconcile storm.

``slo-operator run`` handles ``N`` SLOs; then kube-apiserver is stopped (SIGTERM, SIGKILL after a few
seconds of draining) and started again with the same flags (hack/cluster/restart-apiserver.sh). Its watch
streams break; resuming from a resourceVersion older than the new API server's watch cache gets 410 Gone,
on which kopf lists the kind again. What is asserted is what was recorded: the operator's PID, the SLOs'
status (observedGeneration, RulesApplied), every child's uid and resourceVersion (an untouched SLO's
children are not rewritten), and the operator's own counters on /metrics (reconciles, requests by method).

A second restart happens while the operator is paused (SIGSTOP): a child deleted meanwhile reaches it
only through the re-listing, which must restore it.

It runs on a control plane of its own (``own_cluster``), so the restarts disturb no other suite; `make
test` runs it in the lane beside tests/rules (hack/test_lanes.py), `make faults-test` alone. About 2-3
minutes on the loaded 2-core machine, most of it the API server's start-ups.
The 1,000-SLO version is ``bench/scale_bench.py --restart-apiserver``.
"""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.cluster import kubectl, wait_for
from support.processes import OperatorProcess, free_port
from support.slo_objects import apply, listed
from support.slo_objects import availability_slo as slo

from devstack.cluster import restart_apiserver

N = 30
UNREACHABLE_PROMETHEUS = "http://127.0.0.1:9"
CONVERGE = 180.0  # 30 SLOs on a loaded machine, kopf's reconnect backoff (up to 30 s) included
REFRESH_SECONDS = 2  # OperatorProcess' --refresh-seconds

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def children(namespace: str, names: list[str], kubeconfig: Path) -> dict[str, tuple[str, str]] | None:
    """Every SLO reconciled at its generation, with exactly one PrometheusRule and one dashboard
    ConfigMap, each owned by it alone: "kind/owner/name" -> (uid, resourceVersion); None until then."""
    slos = {s["metadata"]["name"]: s for s in listed("slo", namespace, kubeconfig)}
    for name in names:
        if name not in slos:
            return None
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
    boards = [
        b
        for b in listed("configmap", namespace, kubeconfig)
        if "slo.mlops.dev/name" in (b["metadata"].get("labels") or {})
    ]
    if len(rules) < len(names) or len(boards) < len(names):
        return None  # a child deleted on purpose and not restored yet
    for kind, items in (("PrometheusRule", rules), ("ConfigMap", boards)):
        owners = sorted(i["metadata"]["labels"]["slo.mlops.dev/name"] for i in items)
        assert owners == sorted(names), f"{kind}: not exactly one per SLO: {owners}"
    for child in rules + boards:
        refs = child["metadata"]["ownerReferences"]
        owner = slos[child["metadata"]["labels"]["slo.mlops.dev/name"]]
        assert len(refs) == 1 and refs[0]["uid"] == owner["metadata"]["uid"], child["metadata"]
    return {
        "/".join((c["kind"], c["metadata"]["labels"]["slo.mlops.dev/name"], c["metadata"]["name"])): (
            c["metadata"]["uid"],
            c["metadata"]["resourceVersion"],
        )
        for c in rules + boards
    }


def counters(port: int) -> dict[str, float]:
    """The operator's reconciles and its API client's requests (writes: every method but GET)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    out = {"reconciles": 0.0, "writes": 0.0, "reads": 0.0, "failed": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "slo_operator_reconciles_total":
                out["reconciles"] += sample.value
            elif sample.name == "slo_operator_api_requests_total":
                out["reads" if sample.labels["method"] == "GET" else "writes"] += sample.value
                if not sample.labels["code"].startswith("2"):
                    out["failed"] += sample.value
    return out


def refreshes(process: OperatorProcess) -> int:
    return process.log().count("status refresh: slos=")


def test_the_operator_rides_out_an_apiserver_restart(
    own_cluster: Path, own_identity: Path, tmp_path: Path
) -> None:
    kubeconfig, namespace = own_cluster, "faults"
    kubectl("create", "namespace", namespace, kubeconfig=kubeconfig)
    metrics_port = free_port()
    (tmp_path / "operator").mkdir()
    operator = OperatorProcess(
        tmp_path / "operator",
        own_identity,
        UNREACHABLE_PROMETHEUS,
        extra=["--namespace", namespace, "--verbose"],  # kopf's debug log says when a watch restarts
        env={"SLO_OPERATOR_METRICS": f"127.0.0.1:{metrics_port}"},
    )
    names = [f"svc-{i:02d}" for i in range(N)]
    try:
        operator.start()
        assert operator.process is not None
        pid = operator.process.pid
        apply(kubeconfig, *(slo(namespace, n) for n in names))
        wait_for(lambda: children(namespace, names, kubeconfig), CONVERGE, message=f"{N} SLOs converge")
        # Quiet: two refresh cycles after convergence, so the first status writes are behind us.
        seen = refreshes(operator)
        wait_for(lambda: refreshes(operator) >= seen + 2, CONVERGE, message="two refreshes")
        settled = children(namespace, names, kubeconfig)
        assert settled is not None
        before = counters(metrics_port)
        restarts_before = operator.log().count("Restarting the watch-stream")

        away = restart_apiserver(kubeconfig)

        # After the restart: one SLO created, one changed, one child deleted by hand. All converge.
        changed, robbed = names[0], names[1]
        apply(kubeconfig, slo(namespace, "after-restart"), slo(namespace, changed, 99.5))
        kubectl("delete", "prometheusrule", f"{robbed}-slo", "-n", namespace, kubeconfig=kubeconfig)
        everyone = [*names, "after-restart"]
        final = wait_for(
            lambda: children(namespace, everyone, kubeconfig), CONVERGE, message="recovery after the restart"
        )
        seen = refreshes(operator)
        wait_for(lambda: refreshes(operator) >= seen + 3, CONVERGE, message="three refreshes after recovery")
        final = children(namespace, everyone, kubeconfig)
        assert final is not None
        after = counters(metrics_port)

        assert operator.process is not None and operator.process.poll() is None, operator.tail()
        assert operator.process.pid == pid
        untouched = {k: v for k, v in settled.items() if k.split("/")[1] not in (changed, robbed)}
        assert len(untouched) == 2 * (N - 2)
        assert {k: final[k] for k in untouched} == untouched, "a child of an untouched SLO was rewritten"
        restored = f"PrometheusRule/{robbed}/{robbed}-slo"
        assert final[restored][0] != settled[restored][0], "the deleted rule was not recreated"
        delta = {k: after[k] - before[k] for k in after}
        watch_restarts = operator.log().count("Restarting the watch-stream") - restarts_before
        print(
            f"apiserver away {away:.1f}s; after it: reconciles={delta['reconciles']:.0f} "
            f"writes={delta['writes']:.0f} reads={delta['reads']:.0f} failed={delta['failed']:.0f} "
            f"watch restarts on 410={watch_restarts}"
        )
        # Three SLOs needed work (created, changed, robbed); an echo of our own apply that overtakes its
        # answer costs one more (no-op) reconcile. A storm would reconcile and re-apply all N.
        assert delta["reconciles"] <= N // 3, delta
        # Two applies and an Event each, no-op applies of the echoes, the new SLO's first status.
        assert delta["writes"] < N, delta
        assert watch_restarts >= 1, "no watch resumed with 410 Gone: the restart did not test that path"

        # Again, with the operator paused (SIGSTOP) from before the restart until after a child was deleted:
        # no DELETED event can reach it; its watch resumes with 410 Gone and only the re-listing, with
        # the LIST it takes then, shows the rule missing. It must be restored.
        victim = names[2]
        resyncs = operator.log().count("watch of prometheusrules resumed by a re-listing: 1 SLOs to restore")
        operator.process.send_signal(signal.SIGSTOP)
        try:
            restart_apiserver(kubeconfig)
            kubectl("delete", "prometheusrule", f"{victim}-slo", "-n", namespace, kubeconfig=kubeconfig)
        finally:
            operator.process.send_signal(signal.SIGCONT)
        again = wait_for(
            lambda: children(namespace, everyone, kubeconfig), CONVERGE, message="the rule deleted meanwhile"
        )
        victim_rule = f"PrometheusRule/{victim}/{victim}-slo"
        assert again[victim_rule][0] != final[victim_rule][0], "the deleted rule was not recreated"
        assert (
            operator.log().count("watch of prometheusrules resumed by a re-listing: 1 SLOs to restore")
            == resyncs + 1
        )
        assert operator.process.poll() is None and operator.process.pid == pid
    finally:
        if operator.process is not None:
            operator.stop()
        print("---- operator log (tail) ----\n" + operator.tail(30))
