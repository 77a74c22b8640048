"""Fixtures of the report tests: a Prometheus holding October 2026 (see monthdata), its report and PDF,
and a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import monthdata
import pytest
from mailserver import RecordingHandler, SMTPServer, authenticate, start
from slo_operator.reports import MonthlyReport, SLOReporter, export_to_pdf

ARTIFACTS = monthdata.REPO / "test-artifacts"


@pytest.fixture(scope="session")
def month_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[monthdata.PrometheusServer]:
    work = tmp_path_factory.mktemp("month")
    tsdb, _ = monthdata.build(work)
    with monthdata.serve(tsdb, work) as server:
        yield server


@pytest.fixture(scope="session")
def month_report(month_prometheus: monthdata.PrometheusServer) -> MonthlyReport:
    reporter = SLOReporter(monthdata.slos(), month_prometheus.url, now=lambda: monthdata.REPORT_TIME)
    return reporter.generate_monthly_report(monthdata.MONTH)


@pytest.fixture(scope="session")
def month_pdf(month_report: MonthlyReport) -> bytes:
    return export_to_pdf(month_report)


@pytest.fixture(scope="session")
def slo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return monthdata.write_slo_files(tmp_path_factory.mktemp("slos"))


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    """Plain SMTP (no TLS, no auth): what an internal relay often is."""
    handler = RecordingHandler()
    controller = start(handler)
    try:
        yield SMTPServer("127.0.0.1", controller.port, handler)
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throw-away certificate for 127.0.0.1 (openssl), its own CA."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl not installed: apt-get install openssl (the TLS mail tests need a certificate)",
                    pytrace=False)
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


@pytest.fixture
def starttls_server(self_signed: tuple[Path, Path]) -> Iterator[SMTPServer]:
    """SMTP that requires STARTTLS before anything, and AUTH (only over TLS)."""
    import ssl

    cert, key = self_signed
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = RecordingHandler()
    controller = start(handler, tls_context=context, require_starttls=True, authenticator=authenticate,
                        auth_require_tls=True)
    try:
        yield SMTPServer("127.0.0.1", controller.port, handler, cert)
    finally:
        controller.stop()
