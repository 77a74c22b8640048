"""Kubernetes objects and files rendered from resolved SLOs (pure functions, no I/O).

``prometheus_rule()`` is the object the operator applies (and ``slo-operator render`` prints);
``rule_file()`` is the plain ``groups:`` file for Prometheus servers without prometheus-operator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from slo_operator.dashboards import DashboardOptions
from slo_operator.dashboards import dashboard_configmap as _dashboard_configmap
from slo_operator.model import SLO
from slo_operator.routing import RoutingOptions
from slo_operator.routing import alertmanager_config as _alertmanager_config
from slo_operator.rules import RuleOptions, namespace_groups, shared_groups, slo_groups

MANAGED_BY = {"app.kubernetes.io/managed-by": "slo-operator"}
NAME_LABEL = "slo.mlops.dev/name"


@dataclass(frozen=True)
class RenderOptions:
    """What differs between clusters: labels Prometheus selects rules by, evaluation intervals."""

    rule_labels: dict[str, str] = field(default_factory=dict)
    rules: RuleOptions = field(default_factory=RuleOptions)
    dashboards: DashboardOptions = field(default_factory=DashboardOptions)
    routing: RoutingOptions = field(default_factory=RoutingOptions)


def child_labels(slo: SLO, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Labels on every object generated for an SLO: who manages it and which SLO it belongs to."""
    return {**(extra or {}), **MANAGED_BY, NAME_LABEL: slo.name}


def prometheus_rule(slo: SLO, options: RenderOptions | None = None) -> dict[str, Any]:
    """The ``monitoring.coreos.com/v1`` PrometheusRule holding the SLO's own rule groups (the windows,
    SLI and budget come from its namespace's shared PrometheusRule, ``shared_prometheus_rule``)."""
    options = options or RenderOptions()
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": f"{slo.name}-slo",
            "namespace": slo.namespace,
            "labels": child_labels(slo, options.rule_labels),
        },
        "spec": {"groups": slo_groups(slo, options.rules)},
    }


# The namespace's shared PrometheusRule: its name (an SLO's is ``<name>-slo``; this one cannot be one,
# since no SLO name ends in "--") and the label that tells it from an SLO's children.
SHARED_RULE_NAME = "slo-operator--shared"
SHARED_LABEL = "slo.mlops.dev/shared"


def shared_prometheus_rule(namespace: str, slos: list[SLO], options: RenderOptions | None = None
                           ) -> dict[str, Any] | None:
    """The PrometheusRule of the rules every SLO of ``namespace`` shares (``shared``): a pure function of
    the namespace's SLOs' shapes; None when the namespace has none."""
    options = options or RenderOptions()
    groups = shared_groups(namespace, slos, options.rules)
    if not groups:
        return None
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": SHARED_RULE_NAME,
            "namespace": namespace,
            "labels": {**options.rule_labels, **MANAGED_BY, SHARED_LABEL: "true"},
        },
        "spec": {"groups": groups},
    }


def alertmanager_config(slo: SLO, options: RenderOptions | None = None) -> dict[str, Any] | None:
    """The ``monitoring.coreos.com/v1alpha1`` AlertmanagerConfig routing the SLO's alerts (see ``routing``);
    None when neither the SLO nor the operator's defaults name a receiver."""
    options = options or RenderOptions()
    return _alertmanager_config(slo, options.routing, child_labels(slo, options.routing.labels))


def dashboard_configmap(slo: SLO, options: RenderOptions | None = None) -> dict[str, Any] | None:
    """The ConfigMap holding the SLO's Grafana dashboard (see ``dashboards``); None when they are off."""
    options = options or RenderOptions()
    labels = child_labels(slo, options.dashboards.labels)
    return _dashboard_configmap(slo, options.dashboards, labels, options.rules.fast_interval)


def rule_file(slos: list[SLO], options: RenderOptions | None = None) -> dict[str, Any]:
    """A Prometheus rule file (``groups:``) with every SLO's groups and their namespaces' shared groups."""
    options = options or RenderOptions()
    return {"groups": namespace_groups(slos, options.rules)}


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks so rendered PromQL stays readable."""


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)


def to_yaml(documents: list[dict[str, Any]]) -> str:
    """YAML stream of ``documents``, stable (keys in insertion order) for golden files and diffs."""
    return yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True)
