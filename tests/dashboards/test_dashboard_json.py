"""The dashboards as JSON and as Kubernetes objects, without Prometheus.

Golden files hold one board per indicator kind; regenerate them with
``UPDATE_GOLDEN=1 .venv/bin/pytest tests/dashboards/test_dashboard_json.py`` when a change is intended.
The committed overview ConfigMap (manifests/dashboards/) must be what ``make dashboards`` renders.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from dashboard_env import EXAMPLES, FIXTURES, Environment, load_slos, panels, substitute
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard
from slo_operator import dashboards
from slo_operator.api import ServiceLevelObjective
from slo_operator.children import CHILD_KINDS, DASHBOARD_CONFIGMAP, desired_children
from slo_operator.cli import app
from slo_operator.config import OperatorConfig
from slo_operator.durations import format_duration
from slo_operator.kube import resource_path
from slo_operator.model import SLO, resolve
from slo_operator.promql import CURRENT_BURN_RATE
from slo_operator.render import NAME_LABEL, RenderOptions, dashboard_configmap, to_yaml
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden" / "dashboards"
OVERVIEW_FILE = REPO / "manifests" / "dashboards" / "slo-overview.yaml"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
LONG_NAME = "a-very-long-slo-name-that-does-not-fit"
GOLDEN_SLOS = {  # one SLO of each indicator kind
    "availability": "model-availability", "latency": "model-latency", "accuracy": "model-accuracy",
    "freshness": "feature-freshness", "ratio": "checkout-success", "cost": "serving-cost",
}
DASHBOARD_ENV = ("SLO_OPERATOR_DASHBOARDS", "SLO_OPERATOR_DASHBOARD_LABELS", "SLO_OPERATOR_DASHBOARD_FOLDER",
                 "SLO_OPERATOR_DASHBOARD_FOLDER_ANNOTATION")


SOMEDAY = Environment(url="", slos=[], start=1_700_000_000, end=1_700_086_400, evaluated_at=1_700_086_400.0)


def slo_of(document: dict[str, Any]) -> SLO:
    return resolve(ServiceLevelObjective.model_validate(document))


def variety() -> list[SLO]:
    """The examples, the fixtures and SLOs exercising custom alerts, timeslices and odd names."""
    base = yaml.safe_load((EXAMPLES / "availability.yaml").read_text())
    custom = {**base, "metadata": {"name": "custom.alerts", "namespace": "ns"}, "spec": {
        **base["spec"], "groupBy": ["datasource", "region"], "budgetingMethod": "Timeslices",
        "timeslices": {"sliceSize": "2m", "goal": 95},
        "alerting": {"burnRates": [
            {"name": "Page", "severity": "critical", "budgetPercent": 5,
             "longWindow": "2h", "shortWindow": "10m"},
            {"name": "Ticket", "severity": "warning", "budgetPercent": 10,
             "longWindow": "1d", "shortWindow": "2h", "for": "5m"},
            {"name": "Slow", "severity": "info", "budgetPercent": 20,
             "longWindow": "7d", "shortWindow": "6h"},
        ]}}}
    long_name = {**base, "metadata": {"name": LONG_NAME, "namespace": "a-team"}}
    return [*load_slos(), slo_of(custom), slo_of(long_name)]


def golden_slos() -> dict[str, SLO]:
    by_name = {slo.name: slo for slo in load_slos()}
    return {kind: by_name[name] for kind, name in GOLDEN_SLOS.items()}


def all_boards() -> list[dict[str, Any]]:
    return [dashboards.slo_dashboard(slo) for slo in variety()] + [dashboards.overview_dashboard()]


def targets(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [target for item in panels(board) for target in item["targets"]]


# ---- golden files and the SDK's model -----------------------------------------------------------------


def test_the_configmap_holds_the_board_as_compact_json() -> None:
    """The per-SLO ConfigMap encodes the board in one pass: the same text as the board's data."""
    options = dashboards.DashboardOptions()
    for slo in variety():
        configmap = dashboards.dashboard_configmap(slo, options, {"a": "b"}, "30s")
        assert configmap is not None
        (text,) = configmap["data"].values()
        assert text == dashboards.to_compact_json(dashboards.slo_dashboard(slo, "30s")), slo.name
        assert json.loads(text) == dashboards.slo_dashboard(slo, "30s")


@pytest.mark.parametrize("kind", sorted(GOLDEN_SLOS))
def test_golden_dashboard(kind: str) -> None:
    slo = golden_slos()[kind]
    assert slo.kind == kind
    text = dashboards.to_json_text(dashboards.slo_dashboard(slo))
    golden = GOLDEN / f"{kind}.json"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
        return
    assert golden.exists(), f"{golden} missing: UPDATE_GOLDEN=1 pytest {__file__}"
    assert text == golden.read_text(), f"{golden.name} differs; if intended, regenerate with UPDATE_GOLDEN=1"


def test_no_stale_golden_files() -> None:
    if UPDATE:
        pytest.skip("regenerating")
    assert {p.name for p in GOLDEN.glob("*.json")} == {f"{kind}.json" for kind in GOLDEN_SLOS}


@pytest.mark.parametrize("board", all_boards(), ids=lambda b: b["uid"])
def test_board_round_trips_through_the_sdk_model(board: dict[str, Any]) -> None:
    """Decoded by the SDK's Grafana 11.6 model (panel options and queries typed through its plugin
    registry) and encoded again, a board is unchanged: nothing in it is unknown to the model."""
    register_default_plugins()
    model = Dashboard.from_json(board)
    assert json.loads(json.dumps(model, cls=JSONEncoder)) == board
    assert model.schema_version == 41  # Grafana 11.6's dashboard schema


# ---- content ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("board", all_boards(), ids=lambda b: b["uid"])
def test_every_query_parses_after_substituting_grafana_variables(board: dict[str, Any]) -> None:
    variables = {"${" + v["name"] + "}": ".*" for v in board["templating"]["list"] if v["type"] == "query"}
    found = targets(board)
    assert found
    for target in found:
        promql_parser.parse(substitute(target["expr"], SOMEDAY, 60, variables))
        assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    for item in panels(board):
        assert item["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


@pytest.mark.parametrize("board", all_boards(), ids=lambda b: b["uid"])
def test_datasource_is_a_template_variable(board: dict[str, Any]) -> None:
    (variable,) = [v for v in board["templating"]["list"] if v["type"] == "datasource"]
    assert (variable["name"], variable["query"]) == ("datasource", "prometheus")
    text = json.dumps(board)
    assert "DS_PROMETHEUS" not in text and "__inputs" not in text


def test_uids_are_stable_unique_and_fit_grafana() -> None:
    slos = variety()
    uids = [dashboards.dashboard_uid(slo.namespace, slo.name) for slo in slos]
    assert len(set(uids)) == len(uids)
    assert dashboards.OVERVIEW_UID not in uids
    for uid in uids:
        assert len(uid) <= 40 and re.fullmatch(r"[a-zA-Z0-9_-]+", uid), uid
    assert dashboards.dashboard_uid("ml-serving", "model-latency") == "slo_ml-serving_model-latency"
    hashed = dashboards.dashboard_uid("a-team", LONG_NAME)
    assert hashed == dashboards.dashboard_uid("a-team", LONG_NAME)
    assert len(hashed) == 40 and hashed.startswith("slo_a-team_a-very-long")
    # Separators that cannot occur in names keep the readable form unique; dots get hashed.
    assert dashboards.dashboard_uid("a-b", "c") != dashboards.dashboard_uid("a", "b-c")
    assert dashboards.dashboard_uid("ns", "a.b") != dashboards.dashboard_uid("ns", "a-b")


def test_grouped_slo_has_a_variable_per_group_label() -> None:
    slo = golden_slos()["ratio"]
    board = dashboards.slo_dashboard(slo)
    (route,) = [v for v in board["templating"]["list"] if v["name"] == "route"]
    assert route["type"] == "query" and route["multi"] and route["includeAll"] and route["allValue"] == ".*"
    selector = 'slo:sli:ratio{slo="checkout-success",namespace="shop"}'
    assert route["query"] == f"label_values({selector}, route)"
    filtered = [t for t in targets(board) if 'route=~"${route}"' in t["expr"]]
    unfiltered = [t["expr"] for t in targets(board) if t not in filtered]
    assert len(filtered) > 10
    per_slo = ("slo:objective:ratio", "slo:recording_since:timestamp",
               "slo_operator_forecast_")  # the forecast is per SLO (all groups together)
    # The rest read per-SLO series, or none at all (the ideal burn-down line: time and the window).
    assert all(any(name in e for name in per_slo) or "slo:" not in e for e in unfiltered), unfiltered
    per_group = [t for t in filtered
                 if t.get("range") and t["expr"].startswith(("slo:", "1 - sum_over_time"))]
    assert len(per_group) >= 6
    assert all("{{route}}" in t["legendFormat"] for t in per_group), [t["legendFormat"] for t in per_group]


def test_a_group_label_named_datasource_gets_its_own_variable() -> None:
    custom = next(slo for slo in variety() if slo.name == "custom.alerts")
    board = dashboards.slo_dashboard(custom)
    names = [v["name"] for v in board["templating"]["list"]]
    assert names == ["datasource", "group_datasource", "region"]
    assert any('datasource=~"${group_datasource}"' in t["expr"] for t in targets(board))


def test_detail_board_has_the_slo_lab_panels() -> None:
    slo = golden_slos()["availability"]
    board = dashboards.slo_dashboard(slo)
    titles = [p["title"] for p in board["panels"]]
    assert [p["title"] for p in board["panels"] if p["type"] == "row"] == [
        "Status", "Error budget", "Over time", "Alerts"]
    for title in (dashboards.TITLE_SLI, dashboards.TITLE_OBJECTIVE, dashboards.TITLE_STATE,
                  dashboards.TITLE_COVERED,
                  dashboards.TITLE_REMAINING, "Burn rate (1h)", dashboards.TITLE_TIME_TO_EXHAUSTION,
                  dashboards.TITLE_SLI_OVER_TIME, dashboards.TITLE_BURN_DOWN, dashboards.TITLE_STATE_HISTORY,
                  "Burn rate: SLOFastBurn (critical)", "Burn rate: SLOSlowBurn (warning)",
                  dashboards.TITLE_ACTIVE_ALERTS, dashboards.TITLE_RECENT_ALERTS,
                  dashboards.TITLE_ALERT_HISTORY):
        assert title in titles, title
    fast = next(p for p in board["panels"] if p["title"] == "Burn rate: SLOFastBurn (critical)")
    assert [t["expr"].split("window=")[1][:5] for t in fast["targets"]] == ['"1h"}', '"5m"}']
    steps = fast["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps[-1] == {"value": 14.4, "color": "red"}
    assert fast["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] == {"mode": "dashed"}
    burn_down = next(p for p in board["panels"] if p["title"] == dashboards.TITLE_BURN_DOWN)
    assert [t["legendFormat"] for t in burn_down["targets"]] == [
        "left (spent since range start)", "ideal (even spend over 30d)", "rolling 30d",
        dashboards.FORECAST_MEDIAN, dashboards.FORECAST_HIGH, dashboards.FORECAST_LOW]
    band = next(o for o in burn_down["fieldConfig"]["overrides"]
                if o["matcher"]["options"] == dashboards.FORECAST_HIGH)
    assert {"id": "custom.fillBelowTo", "value": dashboards.FORECAST_LOW} in band["properties"]
    assert board["time"] == {"from": "now-30d", "to": "now"}
    ids = [p["id"] for p in board["panels"]]
    assert ids == list(range(1, len(ids) + 1))


def test_state_expression_follows_measured_status_rules() -> None:
    slo = golden_slos()["availability"]
    expr = dashboards.state_expr(slo)
    assert "< bool 0.1" in expr  # status.AT_RISK_REMAINING
    budget = slo.error_budget.normalize()
    for alert in slo.alerts:
        assert f'window="{alert.long}"}}) / {budget} > bool {alert.threshold.normalize()}' in expr
        assert f'window="{alert.short}"}}) / {budget} > bool {alert.threshold.normalize()}' in expr


def test_current_burn_rate_is_the_recorded_series_of_each_slo() -> None:
    """The overview needs no burn-rate window variable: each SLO's current burn rate is recorded."""
    overview = dashboards.overview_dashboard()
    assert [v["name"] for v in overview["templating"]["list"]] == ["datasource", "namespace"]
    burn = [p for p in panels(overview) if p["title"].startswith(dashboards.TITLE_BURN_RATE)]
    table = next(p for p in panels(overview) if p["title"] == dashboards.TITLE_SLO_TABLE)
    exprs = [t["expr"] for t in burn[0]["targets"]] + [dashboards.overview_table_exprs()["Burn rate"]]
    assert len(burn) == 1 and any(t["expr"] == exprs[-1] for t in table["targets"])
    assert all(CURRENT_BURN_RATE in e and "window=" not in e for e in exprs), exprs
    for slo in variety():
        board = dashboards.slo_dashboard(slo)
        title = f"{dashboards.TITLE_BURN_RATE} ({format_duration(slo.current_burn_window)})"
        current = next(p for p in panels(board) if p["title"] == title)
        assert [t["expr"] for t in current["targets"]] == [dashboards.current_burn_rate_expr(slo)]
        assert CURRENT_BURN_RATE in current["targets"][0]["expr"]


# ---- ConfigMaps, the child kind, configuration, RBAC, CLI ---------------------------------------------


def owner(slo: SLO) -> dict[str, Any]:
    return {"apiVersion": "slo.mlops.dev/v1alpha1", "kind": "ServiceLevelObjective",
            "metadata": {"name": slo.name, "namespace": slo.namespace, "uid": "1234"}}


def test_configmap_is_an_owned_child_labelled_for_the_sidecar() -> None:
    slo = golden_slos()["latency"]
    children = desired_children(slo, owner(slo), RenderOptions())
    (configmap,) = [obj for kind, obj in children if kind is DASHBOARD_CONFIGMAP]
    metadata = configmap["metadata"]
    assert (configmap["apiVersion"], configmap["kind"]) == ("v1", "ConfigMap")
    assert (metadata["name"], metadata["namespace"]) == ("model-latency-slo-dashboard", "ml-serving")
    assert metadata["labels"] == {"grafana_dashboard": "1", "app.kubernetes.io/managed-by": "slo-operator",
                                  NAME_LABEL: "model-latency"}
    assert metadata["annotations"] == {"grafana_folder": "SLOs"}
    assert metadata["ownerReferences"][0]["uid"] == "1234"
    (key,) = configmap["data"]
    assert key == "slo_ml-serving_model-latency.json"
    assert json.loads(configmap["data"][key]) == dashboards.slo_dashboard(slo)


def test_child_kind_is_core_v1_configmaps() -> None:
    assert DASHBOARD_CONFIGMAP in CHILD_KINDS
    assert (DASHBOARD_CONFIGMAP.group, DASHBOARD_CONFIGMAP.version) == ("", "v1")
    assert resource_path(DASHBOARD_CONFIGMAP, "ns", "x") == "/api/v1/namespaces/ns/configmaps/x"


def test_dashboards_are_configurable_from_the_environment() -> None:
    config = OperatorConfig.from_env({
        "SLO_OPERATOR_DASHBOARD_LABELS": "grafana_dashboard=yes,team=sre",
        "SLO_OPERATOR_DASHBOARD_FOLDER": "Reliability",
        "SLO_OPERATOR_DASHBOARD_FOLDER_ANNOTATION": "k8s-sidecar-target-directory",
    })
    slo = golden_slos()["accuracy"]
    configmap = dashboard_configmap(slo, config.render_options)
    assert configmap is not None
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "yes"
    assert configmap["metadata"]["labels"]["team"] == "sre"
    assert configmap["metadata"]["annotations"] == {"k8s-sidecar-target-directory": "Reliability"}
    no_folder = OperatorConfig.from_env({"SLO_OPERATOR_DASHBOARD_FOLDER": ""}).render_options
    assert "annotations" not in (dashboard_configmap(slo, no_folder) or {})["metadata"]
    off = OperatorConfig.from_env({"SLO_OPERATOR_DASHBOARDS": "false"}).render_options
    assert dashboard_configmap(slo, off) is None
    assert all(kind is not DASHBOARD_CONFIGMAP for kind, _ in desired_children(slo, owner(slo), off))


def test_rbac_allows_the_operator_to_manage_configmaps() -> None:
    documents = list(yaml.safe_load_all((REPO / "manifests" / "rbac.yaml").read_text()))
    (role,) = [d for d in documents if d["kind"] == "ClusterRole"]
    rules = [r for r in role["rules"] if r["apiGroups"] == [""] and "configmaps" in r["resources"]]
    assert rules and set(rules[0]["verbs"]) >= {"get", "list", "watch", "create", "patch", "delete"}


def test_overview_configmap_is_current() -> None:
    """manifests/dashboards/slo-overview.yaml is what `make dashboards` renders (like the CRD)."""
    text = to_yaml([dashboards.overview_configmap()])
    if UPDATE:
        OVERVIEW_FILE.write_text(text)
    assert OVERVIEW_FILE.read_text() == text, "stale overview dashboard: run `make dashboards`"
    (configmap,) = yaml.safe_load_all(text)
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    board = json.loads(configmap["data"]["slo-overview.json"])
    assert board["uid"] == dashboards.OVERVIEW_UID


def test_cli_renders_dashboards(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in DASHBOARD_ENV:
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    result = runner.invoke(app, ["render", "-f", str(EXAMPLES), "-f", str(FIXTURES), "--format", "dashboard"])
    assert result.exit_code == 0, result.output
    configmaps = list(yaml.safe_load_all(result.stdout))
    assert [c["kind"] for c in configmaps] == ["ConfigMap"] * len(load_slos())
    assert all("ownerReferences" not in c["metadata"] for c in configmaps)
    overview = runner.invoke(app, ["render", "-f", str(EXAMPLES), "--format", "overview-dashboard"])
    assert overview.exit_code == 0, overview.output
    assert overview.stdout == OVERVIEW_FILE.read_text()
