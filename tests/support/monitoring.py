"""prometheus-operator in the test loop: one operator process per test session, and per suite a
``Prometheus``/``Alertmanager`` pair of its own (a release label of its own, so suites never see each
other's PrometheusRules or AlertmanagerConfigs) whose generated files reach local servers through
``devstack.prometheus_operator.Kubelet``."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from devstack.prometheus_operator import (
    RELEASE_LABEL,
    Generated,
    Kubelet,
    kube_client,
    monitoring_resources,
    read_generated,
    stack_versions,
)
from support.cluster import kubectl, wait_for

# prometheus-operator reacts to a watched change within seconds; on a loaded two-core machine give it
# ample room (the deadline only matters when something is broken).
GENERATE_TIMEOUT = 120.0


class MonitoringPair:
    """A Prometheus and an Alertmanager resource (``name``, namespace ``monitoring``) selecting objects
    labelled ``release: <name>``, and the kubelet copying what prometheus-operator generates for them."""

    def __init__(self, kubeconfig: Path, prefix: str) -> None:
        self.kubeconfig = kubeconfig
        self.name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        self.labels = {RELEASE_LABEL: self.name}
        self.kube = kube_client(kubeconfig)
        prometheus, alertmanager = stack_versions()  # of PROM_STACK: the servers the tests start
        resources = monitoring_resources(
            self.name, self.name, prometheus_version=prometheus, alertmanager_version=alertmanager
        )
        kubectl("apply", "-f", "-", kubeconfig=kubeconfig, input=yaml.safe_dump_all(resources))

    def generated(self) -> Generated:
        return read_generated(self.kube, self.name)

    def wait_generated(self, predicate: Callable[[Generated], Any], message: str) -> Generated:
        """Poll prometheus-operator's output until ``predicate`` holds for it."""
        return wait_for(
            lambda: (lambda g: g if predicate(g) else None)(self.generated()),
            GENERATE_TIMEOUT,
            0.5,
            f"prometheus-operator output for {self.name}: {message}",
        )

    def alertmanager_config(self, receivers: list[str]) -> dict[str, Any]:
        """The generated Alertmanager configuration once it holds every receiver in ``receivers``."""
        found = self.wait_generated(
            lambda g: (
                g.alertmanager_config is not None
                and set(receivers) <= {r["name"] for r in yaml.safe_load(g.alertmanager_config)["receivers"]}
            ),
            f"receivers {receivers}",
        )
        assert found.alertmanager_config is not None
        config: dict[str, Any] = yaml.safe_load(found.alertmanager_config)
        return config

    def kubelet(
        self,
        rules_dir: Path,
        alertmanager_config: Path,
        prometheus_url: str | None,
        alertmanager_url: str | None,
    ) -> Kubelet:
        return Kubelet(self.kube, self.name, rules_dir, alertmanager_config, prometheus_url, alertmanager_url)

    def delete(self) -> None:
        for kind in ("prometheus", "alertmanager"):
            kubectl(
                "delete",
                kind,
                self.name,
                "-n",
                "monitoring",
                "--wait=false",
                kubeconfig=self.kubeconfig,
                check=False,
            )
        self.kube.close()


def rule_file_key(namespace: str, name: str, uid: str) -> str:
    """The key prometheus-operator gives a PrometheusRule in its rule-file ConfigMaps."""
    return f"{namespace}-{name}-{uid}.yaml"
