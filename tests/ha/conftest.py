"""Fixtures for leader election on the real control plane: the operator's identity from manifests/rbac.yaml
(its Role grants the Lease in slo-system)."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.identity import rbac_kubeconfig


@pytest.fixture(scope="session")
def ha_kubeconfig(kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rbac_kubeconfig(kubeconfig, tmp_path_factory.mktemp("ha-identity") / "operator.kubeconfig")
