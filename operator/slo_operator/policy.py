"""Error-budget policy decisions, as pure functions: which policy governs an SLO, which step is active,
what identifies a ticket, and the admission policy that enforces a freeze.

Why this shape:

* **Step selection with hysteresis.** A step is *reached* when the consumed budget is at or above its
  ``consumed`` or an alert of its ``severity`` fires; a step already active is *kept* until consumption
  falls ``hysteresis`` percent below its threshold (and its alert stopped). The active step is the last
  one reached or kept, so a budget hovering at 75% does not open, close and reopen a freeze every refresh.
* **Ticket identity.** One ticket per SLO, step and window: the window is the SLO window's period that
  holds the moment the step was reached, aligned to the Unix epoch (30-day periods for a 30d SLO), and
  the identity is a short hash of (SLO uid, step, window start) carried as a ticket label. Before
  creating a ticket the operator searches for that label, so a restart, a second replica or a kill between
  "ticket created" and "status written" finds the ticket instead of opening another.
* **The freeze is the API server's job.** ``freeze_admission_policy()`` is a ValidatingAdmissionPolicy
  whose parameters are the SLOs themselves (``paramKind``): it reads ``status.policy.frozen`` of every SLO
  in the workload's namespace. The freeze therefore holds while the operator is down (the status stays),
  and is lifted by the operator writing ``frozen: false`` once the budget recovered past the hysteresis.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from slo_operator import API_GROUP, API_VERSION, KIND
from slo_operator.model import SLO, THIRTY_DAYS, WINDOW_FLOOR, ResolvedAlert, burn_rate_threshold
from slo_operator.policy_api import ErrorBudgetPolicy, LabelSelector, PolicyStep
from slo_operator.routing import RoutingOptions

SERVICE_LABEL = f"{API_GROUP}/service"
OVERRIDE_ANNOTATION = f"{API_GROUP}/freeze-override"
FREEZE_POLICY_NAME = "slo-deploy-freeze"
TICKET_LABEL_PREFIX = "slo-budget-"


# ---- which policy --------------------------------------------------------------------------------------


def selector_matches(selector: LabelSelector | None, labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics; no selector matches nothing, ``{}`` matches everything."""
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in selector.match_labels.items()):
        return False
    for req in selector.match_expressions:
        present = req.key in labels
        if req.operator == "Exists" and not present:
            return False
        if req.operator == "DoesNotExist" and present:
            return False
        if req.operator == "In" and (not present or labels[req.key] not in req.values):
            return False
        if req.operator == "NotIn" and present and labels[req.key] in req.values:
            return False
    return True


def policy_for(
    labels: dict[str, str], policy_ref: str | None, policies: list[ErrorBudgetPolicy]
) -> tuple[ErrorBudgetPolicy | None, str | None]:
    """The policy governing an SLO and, when it cannot be decided, why (a condition message).

    ``spec.policyRef`` wins; otherwise exactly one selecting policy must match (two are ambiguous, and
    silently picking one would make the outcome depend on listing order).
    """
    if policy_ref:
        named = next((p for p in policies if p.name == policy_ref), None)
        if named is None:
            return None, f"spec.policyRef names ErrorBudgetPolicy {policy_ref!r}, which does not exist"
        return named, None
    matching = sorted(
        (p for p in policies if selector_matches(p.spec.selector, labels)), key=lambda p: p.name
    )
    if len(matching) > 1:
        names = ", ".join(p.name for p in matching)
        return None, f"selected by several ErrorBudgetPolicies ({names}); set spec.policyRef to choose one"
    return (matching[0], None) if matching else (None, None)


# ---- which step ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signals:
    """What the policy reacts to: percent of the budget consumed and severities of firing alerts."""

    consumed: float | None
    firing: frozenset[str] = frozenset()


def _reached(step: PolicyStep, signals: Signals) -> bool:
    if step.severity is not None and step.severity in signals.firing:
        return True
    return step.consumed is not None and signals.consumed is not None and signals.consumed >= step.consumed


def _kept(step: PolicyStep, signals: Signals, hysteresis: float) -> bool:
    if _reached(step, signals):
        return True
    return (
        step.consumed is not None
        and signals.consumed is not None
        and signals.consumed >= step.consumed - hysteresis
    )


def active_step(
    steps: list[PolicyStep], signals: Signals, current: str | None, hysteresis: float
) -> int | None:
    """Index of the active step: the last one reached now, or the current one (or a lower one) while
    the consumption stays within ``hysteresis`` of its threshold. None: no step."""
    reached = [i for i, s in enumerate(steps) if _reached(s, signals)]
    best = reached[-1] if reached else None
    names = [s.name for s in steps]
    if current in names:
        for i in range(names.index(current), -1, -1):
            if _kept(steps[i], signals, hysteresis):
                if best is None or i > best:
                    best = i
                break
    return best


# ---- tickets -----------------------------------------------------------------------------------------


def window_start(window_seconds: int, at: datetime) -> datetime:
    """Start of the SLO-window period holding ``at``, periods aligned to the Unix epoch."""
    seconds = int(at.timestamp())
    return datetime.fromtimestamp(seconds - seconds % window_seconds, UTC)


def ticket_identity(slo_uid: str, step: str, window: datetime) -> str:
    """The label every backend carries for one (SLO, step, window): short enough for GitHub (50 chars)
    and Jira (no spaces), derived only from stable facts so any replica computes the same one."""
    digest = hashlib.sha256(f"{slo_uid}/{step}/{window.strftime('%Y-%m-%dT%H:%M:%SZ')}".encode()).hexdigest()
    return TICKET_LABEL_PREFIX + digest[:16]


def timestamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True)
class TicketPlan:
    """The ticket the active step wants: identity, window, and whether an existing one gets a comment."""

    step: str
    window: str
    identity: str
    known: dict[str, Any] | None  # the ticket already in status, if any
    comment: bool  # the step was reached again while its ticket exists


@dataclass(frozen=True)
class Decision:
    """Everything the policy says about one SLO at one refresh (the I/O layer carries it out)."""

    policy: str
    step: str | None
    since: str | None
    actions: tuple[str, ...]
    frozen: bool
    entered: bool  # the active step changed to this one now
    left: str | None  # the step that was active before, when it changed
    ticket: TicketPlan | None
    notify: bool
    tickets: list[dict[str, Any]] = field(default_factory=list)  # carried over from status

    def status(
        self, message: str | None = None, tickets: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """``status.policy`` for this decision."""
        result: dict[str, Any] = {
            "name": self.policy,
            "step": self.step,
            "since": self.since,
            "actions": list(self.actions),
            "tickets": list(self.tickets if tickets is None else tickets),
            "frozen": self.frozen,
        }
        if message:
            result["message"] = message
        # No nulls: the stored status has no key where we have None, and equal dicts mean no write.
        return {k: v for k, v in result.items() if v is not None}


def decide(
    policy: ErrorBudgetPolicy,
    slo_uid: str,
    window_seconds: int,
    signals: Signals,
    previous: dict[str, Any] | None,
    now: datetime,
) -> Decision:
    """The step and actions for one SLO given its signals and its previous ``status.policy``.

    No data (``consumed`` None and nothing firing) keeps the previous step: a Prometheus outage must
    neither lift a freeze nor escalate.
    """
    previous = previous if previous and previous.get("name") == policy.name else {}
    current = previous.get("step")
    tickets = list(previous.get("tickets") or [])
    steps = policy.spec.steps
    if signals.consumed is None and not signals.firing:
        index = next((i for i, s in enumerate(steps) if s.name == current), None)
    else:
        index = active_step(steps, signals, current, policy.spec.hysteresis)
    step = steps[index] if index is not None else None
    name = step.name if step else None
    entered = name is not None and name != current
    since = previous.get("since") if not entered and name is not None else (timestamp(now) if name else None)
    ticket = None
    if step is not None and "ticket" in step.actions:
        start = window_start(window_seconds, parse_timestamp(since) or now)
        window = timestamp(start)
        known = next((t for t in tickets if t.get("step") == name and t.get("window") == window), None)
        ticket = TicketPlan(
            step=step.name,
            window=window,
            identity=ticket_identity(slo_uid, step.name, start),
            known=known,
            comment=entered and known is not None,
        )
    return Decision(
        policy=policy.name,
        step=name,
        since=since,
        actions=tuple(step.actions) if step else (),
        frozen=step is not None and "freeze" in step.actions,
        entered=entered,
        left=current if current != name else None,
        ticket=ticket,
        notify=entered and step is not None and "notify" in step.actions,
        tickets=tickets,
    )


# ---- the ticket tier of alerts --------------------------------------------------------------------------

TICKET_ALERT = "SLOTicketBurn"


def ticket_tier_alert(window: int) -> ResolvedAlert:
    """SRE Workbook ticket tier: 10% of the budget in 3d (burn rate 1 over 30d), windows 3d/6h, scaled to
    the SLO window like the default alerts (never below 5m, the long window at most the SLO window)."""
    scale = Decimal(window) / Decimal(THIRTY_DAYS)
    short = max(WINDOW_FLOOR, round(21600 * scale / 60) * 60)
    long = min(window, max(round(259200 * scale / 60) * 60, 2 * short))
    threshold = burn_rate_threshold(Decimal(10), THIRTY_DAYS, 259200)
    budget = threshold * Decimal(long) / Decimal(window) * 100
    return ResolvedAlert(TICKET_ALERT, "ticket", budget.normalize(), long, short, threshold)


def with_policy(
    slo: SLO, policy: ErrorBudgetPolicy | None, routing: RoutingOptions
) -> tuple[SLO, RoutingOptions]:
    """The SLO and its routing options as its policy shapes them: the ticket-tier alert added (unless the
    SLO already has an alert of that name) and `ticket` alerts routed to the webhook backend."""
    if policy is None or not policy.spec.ticket_alerts:
        return slo, routing
    if not any(alert.name == TICKET_ALERT for alert in slo.alerts):
        slo = replace(slo, alerts=(*slo.alerts, ticket_tier_alert(slo.window)))
    backend = policy.spec.ticket
    if backend is not None and backend.webhook is not None:
        routing = replace(routing, ticket_webhook=backend.webhook.url)
    return slo, routing


# ---- explain (GitOps review) -------------------------------------------------------------------------------


def explain(
    policy: ErrorBudgetPolicy, slo: dict[str, Any], consumed: float, firing: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """What the policy would do to ``slo`` (a parsed SLO document) at ``consumed`` percent, no cluster."""
    metadata = slo.get("metadata") or {}
    spec = slo.get("spec") or {}
    labels = metadata.get("labels") or {}
    ref = spec.get("policyRef")
    governs = ref == policy.name if ref else selector_matches(policy.spec.selector, labels)
    signals = Signals(consumed, firing)
    index = active_step(policy.spec.steps, signals, None, policy.spec.hysteresis) if governs else None
    step = policy.spec.steps[index] if index is not None else None
    result: dict[str, Any] = {
        "policy": policy.name,
        "slo": f"{metadata.get('namespace', 'default')}/{metadata.get('name')}",
        "selected": governs,
        "consumed": consumed,
        "firing": sorted(firing),
        "step": step.name if step else None,
        "actions": list(step.actions) if step else [],
        "effects": [],
    }
    if step is None:
        return result
    effects: list[str] = []
    service = spec.get("service", "?")
    for action in step.actions:
        if action == "ticket" and policy.spec.ticket is not None:
            effects.append(
                f"ticket: open one {policy.spec.ticket.kind} ticket for this SLO and step per SLO window "
                f"({spec.get('window', '30d')}), comment on it when the step is reached again"
            )
        elif action == "freeze":
            effects.append(
                f"freeze: pod-template changes of Deployments, StatefulSets and DaemonSets labelled "
                f"{SERVICE_LABEL}={service} in namespace {metadata.get('namespace', 'default')} are refused "
                f"(override: annotation {OVERRIDE_ANNOTATION}: <reason>)"
            )
        elif action == "notify":
            effects.append("notify: an Event on the SLO and a message to its Slack receiver")
    if step.consumed is not None:
        effects.append(
            f"the step is left when consumption falls below {step.consumed - policy.spec.hysteresis:g}% "
            f"(hysteresis {policy.spec.hysteresis:g})"
        )
    result["effects"] = effects
    return result


# ---- the freeze, enforced by the API server ------------------------------------------------------------

_LABELS = {"app.kubernetes.io/name": "slo-operator", "app.kubernetes.io/part-of": "slo-operator"}

# CEL: is this SLO (params) freezing this workload (object)? Every SLO of the namespace is a parameter.
_FROZEN = (
    "has(params.status) && has(params.status.policy) && has(params.status.policy.frozen) "
    "&& params.status.policy.frozen == true "
    f"&& object.metadata.labels['{SERVICE_LABEL}'] == params.spec.service"
)


def freeze_admission_policy() -> dict[str, Any]:
    """The ValidatingAdmissionPolicy refusing pod-template changes of frozen services' workloads.

    Scaling (the ``/scale`` subresource, or ``replicas`` alone), labels and annotations pass; only
    ``spec.template`` is compared. An override annotation with a non-empty reason lets the change through.
    """
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": FREEZE_POLICY_NAME, "labels": dict(_LABELS)},
        "spec": {
            "failurePolicy": "Fail",
            "paramKind": {"apiVersion": f"{API_GROUP}/{API_VERSION}", "kind": KIND},
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["apps"],
                        "apiVersions": ["v1"],
                        "operations": ["UPDATE"],
                        "resources": ["deployments", "statefulsets", "daemonsets"],
                    }
                ],
                "objectSelector": {"matchExpressions": [{"key": SERVICE_LABEL, "operator": "Exists"}]},
            },
            "variables": [
                {"name": "frozen", "expression": _FROZEN},
                {
                    "name": "overridden",
                    "expression": "has(object.metadata.annotations) "
                    f"&& '{OVERRIDE_ANNOTATION}' in object.metadata.annotations "
                    f"&& object.metadata.annotations['{OVERRIDE_ANNOTATION}'].trim() != ''",
                },
            ],
            "validations": [
                {
                    "expression": "!variables.frozen || variables.overridden "
                    "|| object.spec.template == oldObject.spec.template",
                    "messageExpression": "'deploy freeze: SLO ' + params.metadata.name + ' (service ' "
                    "+ params.spec.service + ') is at step ' + params.status.policy.step "
                    "+ ' of ErrorBudgetPolicy ' + params.status.policy.name + '; pod-template changes are "
                    "refused until its error budget recovers. Emergency override: annotate the workload "
                    f"with {OVERRIDE_ANNOTATION}=<reason> in the same change'",
                    "reason": "Forbidden",
                }
            ],
        },
    }


def freeze_admission_binding() -> dict[str, Any]:
    """Binds the freeze to every SLO of the workload's own namespace (``paramRef`` without namespace)."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": FREEZE_POLICY_NAME, "labels": dict(_LABELS)},
        "spec": {
            "policyName": FREEZE_POLICY_NAME,
            "validationActions": ["Deny"],
            "paramRef": {"selector": {}, "parameterNotFoundAction": "Allow"},
        },
    }


def freeze_manifests_yaml() -> str:
    """Both objects as YAML (``manifests/policy/deploy-freeze.yaml``, copied into the chart)."""
    import yaml

    header = (
        "# Generated by `make crds` from slo_operator.policy. Do not edit by hand.\n"
        "# Deploy freeze of error-budget policies: the API server refuses pod-template changes of\n"
        "# workloads"
        f" labelled {SERVICE_LABEL} while an SLO of their namespace has status.policy.frozen: true.\n"
    )
    docs = [freeze_admission_policy(), freeze_admission_binding()]
    return header + "---\n".join(yaml.safe_dump(d, sort_keys=False, width=100) for d in docs)
