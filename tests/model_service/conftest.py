"""Fixtures for the model-service tests.

The service tests start ``bentoml serve`` for real (subprocess, loopback, free port); the Prometheus
test also needs /usr/bin/prometheus (Debian package ``prometheus``). Both are skipped, not failed,
when bentoml / scikit-learn (the ``model`` extra) or the Prometheus binary are missing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # model_service/ lives at the repository root, outside the wheel
    sys.path.insert(0, str(REPO_ROOT))

os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")

ADMIN_TOKEN = "test-admin-token"  # throw-away token of a loopback test server


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: starts real processes (bentoml serve, prometheus); ~10-60 s each"
    )


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("sklearn")
    from model_service import training

    path = tmp_path_factory.mktemp("model")
    training.train_and_save(path)
    return path


@pytest.fixture(scope="session")
def service(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One service shared by the e2e tests: admin API on (token-protected), tracking on.

    Tests compare metric *deltas*, so they do not depend on each other's traffic.
    """
    pytest.importorskip("bentoml")
    from model_service.devserver import ServiceProcess

    env = {
        "MODEL_SERVICE_ADMIN_ENABLED": "true",
        "MODEL_SERVICE_ADMIN_TOKEN": ADMIN_TOKEN,
        "MODEL_FEATURE_REFRESH_INTERVAL_SECONDS": "0",
    }
    with ServiceProcess(tmp_path_factory.mktemp("svc"), model_dir=model_dir, env=env) as proc:
        yield proc
