"""``shared_rules``: what the operator knows of a namespace's SLOs, and when it writes their shared rules.

The object itself is rendered by ``render.shared_prometheus_rule`` (goldens, promtool scenarios); here:
written only once a namespace's SLOs are all known, only when it changed, and deleted with the last SLO.
The cluster suite (``tests/operator``) checks the same against a real API server.
"""

from __future__ import annotations

from typing import Any

from slo_operator.api import ServiceLevelObjective
from slo_operator.kube import KubeClient
from slo_operator.model import SLO, resolve
from slo_operator.render import SHARED_RULE_NAME, RenderOptions
from slo_operator.shared_rules import SharedRules, SharedRulesWatcher


def body(name: str, namespace: str = "shop", window: str = "30d", generation: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": name, "namespace": namespace, "generation": generation},
        "spec": {"service": name, "objective": 99.9, "window": window,
                 "indicator": {"availability": {"errors": 'x{code="5xx"}', "total": "x"}}},
    }


def resolved(document: dict[str, Any]) -> SLO:
    return resolve(ServiceLevelObjective.model_validate(document))


class Recorder:
    """The two writes ``flush`` makes, recorded (a stand-in for ``KubeClient``)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []

    def apply(self, kind: Any, obj: dict[str, Any], metadata_only: bool = False) -> dict[str, Any]:
        self.calls.append(("apply", obj["metadata"]["namespace"], len(obj["spec"]["groups"][0]["rules"])))
        return obj

    def delete(self, kind: Any, namespace: str, name: str) -> bool:
        assert name == SHARED_RULE_NAME
        self.calls.append(("delete", namespace, 0))
        return True


def test_written_once_the_namespace_is_known_only_when_changed_and_deleted_with_the_last_slo() -> None:
    rules, kube = SharedRules(RenderOptions()), Recorder()
    flush = lambda: rules.flush(_typed(kube))  # noqa: E731
    watcher = SharedRulesWatcher(rules, resolved)
    watcher.seen(body("a"), False)
    assert flush() == [] and kube.calls == []  # the first LIST is not complete yet
    watcher.seen(body("b"), False)
    watcher.whole("", {("shop", "a"), ("shop", "b")})
    assert flush() == [f"applied shop/{SHARED_RULE_NAME}"]
    # Same shape, another SLO, a status write (same generation): nothing to write.
    watcher.seen(body("c"), False)
    watcher.seen(body("a"), False)
    assert flush() == []
    # A 7d SLO: the shared rules get its SLI window.
    watcher.seen(body("d", window="7d"), False)
    assert flush() == [f"applied shop/{SHARED_RULE_NAME}"]
    assert len(rules.examples["shop"]) == 2
    for name in ("a", "b", "c"):
        watcher.seen(body(name), True)
    assert flush() == [f"applied shop/{SHARED_RULE_NAME}"]  # only the 7d shape left
    watcher.seen(body("d", window="7d"), True)
    assert flush() == [f"deleted shop/{SHARED_RULE_NAME}"]
    assert [c[0] for c in kube.calls] == ["apply", "apply", "apply", "delete"]


def _one_slo_in_each_of_two_namespaces() -> tuple[SharedRules, SharedRulesWatcher]:
    """SLO "a" in namespace "a" and "b" in "b", both known from a whole LIST."""
    rules = SharedRules(RenderOptions())
    watcher = SharedRulesWatcher(rules, resolved)
    for name in ("a", "b"):
        watcher.seen(body(name, namespace=name), False)
    watcher.whole("", {("a", "a"), ("b", "b")})
    return rules, watcher


def test_a_relisting_forgets_slos_deleted_while_the_watch_was_away() -> None:
    (rules, watcher), kube = _one_slo_in_each_of_two_namespaces(), Recorder()
    applied = [f"applied {ns}/{SHARED_RULE_NAME}" for ns in ("a", "b")]
    assert sorted(rules.flush(_typed(kube))) == applied
    watcher.whole("", {("a", "a")})
    assert rules.flush(_typed(kube)) == [f"deleted b/{SHARED_RULE_NAME}"]
    assert set(rules.shapes) == {"a"}


def test_shapes_are_shared_and_an_invalid_slo_has_none() -> None:
    rules = SharedRules(RenderOptions())
    for name in ("a", "b", "c"):
        rules.update("shop", name, resolved(body(name)))
    shapes = list(rules.shapes["shop"].values())
    assert shapes[0] is shapes[1] is shapes[2]
    rules.update("shop", "b", None)
    assert set(rules.shapes["shop"]) == {"a", "c"}
    assert rules.examples["shop"][shapes[0]][0] == 2


def _typed(kube: Recorder) -> KubeClient:
    return kube  # type: ignore[return-value]


class Server(Recorder):
    """``Recorder`` with the shared objects an API server would hold: a generation bumped by each write
    that changes them, and a LIST of them."""

    def __init__(self) -> None:
        super().__init__()
        self.objects: dict[str, dict[str, Any]] = {}

    def apply(self, kind: Any, obj: dict[str, Any], metadata_only: bool = False) -> dict[str, Any]:
        super().apply(kind, obj, metadata_only)
        namespace = obj["metadata"]["namespace"]
        old = self.objects.get(namespace)
        generation = 1 if old is None else old["metadata"]["generation"] + (old["spec"] != obj["spec"])
        self.objects[namespace] = {"metadata": {**obj["metadata"], "generation": generation},
                                   "spec": obj["spec"]}
        return {"metadata": self.objects[namespace]["metadata"]}

    def delete(self, kind: Any, namespace: str, name: str) -> bool:
        super().delete(kind, namespace, name)
        return self.objects.pop(namespace, None) is not None

    def list_all(
        self, kind: Any, namespace: str = "", label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        return [o for ns, o in self.objects.items() if namespace in ("", ns)]


def test_a_shared_object_deleted_or_edited_by_hand_is_written_again_at_the_next_check() -> None:
    (rules, _), server = _one_slo_in_each_of_two_namespaces(), Server()
    assert len(rules.flush(_typed(server))) == 2
    assert rules.check(_typed(server), ()) == []  # as written: nothing to do
    assert rules.flush(_typed(server)) == []
    written = server.objects["a"]["spec"]
    # Edited by hand (its generation moves) and deleted by hand.
    server.objects["a"] = {"metadata": {**server.objects["a"]["metadata"], "generation": 2},
                           "spec": {"groups": []}}
    del server.objects["b"]
    assert rules.check(_typed(server), ()) == ["a", "b"]
    assert sorted(rules.flush(_typed(server))) == [f"applied {ns}/{SHARED_RULE_NAME}" for ns in ("a", "b")]
    assert server.objects["a"]["spec"] == written and "b" in server.objects
    assert rules.check(_typed(server), ()) == []  # the rewrite's generation is the one kept
