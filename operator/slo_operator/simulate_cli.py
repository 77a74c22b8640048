"""``slo-operator simulate``: what an SLO's alerts would do on a scenario, on real history, and as a table.

Only wiring: reading files, Prometheus and the terminal. The numbers come from ``simulate`` (which runs
the generated rules through ``evaluator``); matplotlib is imported only for ``--plot``.
"""

from __future__ import annotations

import json
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from slo_operator.durations import parse_duration


class Output(StrEnum):
    table = "table"
    json = "json"


def _fail(message: str, hint: str) -> typer.BadParameter:
    return typer.BadParameter(message, param_hint=hint)


def _load_slo(filename: list[str], name: str | None) -> Any:
    from slo_operator.loader import load_or_exit
    from slo_operator.model import resolve

    slos = [resolve(obj) for obj in load_or_exit(filename)]
    if name is not None:
        slos = [s for s in slos if s.name == name]
    if len(slos) != 1:
        found = ", ".join(s.name for s in slos) or "none"
        raise _fail(f"simulate one SLO at a time (found: {found}); choose one with --slo", "--filename")
    return slos[0]


def _load_policies(paths: list[Path]) -> list[tuple[str, list[dict[str, Any]]]]:
    policies = []
    for path in paths:
        document = yaml.safe_load(path.read_text())
        if isinstance(document, list):
            policies.append((path.stem, document))
        elif isinstance(document, dict) and isinstance(document.get("burnRates"), list):
            policies.append((str(document.get("name", path.stem)), document["burnRates"]))
        else:
            raise _fail(f"{path}: a policy is a list of burnRates entries or {{name, burnRates}}", "--policy")
    return policies


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{sign}{minutes}m{secs:02d}s"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}%"


def _print_table(headers: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(*headers)
    for row in rows:
        table.add_row(*row)
    Console(width=160).print(table)


def simulate(
    filename: Annotated[
        list[str], typer.Option("--filename", "-f", help="SLO YAML file (one SLO, or choose with --slo).")
    ],
    scenario: Annotated[
        Path | None, typer.Option(help="Scenario YAML (traffic, errors and events over time).")
    ] = None,
    table: Annotated[
        bool, typer.Option("--table", help="Detection time and budget spent per error rate (Workbook table).")
    ] = False,
    replay: Annotated[bool, typer.Option(help="Replay real history read from --prometheus.")] = False,
    prometheus: Annotated[
        str | None, typer.Option(help="Prometheus URL for --replay.", envvar="SLO_OPERATOR_PROMETHEUS_URL")
    ] = None,
    range_: Annotated[str, typer.Option("--range", help="With --replay: how far back, e.g. 30d.")] = "30d",
    end: Annotated[
        float | None, typer.Option(help="With --replay: end of the range (Unix seconds; default now).")
    ] = None,
    policy: Annotated[
        list[Path] | None,
        typer.Option(help="Alternative alert policy (burnRates list) to compare side by side (repeat)."),
    ] = None,
    slo_name: Annotated[str | None, typer.Option("--slo", help="Which SLO of the file.")] = None,
    output: Annotated[Output, typer.Option(help="table (terminal) or json.")] = Output.table,
    plot: Annotated[
        Path | None, typer.Option(help="Write a PNG: burn rates with thresholds, budget, alert spans.")
    ] = None,
    prometheus_version: Annotated[
        str, typer.Option(help="Prometheus version whose PromQL semantics to apply, e.g. 2.42 or 3.16.")
    ] = "3.16",
    step: Annotated[str, typer.Option(help="Evaluation interval of the fast rule group.")] = "30s",
    significant: Annotated[
        float, typer.Option(help="With --replay: budget percent that makes a burn significant.")
    ] = 2.0,
) -> None:
    """Simulate the SLO's alerts: on a --scenario, as a --table, or on --replay of real history."""
    from slo_operator.evaluator import Semantics
    from slo_operator.rules import RuleOptions
    from slo_operator.simulate import Timing

    modes = sum([scenario is not None, table, replay])
    if modes != 1:
        raise _fail("choose one of --scenario FILE, --table or --replay", "--scenario/--table/--replay")
    slo = _load_slo(filename, slo_name)
    timing = Timing(
        step=float(parse_duration(step)), semantics=Semantics.for_version(prometheus_version),
        options=RuleOptions(fast_interval=step),
    )
    if table:
        _table(slo, timing, output)
    elif scenario is not None:
        _scenario(slo, scenario, timing, output, plot)
    else:
        if not prometheus:
            raise _fail("--replay reads history from Prometheus: give --prometheus URL", "--prometheus")
        _replay(slo, prometheus, range_, end, _load_policies(policy or []), timing, output, plot, significant)


def _table(slo: Any, timing: Any, output: Output) -> None:
    from slo_operator.simulate import detection_table

    rows = detection_table(slo, timing=timing)
    if output is Output.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    _print_table(
        ["error rate", "burn rate", "first alert", "detection", "closed form", "budget spent"],
        [[f"{r['errorRate'] * 100:g}%", f"{r['burnRate']:g}x", r["alert"] or "none",
          _clock(r["detectionSeconds"]), _clock(r["closedFormSeconds"]), _percent(r["budgetSpentPercent"])]
         for r in rows],
    )


def _scenario(slo: Any, path: Path, timing: Any, output: Output, plot: Path | None) -> None:
    from slo_operator.scenario import ScenarioError, parse_scenario
    from slo_operator.simulate import simulate_scenario, summary

    try:
        parsed = parse_scenario(yaml.safe_load(path.read_text()))
        outcome = simulate_scenario(slo, parsed, timing)
    except ScenarioError as exc:
        raise _fail(str(exc), "--scenario") from None
    result = summary(outcome, parsed.incident)
    if plot is not None:
        from slo_operator.simplot import plot_outcome

        plot_outcome(outcome, plot, title=f"{slo.key}: {path.stem}", incident=parsed.incident)
    _emit_summary(result, output)


def _emit_summary(result: dict[str, Any], output: Output) -> None:
    if output is Output.json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    _print_table(
        ["alert", "severity", "fired at", "resolved at"],
        [[a["alert"], a["severity"], _clock(a["firedAt"]), _clock(a["resolvedAt"])]
         for a in result["alerts"]],
    )
    typer.echo(
        f"detection {_clock(result['detectionSeconds'])}, reset {_clock(result['resetSeconds'])}, "
        f"budget spent by the first alert {_percent(result['budgetSpentAtFirstPercent'])}, "
        f"in the whole run {_percent(result['budgetSpentPercent'])}"
    )


def _replay(
    slo: Any, url: str, range_: str, end: float | None, policies: list[tuple[str, list[dict[str, Any]]]],
    timing: Any, output: Output, plot: Path | None, significant: float,
) -> None:
    from slo_operator.prometheus import PrometheusClient, PrometheusUnavailable
    from slo_operator.replay import fetch
    from slo_operator.simulate import evaluate, score, significant_burns, with_policy

    stop = time.time() if end is None else end
    length = float(parse_duration(range_))
    start = stop - length
    try:
        with PrometheusClient(url, timeout=120) as client:
            inputs = fetch(client, slo, start, stop)
    except PrometheusUnavailable as exc:
        raise _fail(str(exc), "--prometheus") from None
    candidates = [("as written", slo)] + [(name, with_policy(slo, p)) for name, p in policies]
    results = []
    truth = None
    for name, candidate in candidates:
        outcome = evaluate(candidate, inputs, stop, timing, start=start)
        if truth is None:
            truth = significant_burns(outcome, significant)
            if plot is not None:
                from slo_operator.simplot import plot_outcome

                plot_outcome(outcome, plot, title=f"{slo.key}: replay of {range_}", origin=start)
        results.append({
            "policy": name,
            **score(outcome, truth),
            "alerts": [s.as_dict() for s in outcome.spans],
        })
    report = {
        "slo": slo.key, "start": start, "end": stop,
        "significantBurnPercent": significant,
        "definitions": {
            "significantBurn": "a run of burn rate above 1 (gaps under 30m merged) that spent at least "
                               f"{significant}% of the window's error budget",
            "precision": "pages overlapping a significant burn (start to end + 1h) / all pages",
            "recall": "significant burns with at least one page / all significant burns",
        },
        "significantBurns": [{"start": b.start, "end": b.end, "spentPercent": b.spent_percent}
                             for b in truth or []],
        "policies": results,
    }
    if output is Output.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return
    _print_table(
        ["policy", "pages", "on significant burns", "precision", "recall", "detection", "reset"],
        [[r["policy"], str(r["pages"]), f"{r['pagesDuringSignificantBurns']}/{r['significantBurns']} burns",
          "-" if r["precision"] is None else f"{r['precision']:.2f}",
          "-" if r["recall"] is None else f"{r['recall']:.2f}",
          _clock(r["meanDetectionSeconds"]), _clock(r["meanResetSeconds"])] for r in results],
    )
