"""Fixtures for leader election on the real control plane: the operator's identity from manifests/rbac.yaml
(its Role grants the Lease in slo-system)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devstack.identity import rbac_kubeconfig


@pytest.fixture(scope="session")
def ha_kubeconfig(kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rbac_kubeconfig(kubeconfig, tmp_path_factory.mktemp("ha-identity") / "operator.kubeconfig")


# The API server restart takes about 90 s on the 2-core CI machine (most of it kube-apiserver's start-up),
# more than `make test` can spend on it: it runs with `make faults-test` (mk/faults.mk), which sets this.
collect_ignore = [] if os.environ.get("SLO_FAULTS_TEST") == "1" else ["test_apiserver_restart.py"]
