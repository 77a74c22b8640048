"""Fixtures for leader election and API-server faults on the real control plane: the operator's identity
from manifests/rbac.yaml (its Role grants the Lease in slo-system), and a control plane of its own for the
test that restarts kube-apiserver."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.processes import free_port

from devstack.cluster import CLUSTER_DIR, require_built
from devstack.identity import rbac_kubeconfig


@pytest.fixture(scope="session")
def ha_kubeconfig(kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rbac_kubeconfig(kubeconfig, tmp_path_factory.mktemp("ha-identity") / "operator.kubeconfig")


@pytest.fixture(scope="module")
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The admin kubeconfig of a control plane started for this module alone and stopped after it.

    Restarting its kube-apiserver breaks no other suite's watches, whichever lane or session runs them
    (`make test` runs this module beside tests/rules, while the other suites use the shared cluster).
    Its ports are picked free in the kernel's ephemeral range and passed explicitly, so they cannot
    meet the shared cluster's, which up.sh picks from 23790/26443 upwards. Always the local control
    plane, never ``$KUBECONFIG``: the test restarts the API server by its pid file.
    """
    require_built()
    state = tmp_path_factory.mktemp("own-cluster")
    env = {
        **os.environ,
        "SLO_ETCD_PORT": str(free_port()),
        "SLO_ETCD_PEER_PORT": str(free_port()),
        "SLO_APISERVER_PORT": str(free_port()),
        "SLO_CLUSTER_TIMEOUT": "300",  # its start-up competes with the other lane for the two cores
    }
    try:
        up = subprocess.run(
            [str(CLUSTER_DIR / "up.sh"), str(state)], capture_output=True, text=True, env=env, check=False
        )
        if up.returncode != 0:
            pytest.fail(f"hack/cluster/up.sh {state} failed ({up.returncode}):\n{up.stderr[-4000:]}")
        yield Path(up.stdout.strip().splitlines()[-1])  # up.sh applied the CRDs and waited for them
    finally:
        down = subprocess.run(
            [str(CLUSTER_DIR / "down.sh"), str(state)], capture_output=True, text=True, check=False
        )
        print(f"---- own cluster {state} stopped (exit {down.returncode}) ----\n{down.stderr[-2000:]}")


@pytest.fixture(scope="module")
def own_identity(own_cluster: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The operator's ServiceAccount (manifests/rbac.yaml) on ``own_cluster``."""
    return rbac_kubeconfig(own_cluster, tmp_path_factory.mktemp("own-identity") / "operator.kubeconfig")
