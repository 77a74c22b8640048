"""`helm install` on the local cluster with a node: the operator runs as a pod from the image built by
hack/images, and everything it does is done by that pod (no operator process runs in these tests).

One release for the module (installing is the slow part); the tests run in file order: install, SLO
reconciled, upgrade, pod deletion, uninstall.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from helm_support import CHART, Helm
from node_support import POD_READY_SECONDS, Node, ready_pod, restarts
from support.cluster import kubectl, wait_for
from support.processes import REPO, OperatorProcess, free_port
from support.slo_objects import get

from devstack.identity import service_account_kubeconfig

pytestmark = pytest.mark.cluster

UNREACHABLE_PROMETHEUS = "http://127.0.0.1:9"
REFRESH_SECONDS = 5
# A replacement pod proves itself within a few refresh periods plus start-up on a loaded machine.
CONVERGE_SECONDS = 5 * REFRESH_SECONDS + POD_READY_SECONDS
SELECTOR = "app.kubernetes.io/component=operator"


@pytest.fixture(scope="module")
def release(helm: Helm, node: Node, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    kubeconfig = node.kubeconfig
    namespace = f"node-{int(time.time()) % 100000}"
    kubectl("create", "namespace", namespace, kubeconfig=kubeconfig)
    values = {
        **node.values,  # hostNetwork + the API server on loopback, as `make cluster-up NODE=1` wrote them
        "replicaCount": 1,  # host ports: one pod per node
        "healthPort": free_port(),
        "watchNamespaces": [namespace],
        "prometheus": {"url": UNREACHABLE_PROMETHEUS},
        "refreshSeconds": REFRESH_SECONDS,
        "logFormat": "plain",
    }
    values_file = tmp_path_factory.mktemp("values") / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    started = time.monotonic()
    helm.run("install", namespace, str(CHART), "-n", namespace, "--values", str(values_file),
             "--kubeconfig", str(kubeconfig))
    pod = ready_pod(kubeconfig, namespace, SELECTOR)
    yield {"name": namespace, "namespace": namespace, "values": values, "values_file": values_file,
           "pod": pod, "ready_seconds": time.monotonic() - started}
    helm.run("uninstall", namespace, "-n", namespace, "--kubeconfig", str(kubeconfig), check=False)
    kubectl("delete", "namespace", namespace, "--wait=false", kubeconfig=kubeconfig, check=False)


def logs(kubeconfig: Path, namespace: str, pod: str) -> str:
    return str(kubectl("logs", "-n", namespace, pod, kubeconfig=kubeconfig, timeout=60).stdout)


def children(kubeconfig: Path, namespace: str, slo: str) -> dict[str, list[str]]:
    found = {}
    for kind in ("prometheusrules", "configmaps"):  # rules and the dashboard (no receivers: no routing)
        items = json.loads(kubectl("get", kind, "-n", namespace, "-l", f"slo.mlops.dev/name={slo}",
                                   "-o", "json", kubeconfig=kubeconfig).stdout)["items"]
        found[kind] = [i["metadata"]["uid"] for i in items]
    return found


def apply_example(kubeconfig: Path, namespace: str, name: str) -> None:
    slo = yaml.safe_load((REPO / "manifests" / "examples" / "availability.yaml").read_text())
    slo["metadata"].update(name=name, namespace=namespace)
    kubectl("apply", "-f", "-", input=yaml.safe_dump(slo), kubeconfig=kubeconfig)


def rules_applied(kubeconfig: Path, namespace: str, name: str) -> bool:
    slo = get("slo", name, namespace, kubeconfig) or {}
    conditions = {c["type"]: c["status"] for c in (slo.get("status") or {}).get("conditions", [])}
    return conditions.get("RulesApplied") == "True"


def test_helm_install_gives_a_running_operator_pod(release: dict[str, Any], node: Node) -> None:
    pod = release["pod"]
    assert release["ready_seconds"] < POD_READY_SECONDS  # the stated time (fixture deadline)
    assert restarts(pod) == 0, pod["status"]["containerStatuses"]
    assert pod["spec"]["hostNetwork"] is True
    assert pod["spec"]["containers"][0]["image"] == "slo-operator/operator:0.1.0"
    # `kubectl logs` goes through the API server to the kubelet on 127.0.0.1.
    text = logs(node.kubeconfig, release["namespace"], pod["metadata"]["name"])
    assert "slo-operator started" in text, text[-2000:]
    assert "getpwuid" not in text and "kubernetes.default.svc" not in text


def test_slo_gets_children_and_status_from_the_pod(release: dict[str, Any], node: Node) -> None:
    namespace, kubeconfig = release["namespace"], node.kubeconfig
    apply_example(kubeconfig, namespace, "pod-reconciled")
    wait_for(lambda: rules_applied(kubeconfig, namespace, "pod-reconciled"), 120, 1.0,
             "RulesApplied=True written by the operator pod")
    assert all(children(kubeconfig, namespace, "pod-reconciled").values())
    text = logs(kubeconfig, namespace, release["pod"]["metadata"]["name"])
    assert f"{namespace}/pod-reconciled: applied" in text, text[-2000:]
    for forbidden in ("403", "Forbidden"):
        assert forbidden not in text, text[-2000:]


def test_helm_upgrade_rolls_the_pod_and_nothing_is_lost(
    helm: Helm, release: dict[str, Any], node: Node
) -> None:
    namespace, kubeconfig = release["namespace"], node.kubeconfig
    before = children(kubeconfig, namespace, "pod-reconciled")
    old = release["pod"]["metadata"]["name"]
    helm.run("upgrade", release["name"], str(CHART), "-n", namespace, "--values", str(release["values_file"]),
             "--set", "rules.labels.team=sre", "--kubeconfig", str(kubeconfig))
    pod = ready_pod(kubeconfig, namespace, SELECTOR, exclude=frozenset({old}))
    assert restarts(pod) == 0
    release["pod"] = pod

    def relabelled() -> bool:
        rule = get("prometheusrule", "pod-reconciled-slo", namespace, kubeconfig) or {}
        return (rule.get("metadata", {}).get("labels") or {}).get("team") == "sre"

    wait_for(relabelled, CONVERGE_SECONDS, 1.0, "the new pod applying the upgraded rule labels")
    assert children(kubeconfig, namespace, "pod-reconciled") == before, "children were recreated or lost"
    assert rules_applied(kubeconfig, namespace, "pod-reconciled")


def test_deleted_pod_is_replaced_and_converges_without_duplicates(
    release: dict[str, Any], node: Node
) -> None:
    namespace, kubeconfig = release["namespace"], node.kubeconfig
    before = children(kubeconfig, namespace, "pod-reconciled")
    old = release["pod"]["metadata"]["name"]
    kubectl("delete", "pod", old, "-n", namespace, "--wait=false", kubeconfig=kubeconfig)
    pod = ready_pod(kubeconfig, namespace, SELECTOR, exclude=frozenset({old}))
    release["pod"] = pod
    name = pod["metadata"]["name"]
    # The replacement refreshes at start-up and reconciles what changes afterwards.
    wait_for(lambda: "status refresh:" in logs(kubeconfig, namespace, name), CONVERGE_SECONDS, 2.0,
             "a status refresh by the replacement pod")
    apply_example(kubeconfig, namespace, "after-replacement")
    wait_for(lambda: rules_applied(kubeconfig, namespace, "after-replacement"), CONVERGE_SECONDS, 1.0,
             "the replacement pod reconciling a new SLO")
    assert children(kubeconfig, namespace, "pod-reconciled") == before, "duplicates or recreated children"
    for kind, uids in children(kubeconfig, namespace, "after-replacement").items():
        assert len(uids) == 1, f"{kind}: {uids}"
    assert restarts(pod) == 0


def test_helm_uninstall_leaves_nothing(helm: Helm, release: dict[str, Any], node: Node) -> None:
    namespace, kubeconfig = release["namespace"], node.kubeconfig
    helm.run("uninstall", release["name"], "-n", namespace, "--wait", "--timeout", "120s",
             "--kubeconfig", str(kubeconfig))
    wait_for(lambda: not kubectl("get", "pods", "-n", namespace, "-o", "name", kubeconfig=kubeconfig).stdout,
             120, 1.0, "the operator pod gone")
    left = kubectl("get", "deployments,replicasets,serviceaccounts,roles,rolebindings", "-n", namespace,
                   "-l", f"app.kubernetes.io/instance={release['name']}", "-o", "name",
                   kubeconfig=kubeconfig).stdout
    assert not left.strip(), left
    role = f"{release['name']}-slo-operator"
    for kind in ("clusterrole", "clusterrolebinding"):
        assert kubectl("get", kind, role, kubeconfig=kubeconfig, check=False).returncode != 0


def test_sigterm_stops_the_operator_cleanly(kubeconfig: Path, helm: Helm, tmp_path: Path) -> None:
    """What the kubelet does on pod deletion: SIGTERM; the operator exits 0 after its cleanup."""
    namespace = f"sigterm-{int(time.time()) % 100000}"
    kubectl("create", "namespace", namespace, kubeconfig=kubeconfig)
    try:
        helm.run("install", namespace, str(CHART), "-n", namespace, "--set", "replicaCount=0",
                 "--kubeconfig", str(kubeconfig))
        identity = service_account_kubeconfig(kubeconfig, tmp_path / "operator.kubeconfig", namespace,
                                              f"{namespace}-slo-operator", duration="1h")
        operator = OperatorProcess(tmp_path, identity, UNREACHABLE_PROMETHEUS, ["--namespace", namespace])
        operator.start()
        assert operator.process is not None
        wait_for(lambda: "status refresh:" in operator.log(), 60, 0.5, "a first status refresh")
        operator.process.send_signal(signal.SIGTERM)
        code = operator.process.wait(timeout=30)
        assert code == 0, operator.tail(40)
        assert "slo-operator stopping" in operator.log(), operator.tail(40)
    finally:
        helm.run("uninstall", namespace, "-n", namespace, "--kubeconfig", str(kubeconfig), check=False)
        kubectl("delete", "namespace", namespace, "--wait=false", kubeconfig=kubeconfig, check=False)
