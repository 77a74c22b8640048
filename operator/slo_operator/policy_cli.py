"""``slo-operator policy explain``: what an ErrorBudgetPolicy would do to an SLO, without a cluster.

For GitOps reviews: given the policy and SLO files of a pull request and a budget consumption, print
which step applies and what it would do (text, or JSON with ``--output json``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError

from slo_operator.loader import load_or_exit, problems_of
from slo_operator.policy import explain
from slo_operator.policy_api import POLICY_KIND, ErrorBudgetPolicy

policy_app = typer.Typer(help="Error-budget policies: explain what a policy does.", no_args_is_help=True)


def _documents(paths: list[str]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in paths:
        text = Path(path).read_text() if path != "-" else typer.get_text_stream("stdin").read()
        docs.extend(d for d in yaml.safe_load_all(text) if isinstance(d, dict))
    return docs


@policy_app.command(name="explain")
def explain_command(
    filename: Annotated[
        list[str], typer.Option("--filename", "-f", help="ErrorBudgetPolicy and SLO YAML files (repeat).")
    ],
    consumed: Annotated[float, typer.Option(help="Percent of the error budget consumed, e.g. 80.")],
    firing: Annotated[
        list[str] | None, typer.Option(help="Severity of a firing burn-rate alert, e.g. critical (repeat).")
    ] = None,
    output: Annotated[str, typer.Option(help="text or json.")] = "text",
) -> None:
    """Print which step of the policy applies to each SLO at --consumed and what it would do."""
    if output not in ("text", "json"):
        raise typer.BadParameter("choose text or json", param_hint="--output")
    try:
        documents = _documents(filename)
    except (OSError, yaml.YAMLError) as exc:
        typer.echo(f"cannot read files: {exc}", err=True)
        raise typer.Exit(1) from None
    policies: list[ErrorBudgetPolicy] = []
    for doc in documents:
        if doc.get("kind") != POLICY_KIND:
            continue
        try:
            policies.append(ErrorBudgetPolicy.model_validate(doc))
        except ValidationError as exc:
            name = (doc.get("metadata") or {}).get("name")
            for problem in problems_of(exc, f"ErrorBudgetPolicy {name}"):
                typer.echo(str(problem), err=True)
            raise typer.Exit(1) from None
    slo_paths = [p for p in filename if p != "-"]
    slos = load_or_exit(slo_paths)
    if not policies or not slos:
        typer.echo("give at least one ErrorBudgetPolicy and one ServiceLevelObjective (-f)", err=True)
        raise typer.Exit(1)
    results = [
        explain(policy, slo.model_dump(by_alias=True, exclude_none=True), consumed, frozenset(firing or []))
        for policy in policies
        for slo in slos
        if policy.namespace == slo.namespace
    ]
    if output == "json":
        typer.echo(json.dumps(results, indent=2))
        return
    for result in results:
        head = (
            f"{result['slo']} under ErrorBudgetPolicy {result['policy']} at {result['consumed']:g}% consumed"
        )
        if not result["selected"]:
            typer.echo(f"{head}: not selected by the policy; nothing happens")
        elif result["step"] is None:
            typer.echo(f"{head}: no step reached; nothing happens")
        else:
            typer.echo(f"{head}: step {result['step']} ({', '.join(result['actions'])})")
            for effect in result["effects"]:
                typer.echo(f"  - {effect}")
