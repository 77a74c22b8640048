"""The ``slo-operator`` command line: render, validate, generate the CRD, run the operator."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated

import typer

from slo_operator.loader import load
from slo_operator.model import resolve
from slo_operator.render import RenderOptions, prometheus_rule, rule_file, to_yaml

app = typer.Typer(
    name="slo-operator",
    help="Turn ServiceLevelObjective resources into Prometheus rules, alert routing and budget status.",
    no_args_is_help=True,
    add_completion=False,
)


class Format(str, Enum):
    prometheusrule = "prometheusrule"
    rules = "rules"


def _parse_labels(values: list[str]) -> dict[str, str]:
    labels = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{item!r}: write labels as key=value", param_hint="--rule-label")
        labels[key] = value
    return labels


Files = Annotated[
    list[str], typer.Option("--filename", "-f", help="SLO YAML file, a folder of them, or - for stdin.")
]


@app.command()
def render(
    filename: Files,
    output_format: Annotated[
        Format, typer.Option("--format", help="prometheusrule: PrometheusRule objects; rules: a Prometheus rule file.")
    ] = Format.prometheusrule,
    rule_label: Annotated[
        list[str] | None,
        typer.Option("--rule-label", help="Label for PrometheusRule objects, e.g. release=kube-prometheus-stack."),
    ] = None,
) -> None:
    """Print what slo-operator generates for the SLOs in FILE (YAML on stdout)."""
    objects, problems = load(filename)
    if problems:
        for problem in problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(1)
    options = RenderOptions(rule_labels=_parse_labels(rule_label or []))
    slos = [resolve(obj) for obj in objects]
    if output_format is Format.rules:
        sys.stdout.write(to_yaml([rule_file(slos, options)]))
    else:
        sys.stdout.write(to_yaml([prometheus_rule(slo, options) for slo in slos]))


@app.command()
def validate(filename: Files) -> None:
    """Check SLO files; print every problem with its field path and exit non-zero if there are any."""
    objects, problems = load(filename)
    for problem in problems:
        typer.echo(str(problem), err=True)
    if problems:
        raise typer.Exit(1)
    for obj in objects:
        typer.echo(f"{obj.namespace}/{obj.name}: valid")
    if not objects:
        typer.echo("no ServiceLevelObjective documents found", err=True)
        raise typer.Exit(1)


@app.command()
def crds() -> None:
    """Print the ServiceLevelObjective CustomResourceDefinition generated from the API models."""
    from slo_operator.crd import render_crd_yaml

    sys.stdout.write(render_crd_yaml())


def main() -> None:  # pragma: no cover
    app()
