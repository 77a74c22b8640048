"""A kubeconfig for the operator's own ServiceAccount: it runs with exactly manifests/rbac.yaml's rights."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import yaml


def _kubectl(kubeconfig: Path, *args: str) -> str:
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), *args], check=True, capture_output=True, text=True
    ).stdout


def service_account_kubeconfig(
    admin: Path,
    target: Path,
    namespace: str = "slo-system",
    name: str = "slo-operator",
    duration: str = "12h",
) -> Path:
    """Write ``target``: the admin kubeconfig's cluster with a fresh token of ``namespace/name``."""
    token = _kubectl(admin, "-n", namespace, "create", "token", name, f"--duration={duration}").strip()
    config = json.loads(_kubectl(admin, "config", "view", "--raw", "--minify", "-o", "json"))
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
