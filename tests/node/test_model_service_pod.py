"""The model service as a pod from its image (hack/images "model"), scraped by a local Prometheus, measured
by the operator pod: the availability SLO's status falls when the traffic generator injects errors.

Prometheus runs on loopback like the rest of the local stack; the PrometheusRule the operator pod writes
is loaded into it as prometheus-operator would (a rule file and a reload).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from helm_support import CHART, Helm
from node_support import Node, ready_pod, restarts
from support.cluster import kubectl, wait_for
from support.processes import REPO, Prometheus, free_port

from model_service.traffic import LoadConfig, run_load, set_faults

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

REFRESH_SECONDS = 5
SLO = "model-availability"


@pytest.fixture(scope="module")
def stack(helm: Helm, node: Node, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    kubeconfig = node.kubeconfig
    namespace = f"model-node-{int(time.time()) % 100000}"
    kubectl("create", "namespace", namespace, kubeconfig=kubeconfig)
    model_port = free_port()
    workdir = tmp_path_factory.mktemp("prometheus")
    prometheus = Prometheus(workdir, [f"127.0.0.1:{model_port}"], scrape_interval="2s", job="model-service")
    prometheus.start()
    values = {
        **node.values,
        "healthPort": free_port(),
        "watchNamespaces": [namespace],
        "prometheus": {"url": prometheus.url},
        "refreshSeconds": REFRESH_SECONDS,
        "rules": {"fastInterval": "2s", "slowInterval": "10s"},
        "logFormat": "plain",
        "modelService": {"enabled": True, "port": model_port, "faultInjection": True,
                         "serviceMonitor": {"enabled": False}},
    }
    values_file = workdir / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    try:
        helm.run("install", namespace, str(CHART), "-n", namespace, "--values", str(values_file),
                 "--kubeconfig", str(kubeconfig))
        model_pod = ready_pod(kubeconfig, namespace, "app.kubernetes.io/name=model-service")
        operator_pod = ready_pod(kubeconfig, namespace, "app.kubernetes.io/component=operator")
        yield {"namespace": namespace, "url": f"http://127.0.0.1:{model_port}", "prometheus": prometheus,
               "model_pod": model_pod, "operator_pod": operator_pod}
    finally:
        helm.run("uninstall", namespace, "-n", namespace, "--kubeconfig", str(kubeconfig), check=False)
        kubectl("delete", "namespace", namespace, "--wait=false", kubeconfig=kubeconfig, check=False)
        prometheus.stop()


def status(kubeconfig: Path, namespace: str) -> dict[str, Any]:
    proc = kubectl("get", "slo", SLO, "-n", namespace, "-o", "json", kubeconfig=kubeconfig, check=False)
    return dict(json.loads(proc.stdout).get("status") or {}) if proc.returncode == 0 else {}


def traffic(url: str, seconds: float) -> None:
    report = run_load(LoadConfig(url=url, rate=15, duration_seconds=seconds, concurrency=8, seed=3))
    assert report.predict_requests > 0 and not report.transport_errors, report


def test_model_pod_serves_predict_and_its_logs(stack: dict[str, Any], node: Node) -> None:
    features = [[float(i % 7) for i in range(30)]]
    response = httpx.post(f"{stack['url']}/predict", json={"instances": features}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json(), response.text
    pod = stack["model_pod"]
    assert restarts(pod) == 0
    assert pod["spec"]["containers"][0]["image"] == "slo-operator/model-service:0.1.0"
    logs = kubectl("logs", "-n", stack["namespace"], pod["metadata"]["name"], kubeconfig=node.kubeconfig)
    assert logs.returncode == 0 and logs.stdout.strip()


def test_pod_metrics_are_scraped(stack: dict[str, Any]) -> None:
    prometheus: Prometheus = stack["prometheus"]
    traffic(stack["url"], 5)
    wait_for(lambda: prometheus.query('up{job="model-service"} == 1'), 60, 1.0, "the model pod scraped")
    wait_for(lambda: prometheus.query('bentoml_service_request_total{endpoint="/predict"} > 0'), 60, 1.0,
             "/predict requests counted")


def test_availability_status_moves_when_errors_are_injected(stack: dict[str, Any], node: Node) -> None:
    kubeconfig, namespace = node.kubeconfig, stack["namespace"]
    slo = yaml.safe_load((REPO / "manifests" / "examples" / "availability.yaml").read_text())
    slo["metadata"]["namespace"] = namespace
    kubectl("apply", "-f", "-", input=yaml.safe_dump(slo), kubeconfig=kubeconfig)
    rule = wait_for(
        lambda: json.loads(kubectl("get", "prometheusrule", f"{SLO}-slo", "-n", namespace, "-o", "json",
                                   kubeconfig=kubeconfig, check=False).stdout or "null"),
        120, 1.0, "the PrometheusRule written by the operator pod",
    )
    stack["prometheus"].load_rules(SLO, rule["spec"]["groups"])  # what prometheus-operator would do
    deadline = 6 * REFRESH_SECONDS + 120  # scrape + rule evaluation + a few refresh periods, loaded machine

    traffic(stack["url"], 20)
    healthy = wait_for(lambda: (s := status(kubeconfig, namespace)).get("sli") is not None and s, deadline,
                       2.0, "an SLI in the status, from the operator pod")
    assert float(healthy["sli"]) > 99, healthy  # percent

    set_faults(stack["url"], error_rate=0.5, seed=5)
    try:
        traffic(stack["url"], 20)

        def fallen() -> dict[str, Any] | None:
            current = status(kubeconfig, namespace)
            return current if current.get("sli") is not None and float(current["sli"]) < 95 else None

        degraded = wait_for(fallen, deadline, 2.0, "the SLI falling after errors were injected")
    finally:
        set_faults(stack["url"], error_rate=0.0)
    assert float(degraded["sli"]) < float(healthy["sli"])
    assert degraded["errorBudget"] != healthy["errorBudget"]
