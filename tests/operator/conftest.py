"""Fixtures for the operator on the real control plane: its RBAC identity, Prometheus, traffic, process,
and prometheus-operator turning the operator's PrometheusRules into that Prometheus' rule files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.monitoring import MonitoringPair
from support.processes import REPO, OperatorProcess, Prometheus, SteadyTraffic

from devstack.identity import rbac_kubeconfig

EXAMPLES = REPO / "manifests" / "examples"


@pytest.fixture(scope="session")
def operator_kubeconfig(kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rbac_kubeconfig(kubeconfig, tmp_path_factory.mktemp("identity") / "operator.kubeconfig")


@pytest.fixture(scope="session")
def traffic() -> Iterator[SteadyTraffic]:
    exporter = SteadyTraffic()
    yield exporter
    exporter.stop()


@pytest.fixture(scope="session")
def prometheus(traffic: SteadyTraffic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    server = Prometheus(tmp_path_factory.mktemp("prometheus"), [traffic.target])
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def monitoring(
    kubeconfig: Path, prometheus_operator: object, prometheus: Prometheus
) -> Iterator[MonitoringPair]:
    """A Prometheus resource selecting ``release: <pair name>``; the kubelet copies prometheus-operator's
    rule files for it into the local Prometheus and reloads it."""
    pair = MonitoringPair(kubeconfig, "operator")
    kubelet = pair.kubelet(prometheus.rules_dir, prometheus.workdir / "unused.yml", prometheus.url, None)
    kubelet.start(interval=1.0)
    yield pair
    kubelet.stop()
    pair.delete()


@pytest.fixture(scope="module")  # stopped after the module: other suites reconcile SLOs themselves
def operator(
    operator_kubeconfig: Path,
    prometheus: Prometheus,
    monitoring: MonitoringPair,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorProcess]:
    # Children carry the pair's release label, so prometheus-operator selects them for its Prometheus
    # and Alertmanager.
    labels = ",".join(f"{key}={value}" for key, value in monitoring.labels.items())
    process = OperatorProcess(
        tmp_path_factory.mktemp("operator"),
        operator_kubeconfig,
        prometheus.url,
        extra=["--rule-label", labels],
        env={"SLO_OPERATOR_ALERTMANAGER_CONFIG_LABELS": labels},
    )
    process.start()
    yield process
    process.stop()
    print("---- operator log (tail) ----\n" + process.tail(80))
