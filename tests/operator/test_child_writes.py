"""How the operator writes an SLO's children (``reconcile.write_child``) on the real API server, with
its RBAC identity: created by POST, left alone while they are what is rendered, replaced whole when not.

Field ownership is the API server's to judge, so it is checked here and not against a fake: a created
child's fields belong to the operator as an update's, and a field it no longer renders must still go
(a server-side apply over a create would leave it to the create), and a restart must send nothing for
a settled child.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from slo_operator.child_watch import list_metadata
from slo_operator.children import CHILD_KINDS, DASHBOARD_CONFIGMAP, PROMETHEUS_RULE
from slo_operator.kube import KubeClient, load_credentials
from slo_operator.reconcile import reconcile_children, write_child
from slo_operator.render import MANAGED_BY, RenderOptions
from slo_operator.watch_cache import RENDERED_ANNOTATION, WatchCache
from support.cluster import kubectl
from support.slo_documents import slo_document
from support.slo_objects import apply, get

pytestmark = pytest.mark.cluster

RULE, BOARD = "checkout-slo", "checkout-slo-dashboard"
LABELLED = RenderOptions(rule_labels={"team": "payments"})


class CountingKube(KubeClient):
    """The operator's client, recording every request (method, path) it makes."""

    def __init__(self, kubeconfig: Path) -> None:
        super().__init__(load_credentials(str(kubeconfig)))
        self.calls: list[tuple[str, str]] = []

    def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        self.calls.append((method, path))
        return super().request(method, path, **kwargs)

    def writes(self) -> list[str]:
        """The writes, as "METHOD plural" (a POST's path ends with the plural, the others' with the name)."""
        return sorted(
            f"{method} {path.split('/')[-1 if method == 'POST' else -2]}"
            for method, path in self.calls
            if method != "GET"
        )


def primed(kube: KubeClient, namespace: str) -> WatchCache:
    """The cache as an operator starting now has it: one metadata LIST per child kind."""
    cache = WatchCache(manager=kube.field_manager)
    selector = ",".join(f"{key}={value}" for key, value in MANAGED_BY.items())
    for kind in CHILD_KINDS:
        cache.prime_children(kind.plural, list_metadata(kube, kind, namespace, selector)[0])
    return cache


def managers(kubeconfig: Path, namespace: str) -> list[tuple[str, str]]:
    """Who owns the PrometheusRule's fields (manager, operation), as the API server records it."""
    admin = KubeClient(load_credentials(str(kubeconfig)))
    try:
        metadata = (admin.get_metadata(PROMETHEUS_RULE, namespace, RULE) or {})["metadata"]
    finally:
        admin.close()
    return sorted((e["manager"], e["operation"]) for e in metadata.get("managedFields") or [])


def test_children_are_created_left_alone_and_replaced_whole(
    kubeconfig: Path, operator_kubeconfig: Path, namespace: str
) -> None:
    apply(kubeconfig, slo_document("checkout", namespace, service="checkout"))
    body = get("slo", "checkout", namespace, kubeconfig)
    assert body is not None
    kube = CountingKube(operator_kubeconfig)

    # A new SLO: each child is one POST, owned by the operator (an update's fields), with its digest.
    cache = primed(kube, namespace)
    kube.calls.clear()
    first = reconcile_children(body, kube, LABELLED, cache)
    assert first.error is None and len(first.applied) == 2, first
    assert kube.writes() == ["POST configmaps", "POST prometheusrules"]
    rule = get("prometheusrule", RULE, namespace, kubeconfig)
    assert rule is not None and rule["metadata"]["labels"]["team"] == "payments"
    assert managers(kubeconfig, namespace) == [("slo-operator", "Update")]
    assert rule["metadata"]["annotations"][RENDERED_ANNOTATION]
    versions = {kind: (get(kind, name, namespace, kubeconfig) or {})["metadata"]["resourceVersion"]
                for kind, name in (("prometheusrule", RULE), ("configmap", BOARD))}

    # A restart (the cache listed afresh): a settled child costs no request at all.
    cache = primed(kube, namespace)
    kube.calls.clear()
    again = reconcile_children(body, kube, LABELLED, cache)
    assert again.error is None and not again.applied and len(again.unchanged) == 2, again
    assert kube.calls == []
    assert {k: (get(k, n, namespace, kubeconfig) or {})["metadata"]["resourceVersion"]
            for k, n in (("prometheusrule", RULE), ("configmap", BOARD))} == versions

    # Rendered differently (the rule label is no longer configured): the rule is replaced whole and the
    # label goes, although its field belongs to the create; the unchanged dashboard is left alone.
    cache = primed(kube, namespace)
    kube.calls.clear()
    changed = reconcile_children(body, kube, RenderOptions(), cache)
    assert changed.applied == [f"PrometheusRule/{RULE}"], changed
    assert kube.writes() == ["PUT prometheusrules"]
    rule = get("prometheusrule", RULE, namespace, kubeconfig)
    assert rule is not None and "team" not in rule["metadata"]["labels"]
    assert managers(kubeconfig, namespace) == [("slo-operator", "Update")]

    # A hand edit (another field manager): written back whole, the editor's ownership gone with it;
    # the write's answer leaves the cache clean, so the next reconcile sends nothing.
    interval = rule["spec"]["groups"][0]["interval"]
    edit = [{"op": "replace", "path": "/spec/groups/0/interval", "value": "5m"},
            {"op": "add", "path": "/metadata/labels/edited", "value": "by-hand"}]
    kubectl("patch", "prometheusrule", RULE, "-n", namespace, "--type=json", "-p", json.dumps(edit),
            kubeconfig=kubeconfig)
    cache = primed(kube, namespace)  # what the watch delivers of the edit
    kube.calls.clear()
    restored = reconcile_children(body, kube, RenderOptions(), cache)
    assert restored.applied == [f"PrometheusRule/{RULE}"] and kube.writes() == ["PUT prometheusrules"]
    rule = get("prometheusrule", RULE, namespace, kubeconfig)
    assert rule is not None and "edited" not in rule["metadata"]["labels"]
    assert rule["spec"]["groups"][0]["interval"] == interval != "5m"
    assert managers(kubeconfig, namespace) == [("slo-operator", "Update")]
    kube.calls.clear()
    assert not reconcile_children(body, kube, RenderOptions(), cache).applied and kube.calls == []


def test_a_stale_or_missing_cache_entry_is_read_again_once(
    kubeconfig: Path, operator_kubeconfig: Path, namespace: str
) -> None:
    """The cache trails the API server: a resourceVersion that moved on (409), a child deleted (404) or
    one that exists without the cache knowing it (409 on create) costs one GET and the write again."""
    kube = CountingKube(operator_kubeconfig)
    board = {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "board", "namespace": namespace, "labels": dict(MANAGED_BY)},
             "data": {"board.json": "{}"}}
    created = write_child(kube, DASHBOARD_CONFIGMAP, json.loads(json.dumps(board)), None)
    assert created is not None
    kubectl("label", "configmap", "board", "-n", namespace, "edited=1", kubeconfig=kubeconfig)

    kube.calls.clear()  # stale version: PUT 409, GET, PUT
    stale = ("", created["metadata"]["resourceVersion"], "")
    assert write_child(kube, DASHBOARD_CONFIGMAP, json.loads(json.dumps(board)), stale) is not None
    assert [m for m, _ in kube.calls] == ["PUT", "GET", "PUT"]
    assert "edited" not in (get("configmap", "board", namespace, kubeconfig) or {})["metadata"]["labels"]

    kube.calls.clear()  # unknown to the cache but there: POST 409, GET, PUT
    assert write_child(kube, DASHBOARD_CONFIGMAP, json.loads(json.dumps(board)), None) is not None
    assert [m for m, _ in kube.calls] == ["POST", "GET", "PUT"]

    kubectl("delete", "configmap", "board", "-n", namespace, kubeconfig=kubeconfig)
    kube.calls.clear()  # gone since the cache saw it: PUT 404, GET 404, POST
    assert write_child(kube, DASHBOARD_CONFIGMAP, json.loads(json.dumps(board)), stale) is not None
    assert [m for m, _ in kube.calls] == ["PUT", "GET", "POST"]
    assert get("configmap", "board", namespace, kubeconfig) is not None
