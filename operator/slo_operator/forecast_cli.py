"""``slo-operator forecast``: the budget forecast of SLO files, from a Prometheus that records them,
without a cluster (the same history query, model and numbers as ``status.forecast``)."""

from __future__ import annotations

import json
import time
from enum import StrEnum
from typing import Annotated

import typer


class Output(StrEnum):
    text = "text"
    json = "json"


def forecast_command(
    filename: Annotated[list[str], typer.Option("--filename", "-f", help="SLO YAML file(s) or directory.")],
    prometheus: Annotated[
        str,
        typer.Option(help="Prometheus that evaluates the SLOs' rules.", envvar="SLO_OPERATOR_PROMETHEUS_URL"),
    ],
    at: Annotated[float | None, typer.Option(help="Forecast as of this Unix time (default now).")] = None,
    output: Annotated[Output, typer.Option("--output", "-o", help="text or json.")] = Output.text,
) -> None:
    """Forecast each SLO's error budget over its next window from its recorded series."""
    from slo_operator.forecaster import Forecaster, status_of, summary
    from slo_operator.loader import load_or_exit
    from slo_operator.model import resolve
    from slo_operator.prometheus import PrometheusClient, PrometheusUnavailable

    slos = [resolve(obj) for obj in load_or_exit(filename)]
    try:
        with PrometheusClient(prometheus, timeout=60.0) as client:
            forecasts = Forecaster().refresh(client, slos, time.time() if at is None else at)
    except PrometheusUnavailable as exc:
        typer.echo(f"cannot read the SLOs' history from {prometheus}: {exc}", err=True)
        raise typer.Exit(2) from None
    if output == Output.json:
        typer.echo(json.dumps([
            {"namespace": s.namespace, "name": s.name,
             "forecast": status_of(forecasts[(s.namespace, s.name)])}
            for s in slos
        ], indent=2))
        return
    for slo in slos:
        for line in summary(slo, forecasts[(slo.namespace, slo.name)]):
            typer.echo(line)
