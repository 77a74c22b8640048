"""The ``ServiceLevelObjective`` API (``slo.mlops.dev/v1alpha1``) as pydantic models.

These models are the single source of truth: the CRD's OpenAPI schema (``make crds``) is generated from
them, the CLI validates files with them, and the operator validates what the API server stored with
them. Field descriptions become ``kubectl explain`` text, so they are written for users. Checks that the
API server can run (bounds, patterns, CEL cross-field rules) are declared here too, so a bad SLO is
refused at ``kubectl apply`` time; checks only Python can do (parsing PromQL selectors) run here and in
the operator, which reports them as a ``Valid=False`` condition.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.config import JsonValue
from pydantic_core import InitErrorDetails, PydanticCustomError

from slo_operator.durations import parse_window
from slo_operator.indicators import INDICATORS, KINDS
from slo_operator.indicators.accuracy import AccuracyIndicator
from slo_operator.indicators.availability import AvailabilityIndicator
from slo_operator.indicators.cost import CostIndicator
from slo_operator.indicators.freshness import FreshnessIndicator
from slo_operator.indicators.latency import LatencyIndicator
from slo_operator.indicators.ratio import RatioIndicator
from slo_operator.schema import ApiModel, Duration, Window, cel_seconds
from slo_operator.selectors import LABEL_NAME

ALERT_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
LABEL_NAME_PATTERN = r"^[a-zA-Z_][a-zA-Z0-9_]{0,62}$"
SEVERITY_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"
SERVICE_PATTERN = r"^[a-zA-Z0-9]([-a-zA-Z0-9_.]{0,61}[a-zA-Z0-9])?$"
# Labels slo-operator sets itself on every generated series and alert; users may not override them.
RESERVED_LABELS = frozenset({"slo", "namespace", "service", "severity", "window", "le", "alertname"})



class _Model(ApiModel):
    """The base of every spec model (``schema.ApiModel``; other API modules import it from here)."""


INDICATOR_KINDS = tuple(INDICATORS)  # the registry's order (indicators.KINDS)
_ONE_OF = ", ".join(INDICATOR_KINDS[:-1]) + " or " + INDICATOR_KINDS[-1]


class Indicator(_Model):
    """What is measured: exactly one of the indicator kinds (one field per entry of ``indicators.KINDS``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "[" + ", ".join(f"has(self.{k})" for k in INDICATOR_KINDS) + "]"
                    ".filter(x, x).size() == 1",
                    "message": f"set exactly one indicator: {_ONE_OF}",
                }
            ]
        }
    )

    availability: AvailabilityIndicator | None = None
    latency: LatencyIndicator | None = None
    accuracy: AccuracyIndicator | None = None
    freshness: FreshnessIndicator | None = None
    ratio: RatioIndicator | None = None
    cost: CostIndicator | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Indicator:
        chosen = [k for k in INDICATOR_KINDS if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError(
                f"set exactly one indicator: {_ONE_OF}"
                + (f" (got {', '.join(chosen)})" if chosen else "")
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in INDICATOR_KINDS if getattr(self, k) is not None)


class Timeslices(_Model):
    """Timeslice budgeting: the window is cut into slices; a slice is good when its SLI meets `goal`."""

    slice_size: Window = Field(
        default="5m",
        description="Length of one slice, at least `1m` (raw counters are read over it), e.g. `5m`.",
    )
    goal: float | None = Field(
        default=None,
        gt=0,
        le=100,
        description="Percent of good events a slice needs to count as good, e.g. 95. Required for event "
        "indicators; not used by cost (a slice is good when its cost per unit is at most the maximum).",
    )

    @field_validator("slice_size")
    @classmethod
    def _slice(cls, value: str) -> str:
        if parse_window(value) < 60:
            raise ValueError(
                f"{value!r}: a slice shorter than 1m cannot hold several scrapes; use 1m or more"
            )
        return value


class BurnRateAlert(_Model):
    """One multi-window burn-rate alert: fires when both windows burn faster than the threshold.

    The threshold is derived: burning `budgetPercent` % of the error budget within `longWindow` means a
    burn rate of budgetPercent/100 × window / longWindow (2% in 1h of 30d = 14.4).
    """

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": f"{cel_seconds('self.shortWindow')} < {cel_seconds('self.longWindow')}",
                    "message": "shortWindow must be shorter than longWindow (typically 1/12 of it)",
                }
            ]
        }
    )

    name: str = Field(
        pattern=ALERT_NAME_PATTERN,
        description="Alert name as Prometheus shows it, e.g. `SLOFastBurn` (letters, digits, underscore).",
    )
    severity: str = Field(
        pattern=SEVERITY_PATTERN,
        description="Value of the alert's `severity` label; routing sends `critical` to PagerDuty and "
        "`warning` to Slack.",
    )
    budget_percent: float = Field(
        gt=0, le=100, description="Percent of the whole error budget burnt within longWindow, e.g. 2."
    )
    long_window: Window = Field(description="Long window, e.g. `1h`; must not exceed the SLO window.")
    short_window: Window = Field(
        description="Short window, e.g. `5m`: makes the alert reset quickly after recovery."
    )
    for_: Duration | None = Field(
        default=None,
        alias="for",
        description="Optional Prometheus `for:` hold time. Usually unset: the windows already debounce.",
    )

    @model_validator(mode="after")
    def _windows(self) -> BurnRateAlert:
        if parse_window(self.short_window) >= parse_window(self.long_window):
            raise ValueError(
                f"shortWindow ({self.short_window}) must be shorter than longWindow ({self.long_window})"
            )
        return self


class NoDataAlert(_Model):
    """Alert when the SLI's series are missing (scrape broken, metric renamed, selector wrong)."""

    enabled: bool = Field(default=True, description="Whether to render the no-data alert.")
    for_: Window = Field(default="15m", alias="for", description="How long data must be missing.")
    severity: str = Field(default="warning", pattern=SEVERITY_PATTERN, description="Severity label.")


class ForecastAlert(_Model):
    """Alert when the budget forecast (status.forecast) says the window will likely end below objective."""

    enabled: bool = Field(default=True, description="Whether to render SLOForecastViolation.")
    threshold: float = Field(
        default=0.8, gt=0, lt=1,
        description="Violation probability (0-1) above which the alert fires, once it stayed there `for`.",
    )
    for_: Window = Field(default="1h", alias="for", description="How long the probability must stay above.")
    severity: str = Field(default="warning", pattern=SEVERITY_PATTERN, description="Severity label.")


# A DNS subdomain, like metadata.name (written differently so the loader's hint for it names Secrets).
SECRET_NAME_PATTERN = r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$"
SECRET_KEY_PATTERN = r"^[-._a-zA-Z0-9]{1,253}$"
SLACK_CHANNEL_PATTERN = r"^[#@]?[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"


class SecretKeySelector(_Model):
    """A key of a Secret in the SLO's own namespace. Only this reference is stored in the SLO; the value
    stays in the Secret, where Alertmanager (through prometheus-operator) reads it."""

    name: str = Field(
        pattern=SECRET_NAME_PATTERN,
        max_length=253,
        description="Name of the Secret (in the same namespace as the SLO).",
    )
    key: str = Field(pattern=SECRET_KEY_PATTERN, max_length=253, description="Key inside the Secret's data.")


class PagerDutyRouting(_Model):
    """Where `critical` alerts page: a PagerDuty service's Events API v2 integration."""

    routing_key: SecretKeySelector = Field(
        description="Secret key holding the Events API v2 integration (routing) key of the PagerDuty service."
    )


class SlackRouting(_Model):
    """Where `warning` alerts (and any severity other than `critical`) are posted: a Slack webhook."""

    api_url: SecretKeySelector = Field(
        alias="apiURL", description="Secret key holding the Slack incoming-webhook URL."
    )
    channel: str | None = Field(
        default=None,
        pattern=SLACK_CHANNEL_PATTERN,
        description="Channel, e.g. `#ml-alerts`. Default: the operator's default channel, else the "
        "webhook's own.",
    )


class Routing(_Model):
    """Alert routing: slo-operator renders an AlertmanagerConfig sending this SLO's `critical` alerts to
    PagerDuty and its `warning` alerts to Slack, grouped per SLO, with a firing critical alert silencing the
    warning of the same SLO. A receiver left out here falls back to the operator's default (its
    configuration); with no receiver from either, no AlertmanagerConfig is rendered."""

    enabled: bool = Field(
        default=True,
        description="Set false to render no AlertmanagerConfig, even when the operator has defaults.",
    )
    pagerduty: PagerDutyRouting | None = Field(
        default=None, description="PagerDuty receiver for `critical` alerts (Secret reference only)."
    )
    slack: SlackRouting | None = Field(
        default=None, description="Slack receiver for `warning` alerts (Secret reference only)."
    )


class Alerting(_Model):
    """Burn-rate alerts and what they carry."""

    enabled: bool = Field(default=True, description="Set false to render recording rules only.")
    burn_rates: list[BurnRateAlert] | None = Field(
        default=None,
        max_length=8,
        description=(
            "Burn-rate alerts. Default: SLOFastBurn (critical, 2% of the budget in 1h, windows 1h/5m) and "
            "SLOSlowBurn (warning, 10% in 24h, windows 24h/1h), both scaled to the SLO window when it is "
            "not 30d and never shorter than 5m."
        ),
    )
    labels: dict[str, str] = Field(
        default_factory=dict, description="Extra labels on every alert, e.g. `team: ml-platform`."
    )
    annotations: dict[str, str] = Field(
        default_factory=dict, description="Extra annotations on every alert, e.g. `runbook_url`."
    )
    no_data: NoDataAlert | None = Field(
        default=None, description="Optional alert when the SLI has no data; off unless given."
    )
    forecast: ForecastAlert | None = Field(
        default=None,
        description="Optional SLOForecastViolation alert, read from the operator's forecast gauges (its "
        "/metrics must be scraped); off unless given.",
    )
    routing: Routing | None = Field(
        default=None,
        description="Where the alerts go (AlertmanagerConfig: critical to PagerDuty, warning to Slack). "
        "Unset: the operator's default receivers, if it has any.",
    )

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not LABEL_NAME.match(key):
                raise ValueError(f"label name {key!r} is not a valid Prometheus label name")
            if key in RESERVED_LABELS:
                raise ValueError(f"label {key!r} is set by slo-operator; choose another name")
        return value

    @field_validator("burn_rates")
    @classmethod
    def _unique(cls, value: list[BurnRateAlert] | None) -> list[BurnRateAlert] | None:
        names = [alert.name for alert in value or []]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"alert names must be unique (repeated: {', '.join(duplicates)})")
        return value


_WINDOW_RULES: list[JsonValue] = [
    {
        "rule": "!has(self.alerting) || !has(self.alerting.burnRates) || self.alerting.burnRates.all(b, "
        f"{cel_seconds('b.longWindow')} <= {cel_seconds('self.window')})",
        "message": "every alerting.burnRates[].longWindow must be at most the SLO window",
    },
]


def _indicator_rules() -> list[JsonValue]:
    """CEL rules that follow from the registry: a kind's allowed budgeting methods, and Timeslices
    needing ``timeslices`` settings unless the kind is measured in time (it has its own slices)."""
    rules: list[JsonValue] = []
    for kind in KINDS:
        if len(kind.methods) == 1:
            (method,) = kind.methods
            rules.append({
                "rule": f"!has(self.indicator.{kind.name}) || !has(self.budgetingMethod) "
                f"|| self.budgetingMethod == '{method}'",
                "message": f"{kind.name} is measured in {method.lower()}: leave budgetingMethod unset or set "
                f"{method}",
            })
    timed = " || ".join(f"has(self.indicator.{k.name})" for k in KINDS if k.measures != "events")
    rules.append({
        "rule": "!has(self.budgetingMethod) || self.budgetingMethod != 'Timeslices' "
        "|| (has(self.timeslices) && has(self.timeslices.goal))" + (f" || {timed}" if timed else ""),
        "message": "budgetingMethod Timeslices needs timeslices.goal (and optionally timeslices.sliceSize)",
    })
    for kind in KINDS:
        if kind.measures == "slices":
            rules.append({
                "rule": f"!has(self.indicator.{kind.name}) || !has(self.timeslices) "
                "|| !has(self.timeslices.goal)",
                "message": f"timeslices.goal does not apply to {kind.name}: a slice is good when "
                f"{kind.description.split(' whose ')[-1]}; remove goal and keep sliceSize",
            })
    rules.append({
        "rule": "!has(self.indicator.cost) || !has(self.groupBy) || size(self.groupBy) == 0",
        "message": "groupBy is not supported with a cost indicator: the spend and its budget are one per "
        "SLO; remove groupBy",
    })
    return rules


def _spec_validations(schema: dict[str, Any], cls: type[Any]) -> None:
    """Add the spec's cross-field CEL rules to its JSON schema: the window rule, then those the registry
    decides (:func:`_indicator_rules`). They are built when the schema is asked for, not when this module
    is imported, so a change to the registry or to the rules is seen by whatever generates the CRD."""
    schema["x-kubernetes-validations"] = [*_WINDOW_RULES, *_indicator_rules()]


def _error_at(loc: tuple[str | int, ...], message: str, value: Any) -> ValidationError:
    """A validation error reported at ``loc`` below the model (a model validator's own errors would
    otherwise all point at the model itself, e.g. ``spec``, instead of the field to fix)."""
    return ValidationError.from_exception_data(
        "ServiceLevelObjectiveSpec",
        [InitErrorDetails(type=PydanticCustomError("value_error", message), loc=loc, input=value)],
    )


class ServiceLevelObjectiveSpec(_Model):
    """The desired SLO: what is measured, the objective over a rolling window, and how to alert."""

    model_config = ConfigDict(json_schema_extra=_spec_validations)

    service: str = Field(
        pattern=SERVICE_PATTERN,
        description="Name of the service the SLO is about; becomes the `service` label.",
    )
    description: str = Field(default="", max_length=1024, description="What the SLO promises, for humans.")
    objective: float = Field(
        gt=0,
        lt=100,
        description="Target percent of good events (or good timeslices) over the window, e.g. 99.9.",
    )
    window: Window = Field(default="30d", description="Rolling SLO window, e.g. `30d`, `7d`, `24h`.")
    indicator: Indicator = Field(description="What is measured: exactly one of the indicator kinds.")
    budgeting_method: Literal["Occurrences", "Timeslices"] | None = Field(
        default=None,
        description=(
            "Occurrences (default for event indicators): the SLI is good events / all events, weighted "
            "by traffic. Timeslices (default and only choice for freshness and cost): the share of good "
            "slices."
        ),
    )
    timeslices: Timeslices | None = Field(default=None, description="Slice size and per-slice goal.")
    group_by: list[Annotated[str, Field(pattern=LABEL_NAME_PATTERN)]] = Field(
        default_factory=list,
        max_length=8,
        description="Labels of the source series to keep: one SLI, budget and alert per distinct value set "
        "(e.g. `[model_version]`). Empty: one SLI for everything the selectors match.",
    )
    alerting: Alerting = Field(default_factory=Alerting, description="Burn-rate and no-data alerts.")
    policy_ref: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$",
        max_length=253,
        description="Name of the ErrorBudgetPolicy (same namespace) this SLO follows; unset: the policy "
        "whose selector matches its labels, if exactly one does.",
    )

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        seconds = parse_window(value)
        if seconds < 3600:
            raise ValueError(f"{value!r}: an SLO window shorter than 1h cannot hold a meaningful budget")
        return value

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, value: list[str]) -> list[str]:
        for label in value:
            if label in RESERVED_LABELS:
                raise ValueError(f"cannot group by {label!r}: slo-operator sets that label itself")
        if len(set(value)) != len(value):
            raise ValueError("labels must be unique")
        return value

    @model_validator(mode="after")
    def _cross_field(self) -> ServiceLevelObjectiveSpec:
        window = parse_window(self.window)
        for i, alert in enumerate(self.alerting.burn_rates or []):
            if parse_window(alert.long_window) > window:
                raise _error_at(
                    ("alerting", "burnRates", i, "longWindow"),
                    f"alerting.burnRates[{i}].longWindow ({alert.long_window}) must be at most the SLO "
                    f"window ({self.window})",
                    alert.long_window,
                )
            budget = (100 - Decimal(str(self.objective))) / 100
            threshold = Decimal(str(alert.budget_percent)) / 100 * window / parse_window(alert.long_window)
            if threshold * budget >= 1:
                raise _error_at(
                    ("alerting", "burnRates", i, "budgetPercent"),
                    f"alerting.burnRates[{i}]: spending {alert.budget_percent}% of the budget within "
                    f"{alert.long_window} needs an error ratio of {threshold * budget:.0%}, which can never "
                    "happen; lower budgetPercent or lengthen longWindow",
                    alert.budget_percent,
                )
        kind = INDICATORS[self.indicator.kind]
        if self.budgeting_method is not None and self.budgeting_method not in kind.methods:
            method = kind.default_method
            raise _error_at(
                ("budgetingMethod",),
                f"budgetingMethod: {kind.name} is measured in {method.lower()}; "
                f"leave it unset or set {method}",
                self.budgeting_method,
            )
        if (
            self.budgeting_method == "Timeslices"
            and (self.timeslices is None or self.timeslices.goal is None)
            and kind.measures == "events"
        ):
            raise _error_at(
                ("timeslices",), "timeslices: budgetingMethod Timeslices needs timeslices.goal", None
            )
        if kind.measures == "slices" and self.timeslices is not None and self.timeslices.goal is not None:
            raise _error_at(
                ("timeslices", "goal"),
                f"timeslices.goal does not apply to {kind.name}: a slice is good when "
                f"{kind.description.split(' whose ')[-1]}; remove goal and keep sliceSize",
                self.timeslices.goal,
            )
        if self.indicator.cost is not None and self.group_by:
            raise _error_at(
                ("groupBy",),
                "groupBy is not supported with a cost indicator: the spend and its budget are one per SLO; "
                "remove groupBy",
                self.group_by,
            )
        if self.timeslices is not None and parse_window(self.timeslices.slice_size) >= window:
            raise _error_at(
                ("timeslices", "sliceSize"),
                "timeslices.sliceSize must be shorter than the SLO window",
                self.timeslices.slice_size,
            )
        return self

    @property
    def method(self) -> str:
        if self.budgeting_method:
            return self.budgeting_method
        return INDICATORS[self.indicator.kind].default_method


# ---- status ---------------------------------------------------------------------------------------

SLOState = Literal["Meeting", "AtRisk", "Violating", "Warming", "NoData", "Unknown"]


class Condition(_Model):
    """A Kubernetes-convention condition (Ready, Valid, RulesApplied, PrometheusReachable, ...)."""

    type: str = Field(description="Condition type, e.g. `Ready`.")
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(description="CamelCase machine-readable reason.")
    message: str = Field(default="", description="Human-readable explanation.")
    last_transition_time: str = Field(description="When status last changed (RFC 3339).")
    observed_generation: int | None = Field(default=None, description="Generation the condition is about.")


class ErrorBudgetStatus(_Model):
    """Error budget over the SLO window, in percent of the whole budget."""

    remaining: float | None = Field(
        default=None, description="Percent of the budget left (negative: overspent)."
    )
    consumed: float | None = Field(default=None, description="Percent of the budget used.")


class BurnRateStatus(_Model):
    """One burn-rate alert's measured burn rates (1.0 spends the budget exactly over the window)."""

    name: str = Field(description="Alert name.")
    severity: str = Field(description="Alert severity.")
    threshold: float = Field(description="Burn rate both windows must exceed for the alert to fire.")
    long_window: str = Field(description="Long window.")
    long_burn_rate: float | None = Field(default=None, description="Burn rate over the long window.")
    short_window: str = Field(description="Short window.")
    short_burn_rate: float | None = Field(default=None, description="Burn rate over the short window.")
    firing: bool = Field(default=False, description="Both windows above the threshold now.")


class TicketStatus(_Model):
    """A ticket opened for the SLO by its error-budget policy."""

    backend: str = Field(description="jira, github or webhook.")
    key: str = Field(description="Ticket key, e.g. `OPS-12` or the GitHub issue number.")
    url: str | None = Field(default=None, description="Where to read it.")
    step: str | None = Field(default=None, description="Policy step that opened it.")
    window: str | None = Field(default=None, description="Budget window it belongs to (start, RFC 3339).")


class PolicyStatus(_Model):
    """Where the SLO stands in its error-budget policy."""

    name: str = Field(description="ErrorBudgetPolicy name.")
    step: str | None = Field(default=None, description="Active step; unset: none reached.")
    since: str | None = Field(default=None, description="When the active step was reached (RFC 3339).")
    actions: list[str] = Field(default_factory=list, description="Actions of the active step.")
    tickets: list[TicketStatus] = Field(default_factory=list, description="Tickets opened, newest last.")
    frozen: bool = Field(default=False, description="Deploys of the service are refused (freeze).")
    message: str | None = Field(default=None, description="What the policy did or could not do.")


class WindowStatus(_Model):
    """How much of the SLO window the figures span (young SLOs: see README "Young SLOs")."""

    covered: float | None = Field(
        default=None, description="Percent of the SLO window the SLI and budget figures span."
    )
    since: str | None = Field(
        default=None, description="When the recorded series of the current indicator began (RFC 3339)."
    )
    source: Literal["recorded", "raw"] | None = Field(
        default=None,
        description="recorded: the figures come from the recorded series; raw: from raw history, "
        "while the recorded series cover less than the window.",
    )


class ExhaustionInterval(_Model):
    """When the budget runs out in the 10th and 90th percentile of the forecast's futures."""

    earliest: str | None = Field(default=None, description="10th percentile (RFC 3339).")
    latest: str | None = Field(
        default=None, description="90th percentile (RFC 3339); unset: later than the horizon."
    )


class ForecastStatus(_Model):
    """Where the rolling window is heading over the next window (README "Forecast")."""

    model: Literal["seasonal-bootstrap", "insufficient-history"] = Field(
        description="seasonal-bootstrap, or insufficient-history (under two days of data: no numbers)."
    )
    end_of_window_sli: float | None = Field(
        default=None, alias="endOfWindowSLI",
        description="Expected SLI, percent, of the window that ends one window from now.",
    )
    budget_consumed: float | None = Field(
        default=None, description="Median share of the budget, percent, spent at the horizon's end."
    )
    violation_probability: float | None = Field(
        default=None, description="Probability (0-1) that the window at the horizon's end is below objective."
    )
    exhaustion_at: str | None = Field(
        default=None, description="Median time the budget runs out (RFC 3339); unset: not in most futures."
    )
    interval: ExhaustionInterval | None = Field(default=None, description="10th-90th percentile of it.")
    trained_on: str | None = Field(default=None, description="History the model was fitted on, e.g. `34d`.")
    horizon_end: str | None = Field(default=None, description="End of the forecast horizon (RFC 3339).")


class CostStatus(_Model):
    """A cost SLO's money (README "Cost SLOs"), in the budget's currency."""

    spent: float | None = Field(
        default=None, description="Spent in the budget's period so far (calendar month or SLO window)."
    )
    budget: float | None = Field(default=None, description="The budget's amount per period.")
    currency: str | None = Field(default=None, description="ISO 4217 code of the amounts.")
    forecast_end_of_period: float | None = Field(
        default=None,
        description="Spend of the whole period at the pace of the longest alert window (a day by default).",
    )
    per_unit: float | None = Field(
        default=None, description="Cost per unit over the last slice; unset: no units in it (idle)."
    )


class ServiceLevelObjectiveStatus(_Model):
    """What the operator measured and did; written by slo-operator only."""

    observed_generation: int | None = Field(default=None, description="Generation last reconciled.")
    conditions: list[Condition] = Field(default_factory=list, description="Ready, Valid, RulesApplied, ...")
    sli: float | None = Field(default=None, description="Measured SLI over the window, percent.")
    error_budget: ErrorBudgetStatus | None = Field(default=None, description="Error budget left and used.")
    burn_rate: float | None = Field(
        default=None, description="Current burn rate: over the first burn-rate alert's long window."
    )
    burn_rates: list[BurnRateStatus] = Field(default_factory=list, description="Per alert, both windows.")
    time_to_exhaustion: str | None = Field(
        default=None, description="At the current burn rate, when the budget runs out, e.g. `3d4h`."
    )
    state: SLOState | None = Field(
        default=None,
        description="Meeting, AtRisk, Violating, Warming (window partly covered), NoData or Unknown.",
    )
    window: WindowStatus | None = Field(default=None, description="How much of the window the figures span.")
    last_evaluated: str | None = Field(default=None, description="When the numbers were read (RFC 3339).")
    policy: PolicyStatus | None = Field(default=None, description="Error-budget policy step and actions.")
    forecast: ForecastStatus | None = Field(default=None, description="Budget forecast over the next window.")
    cost: CostStatus | None = Field(default=None, description="Cost SLOs: spend, budget, forecast, per unit.")
    kopf: dict[str, Any] | None = Field(
        default=None, description="The operator's bookkeeping (the spec it last reconciled), kept in status "
        "so that it is written with the conditions in one request."
    )


class ObjectMeta(BaseModel):
    """The part of metadata slo-operator reads (the API server owns the rest)."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
    namespace: str = Field(default="default", pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    uid: str | None = None
    generation: int | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class StoredObject(BaseModel):
    """A whole object of one of the operator's kinds, as stored by the API server or written in a file.

    Each kind narrows ``kind`` and ``spec``; the fields keep this order in what the models dump.
    """

    model_config = ConfigDict(extra="forbid")

    api_version: Literal["slo.mlops.dev/v1alpha1"] = Field(alias="apiVersion")
    kind: str
    metadata: ObjectMeta
    spec: BaseModel
    status: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace


class ServiceLevelObjective(StoredObject):
    """A whole ServiceLevelObjective as stored by the API server or written in a file."""

    kind: Literal["ServiceLevelObjective"]
    spec: ServiceLevelObjectiveSpec
