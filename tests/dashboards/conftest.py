"""The Prometheus every dashboard query test reads (built once per session, see dashboard_env)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_env import Environment, build_environment


@pytest.fixture(scope="session")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    yield from build_environment(Path(tmp_path_factory.mktemp("dashboards-prometheus")))
