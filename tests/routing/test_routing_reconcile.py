"""The reconciler's Secret check for alert routing (RoutingReady) with an in-memory API double: which
condition, which Event, and that a cluster without the AlertmanagerConfig CRD still reconciles."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest
from routing_support import ROUTING, example_document, slo_of
from slo_operator.children import ALERTMANAGER_CONFIG, ChildKind
from slo_operator.kube import KubeClient, KubeError
from slo_operator.reconcile import (
    Outcome,
    check_routing,
    reconcile_children,
    routing_event,
    status_after_reconcile,
)
from slo_operator.render import RenderOptions
from slo_operator.status import set_condition

NOW = datetime(2026, 1, 1, tzinfo=UTC)
OPTIONS = RenderOptions()


class FakeKube:
    """Just the calls reconcile_children and check_routing make."""

    def __init__(
        self,
        secrets: dict[tuple[str, str], dict[str, str]],
        missing_kinds: tuple[str, ...] = (),
        secret_status: int | None = None,
    ) -> None:
        self.secrets = secrets
        self.missing_kinds = missing_kinds
        self.secret_status = secret_status
        self.applied: list[dict[str, Any]] = []
        self.secret_gets: list[tuple[str, str]] = []

    def get_secret_keys(self, namespace: str, name: str) -> frozenset[str] | None:
        self.secret_gets.append((namespace, name))
        if self.secret_status:
            raise KubeError(self.secret_status, "secrets is forbidden")
        data = self.secrets.get((namespace, name))
        return None if data is None else frozenset(data)

    def list_objects(
        self, kind: ChildKind, namespace: str, selector: str | None = None
    ) -> list[dict[str, Any]]:
        if kind.plural in self.missing_kinds:
            raise KubeError(404, "the server could not find the requested resource")
        return []

    def apply(self, kind: ChildKind, obj: dict[str, Any], metadata_only: bool = False) -> dict[str, Any]:
        if kind.plural in self.missing_kinds:
            raise KubeError(404, "the server could not find the requested resource")
        self.applied.append(obj)
        return {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(len(self.applied))}}

    def delete(self, kind: ChildKind, namespace: str, name: str) -> bool:
        return False

    def list_policies(self, namespaces: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        return []  # no ErrorBudgetPolicy in these tests


def api(kube: FakeKube) -> KubeClient:
    return cast(KubeClient, kube)


def _body(routing: dict[str, Any] | None = ROUTING) -> dict[str, Any]:
    body = example_document("availability", routing)
    body["metadata"].update(uid="uid-1", generation=3, resourceVersion="7")
    return body


GOOD = {("ml-serving", "pagerduty"): {"routing-key": "x"}, ("ml-serving", "slack-webhook"): {"url": "y"}}


def test_all_references_resolve() -> None:
    status, reason, message = check_routing(slo_of(_body()), api(FakeKube(GOOD)), OPTIONS)
    assert (status, reason) == ("True", "SecretsFound")
    assert "pagerduty, slack" in message


def test_missing_secret_and_missing_key_are_named_with_where_the_reference_came_from() -> None:
    kube = FakeKube({("ml-serving", "slack-webhook"): {"webhook": "y"}})
    status, reason, message = check_routing(slo_of(_body()), api(kube), OPTIONS)
    assert (status, reason) == ("False", "SecretNotFound")
    assert (
        "pagerduty: Secret ml-serving/pagerduty not found (spec.alerting.routing.pagerduty.routingKey)"
        in message
    )
    assert (
        "slack: Secret ml-serving/slack-webhook has no key 'url' (spec.alerting.routing.slack.apiURL)"
        in message
    )
    status, reason, _ = check_routing(slo_of(_body({"slack": ROUTING["slack"]})), api(kube), OPTIONS)
    assert (status, reason) == ("False", "KeyNotFound")


def test_no_routing_needs_no_secret_read() -> None:
    kube = FakeKube({})
    assert check_routing(slo_of(_body(None)), api(kube), OPTIONS)[:2] == ("True", "NotConfigured")
    assert kube.secret_gets == []


@pytest.mark.parametrize(("code", "reason"), [(403, "SecretCheckForbidden"), (500, "SecretCheckFailed")])
def test_unreadable_secrets_leave_the_condition_unknown(code: int, reason: str) -> None:
    kube = FakeKube(GOOD, secret_status=code)
    assert check_routing(slo_of(_body()), api(kube), OPTIONS)[:2] == ("Unknown", reason)


def test_lookups_are_shared_through_the_cache() -> None:
    kube = FakeKube(GOOD)
    cache: dict[tuple[str, str], frozenset[str] | None] = {}
    for _ in range(3):
        check_routing(slo_of(_body()), api(kube), OPTIONS, cache)
    assert sorted(kube.secret_gets) == [("ml-serving", "pagerduty"), ("ml-serving", "slack-webhook")]


def test_reconcile_applies_the_alertmanager_config_and_reports_routing_in_status() -> None:
    kube = FakeKube({})
    outcome = reconcile_children(_body(), api(kube), OPTIONS)
    assert outcome.error is None
    assert "AlertmanagerConfig/model-availability-slo" in outcome.applied
    assert outcome.routing is not None and outcome.routing[:2] == ("False", "SecretNotFound")
    status = status_after_reconcile(_body(), outcome, NOW)
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["RoutingReady"]["status"] == "False"
    assert conditions["RoutingReady"]["observedGeneration"] == 3
    assert conditions["Ready"]["status"] == "False"
    assert "alert routing refers to a missing Secret" in conditions["Ready"]["message"]
    assert conditions["RulesApplied"]["status"] == "True"  # the object is applied all the same


def test_cluster_without_the_alertmanagerconfig_crd_still_reconciles_slos_without_routing() -> None:
    kube = FakeKube({}, missing_kinds=(ALERTMANAGER_CONFIG.plural,))
    outcome = reconcile_children(_body(None), api(kube), OPTIONS)
    assert outcome.error is None and "PrometheusRule/model-availability-slo" in outcome.applied
    outcome = reconcile_children(_body(), api(kube), OPTIONS)
    assert outcome.error is not None and "404" in outcome.error  # wanted but impossible: reported


def _status(status: str | None, message: str = "m") -> dict[str, Any]:
    if status is None:
        return {}
    return {"conditions": set_condition([], "RoutingReady", status, "SecretNotFound", message, NOW)}


@pytest.mark.parametrize(
    ("before", "after", "event"),
    [
        (None, "False", ("Warning", "SecretNotFound")),
        ("True", "False", ("Warning", "SecretNotFound")),
        ("False", "False", None),
        ("False", "True", ("Normal", "RoutingReady")),
        (None, "True", None),
        ("True", "True", None),
        ("Unknown", "True", None),
    ],
)
def test_routing_events_on_transitions_only(
    before: str | None, after: str, event: tuple[str, str] | None
) -> None:
    found = routing_event(_status(before), _status(after))
    assert (found[:2] if found else None) == event


def test_a_different_problem_is_news() -> None:
    assert routing_event(_status("False", "a"), _status("False", "b")) == ("Warning", "SecretNotFound", "b")


def test_outcome_without_routing_check_keeps_conditions_untouched() -> None:
    status = status_after_reconcile(_body(), Outcome(), NOW)
    assert "RoutingReady" not in {c["type"] for c in status["conditions"]}
