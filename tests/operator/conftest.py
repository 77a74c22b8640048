"""Fixtures for the operator on the real control plane: its RBAC identity, Prometheus, traffic, process."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.cluster import kubectl
from support.processes import REPO, OperatorProcess, Prometheus, SteadyTraffic

EXAMPLES = REPO / "manifests" / "examples"


def sa_kubeconfig(admin: Path, target: Path) -> Path:
    """A kubeconfig holding a token of the operator's ServiceAccount from manifests/rbac.yaml."""
    kubectl("apply", "-f", str(REPO / "manifests" / "rbac.yaml"), kubeconfig=admin)
    token = kubectl(
        "-n", "slo-system", "create", "token", "slo-operator", "--duration=6h", kubeconfig=admin
    ).stdout.strip()
    config = json.loads(kubectl("config", "view", "--raw", "--minify", "-o", "json", kubeconfig=admin).stdout)
    cluster = config["clusters"][0]["cluster"]
    ca = target.parent / "ca.crt"
    if "certificate-authority-data" in cluster:
        ca.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    else:
        ca.write_bytes(Path(cluster["certificate-authority"]).read_bytes())
    target.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "c", "cluster": {"server": cluster["server"], "certificate-authority": str(ca)}}
                ],
                "users": [{"name": "slo-operator", "user": {"token": token}}],
                "contexts": [{"name": "slo-operator", "context": {"cluster": "c", "user": "slo-operator"}}],
                "current-context": "slo-operator",
            }
        )
    )
    target.chmod(0o600)
    return target


@pytest.fixture(scope="session")
def operator_kubeconfig(kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sa_kubeconfig(kubeconfig, tmp_path_factory.mktemp("identity") / "operator.kubeconfig")


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
def operator(
    operator_kubeconfig: Path, prometheus: Prometheus, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    process = OperatorProcess(tmp_path_factory.mktemp("operator"), operator_kubeconfig, prometheus.url)
    process.start()
    yield process
    process.stop()
    print("---- operator log (tail) ----\n" + process.tail(80))


@pytest.fixture()
def namespace(kubeconfig: Path) -> Iterator[str]:
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name, kubeconfig=kubeconfig)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", kubeconfig=kubeconfig, check=False)


def example_documents(namespace: str) -> list[dict[str, Any]]:
    documents = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        document["metadata"]["namespace"] = namespace
        documents.append(document)
    return documents
