"""SLO documents and kubectl helpers shared by the suites that drive the operator on the real API server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from support.cluster import kubectl


def availability_slo(namespace: str, name: str, objective: float = 99.9) -> dict[str, Any]:
    """A 30d availability SLO over ``http_requests_total{job="checkout"}``, named ``name``."""
    return {
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "service": name,
            "objective": objective,
            "window": "30d",
            "indicator": {
                "availability": {
                    "errors": 'http_requests_total{job="checkout",code=~"5.."}',
                    "total": 'http_requests_total{job="checkout"}',
                }
            },
        },
    }


def apply(kubeconfig: Path, *documents: dict[str, Any]) -> None:
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all(documents), kubeconfig=kubeconfig)


def listed(kind: str, namespace: str, kubeconfig: Path) -> list[dict[str, Any]]:
    out = kubectl("get", kind, "-n", namespace, "-o", "json", kubeconfig=kubeconfig).stdout
    return list(json.loads(out)["items"])


def get(kind: str, name: str, namespace: str, kubeconfig: Path) -> dict[str, Any] | None:
    """The object as JSON, or None when it does not exist (yet, or any more)."""
    proc = kubectl("get", kind, name, "-n", namespace, "-o", "json", kubeconfig=kubeconfig, check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any] | None:
    """The status condition of ``type_`` (e.g. ``Ready``), or None while there is none."""
    for item in ((obj or {}).get("status") or {}).get("conditions") or []:
        if item["type"] == type_:
            return dict(item)
    return None
