"""The objects an SLO owns, as one table: adding a kind of child is one entry here.

Each entry says how to render the child from the resolved SLO (a pure function), where it lives in
the API and which ``slo-operator render --format`` prints it. The reconciler writes every entry's
object (``reconcile.write_child``: created, or replaced when it differs), deletes objects of these
kinds labelled for the SLO that it no longer renders, and the operator watches these kinds to undo
hand edits; ``manifests/rbac.yaml`` must grant ``CHILD_VERBS`` on each (a test reads this table).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slo_operator.model import SLO
from slo_operator.render import RenderOptions, alertmanager_config, dashboard_configmap, prometheus_rule


@dataclass(frozen=True)
class ChildKind:
    """One kind of generated object."""

    api_version: str
    kind: str
    plural: str
    render: Callable[[SLO, RenderOptions], dict[str, Any] | None]
    cli_format: str = ""  # `slo-operator render --format <cli_format>` prints these objects

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]


PROMETHEUS_RULE = ChildKind(
    "monitoring.coreos.com/v1", "PrometheusRule", "prometheusrules", prometheus_rule, "prometheusrule"
)

ALERTMANAGER_CONFIG = ChildKind(
    "monitoring.coreos.com/v1alpha1",
    "AlertmanagerConfig",
    "alertmanagerconfigs",
    alertmanager_config,
    "alertmanagerconfig",
)

# Core group ("v1"): resource_path() and kopf's watch both handle the empty group.
DASHBOARD_CONFIGMAP = ChildKind("v1", "ConfigMap", "configmaps", dashboard_configmap, "dashboard")

CHILD_KINDS: tuple[ChildKind, ...] = (PROMETHEUS_RULE, ALERTMANAGER_CONFIG, DASHBOARD_CONFIGMAP)
# What the reconciler and kopf's watch do with every child kind: the RBAC rules must grant all of these.
CHILD_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")


def child_kind_for_format(cli_format: str) -> ChildKind | None:
    """The child kind ``render --format`` prints under this name, if it is one."""
    return next((kind for kind in CHILD_KINDS if kind.cli_format == cli_format), None)


def owner_reference(owner: dict[str, Any]) -> dict[str, Any]:
    """Owner reference to the SLO: children are garbage-collected with it (same namespace only).

    ``blockOwnerDeletion`` is left out: it would need ``update`` on the SLO's finalizers subresource,
    and background deletion collects the children all the same.
    """
    metadata = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": metadata["name"],
        "uid": metadata["uid"],
        "controller": True,
    }


def desired_children(
    slo: SLO, owner: dict[str, Any], options: RenderOptions
) -> list[tuple[ChildKind, dict[str, Any]]]:
    """Every child the SLO should have now, with its owner reference set."""
    children = []
    for kind in CHILD_KINDS:
        obj = kind.render(slo, options)
        if obj is None:
            continue
        obj["metadata"]["ownerReferences"] = [owner_reference(owner)]
        children.append((kind, obj))
    return children
