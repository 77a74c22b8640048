"""Carrying out error-budget policies during the status refresh: the I/O around ``policy.decide``.

Each refresh cycle lists the ErrorBudgetPolicies once, and for every SLO whose numbers were just read:
finds its policy, decides the step (pure), opens or comments on the step's ticket (find by identity
label first, then create), posts Events and the Slack notice on transitions, and returns
``status.policy`` to be written with the rest of the status. The freeze needs no call at all: writing
``status.policy.frozen`` is what the API server's admission policy reads.

Order matters for idempotency: the ticket is found-or-created *before* the status is written, so a
crash in between leaves a ticket the next cycle finds by its label, never a status pointing nowhere nor
a second ticket.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from pydantic import ValidationError

from slo_operator.kube import KubeClient, KubeError
from slo_operator.model import SLO
from slo_operator.policy import OVERRIDE_ANNOTATION, SERVICE_LABEL, Decision, Signals, decide, policy_for
from slo_operator.policy_api import ErrorBudgetPolicy, TicketBackend
from slo_operator.routing import RoutingOptions, receivers
from slo_operator.tickets import (
    Backend,
    GitHubIssues,
    Jira,
    Ticket,
    TicketContent,
    TicketError,
    Webhook,
    ensure_ticket,
)

log = logging.getLogger(__name__)
POLICY_READY = "PolicyReady"


@dataclass
class Policies:
    """The policies of one refresh cycle: valid ones by namespace, and the problems of invalid ones."""

    by_namespace: dict[str, list[ErrorBudgetPolicy]] = field(default_factory=dict)
    bodies: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    invalid: dict[tuple[str, str], str] = field(default_factory=dict)
    # (namespace, policy) -> governed SLOs' entries for the policy's own status
    governed: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)


def load_policies(kube: KubeClient, namespaces: tuple[str, ...]) -> Policies:
    return parse_policies(kube.list_policies(namespaces))


def parse_policies(bodies: list[dict[str, Any]]) -> Policies:
    """Policies as stored, validated with the models; invalid ones are kept aside with their problems."""
    found = Policies()
    for body in bodies:
        meta = body["metadata"]
        key = (meta["namespace"], meta["name"])
        found.bodies[key] = body
        found.governed[key] = []
        try:
            policy = ErrorBudgetPolicy.model_validate(
                {k: body.get(k) for k in ("apiVersion", "kind", "metadata", "spec")}
            )
        except ValidationError as exc:
            found.invalid[key] = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            continue
        found.by_namespace.setdefault(meta["namespace"], []).append(policy)
    return found


@dataclass
class PolicyOutcome:
    """What applying the policy to one SLO produced."""

    status: dict[str, Any] | None  # status.policy (None: no policy governs the SLO)
    condition: tuple[str, str, str] | None  # PolicyReady (status, reason, message); None: leave as is
    events: list[tuple[str, str, str]] = field(default_factory=list)


BackendFactory = Callable[[TicketBackend, Callable[[str, str], str | None]], Backend]


class MissingSecret(RuntimeError):
    pass


def make_backend(config: TicketBackend, secret: Callable[[str, str], str | None]) -> Backend:
    """A backend client with its credentials read from Secrets (``secret(name, key)``)."""

    def need(name: str, key: str, what: str) -> str:
        value = secret(name, key)
        if value is None:
            raise MissingSecret(f"{what}: Secret key {name}/{key} not found")
        return value.strip()

    if config.jira is not None:
        jira = config.jira
        user = need(jira.user.name, jira.user.key, "spec.ticket.jira.user") if jira.user else None
        token = need(jira.token.name, jira.token.key, "spec.ticket.jira.token")
        return Jira(jira.url, jira.project, jira.issue_type, token, user)
    if config.github is not None:
        gh = config.github
        return GitHubIssues(
            gh.api_url, gh.owner, gh.repo, need(gh.token.name, gh.token.key, "spec.ticket.github.token")
        )
    assert config.webhook is not None
    return Webhook(need(config.webhook.url.name, config.webhook.url.key, "spec.ticket.webhook.url"))


def signals_of(status: dict[str, Any], reachable: bool) -> Signals:
    """Consumed budget and firing severities from the freshly computed status."""
    if not reachable:
        return Signals(None)
    budget = status.get("errorBudget") or {}
    firing = frozenset(str(b.get("severity")) for b in status.get("burnRates") or [] if b.get("firing"))
    return Signals(budget.get("consumed"), firing)


def _extra_labels(config: TicketBackend) -> list[str]:
    if config.jira is not None:
        return list(config.jira.labels)
    if config.github is not None:
        return list(config.github.labels)
    return []


def apply_policy(
    slo: SLO,
    body: dict[str, Any],
    new_status: dict[str, Any],
    policies: Policies,
    kube: KubeClient,
    routing: RoutingOptions,
    reachable: bool,
    now: datetime,
    backend_factory: BackendFactory = make_backend,
) -> PolicyOutcome:
    """Decide and carry out the policy of one SLO; never raises for backend or Secret trouble."""
    current = (body.get("status") or {}).get("policy")
    labels = body["metadata"].get("labels") or {}
    spec_ref = (body.get("spec") or {}).get("policyRef")
    namespaced = policies.by_namespace.get(slo.namespace, [])
    policy, problem = policy_for(labels, spec_ref, namespaced)
    if policy is None:
        if spec_ref and (slo.namespace, spec_ref) in policies.invalid:
            problem = (
                f"ErrorBudgetPolicy {spec_ref} is invalid: {policies.invalid[(slo.namespace, spec_ref)]}"
            )
        if problem:
            # Unclear which policy applies: keep what was decided before (a freeze is not lifted by a typo).
            return PolicyOutcome(current, ("False", "PolicyConflict", problem))
        had = any(c.get("type") == POLICY_READY for c in (body.get("status") or {}).get("conditions") or [])
        return PolicyOutcome(
            None, ("True", "NoPolicy", "no ErrorBudgetPolicy governs this SLO") if had else None
        )
    signals = signals_of(new_status, reachable)
    decision = decide(policy, body["metadata"].get("uid") or "", slo.window, signals, current, now)
    events = _transition_events(slo, policy, decision, current, signals)
    tickets = list(decision.tickets)
    condition: tuple[str, str, str] = ("True", "ActionsDone", _summary(decision))
    message: str | None = None
    if decision.ticket is not None and policy.spec.ticket is not None:
        plan = decision.ticket
        if plan.known is None or plan.comment:
            try:
                backend = backend_factory(
                    policy.spec.ticket, lambda name, key: kube.get_secret_value(slo.namespace, name, key)
                )
                if plan.known is not None:
                    known = Ticket(
                        str(plan.known.get("backend")), str(plan.known.get("key")), plan.known.get("url")
                    )
                    backend.comment(known, _comment(slo, decision, signals, now))
                    events.append(
                        (
                            "Normal",
                            "TicketCommented",
                            f"{known.backend} ticket {known.key}: step {decision.step} reached again",
                        )
                    )
                else:
                    content = TicketContent(
                        title=f"SLO {slo.namespace}/{slo.name}: error-budget policy step {decision.step} "
                        "reached",
                        body=_ticket_body(slo, policy, decision, signals),
                        labels=(plan.identity, "slo-operator", *_extra_labels(policy.spec.ticket)),
                    )
                    ticket, created = ensure_ticket(backend, plan.identity, content)
                    found = not created
                    entry = {
                        "backend": ticket.backend,
                        "key": ticket.key,
                        "url": ticket.url,
                        "step": plan.step,
                        "window": plan.window,
                    }
                    tickets.append({k: v for k, v in entry.items() if v is not None})
                    verb = "found existing" if found else "opened"
                    events.append(
                        (
                            "Normal",
                            "TicketOpened" if not found else "TicketFound",
                            f"{verb} {ticket.backend} ticket {ticket.key} for step {plan.step}"
                            + (f": {ticket.url}" if ticket.url else ""),
                        )
                    )
            except MissingSecret as exc:
                message = f"ticket not opened: {exc}"
                condition = ("False", "SecretNotFound", message)
            except (TicketError, httpx.HTTPError, KubeError, KeyError, ValueError) as exc:
                message = f"ticket backend error, retried next refresh: {exc}"
                condition = ("False", "TicketBackendError", message)
    if decision.notify:
        events.append(("Warning", "ErrorBudgetPolicy", _notice(slo, decision, signals)))
        _slack(slo, routing, kube, _notice(slo, decision, signals))
    return PolicyOutcome(decision.status(message, tickets), condition, events)


def _summary(decision: Decision) -> str:
    if decision.step is None:
        return f"ErrorBudgetPolicy {decision.policy}: no step reached"
    return (
        f"ErrorBudgetPolicy {decision.policy}: step {decision.step} since {decision.since} "
        f"({', '.join(decision.actions)})"
    )


def _consumed(signals: Signals) -> str:
    return "unknown" if signals.consumed is None else f"{signals.consumed:g}%"


def _transition_events(
    slo: SLO, policy: ErrorBudgetPolicy, decision: Decision, current: dict[str, Any] | None, signals: Signals
) -> list[tuple[str, str, str]]:
    events: list[tuple[str, str, str]] = []
    was_frozen = bool((current or {}).get("frozen"))
    if decision.entered:
        events.append(
            (
                "Warning" if decision.frozen else "Normal",
                "PolicyStepReached",
                f"step {decision.step} of ErrorBudgetPolicy {policy.name} reached (budget consumed "
                f"{_consumed(signals)}; actions: {', '.join(decision.actions)})",
            )
        )
    elif decision.left and decision.step is None:
        events.append(
            (
                "Normal",
                "PolicyStepLeft",
                f"left step {decision.left} of ErrorBudgetPolicy {policy.name} (budget consumed "
                f"{_consumed(signals)})",
            )
        )
    if decision.frozen and not was_frozen:
        events.append(
            (
                "Warning",
                "DeployFreeze",
                f"deploys of workloads labelled {SERVICE_LABEL}={slo.service} frozen by step {decision.step} "
                "of ErrorBudgetPolicy "
                f"{policy.name}; override with annotation {OVERRIDE_ANNOTATION}=<reason>",
            )
        )
    if was_frozen and not decision.frozen:
        events.append(
            ("Normal", "DeployFreezeLifted", f"deploy freeze lifted: budget consumed {_consumed(signals)}")
        )
    return events


def _ticket_body(slo: SLO, policy: ErrorBudgetPolicy, decision: Decision, signals: Signals) -> str:
    return (
        f"The SLO {slo.namespace}/{slo.name} (service {slo.service}, objective "
        f"{float(slo.objective * 100):g}%) reached step {decision.step} of ErrorBudgetPolicy "
        f"{policy.name}.\n\n"
        f"Budget consumed: {_consumed(signals)}; firing alert severities: "
        f"{', '.join(sorted(signals.firing)) or 'none'}.\nActions: {', '.join(decision.actions)}.\n\n"
        "Per the error-budget policy, reliability work on this service takes priority until the budget "
        "recovers. This ticket is not closed automatically.\n\n"
        f"See: kubectl -n {slo.namespace} describe slo {slo.name}"
    )


def _comment(slo: SLO, decision: Decision, signals: Signals, now: datetime) -> str:
    return (
        f"Step {decision.step} reached again at {now.strftime('%Y-%m-%dT%H:%M:%SZ')}: budget consumed "
        f"{_consumed(signals)} (SLO {slo.namespace}/{slo.name})."
    )


def _notice(slo: SLO, decision: Decision, signals: Signals) -> str:
    return (
        f"SLO {slo.namespace}/{slo.name}: error-budget policy {decision.policy} step {decision.step} reached "
        f"(budget consumed {_consumed(signals)}; actions: {', '.join(decision.actions)})"
    )


def _slack(slo: SLO, routing: RoutingOptions, kube: KubeClient, text: str) -> None:
    """The notify action's message to the SLO's Slack receiver (best effort: the Event is the record)."""
    found = receivers(slo, routing)
    if found is None or found.slack is None:
        return
    try:
        url = kube.get_secret_value(slo.namespace, found.slack.secret.name, found.slack.secret.key)
        if not url:
            return
        payload: dict[str, Any] = {"text": text}
        if found.slack_channel:
            payload["channel"] = found.slack_channel
        httpx.post(url.strip(), json=payload, timeout=5).raise_for_status()
    except (httpx.HTTPError, KubeError, ValueError) as exc:
        log.warning("%s/%s: Slack notice not sent: %s", slo.namespace, slo.name, type(exc).__name__)


def policy_statuses(policies: Policies, now: datetime) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(policy body, new status) for every policy whose status changed."""
    from slo_operator.status import set_condition

    changes = []
    for key, body in policies.bodies.items():
        current = body.get("status") or {}
        generation = body["metadata"].get("generation")
        conditions = list(current.get("conditions") or [])
        if key in policies.invalid:
            conditions = set_condition(
                conditions, "Valid", "False", "InvalidSpec", policies.invalid[key], now, generation
            )
        else:
            conditions = set_condition(
                conditions, "Valid", "True", "SpecValid", "the spec is valid", now, generation
            )
        slos = sorted(policies.governed.get(key, []), key=lambda e: e["name"])
        status = {
            "observedGeneration": generation,
            "conditions": conditions,
            "slos": slos,
            "frozen": sum(1 for e in slos if e.get("frozen")),
        }
        if {k: current.get(k) for k in status} != status:
            changes.append((body, status))
    return changes
