"""Sending the report by email: one message, an HTML and a text body, the PDF attached.

SMTP settings come from the environment (``SLO_REPORT_SMTP_*``, what the CronJob sets) with command-line
overrides. The password is read from ``SLO_REPORT_SMTP_PASSWORD`` or from the file named by
``SLO_REPORT_SMTP_PASSWORD_FILE`` (a mounted Secret), never from an SLO resource or a flag value.

``send_email`` never raises for delivery problems: it returns one result per recipient, and the
overall result is a success only when every recipient was accepted. A server refusing one recipient
does not stop delivery to the others, but the send is reported as failed, naming that recipient.
"""

from __future__ import annotations

import html
import os
import smtplib
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Literal

from slo_operator.reports.schema import MonthlyReport
from slo_operator.reports.text import STATUS_TEXT, pct, subject, to_markdown

Security = Literal["starttls", "ssl", "none"]
ENV_PREFIX = "SLO_REPORT_SMTP_"
DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "ssl": 465, "none": 25}


class EmailConfigError(ValueError):
    """The SMTP settings are incomplete or contradictory."""


@dataclass(frozen=True)
class SMTPSettings:
    host: str
    sender: str
    port: int | None = None  # default from security: 587, 465 or 25
    security: Security = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    ca_file: str | None = None  # CA bundle to verify the server with (default: the system's)
    verify: bool = True

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]

    def validate(self) -> None:
        if not self.host:
            raise EmailConfigError(f"no SMTP host: set {ENV_PREFIX}HOST or --smtp-host")
        if not _address_ok(self.sender):
            raise EmailConfigError(f"sender {self.sender!r} is not an email address: set {ENV_PREFIX}FROM "
                                   "or --email-from")
        if self.security not in DEFAULT_PORTS:
            raise EmailConfigError(f"security must be starttls, ssl or none, not {self.security!r}")
        if self.password and not self.username:
            raise EmailConfigError(f"a password needs a username ({ENV_PREFIX}USERNAME or --smtp-user)")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> SMTPSettings:
        """Settings from ``SLO_REPORT_SMTP_*``; ``overrides`` (not None) win. A password file named by
        ``password_file`` or ``SLO_REPORT_SMTP_PASSWORD_FILE`` is read here."""
        env = dict(os.environ if environ is None else environ)
        given = {k: v for k, v in overrides.items() if v is not None}

        def pick(name: str, key: str, default: str | None = None) -> str | None:
            if key in given:
                return str(given[key])
            return env.get(ENV_PREFIX + name, default) or default

        password_file = pick("PASSWORD_FILE", "password_file")
        password = env.get(ENV_PREFIX + "PASSWORD") or None
        if password_file:
            if password and "password_file" not in given:
                raise EmailConfigError(f"set {ENV_PREFIX}PASSWORD or {ENV_PREFIX}PASSWORD_FILE, not both")
            try:
                password = Path(password_file).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise EmailConfigError(f"cannot read the SMTP password file {password_file}: {exc}") from exc
        port = pick("PORT", "port")
        security = (pick("SECURITY", "security", "starttls") or "starttls").lower()
        verify = pick("VERIFY", "verify", "true")
        settings = cls(
            host=pick("HOST", "host", "") or "",
            sender=pick("FROM", "sender", "") or "",
            port=int(port) if port else None,
            security=security,  # type: ignore[arg-type]  # checked by validate()
            username=pick("USERNAME", "username"),
            password=password,
            timeout=float(pick("TIMEOUT", "timeout", "30") or 30),
            ca_file=pick("CA_FILE", "ca_file"),
            verify=str(verify).lower() not in ("false", "0", "no"),
        )
        settings.validate()
        return settings


@dataclass(frozen=True)
class RecipientResult:
    address: str
    delivered: bool
    error: str | None = None


@dataclass(frozen=True)
class EmailResult:
    """Per recipient: accepted by the server or not, and why not."""

    recipients: tuple[RecipientResult, ...]
    message_id: str

    @property
    def ok(self) -> bool:
        return bool(self.recipients) and all(r.delivered for r in self.recipients)

    @property
    def failed(self) -> tuple[RecipientResult, ...]:
        return tuple(r for r in self.recipients if not r.delivered)

    def summary(self) -> str:
        lines = [f"{r.address}: {'sent' if r.delivered else 'NOT sent: ' + (r.error or 'unknown error')}"
                 for r in self.recipients]
        return "\n".join(lines)


def _address_ok(address: str) -> bool:
    _name, addr = parseaddr(address)
    local, at, domain = addr.partition("@")
    return bool(local and at and domain) and "\n" not in address and "\r" not in address


def html_body(report: MonthlyReport) -> str:
    """A short, readable HTML summary (the details are in the PDF)."""
    e = html.escape
    s = report.summary
    rows = []
    for r in report.slos:
        colour = {"met": "#1a7f37", "missed": "#cf222e", "no_data": "#6e7781"}[r.status]
        rows.append(
            "<tr>"
            f"<td>{e(r.namespace)}/{e(r.name)}</td><td>{r.objective_percent:g}%</td>"
            f"<td>{e(pct(r.compliance_percent))}</td>"
            f'<td style="color:{colour};font-weight:bold">{e(STATUS_TEXT[r.status])}</td>'
            f"<td>{e(pct(r.error_budget.consumed_percent, 1))}</td>"
            f"<td>{r.violations.alert_firing_count}</td>"
            f"<td>{e(', '.join(d.date.isoformat() for d in r.worst_days[:1]) or '-')}</td>"
            "</tr>"
        )
    recs = []
    for r in report.slos:
        for rec in r.recommendations:
            recs.append(f"<li><b>{e(r.name)}</b> — {e(rec.code)}: {e(rec.message)}</li>")
    cell = 'style="border:1px solid #d0d7de;padding:4px 8px;text-align:left"'
    table = (
        '<table style="border-collapse:collapse;font-size:14px">'
        + "<tr>" + "".join(f"<th {cell}>{h}</th>" for h in
                           ("SLO", "Objective", "Compliance", "Status", "Budget used", "Alerts", "Worst day"))
        + "</tr>"
        + "".join(rows).replace("<td>", f"<td {cell}>")
        + "</table>"
    )
    partial = "" if report.complete else f" (partial, up to {e(report.end.isoformat())})"
    return (
        "<!DOCTYPE html><html><body style=\"font-family:Arial,Helvetica,sans-serif;color:#1f2328\">"
        f"<h2>SLO report {e(report.month)}{partial}</h2>"
        f"<p><b>{s.met} of {s.slos} SLOs met</b>; {s.missed} missed, {s.no_data} without data, "
        f"{s.alert_firings} alert firing(s).</p>"
        f"{table}"
        + (f"<h3>Recommendations</h3><ul>{''.join(recs)}</ul>" if recs else "")
        + "<p>The attached PDF has charts, worst days and violation periods for every SLO.</p>"
        "</body></html>"
    )


def text_body(report: MonthlyReport) -> str:
    intro = "The attached PDF has the charts. Summary:\n\n"
    return intro + to_markdown(report)


def build_message(report: MonthlyReport, recipients: Sequence[str], sender: str, pdf: bytes) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject(report)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(usegmt=True)
    domain = parseaddr(sender)[1].partition("@")[2] or None
    message["Message-ID"] = make_msgid("slo-report", domain=domain)
    message.set_content(text_body(report))
    message.add_alternative(html_body(report), subtype="html")
    message.add_attachment(
        pdf, maintype="application", subtype="pdf", filename=f"slo-report-{report.month}.pdf"
    )
    return message


def _tls_context(settings: SMTPSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=settings.ca_file)
    if not settings.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error
        text = error.decode(errors="replace") if isinstance(error, bytes) else str(error)
        return f"{exc.smtp_code} {text}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _all_failed(recipients: Sequence[str], reason: str, message_id: str) -> EmailResult:
    return EmailResult(tuple(RecipientResult(r, False, reason) for r in recipients), message_id)


def send_email(
    report: MonthlyReport,
    recipients: Sequence[str],
    settings: SMTPSettings | None = None,
    *,
    pdf: bytes | None = None,
) -> EmailResult:
    """Send the report (PDF attached) to ``recipients``; the result says, per recipient, if it went."""
    settings = settings or SMTPSettings.from_env()
    settings.validate()
    unique = list(dict.fromkeys(r.strip() for r in recipients if r.strip()))
    if not unique:
        raise EmailConfigError("no recipients")
    invalid = [r for r in unique if not _address_ok(r)]
    valid = [r for r in unique if r not in invalid]
    if pdf is None:
        from slo_operator.reports.pdf import export_to_pdf

        pdf = export_to_pdf(report)
    message = build_message(report, valid or unique, settings.sender, pdf)
    message_id = str(message["Message-ID"])
    results: dict[str, RecipientResult] = {
        r: RecipientResult(r, False, "not an email address") for r in invalid
    }
    where = f"{settings.host}:{settings.effective_port}"
    if valid:
        try:
            results.update(_deliver(message, valid, settings))
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            stage = ("cannot connect to" if isinstance(exc, (ConnectionError, socket.timeout, socket.gaierror,
                                                             smtplib.SMTPConnectError)) else "failed at")
            reason = f"{stage} {where}: {_describe(exc)}"
            results.update({r: RecipientResult(r, False, reason) for r in valid})
    return EmailResult(tuple(results[r] for r in unique), message_id)


def _deliver(
    message: EmailMessage, recipients: list[str], settings: SMTPSettings
) -> dict[str, RecipientResult]:
    host, port, timeout = settings.host, settings.effective_port, settings.timeout
    client: smtplib.SMTP
    if settings.security == "ssl":
        client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=_tls_context(settings))
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    try:
        client.ehlo()
        if settings.security == "starttls":
            if not client.has_extn("starttls"):
                raise smtplib.SMTPNotSupportedError(
                    f"{host}:{port} does not offer STARTTLS "
                    "(set security to ssl or, on a trusted network, none)"
                )
            client.starttls(context=_tls_context(settings))
            client.ehlo()
        if settings.username:
            client.login(settings.username, settings.password or "")
        try:
            refused = client.send_message(message, to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients
        found = {}
        for r in recipients:
            if r in refused:
                code, text = refused[r]
                reason = f"refused by {host}:{port}: {code} {text.decode(errors='replace')}"
                found[r] = RecipientResult(r, False, reason)
            else:
                found[r] = RecipientResult(r, True)
        return found
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()
