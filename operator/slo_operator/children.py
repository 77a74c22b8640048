"""The objects an SLO owns, as one table: adding a kind of child is one entry here.

Each entry says how to render the child from the resolved SLO (a pure function) and where it lives in
the API. The reconciler applies every entry's object with server-side apply, deletes objects of these
kinds labelled for the SLO that it no longer renders, and the operator watches these kinds to undo
hand edits.
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

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]


PROMETHEUS_RULE = ChildKind("monitoring.coreos.com/v1", "PrometheusRule", "prometheusrules", prometheus_rule)

ALERTMANAGER_CONFIG = ChildKind(
    "monitoring.coreos.com/v1alpha1", "AlertmanagerConfig", "alertmanagerconfigs", alertmanager_config
)

# Core group ("v1"): resource_path() and kopf's watch both handle the empty group.
DASHBOARD_CONFIGMAP = ChildKind("v1", "ConfigMap", "configmaps", dashboard_configmap)

CHILD_KINDS: tuple[ChildKind, ...] = (PROMETHEUS_RULE, ALERTMANAGER_CONFIG, DASHBOARD_CONFIGMAP)


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
