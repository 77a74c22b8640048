"""Fixtures for the Helm chart tests: the pinned helm CLI (built once from its Go module)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helm_support import BUILD, CHART, Helm


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    """The helm CLI built by `make helm` (a make prerequisite of the tests; never built here)."""
    proc = subprocess.run(
        [str(BUILD), "--check", "--print-path"], capture_output=True, text=True, check=False
    )
    if proc.returncode == 3:
        pytest.fail("the pinned helm CLI is not built yet: run `make helm` first (once, 5-10 min cold)",
                    pytrace=False)
    if proc.returncode != 0:
        pytest.fail(f"hack/helm/build.sh failed:\n{proc.stderr[-3000:]}")
    return Helm(Path(proc.stdout.strip().splitlines()[-1]), tmp_path_factory.mktemp("helm-home"))


@pytest.fixture(scope="session")
def default_objects(helm: Helm) -> list[dict[str, Any]]:
    return helm.template()


@pytest.fixture()
def chart_copy(tmp_path: Path) -> Iterator[Path]:
    """A throw-away copy of the chart (to add files the repository does not hold yet)."""
    target = tmp_path / "slo-operator"
    shutil.copytree(CHART, target)
    yield target
