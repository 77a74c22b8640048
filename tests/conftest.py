"""Shared pytest fixtures: the real Kubernetes control plane, started once per test session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # devstack/ and model_service/ live at the top of the repository
    sys.path.insert(0, str(REPO))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cluster: needs the real Kubernetes control plane (started on demand)")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


@pytest.fixture(scope="session")
def kubeconfig() -> Path:
    """A kubeconfig for a ready control plane with our CRDs and prometheus-operator's installed.

    Uses $KUBECONFIG when it names a reachable cluster (e.g. kind); otherwise starts (or reuses) the
    local etcd + kube-apiserver + kube-controller-manager built from pinned Go modules.
    """
    from support.cluster import ensure_cluster

    return ensure_cluster()
