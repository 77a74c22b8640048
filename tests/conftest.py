"""Shared pytest fixtures: the real Kubernetes control plane, started once per test session."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # devstack/ and model_service/ live at the top of the repository
    sys.path.insert(0, str(REPO))

# Every skip not in tests/skips.py ALLOWED fails the run (a skip can hide a whole suite).
pytest_plugins = ["skips", "pytester"]


# The fast tier (`make check`, `pytest -m pure`): spec -> model -> generated objects, in-process only.
# A test in these files that starts a process fails (see _pure_tests_start_no_process); a file that
# needs promtool, a server or the cluster belongs to the full suite (`make test`) instead.
PURE_TESTS = frozenset({
    "core/test_budget.py",
    "core/test_cost_status.py",
    "core/test_cost_validation.py",
    "core/test_claims.py",
    "core/test_crd.py",
    "core/test_coverage.py",
    "core/test_durations_selectors.py",
    "core/test_examples_extra.py",
    "core/test_golden.py",
    "core/test_model.py",
    "core/test_module_map.py",
    "core/test_registries.py",
    "core/test_rendered_promql.py",
    "core/test_skips.py",
    "core/test_validation.py",
    "core/test_workflow.py",
    "golden/test_golden_cases.py",
    "dashboards/test_dashboard_json.py",
    "forecast/test_forecast.py",
    "forecast/test_forecaster.py",
    "reports/test_report_compute.py",
    "reports/test_reports_units.py",
    "operator_unit/test_reconcile_decision.py",
    "operator_unit/test_refresh.py",
    "operator_unit/test_status.py",
    "operator_unit/test_leader.py",
    "operator_unit/test_prometheus_long_query.py",
    "operator_unit/test_ratelimit.py",
    "operator_unit/test_watch_cache.py",
    "policy/test_policy_core.py",
    "simulate/test_simulator.py",
})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cluster: needs the real Kubernetes control plane (started on demand)")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
    config.addinivalue_line("markers", "pure: fast in-process tier run by `make check` (tests/conftest.py)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests = REPO / "tests"
    for item in items:
        if item.path.is_relative_to(tests) and item.path.relative_to(tests).as_posix() in PURE_TESTS:
            item.add_marker(pytest.mark.pure)


@pytest.fixture(autouse=True)
def _pure_tests_start_no_process(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pure test that starts a subprocess fails: the fast tier must stay fast and self-contained."""
    if request.node.get_closest_marker("pure") is None:
        return

    def refuse(*args: object, **kwargs: object) -> None:
        pytest.fail(  # not an Exception: a broad ``except`` in the test cannot turn it into a skip
            f"{request.node.nodeid} is in the pure tier (tests/conftest.py PURE_TESTS) but starts a "
            f"process {args[1] if len(args) > 1 else ''!r}: make it pure or move the file out of PURE_TESTS",
            pytrace=False,
        )

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    monkeypatch.setattr(os, "system", refuse)


@pytest.fixture(scope="session")
def kubeconfig() -> Path:
    """A kubeconfig for a ready control plane with our CRDs and prometheus-operator's installed.

    Uses $KUBECONFIG when it names a reachable cluster (e.g. kind); otherwise starts (or reuses) the
    local etcd + kube-apiserver + kube-controller-manager built from pinned Go modules.
    """
    from support.cluster import ensure_cluster

    from devstack.cluster import ClusterNotBuilt

    try:
        return ensure_cluster()
    except ClusterNotBuilt as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture()
def namespace(kubeconfig: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for one test, named after its suite (``operator-1a2b3c4d``), deleted after it
    without waiting for the finalizers (owned children are garbage-collected with it)."""
    from support.cluster import kubectl

    suite = request.path.parent.name.replace("_", "-")[:20]
    name = f"{suite}-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name, kubeconfig=kubeconfig)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", kubeconfig=kubeconfig, check=False)


@pytest.fixture(scope="session")
def prometheus_operator(kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The real prometheus-operator (built by `make prometheus-operator`), running against the control
    plane for the whole session; suites add Prometheus/Alertmanager pairs with ``support.monitoring``."""
    from support.cluster import wait_for
    from support.processes import free_port

    from devstack.prometheus_operator import OperatorProcess

    process = OperatorProcess(tmp_path_factory.mktemp("prometheus-operator"), kubeconfig, free_port())
    process.start()
    try:
        wait_for(process.ready, 120, 0.5, "prometheus-operator /healthz")
        yield process
    finally:
        process.stop()
        print("---- prometheus-operator log (tail) ----\n" + process.tail(30))
