"""Helpers of the Helm chart tests: the pinned helm CLI with isolated state, rendered-object lookups."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import yaml
from support.processes import REPO

CHART = REPO / "helm" / "slo-operator"
BUILD = REPO / "hack" / "helm" / "build.sh"


class HelmError(subprocess.CalledProcessError):
    def __str__(self) -> str:
        return f"{super().__str__()}\nstderr: {(self.stderr or '').strip()}"


class Helm:
    """The pinned helm binary with isolated state (no user repositories, plugins or config)."""

    def __init__(self, binary: Path, home: Path) -> None:
        self.binary = binary
        self.env = {
            **os.environ,
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
        }

    def run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.binary), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise HelmError(proc.returncode, cmd, proc.stdout, proc.stderr)
        return proc

    def template(
        self,
        values: dict[str, Any] | None = None,
        *args: str,
        release: str = "slo-operator",
        namespace: str = "slo-system",
        chart: Path = CHART,
    ) -> list[dict[str, Any]]:
        """``helm template`` with VALUES (as a values file) -> the rendered objects."""
        extra = list(args)
        if values is not None:
            extra += ["--values", "-"]
        cmd = [str(self.binary), "template", release, str(chart), "--namespace", namespace, *extra]
        proc = subprocess.run(
            cmd,
            input=yaml.safe_dump(values) if values is not None else None,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0:
            raise HelmError(proc.returncode, cmd, proc.stdout, proc.stderr)
        return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    names = [o["metadata"]["name"] for o in matches]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, got {names}"
    return matches[0]


def container_env(deployment: dict[str, Any]) -> dict[str, str]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {item["name"]: item.get("value", "") for item in container.get("env", [])}


def rbac_rules(path: Path, kind: str = "ClusterRole") -> list[dict[str, Any]]:
    """The ClusterRole (or Role) rules of a multi-document RBAC file."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    return list(next(d for d in docs if d["kind"] == kind)["rules"])
