"""Emailing the report through a real SMTP server (aiosmtpd on loopback): delivery, refusals, TLS, auth."""

from __future__ import annotations

import email
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import monthdata
import pytest
from mailserver import PASSWORD, USER, SMTPServer
from slo_operator.reports import MonthlyReport, SMTPSettings, send_email
from slo_operator.reports.mail import EmailConfigError

SENDER = "SLO reports <slo-report@example.org>"


def plain(server: SMTPServer) -> SMTPSettings:
    return SMTPSettings(host=server.host, port=server.port, security="none", sender=SENDER, timeout=10)


def parse(content: bytes) -> EmailMessage:
    message = email.message_from_bytes(content, policy=default)
    assert isinstance(message, EmailMessage)
    return message


def test_the_report_arrives_with_the_pdf_and_both_bodies(
    smtp_server: SMTPServer, month_report: MonthlyReport, month_pdf: bytes
) -> None:
    to = ["sre-leads@example.org", "ml-platform@example.org"]
    result = send_email(month_report, to, plain(smtp_server), pdf=month_pdf)
    assert result.ok and [r.address for r in result.recipients] == to
    assert all(r.delivered and r.error is None for r in result.recipients)

    (received,) = smtp_server.handler.received
    assert received.rcpt_tos == to and received.mail_from == "slo-report@example.org"
    message = parse(received.content)
    assert message["Subject"] == "SLO report 2026-10: 5/7 met, 1 missed, 1 without data"
    assert message["To"] == ", ".join(to) and message["Message-ID"] == result.message_id
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert "| ml-serving/model-availability | availability | 99.9% |" in text.get_content()
    html_text = html.get_content()
    assert "<table" in html_text and "model-availability" in html_text and "incident_dominated" in html_text
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "slo-report-2026-10.pdf"
    assert attachment.get_content() == month_pdf and month_pdf.startswith(b"%PDF-")


def test_a_refused_recipient_fails_the_send_and_is_named(
    smtp_server: SMTPServer, month_report: MonthlyReport, month_pdf: bytes
) -> None:
    smtp_server.handler.refuse = {"gone@example.org"}
    to = ["sre-leads@example.org", "gone@example.org", "ml-platform@example.org"]
    result = send_email(month_report, to, plain(smtp_server), pdf=month_pdf)

    assert not result.ok
    assert [(r.address, r.delivered) for r in result.recipients] == [
        ("sre-leads@example.org", True), ("gone@example.org", False), ("ml-platform@example.org", True)]
    (failed,) = result.failed
    assert failed.error is not None and "550" in failed.error and "no such mailbox" in failed.error
    assert "gone@example.org: NOT sent: refused by" in result.summary()
    # The others did get it.
    (received,) = smtp_server.handler.received
    assert received.rcpt_tos == ["sre-leads@example.org", "ml-platform@example.org"]


def test_every_recipient_refused(
    smtp_server: SMTPServer, month_report: MonthlyReport, month_pdf: bytes
) -> None:
    smtp_server.handler.refuse = {"a@example.org", "b@example.org"}
    result = send_email(month_report, ["a@example.org", "b@example.org"], plain(smtp_server), pdf=month_pdf)
    assert not result.ok and len(result.failed) == 2
    assert all(r.error is not None and "550" in r.error for r in result.recipients)
    assert smtp_server.handler.received == []


def test_a_message_refused_at_data_fails_for_everyone(
    smtp_server: SMTPServer, month_report: MonthlyReport, month_pdf: bytes
) -> None:
    smtp_server.handler.reject_data = True
    result = send_email(month_report, ["a@example.org", "b@example.org"], plain(smtp_server), pdf=month_pdf)
    assert not result.ok and len(result.failed) == 2
    assert all(r.error is not None and "554" in r.error and "refused by policy" in r.error
               for r in result.recipients)


def test_server_down_is_a_clear_error_for_everyone(month_report: MonthlyReport, month_pdf: bytes) -> None:
    port = monthdata.free_port()  # nothing listens there
    settings = SMTPSettings(host="127.0.0.1", port=port, security="none", sender=SENDER, timeout=5)
    result = send_email(month_report, ["a@example.org", "b@example.org"], settings, pdf=month_pdf)
    assert not result.ok
    for r in result.recipients:
        assert not r.delivered and r.error is not None
        assert r.error.startswith(f"cannot connect to 127.0.0.1:{port}") and "Connection refused" in r.error


def test_an_invalid_address_is_not_sent_to_and_fails_the_send(
    smtp_server: SMTPServer, month_report: MonthlyReport, month_pdf: bytes
) -> None:
    result = send_email(month_report, ["ok@example.org", "not-an-address"], plain(smtp_server), pdf=month_pdf)
    assert not result.ok
    assert [(r.address, r.delivered, r.error) for r in result.recipients] == [
        ("ok@example.org", True, None), ("not-an-address", False, "not an email address")]
    assert smtp_server.handler.received[0].rcpt_tos == ["ok@example.org"]


def test_starttls_and_login_with_the_password_from_a_file(
    starttls_server: SMTPServer, month_report: MonthlyReport, month_pdf: bytes, tmp_path: Path
) -> None:
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    assert starttls_server.cert is not None
    env = {
        "SLO_REPORT_SMTP_HOST": starttls_server.host,
        "SLO_REPORT_SMTP_PORT": str(starttls_server.port),
        "SLO_REPORT_SMTP_USERNAME": USER,
        "SLO_REPORT_SMTP_PASSWORD_FILE": str(password_file),
        "SLO_REPORT_SMTP_FROM": SENDER,
        "SLO_REPORT_SMTP_CA_FILE": str(starttls_server.cert),
    }
    settings = SMTPSettings.from_env(env)
    assert settings.security == "starttls" and settings.password == PASSWORD
    assert PASSWORD not in repr(settings)
    result = send_email(month_report, ["sre-leads@example.org"], settings, pdf=month_pdf)
    assert result.ok, result.summary()
    assert len(starttls_server.handler.received) == 1


def test_starttls_with_an_untrusted_certificate_fails(
    starttls_server: SMTPServer, month_report: MonthlyReport, month_pdf: bytes
) -> None:
    settings = SMTPSettings(host=starttls_server.host, port=starttls_server.port, sender=SENDER,
                            username=USER, password=PASSWORD, timeout=10)  # system CAs only
    result = send_email(month_report, ["sre-leads@example.org"], settings, pdf=month_pdf)
    (r,) = result.recipients
    assert not result.ok and r.error is not None and "CERTIFICATE_VERIFY_FAILED" in r.error
    assert starttls_server.handler.received == []


def test_a_wrong_password_fails(
    starttls_server: SMTPServer, month_report: MonthlyReport, month_pdf: bytes
) -> None:
    assert starttls_server.cert is not None
    settings = SMTPSettings(host=starttls_server.host, port=starttls_server.port, sender=SENDER,
                            username=USER, password="wrong", ca_file=str(starttls_server.cert), timeout=10)
    result = send_email(month_report, ["sre-leads@example.org"], settings, pdf=month_pdf)
    (r,) = result.recipients
    assert not result.ok and r.error is not None and "535" in r.error
    assert starttls_server.handler.received == []


def test_plain_server_without_starttls_is_refused_when_tls_is_required(
    smtp_server: SMTPServer, month_report: MonthlyReport, month_pdf: bytes
) -> None:
    settings = SMTPSettings(host=smtp_server.host, port=smtp_server.port, security="starttls", sender=SENDER)
    result = send_email(month_report, ["a@example.org"], settings, pdf=month_pdf)
    (r,) = result.recipients
    assert not result.ok and r.error is not None and "does not offer STARTTLS" in r.error
    assert smtp_server.handler.received == []


def test_settings_from_the_environment(tmp_path: Path) -> None:
    base = {"SLO_REPORT_SMTP_HOST": "smtp.example.org", "SLO_REPORT_SMTP_FROM": SENDER}
    settings = SMTPSettings.from_env(base)
    assert (settings.security, settings.effective_port, settings.password) == ("starttls", 587, None)
    assert SMTPSettings.from_env({**base, "SLO_REPORT_SMTP_SECURITY": "ssl"}).effective_port == 465
    assert SMTPSettings.from_env(base, port=2525, security="none").effective_port == 2525
    with_password = {**base, "SLO_REPORT_SMTP_USERNAME": "u", "SLO_REPORT_SMTP_PASSWORD": "p"}
    assert SMTPSettings.from_env(with_password).password == "p"
    secret = tmp_path / "password"
    secret.write_text("from-file")
    with pytest.raises(EmailConfigError, match="not both"):
        SMTPSettings.from_env({**with_password, "SLO_REPORT_SMTP_PASSWORD_FILE": str(secret)})
    with pytest.raises(EmailConfigError, match="cannot read the SMTP password file"):
        SMTPSettings.from_env({**base, "SLO_REPORT_SMTP_USERNAME": "u"}, password_file=tmp_path / "missing")
    with pytest.raises(EmailConfigError, match="needs a username"):
        SMTPSettings.from_env({**base, "SLO_REPORT_SMTP_PASSWORD": "p"})
    with pytest.raises(EmailConfigError, match="no SMTP host"):
        SMTPSettings.from_env({"SLO_REPORT_SMTP_FROM": SENDER})
    with pytest.raises(EmailConfigError, match="not an email address"):
        SMTPSettings.from_env({"SLO_REPORT_SMTP_HOST": "h", "SLO_REPORT_SMTP_FROM": "nobody"})
    with pytest.raises(EmailConfigError, match="security must be"):
        SMTPSettings.from_env({**base, "SLO_REPORT_SMTP_SECURITY": "tls1.0"})
