"""A kubeconfig for the operator's own ServiceAccount: it runs with exactly manifests/rbac.yaml's rights."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import yaml

from devstack.cluster import REPO_ROOT, kubectl

RBAC = REPO_ROOT / "manifests" / "rbac.yaml"


def service_account_kubeconfig(
    admin: Path,
    target: Path,
    namespace: str = "slo-system",
    name: str = "slo-operator",
    duration: str = "12h",
) -> Path:
    """Write ``target``: the admin kubeconfig's cluster with a fresh token of ``namespace/name``."""
    token = kubectl(
        "-n", namespace, "create", "token", name, f"--duration={duration}", kubeconfig=admin
    ).stdout.strip()
    config = json.loads(kubectl("config", "view", "--raw", "--minify", "-o", "json", kubeconfig=admin).stdout)
    cluster = config["clusters"][0]["cluster"]
    ca = target.with_suffix(".ca.crt")
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
                "users": [{"name": name, "user": {"token": token}}],
                "contexts": [{"name": name, "context": {"cluster": "c", "user": name}}],
                "current-context": name,
            }
        )
    )
    target.chmod(0o600)
    return target


def rbac_kubeconfig(admin: Path, target: Path, duration: str = "12h") -> Path:
    """Apply manifests/rbac.yaml, then write ``target`` holding a token of its ServiceAccount."""
    kubectl("apply", "-f", str(RBAC), kubeconfig=admin)
    return service_account_kubeconfig(admin, target, duration=duration)
