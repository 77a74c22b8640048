"""Fixtures for the operator on the real control plane: its RBAC identity, Prometheus, traffic, process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
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


@pytest.fixture(scope="module")  # stopped after the module: other suites reconcile SLOs themselves
def operator(
    operator_kubeconfig: Path, prometheus: Prometheus, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    process = OperatorProcess(tmp_path_factory.mktemp("operator"), operator_kubeconfig, prometheus.url)
    process.start()
    yield process
    process.stop()
    print("---- operator log (tail) ----\n" + process.tail(80))
