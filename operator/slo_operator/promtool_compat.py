"""``promtool test rules`` documents run on the vectorised evaluator: the same inputs, the same checks.

A promtool unit test (input series in expanding notation, ``alert_rule_test`` and ``promql_expr_test``)
is evaluated here with promtool's timing — every group at every ``evaluation_interval`` from 0, alert
checks against the evaluation at or before ``eval_time`` — so the simulator can be held to every promtool
scenario of the test suite, and so a simulated timeline can be turned back into promtool expectations.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from slo_operator.evaluator import Result, Semantics, promtool_inputs, run_groups


def _seconds(text: str | int | float) -> float:
    import promql_parser

    if isinstance(text, int | float):
        return float(text)
    return float(promql_parser.parse_duration(str(text)).total_seconds())


def run_promtool_case(
    groups: list[dict[str, Any]], test: dict[str, Any], evaluation_interval: float,
    semantics: Semantics | None = None,
) -> Result:
    """Evaluate ``groups`` on one promtool test's input series, up to its last ``eval_time``."""
    interval = _seconds(test.get("interval", evaluation_interval))
    times = [_seconds(c["eval_time"]) for c in test.get("alert_rule_test", [])]
    times += [_seconds(c["eval_time"]) for c in test.get("promql_expr_test", [])]
    last = max(times, default=0.0)
    end = math.floor((last + evaluation_interval / 2) / evaluation_interval + 0.5) * evaluation_interval
    inputs = promtool_inputs(test["input_series"], interval)
    return run_groups(groups, inputs, end=max(end, last), step=evaluation_interval, semantics=semantics)


def firing_at(result: Result, alertname: str, at: float) -> list[dict[str, str]]:
    """Label sets of ``alertname`` firing in the evaluation at or before ``at`` (promtool's view)."""
    out = []
    for alert in result.alerts:
        if alert.name != alertname:
            continue
        idx = int(np.searchsorted(alert.ts, at + 1e-9, side="right")) - 1
        if idx >= 0 and alert.firing[idx]:
            out.append({k: v for k, v in alert.labels.items() if k != "alertname"})
    return out


def check_promtool_case(
    groups: list[dict[str, Any]], test: dict[str, Any], evaluation_interval: float,
    semantics: Semantics | None = None,
) -> list[str]:
    """The expectations of one promtool test the simulator does not meet (empty: it agrees)."""
    result = run_promtool_case(groups, test, evaluation_interval, semantics)
    failures = []
    for check in test.get("alert_rule_test", []):
        at = _seconds(check["eval_time"])
        got = sorted(sorted(a.items()) for a in firing_at(result, check["alertname"], at))
        want = sorted(sorted({**e.get("exp_labels", {})}.items()) for e in check.get("exp_alerts") or [])
        if got != want:
            failures.append(f"{check['alertname']} at {at:g}s: simulator {got}, expected {want}")
    for check in test.get("promql_expr_test", []):
        at = _seconds(check["eval_time"])
        vector = result.query(check["expr"], [at])
        got_values = {k: float(v[0]) for k, v in vector.items() if not np.isnan(v[0])}
        samples: list[dict[str, Any]] = check.get("exp_samples") or []
        if len(got_values) != len(samples):
            failures.append(f"{check['expr']} at {at:g}s: simulator {got_values}, expected {samples}")
            continue
        for sample in samples:
            value = float(sample["value"])
            if not any(math.isclose(v, value, rel_tol=1e-6, abs_tol=1e-9) for v in got_values.values()):
                failures.append(f"{check['expr']} at {at:g}s: simulator {got_values}, expected {value}")
    return failures


def _selector(labels: dict[str, str]) -> str:
    name = labels.get("__name__", "")
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{inner}}}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def simulated_expectations(
    groups: list[dict[str, Any]], test: dict[str, Any], evaluation_interval: float,
    semantics: Semantics | None = None, instants: int = 8, tolerance: float = 0.001,
) -> dict[str, Any]:
    """A promtool test on the same inputs asserting what the simulator computed.

    Alerts: which label sets fire at every simulated fire and resolve instant, one evaluation before
    each, and at ``instants`` instants spread over the run. Recorded series: every one, at those
    instants, within ``tolerance`` (relative) — or absent where the simulator has no sample.
    """
    result = run_promtool_case(groups, test, evaluation_interval, semantics)
    step = evaluation_interval
    grid_end = max((float(a.ts[-1]) for a in result.alerts), default=0.0)
    recorded = [(labels, series) for labels, series in result.store.series.items() if series.order >= (0, 0)]
    if recorded:
        grid_end = max(grid_end, max(float(s.times[-1]) for _, s in recorded))
    spread = sorted({round(grid_end * i / instants / step) * step for i in range(1, instants + 1)})
    names = sorted({rule["alert"] for g in groups for rule in g["rules"] if "alert" in rule})
    alert_checks = []
    for name in names:
        moments = set(spread)
        for alert in result.alerts:
            if alert.name != name:
                continue
            for fired, resolved in alert.spans():
                moments.update({fired, max(0.0, fired - step)})
                if resolved is not None:
                    moments.update({resolved, resolved - step})
        for at in sorted(moments):
            firing = firing_at(result, name, at)
            alert_checks.append({
                "eval_time": f"{int(at)}s",
                "alertname": name,
                "exp_alerts": [{"exp_labels": labels} for labels in firing],
            })
    expr_checks: list[dict[str, Any]] = []
    for labels, series in recorded:
        label_map = dict(labels)
        selector = _selector(label_map)
        for at in spread:
            idx = int(np.searchsorted(series.times, at, side="right")) - 1
            value = float(series.values[idx]) if idx >= 0 and at - series.times[idx] <= 300 else math.nan
            if math.isnan(value):
                expr_checks.append({"expr": selector, "eval_time": f"{int(at)}s", "exp_samples": []})
                continue
            bound = tolerance * abs(value) + 1e-9
            plain = {k: v for k, v in label_map.items() if k != "__name__"}
            expr_checks.append({
                "expr": f"abs({selector} - {value!r}) <= bool {bound!r}",
                "eval_time": f"{int(at)}s",
                "exp_samples": [{"labels": _selector(plain), "value": 1}],
            })
    return {
        "interval": test.get("interval", f"{int(evaluation_interval)}s"),
        "input_series": test["input_series"],
        "alert_rule_test": alert_checks,
        "promql_expr_test": expr_checks,
    }
