"""The rendered routing, checked by Alertmanager's own amtool: the plain alertmanager.yml, and the
AlertmanagerConfig converted the way prometheus-operator converts it (receiver names prefixed, namespace
matcher added, Secret keys resolved)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from routing_support import ROUTING, check_config, convert, example_document, route_receivers, slo_of
from slo_operator.render import alertmanager_config
from slo_operator.routing import FileReceivers, alertmanager_file

NS, NAME = "ml-serving", "model-availability"
SECRETS = {
    (NS, "pagerduty"): {"routing-key": "0123456789abcdef0123456789abcdef"},
    (NS, "slack-webhook"): {"url": "https://hooks.slack.com/services/T000/B000/XXXX"},
}


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


@pytest.mark.parametrize(
    ("routing", "expected"),
    [
        (ROUTING, {"critical": "pagerduty", "warning": "slack", "info": "slack"}),
        ({"pagerduty": ROUTING["pagerduty"]}, {"critical": "pagerduty", "warning": "none", "info": "none"}),
        ({"slack": ROUTING["slack"]}, {"critical": "slack", "warning": "slack", "info": "slack"}),
    ],
    ids=["both", "pagerduty-only", "slack-only"],
)
def test_converted_alertmanager_config_routes_each_severity(
    tmp_path: Path, routing: dict[str, Any], expected: dict[str, str]
) -> None:
    obj = alertmanager_config(slo_of(example_document("availability", routing)))
    assert obj is not None
    path = _write(tmp_path, convert([obj], SECRETS))
    prefix = f"{NS}/{NAME}-slo/"
    for severity, receiver in expected.items():
        assert route_receivers(path, _alert(severity)) == [prefix + receiver], severity
    # Alerts of another SLO, or of the same SLO name in another namespace, are not this object's business.
    assert route_receivers(path, _alert("critical", slo="other")) == ["null"]
    assert route_receivers(path, _alert("critical", namespace="elsewhere")) == ["null"]


def test_converted_config_resolves_secret_keys_and_keeps_the_templates(tmp_path: Path) -> None:
    obj = alertmanager_config(slo_of(example_document("availability", ROUTING)))
    assert obj is not None
    config = convert([obj], SECRETS)
    _write(tmp_path, config)
    pagerduty = config["receivers"][1]["pagerduty_configs"][0]
    assert pagerduty["routing_key"] == SECRETS[(NS, "pagerduty")]["routing-key"]
    assert pagerduty["details"]["slo"] == "{{ .CommonLabels.namespace }}/{{ .CommonLabels.slo }}"
    assert config["receivers"][2]["slack_configs"][0]["api_url"] == SECRETS[(NS, "slack-webhook")]["url"]
    assert config["inhibit_rules"][0]["source_matchers"] == [
        'severity="critical"',
        f'namespace="{NS}"',
        f'slo="{NAME}"',
    ]


def test_missing_secret_key_makes_the_conversion_fail_like_prometheus_operator() -> None:
    obj = alertmanager_config(slo_of(example_document("availability", ROUTING)))
    assert obj is not None
    with pytest.raises(KeyError, match="slack-webhook key url"):
        convert([obj], {(NS, "pagerduty"): SECRETS[(NS, "pagerduty")], (NS, "slack-webhook"): {}})


def test_several_slos_merge_into_one_valid_configuration(tmp_path: Path) -> None:
    objects = [
        alertmanager_config(slo_of(example_document(name, ROUTING)))
        for name in ("availability", "latency", "accuracy", "freshness")
    ]
    secrets: dict[tuple[str, str], dict[str, str]] = {}
    for obj in objects:
        assert obj is not None
        namespace = obj["metadata"]["namespace"]
        secrets[(namespace, "pagerduty")] = SECRETS[(NS, "pagerduty")]
        secrets[(namespace, "slack-webhook")] = SECRETS[(NS, "slack-webhook")]
    path = _write(tmp_path, convert([o for o in objects if o is not None], secrets))
    for obj in objects:
        assert obj is not None
        namespace, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        slo = obj["metadata"]["labels"]["slo.mlops.dev/name"]
        assert route_receivers(path, _alert("critical", slo, namespace)) == [f"{namespace}/{name}/pagerduty"]
        assert route_receivers(path, _alert("warning", slo, namespace)) == [f"{namespace}/{name}/slack"]


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
