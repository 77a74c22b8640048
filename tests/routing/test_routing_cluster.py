"""Alert routing on the real API server (etcd + kube-apiserver, prometheus-operator's CRDs installed):
the rendered AlertmanagerConfig passes server-side validation, and a missing or wrong Secret reference
shows up in the SLO's status and Events, also when the operator runs with the RBAC of manifests/rbac.yaml.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from routing_support import ROUTING, example_document, poll, slo_of
from slo_operator.api import SecretKeySelector
from slo_operator.kube import KubeClient, load_credentials
from slo_operator.reconcile import reconcile_children, status_after_reconcile
from slo_operator.render import RenderOptions, alertmanager_config
from slo_operator.routing import RoutingOptions
from support.cluster import kubectl
from support.processes import OperatorProcess, free_port

from devstack.identity import rbac_kubeconfig

pytestmark = pytest.mark.cluster

SA = "system:serviceaccount:slo-system:slo-operator"


def _document(namespace: str, routing: dict[str, Any] | None = ROUTING) -> dict[str, Any]:
    document = example_document("availability", routing)
    document["metadata"]["namespace"] = namespace
    return document


def _dry_run(obj: dict[str, Any], kubeconfig: Path) -> tuple[int, str]:
    proc = kubectl(
        "apply", "--dry-run=server", "-f", "-", kubeconfig=kubeconfig, input=json.dumps(obj), check=False
    )
    return proc.returncode, proc.stdout + proc.stderr


def _secret(namespace: str, name: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def _apply(objects: list[dict[str, Any]], kubeconfig: Path) -> None:
    kubectl("apply", "-f", "-", kubeconfig=kubeconfig, input=yaml.safe_dump_all(objects))


def _get(kind: str, name: str, namespace: str, kubeconfig: Path) -> dict[str, Any] | None:
    proc = kubectl("get", kind, name, "-n", namespace, "-o", "json", kubeconfig=kubeconfig, check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def _condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return next((dict(c) for c in conditions if c["type"] == type_), {})


@pytest.mark.parametrize(
    "routing",
    [ROUTING, {"pagerduty": ROUTING["pagerduty"]}, {"slack": {"apiURL": {"name": "s", "key": "u"}}}],
    ids=["both", "pagerduty-only", "slack-only-no-channel"],
)
def test_rendered_alertmanager_config_passes_server_side_dry_run(
    kubeconfig: Path, namespace: str, routing: dict[str, Any]
) -> None:
    options = RenderOptions(
        routing=RoutingOptions(pagerduty_url="https://events.eu.pagerduty.com/v2/enqueue")
    )
    obj = alertmanager_config(slo_of(_document(namespace, routing)), options)
    assert obj is not None
    code, output = _dry_run(obj, kubeconfig)
    assert code == 0, output
    assert "alertmanagerconfig.monitoring.coreos.com/model-availability-slo" in output

    broken = copy.deepcopy(obj)  # control: the server really validates against the CRD schema
    broken["spec"]["route"]["matchers"][0]["matchType"] = "=="
    code, output = _dry_run(broken, kubeconfig)
    assert code != 0 and "matchType" in output


def test_reconcile_on_the_api_server_reports_secret_problems_and_cleans_up(
    kubeconfig: Path, namespace: str
) -> None:
    kube = KubeClient(load_credentials(str(kubeconfig)), field_manager="slo-routing-tests")
    options = RenderOptions(
        routing=RoutingOptions(slack_api_url=SecretKeySelector(name="default-slack", key="url"))
    )
    try:
        _apply([_document(namespace, {"pagerduty": ROUTING["pagerduty"]})], kubeconfig)

        def reconcile() -> tuple[dict[str, Any], dict[str, str]]:
            body = kube.get_slo(namespace, "model-availability")
            assert body is not None
            outcome = reconcile_children(body, kube, options)
            assert outcome.error is None, outcome.error
            status = status_after_reconcile(body, outcome)
            routing = next(c for c in status["conditions"] if c["type"] == "RoutingReady")
            return body, routing

        body, routing = reconcile()
        assert (routing["status"], routing["reason"]) == ("False", "SecretNotFound")
        assert "Secret " + namespace + "/pagerduty not found" in routing["message"]
        assert "operator default SLO_OPERATOR_SLACK_SECRET" in routing["message"]
        amc = _get("alertmanagerconfig", "model-availability-slo", namespace, kubeconfig)
        assert amc is not None  # applied all the same: prometheus-operator picks it up once the Secret exists
        assert amc["metadata"]["ownerReferences"][0]["uid"] == body["metadata"]["uid"]
        assert amc["spec"]["receivers"][1]["slackConfigs"][0]["apiURL"] == {
            "name": "default-slack",
            "key": "url",
        }

        _apply(
            [
                _secret(namespace, "pagerduty", {"routing-key": "k"}),
                _secret(namespace, "default-slack", {"webhook": "u"}),
            ],
            kubeconfig,
        )
        _body, routing = reconcile()
        assert (routing["status"], routing["reason"]) == ("False", "KeyNotFound")
        assert "has no key 'url'" in routing["message"]

        _apply(
            [_secret(namespace, "default-slack", {"url": "https://hooks.slack.com/services/T/B/X"})],
            kubeconfig,
        )
        _body, routing = reconcile()
        assert (routing["status"], routing["reason"]) == ("True", "SecretsFound")

        _apply([_document(namespace, {"enabled": False})], kubeconfig)  # routing switched off: object goes
        _body, routing = reconcile()
        assert (routing["status"], routing["reason"]) == ("True", "NotConfigured")
        assert _get("alertmanagerconfig", "model-availability-slo", namespace, kubeconfig) is None
    finally:
        kube.close()


def _events(namespace: str, name: str, kubeconfig: Path) -> list[tuple[str, str, str]]:
    items = json.loads(kubectl("get", "events", "-n", namespace, "-o", "json", kubeconfig=kubeconfig).stdout)
    return [
        (e["type"], e["reason"], e["message"])
        for e in items["items"]
        if e["involvedObject"].get("name") == name
    ]


def test_operator_with_its_rbac_reports_routing_in_status_and_events(
    kubeconfig: Path, namespace: str, tmp_path: Path
) -> None:
    identity = rbac_kubeconfig(kubeconfig, tmp_path / "operator.kubeconfig", duration="1h")
    can = {
        verb: kubectl(
            "auth", "can-i", verb, "secrets", "-n", namespace, "--as", SA, kubeconfig=kubeconfig, check=False
        ).stdout.strip()
        for verb in ("get", "list", "watch")
    }
    assert can == {"get": "yes", "list": "no", "watch": "no"}
    # Prometheus is not part of this test: a closed port makes PrometheusReachable False, nothing else.
    operator = OperatorProcess(
        tmp_path, identity, f"http://127.0.0.1:{free_port()}", ["--namespace", namespace]
    )
    operator.start()
    try:
        _apply([_document(namespace)], kubeconfig)

        def routing_condition(status: str) -> dict[str, Any]:
            condition = _condition(_get("slo", "model-availability", namespace, kubeconfig), "RoutingReady")
            return condition if condition.get("status") == status else {}

        condition = poll(lambda: routing_condition("False"), 60, "RoutingReady=False")
        assert condition["reason"] == "SecretNotFound"
        warning = poll(
            lambda: [
                e for e in _events(namespace, "model-availability", kubeconfig) if e[1] == "SecretNotFound"
            ],
            30,
            "Warning event SecretNotFound",
        )
        assert warning[0][0] == "Warning" and f"Secret {namespace}/pagerduty not found" in warning[0][2]
        ready = _condition(_get("slo", "model-availability", namespace, kubeconfig), "Ready")
        assert ready["status"] == "False" and "missing Secret" in ready["message"]
        amc = poll(
            lambda: _get("alertmanagerconfig", "model-availability-slo", namespace, kubeconfig), 30, "AMC"
        )
        assert amc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "slo-operator"

        # Creating the Secrets needs no spec change: the status refresh checks the references again.
        _apply(
            [
                _secret(namespace, "pagerduty", {"routing-key": "k"}),
                _secret(namespace, "slack-webhook", {"url": "https://hooks.slack.com/services/T/B/X"}),
            ],
            kubeconfig,
        )
        condition = poll(lambda: routing_condition("True"), 60, "RoutingReady=True")
        assert condition["reason"] == "SecretsFound"
        poll(
            lambda: [
                e for e in _events(namespace, "model-availability", kubeconfig) if e[1] == "RoutingReady"
            ],
            30,
            "Normal event RoutingReady",
        )
        assert "Traceback" not in operator.log(), operator.tail()
    except BaseException:
        print(operator.tail(80))
        raise
    finally:
        operator.stop()
