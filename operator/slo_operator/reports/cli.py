"""``slo-operator report``: the monthly SLO report as JSON, Markdown or PDF, optionally emailed."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from slo_operator.api import ServiceLevelObjective
    from slo_operator.loader import Problem

ENV = "SLO_REPORT_"


class ReportFormat(StrEnum):
    json = "json"
    markdown = "markdown"
    pdf = "pdf"


class AlertSourceOption(StrEnum):
    auto = "auto"
    alerts = "alerts"
    burn_rate = "burn_rate"


class SecurityOption(StrEnum):
    starttls = "starttls"
    ssl = "ssl"
    none = "none"


def report(
    filename: Annotated[
        list[str] | None,
        typer.Option("--filename", "-f", help="SLO YAML file, a folder of them, or - for stdin."),
    ] = None,
    from_cluster: Annotated[
        bool, typer.Option(help="Read the SLOs from the Kubernetes API instead of files.")
    ] = False,
    namespace: Annotated[
        list[str] | None,
        typer.Option("--namespace", "-n", help="With --from-cluster: only these namespaces (repeat)."),
    ] = None,
    kubeconfig: Annotated[
        str | None,
        typer.Option(help="With --from-cluster: kubeconfig (default: in-cluster, else KUBECONFIG)."),
    ] = None,
    month: Annotated[
        str | None, typer.Option(help="Calendar month (UTC) as YYYY-MM; default: the previous month.")
    ] = None,
    prometheus_url: Annotated[
        str | None,
        typer.Option(help="Prometheus holding the SLO recording rules (env SLO_REPORT_PROMETHEUS_URL, "
                          "else SLO_OPERATOR_PROMETHEUS_URL)."),
    ] = None,
    slo: Annotated[
        list[str] | None, typer.Option("--slo", help="Only this SLO (name or namespace/name); repeat.")
    ] = None,
    output_format: Annotated[ReportFormat, typer.Option("--format", help="json, markdown or pdf.")] = (
        ReportFormat.json
    ),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (default: stdout; required for pdf).")
    ] = None,
    resolution: Annotated[
        int, typer.Option(help="Seconds between samples when finding violation periods.")
    ] = 60,
    alert_source: Annotated[
        AlertSourceOption,
        typer.Option(help="auto: ALERTS when Prometheus has them for an SLO, else derived from burn rates."),
    ] = AlertSourceOption.auto,
    timeout: Annotated[float, typer.Option(help="Seconds per Prometheus request.")] = 60.0,
    email_to: Annotated[
        list[str] | None, typer.Option("--email-to", help="Email the report (PDF attached) to; repeat.")
    ] = None,
    email_from: Annotated[str | None, typer.Option(help="Sender address (env SLO_REPORT_SMTP_FROM).")] = None,
    smtp_host: Annotated[str | None, typer.Option(help="SMTP server (env SLO_REPORT_SMTP_HOST).")] = None,
    smtp_port: Annotated[
        int | None, typer.Option(help="SMTP port (env SLO_REPORT_SMTP_PORT; default 587, 465 for ssl).")
    ] = None,
    smtp_security: Annotated[
        SecurityOption | None,
        typer.Option(help="starttls (default), ssl, or none (env SLO_REPORT_SMTP_SECURITY)."),
    ] = None,
    smtp_user: Annotated[
        str | None, typer.Option(help="SMTP username (env SLO_REPORT_SMTP_USERNAME).")
    ] = None,
    smtp_password_file: Annotated[
        Path | None,
        typer.Option(help="File holding the SMTP password (env SLO_REPORT_SMTP_PASSWORD_FILE, or the "
                          "password itself in SLO_REPORT_SMTP_PASSWORD)."),
    ] = None,
    smtp_ca_file: Annotated[
        Path | None, typer.Option(help="CA bundle to verify the SMTP server (env SLO_REPORT_SMTP_CA_FILE).")
    ] = None,
) -> None:
    """Monthly SLO report from Prometheus: compliance, budget, violations, worst days, recommendations."""
    import os

    from slo_operator.config import OperatorConfig
    from slo_operator.loader import load_or_exit
    from slo_operator.prometheus import PrometheusUnavailable
    from slo_operator.reports.data import previous_month
    from slo_operator.reports.mail import EmailConfigError, SMTPSettings, send_email
    from slo_operator.reports.pdf import export_to_pdf
    from slo_operator.reports.reporter import SLOReporter
    from slo_operator.reports.text import to_markdown

    if output_format is ReportFormat.pdf and output is None:
        raise typer.BadParameter("--format pdf needs --output FILE", param_hint="--output")
    settings = None
    if email_to:
        try:
            settings = SMTPSettings.from_env(
                host=smtp_host, port=smtp_port, security=smtp_security.value if smtp_security else None,
                username=smtp_user, password_file=smtp_password_file, ca_file=smtp_ca_file, sender=email_from,
            )
        except EmailConfigError as exc:
            typer.echo(f"email: {exc}", err=True)
            raise typer.Exit(2) from None
    if bool(filename) == from_cluster:
        raise typer.BadParameter("give SLO files with -f, or --from-cluster", param_hint="--filename")
    if from_cluster:
        try:
            objects, problems = _from_cluster(tuple(namespace or ()), kubeconfig)
        except RuntimeError as exc:
            typer.echo(f"kubernetes: {exc}", err=True)
            raise typer.Exit(1) from None
        for problem in problems:  # one invalid SLO must not stop the report of the others
            typer.echo(f"skipped (invalid): {problem}", err=True)
    else:
        objects = load_or_exit(filename or [])
    if not objects:
        typer.echo("no ServiceLevelObjective documents found", err=True)
        raise typer.Exit(1)
    url = prometheus_url or os.environ.get(ENV + "PROMETHEUS_URL") or OperatorConfig.from_env().prometheus_url
    reporter = SLOReporter(
        objects, url, resolution=resolution, alert_source=alert_source.value, timeout=timeout
    )
    try:
        result = reporter.generate_monthly_report(month or previous_month(datetime.now(UTC)), slo)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except PrometheusUnavailable as exc:
        typer.echo(f"prometheus: {exc}", err=True)
        raise typer.Exit(1) from None

    pdf = export_to_pdf(result) if output_format is ReportFormat.pdf or email_to else None
    if output_format is ReportFormat.pdf:
        assert output is not None and pdf is not None
        output.write_bytes(pdf)
    else:
        text = result.model_dump_json(indent=2) + "\n" if output_format is ReportFormat.json \
            else to_markdown(result)
        if output is None:
            sys.stdout.write(text)
        else:
            output.write_text(text, encoding="utf-8")
    if output is not None:
        typer.echo(f"wrote {output}", err=True)
    if email_to:
        assert settings is not None
        sent = send_email(result, email_to, settings, pdf=pdf)
        typer.echo(sent.summary(), err=True)
        if not sent.ok:
            failed = f"{len(sent.failed)} of {len(sent.recipients)}"
            typer.echo(f"email: {failed} recipient(s) not reached", err=True)
            raise typer.Exit(3)


def _from_cluster(
    namespaces: tuple[str, ...], kubeconfig: str | None
) -> tuple[list[ServiceLevelObjective], list[Problem]]:
    """The SLOs stored in the cluster, and the problems of those that fail validation.

    Raises RuntimeError when the API server cannot be reached or refuses the list.
    """
    from slo_operator.kube import KubeClient, KubeError, load_credentials
    from slo_operator.loader import parse_object

    try:
        client = KubeClient(load_credentials(kubeconfig))
    except Exception as exc:  # the kubernetes package raises its own ConfigException types
        raise RuntimeError(f"no credentials: {exc}") from exc
    try:
        items = client.list_slos(namespaces)
    except KubeError as exc:
        raise RuntimeError(f"cannot list ServiceLevelObjectives: {exc}") from exc
    finally:
        client.close()
    objects: list[ServiceLevelObjective] = []
    problems: list[Problem] = []
    for item in items:
        metadata = item.get("metadata") or {}
        document = {k: v for k, v in item.items() if k != "status"}
        document["metadata"] = {k: metadata[k] for k in ("name", "namespace", "labels") if k in metadata}
        obj, found = parse_object(document, f"{metadata.get('namespace')}/{metadata.get('name')}")
        problems.extend(found)
        if obj is not None:
            objects.append(obj)
    return objects, problems
