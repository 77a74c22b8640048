"""Helpers of the policy suites (a module of its own: conftest modules share one name)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from support.cluster import kubectl, wait_for
from support.processes import REPO, OperatorProcess, Prometheus, TickingExporter
from support.slo_objects import get

REFRESH_SECONDS = 2.0  # OperatorProcess runs with --refresh-seconds 2
# Deadlines are derived from the refresh period with a large factor: the machine is shared and busy.
REFRESH_DEADLINE = 10 * REFRESH_SECONDS + 60
FREEZE_FILE = REPO / "manifests" / "policy" / "deploy-freeze.yaml"


# Every policy test's SLO: 99.9% over 1h. While the window is young the operator counts the bad events
# so far against the whole window's budget (status.window): with good traffic at a constant rate r, a
# burst of n bad events consumes n / (r * window * budget) of the budget, whatever the time since the
# start, so each burst sets a *plateau* of consumption that no late refresh can overshoot.
OBJECTIVE = 99.9
WINDOW_SECONDS = 3600
RATE = 100.0  # good requests per second, per endpoint


class BudgetTraffic(TickingExporter):
    """Request counters per endpoint: good traffic at a rate the test sets (counted from wall-clock time,
    so a slow tick on a loaded machine does not change it) and bursts of failed requests."""

    def __init__(self, tick: float = 0.1) -> None:
        from prometheus_client import Counter

        super().__init__(tick)
        self.requests = Counter(
            "policy_request", "requests", ["endpoint", "http_response_code"], registry=self.registry
        )
        self.lock = threading.Lock()
        self.rates: dict[str, float] = {}
        self.last = time.monotonic()
        self.serve()

    def start(self, endpoint: str, rate: float = RATE) -> None:
        with self.lock:
            self.rates[endpoint] = rate
            self.requests.labels(endpoint, "503").inc(0)  # the bad series exists from the start (at 0)

    def set_rate(self, endpoint: str, rate: float) -> None:
        with self.lock:
            self.rates[endpoint] = rate

    def spend(self, endpoint: str, percent: float) -> None:
        """Fail at once as many requests as ``percent`` of the budget at the endpoint's current rate."""
        with self.lock:
            count = percent / 100 * self.rates[endpoint] * WINDOW_SECONDS * (1 - OBJECTIVE / 100)
            self.requests.labels(endpoint, "503").inc(count)

    def step(self) -> None:
        with self.lock:
            now = time.monotonic()
            elapsed, self.last = now - self.last, now
            for endpoint, rate in self.rates.items():
                self.requests.labels(endpoint, "200").inc(rate * elapsed)


class RestartableOperator:
    """The operator process, which tests stop, kill and start again (one log file, appended to)."""

    def __init__(self, workdir: Path, kubeconfig: Path, prometheus_url: str) -> None:
        self.workdir, self.kubeconfig, self.prometheus_url = workdir, kubeconfig, prometheus_url
        self.process: OperatorProcess | None = None
        self.log_path = workdir / f"{OperatorProcess.name}.log"

    def start(self) -> None:
        self.process = OperatorProcess(self.workdir, self.kubeconfig, self.prometheus_url)
        self.process.start()

    def stop(self, kill: bool = False) -> None:
        if self.process is not None:
            self.process.stop(kill=kill)
            self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


# ---- helpers shared by the policy suites -------------------------------------------------------------


def slo_document(
    namespace: str, name: str, endpoint: str, service: str, labels: dict[str, str]
) -> dict[str, Any]:
    """An availability SLO over one endpoint of BudgetTraffic (OBJECTIVE over WINDOW_SECONDS)."""
    return {
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "service": service,
            "objective": OBJECTIVE,
            "window": f"{WINDOW_SECONDS // 3600}h",
            "indicator": {
                "availability": {
                    "errors": f'policy_request_total{{endpoint="{endpoint}",http_response_code=~"5.."}}',
                    "total": f'policy_request_total{{endpoint="{endpoint}"}}',
                }
            },
        },
    }


def policy_document(namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ErrorBudgetPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def load_rules(prometheus: Prometheus, namespace: str, name: str, kubeconfig: Path) -> None:
    """What prometheus-operator would do with the SLO's PrometheusRule: load its groups."""
    rule = wait_for(
        lambda: get("prometheusrule", f"{name}-slo", namespace, kubeconfig),
        REFRESH_DEADLINE,
        message=f"PrometheusRule of {namespace}/{name}",
    )
    prometheus.load_rules(f"{namespace}-{name}", rule["spec"]["groups"])


def measured(namespace: str, name: str, kubeconfig: Path) -> dict[str, Any]:
    """Wait until the operator reads the SLO's recorded series (bad events spent before that would fall
    outside the window it measures)."""
    return wait_status(
        namespace,
        name,
        kubeconfig,
        lambda s: (s.get("window") or {}).get("since") and s.get("sli") is not None,
        f"{namespace}/{name} measured",
    )


def slo_status(namespace: str, name: str, kubeconfig: Path) -> dict[str, Any]:
    return dict((get("slo", name, namespace, kubeconfig) or {}).get("status") or {})


def wait_status(
    namespace: str, name: str, kubeconfig: Path, predicate: Any, what: str, timeout: float = REFRESH_DEADLINE
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        status = slo_status(namespace, name, kubeconfig)
        return status if predicate(status) else None

    try:
        return dict(wait_for(check, timeout, interval=1, message=what))
    except TimeoutError as exc:
        raise AssertionError(f"{what}; last status: {slo_status(namespace, name, kubeconfig)}") from exc


def secret(namespace: str, name: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "stringData": data,
    }


def deployment(
    namespace: str, name: str, service: str, image: str = "registry.local/app:1"
) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"slo.mlops.dev/service": service}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


def endpoint_name() -> str:
    return "/" + uuid.uuid4().hex[:8]


def events(namespace: str, kubeconfig: Path, reason: str | None = None) -> list[dict[str, Any]]:
    items = json.loads(kubectl("get", "events", "-n", namespace, "-o", "json", kubeconfig=kubeconfig).stdout)[
        "items"
    ]
    return [e for e in items if reason is None or e.get("reason") == reason]
