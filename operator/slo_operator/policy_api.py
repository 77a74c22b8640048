"""The ``ErrorBudgetPolicy`` API (``slo.mlops.dev/v1alpha1``, short name ``ebp``) as pydantic models.

An error-budget policy is the SRE Workbook's written agreement of what happens when a service spends
its budget: ordered escalation steps, each reached when a share of the budget is consumed and/or when a
burn-rate alert of some severity fires, and each doing something (open a ticket, freeze deploys,
notify). A platform team writes one policy per namespace; every SLO it selects follows it.

As for SLOs these models are the single source of truth: the CRD (``make crds``) is generated from them,
``slo-operator policy explain`` validates files with them and the operator validates stored objects with
them. What the API server can check is declared here (patterns, bounds, CEL); what only the operator can
judge (a Secret that does not exist, an SLO selected by two policies) becomes a condition and an Event.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic.config import JsonValue

from slo_operator.api import SEVERITY_PATTERN, Condition, SecretKeySelector, StoredObject, _Model

POLICY_KIND = "ErrorBudgetPolicy"
POLICY_PLURAL = "errorbudgetpolicies"
STEP_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$"
LABEL_KEY_PATTERN = r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
LABEL_VALUE_PATTERN = r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$"
URL_PATTERN = r"^https?://[^\s/$.?#][^\s]*$"
TICKET_LABEL_PATTERN = r"^[A-Za-z0-9][-A-Za-z0-9_.:]{0,49}$"
ACTIONS = ("ticket", "freeze", "notify")
Action = Literal["ticket", "freeze", "notify"]


class LabelSelectorRequirement(_Model):
    """One set-based requirement, as in Kubernetes label selectors."""

    key: str = Field(pattern=LABEL_KEY_PATTERN, max_length=317, description="The label key.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(
        description="How key and values relate."
    )
    values: list[Annotated[str, Field(pattern=LABEL_VALUE_PATTERN, max_length=63)]] = Field(
        default_factory=list, max_length=32, description="Values for In and NotIn; empty otherwise."
    )

    @model_validator(mode="after")
    def _values(self) -> LabelSelectorRequirement:
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"operator {self.operator} needs values")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"operator {self.operator} takes no values")
        return self


class LabelSelector(_Model):
    """Which SLOs of the policy's namespace it governs. ``{}`` selects every SLO of the namespace."""

    match_labels: dict[str, str] = Field(default_factory=dict, description="Labels an SLO must carry.")
    match_expressions: list[LabelSelectorRequirement] = Field(
        default_factory=list, max_length=16, description="Set-based requirements, all of which must hold."
    )


class PolicyStep(_Model):
    """One escalation step: when it is reached and what it does."""

    name: str = Field(
        pattern=STEP_NAME_PATTERN,
        max_length=32,
        description="Step name shown in the SLO's status and `kubectl get slo`, e.g. `ticket`, `freeze`.",
    )
    consumed: float | None = Field(
        default=None,
        gt=0,
        le=1000,
        description="Reached when this percent of the error budget over the SLO window is consumed, e.g. "
        "75. Steps giving consumed must list it in increasing order.",
    )
    severity: str | None = Field(
        default=None,
        pattern=SEVERITY_PATTERN,
        max_length=32,
        description="Reached while a burn-rate alert of this severity fires, e.g. `critical` or `ticket`. "
        "With consumed too, either one reaches the step.",
    )
    actions: list[Action] = Field(
        min_length=1,
        max_length=3,
        description="What the step does: `ticket` (one ticket per SLO, step and window, on spec.ticket's "
        "backend), `freeze` (the API server refuses pod-template changes of the service's workloads), "
        "`notify` (an Event on the SLO and a message to its Slack receiver).",
    )

    @field_validator("actions")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("actions must be unique")
        return value

    @model_validator(mode="after")
    def _trigger(self) -> PolicyStep:
        if self.consumed is None and self.severity is None:
            raise ValueError(f"step {self.name!r}: give consumed, severity or both")
        return self


class JiraBackend(_Model):
    """Jira (REST API v2, ``POST /rest/api/2/issue``). Jira Cloud: user (e-mail) + API token (basic
    auth); Jira Data Center: a personal access token alone (bearer)."""

    url: str = Field(
        pattern=URL_PATTERN, max_length=512, description="Jira base URL, e.g. `https://jira.example.com`."
    )
    project: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,49}$", description="Project key, e.g. `OPS`.")
    issue_type: str = Field(default="Task", min_length=1, max_length=64, description="Issue type name.")
    labels: list[Annotated[str, Field(pattern=TICKET_LABEL_PATTERN)]] = Field(
        default_factory=list, max_length=8, description="Extra labels on every ticket."
    )
    user: SecretKeySelector | None = Field(default=None, description="Secret key holding the user (e-mail).")
    token: SecretKeySelector = Field(description="Secret key holding the API token.")


class GitHubBackend(_Model):
    """GitHub Issues (REST ``POST /repos/{owner}/{repo}/issues``)."""

    api_url: str = Field(
        default="https://api.github.com",
        alias="apiURL",
        pattern=URL_PATTERN,
        max_length=512,
        description="REST API base URL (GitHub Enterprise: `https://HOST/api/v3`).",
    )
    owner: str = Field(pattern=r"^[A-Za-z0-9][-A-Za-z0-9]{0,38}$", description="Repository owner.")
    repo: str = Field(pattern=r"^[A-Za-z0-9._-]{1,100}$", description="Repository name.")
    labels: list[Annotated[str, Field(pattern=TICKET_LABEL_PATTERN)]] = Field(
        default_factory=list, max_length=8, description="Extra labels on every issue."
    )
    token: SecretKeySelector = Field(description="Secret key holding a token allowed to write issues.")


class WebhookBackend(_Model):
    """A generic JSON webhook: slo-operator POSTs the ticket (with a stable ``id`` to deduplicate on);
    the same URL receives the `ticket` severity alerts from Alertmanager."""

    url: SecretKeySelector = Field(description="Secret key holding the webhook URL.")


class TicketBackend(_Model):
    """Where tickets go: exactly one backend, configured with Secret references only."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "[has(self.jira), has(self.github), has(self.webhook)].filter(x, x).size() == 1",
                    "message": "set exactly one ticket backend: jira, github or webhook",
                }
            ]
        }
    )

    jira: JiraBackend | None = None
    github: GitHubBackend | None = None
    webhook: WebhookBackend | None = None

    @model_validator(mode="after")
    def _one(self) -> TicketBackend:
        if sum(x is not None for x in (self.jira, self.github, self.webhook)) != 1:
            raise ValueError("set exactly one ticket backend: jira, github or webhook")
        return self

    @property
    def kind(self) -> str:
        return "jira" if self.jira else "github" if self.github else "webhook"


_POLICY_RULES: list[JsonValue] = [
    {
        "rule": "self.steps.filter(s, has(s.consumed)).map(s, s.consumed).isSorted()",
        "message": "steps giving consumed must list it in increasing order",
    },
    {
        "rule": "!self.steps.exists(s, 'ticket' in s.actions) || has(self.ticket)",
        "message": "a step with the ticket action needs spec.ticket (jira, github or webhook)",
    },
]


class ErrorBudgetPolicySpec(_Model):
    """Which SLOs follow the policy, its escalation steps and where tickets go."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": _POLICY_RULES})

    selector: LabelSelector | None = Field(
        default=None,
        description="SLOs of this namespace the policy governs (`{}`: all). Unset: only SLOs naming the "
        "policy in spec.policyRef. An SLO's policyRef wins over selectors.",
    )
    steps: list[PolicyStep] = Field(
        min_length=1,
        max_length=10,
        description="Escalation steps, mildest first. The active step is the last one reached; only its "
        "actions apply.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    hysteresis: float = Field(
        default=5,
        ge=0,
        le=50,
        description="Percent of the budget the consumption must fall below a step's consumed before the "
        "step (and its freeze) is left, so a budget hovering at a threshold does not flap.",
    )
    ticket: TicketBackend | None = Field(default=None, description="Ticket backend for the ticket action.")
    ticket_alerts: bool = Field(
        default=False,
        description="Add the SRE Workbook's ticket tier to every SLO the policy governs: an alert "
        "SLOTicketBurn with severity `ticket` (10% of the budget in 3d, windows 3d/6h, scaled to the SLO "
        "window), which the SLO's AlertmanagerConfig routes to the webhook backend (or to nobody for Jira "
        "and GitHub: a step with `severity: ticket` opens the ticket instead of a page or a Slack message).",
    )

    @model_validator(mode="after")
    def _steps(self) -> ErrorBudgetPolicySpec:
        names = [s.name for s in self.steps]
        if len(set(names)) != len(names):
            raise ValueError("step names must be unique")
        consumed = [s.consumed for s in self.steps if s.consumed is not None]
        if any(b <= a for a, b in pairwise(consumed)):
            raise ValueError("steps giving consumed must list it in strictly increasing order")
        if any("ticket" in s.actions for s in self.steps) and self.ticket is None:
            raise ValueError("a step with the ticket action needs spec.ticket (jira, github or webhook)")
        return self


class PolicySLOStatus(_Model):
    """One SLO the policy governs and where it stands."""

    name: str = Field(description="SLO name.")
    step: str | None = Field(default=None, description="Active step; unset: no step reached.")
    since: str | None = Field(default=None, description="When the step was reached (RFC 3339).")
    frozen: bool = Field(default=False, description="Whether its service's deploys are frozen.")


class ErrorBudgetPolicyStatus(_Model):
    """What the operator found; written by slo-operator only."""

    observed_generation: int | None = Field(default=None, description="Generation last evaluated.")
    conditions: list[Condition] = Field(default_factory=list, description="Valid, Ready.")
    slos: list[PolicySLOStatus] = Field(default_factory=list, description="SLOs governed, with their step.")
    frozen: int = Field(default=0, description="How many of them are frozen.")


class ErrorBudgetPolicy(StoredObject):
    """A whole ErrorBudgetPolicy as stored by the API server or written in a file."""

    kind: Literal["ErrorBudgetPolicy"]
    spec: ErrorBudgetPolicySpec
