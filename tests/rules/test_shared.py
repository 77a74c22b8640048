"""Rules shared by a namespace's SLOs (``slo_operator.shared``) give each SLO its own exact figures.

Three SLOs in one namespace with different windows, objectives, alerts and groupBy: every error ratio
each records, its SLI, its current burn rate and its budget remaining are checked against the same
figures computed per SLO (each SLO's own text, as the rules were before they were shared), at instants
while the windows fill and after their far edges pass, on every promtool of the matrix (and on the
simulator, ``harness.with_simulator_agreement``). Each SLO records exactly the windows it needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import assert_passes, run_promtool_test, slo_from
from slo_operator import shared
from slo_operator.durations import format_duration
from slo_operator.model import SLO
from slo_operator.promql import OBJECTIVE, RUNNING_SUMS, number
from slo_operator.rules import RuleOptions, _error_ratio_expr, namespace_groups, slo_groups

NAMESPACE = "shop"
END = 600  # minutes
OPTIONS = RuleOptions()


def _slo(name: str, objective: float, window: str, extra: dict[str, Any] | None = None) -> SLO:
    errors, total = f'req_total{{svc="{name}",code="500"}}', f'req_total{{svc="{name}"}}'
    return slo_from({
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"service": f"{name}-svc", "objective": objective, "window": window,
                 "indicator": {"availability": {"errors": errors, "total": total}}, **(extra or {})},
    })


def slos() -> list[SLO]:
    return [
        _slo("cart", 99.9, "7h"),
        _slo("search", 99, "8h", {"groupBy": ["route"], "alerting": {"burnRates": [
            {"name": "Page", "severity": "critical", "budgetPercent": 50, "longWindow": "2h",
             "shortWindow": "10m"},
            {"name": "Ticket", "severity": "warning", "budgetPercent": 80, "longWindow": "7h",
             "shortWindow": "30m"},
        ]}}),
        _slo("login", 95, "3h"),  # no window over 6h: no running sums
    ]


def _inputs() -> list[dict[str, str]]:
    """Per-minute counters of each SLO's service (the search service in two routes): phases of 20
    minutes, busy and quiet, errors always present; nothing in the first minute (the running sums start
    after the first base sample, see test_tiers)."""
    out = []
    for index, (svc, routes) in enumerate((("cart", [""]), ("search", ["a", "b"]), ("login", [""]))):
        for r, route in enumerate(routes):
            ok = err = 0.0
            oks, errs = [], []
            for minute in range(END + 1):
                oks.append(repr(ok))
                errs.append(repr(err))
                busy = (minute // (20 + 7 * index + 3 * r)) % 2 == 0
                rate, ratio = (1000, 0.0013 * (1 + index + r)) if busy else (50, 0.04)
                if minute == 0:
                    rate = 0
                ok += rate * (1 - ratio)
                err += rate * ratio
            labels = f'svc="{svc}"' + (f',route="{route}"' if route else "")
            out += [{"series": f'req_total{{{labels},code="200"}}', "values": " ".join(oks)},
                    {"series": f'req_total{{{labels},code="500"}}', "values": " ".join(errs)}]
    return out


def _on(slo: SLO) -> str:
    return f"on ({', '.join(slo.group_by)})"


def _labels(slo: SLO) -> list[str]:
    return ['{route="a"}', '{route="b"}'] if slo.group_by else ["{}"]


def _same(recorded: str, expected: str, slo: SLO, minute: int) -> dict[str, Any]:
    """``recorded`` (the shared rules' series) equals ``expected`` (the SLO's own formula) within 1e-9."""
    return {
        "expr": f"abs(({recorded}) / {_on(slo)} ({expected}) - 1) < bool 1e-9",
        "eval_time": f"{minute}m",
        "exp_samples": [{"labels": labels, "value": 1} for labels in _labels(slo)],
    }


def test_each_slo_gets_its_own_exact_figures_from_the_shared_rules(tmp_path: Path) -> None:
    group = slos()
    minutes = [30, 230, 470, END]
    checks: list[dict[str, Any]] = []
    for slo in group:
        who = f'slo="{slo.name}",namespace="{slo.namespace}"'
        budget = number(slo.error_budget)
        for minute in minutes:
            for window in shared.ratio_windows(slo):
                label = format_duration(window)
                checks.append(_same(f'slo:error_ratio{{{who},window="{label}"}}',
                                    _error_ratio_expr(slo, window, OPTIONS), slo, minute))
            checks.append(_same(f"1 - slo:sli:ratio{{{who}}}",
                                _error_ratio_expr(slo, slo.window, OPTIONS), slo, minute))
            current = _error_ratio_expr(slo, slo.current_burn_window, OPTIONS)
            burn = f"({current}) / {budget}"
            checks.append(_same(f"slo:current_burn_rate:ratio{{{who}}}", burn, slo, minute))
            sli = _error_ratio_expr(slo, slo.window, OPTIONS)
            checks.append(_same(f"slo:error_budget_remaining:ratio{{{who}}}",
                                f"1 - ({sli}) / {budget}", slo, minute))
            # Exactly the windows the SLO needs, nothing more.
            checks.append({"expr": f"count(slo:error_ratio{{{who}}})", "eval_time": f"{minute}m",
                           "exp_samples": [{"labels": "{}",
                                            "value": len(shared.ratio_windows(slo)) * len(_labels(slo))}]})
    tests = [{"interval": "1m", "input_series": _inputs(), "promql_expr_test": checks}]
    assert_passes(run_promtool_test(tmp_path, group, tests, evaluation_interval="30s"))


def test_an_objective_or_alert_edit_keeps_the_running_sums() -> None:
    """The running sums' rules (the SLO's fine sums, the namespace's start and coarse copies) and their
    labels do not depend on the objective or the alerts: an edit changes only the objective series'
    labels and values, so the sums go on (no budget history lost)."""
    before = slos()
    edited = _slo("cart", 99.5, "7h", {"alerting": {"burnRates": [
        {"name": "Page", "severity": "critical", "budgetPercent": 3, "longWindow": "90m",
         "shortWindow": "5m"},
    ]}})
    after = [edited, *before[1:]]

    def sums(group: list[SLO]) -> list[Any]:
        return [(g["name"], rule) for g in namespace_groups(group, OPTIONS) for rule in g["rules"]
                if rule.get("record") in RUNNING_SUMS.values()]

    assert sums(before) == sums(after)
    objective = [r for g in slo_groups(edited, OPTIONS) for r in g["rules"] if r.get("record") == OBJECTIVE]
    assert objective[0]["expr"] == "vector(0.995)"
    assert objective[0]["labels"][shared.WINDOWS_PARAM] == ",5m/r,1h30m/e4.5,"
