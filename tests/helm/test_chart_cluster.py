"""The chart on the real control plane: server-side dry-run of everything it renders, `helm install`,
then the operator running with the chart's ServiceAccount token and the chart's environment reconciles
an example SLO. A permission missing from the chart's ClusterRole fails these tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from helm_support import CHART, Helm, container_env, find
from support.cluster import kubectl, wait_for
from support.processes import REPO, OperatorProcess
from support.slo_objects import condition, get

from devstack.identity import service_account_kubeconfig

pytestmark = pytest.mark.cluster

UNREACHABLE_PROMETHEUS = "http://127.0.0.1:9"  # discard port: connection refused at once


def server_dry_run(manifest: str, kubeconfig: Path, *args: str) -> str:
    return kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--force-conflicts",
        "--field-manager=helm-tests",
        *args,
        kubeconfig=kubeconfig,
        input=manifest,
    ).stdout


def test_everything_the_chart_renders_passes_server_dry_run(
    helm: Helm, kubeconfig: Path, namespace: str
) -> None:
    values = {"modelService": {"enabled": True}, "watchNamespaces": [namespace]}
    objects = helm.template(values, "--include-crds", release=namespace, namespace=namespace)
    kinds = {o["kind"] for o in objects}
    assert {"CustomResourceDefinition", "Deployment", "ServiceMonitor", "PodMonitor", "ClusterRole"} <= kinds
    out = server_dry_run(yaml.safe_dump_all(objects), kubeconfig, "-f", "-")
    assert out.count("(server dry run)") == len(objects), out


def test_install_manifests_pass_server_dry_run(kubeconfig: Path) -> None:
    # The namespaced objects need their namespace to exist for a server-side dry run.
    if kubectl("get", "namespace", "slo-system", kubeconfig=kubeconfig, check=False).returncode != 0:
        kubectl("create", "namespace", "slo-system", kubeconfig=kubeconfig, check=False)
    out = server_dry_run("", kubeconfig, "-k", str(REPO / "manifests" / "install"))
    assert "deployment.apps/slo-operator serverside-applied (server dry run)" in out, out


@pytest.fixture()
def release(helm: Helm, kubeconfig: Path, namespace: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """`helm install` into NAMESPACE, watching it, with a default PagerDuty receiver; uninstalled after."""
    name = namespace  # unique: the ClusterRole/ClusterRoleBinding names derive from it
    values = {
        "watchNamespaces": [namespace],
        "prometheus": {"url": UNREACHABLE_PROMETHEUS},
        "rules": {"labels": {"release": "{{ .Release.Name }}"}},
        "routing": {"pagerduty": {"secretName": "pagerduty", "secretKey": "routing-key"}},
    }
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    installed = helm.run(
        "install",
        name,
        str(CHART),
        "--namespace",
        namespace,
        "--values",
        str(values_file),
        "--kubeconfig",
        str(kubeconfig),
    )
    try:
        manifest = helm.run("get", "manifest", name, "-n", namespace, "--kubeconfig", str(kubeconfig)).stdout
        objects = [d for d in yaml.safe_load_all(manifest) if d]
        yield {"name": name, "namespace": namespace, "objects": objects, "notes": installed.stdout}
    finally:
        helm.run("uninstall", name, "-n", namespace, "--kubeconfig", str(kubeconfig), check=False)


def test_helm_install_and_the_operator_runs_as_the_charts_identity(
    helm: Helm,
    kubeconfig: Path,
    release: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name, namespace, objects = release["name"], release["namespace"], release["objects"]
    assert "STATUS: deployed" in release["notes"]
    assert "kubectl get slo -A" in release["notes"]
    status = json.loads(
        helm.run("status", name, "-n", namespace, "-o", "json", "--kubeconfig", str(kubeconfig)).stdout
    )
    assert status["info"]["status"] == "deployed"

    # The objects exist as rendered (no nodes here: the Deployment's pod is never scheduled).
    deployment = find(objects, "Deployment")
    live = get("deployment", deployment["metadata"]["name"], namespace, kubeconfig)
    assert live is not None and live["spec"]["strategy"]["type"] == "RollingUpdate"
    account = find(objects, "ServiceAccount")["metadata"]["name"]
    role = find(objects, "ClusterRole")["metadata"]["name"]
    live_role = json.loads(kubectl("get", "clusterrole", role, "-o", "json", kubeconfig=kubeconfig).stdout)
    assert live_role["rules"] == find(objects, "ClusterRole")["rules"]
    subject = f"system:serviceaccount:{namespace}:{account}"
    assert (
        kubectl(
            "auth",
            "can-i",
            "patch",
            "servicelevelobjectives.slo.mlops.dev/status",
            "--as",
            subject,
            kubeconfig=kubeconfig,
            check=False,
        ).stdout.strip()
        == "yes"
    )
    assert (
        kubectl(
            "auth", "can-i", "list", "secrets", "--as", subject, kubeconfig=kubeconfig, check=False
        ).stdout.strip()
        == "no"
    )

    # The operator process gets what the pod would: the chart's token and SLO_OPERATOR_* environment.
    for key, value in container_env(deployment).items():
        monkeypatch.setenv(key, value)
    identity = service_account_kubeconfig(
        kubeconfig, tmp_path / "operator.kubeconfig", namespace, account, duration="1h"
    )
    kubectl(
        "-n",
        namespace,
        "create",
        "secret",
        "generic",
        "pagerduty",
        "--from-literal=routing-key=not-a-real-key",
        kubeconfig=kubeconfig,
    )
    slo = yaml.safe_load((REPO / "manifests" / "examples" / "availability.yaml").read_text())
    slo["metadata"]["namespace"] = namespace
    slo_name = slo["metadata"]["name"]
    operator = OperatorProcess(tmp_path, identity, UNREACHABLE_PROMETHEUS)
    operator.start()
    try:
        kubectl("apply", "-f", "-", input=yaml.safe_dump(slo), kubeconfig=kubeconfig)
        rule = wait_for(
            lambda: get("prometheusrule", f"{slo_name}-slo", namespace, kubeconfig),
            60,
            message="the PrometheusRule of the example SLO",
        )
        assert rule["metadata"]["labels"]["release"] == name  # rules.labels, through tpl
        assert rule["metadata"]["ownerReferences"][0]["name"] == slo_name
        selector = f"slo.mlops.dev/name={slo_name}"
        for kind in ("alertmanagerconfigs", "configmaps"):
            found = json.loads(
                kubectl(
                    "get", kind, "-n", namespace, "-l", selector, "-o", "json", kubeconfig=kubeconfig
                ).stdout
            )["items"]
            assert found, f"no {kind} for the SLO"
        applied = wait_for(
            lambda: condition(get("slo", slo_name, namespace, kubeconfig), "RulesApplied"),
            30,
            message="RulesApplied condition (status subresource patch)",
        )
        assert applied["status"] == "True", applied
        routing = wait_for(
            lambda: condition(get("slo", slo_name, namespace, kubeconfig), "RoutingReady"),
            30,
            message="RoutingReady condition",
        )
        assert (routing["status"], routing["reason"]) == ("True", "SecretsFound"), routing  # `get` secrets
        listed = kubectl("get", "slo", "-n", namespace, kubeconfig=kubeconfig).stdout
        assert slo_name in listed
    finally:
        operator.stop()
    log = operator.log()
    for forbidden in ("403", "Forbidden", "forbidden"):
        assert forbidden not in log, f"operator hit missing RBAC ({forbidden}):\n{operator.tail(60)}"


def test_uninstall_leaves_no_cluster_scoped_objects(helm: Helm, kubeconfig: Path, namespace: str) -> None:
    helm.run("install", namespace, str(CHART), "-n", namespace, "--kubeconfig", str(kubeconfig))
    role = f"{namespace}-slo-operator"
    assert kubectl("get", "clusterrole", role, kubeconfig=kubeconfig, check=False).returncode == 0
    helm.run("uninstall", namespace, "-n", namespace, "--kubeconfig", str(kubeconfig))
    for kind in ("clusterrole", "clusterrolebinding"):
        gone = kubectl("get", kind, role, kubeconfig=kubeconfig, check=False)
        assert gone.returncode != 0 and "NotFound" in gone.stderr
    # CRDs stay (Helm never deletes them): SLOs of other releases survive an uninstall.
    crd = kubectl("get", "crd", "servicelevelobjectives.slo.mlops.dev", kubeconfig=kubeconfig, check=False)
    assert crd.returncode == 0


def test_chart_token_cannot_do_more_than_the_role(kubeconfig: Path, helm: Helm, namespace: str) -> None:
    """Spot checks that the ServiceAccount holds nothing beyond manifests/rbac.yaml (no wildcards)."""
    helm.run("install", namespace, str(CHART), "-n", namespace, "--kubeconfig", str(kubeconfig))
    try:
        subject = f"system:serviceaccount:{namespace}:{namespace}-slo-operator"
        checks = {
            ("create", "prometheusrules.monitoring.coreos.com"): "yes",
            ("delete", "configmaps"): "yes",
            ("get", "secrets"): "yes",
            ("watch", "secrets"): "no",
            ("update", "servicelevelobjectives.slo.mlops.dev"): "no",
            ("delete", "servicelevelobjectives.slo.mlops.dev"): "no",
            ("create", "deployments.apps"): "no",
            ("create", "clusterroles.rbac.authorization.k8s.io"): "no",
            ("update", "leases.coordination.k8s.io"): "no",  # only in the release namespace, below
        }
        for (verb, resource), expected in checks.items():
            answer = kubectl(
                "auth", "can-i", verb, resource, "--as", subject, "-A", kubeconfig=kubeconfig, check=False
            ).stdout.strip()
            assert answer == expected, f"can {subject} {verb} {resource}? {answer}, expected {expected}"
        answer = kubectl(
            "auth", "can-i", "update", "leases.coordination.k8s.io", "--as", subject, "-n", namespace,
            kubeconfig=kubeconfig, check=False,
        ).stdout.strip()
        assert answer == "yes", "the leader-election Role must let the operator renew its Lease"
    finally:
        helm.run("uninstall", namespace, "-n", namespace, "--kubeconfig", str(kubeconfig), check=False)
