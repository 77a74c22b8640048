"""Pictures of the key panels, drawn with matplotlib from the very range queries the boards run.

A reviewer sees the budget burn-down, the SLI against its objective, the burn rates against their alert
thresholds and the state over time without a Grafana server: ``test-artifacts/dashboards/*.png``
(gitignored; CI keeps them as artifacts).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pytest
from dashboard_env import REPO, Environment, group_variables, panel, panels, range_query, substitute
from matplotlib.axes import Axes
from slo_operator import dashboards
from slo_operator.durations import format_duration

matplotlib.use("Agg")  # headless: pyplot picks its backend at the first figure

ARTIFACTS = REPO / "test-artifacts" / "dashboards"
STEP = 120
PICTURED = ["model-availability", "checkout-success", "model-accuracy", "feature-freshness", "model-latency"]
STATE_COLORS = {0: "tab:green", 1: "tab:orange", 2: "tab:red"}


def legend(template: str, metric: dict[str, str]) -> str:
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: metric.get(m.group(1), ""), template).strip()


def plot_targets(ax: Axes, env: Environment, item: dict[str, Any], variables: dict[str, str]) -> int:
    """Every target of a panel as lines (dashed for the ideal/objective ones); returns the line count."""
    lines = 0
    for target in item["targets"]:
        for series in range_query(env, substitute(target["expr"], env, STEP, variables), STEP):
            times = [datetime.fromtimestamp(float(t), UTC) for t, _ in series["values"]]
            values = [float(v) for _, v in series["values"]]
            name = legend(target.get("legendFormat", ""), series["metric"])
            style = "--" if name.startswith(("ideal", "objective")) else "-"
            ax.plot(times, values, style, label=name, linewidth=1.6)
            lines += 1
    return lines


def percent_axis(ax: Axes) -> None:
    ax.yaxis.set_major_formatter(lambda value, _: f"{value * 100:.2f}%")


def draw_state(ax: Axes, env: Environment, expr: str, variables: dict[str, str], labels: str) -> int:
    """State timeline: one colored band per series (Meeting / AtRisk / Violating)."""
    rows = range_query(env, substitute(expr, env, STEP, variables), STEP)
    for row, series in enumerate(rows):
        for t, value in series["values"]:
            start = datetime.fromtimestamp(float(t), UTC)
            ax.barh(row, STEP / 86400, left=mdates.date2num(start), height=0.6,
                    color=STATE_COLORS[int(float(value))], linewidth=0)
    ax.set_yticks(range(len(rows)), [legend(labels, s["metric"]) or "state" for s in rows])
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in STATE_COLORS.values()]
    ax.legend(handles, [text for text, _ in dashboards.STATES.values()], loc="upper left", fontsize=7, ncol=3)
    return len(rows)


def finish(ax: Axes, title: str) -> None:
    ax.set_title(title, fontsize=10)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    ax.grid(alpha=0.3)
    if ax.get_legend() is None and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")


@pytest.mark.parametrize("name", PICTURED)
def test_detail_board_picture(env: Environment, name: str) -> None:
    slo = env.by_name(name)
    board = dashboards.slo_dashboard(slo)
    variables = group_variables(board)
    burn_panels = [p for p in panels(board) if p["title"].startswith(f"{dashboards.TITLE_BURN_RATE}: ")]
    rows = (len(burn_panels) + 5) // 2  # SLI, burn-down, one per alert, state, events
    fig, axes = plt.subplots(rows, 2, figsize=(15, 4.2 * rows), sharex=True)
    grid = list(axes.flat)

    sli = panel(board, dashboards.TITLE_SLI_OVER_TIME)
    assert plot_targets(grid[0], env, sli, variables) >= 2
    percent_axis(grid[0])
    finish(grid[0], sli["title"])

    burn_down = panel(board, dashboards.TITLE_BURN_DOWN)
    assert plot_targets(grid[1], env, burn_down, variables) >= 3
    percent_axis(grid[1])
    grid[1].axhline(0, color="black", linewidth=0.8)
    finish(grid[1], f"{burn_down['title']} (range = the data's {env.range_seconds // 3600}h)")

    for ax, item in zip(grid[2:], burn_panels, strict=False):
        assert plot_targets(ax, env, item, variables) >= 2
        threshold = item["fieldConfig"]["defaults"]["thresholds"]["steps"][-1]["value"]
        ax.axhline(threshold, color="red", linestyle=":", label=f"threshold {threshold}")
        ax.set_ylim(bottom=0)
        finish(ax, item["title"])

    state_ax = grid[2 + len(burn_panels)]
    assert draw_state(state_ax, env, panel(board, dashboards.TITLE_STATE_HISTORY)["targets"][0]["expr"],
                      variables, "") == 1
    finish(state_ax, dashboards.TITLE_STATE_HISTORY)
    events = panel(board, "Events")
    ax = grid[3 + len(burn_panels)]
    assert plot_targets(ax, env, events, variables) >= 2
    finish(ax, events["title"] + " (per second)")
    for unused in grid[4 + len(burn_panels):]:
        unused.set_visible(False)

    fig.suptitle(f"{board['title']}: {slo.kind}, objective {float(slo.objective) * 100:g}% over "
                 f"{format_duration(slo.window)} (queries of the Grafana board, real Prometheus)")
    fig.autofmt_xdate()
    fig.tight_layout()
    out = save(fig, f"{slo.namespace}_{slo.name}.png")
    assert out.stat().st_size > 20_000


def test_overview_picture(env: Environment) -> None:
    board = dashboards.overview_dashboard()
    fig, (budget, burn, states) = plt.subplots(3, 1, figsize=(14, 12), sharex=True)
    remaining = next(p for p in panels(board) if p["title"] == dashboards.TITLE_REMAINING)
    assert plot_targets(budget, env, remaining, {}) >= 5
    percent_axis(budget)
    budget.axhline(0, color="red", linestyle=":")
    finish(budget, "Error budget remaining by SLO (rolling window)")
    rates = next(p for p in panels(board) if p["title"].startswith(dashboards.TITLE_BURN_RATE))
    assert plot_targets(burn, env, rates, {}) >= 2
    finish(burn, "Burn rate by SLO, each over its current window (the status' burnRate)")
    history = next(p for p in panels(board) if p["title"] == dashboards.TITLE_STATE_HISTORY)
    assert draw_state(states, env, history["targets"][0]["expr"], {}, "{{namespace}}/{{slo}}") >= 5
    finish(states, "SLO states over time")
    fig.suptitle(f"{board['title']} (queries of the Grafana board, real Prometheus)")
    fig.autofmt_xdate()
    fig.tight_layout()
    assert save(fig, "overview.png").stat().st_size > 20_000


def save(fig: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    out = ARTIFACTS / name
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
