"""The rendered routing, checked by Alertmanager's own amtool: the plain alertmanager.yml, and the
configuration prometheus-operator itself generates from our AlertmanagerConfigs (the real operator runs
against the control plane; receiver names prefixed, namespace matcher added by the OnNamespace strategy,
Secret keys resolved, an AlertmanagerConfig with a broken reference left out)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from routing_support import ROUTING, check_config, example_document, route_receivers, slo_of
from slo_operator.render import RenderOptions, alertmanager_config
from slo_operator.routing import FileReceivers, RoutingOptions, alertmanager_file
from support.cluster import kubectl, wait_for
from support.monitoring import MonitoringPair

NS, NAME = "ml-serving", "model-availability"
SECRETS = {
    "pagerduty": {"routing-key": "0123456789abcdef0123456789abcdef"},
    "slack-webhook": {"url": "https://hooks.slack.com/services/T000/B000/XXXX"},
}
VARIANTS = {
    "both": ROUTING,
    "pagerduty-only": {"pagerduty": ROUTING["pagerduty"]},
    "slack-only": {"slack": ROUTING["slack"]},
}
EXAMPLES = ("availability", "latency", "accuracy", "freshness")


def _alert(severity: str, slo: str = NAME, namespace: str = NS) -> dict[str, str]:
    return {
        "alertname": "SLOFastBurn",
        "severity": severity,
        "slo": slo,
        "namespace": namespace,
        "service": "cancer-classifier",
    }


def _write(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    check_config(path)
    return path


class Generated:
    """prometheus-operator's configuration for this module's AlertmanagerConfigs, as a file."""

    def __init__(self, namespace: str, config: dict[str, Any], path: Path, pair: MonitoringPair) -> None:
        self.namespace, self.config, self.path, self.pair = namespace, config, path, pair


def _amc(document: dict[str, Any], name: str, namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    document["metadata"].update(name=name, namespace=namespace)
    obj = alertmanager_config(slo_of(document), RenderOptions(routing=RoutingOptions(labels=labels)))
    assert obj is not None
    return obj


@pytest.fixture(scope="module")
def generated(
    kubeconfig: Path, prometheus_operator: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Generated]:
    namespace = f"amtool-{uuid.uuid4().hex[:8]}"
    pair = MonitoringPair(kubeconfig, "amtool")
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    ]
    for name, data in SECRETS.items():
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name, "namespace": namespace},
                "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
            }
        )
    for variant, routing in VARIANTS.items():
        objects.append(_amc(example_document("availability", routing), variant, namespace, pair.labels))
    for example in EXAMPLES:
        document = example_document(example, ROUTING)
        objects.append(_amc(document, document["metadata"]["name"], namespace, pair.labels))
    # A reference prometheus-operator cannot resolve: it rejects this one and keeps the others.
    broken = example_document("availability", {"slack": {"apiURL": {"name": "slack-webhook", "key": "nope"}}})
    objects.append(_amc(broken, "broken", namespace, pair.labels))
    kubectl("apply", "-f", "-", kubeconfig=kubeconfig, input=yaml.safe_dump_all(objects))
    expected = [f"{namespace}/{variant}-slo/{r}" for variant in VARIANTS for r in ("pagerduty", "slack")]
    expected = [
        r for r in expected if not r.endswith(("pagerduty-only-slo/slack", "slack-only-slo/pagerduty"))
    ]
    expected += [f"{namespace}/{o['metadata']['name']}/pagerduty" for o in objects[-len(EXAMPLES) - 1 : -1]]
    try:
        config = pair.alertmanager_config(expected)
        directory = tmp_path_factory.mktemp("amtool")
        yield Generated(namespace, config, _write(directory, config), pair)
    finally:
        pair.delete()
        kubectl("delete", "namespace", namespace, "--wait=false", kubeconfig=kubeconfig, check=False)


@pytest.mark.cluster
@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("both", {"critical": "pagerduty", "warning": "slack", "info": "slack"}),
        ("pagerduty-only", {"critical": "pagerduty", "warning": "none", "info": "none"}),
        ("slack-only", {"critical": "slack", "warning": "slack", "info": "slack"}),
    ],
)
def test_generated_configuration_routes_each_severity(
    generated: Generated, variant: str, expected: dict[str, str]
) -> None:
    ns = generated.namespace
    prefix = f"{ns}/{variant}-slo/"
    for severity, receiver in expected.items():
        assert route_receivers(generated.path, _alert(severity, variant, ns)) == [prefix + receiver], severity
    # Alerts of another SLO, or of the same SLO name in another namespace (OnNamespace), go elsewhere.
    root = generated.config["route"]["receiver"]
    assert route_receivers(generated.path, _alert("critical", "other", ns)) == [root]
    assert route_receivers(generated.path, _alert("critical", variant, "elsewhere")) == [root]


@pytest.mark.cluster
def test_generated_configuration_resolves_secret_keys_and_keeps_the_templates(generated: Generated) -> None:
    ns = generated.namespace
    receivers = {r["name"]: r for r in generated.config["receivers"]}
    pagerduty = receivers[f"{ns}/both-slo/pagerduty"]["pagerduty_configs"][0]
    assert pagerduty["routing_key"] == SECRETS["pagerduty"]["routing-key"]
    assert pagerduty["details"]["slo"] == "{{ .CommonLabels.namespace }}/{{ .CommonLabels.slo }}"
    slack = receivers[f"{ns}/both-slo/slack"]["slack_configs"][0]
    assert slack["api_url"] == SECRETS["slack-webhook"]["url"]
    (route,) = [r for r in generated.config["route"]["routes"] if r["receiver"].startswith(f"{ns}/both-slo/")]
    assert f'namespace="{ns}"' in route["matchers"]  # OnNamespace: the operator added it
    inhibit = [
        rule for rule in generated.config.get("inhibit_rules", []) if 'slo="both"' in rule["source_matchers"]
    ]
    assert inhibit and f'namespace="{ns}"' in inhibit[0]["source_matchers"]
    assert 'severity="critical"' in inhibit[0]["source_matchers"]


@pytest.mark.cluster
def test_an_unresolvable_reference_is_rejected_and_left_out(generated: Generated, kubeconfig: Path) -> None:
    ns = generated.namespace
    assert not [r for r in generated.config["receivers"] if r["name"].startswith(f"{ns}/broken-slo/")]

    def rejection() -> list[str]:
        items = json.loads(kubectl("get", "events", "-n", ns, "-o", "json", kubeconfig=kubeconfig).stdout)
        return [
            e["message"]
            for e in items["items"]
            if e["reason"] == "InvalidConfiguration" and e["involvedObject"]["name"] == "broken-slo"
        ]

    (message,) = wait_for(rejection, 120, 0.5, "prometheus-operator's InvalidConfiguration Event")
    assert "nope" in message and "broken-slo" in message


@pytest.mark.cluster
def test_several_slos_merge_into_one_valid_configuration(generated: Generated) -> None:
    ns = generated.namespace
    for example in EXAMPLES:
        name = example_document(example)["metadata"]["name"]
        prefix = f"{ns}/{name}-slo/"
        assert route_receivers(generated.path, _alert("critical", name, ns)) == [prefix + "pagerduty"]
        assert route_receivers(generated.path, _alert("warning", name, ns)) == [prefix + "slack"]


def test_rendered_alertmanager_yml_passes_amtool_and_routes_each_severity(tmp_path: Path) -> None:
    for secret in ("pd", "slack"):
        (tmp_path / secret).write_text("not-a-real-secret")
    slos = [slo_of(example_document(name)) for name in ("availability", "latency")]
    endpoints = FileReceivers(
        str(tmp_path / "pd"), "http://127.0.0.1:9/v2/enqueue", str(tmp_path / "slack"), "#slo-alerts"
    )
    path = _write(tmp_path, alertmanager_file(slos, endpoints))
    for slo in slos:
        prefix = f"{slo.namespace}/{slo.name}/"
        assert route_receivers(path, _alert("critical", slo.name, slo.namespace)) == [prefix + "pagerduty"]
        assert route_receivers(path, _alert("warning", slo.name, slo.namespace)) == [prefix + "slack"]
        assert route_receivers(path, _alert("ticket", slo.name, slo.namespace)) == [prefix + "slack"]
    assert route_receivers(path, {"alertname": "KubePodCrashLooping", "severity": "critical"}) == ["none"]


def test_rendered_alertmanager_yml_with_pagerduty_only(tmp_path: Path) -> None:
    (tmp_path / "pd").write_text("not-a-real-secret")
    slo = slo_of(example_document("availability"))
    path = _write(
        tmp_path, alertmanager_file([slo], FileReceivers(pagerduty_routing_key_file=str(tmp_path / "pd")))
    )
    assert route_receivers(path, _alert("critical")) == [f"{NS}/{NAME}/pagerduty"]
    assert route_receivers(path, _alert("warning")) == ["none"]
