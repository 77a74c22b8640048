"""The dashboard ConfigMap as a child on a real API server, applied with the operator's own RBAC identity.

Checks what only a real API server can: core-group paths, server-side apply of a ConfigMap (a second
apply of the same board is a no-op), the owner reference, and that manifests/rbac.yaml lets the
operator's ServiceAccount create, list and delete ConfigMaps.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from dashboard_env import EXAMPLES
from slo_operator.dashboards import DashboardOptions, slo_dashboard
from slo_operator.kube import KubeClient, load_credentials
from slo_operator.reconcile import reconcile_children, validate
from slo_operator.render import RenderOptions
from support.cluster import kubectl
from support.slo_objects import get

from devstack.identity import service_account_kubeconfig

pytestmark = pytest.mark.cluster
REPO = Path(__file__).resolve().parents[2]
CONFIGMAP = "ConfigMap/model-latency-slo-dashboard"


@pytest.fixture()
def operator_kube(kubeconfig: Path, tmp_path: Path) -> Iterator[KubeClient]:
    kubectl("apply", "-f", str(REPO / "manifests" / "rbac.yaml"), kubeconfig=kubeconfig)
    identity = service_account_kubeconfig(kubeconfig, tmp_path / "operator.kubeconfig")
    client = KubeClient(load_credentials(str(identity)))
    yield client
    client.close()


def test_dashboard_configmap_is_applied_owned_and_pruned(
    kubeconfig: Path, namespace: str, operator_kube: KubeClient
) -> None:
    document = yaml.safe_load((EXAMPLES / "latency.yaml").read_text())
    document["metadata"]["namespace"] = namespace
    kubectl("apply", "-f", "-", kubeconfig=kubeconfig, input=yaml.safe_dump(document))
    body = get("slo", "model-latency", namespace, kubeconfig)
    assert body is not None
    slo, problems = validate(body)
    assert slo is not None, problems

    first = reconcile_children(body, operator_kube, RenderOptions())
    assert first.error is None and CONFIGMAP in first.applied, first
    configmap = get("configmap", "model-latency-slo-dashboard", namespace, kubeconfig)
    assert configmap is not None
    metadata = configmap["metadata"]
    assert metadata["labels"]["grafana_dashboard"] == "1"
    assert metadata["annotations"]["grafana_folder"] == "SLOs"
    (owner,) = metadata["ownerReferences"]
    assert (owner["kind"], owner["uid"]) == ("ServiceLevelObjective", body["metadata"]["uid"])
    (text,) = configmap["data"].values()
    assert json.loads(text) == slo_dashboard(slo)

    again = reconcile_children(body, operator_kube, RenderOptions())
    assert CONFIGMAP in again.unchanged, again

    off = reconcile_children(body, operator_kube, RenderOptions(dashboards=DashboardOptions(enabled=False)))
    assert off.error is None and CONFIGMAP in off.deleted, off
    assert get("configmap", "model-latency-slo-dashboard", namespace, kubeconfig) is None
