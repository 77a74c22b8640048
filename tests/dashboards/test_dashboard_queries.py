"""Every panel query, parsed by a real PromQL parser and run by a real Prometheus (see dashboard_env).

The Prometheus holds slo-operator's rules over hours of known traffic, so each query must return data,
and the numbers the stat panels (and the overview's table and counts) show must be the ones the
operator writes into the SLO's status: ``fetch_measurements`` + ``measured_status`` read at the same
instant.
"""

from __future__ import annotations

from typing import Any

import httpx
import promql_parser
import pytest
from dashboard_env import (
    FIRING_ALERTS,
    AtTime,
    Environment,
    group_variables,
    instant,
    panel,
    panels,
    range_query,
    substitute,
)
from slo_operator import dashboards, tiers
from slo_operator.dashboards import (
    NO_DATA,
    STATES,
    TITLE_ACTIVE_ALERTS,
    TITLE_ALERT_HISTORY,
    TITLE_BURN_DOWN,
    TITLE_BURN_RATE,
    TITLE_COUNTS,
    TITLE_FIRING,
    TITLE_OBJECTIVE,
    TITLE_RECENT_ALERTS,
    TITLE_REMAINING,
    TITLE_SLI,
    TITLE_SLO_TABLE,
    TITLE_STATE,
    TITLE_TIME_TO_EXHAUSTION,
)
from slo_operator.durations import format_duration
from slo_operator.prometheus import PrometheusClient, fetch_measurements, fetch_window_measurements
from slo_operator.promql import SLI
from slo_operator.rules import rule_groups
from slo_operator.status import Measured, cost_status, human_duration, measured_status

STEP = 120  # seconds: the range queries' step, and $__interval
WITH_DATA = [
    "model-availability", "model-latency", "model-accuracy", "feature-freshness", "checkout-success",
    "serving-cost",
]
ALERT_PANELS = {TITLE_ACTIVE_ALERTS, TITLE_RECENT_ALERTS, TITLE_ALERT_HISTORY}


@pytest.fixture(scope="module")
def boards(env: Environment) -> dict[str, dict[str, Any]]:
    return {slo.name: dashboards.slo_dashboard(slo) for slo in env.slos}


@pytest.fixture(scope="module")
def status(env: Environment) -> dict[str, Measured]:
    """What the operator writes into each SLO's status, read at the environment's instant."""
    client = PrometheusClient(env.url, transport=AtTime(env.evaluated_at))
    try:
        measurements = fetch_measurements(client)
    finally:
        client.close()
    return {slo.name: measured_status(slo, measurements.get((slo.namespace, slo.name))) for slo in env.slos}


def run(env: Environment, target: dict[str, Any], variables: dict[str, str]) -> list[dict[str, Any]]:
    """Run one panel target as Grafana would: parse it, then an instant or a range query."""
    expr = substitute(target["expr"], env, STEP, variables)
    promql_parser.parse(expr)
    if target.get("instant"):
        return instant(env, expr)
    assert target.get("range"), target
    return range_query(env, expr, STEP)


def stat_value(env: Environment, board: dict[str, Any], title: str) -> float | None:
    stat = panel(board, title)
    assert stat["type"] == "stat"
    (target,) = stat["targets"]
    result = run(env, target, group_variables(board))
    assert len(result) <= 1, f"{title}: a stat panel must show one number, got {result}"
    return float(result[0]["value"][1]) if result else None


def test_the_scenario_covers_every_state(status: dict[str, Measured]) -> None:
    states = {name: measured.fields["state"] for name, measured in status.items()}
    assert states == {
        "model-availability": "Violating", "model-latency": "Meeting", "model-accuracy": "AtRisk",
        "feature-freshness": "Meeting", "checkout-success": "Violating", "orphan-availability": NO_DATA,
        "serving-cost": "Meeting",
    }
    assert sum(a["firing"] for m in status.values() for a in m.fields["burnRates"]) == FIRING_ALERTS


@pytest.mark.parametrize("name", WITH_DATA)
def test_every_panel_query_parses_and_returns_data(
    env: Environment, boards: dict[str, dict[str, Any]], status: dict[str, Measured], name: str
) -> None:
    board = boards[name]
    variables = group_variables(board)
    alerting = status[name].firing
    checked = 0
    for item in panels(board):
        assert item["targets"], f"{item['title']}: no query"
        for target in item["targets"]:
            result = run(env, target, variables)
            checked += 1
            if item["title"] in ALERT_PANELS and not alerting:
                # No burn-rate alert holds for this SLO (the status says so): its alert panels are empty.
                assert result == [], f"{name} / {item['title']}: {result}"
            else:
                assert result, f"{name} / {item['title']} / {target['refId']}: no data for {target['expr']}"
    assert checked >= 20


def test_orphan_slo_shows_no_data(env: Environment, boards: dict[str, dict[str, Any]],
                                  status: dict[str, Measured]) -> None:
    board = boards["orphan-availability"]
    assert status["orphan-availability"].fields["state"] == NO_DATA
    assert stat_value(env, board, TITLE_STATE) is None
    assert stat_value(env, board, TITLE_SLI) is None
    assert panel(board, TITLE_STATE)["fieldConfig"]["defaults"]["noValue"] == NO_DATA
    assert stat_value(env, board, TITLE_OBJECTIVE) == pytest.approx(0.995)


@pytest.mark.parametrize("name", [*WITH_DATA, "orphan-availability"])
def test_stat_panels_show_the_operator_status(
    env: Environment, boards: dict[str, dict[str, Any]], status: dict[str, Measured], name: str
) -> None:
    slo, board, fields = env.by_name(name), boards[name], status[name].fields

    sli = stat_value(env, board, TITLE_SLI)
    assert (None if sli is None else round(sli * 100, 4)) == fields["sli"]
    assert stat_value(env, board, TITLE_OBJECTIVE) == pytest.approx(float(slo.objective))
    remaining = stat_value(env, board, TITLE_REMAINING)
    expected = fields["errorBudget"]["remaining"] if fields["errorBudget"] else None
    assert (None if remaining is None else round(remaining * 100, 2)) == expected
    burn = stat_value(env, board, f"{TITLE_BURN_RATE} ({format_duration(slo.current_burn_window)})")
    assert (None if burn is None else round(burn, 3)) == fields["burnRate"]
    tte = stat_value(env, board, TITLE_TIME_TO_EXHAUSTION)
    assert (None if tte is None else human_duration(tte)) == fields["timeToExhaustion"]
    state = stat_value(env, board, TITLE_STATE)
    assert (NO_DATA if state is None else STATES[int(state)][0]) == fields["state"]


@pytest.mark.parametrize("name", WITH_DATA)
def test_burn_down_ends_at_the_budget_remaining(
    env: Environment, boards: dict[str, dict[str, Any]], name: str
) -> None:
    """Over a range holding all the data, the burn-down's last point is the budget remaining.

    Grafana aligns a range query's steps to multiples of the step (= ``$__interval``), where the
    burn-down's tiles end exactly; there the budget the operator's own rule records (its SLI
    expression over the SLO window, evaluated by Prometheus) must equal the burn-down's value. The ideal
    line falls from 100% at the range start by elapsed time / window.
    """
    slo, board = env.by_name(name), boards[name]
    left, ideal, _rolling, *_forecast = panel(board, TITLE_BURN_DOWN)["targets"]
    at = (int(env.evaluated_at) // STEP) * STEP
    (rule,) = [rule for group in rule_groups(slo) for rule in group["rules"] if rule.get("record") == SLI]
    recorded = rule.get("labels") or {}  # what the recording adds to the expression's own labels

    def series(item: dict[str, Any], added: dict[str, str] | None = None) -> tuple[tuple[str, str], ...]:
        labels = {**(added or {}), **item["metric"]}  # the SLO's group
        return tuple(sorted((k, v) for k, v in labels.items() if k in slo.group_by))

    budget = {series(item, recorded): 1 - (1 - float(item["value"][1])) / float(slo.error_budget)
              for item in instant(env, rule["expr"], at=at)
              # the namespace's shared rule: every SLO of its shape, this one's figures kept
              if item["metric"].get("slo", slo.name) == slo.name}
    pinned = Environment(env.url, env.slos, env.start, env.end, evaluated_at=at)
    spent = instant(pinned, substitute(left["expr"], pinned, STEP, group_variables(board)))
    assert len(spent) == len(budget) >= 1
    for item in spent:  # a tiered window: the same running sums and formula as the rule
        consumed = 1 - budget[series(item)]
        tolerance = 1e-9 if tiers.tiered(slo.window) else 0.01  # else: tiles of the base series
        assert 1 - float(item["value"][1]) == pytest.approx(consumed, rel=tolerance, abs=1e-9)
    (line,) = range_query(env, substitute(ideal["expr"], env, STEP), STEP)
    assert len(line["values"]) > 100
    for t, value in line["values"]:
        assert float(value) == pytest.approx(1 - (float(t) - env.start) / slo.window)


def test_group_variable_lists_the_groups(env: Environment, boards: dict[str, dict[str, Any]]) -> None:
    """The route variable's ``label_values`` query, as Prometheus' label API answers it."""
    board = boards["checkout-success"]
    (variable,) = [v for v in board["templating"]["list"] if v["name"] == "route"]
    selector, label = variable["query"].removeprefix("label_values(").removesuffix(")").rsplit(", ", 1)
    promql_parser.parse(selector)
    values = instant_labels(env, label, selector)
    assert values == ["/cart", "/pay"]
    sli = panel(board, dashboards.TITLE_SLI_OVER_TIME)
    (first, *_) = sli["targets"]
    assert "{{route}}" in first["legendFormat"]
    series = run(env, first, group_variables(board))
    assert sorted(s["metric"]["route"] for s in series) == ["/cart", "/pay"]
    only_pay = run(env, first, {"${route}": "/pay"})
    assert [s["metric"]["route"] for s in only_pay] == ["/pay"]


def instant_labels(env: Environment, label: str, selector: str) -> list[str]:
    """What Grafana's ``label_values(selector, label)`` lists: Prometheus' label values API."""
    params = {"match[]": selector, "start": env.start, "end": env.evaluated_at}
    body = httpx.get(f"{env.url}/api/v1/label/{label}/values", params=params, timeout=30).json()
    assert body["status"] == "success", body
    return sorted(body["data"])


# ---- the overview -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def overview() -> dict[str, Any]:
    return dashboards.overview_dashboard()


def test_every_overview_query_parses_and_returns_data(env: Environment, overview: dict[str, Any]) -> None:
    for item in panels(overview):
        for target in item["targets"]:
            assert run(env, target, {}), f"{item['title']} / {target['refId']}: no data for {target['expr']}"
    for variable in overview["templating"]["list"]:
        if variable["type"] == "query":
            selector, label = variable["query"].removeprefix("label_values(").removesuffix(")") \
                .rsplit(", ", 1)
            assert instant_labels(env, label, substitute(selector, env, STEP)), variable["name"]


def test_overview_counts_match_the_statuses(env: Environment, overview: dict[str, Any],
                                            status: dict[str, Measured]) -> None:
    states = [measured.fields["state"] for measured in status.values()]
    expected = {"total": len(states), "nodata": states.count(NO_DATA)}
    expected.update({code: states.count(text) for code, (text, _) in STATES.items()})
    for key, title in TITLE_COUNTS.items():
        assert stat_value(env, overview, title) == expected[key], title
    firing = sum(a["firing"] for m in status.values() for a in m.fields["burnRates"])
    firing_stat = [p for p in panels(overview) if p["title"] == TITLE_FIRING and p["type"] == "stat"]
    (target,) = firing_stat[0]["targets"]
    assert float(run(env, target, {})[0]["value"][1]) == firing


def test_overview_table_matches_the_statuses(env: Environment, overview: dict[str, Any],
                                             status: dict[str, Measured]) -> None:
    table = panel(overview, TITLE_SLO_TABLE)
    columns: dict[str, dict[tuple[str, str], float]] = {}
    rename = next(t for t in table["transformations"] if t["id"] == "organize")["options"]["renameByName"]
    for target in table["targets"]:
        assert target["format"] == "table" and target["instant"]
        rows = run(env, target, {})
        columns[rename[f"Value #{target['refId']}"]] = {
            (r["metric"]["namespace"], r["metric"]["slo"]): float(r["value"][1]) for r in rows}
    assert set(columns) == set(dashboards.overview_table_exprs())
    for slo in env.slos:
        key, fields = (slo.namespace, slo.name), status[slo.name].fields
        assert columns["Objective"][key] == pytest.approx(float(slo.objective))
        sli = columns["SLI"].get(key)
        assert (None if sli is None else round(sli * 100, 4)) == fields["sli"]
        remaining = columns["Budget remaining"].get(key)
        assert (None if remaining is None else round(remaining * 100, 2)) == (
            fields["errorBudget"]["remaining"] if fields["errorBudget"] else None)
        tte = columns["Time to exhaustion"].get(key)
        assert (None if tte is None else human_duration(tte)) == fields["timeToExhaustion"]
        state = columns["State"].get(key)
        assert (NO_DATA if state is None else STATES[int(state)][0]) == fields["state"]
        burn = columns["Burn rate"].get(key)
        assert (None if burn is None else round(burn, 3)) == fields["burnRate"]
    # Each SLO's own current window, not one picked for all: SLOs whose window is not 1h are compared too.
    assert sum(status[slo.name].fields["burnRate"] is not None
               for slo in env.slos if slo.current_burn_window != 3600) >= 2


def test_cost_panels_show_the_operator_status(env: Environment, boards: dict[str, dict[str, Any]]) -> None:
    """The forecast stat, and the last points of cost per unit and spend, are the status' cost figures
    (``fetch_window_measurements`` reads the spend of every cost SLO in one query)."""
    slo, board = env.by_name("serving-cost"), boards["serving-cost"]
    client = PrometheusClient(env.url, transport=AtTime(env.evaluated_at))
    try:
        measurements = fetch_measurements(client)
        figures = fetch_window_measurements(client, [slo], measurements, env.evaluated_at)
    finally:
        client.close()
    cost = cost_status(slo, figures[(slo.namespace, slo.name)][0])
    assert cost is not None and cost["budget"] == 10000.0 and cost["currency"] == "USD"
    forecast = stat_value(env, board, dashboards.TITLE_COST_FORECAST)
    assert forecast is not None and round(forecast, 2) == cost["forecastEndOfPeriod"]
    per_unit, maximum = panel(board, dashboards.TITLE_COST_PER_UNIT)["targets"]
    (line,) = instant(env, per_unit["expr"])
    assert float(f"{float(line['value'][1]):.4g}") == cost["perUnit"] == pytest.approx(0.0003)
    (limit,) = instant(env, maximum["expr"])
    assert float(limit["value"][1]) == 0.0004
    spent, budget = panel(board, dashboards.TITLE_SPEND)["targets"]
    (money,) = instant(env, spent["expr"])
    assert round(float(money["value"][1]), 2) == cost["spent"] > 0
    assert [float(b["value"][1]) for b in instant(env, budget["expr"])] == [10000.0]
