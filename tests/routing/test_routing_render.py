"""Rendering of alert routing: the AlertmanagerConfig child, the plain alertmanager.yml, the spec fields
that feed them and the operator settings that give defaults (pure, no processes)."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import pytest
import yaml
from routing_support import GOLDEN, ROUTING, example_document, slo_of
from slo_operator.api import SecretKeySelector
from slo_operator.children import ALERTMANAGER_CONFIG, CHILD_KINDS, desired_children
from slo_operator.cli import app
from slo_operator.config import OperatorConfig
from slo_operator.crd import custom_resource_definition
from slo_operator.loader import parse_object
from slo_operator.render import RenderOptions, alertmanager_config, to_yaml
from slo_operator.routing import (
    FileReceivers,
    RoutingOptions,
    alertmanager_config_spec,
    alertmanager_file,
    secret_references,
)
from typer.testing import CliRunner

UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
AMC_CRD = "monitoring.coreos.com_alertmanagerconfigs.yaml"


def compare(name: str, text: str) -> None:
    golden = GOLDEN / name
    if UPDATE:
        golden.write_text(text)
    assert golden.exists(), f"{golden} missing: run UPDATE_GOLDEN=1 pytest {__file__}"
    assert text == golden.read_text(), (
        f"rendered routing differs from {golden}; regenerate with UPDATE_GOLDEN=1"
    )


def defaults(**overrides: Any) -> RenderOptions:
    routing = RoutingOptions(
        pagerduty_routing_key=SecretKeySelector(name="oncall", key="pd-key"),
        slack_api_url=SecretKeySelector(name="chatops", key="webhook"),
        slack_channel="#slo-default",
        **overrides,
    )
    return RenderOptions(routing=routing)


def receiver_names(obj: dict[str, Any]) -> list[str]:
    return [r["name"] for r in obj["spec"]["receivers"]]


# ---- the AlertmanagerConfig ------------------------------------------------------------------------


def test_golden_alertmanager_config_of_the_availability_example() -> None:
    obj = alertmanager_config(slo_of(example_document("availability", ROUTING)))
    assert obj is not None
    compare("availability.alertmanagerconfig.yaml", to_yaml([obj]))


def test_routes_severities_and_inhibits_the_warning_of_the_same_slo() -> None:
    obj = alertmanager_config(slo_of(example_document("availability", ROUTING)))
    assert obj is not None
    spec = obj["spec"]
    route = spec["route"]
    assert obj["metadata"] == {
        "name": "model-availability-slo",
        "namespace": "ml-serving",
        "labels": {
            "app.kubernetes.io/managed-by": "slo-operator",
            "slo.mlops.dev/name": "model-availability",
        },
    }
    assert route["matchers"] == [
        {"name": "namespace", "value": "ml-serving", "matchType": "="},
        {"name": "slo", "value": "model-availability", "matchType": "="},
    ]
    assert route["groupBy"] == ["alertname", "namespace", "slo"]
    assert [(r["matchers"][0]["value"], r["receiver"]) for r in route["routes"]] == [
        ("critical", "pagerduty"),
        ("warning", "slack"),
    ]
    assert route["receiver"] == "slack"  # any other severity is seen, not dropped
    pagerduty = spec["receivers"][0]["pagerdutyConfigs"][0]
    assert pagerduty["routingKey"] == {"name": "pagerduty", "key": "routing-key"}
    assert pagerduty["sendResolved"] is True and pagerduty["severity"] == "critical"
    slack = spec["receivers"][1]["slackConfigs"][0]
    assert slack["apiURL"] == {"name": "slack-webhook", "key": "url"} and slack["channel"] == "#ml-alerts"
    assert slack["sendResolved"] is True
    (inhibit,) = spec["inhibitRules"]
    assert {m["name"]: m["value"] for m in inhibit["sourceMatch"]} == {
        "severity": "critical",
        "namespace": "ml-serving",
        "slo": "model-availability",
    }
    assert {m["name"]: m["value"] for m in inhibit["targetMatch"]} == {
        "severity": "warning",
        "namespace": "ml-serving",
        "slo": "model-availability",
    }
    assert inhibit["equal"] == ["namespace", "slo"]


def test_no_secret_value_is_ever_rendered() -> None:
    text = to_yaml([alertmanager_config(slo_of(example_document("availability", ROUTING)), defaults())])
    assert "routingKey:\n        name: pagerduty\n        key: routing-key" in text
    for secret_looking in ("https://hooks", "routing_key:", "api_url:"):
        assert secret_looking not in text


def test_no_receiver_anywhere_renders_nothing() -> None:
    """Documented behaviour: without spec.alerting.routing and without operator defaults, no object."""
    slo = slo_of(example_document("availability"))
    assert alertmanager_config(slo) is None
    assert secret_references(slo, RoutingOptions()) == []
    assert "AlertmanagerConfig" not in [k.kind for k, _ in desired_children(slo, _owner(), RenderOptions())]


def test_operator_defaults_fill_in_what_the_spec_leaves_out() -> None:
    slo = slo_of(example_document("availability"))
    obj = alertmanager_config(slo, defaults(pagerduty_url="https://events.eu.pagerduty.com/v2/enqueue"))
    assert obj is not None
    pagerduty = obj["spec"]["receivers"][0]["pagerdutyConfigs"][0]
    assert pagerduty["routingKey"] == {"name": "oncall", "key": "pd-key"}
    assert pagerduty["url"] == "https://events.eu.pagerduty.com/v2/enqueue"
    slack = obj["spec"]["receivers"][1]["slackConfigs"][0]
    assert slack["apiURL"] == {"name": "chatops", "key": "webhook"} and slack["channel"] == "#slo-default"
    assert [u.source for u in secret_references(slo, defaults().routing)] == [
        "operator default SLO_OPERATOR_PAGERDUTY_SECRET",
        "operator default SLO_OPERATOR_SLACK_SECRET",
    ]


def test_spec_wins_per_receiver_and_channel_falls_back_to_the_default() -> None:
    routing = {"slack": {"apiURL": {"name": "team-slack", "key": "url"}}}
    slo = slo_of(example_document("availability", routing))
    obj = alertmanager_config(slo, defaults())
    assert obj is not None
    assert obj["spec"]["receivers"][0]["pagerdutyConfigs"][0]["routingKey"]["name"] == "oncall"
    slack = obj["spec"]["receivers"][1]["slackConfigs"][0]
    assert slack["apiURL"]["name"] == "team-slack" and slack["channel"] == "#slo-default"
    assert [u.source for u in secret_references(slo, defaults().routing)] == [
        "operator default SLO_OPERATOR_PAGERDUTY_SECRET",
        "spec.alerting.routing.slack.apiURL",
    ]


def test_only_pagerduty_leaves_warnings_unnotified() -> None:
    routing = {"pagerduty": ROUTING["pagerduty"]}
    obj = alertmanager_config(slo_of(example_document("availability", routing)))
    assert obj is not None
    assert receiver_names(obj) == ["pagerduty", "none"]
    assert obj["spec"]["route"]["receiver"] == "none"
    assert [r["receiver"] for r in obj["spec"]["route"]["routes"]] == ["pagerduty"]


def test_only_slack_receives_everything_including_critical() -> None:
    routing = {"slack": ROUTING["slack"]}
    obj = alertmanager_config(slo_of(example_document("availability", routing)))
    assert obj is not None
    assert receiver_names(obj) == ["slack"]
    assert obj["spec"]["route"]["receiver"] == "slack"


@pytest.mark.parametrize("switch", ["routing", "alerting"])
def test_disabled_routing_or_alerting_renders_nothing_even_with_defaults(switch: str) -> None:
    document = example_document("availability", {**ROUTING, "enabled": switch != "routing"})
    document["spec"]["alerting"]["enabled"] = switch != "alerting"
    slo = slo_of(document)
    assert alertmanager_config(slo, defaults()) is None
    assert secret_references(slo, defaults().routing) == []


def test_group_by_labels_join_the_inhibition_equal_list() -> None:
    document = example_document("availability", ROUTING)
    document["spec"]["groupBy"] = ["model_version"]
    obj = alertmanager_config(slo_of(document))
    assert obj is not None
    assert obj["spec"]["inhibitRules"][0]["equal"] == ["namespace", "slo", "model_version"]


def test_child_kind_entry_renders_with_owner_reference() -> None:
    assert ALERTMANAGER_CONFIG in CHILD_KINDS
    assert (ALERTMANAGER_CONFIG.group, ALERTMANAGER_CONFIG.version) == ("monitoring.coreos.com", "v1alpha1")
    children = desired_children(slo_of(example_document("availability", ROUTING)), _owner(), RenderOptions())
    (obj,) = [obj for kind, obj in children if kind is ALERTMANAGER_CONFIG]
    assert obj["metadata"]["ownerReferences"][0]["uid"] == "1234"


def test_alertmanager_config_labels_are_configurable() -> None:
    options = RenderOptions(routing=RoutingOptions(labels={"alertmanagerConfig": "main"}))
    obj = alertmanager_config(slo_of(example_document("availability", ROUTING)), options)
    assert obj is not None and obj["metadata"]["labels"]["alertmanagerConfig"] == "main"


def _owner() -> dict[str, Any]:
    return {
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": "model-availability", "namespace": "ml-serving", "uid": "1234"},
    }


# ---- against prometheus-operator's CRD schema (no cluster needed) ------------------------------------


def _check_schema(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    """Fields, types, enums and required keys of ``value`` against a structural OpenAPI schema."""
    errors: list[str] = []
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int}
    if kind in types and not isinstance(value, types[kind]):
        return [f"{path}: expected {kind}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    if isinstance(value, dict) and "properties" in schema:
        errors += [f"{path}.{k}: required" for k in schema.get("required", []) if k not in value]
        for key, item in value.items():
            if key not in schema["properties"]:
                errors.append(f"{path}.{key}: unknown field (would be pruned)")
            else:
                errors += _check_schema(item, schema["properties"][key], f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += _check_schema(item, schema["items"], f"{path}[{i}]")
    return errors


def _prometheus_operator_crd() -> dict[str, Any]:
    from support.cluster import prometheus_operator_crd_dir

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))
    path = prometheus_operator_crd_dir() / AMC_CRD  # an error here is a broken set-up: make cluster-build
    return dict(yaml.load(path.read_text(), Loader=Loader))


@pytest.mark.parametrize(
    "routing", [ROUTING, {"pagerduty": ROUTING["pagerduty"]}, {"slack": ROUTING["slack"]}]
)
def test_rendered_object_fits_the_alertmanagerconfig_crd_schema(routing: dict[str, Any]) -> None:
    crd = _prometheus_operator_crd()
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    obj = alertmanager_config(
        slo_of(example_document("availability", routing)), defaults(pagerduty_url="https://x")
    )
    assert obj is not None
    assert _check_schema(obj["spec"], schema, "spec") == []


# ---- spec validation ----------------------------------------------------------------------------------


def _problems(routing: Any) -> dict[str, str]:
    _obj, problems = parse_object(example_document("availability", routing), "slo.yaml")
    return {p.field: p.message for p in problems}


@pytest.mark.parametrize(
    ("routing", "field", "hint"),
    [
        (
            {"pagerduty": {"routingKey": {"name": "PagerDuty_Key", "key": "k"}}},
            "spec.alerting.routing.pagerduty.routingKey.name",
            "must be a Secret name",
        ),
        (
            {"pagerduty": {"routingKey": {"name": "pd", "key": "bad key!"}}},
            "spec.alerting.routing.pagerduty.routingKey.key",
            "must be a Secret data key",
        ),
        (
            {"pagerduty": {"routingKey": {"name": "pd"}}},
            "spec.alerting.routing.pagerduty.routingKey.key",
            "Field required",
        ),
        (
            {"pagerduty": {"routingKey": "R0ut1ngK3y-pasted-inline"}},
            "spec.alerting.routing.pagerduty.routingKey",
            "valid dictionary",
        ),
        (
            {"slack": {"apiURL": "https://hooks.slack.com/services/T/B/X"}},
            "spec.alerting.routing.slack.apiURL",
            "valid dictionary",
        ),
        (
            {"slack": {"apiUrl": {"name": "s", "key": "url"}}},
            "spec.alerting.routing.slack.apiUrl",
            "unknown field",
        ),
        (
            {"slack": {"apiURL": {"name": "s", "key": "url"}, "channel": "ml alerts"}},
            "spec.alerting.routing.slack.channel",
            "must be a Slack channel",
        ),
        (
            {"pagerduty": {"routingKey": {"name": "pd", "key": "k", "value": "secret"}}},
            "spec.alerting.routing.pagerduty.routingKey.value",
            "unknown field",
        ),
        ({"opsgenie": {}}, "spec.alerting.routing.opsgenie", "unknown field"),
    ],
)
def test_bad_receiver_references_are_rejected_with_their_field_path(
    routing: Any, field: str, hint: str
) -> None:
    problems = _problems(routing)
    assert field in problems, problems
    assert hint in problems[field]


def test_valid_routing_and_an_empty_section_are_accepted() -> None:
    assert _problems(ROUTING) == {}
    assert _problems({}) == {}
    assert _problems({"enabled": False}) == {}


def test_crd_carries_the_routing_schema() -> None:
    spec = custom_resource_definition()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"][
        "spec"
    ]
    routing = spec["properties"]["alerting"]["properties"]["routing"]
    slack = routing["properties"]["slack"]
    assert slack["required"] == ["apiURL"]
    assert slack["properties"]["apiURL"]["required"] == ["name", "key"]
    assert "pattern" in slack["properties"]["apiURL"]["properties"]["name"]
    assert routing["properties"]["pagerduty"]["properties"]["routingKey"]["required"] == ["name", "key"]
    assert routing["properties"]["enabled"]["default"] is True


# ---- operator settings ----------------------------------------------------------------------------------


def test_operator_config_reads_routing_defaults_from_the_environment() -> None:
    config = OperatorConfig.from_env(
        {
            "SLO_OPERATOR_PAGERDUTY_SECRET": "pagerduty/routing-key",
            "SLO_OPERATOR_SLACK_SECRET": "slack-webhook/url",
            "SLO_OPERATOR_SLACK_CHANNEL": "#slo",
            "SLO_OPERATOR_PAGERDUTY_URL": "https://events.eu.pagerduty.com/v2/enqueue",
            "SLO_OPERATOR_ALERTMANAGER_CONFIG_LABELS": "alertmanagerConfig=main",
        }
    )
    routing = config.render_options.routing
    assert routing.pagerduty_routing_key == SecretKeySelector(name="pagerduty", key="routing-key")
    assert routing.slack_api_url == SecretKeySelector(name="slack-webhook", key="url")
    assert (routing.slack_channel, routing.pagerduty_url) == (
        "#slo",
        "https://events.eu.pagerduty.com/v2/enqueue",
    )
    assert routing.labels == {"alertmanagerConfig": "main"}
    assert OperatorConfig.from_env({}).render_options.routing == RoutingOptions()


@pytest.mark.parametrize("value", ["pagerduty", "pagerduty/", "/key", "Bad_Name/key", "a/b/c d"])
def test_bad_default_secret_reference_fails_at_start_up(value: str) -> None:
    with pytest.raises(ValueError, match="SLO_OPERATOR_PAGERDUTY_SECRET"):
        OperatorConfig.from_env({"SLO_OPERATOR_PAGERDUTY_SECRET": value})
    with pytest.raises(ValueError, match="name/key"):
        dataclasses.replace(OperatorConfig(), slack_secret=value)


# ---- plain alertmanager.yml -----------------------------------------------------------------------------

FILES = FileReceivers(
    pagerduty_routing_key_file="/etc/alertmanager/secrets/pagerduty-routing-key",
    slack_api_url_file="/etc/alertmanager/secrets/slack-webhook-url",
    slack_channel="#slo-alerts",
)


def test_golden_alertmanager_file_of_the_availability_example() -> None:
    config = alertmanager_file([slo_of(example_document("availability", ROUTING))], FILES)
    compare("availability.alertmanager.yaml", to_yaml([config]))


def test_alertmanager_file_routes_every_slo_and_names_receivers_like_prometheus_operator() -> None:
    availability = slo_of(example_document("availability"))
    latency = slo_of(example_document("latency", {"slack": {**ROUTING["slack"], "channel": "#latency"}}))
    config = alertmanager_file([availability, latency], FILES)
    assert config["route"]["receiver"] == "none"
    assert [r["matchers"] for r in config["route"]["routes"]] == [
        ['namespace="ml-serving"', 'slo="model-availability"'],
        [f'namespace="{latency.namespace}"', f'slo="{latency.name}"'],
    ]
    names = [r["name"] for r in config["receivers"]]
    assert names == [
        "none",
        "ml-serving/model-availability/pagerduty",
        "ml-serving/model-availability/slack",
        f"{latency.namespace}/{latency.name}/pagerduty",
        f"{latency.namespace}/{latency.name}/slack",
    ]
    channels = [r["slack_configs"][0]["channel"] for r in config["receivers"] if "slack_configs" in r]
    assert channels == ["#slo-alerts", "#latency"]  # the SLO's channel wins, its secret refs are ignored
    assert (
        config["receivers"][1]["pagerduty_configs"][0]["routing_key_file"] == FILES.pagerduty_routing_key_file
    )
    assert len(config["inhibit_rules"]) == 2


def test_alertmanager_file_leaves_out_slos_that_opt_out_and_needs_a_receiver() -> None:
    opted_out = slo_of(example_document("availability", {"enabled": False}))
    assert alertmanager_file([opted_out], FILES)["route"]["routes"] == []
    with pytest.raises(ValueError, match="no receiver"):
        alertmanager_file([opted_out], FileReceivers(slack_channel="#x"))


def test_cli_renders_alertmanager_yml_and_alertmanagerconfigs(tmp_path: Any) -> None:
    slo = tmp_path / "slo.yaml"
    slo.write_text(yaml.safe_dump(example_document("availability", ROUTING)))
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "render",
            "-f",
            str(slo),
            "--format",
            "alertmanager",
            "--pagerduty-routing-key-file",
            "/run/pd",
            "--pagerduty-url",
            "http://pd.local/v2",
        ],
    )
    assert result.exit_code == 0, result.output
    config = yaml.safe_load(result.stdout)
    pagerduty = config["receivers"][1]["pagerduty_configs"][0]
    assert (pagerduty["routing_key_file"], pagerduty["url"]) == ("/run/pd", "http://pd.local/v2")
    assert all("slack_configs" not in r for r in config["receivers"])

    result = runner.invoke(app, ["render", "-f", str(slo), "--format", "alertmanager"], env={})
    assert result.exit_code == 2 and "no receiver" in result.output

    result = runner.invoke(
        app,
        ["render", "-f", str(slo), "--format", "alertmanager"],
        env={"SLO_OPERATOR_SLACK_API_URL_FILE": "/run/slack"},
    )
    assert result.exit_code == 0 and "api_url_file: /run/slack" in result.stdout

    result = runner.invoke(app, ["render", "-f", str(slo), "--format", "alertmanagerconfig"])
    assert result.exit_code == 0, result.output
    (obj,) = list(yaml.safe_load_all(result.stdout))
    assert obj["kind"] == "AlertmanagerConfig" and obj["metadata"]["name"] == "model-availability-slo"


def _ticketing(routing: dict[str, Any] | None) -> Any:
    """The availability example with a ticket-tier alert (what an error-budget policy's ticket step adds)."""
    slo = slo_of(example_document("availability", routing))
    ticket = dataclasses.replace(slo.alerts[0], name="SLOTicket", severity="ticket")
    return dataclasses.replace(slo, alerts=(*slo.alerts, ticket))


def test_ticket_alerts_go_to_the_ticket_webhook_or_to_nobody_never_to_a_page_or_slack() -> None:
    webhook = SecretKeySelector(name="tickets", key="url")
    spec = alertmanager_config_spec(_ticketing(ROUTING), RoutingOptions(ticket_webhook=webhook))
    assert spec is not None
    assert spec["receivers"][2:] == [{"name": "ticket", "webhookConfigs": [
        {"urlSecret": {"name": "tickets", "key": "url"}, "sendResolved": False}]}]
    assert spec["route"]["routes"][2:] == [
        {"receiver": "ticket", "matchers": [{"name": "severity", "value": "ticket", "matchType": "="}]}]
    # Without a webhook the ticket route notifies nobody: `none` is added once, next to Slack ...
    spec = alertmanager_config_spec(_ticketing(ROUTING), RoutingOptions())
    assert spec is not None
    assert [r["name"] for r in spec["receivers"]] == ["pagerduty", "slack", "none"]
    assert spec["route"]["routes"][2:] == [
        {"receiver": "none", "matchers": [{"name": "severity", "value": "ticket", "matchType": "="}]}]
    # ... and not twice when the SLO has no Slack (its default receiver is already `none`).
    spec = alertmanager_config_spec(_ticketing({"pagerduty": ROUTING["pagerduty"]}), RoutingOptions())
    assert spec is not None and [r["name"] for r in spec["receivers"]] == ["pagerduty", "none"]


def test_secret_references_name_the_receiver_and_where_the_reference_came_from() -> None:
    spec_refs = secret_references(slo_of(example_document("availability", ROUTING)), RoutingOptions())
    assert [(u.receiver, u.secret.name, u.secret.key, u.source) for u in spec_refs] == [
        ("pagerduty", "pagerduty", "routing-key", "spec.alerting.routing.pagerduty.routingKey"),
        ("slack", "slack-webhook", "url", "spec.alerting.routing.slack.apiURL"),
    ]
    default_refs = secret_references(slo_of(example_document("availability")), defaults().routing)
    assert [(u.receiver, u.secret.name, u.source) for u in default_refs] == [
        ("pagerduty", "oncall", "operator default SLO_OPERATOR_PAGERDUTY_SECRET"),
        ("slack", "chatops", "operator default SLO_OPERATOR_SLACK_SECRET"),
    ]


def test_alertmanager_file_skips_only_the_slos_that_opt_out_and_says_which_flags_to_give() -> None:
    opted_out = slo_of(example_document("availability", {"enabled": False}))
    latency = slo_of(example_document("latency"))
    pagerduty_only = FileReceivers(pagerduty_routing_key_file=FILES.pagerduty_routing_key_file)
    config = alertmanager_file([opted_out, latency], pagerduty_only)
    assert [r["matchers"] for r in config["route"]["routes"]] == [
        [f'namespace="{latency.namespace}"', f'slo="{latency.name}"']]
    assert config["route"]["routes"][0]["receiver"] == "none"  # warnings reach nobody without Slack
    with pytest.raises(ValueError) as raised:
        alertmanager_file([latency], FileReceivers(slack_channel="#x"))
    assert str(raised.value) == (
        "no receiver: give a PagerDuty routing-key file and/or a Slack webhook-URL file "
        "(--pagerduty-routing-key-file, --slack-api-url-file)")
