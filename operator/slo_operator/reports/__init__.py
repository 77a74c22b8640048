"""Monthly SLO reports: compliance, error budget, violations and recommendations from Prometheus.

Layers: ``data`` and ``schema`` (plain data, the versioned JSON schema), ``compute`` and
``recommendations`` (pure: fetched series -> report), ``text`` (Markdown), ``pdf`` (charts + PDF),
``source`` (Prometheus range queries), ``mail`` (SMTP), ``reporter`` (``SLOReporter`` ties them
together) and ``cli`` (``slo-operator report``).
"""

from slo_operator.reports.data import BucketCheck, ReportRange, SLOData, month_range, previous_month
from slo_operator.reports.mail import EmailResult, RecipientResult, SMTPSettings, send_email
from slo_operator.reports.pdf import export_to_pdf
from slo_operator.reports.reporter import PrometheusSource, SLOReporter
from slo_operator.reports.schema import SCHEMA_VERSION, MonthlyReport, SLOMonthReport
from slo_operator.reports.text import to_markdown

__all__ = [
    "SCHEMA_VERSION",
    "BucketCheck",
    "EmailResult",
    "MonthlyReport",
    "PrometheusSource",
    "RecipientResult",
    "ReportRange",
    "SLOData",
    "SLOMonthReport",
    "SLOReporter",
    "SMTPSettings",
    "export_to_pdf",
    "month_range",
    "previous_month",
    "send_email",
    "to_markdown",
]
