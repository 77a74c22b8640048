"""Fixtures for error-budget policies on the real control plane: the deploy-freeze admission policy,
a Prometheus scraping traffic whose error ratio each test sets per endpoint, the operator (with the RBAC
identity of manifests/rbac.yaml), and local GitHub/Jira endpoints."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from policy_support import FREEZE_FILE, BudgetTraffic, RestartableOperator
from support.cluster import kubectl
from support.processes import REPO, Prometheus
from ticket_servers import FakeGitHub, FakeJira

from devstack.identity import rbac_kubeconfig


@pytest.fixture(scope="session")
def operator_kubeconfig(kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rbac_kubeconfig(kubeconfig, tmp_path_factory.mktemp("identity") / "operator.kubeconfig")


@pytest.fixture(scope="session")
def deploy_freeze(kubeconfig: Path) -> Path:
    """The shipped ValidatingAdmissionPolicy + binding, applied as the chart would."""
    kubectl("apply", "--server-side", "-f", str(FREEZE_FILE), kubeconfig=kubeconfig)
    return FREEZE_FILE


@pytest.fixture(scope="session")
def budget_traffic() -> Iterator[BudgetTraffic]:
    exporter = BudgetTraffic()
    yield exporter
    exporter.stop()


@pytest.fixture(scope="session")
def prometheus(
    budget_traffic: BudgetTraffic, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    server = Prometheus(tmp_path_factory.mktemp("prometheus"), [budget_traffic.target])
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def operator(
    operator_kubeconfig: Path, prometheus: Prometheus, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RestartableOperator]:
    process = RestartableOperator(tmp_path_factory.mktemp("operator"), operator_kubeconfig, prometheus.url)
    process.start()
    yield process
    text = process.log()
    process.stop()
    print("---- operator log (tail) ----\n" + "\n".join(text.splitlines()[-80:]))


@pytest.fixture(scope="session")
def github_spec() -> Path:
    """GitHub's OpenAPI description, installed by `make octokit-openapi` (a prerequisite of `make test`)."""
    path = subprocess.run(
        [str(REPO / "hack" / "policy" / "octokit-openapi.sh"), "--print-path"],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout.strip()
    return Path(path)


@pytest.fixture()
def github(github_spec: Path) -> Iterator[FakeGitHub]:
    server = FakeGitHub(github_spec)
    yield server
    server.stop()


@pytest.fixture()
def jira() -> Iterator[FakeJira]:
    server = FakeJira()
    yield server
    server.stop()
