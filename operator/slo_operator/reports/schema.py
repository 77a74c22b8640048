"""The monthly SLO report as data: a stable, versioned JSON schema (pydantic models).

``MonthlyReport.schema_version`` is bumped on any change a consumer could notice: a field removed,
renamed or given another meaning (major), or a field added (minor; 1.1 added ``cost``). Percentages
are percent (99.9, not 0.999) like the CR status; times are UTC RFC 3339; durations are seconds. Numbers
a month of data could not provide are ``null``, never NaN.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.1"  # keep equal to MonthlyReport.schema_version
REPORT_KIND = "SLOMonthlyReport"

SLOStatus = Literal["met", "missed", "no_data"]
AlertSource = Literal["alerts", "burn_rate", "none"]
RecommendationCode = Literal[
    "no_data",
    "missing_latency_bucket",
    "objective_too_tight",
    "incident_dominated",
    "objective_too_loose",
    "alert_without_budget_impact",
    "low_traffic",
]


# Every number is kept to 6 decimals: enough for any count or percentage, and no float artefacts
# (49380.0000000001) in the JSON.
Number = Annotated[float, AfterValidator(lambda value: round(value, 6))]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Period(_Model):
    """A stretch of time within the reported range, at the report's resolution."""

    start: datetime
    end: datetime
    duration_seconds: Number
    open_at_start: bool = Field(description="Already going at the start of the reported range.")
    open_at_end: bool = Field(description="Still going at the end of the reported range.")


class AlertFiring(Period):
    """One firing of a burn-rate alert."""

    alert: str
    severity: str
    budget_consumed_percent: Number | None = Field(
        description="Share of the month's error budget spent in the hours the firing overlapped."
    )


class DayStats(_Model):
    """One UTC day."""

    date: date
    good: Number | None
    bad: Number | None
    total: Number | None
    compliance_percent: Number | None
    budget_consumed_percent: Number | None = Field(description="Share of the month's error budget.")


class Point(_Model):
    time: datetime
    value: Number


class ErrorBudget(_Model):
    """The month's error budget: what its traffic allowed to fail, and what did."""

    allowed: Number | None = Field(description="Bad events (or seconds) the month's total allowed.")
    consumed: Number | None = Field(description="Bad events (or seconds) in the month.")
    consumed_percent: Number | None
    remaining_percent: Number | None = Field(description="100 - consumed_percent (negative: overspent).")
    window_remaining_percent_at_end: Number | None = Field(
        description="Budget left over the SLO's own rolling window at the end of the range "
        "(slo:error_budget_remaining:ratio)."
    )


class Violations(_Model):
    alert_source: AlertSource = Field(
        description="alerts: ALERTS{alertstate=\"firing\"}; burn_rate: derived from slo:error_ratio / error "
        "budget and the alert thresholds (Prometheus holds no ALERTS for this SLO); none: alerting disabled."
    )
    alert_firings: list[AlertFiring]
    alert_firing_count: int
    alert_firing_seconds: Number
    sli_below_objective: list[Period] = Field(
        description="Stretches where the SLO-window SLI (slo:sli:ratio) was below the objective."
    )
    sli_below_objective_count: int
    sli_below_objective_seconds: Number


class Recommendation(_Model):
    code: RecommendationCode
    severity: Literal["info", "warning"]
    message: str


class CostHour(_Model):
    """One hour of a cost SLO."""

    start: datetime
    spend: Number | None = Field(description="Money spent in the hour.")
    per_unit: Number | None = Field(description="Mean cost per unit of the hour's slices; null: no units.")


class CostMonth(_Model):
    """A cost SLO's money over the month (since 1.1)."""

    currency: str | None
    spend: Number | None = Field(description="Money spent in the reported range (hourly spend summed).")
    budget: Number | None = Field(description="The spend budget's amount per period, when it has one.")
    budget_period: Literal["month", "window"] | None
    budget_used_percent: Number | None = Field(
        description="spend / budget for a monthly budget (null otherwise)."
    )
    max_per_unit: Number
    worst_hours: list[CostHour] = Field(description="The hours with the highest cost per unit, worst first.")


class SLOMonthReport(_Model):
    """One SLO's month."""

    name: str
    namespace: str
    service: str
    description: str
    kind: str
    budgeting_method: str
    objective_percent: Number
    window: str
    status: SLOStatus
    met: bool | None
    compliance_percent: Number | None = Field(
        description="Good / total over the month, traffic-weighted (for timeslices: share of good time)."
    )
    unit: Literal["events", "seconds"]
    good: Number | None
    bad: Number | None
    total: Number | None
    error_budget: ErrorBudget
    violations: Violations
    worst_days: list[DayStats]
    daily: list[DayStats]
    budget_burndown: list[Point] = Field(description="Hourly: percent of the month's budget left.")
    sli: list[Point] = Field(description="Hourly: the SLO-window SLI in percent (slo:sli:ratio).")
    recommendations: list[Recommendation]
    notes: list[str]
    cost: CostMonth | None = Field(default=None, description="Cost SLOs: spend and worst hours (since 1.1).")


class ReportSummary(_Model):
    slos: int
    met: int
    missed: int
    no_data: int
    alert_firings: int


class MonthlyReport(_Model):
    """Every selected SLO over one calendar month (UTC)."""

    schema_version: Literal["1.1"] = "1.1"
    kind: Literal["SLOMonthlyReport"] = "SLOMonthlyReport"
    month: str = Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")
    start: datetime
    end: datetime
    complete: bool = Field(description="False when the month had not ended when the report was made.")
    generated_at: datetime
    prometheus_url: str
    resolution_seconds: int
    summary: ReportSummary
    slos: list[SLOMonthReport]


def json_schema() -> str:
    """The JSON schema of ``MonthlyReport``, with a stable key order."""
    import json

    return json.dumps(MonthlyReport.model_json_schema(), indent=2, sort_keys=True) + "\n"
