"""Helpers of the node tests: the node's description, pod polling."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.cluster import kubectl, wait_for

# Seconds a pod of a loaded image has to become Ready: image already in the node, no pulls; the
# operator logs in and starts watching in a few seconds on an idle machine, much longer on a busy one.
POD_READY_SECONDS = 240


@dataclass(frozen=True)
class Node:
    state_dir: Path
    kubeconfig: Path
    values: dict[str, Any]  # the chart values up.sh wrote for this cluster (hostNetwork, apiServer)
    started_seconds: float


def pods(kubeconfig: Path, namespace: str, selector: str) -> list[dict[str, Any]]:
    listed = kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "json", kubeconfig=kubeconfig)
    return list(json.loads(listed.stdout)["items"])


def ready_pod(
    kubeconfig: Path, namespace: str, selector: str, exclude: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Wait for exactly one Running, Ready pod matching SELECTOR (and not named in EXCLUDE)."""

    def one() -> dict[str, Any] | None:
        found = [p for p in pods(kubeconfig, namespace, selector) if p["metadata"]["name"] not in exclude]
        live = [p for p in found if not p["metadata"].get("deletionTimestamp")]
        if len(live) != 1 or live[0]["status"].get("phase") != "Running":
            return None
        conditions = {c["type"]: c["status"] for c in live[0]["status"].get("conditions", [])}
        return live[0] if conditions.get("Ready") == "True" else None

    try:
        return dict(wait_for(one, POD_READY_SECONDS, 1.0, f"a Ready pod {selector} in {namespace}"))
    except TimeoutError:
        described = kubectl("describe", "pods", "-n", namespace, "-l", selector, kubeconfig=kubeconfig,
                            check=False).stdout
        raise AssertionError(f"no Ready pod {selector}:\n{described[-3000:]}") from None


def restarts(pod: dict[str, Any]) -> int:
    return sum(c.get("restartCount", 0) for c in pod["status"].get("containerStatuses", []))
