"""The report's outputs: the PDF (rendered by poppler), Markdown, the JSON schema, and the CLI."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import monthdata
import pytest
from mailserver import SMTPServer
from slo_operator.cli import app
from slo_operator.reports import MonthlyReport, to_markdown
from slo_operator.reports.pdf import charts_png
from typer.testing import CliRunner

GOLDEN_SCHEMA = Path(__file__).parent / "report.schema.json"


def poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise RuntimeError(f"{tool} not found: run `make tools` (Debian package poppler-utils)")
    return path


def test_the_pdf_renders_and_says_what_the_report_says(
    month_report: MonthlyReport, month_pdf: bytes, artifacts: Path
) -> None:
    pdf = artifacts / "slo-report-2026-10.pdf"
    pdf.write_bytes(month_pdf)
    info = subprocess.run([poppler("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "Title:           SLO report 2026-10" in info
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    assert 3 <= pages <= 10

    text = subprocess.run([poppler("pdftotext"), "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "5 of 7 SLOs met" in text
    for r in month_report.slos:
        assert f"{r.namespace}/{r.name}" in text
    assert "MISSED" in text and "incident_dominated" in text and "missing_latency_bucket" in text
    assert "2026-10-14" in text  # the outage day, among the worst days

    # First page as PNG, kept in test-artifacts/ for a person to look at.
    page = artifacts / "slo-report-2026-10-page1"
    subprocess.run([poppler("pdftoppm"), "-png", "-r", "110", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                    str(page)], check=True, capture_output=True, timeout=120)
    png = artifacts / "slo-report-2026-10-page1.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 50_000


def test_charts_are_drawn_for_each_slo(month_report: MonthlyReport, artifacts: Path) -> None:
    availability = next(r for r in month_report.slos if r.name == "model-availability")
    png = charts_png(availability, month_report.start, month_report.end)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    (artifacts / "slo-report-2026-10-availability-charts.png").write_bytes(png)
    no_data = next(r for r in month_report.slos if r.status == "no_data")
    assert charts_png(no_data, month_report.start, month_report.end)[:4] == b"\x89PNG"


def test_markdown(month_report: MonthlyReport) -> None:
    text = to_markdown(month_report)
    assert text.startswith("# SLO report 2026-10\n")
    assert "**5 of 7 SLOs met**" in text
    assert "| ml-serving/model-availability | availability | 99.9% | 99.69" in text
    assert "## ml-serving/model-availability — MISSED" in text
    assert "- 2026-10-14 10:" in text and "(ongoing)" in text
    # The cost SLO's section: the month's spend against its budget, the spike as the worst hour.
    assert "## ml-serving/model-cost — met" in text
    assert "- Spend in the month: **" in text and "of a 1,000.00 USD monthly budget" in text
    assert "| 2026-10-18 10:00 | 0.0009" in text


def test_json_schema_is_versioned_and_stable() -> None:
    """A change to the report's JSON shape must be deliberate: update the golden file and the version.

    Regenerate with: .venv/bin/python -c "from slo_operator.reports.schema import json_schema as s;
    print(s(), end='')" > tests/reports/report.schema.json
    """
    from slo_operator.reports import SCHEMA_VERSION
    from slo_operator.reports.schema import json_schema

    schema = MonthlyReport.model_json_schema()
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION == "1.1"
    assert GOLDEN_SCHEMA.read_text() == json_schema()


def test_the_json_round_trips(month_report: MonthlyReport) -> None:
    text = month_report.model_dump_json()
    assert "NaN" not in text and "Infinity" not in text
    assert MonthlyReport.model_validate_json(text) == month_report


# ---- CLI ------------------------------------------------------------------------------------------

runner = CliRunner()


def cli(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cli_json_and_markdown(
    month_prometheus: monthdata.PrometheusServer, month_report: MonthlyReport, slo_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report.json"
    code, _, err = cli("report", "-f", str(slo_dir), "--month", "2026-10", "--prometheus-url",
                       month_prometheus.url, "--format", "json", "--output", str(out))
    assert code == 0, err
    report = MonthlyReport.model_validate_json(out.read_text())
    assert report.summary == month_report.summary
    assert {r.name: r.compliance_percent for r in report.slos} == \
        {r.name: r.compliance_percent for r in month_report.slos}

    code, text, err = cli("report", "-f", str(slo_dir), "--month", "2026-10", "--prometheus-url",
                          month_prometheus.url, "--format", "markdown", "--slo", "model-latency")
    assert code == 0, err
    assert "## ml-serving/model-latency — met" in text and "model-availability" not in text


def test_cli_pdf_and_email(
    month_prometheus: monthdata.PrometheusServer, slo_dir: Path, tmp_path: Path, smtp_server: SMTPServer
) -> None:
    out = tmp_path / "report.pdf"
    code, _, err = cli("report", "-f", str(slo_dir), "--month", "2026-10", "--prometheus-url",
                       month_prometheus.url, "--format", "pdf", "-o", str(out),
                       "--email-to", "sre-leads@example.org", "--email-from", "slo@example.org",
                       "--smtp-host", smtp_server.host, "--smtp-port", str(smtp_server.port),
                       "--smtp-security", "none")
    assert code == 0, err
    assert out.read_bytes().startswith(b"%PDF-")
    assert "sre-leads@example.org: sent" in err
    (received,) = smtp_server.handler.received
    assert received.rcpt_tos == ["sre-leads@example.org"]


def test_cli_fails_when_a_recipient_is_not_reached(
    month_prometheus: monthdata.PrometheusServer, slo_dir: Path, smtp_server: SMTPServer
) -> None:
    smtp_server.handler.refuse = {"gone@example.org"}
    code, _, err = cli("report", "-f", str(slo_dir), "--month", "2026-10", "--prometheus-url",
                       month_prometheus.url, "--slo", "model-latency", "-o", "/dev/null",
                       "--email-to", "sre-leads@example.org", "--email-to", "gone@example.org",
                       "--email-from", "slo@example.org", "--smtp-host", smtp_server.host,
                       "--smtp-port", str(smtp_server.port), "--smtp-security", "none")
    assert code == 3
    assert "gone@example.org: NOT sent: refused by" in err and "1 of 2 recipient(s) not reached" in err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--format", "pdf"], 2, "--format pdf needs --output"),
        (["--month", "2026-13"], 2, "write the month as YYYY-MM"),
        (["--slo", "nope"], 2, "no SLO named nope"),
        (["--email-to", "a@example.org"], 2, "no SMTP host"),
    ],
)
def test_cli_refuses_bad_arguments(
    month_prometheus: monthdata.PrometheusServer, slo_dir: Path, args: list[str], code: int, message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SLO_REPORT_SMTP_HOST", raising=False)
    got, _, err = cli("report", "-f", str(slo_dir), "--prometheus-url", month_prometheus.url,
                      "--month", "2026-10", *args)
    assert got == code and message in err, err


def test_cli_reports_an_unreachable_prometheus(slo_dir: Path) -> None:
    url = f"http://127.0.0.1:{monthdata.free_port()}"
    code, _, err = cli("report", "-f", str(slo_dir), "--month", "2026-10", "--prometheus-url", url)
    assert code == 1 and f"cannot reach Prometheus at {url}" in err


def test_cli_reads_slos_from_the_cluster(
    month_prometheus: monthdata.PrometheusServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--from-cluster lists the stored SLOs (stand-in client here; checked by hand against a real API
    server); one invalid object is skipped with a warning instead of stopping the whole report."""
    import slo_operator.kube as kube

    stored = [obj.model_dump(by_alias=True, exclude_none=True) for obj in monthdata.objects()[:2]]
    stored[0]["status"] = {"state": "Meeting"}
    stored[0]["metadata"].update(uid="1234", resourceVersion="99", generation=3)
    broken = {"apiVersion": "slo.mlops.dev/v1alpha1", "kind": "ServiceLevelObjective",
              "metadata": {"name": "broken", "namespace": "x"}, "spec": {"service": "s"}}

    class FakeClient:
        def __init__(self, credentials: object) -> None:
            pass

        def list_slos(self, namespaces: tuple[str, ...] = ()) -> list[dict[str, object]]:
            assert namespaces == ("ml-serving",)
            return [*stored, broken]

        def close(self) -> None:
            pass

    monkeypatch.setattr(kube, "load_credentials", lambda kubeconfig=None: object())
    monkeypatch.setattr(kube, "KubeClient", FakeClient)
    code, text, err = cli("report", "--from-cluster", "-n", "ml-serving", "--month", "2026-10",
                          "--prometheus-url", month_prometheus.url, "--format", "markdown")
    assert code == 0, err
    assert "skipped (invalid): x/broken: spec.objective" in err
    assert [line for line in text.splitlines() if line.startswith("## ")] == [
        f"## ml-serving/{obj.name} — {'met' if obj.name != 'model-availability' else 'MISSED'}"
        for obj in monthdata.objects()[:2]
    ]


def test_cli_needs_files_or_the_cluster() -> None:
    code, _, err = cli("report", "--month", "2026-10", "--prometheus-url", "http://127.0.0.1:1")
    assert code == 2 and "give SLO files with -f, or --from-cluster" in err
