"""The ``slo-operator`` command line: render, validate, generate the CRD, run the operator."""

from __future__ import annotations

import sys
from dataclasses import replace
from enum import StrEnum
from typing import Annotated

import typer

from slo_operator.children import PROMETHEUS_RULE, child_kind_for_format
from slo_operator.forecast_cli import forecast_command
from slo_operator.loader import load_or_exit
from slo_operator.model import resolve
from slo_operator.render import RenderOptions, rule_file, shared_prometheus_rule, to_yaml
from slo_operator.reports.cli import report as report_command
from slo_operator.routing import FileReceivers, alertmanager_file
from slo_operator.simulate_cli import simulate as simulate_command

app = typer.Typer(
    name="slo-operator",
    help="Turn ServiceLevelObjective resources into Prometheus rules, alert routing and budget status.",
    no_args_is_help=True,
    add_completion=False,
)


class Format(StrEnum):
    prometheusrule = "prometheusrule"
    rules = "rules"
    alertmanagerconfig = "alertmanagerconfig"
    alertmanager = "alertmanager"
    dashboard = "dashboard"
    overview_dashboard = "overview-dashboard"
    openslo = "openslo"


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
        Format,
        typer.Option(
            "--format",
            help="prometheusrule: PrometheusRule objects; rules: a Prometheus rule file; alertmanagerconfig: "
            "AlertmanagerConfig objects (receivers from spec.alerting.routing, defaults from SLO_OPERATOR_* "
            "as the operator reads them); alertmanager: a complete alertmanager.yml (receivers from the "
            "options below only); dashboard: a Grafana dashboard ConfigMap per SLO (sidecar label and folder "
            "from SLO_OPERATOR_DASHBOARD_*); overview-dashboard: the ConfigMap of the board of all SLOs (it "
            "finds them in Prometheus; the files are only validated); openslo: OpenSLO v1 SLO, SLI, "
            "AlertPolicy and AlertCondition documents.",
        ),
    ] = Format.prometheusrule,
    rule_label: Annotated[
        list[str] | None,
        typer.Option(
            "--rule-label", help="Label for PrometheusRule objects, e.g. release=kube-prometheus-stack."
        ),
    ] = None,
    pagerduty_routing_key_file: Annotated[
        str | None,
        typer.Option(
            envvar="SLO_OPERATOR_PAGERDUTY_ROUTING_KEY_FILE",
            help="--format alertmanager: file Alertmanager reads the PagerDuty routing key from (critical).",
        ),
    ] = None,
    pagerduty_url: Annotated[
        str | None,
        typer.Option(
            envvar="SLO_OPERATOR_PAGERDUTY_URL", help="PagerDuty Events API v2 URL (default: PagerDuty's)."
        ),
    ] = None,
    slack_api_url_file: Annotated[
        str | None,
        typer.Option(
            envvar="SLO_OPERATOR_SLACK_API_URL_FILE",
            help="--format alertmanager: file Alertmanager reads the Slack webhook URL from (warning).",
        ),
    ] = None,
    slack_channel: Annotated[
        str | None,
        typer.Option(envvar="SLO_OPERATOR_SLACK_CHANNEL", help="Default Slack channel, e.g. '#slo-alerts'."),
    ] = None,
) -> None:
    """Print what slo-operator generates for the SLOs in FILE (YAML on stdout)."""
    objects = load_or_exit(filename)
    slos = [resolve(obj) for obj in objects]
    options = _operator_options(rule_label)
    child = child_kind_for_format(output_format.value)
    if child is not None:  # one kind of generated object, rendered as the operator renders it
        rendered = [child.render(slo, options) for slo in slos]
        if child is PROMETHEUS_RULE:  # and each namespace's shared rules, as the operator applies them
            for namespace in sorted({slo.namespace for slo in slos}):
                rendered.append(shared_prometheus_rule(namespace, slos, options))
        sys.stdout.write(to_yaml([obj for obj in rendered if obj is not None]))
    elif output_format is Format.rules:
        sys.stdout.write(to_yaml([rule_file(slos, options)]))
    elif output_format is Format.alertmanager:
        endpoints = FileReceivers(
            pagerduty_routing_key_file, pagerduty_url, slack_api_url_file, slack_channel
        )
        try:
            sys.stdout.write(to_yaml([alertmanager_file(slos, endpoints)]))
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--format alertmanager") from None
    elif output_format is Format.openslo:
        from slo_operator.migrate.common import ImportRefused
        from slo_operator.migrate.openslo import export

        documents = []
        for obj in objects:
            try:
                documents += export(obj)
            except ImportRefused as exc:
                typer.echo(f"{obj.namespace}/{obj.name}: {exc.field}: {exc.message}", err=True)
                raise typer.Exit(1) from None
        sys.stdout.write(to_yaml(documents))
    else:
        from slo_operator.dashboards import overview_configmap

        sys.stdout.write(to_yaml([overview_configmap(options.dashboards)]))


def _operator_options(rule_label: list[str] | None) -> RenderOptions:
    """The operator's render options from SLO_OPERATOR_* (as it reads them), --rule-label on top."""
    from slo_operator.config import OperatorConfig

    try:
        options = OperatorConfig.from_env().render_options
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="SLO_OPERATOR_*") from None
    if rule_label:
        options = replace(options, rule_labels=_parse_labels(rule_label))
    return options


@app.command()
def validate(filename: Files) -> None:
    """Check SLO files; print every problem with its field path and exit non-zero if there are any."""
    objects = load_or_exit(filename)
    for obj in objects:
        typer.echo(f"{obj.namespace}/{obj.name}: valid")
    if not objects:
        typer.echo("no ServiceLevelObjective documents found", err=True)
        raise typer.Exit(1)


class Source(StrEnum):
    sloth = "sloth"
    pyrra = "pyrra"
    openslo = "openslo"


@app.command(name="import")
def import_(
    filename: Annotated[
        list[str],
        typer.Option("--filename", "-f", help="Source YAML file, a folder of them, or - for stdin."),
    ],
    source: Annotated[
        Source,
        typer.Option(
            "--from",
            help="sloth: PrometheusServiceLevel objects or prometheus/v1 spec files; pyrra: "
            "pyrra.dev/v1alpha1 ServiceLevelObjectives; openslo: OpenSLO v1 SLO, SLI, AlertPolicy and "
            "AlertCondition documents.",
        ),
    ],
    namespace: Annotated[
        str | None,
        typer.Option("--namespace", "-n", help="Namespace of the printed SLOs (default: the source's)."),
    ] = None,
) -> None:
    """Print ServiceLevelObjectives for the SLOs of another tool; warnings and errors name the source field.

    Exits 1 when any source SLO could not be imported (the others are still printed).
    """
    from slo_operator.loader import _documents
    from slo_operator.migrate import import_documents

    read = []
    for path in filename:
        try:
            read += list(_documents(path))
        except (FileNotFoundError, OSError) as exc:
            raise typer.BadParameter(str(exc), param_hint="--filename") from None
    result = import_documents(source.value, read, namespace)
    for finding in result.findings:
        typer.echo(str(finding), err=True)
    sys.stdout.write(to_yaml(result.documents))
    if result.errors:
        raise typer.Exit(1)


@app.command()
def crds() -> None:
    """Print the ServiceLevelObjective CustomResourceDefinition generated from the API models."""
    from slo_operator.crd import render_crd_yaml

    sys.stdout.write(render_crd_yaml())


@app.command()
def run(
    prometheus_url: Annotated[
        str | None,
        typer.Option(help="Prometheus base URL the status is read from (env SLO_OPERATOR_PROMETHEUS_URL)."),
    ] = None,
    namespace: Annotated[
        list[str] | None,
        typer.Option(
            "--namespace",
            "-n",
            help="Watch only these namespaces (repeat); default all (env SLO_OPERATOR_NAMESPACES).",
        ),
    ] = None,
    refresh_seconds: Annotated[
        float | None,
        typer.Option(help="Seconds between status refreshes (env SLO_OPERATOR_REFRESH_SECONDS)."),
    ] = None,
    rule_label: Annotated[
        list[str] | None,
        typer.Option("--rule-label", help="Label for generated PrometheusRules, e.g. release=kps."),
    ] = None,
    fast_interval: Annotated[
        str | None, typer.Option(help="Evaluation interval of the fast rule group.")
    ] = None,
    slow_interval: Annotated[
        str | None, typer.Option(help="Evaluation interval of the slow rule group.")
    ] = None,
    liveness: Annotated[
        str | None,
        typer.Option(help="Liveness endpoint, e.g. http://0.0.0.0:8080/healthz (env SLO_OPERATOR_LIVENESS)."),
    ] = None,
    kubeconfig: Annotated[
        str | None, typer.Option(help="Kubeconfig file (default: in-cluster, else KUBECONFIG).")
    ] = None,
    pagerduty_secret: Annotated[
        str | None,
        typer.Option(help="Default PagerDuty routing-key Secret as name/key, in each SLO's namespace "
                     "(env SLO_OPERATOR_PAGERDUTY_SECRET)."),
    ] = None,
    slack_secret: Annotated[
        str | None,
        typer.Option(help="Default Slack webhook-URL Secret as name/key (env SLO_OPERATOR_SLACK_SECRET)."),
    ] = None,
    slack_channel: Annotated[
        str | None, typer.Option(help="Default Slack channel (env SLO_OPERATOR_SLACK_CHANNEL).")
    ] = None,
    pagerduty_url: Annotated[
        str | None, typer.Option(help="PagerDuty Events API v2 URL (env SLO_OPERATOR_PAGERDUTY_URL).")
    ] = None,
    leader_election: Annotated[
        bool | None,
        typer.Option("--leader-election/--no-leader-election",
                     help="Reconcile only while holding the Lease (env SLO_OPERATOR_LEADER_ELECTION)."),
    ] = None,
    lease_seconds: Annotated[
        float | None, typer.Option(help="Lease duration, seconds (env SLO_OPERATOR_LEASE_SECONDS).")
    ] = None,
    log_format: Annotated[str, typer.Option(help="plain, full or json.")] = "json",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Run the operator: reconcile SLOs into rules and keep their status current."""
    import asyncio
    import dataclasses
    import functools
    import os

    if kubeconfig:  # before kopf and the kubernetes client are imported: both read it
        os.environ["KUBECONFIG"] = kubeconfig

    from slo_operator.kube import in_cluster, kubeconfig_credentials

    path = os.environ.get("KUBECONFIG")
    if (in_cluster() is not None and not path) or (path and kubeconfig_credentials(path) is not None):
        # kopf imports the kubernetes package whenever it is installed (~15 MiB); these credentials do
        # not need it, so it stays out of the operator's memory.
        sys.modules.setdefault("kubernetes", None)  # type: ignore[arg-type]
    import kopf

    from slo_operator import handlers
    from slo_operator.config import OperatorConfig

    config = OperatorConfig.from_env()
    overrides: dict[str, object] = {}
    if prometheus_url:
        overrides["prometheus_url"] = prometheus_url
    if namespace:
        overrides["namespaces"] = tuple(namespace)
    if refresh_seconds is not None:
        overrides["refresh_seconds"] = refresh_seconds
    if rule_label:
        overrides["rule_labels"] = {**config.rule_labels, **_parse_labels(rule_label)}
    if fast_interval:
        overrides["fast_interval"] = fast_interval
    if slow_interval:
        overrides["slow_interval"] = slow_interval
    if liveness:
        overrides["liveness"] = liveness
    if leader_election is not None:
        overrides["leader_election"] = leader_election
    if lease_seconds is not None:
        overrides["lease_seconds"] = lease_seconds
    routing = {"pagerduty_secret": pagerduty_secret, "slack_secret": slack_secret,
               "slack_channel": slack_channel, "pagerduty_url": pagerduty_url}
    overrides.update({key: value for key, value in routing.items() if value is not None})
    try:
        config = dataclasses.replace(config, **overrides)  # type: ignore[arg-type]
    except ValueError as exc:  # e.g. a default Secret reference that is not name/key
        raise typer.BadParameter(str(exc)) from None
    handlers.configure(config)
    formats = {"plain": kopf.LogFormat.PLAIN, "full": kopf.LogFormat.FULL, "json": kopf.LogFormat.JSON}
    if log_format not in formats:
        raise typer.BadParameter("choose plain, full or json", param_hint="--log-format")
    kopf.configure(verbose=verbose, log_format=formats[log_format])
    if config.leader_election:  # the election's own endpoint answers /healthz and /readyz
        from slo_operator.leader import run_operator_elected

        operator = functools.partial(
            kopf.operator,
            clusterwide=not config.namespaces,
            namespaces=list(config.namespaces),
            standalone=True,
        )
        asyncio.run(run_operator_elected(config, operator))
        return
    asyncio.run(
        kopf.operator(
            clusterwide=not config.namespaces,
            namespaces=list(config.namespaces),
            standalone=True,
            liveness_endpoint=config.liveness or None,
        )
    )


app.command(name="report")(report_command)
app.command(name="simulate")(simulate_command)
app.command(name="forecast")(forecast_command)

from slo_operator.policy_cli import policy_app  # noqa: E402  (after app: it registers a sub-command)

app.add_typer(policy_app, name="policy")


def main() -> None:  # pragma: no cover
    app()
