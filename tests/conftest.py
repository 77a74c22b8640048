"""Shared pytest fixtures: the real Kubernetes control plane, started once per test session."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
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


@pytest.fixture()
def namespace(kubeconfig: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for one test, named after its suite (``operator-1a2b3c4d``), deleted after it
    without waiting for the finalizers (owned children are garbage-collected with it)."""
    from support.cluster import kubectl

    suite = request.path.parent.name.replace("_", "-")[:20]
    name = f"{suite}-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name, kubeconfig=kubeconfig)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", kubeconfig=kubeconfig, check=False)
