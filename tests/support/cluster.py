"""The control plane helpers live in devstack.cluster (shared with `make demo`); re-exported for tests."""

from devstack.cluster import (
    KubectlError,
    apply_crds,
    ensure_cluster,
    is_ready,
    kubectl,
    prometheus_operator_crd_dir,
    wait_for,
)

__all__ = [
    "KubectlError",
    "apply_crds",
    "ensure_cluster",
    "is_ready",
    "kubectl",
    "prometheus_operator_crd_dir",
    "wait_for",
]
