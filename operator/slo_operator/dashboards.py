"""Grafana dashboards: a detail board per SLO and one overview of every SLO (pure functions, no I/O).

Why it is built this way:

- The JSON comes from grafana-foundation-sdk, pinned in pyproject.toml to the Grafana release we target
  (11.6). Its builders and models are generated from Grafana's own schema, so a field Grafana 11.6 does
  not know cannot be written, and the tests round-trip every board through the SDK's models.
- Panels read only the recorded ``slo:*`` series (``promql.py``), never raw metrics: a board costs a
  few cheap queries whatever the traffic, and shows the operator's numbers. The stat panels aggregate
  exactly as ``prometheus.fetch_measurements`` and ``status.measured_status`` do (the worst group: lowest
  SLI, budget and time to exhaustion, highest burn rate; the state from the same thresholds), so a
  board and ``kubectl get slo`` agree; the tests check that against a real Prometheus.
- Queries name the datasource through a ``datasource`` template variable (``${datasource}``):
  ``${DS_PROMETHEUS}`` is resolved only by the UI import dialog, never by provisioning (the sidecar).
- uids derive from namespace/name, so links and bookmarks survive re-creation; at most 40 characters
  (Grafana's limit), hashed when longer or when the name holds characters a uid cannot.
- SLOs with ``groupBy`` get one multi-value template variable per group label (``All`` by default): the
  stats show the worst selected group, as the status does, and the time series one line per group.
- The overview lists every SLO Prometheus has recorded series for (no SLO list is baked in), so it is
  one static ConfigMap (manifests/dashboards/) that never needs regenerating when SLOs come and go.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.builders import prometheus as prom_b
from grafana_foundation_sdk.builders import stat as stat_b
from grafana_foundation_sdk.builders import statetimeline as timeline_b
from grafana_foundation_sdk.builders import table as table_b
from grafana_foundation_sdk.builders import timeseries as timeseries_b
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_m
from grafana_foundation_sdk.models import dashboard as dash_m
from grafana_foundation_sdk.models import prometheus as prom_m

from slo_operator import tiers
from slo_operator.durations import format_duration, parse_duration
from slo_operator.model import SLO, ResolvedAlert, exact
from slo_operator.promql import (
    BAD_EVENTS,
    BUDGET_REMAINING,
    CURRENT_BURN_RATE,
    ERROR_RATIO,
    FORECAST_CONSUMED,
    FORECAST_CONSUMED_QUANTILE,
    OBJECTIVE,
    RECORDING_SINCE,
    SLI,
    TIME_TO_EXHAUSTION,
    TOTAL_EVENTS,
    window_range,
)
from slo_operator.selectors import escape_label_value
from slo_operator.spend import (
    COST_BUDGET,
    COST_FORECAST,
    COST_MAX_PER_UNIT,
    COST_PER_UNIT,
    COST_SPEND,
    COST_SPENT,
    forecast_window,
)
from slo_operator.status import AT_RISK_REMAINING

GRAFANA_VERSION = "11.6"  # the grafana-foundation-sdk build pinned in pyproject.toml
DATASOURCE_VARIABLE = "datasource"
DATASOURCE = dash_m.DataSourceRef(type_val="prometheus", uid="${" + DATASOURCE_VARIABLE + "}")
OVERVIEW_UID = "slo-overview"
OVERVIEW_TITLE = "SLOs: overview"
TAGS = ["slo", "slo-operator"]
UID_MAX = 40
_UID_CHARS = re.compile(r"^[a-zA-Z0-9_-]+$")

# State codes of the state panels: the same decision as status.measured_status, as a number PromQL
# can compute; no result at all is NoData.
STATES: dict[int, tuple[str, str]] = {
    0: ("Meeting", "green"), 1: ("AtRisk", "orange"), 2: ("Violating", "red"),
}
NO_DATA = "NoData"

# Panel titles the tests (and readers of the JSON) find panels by.
TITLE_SLI = "SLI"
TITLE_OBJECTIVE = "Objective"
TITLE_STATE = "State"
TITLE_COVERED = "Window covered"
TITLE_REMAINING = "Error budget remaining"
TITLE_BURN_RATE = "Burn rate"
TITLE_TIME_TO_EXHAUSTION = "Time to exhaustion"
TITLE_BURN_DOWN = "Error budget burn-down"
TITLE_SLI_OVER_TIME = "SLI over time"
TITLE_ACTIVE_ALERTS = "Active SLO alerts"
TITLE_RECENT_ALERTS = "Recent violations: alerts active in the time range"
TITLE_ALERT_HISTORY = "Alert history"
TITLE_STATE_HISTORY = "State history"
TITLE_COST_PER_UNIT = "Cost per unit vs the maximum"
TITLE_SPEND = "Spend vs budget"
TITLE_COST_FORECAST = "Forecast spend of the period"
TITLE_SLO_TABLE = "All SLOs"
TITLE_FIRING = "Firing SLO alerts"
TITLE_COUNTS = {"total": "SLOs", 0: "Meeting", 1: "At risk", 2: "Violating", "nodata": "No data"}


@dataclass(frozen=True)
class DashboardOptions:
    """How Grafana's dashboard sidecar finds the ConfigMaps (kube-prometheus-stack's conventions).

    The sidecar loads ConfigMaps carrying ``labels`` (default ``grafana_dashboard: "1"``) and files each
    board in the folder named by the ``folder_annotation`` annotation; an empty ``folder`` leaves the
    annotation off (the sidecar's default folder). ``enabled=False`` renders no dashboard ConfigMaps.
    """

    enabled: bool = True
    labels: dict[str, str] = field(default_factory=lambda: {"grafana_dashboard": "1"})
    folder_annotation: str = "grafana_folder"
    folder: str = "SLOs"


# ---- names ------------------------------------------------------------------------------------------


def _bounded(text: str, limit: int, allowed: re.Pattern[str] | None = None) -> str:
    """``text`` itself when it fits (and has only allowed characters), else a prefix and a hash of it."""
    if len(text) <= limit and (allowed is None or allowed.fullmatch(text)):
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    prefix = re.sub(r"[^a-zA-Z0-9_-]", "-", text) if allowed is not None else text
    return f"{prefix[: limit - 9].rstrip('.-_')}-{digest}"


def dashboard_uid(namespace: str, name: str) -> str:
    """Stable uid of an SLO's board: ``slo_<namespace>_<name>``, hashed past 40 characters.

    Neither namespaces nor SLO names can contain ``_``, so the readable form is unique; names with dots
    (not allowed in a uid) or too long get a prefix plus a hash of namespace/name.
    """
    return _bounded(f"slo_{namespace}_{name}", UID_MAX, _UID_CHARS)


def configmap_name(slo: SLO) -> str:
    return _bounded(f"{slo.name}-slo-dashboard", 253)


def _variable(label: str) -> str:
    """Template variable name for a groupBy label (kept clear of the datasource variable)."""
    return f"group_{label}" if label == DATASOURCE_VARIABLE else label


# ---- PromQL -----------------------------------------------------------------------------------------


def _matchers(slo: SLO, *, groups: bool = True, **extra: str) -> str:
    """Label matchers of the SLO's recorded series, filtered by the group variables when ``groups``."""
    parts = [f"slo={escape_label_value(slo.name)}", f"namespace={escape_label_value(slo.namespace)}"]
    if groups:
        parts += [f'{label}=~"${{{_variable(label)}}}"' for label in slo.group_by]
    parts += [f"{key}={escape_label_value(value)}" for key, value in extra.items()]
    return "{" + ",".join(parts) + "}"


def _number(value: Decimal | float | int) -> str:
    return exact(Decimal(str(value)))


def _legend(slo: SLO, text: str) -> str:
    """Legend text, followed by the group labels' values when the SLO has groupBy."""
    groups = " ".join("{{" + label + "}}" for label in slo.group_by)
    return f"{text} {groups}".strip()


def _by(slo: SLO, *labels: str) -> str:
    return ", ".join((*labels, *slo.group_by))


def sli_expr(slo: SLO) -> str:
    """The SLI the status shows: the lowest of the selected groups'."""
    return f"min({SLI}{_matchers(slo)})"


def objective_expr(slo: SLO) -> str:
    return f"max({OBJECTIVE}{_matchers(slo, groups=False)})"


def remaining_expr(slo: SLO) -> str:
    return f"min({BUDGET_REMAINING}{_matchers(slo)})"


def burn_rate_expr(slo: SLO, window: int) -> str:
    """Highest burn rate of the selected groups over ``window``."""
    return f"max({ERROR_RATIO}{_matchers(slo, window=format_duration(window))}) / {_number(slo.error_budget)}"


def _burn_rate_series(slo: SLO, window: str) -> str:
    """Each group's burn rate over ``window`` (its recorded error ratio / the error budget)."""
    return f"{ERROR_RATIO}{_matchers(slo, window=window)} / {_number(slo.error_budget)}"


def current_burn_rate_expr(slo: SLO) -> str:
    """Highest burn rate of the selected groups over the status' current window (``burnRate``)."""
    return f"max({CURRENT_BURN_RATE}{_matchers(slo)})"


def covered_expr(slo: SLO) -> str:
    """Share of the SLO window the recorded series cover (1 once they span it; see ``coverage``)."""
    since = f"min({RECORDING_SINCE}{_matchers(slo, groups=False)})"
    return f"clamp_max((time() - {since}) / {slo.window}, 1)"


def time_to_exhaustion_expr(slo: SLO) -> str:
    return f"min({TIME_TO_EXHAUSTION}{_matchers(slo)})"


def _firing_expr(slo: SLO, alert: ResolvedAlert) -> str:
    """1 when both of the alert's windows burn faster than its threshold (as measured_status decides)."""
    threshold = _number(alert.threshold)
    long, short = burn_rate_expr(slo, alert.long_window), burn_rate_expr(slo, alert.short_window)
    return f"({long} > bool {threshold} or vector(0)) * ({short} > bool {threshold} or vector(0))"


def state_expr(slo: SLO) -> str:
    """0 Meeting, 1 AtRisk, 2 Violating; no result when there is no SLI (NoData).

    Violating: no budget left. AtRisk: budget left but under ``AT_RISK_REMAINING`` or a burn-rate alert's
    condition holds. Same rules as ``status.measured_status``, so the board shows the status' state.
    """
    remaining = remaining_expr(slo)
    risks = [f"({remaining} < bool {_number(AT_RISK_REMAINING)})"]
    risks += [_firing_expr(slo, alert) for alert in slo.alerts]
    at_risk = "\n  + ".join(risks)
    return (
        f"2 * ({remaining} <= bool 0)\n"
        f"+ ({remaining} > bool 0) * clamp_max(\n  {at_risk},\n  1\n)"
    )


def burn_down_expr(slo: SLO) -> str:
    """Share of the window's error budget still unspent by the events since the start of the range.

    Tiered windows (``tiers``): spent is the bad-event running sum now minus its value at the range
    start (``tiers.sum_since``), the budget the SLO window's events ending at the range's end times the
    error budget (``window_total``) — the same samples and the same formula as the rules' error ratio,
    so with the range set to the SLO window the right end is the budget remaining, and a panel reads a
    few samples per step, not a window's worth. Shorter windows: spent sums the bad-event samples since
    the range start in tiles of ``$__interval`` (a subquery whose step equals its inner range partitions
    time, so every sample counts once), the budget is the flat sum over the window.
    ``ideal_expr`` is the budget spent evenly over the window.
    """
    budget = f"({window_total(slo)}) * {_number(slo.error_budget)}"
    if tiers.tiered(slo.window):
        spent = tiers.sum_since(slo, BAD_EVENTS, "${__from:date:seconds}", slo.window, _group_matchers(slo))
        return f"1 - {spent}\n/\n({budget})"
    matchers = _matchers(slo)
    since_start = "(time() > bool ${__from:date:seconds})"
    tile = f"sum_over_time({BAD_EVENTS}{matchers}[$__interval]) * {since_start}"
    spent = f"sum_over_time(({tile})[$__range:$__interval])"
    return f"1 - {spent}\n/\n({budget})"


def _group_matchers(slo: SLO) -> tuple[str, ...]:
    return tuple(f'{label}=~"${{{_variable(label)}}}"' for label in slo.group_by)


def window_total(slo: SLO) -> str:
    """All event samples of the SLO window ending at the range's end, as the rules' error ratio reads
    them: from the running sums when the window is tiered (``tiers.window_sum``: a few samples instead
    of a window's worth), else the flat sum over the same samples (``promql.window_range``)."""
    matchers = _matchers(slo)
    if tiers.tiered(slo.window):
        return tiers.window_sum(slo, TOTAL_EVENTS, slo.window, at=" @ end()", extra=_group_matchers(slo))
    return f"sum_over_time({TOTAL_EVENTS}{matchers}{window_range(slo.window)} @ end())"


def forecast_left_expr(slo: SLO, quantile: str | None = None) -> str:
    """Budget left one window ahead as the operator forecast it at each time (its /metrics gauges; the
    median, or the 10th/90th percentile of spend as ``quantile``)."""
    labels = f"slo_namespace={escape_label_value(slo.namespace)},slo={escape_label_value(slo.name)}"
    if quantile is None:
        return f"1 - max by (slo_namespace, slo) ({FORECAST_CONSUMED}{{{labels}}})"
    labels += f",quantile={escape_label_value(quantile)}"
    return f"1 - max by (slo_namespace, slo) ({FORECAST_CONSUMED_QUANTILE}{{{labels}}})"


def ideal_expr(slo: SLO) -> str:
    """The budget spent evenly over the SLO window, from 100% at the start of the range."""
    return f"1 - (time() - ${{__from:date:seconds}}) / {slo.window}"


# ---- panel helpers ----------------------------------------------------------------------------------


def _query(expr: str, ref: str, legend: str | None = None, *, instant: bool = False,
           table: bool = False) -> prom_b.Dataquery:
    query = prom_b.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    query = query.instant() if instant else query.range()
    if table:
        query = query.format(prom_m.PromQueryFormat.TABLE)
    if legend is not None:
        query = query.legend_format(legend)
    return query


def _thresholds(*steps: tuple[float | None, str]) -> dash_b.ThresholdsConfig:
    return dash_b.ThresholdsConfig().mode(dash_m.ThresholdsMode.ABSOLUTE).steps(
        [dash_m.Threshold(value=value, color=color) for value, color in steps]
    )


def _budget_thresholds() -> dash_b.ThresholdsConfig:
    return _thresholds((None, "red"), (0, "orange"), (AT_RISK_REMAINING, "green"))


def _state_mappings() -> list[dash_m.ValueMapping]:
    options = {
        str(code): dash_m.ValueMappingResult(text=text, color=color, index=code)
        for code, (text, color) in STATES.items()
    }
    no_data = dash_m.SpecialValueMap(dash_m.DashboardSpecialValueMapOptions(
        match=dash_m.SpecialValueMatch.NULL_AND_NAN,
        result=dash_m.ValueMappingResult(text=NO_DATA, color="text", index=len(STATES)),
    ))
    return [dash_m.ValueMap(options), no_data]


def _stat(title: str, description: str, query: prom_b.Dataquery, width: int = 4,
          height: int = 5) -> stat_b.Panel:
    return (
        stat_b.Panel().title(title).description(description).datasource(DATASOURCE).with_target(query)
        .span(width).height(height)
        .reduce_options(common_b.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .graph_mode(common_m.BigValueGraphMode.NONE)
        .color_mode(common_m.BigValueColorMode.BACKGROUND)
        .text_mode(common_m.BigValueTextMode.VALUE)
    )


DASHED = {"fill": "dash", "dash": [10, 10]}
FORECAST_MEDIAN = "forecast: left one window ahead"
FORECAST_HIGH = "forecast 10th percentile of spend"
FORECAST_LOW = "forecast 90th percentile of spend"


def _prop(key: str, value: Any) -> dash_m.DynamicConfigValue:
    """One field-config property of an override (``unit``, ``custom.lineStyle``, ...)."""
    return dash_m.DynamicConfigValue(id_val=key, value=value)


def _fixed(color: str) -> dict[str, str]:
    return {"mode": "fixed", "fixedColor": color}


def _legend_options() -> common_b.VizLegendOptions:
    return (common_b.VizLegendOptions().display_mode(common_m.LegendDisplayMode.TABLE)
            .placement(common_m.LegendPlacement.BOTTOM).show_legend(True)
            .calcs(["lastNotNull", "min", "max"]))


def _timeseries(title: str, description: str, width: int = 12, height: int = 8) -> timeseries_b.Panel:
    return (
        timeseries_b.Panel().title(title).description(description).datasource(DATASOURCE)
        .span(width).height(height).legend(_legend_options())
        .tooltip(common_b.VizTooltipOptions().mode(common_m.TooltipDisplayMode.MULTI)
                 .sort(common_m.SortOrder.DESCENDING))
        .line_width(2).fill_opacity(0).show_points(common_m.VisibilityMode.NEVER)
    )


def _table() -> table_b.Panel:
    """A table panel with its field defaults spelt out (what Grafana, and the SDK's model, fill in)."""
    return table_b.Panel().align(common_m.FieldTextAlignment.AUTO).inspect(False)


def _timeline() -> timeline_b.Panel:
    return timeline_b.Panel().fill_opacity(70).line_width(0)


def _organize(exclude: list[str], rename: dict[str, str] | None = None,
              order: list[str] | None = None) -> dash_m.DataTransformerConfig:
    options: dict[str, Any] = {"excludeByName": {name: True for name in exclude}}
    if rename:
        options["renameByName"] = rename
    if order:
        options["indexByName"] = {name: index for index, name in enumerate(order)}
    return dash_m.DataTransformerConfig(id_val="organize", options=options)


def _datasource_variable() -> dash_b.DatasourceVariable:
    return dash_b.DatasourceVariable(DATASOURCE_VARIABLE).label("Data source").type("prometheus")


def _label_variable(name: str, label: str, query: str) -> dash_b.QueryVariable:
    """A multi-value variable over a label's values, ``All`` (``.*``) by default."""
    return (
        dash_b.QueryVariable(name).label(label).datasource(DATASOURCE)
        .query(query)  # the classic string form: Grafana's Prometheus variable support parses it
        .refresh(dash_m.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(dash_m.VariableSort.ALPHABETICAL_ASC)
        .multi(True).include_all(True).all_value(".*")
        .current(dash_m.VariableOption(selected=True, text=["All"], value=["$__all"]))
    )


def _built(board: dash_b.Dashboard) -> Any:
    """The dashboard model, panels numbered in order (stable ids for links and goldens)."""
    model = board.build()
    next_id = 1
    for panel in model.panels or []:
        panel.id_val = next_id
        next_id += 1
        for inner in getattr(panel, "panels", None) or []:
            inner.id_val = next_id
            next_id += 1
    return model


def _encode(board: dash_b.Dashboard) -> dict[str, Any]:
    """The dashboard as plain JSON data."""
    data: dict[str, Any] = json.loads(json.dumps(_built(board), cls=JSONEncoder))
    return data


# ---- the detail board -------------------------------------------------------------------------------


def _window_text(seconds: int) -> str:
    return format_duration(seconds)


def _cost_panels(board: dash_b.Dashboard, slo: SLO) -> dash_b.Dashboard:
    """The "Cost" row of a cost SLO (README "Cost SLOs"): cost per unit per slice against the maximum,
    spend against the budget, and the spend forecast for the period; nothing for other kinds."""
    cost = slo.cost
    if cost is None:
        return board
    slice_ = _window_text(slo.base_window)
    money = cost.currency or "money"
    unit = f"currency:{cost.currency}" if cost.currency else "short"
    board = board.with_row(dash_b.Row("Cost"))
    board = board.with_panel(
        _timeseries(TITLE_COST_PER_UNIT,
                    f"Spend / units over each {slice_} slice; a slice above the maximum is a bad slice. "
                    "Gaps: slices without units (idle), which count neither way.", width=8)
        .with_target(_query(f"{COST_PER_UNIT}{_matchers(slo)}", "A", f"per unit ({slice_})"))
        .with_target(_query(f"{COST_MAX_PER_UNIT}{_matchers(slo)}", "B", "maximum"))
        .unit("short").decimals(6)
        .override_by_name("maximum", [_prop("custom.lineStyle", DASHED), _prop("color", _fixed("red"))])
    )
    if cost.budget is None:
        return board.with_panel(
            _timeseries(TITLE_SPEND, f"Spend per hour ({money}), over 5 minutes.", width=16)
            .with_target(_query(f"{COST_SPEND}{_matchers(slo, window='5m')} * 3600", "A", "per hour"))
            .unit(unit)
        )
    period = "this calendar month (UTC)" if cost.period == "month" else f"the last {_window_text(slo.window)}"
    pace = _window_text(forecast_window(slo))
    board = board.with_panel(
        _timeseries(TITLE_SPEND, f"Spent in {period} against the budget of {exact(cost.budget)} {money}.",
                    width=8)
        .with_target(_query(f"{COST_SPENT}{_matchers(slo)}", "A", "spent"))
        .with_target(_query(f"{COST_BUDGET}{_matchers(slo)}", "B", "budget"))
        .unit(unit).decimals(2)
        .override_by_name("budget", [_prop("custom.lineStyle", DASHED), _prop("color", _fixed("red"))])
    )
    return board.with_panel(
        _stat(TITLE_COST_FORECAST,
              f"Spend of the whole period at the pace of the last {pace} (spent so far + pace × time left); "
              f"red above the budget of {exact(cost.budget)} {money}.",
              _query(f"{COST_FORECAST}{_matchers(slo)}", "A", instant=True), width=8)
        .unit(unit).decimals(2)
        .thresholds(_thresholds((None, "green"), (float(cost.budget) * 0.9, "orange"),
                                (float(cost.budget), "red")))
    )


def slo_dashboard(slo: SLO, fast_interval: str = "30s") -> dict[str, Any]:
    """The detail board of one SLO (Grafana dashboard JSON); see ``_slo_board``."""
    return _encode(_slo_board(slo, fast_interval))


def _slo_board(slo: SLO, fast_interval: str = "30s") -> dash_b.Dashboard:
    """The detail board of one SLO.

    Rows follow the SLO lab: status (SLI, objective, state), error budget (remaining, burn rate, time to
    exhaustion), over time (state, SLI, burn-down with the ideal line, one burn-rate panel per alert
    with its threshold drawn), and alerts (active, recent, history from ALERTS / ALERTS_FOR_STATE).
    ``fast_interval`` is the rule group interval the alerts are evaluated at (it turns counts of ALERTS
    samples into time firing).
    """
    window = _window_text(slo.window)
    current = _window_text(slo.current_burn_window)
    objective_pct = _number(slo.objective * 100)
    board = (
        dash_b.Dashboard(f"SLO: {slo.namespace}/{slo.name}")
        .uid(dashboard_uid(slo.namespace, slo.name))
        .description(f"{slo.service}: {slo.description or slo.kind} ({slo.kind}, {objective_pct}% over "
                     f"{window}). Generated by slo-operator from the ServiceLevelObjective; "
                     "edits are overwritten.")
        .tags([*TAGS, slo.kind, f"namespace:{slo.namespace}", f"service:{slo.service}"])
        .editable().time(f"now-{window}", "now").refresh("1m").timezone("browser")
        .tooltip(dash_m.DashboardCursorSync.CROSSHAIR)
        .link(dash_b.DashboardLink("All SLOs").type(dash_m.DashboardLinkType.LINK).url(f"/d/{OVERVIEW_UID}")
              .icon("dashboard").keep_time(True))
        .with_variable(_datasource_variable())
    )
    for label in slo.group_by:
        board = board.with_variable(_label_variable(
            _variable(label), label, f"label_values({SLI}{_matchers(slo, groups=False)}, {label})"))

    board = board.with_row(dash_b.Row("Status"))
    board = board.with_panel(
        _stat(TITLE_SLI, f"Share of good events over the {window} window (the lowest selected group).",
              _query(sli_expr(slo), "A", instant=True), width=6)
        .unit("percentunit").decimals(3)
        .thresholds(_thresholds((None, "red"), (float(slo.objective), "green")))
    )
    board = board.with_panel(
        _stat(TITLE_OBJECTIVE, f"The SLO: {objective_pct}% of events good over {window}.",
              _query(objective_expr(slo), "A", instant=True), width=6)
        .unit("percentunit").decimals(3).thresholds(_thresholds((None, "blue")))
    )
    board = board.with_panel(
        _stat(TITLE_STATE, "Meeting; AtRisk (under 10% of the budget left, or a burn-rate alert's condition "
              "holds); Violating (budget spent); NoData. The same rules as the SLO's status.",
              _query(state_expr(slo), "A", instant=True), width=6)
        .mappings(_state_mappings()).no_value(NO_DATA)
        .thresholds(_thresholds((None, "green"), (1, "orange"), (2, "red")))
    )
    board = board.with_panel(
        _stat(TITLE_COVERED, f"Share of the {window} window the recorded series cover. Under 100%, the SLI, "
              "budget and burn-down on this board cover only that part of the window; the SLO's status "
              "(kubectl get slo -o wide, status.window) reads raw history for the rest.",
              _query(covered_expr(slo), "A", instant=True), width=6)
        .unit("percentunit").decimals(1).no_value("not recorded yet")
        .thresholds(_thresholds((None, "orange"), (1, "green")))
    )

    board = board.with_row(dash_b.Row("Error budget"))
    board = board.with_panel(
        _stat(TITLE_REMAINING, f"Share of the {window} error budget not yet spent (negative: overspent).",
              _query(remaining_expr(slo), "A", instant=True), width=8)
        .unit("percentunit").decimals(2)
        .thresholds(_budget_thresholds())
    )
    first_threshold = float(slo.alerts[0].threshold) if slo.alerts else 10.0
    board = board.with_panel(
        _stat(f"{TITLE_BURN_RATE} ({current})",
              f"How fast the budget burns over the last {current}: 1 spends it exactly in {window}.",
              _query(current_burn_rate_expr(slo), "A", instant=True), width=8)
        .unit("suffix:x").decimals(3)
        .thresholds(_thresholds((None, "green"), (1, "orange"), (first_threshold, "red")))
    )
    board = board.with_panel(
        _stat(TITLE_TIME_TO_EXHAUSTION,
              f"When the budget left is gone at the {current} burn rate. Empty: not burning.",
              _query(time_to_exhaustion_expr(slo), "A", instant=True), width=8)
        .unit("dtdurations").no_value("not burning")
        .thresholds(_thresholds((None, "red"), (slo.window / 10, "orange"), (slo.window, "green")))
    )

    board = board.with_row(dash_b.Row("Over time"))
    board = board.with_panel(
        _timeline().title(TITLE_STATE_HISTORY).description("The state over the time range.")
        .datasource(DATASOURCE).with_target(_query(state_expr(slo), "A", "state")).span(24).height(4)
        .mappings(_state_mappings()).thresholds(_thresholds((None, "green"), (1, "orange"), (2, "red")))
        .show_value(common_m.VisibilityMode.NEVER).merge_values(True)
        .legend(common_b.VizLegendOptions().show_legend(False))
    )
    board = board.with_panel(
        _timeseries(TITLE_SLI_OVER_TIME, f"The {window} SLI against the objective.")
        .with_target(_query(f"{SLI}{_matchers(slo)}", "A", _legend(slo, f"SLI ({window})")))
        .with_target(_query(f"{OBJECTIVE}{_matchers(slo, groups=False)}", "B", "objective"))
        .unit("percentunit").decimals(3)
        .override_by_name("objective", [_prop("custom.lineStyle", DASHED), _prop("color", _fixed("blue"))])
    )
    board = board.with_panel(
        _timeseries(TITLE_BURN_DOWN,
                    f"Budget left after the events since the start of the range, as a share of the {window} "
                    f"budget; ideal: spent evenly over {window}. Set the range to {window} to compare with "
                    "the rolling budget remaining. Forecast (purple, from the operator's /metrics): the "
                    "budget the operator expected to be left one window later, with its 10th-90th "
                    "percentile band.")
        .with_target(_query(burn_down_expr(slo), "A", _legend(slo, "left (spent since range start)")))
        .with_target(_query(ideal_expr(slo), "B", f"ideal (even spend over {window})"))
        .with_target(_query(f"{BUDGET_REMAINING}{_matchers(slo)}", "C", _legend(slo, f"rolling {window}")))
        .with_target(_query(forecast_left_expr(slo), "D", FORECAST_MEDIAN))
        .with_target(_query(forecast_left_expr(slo, "0.1"), "E", FORECAST_HIGH))
        .with_target(_query(forecast_left_expr(slo, "0.9"), "F", FORECAST_LOW))
        .unit("percentunit").decimals(2)
        .override_by_name(f"ideal (even spend over {window})",
                          [_prop("custom.lineStyle", DASHED), _prop("color", _fixed("green"))])
        .override_by_name(FORECAST_MEDIAN,
                          [_prop("custom.lineStyle", DASHED), _prop("color", _fixed("purple"))])
        .override_by_name(FORECAST_HIGH, [_prop("custom.fillBelowTo", FORECAST_LOW),
                                          _prop("custom.lineWidth", 0), _prop("color", _fixed("purple"))])
        .override_by_name(FORECAST_LOW, [_prop("custom.lineWidth", 0), _prop("color", _fixed("purple"))])
    )
    width = max(8, 24 // max(1, len(slo.alerts)))
    for alert in slo.alerts:
        threshold = _number(alert.threshold)
        board = board.with_panel(
            _timeseries(f"{TITLE_BURN_RATE}: {alert.name} ({alert.severity})",
                        f"Fires when both the {alert.long} and the {alert.short} burn rates exceed "
                        f"{threshold} ({_number(alert.budget_percent)}% of the budget within {alert.long}).",
                        width=width)
            .with_target(_query(_burn_rate_series(slo, alert.long), "A", _legend(slo, alert.long)))
            .with_target(_query(_burn_rate_series(slo, alert.short), "B", _legend(slo, alert.short)))
            .unit("suffix:x").decimals(2)
            .thresholds(_thresholds((None, "green"), (float(alert.threshold), "red")))
            .thresholds_style(common_b.GraphThresholdsStyleConfig().mode(common_m.GraphThresholdsStyleMode.DASHED))
        )
    board = board.with_panel(
        _timeseries("Events", "Base series every window is derived from: bad and all events per second over "
                    f"{_window_text(slo.base_window)} (timeslices: 1 per bad slice, 1 per slice with data).",
                    width=24)
        .with_target(_query(f"{TOTAL_EVENTS}{_matchers(slo)}", "A", _legend(slo, "all")))
        .with_target(_query(f"{BAD_EVENTS}{_matchers(slo)}", "B", _legend(slo, "bad")))
        .unit("short")
    )

    board = _cost_panels(board, slo)
    alerts = _matchers(slo)
    by = _by(slo, "alertname", "severity")
    step = float(parse_duration(fast_interval))
    board = board.with_row(dash_b.Row("Alerts"))
    board = board.with_panel(
        _table().title(TITLE_ACTIVE_ALERTS).description("Firing and pending alerts of this SLO now.")
        .datasource(DATASOURCE).span(12).height(8)
        .with_target(_query(f"ALERTS{alerts}", "A", instant=True, table=True))
        .with_transformation(_organize(["Time", "Value", "__name__"],
                                       order=["alertname", "alertstate", "severity"]))
        .no_value("no alert firing")
    )
    board = board.with_panel(
        _table().title(TITLE_RECENT_ALERTS)
        .description("Every alert of this SLO active in the time range: when it last became active "
                     "(ALERTS_FOR_STATE) and how long it fired (ALERTS).")
        .datasource(DATASOURCE).span(12).height(8)
        .with_target(_query(f"max by ({by}) (max_over_time(ALERTS_FOR_STATE{alerts}[$__range])) * 1000", "A",
                            instant=True, table=True))
        .with_target(_query(f'sum by ({by}) (count_over_time(ALERTS{_matchers(slo, alertstate="firing")}'
                            f"[$__range])) * {_number(step)}", "B", instant=True, table=True))
        .with_transformation(dash_m.DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(_organize(["Time"], {"Value #A": "last became active",
                                                  "Value #B": "time firing"}))
        .override_by_name("last became active", [_prop("unit", "dateTimeAsIso")])
        .override_by_name("time firing", [_prop("unit", "dtdurations")])
        .no_value("no alert in the time range")
    )
    board = board.with_panel(
        _timeline().title(TITLE_ALERT_HISTORY).description("When each alert was pending or firing.")
        .datasource(DATASOURCE).span(24).height(6)
        .with_target(_query(f"max by (alertname, alertstate) (ALERTS{alerts})", "A",
                            "{{alertname}} {{alertstate}}"))
        .thresholds(_thresholds((None, "red"))).show_value(common_m.VisibilityMode.NEVER)
        .legend(common_b.VizLegendOptions().show_legend(False))
    )
    return board


# ---- the overview -----------------------------------------------------------------------------------

_NS = 'namespace=~"${namespace}"'
_SLO_BY = "namespace, slo, service"


def overview_remaining_expr() -> str:
    return f"min by ({_SLO_BY}) ({BUDGET_REMAINING}{{{_NS}}})"


def overview_state_expr() -> str:
    """State of every SLO (0/1/2 as ``state_expr``), with the burn-rate condition read from ALERTS.

    The overview knows no SLO's thresholds, so "a burn-rate alert's condition holds" is a pending or
    firing SLO alert, which Prometheus evaluates from the same recorded burn rates. It differs from the
    status only for SLOs with alerting disabled (no alerts to read).
    """
    remaining = overview_remaining_expr()
    alerts = f'ALERTS{{{_NS},slo!="",alertname!="SLONoData",alertstate=~"firing|pending"}}'
    firing = f"max by ({_SLO_BY}) ({alerts})"
    return (
        f"2 * ({remaining} <= bool 0)\n"
        f"+ ({remaining} > bool 0) * clamp_max(\n"
        f"  ({remaining} < bool {_number(AT_RISK_REMAINING)})\n"
        f"  + ({firing} or 0 * {remaining}),\n  1\n)"
    )


def overview_count_exprs() -> dict[str | int, str]:
    """How many SLOs there are, per state, and with no data."""
    slos = f"max by (namespace, slo) ({OBJECTIVE}{{{_NS}}})"
    counts: dict[str | int, str] = {"total": f"count({slos}) or vector(0)"}
    for code in STATES:
        counts[code] = f"count(({overview_state_expr()}) == {code}) or vector(0)"
    counts["nodata"] = f"count({slos} unless on (namespace, slo) {SLI}{{{_NS}}}) or vector(0)"
    return counts


def overview_table_exprs() -> dict[str, str]:
    """Columns of the SLO table: one instant query each, merged on namespace/slo/service."""
    return {
        "Objective": f"max by ({_SLO_BY}) ({OBJECTIVE}{{{_NS}}})",
        "SLI": f"min by ({_SLO_BY}) ({SLI}{{{_NS}}})",
        "Budget remaining": overview_remaining_expr(),
        "Burn rate": f"max by ({_SLO_BY}) ({CURRENT_BURN_RATE}{{{_NS}}})",
        "Time to exhaustion": f"min by ({_SLO_BY}) ({TIME_TO_EXHAUSTION}{{{_NS}}})",
        "State": overview_state_expr(),
    }


def overview_dashboard() -> dict[str, Any]:
    """The board of every SLO: counts per state, a table of all SLOs, firing alerts, budgets over time."""
    board = (
        dash_b.Dashboard(OVERVIEW_TITLE).uid(OVERVIEW_UID)
        .description("Every ServiceLevelObjective Prometheus has slo-operator's recorded series for. "
                     "Shipped by slo-operator (manifests/dashboards); edits are overwritten.")
        .tags(TAGS).editable().time("now-7d", "now").refresh("1m").timezone("browser")
        .tooltip(dash_m.DashboardCursorSync.CROSSHAIR)
        .link(dash_b.DashboardLink("SLO dashboards").type(dash_m.DashboardLinkType.DASHBOARDS).tags(["slo"])
              .as_dropdown(True).keep_time(True).include_vars(False))
        .with_variable(_datasource_variable())
        .with_variable(_label_variable("namespace", "Namespace", f"label_values({OBJECTIVE}, namespace)"))
    )
    colors = {"total": "blue", 0: "green", 1: "orange", 2: "red", "nodata": "text"}
    for key, expr in overview_count_exprs().items():
        board = board.with_panel(
            _stat(TITLE_COUNTS[key], f"Number of SLOs: {TITLE_COUNTS[key].lower()}.",
                  _query(expr, "A", instant=True), width=4)
            .unit("none").decimals(0).thresholds(_thresholds((None, colors[key])))
        )
    board = board.with_panel(
        _stat(TITLE_FIRING, "SLO alerts firing now.",
              _query(f'count(ALERTS{{{_NS},slo!="",alertstate="firing"}}) or vector(0)', "A", instant=True),
              width=24, height=3)
        .unit("none").decimals(0).thresholds(_thresholds((None, "green"), (1, "red")))
    )
    columns = overview_table_exprs()
    refs = {name: chr(ord("A") + index) for index, name in enumerate(columns)}
    slo_table = (
        _table().title(TITLE_SLO_TABLE)
        .description("One row per SLO; the burn rate is over each SLO's current window (its first "
                     "alert's long window, as in its status). Click an SLO for its board.")
        .datasource(DATASOURCE).span(24).height(10)
        .with_transformation(dash_m.DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(_organize(
            ["Time"], {f"Value #{ref}": name for name, ref in refs.items()},
            ["namespace", "slo", "service", *columns]))
        .sort_by([common_b.TableSortByFieldState().display_name("Budget remaining").desc(False)])
        .with_override(dash_m.MatcherConfig(id_val="byName", options="slo"), [dash_m.DynamicConfigValue(
            id_val="links", value=[{"title": "SLO dashboard",
                                    "url": "/dashboards?tag=slo&query=${__data.fields.slo}"}])])
        .override_by_name("Objective", [_prop("unit", "percentunit"), _prop("decimals", 3)])
        .override_by_name("SLI", [_prop("unit", "percentunit"), _prop("decimals", 3)])
        .override_by_name("Budget remaining", [
            _prop("unit", "percentunit"), _prop("decimals", 2),
            _prop("custom.cellOptions", {"type": "color-text"}),
            _prop("thresholds", _budget_thresholds().build()),
        ])
        .override_by_name("Burn rate", [_prop("unit", "suffix:x"), _prop("decimals", 3)])
        .override_by_name("Time to exhaustion", [_prop("unit", "dtdurations")])
        .override_by_name("State", [_prop("mappings", _state_mappings()),
                                    _prop("custom.cellOptions", {"type": "color-background"})])
    )
    for name, expr in columns.items():
        slo_table = slo_table.with_target(_query(expr, refs[name], instant=True, table=True))
    board = board.with_panel(slo_table)
    board = board.with_panel(
        _table().title(TITLE_FIRING).description("Every firing alert of an SLO, with its labels.")
        .datasource(DATASOURCE).span(24).height(7)
        .with_target(_query(f'ALERTS{{{_NS},slo!="",alertstate="firing"}}', "A", instant=True, table=True))
        .with_transformation(_organize(["Time", "Value", "__name__", "alertstate"],
                                       order=["alertname", "severity", "namespace", "slo", "service"]))
        .no_value("no SLO alert firing")
    )
    board = board.with_panel(
        _timeline().title(TITLE_STATE_HISTORY).description("Each SLO's state over the time range.")
        .datasource(DATASOURCE).span(24).height(8)
        .with_target(_query(overview_state_expr(), "A", "{{namespace}}/{{slo}}"))
        .mappings(_state_mappings()).thresholds(_thresholds((None, "green"), (1, "orange"), (2, "red")))
        .show_value(common_m.VisibilityMode.NEVER).merge_values(True)
    )
    board = board.with_panel(
        _timeseries(TITLE_REMAINING, "Each SLO's error budget left (rolling window).")
        .with_target(_query(overview_remaining_expr(), "A", "{{namespace}}/{{slo}}"))
        .unit("percentunit").decimals(2)
        .thresholds(_thresholds((None, "red"), (0, "transparent")))
        .thresholds_style(common_b.GraphThresholdsStyleConfig().mode(common_m.GraphThresholdsStyleMode.DASHED))
    )
    board = board.with_panel(
        _timeseries(TITLE_BURN_RATE, "Each SLO's burn rate over its current window (its first alert's long "
                    "window, as in its status), named in the legend.")
        .with_target(_query(f"max by (namespace, slo, window) ({CURRENT_BURN_RATE}{{{_NS}}})", "A",
                            "{{namespace}}/{{slo}} ({{window}})"))
        .unit("suffix:x").decimals(2)
        .thresholds(_thresholds((None, "green"), (1, "orange")))
        .thresholds_style(common_b.GraphThresholdsStyleConfig().mode(common_m.GraphThresholdsStyleMode.DASHED))
    )
    return _encode(board)


# ---- ConfigMaps -------------------------------------------------------------------------------------


def to_json_text(dashboard: dict[str, Any]) -> str:
    """Stable JSON text (same input, same bytes: server-side apply stays a no-op, goldens diff cleanly)."""
    return json.dumps(dashboard, indent=2, ensure_ascii=False) + "\n"


def to_compact_json(dashboard: Any) -> str:
    """Stable JSON without indentation, for the per-SLO ConfigMaps: Python's C encoder only runs without
    ``indent``, and the indented text was three quarters of a reconcile's CPU (a 44 KB board per SLO).
    Takes the plain data or the SDK's built model (same text: ``JSONEncoder`` encodes its objects)."""
    return json.dumps(dashboard, cls=JSONEncoder, ensure_ascii=False, separators=(",", ":")) + "\n"


def _configmap(name: str, namespace: str, key: str, text: str, labels: dict[str, str],
               options: DashboardOptions) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(labels)}
    if options.folder and options.folder_annotation:
        metadata["annotations"] = {options.folder_annotation: options.folder}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {key: text}}


def dashboard_configmap(slo: SLO, options: DashboardOptions, labels: dict[str, str],
                        fast_interval: str = "30s") -> dict[str, Any] | None:
    """The ConfigMap the sidecar loads the SLO's board from (in the SLO's namespace, like every child).

    ``labels`` are all of its labels: the sidecar's (``options.labels``) and the operator's own, which
    ``render.dashboard_configmap`` merges so the sidecar's can never replace the ownership labels. The
    data key names the file the sidecar writes; it holds namespace and name so two SLOs of the same name
    in different namespaces do not overwrite each other's file.
    """
    if not options.enabled:
        return None
    key = _bounded(f"slo_{slo.namespace}_{slo.name}", 248) + ".json"
    text = board_text(slo, fast_interval)
    return _configmap(configmap_name(slo), slo.namespace, key, text, labels, options)


# ---- the board's text from a template per shape ------------------------------------------------------------
# Building a board with the SDK's builders and encoding it is most of a reconcile's rendering CPU, and SLOs
# that differ only in name, namespace and service (a team's many endpoints, the same SLO across services)
# have boards that differ only where those three are written. So the board of such an SLO is built once
# with stand-ins for them, and each SLO's text is that template with its own values put in. Only values
# that every place writes verbatim qualify (no escaping in JSON or PromQL, a readable uid within its
# limit); any other SLO is built whole, as before. Tests compare both ways for every golden case.

_PLAIN_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
_PLAIN_SERVICE = re.compile(r"[A-Za-z0-9._-]+")
_STAND_INS = {"namespace": "qqSLONSqq", "name": "qqSLONAMEqq", "service": "qqSLOSERVICEqq"}
_STAND_IN = re.compile("|".join(_STAND_INS.values()))
_TEMPLATES: OrderedDict[str, str] = OrderedDict()
_TEMPLATES_KEPT = 16  # shapes (a board's text is 25-45 KB)
_TEMPLATES_LOCK = threading.Lock()  # reconciles run in several threads


def _templated(slo: SLO) -> bool:
    return bool(
        _PLAIN_NAME.fullmatch(slo.name)
        and _PLAIN_NAME.fullmatch(slo.namespace)
        and _PLAIN_SERVICE.fullmatch(slo.service)
        and len(f"slo_{slo.namespace}_{slo.name}") <= UID_MAX
    )


def board_text(slo: SLO, fast_interval: str = "30s") -> str:
    """The SLO's board as compact JSON text: ``to_compact_json(slo_dashboard(slo, fast_interval))``,
    built in one encoding (not three: the data round trip was a quarter of a reconcile's CPU) and, for
    SLOs whose identity is plain, from the template of their shape."""
    if not _templated(slo):
        return to_compact_json(_built(_slo_board(slo, fast_interval)))
    shape = repr((replace(slo, name="", namespace="", service=""), fast_interval))
    if _STAND_IN.search(shape):  # a stand-in written in the spec itself: no template
        return to_compact_json(_built(_slo_board(slo, fast_interval)))
    with _TEMPLATES_LOCK:
        template = _TEMPLATES.get(shape)
        if template is not None:
            _TEMPLATES.move_to_end(shape)
    if template is None:
        stand_in = replace(
            slo, namespace=_STAND_INS["namespace"], name=_STAND_INS["name"], service=_STAND_INS["service"]
        )
        template = to_compact_json(_built(_slo_board(stand_in, fast_interval)))
        with _TEMPLATES_LOCK:
            _TEMPLATES[shape] = template
            while len(_TEMPLATES) > _TEMPLATES_KEPT:
                _TEMPLATES.popitem(last=False)
    values = {_STAND_INS[field_]: getattr(slo, field_) for field_ in _STAND_INS}
    return _STAND_IN.sub(lambda match: values[match.group()], template)


def overview_configmap(options: DashboardOptions | None = None, namespace: str = "slo-system",
                       labels: dict[str, str] | None = None) -> dict[str, Any]:
    """The overview board's ConfigMap (shipped in manifests/dashboards/, next to the operator)."""
    options = options or DashboardOptions()
    base = {"app.kubernetes.io/name": "slo-operator", "app.kubernetes.io/component": "dashboards"}
    labels = {**base, **(labels or {}), **options.labels}
    text = to_json_text(overview_dashboard())
    return _configmap("slo-overview-dashboard", namespace, "slo-overview.json", text, labels, options)
