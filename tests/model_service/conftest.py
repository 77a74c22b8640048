"""Fixtures for the model-service tests.

The service tests start ``bentoml serve`` for real (subprocess, loopback, free port); the Prometheus
tests also need the Prometheus of the selected PROM_STACK (``make prom-stack``). A missing ``model`` extra
(bentoml, scikit-learn) or Prometheus binary fails the suite at once, naming what to install: skipping
would hide every test here while ``make test`` stayed green.
"""

from __future__ import annotations

import importlib.util
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

_MISSING = [name for name in ("bentoml", "sklearn", "joblib") if importlib.util.find_spec(name) is None]
if _MISSING:  # find_spec, not import: the pure tier collects this file too and must stay fast
    raise ImportError(
        f"{', '.join(_MISSING)} not installed: the model-service tests need the `model` extra "
        "(make venv installs it; pip install -e '.[model]')"
    )


@pytest.fixture(scope="session")
def prometheus_installed() -> None:
    """Fails (never skips) when the Prometheus the tests start is missing."""
    from model_service.devserver import PROMETHEUS_BIN

    if not os.access(PROMETHEUS_BIN, os.X_OK):
        pytest.fail(f"{PROMETHEUS_BIN} missing: make prom-stack builds it (make test does)", pytrace=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: starts real processes (bentoml serve, prometheus); ~10-60 s each"
    )


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from model_service import training

    path = tmp_path_factory.mktemp("model")
    training.train_and_save(path)
    return path


@pytest.fixture(scope="session")
def service(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One service shared by the e2e tests: admin API on (token-protected), tracking on.

    Tests compare metric *deltas*, so they do not depend on each other's traffic.
    """
    from model_service.devserver import ServiceProcess

    env = {
        "MODEL_SERVICE_ADMIN_ENABLED": "true",
        "MODEL_SERVICE_ADMIN_TOKEN": ADMIN_TOKEN,
        "MODEL_FEATURE_REFRESH_INTERVAL_SECONDS": "0",
    }
    with ServiceProcess(tmp_path_factory.mktemp("svc"), model_dir=model_dir, env=env) as proc:
        yield proc
