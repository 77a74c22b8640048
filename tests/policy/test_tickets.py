"""Tickets of error-budget policies, opened by the real operator from budgets a real Prometheus measured,
on local endpoints speaking GitHub's REST API (checked against its OpenAPI description) and Jira's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from policy_support import (
    RATE,
    REFRESH_DEADLINE,
    BudgetTraffic,
    RestartableOperator,
    endpoint_name,
    events,
    load_rules,
    measured,
    policy_document,
    secret,
    slo_document,
    wait_status,
)
from support.cluster import wait_for
from support.processes import Prometheus
from support.slo_objects import apply, condition, get
from ticket_servers import FakeGitHub, FakeJira

pytestmark = pytest.mark.cluster
TICKET_STEP = [{"name": "ticket", "consumed": 50, "actions": ["ticket"]}]


def github_policy(
    namespace: str, github: FakeGitHub, steps: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return policy_document(
        namespace,
        "budget",
        {
            "selector": {"matchLabels": {"tier": "api"}},
            "ticket": {
                "github": {
                    "apiURL": github.url,
                    "owner": github.owner,
                    "repo": github.repo,
                    "labels": ["slo"],
                    "token": {"name": "gh", "key": "token"},
                }
            },
            "steps": steps or TICKET_STEP,
        },
    )


def tickets(status: dict[str, Any]) -> list[dict[str, Any]]:
    return list((status.get("policy") or {}).get("tickets") or [])


def creations(server: FakeGitHub | FakeJira) -> int:
    return sum(
        1 for method, path, _ in server.requests if method == "POST" and path.endswith(("/issues", "/issue"))
    )


def refresh_cycles(operator: RestartableOperator) -> int:
    return operator.log().count("status refresh:")


def start_slo(
    namespace: str,
    name: str,
    percent: float,
    traffic: BudgetTraffic,
    prometheus: Prometheus,
    kubeconfig: Path,
    labels: dict[str, str] | None = None,
) -> str:
    """An SLO over a fresh endpoint, measured, then ``percent`` of its budget spent."""
    endpoint = endpoint_name()
    traffic.start(endpoint)
    apply(
        kubeconfig,
        slo_document(namespace, name, endpoint, name, labels if labels is not None else {"tier": "api"}),
    )
    load_rules(prometheus, namespace, name, kubeconfig)
    measured(namespace, name, kubeconfig)
    traffic.spend(endpoint, percent)
    return endpoint


def test_github_ticket_is_opened_once_across_restarts_and_a_kill_mid_creation(
    kubeconfig: Path,
    operator: RestartableOperator,
    prometheus: Prometheus,
    budget_traffic: BudgetTraffic,
    github: FakeGitHub,
    namespace: str,
) -> None:
    apply(kubeconfig, secret(namespace, "gh", {"token": github.token}), github_policy(namespace, github))
    start_slo(namespace, "api", 60, budget_traffic, prometheus, kubeconfig)
    status = wait_status(namespace, "api", kubeconfig, tickets, "a GitHub ticket in the SLO's status")
    (ticket,) = tickets(status)
    assert ticket["backend"] == "github" and ticket["key"] == "1" and ticket["step"] == "ticket"
    assert ticket["url"].endswith("/issues/1")
    (issue,) = github.issues
    names = {label["name"] for label in issue["labels"]}
    assert "slo" in names and any(n.startswith("slo-budget-") for n in names)
    assert f"{namespace}/api" in issue["title"]
    assert condition({"status": status}, "PolicyReady")["status"] == "True"  # type: ignore[index]
    assert events(namespace, kubeconfig, "TicketOpened")

    # Restarts: the ticket is in status and on GitHub; nothing new is created.
    for _ in range(2):
        operator.stop()
        operator.start()
        before = refresh_cycles(operator)
        wait_for(lambda b=before: refresh_cycles(operator) >= b + 3, REFRESH_DEADLINE, message="3 refreshes")
    assert len(github.issues) == 1 and creations(github) == 1

    # Kill mid-creation: GitHub stores the issue, the answer never reaches the operator.
    github.hold_creation.set()
    start_slo(namespace, "api2", 60, budget_traffic, prometheus, kubeconfig)
    wait_for(lambda: creations(github) == 2, REFRESH_DEADLINE, interval=0.05, message="the second creation")
    operator.stop(kill=True)
    github.hold_creation.clear()
    github.released.set()
    assert len(github.issues) == 2
    operator.start()
    status = wait_status(namespace, "api2", kubeconfig, tickets, "the second SLO's ticket found again")
    assert tickets(status)[0]["key"] == "2"
    before = refresh_cycles(operator)
    wait_for(lambda: refresh_cycles(operator) >= before + 3, REFRESH_DEADLINE, message="3 refreshes")
    assert len(github.issues) == 2 and creations(github) == 2
    assert [t["key"] for t in tickets(wait_status(namespace, "api", kubeconfig, tickets, "first"))] == ["1"]
    assert github.problems == []  # every request and answer matched GitHub's OpenAPI description
    policy = get("errorbudgetpolicy", "budget", namespace, kubeconfig)
    assert policy is not None
    assert {e["name"]: e["step"] for e in policy["status"]["slos"]} == {"api": "ticket", "api2": "ticket"}


def test_jira_backend_errors_are_retried_and_shown_then_a_reached_again_step_comments(
    kubeconfig: Path,
    operator: RestartableOperator,
    prometheus: Prometheus,
    budget_traffic: BudgetTraffic,
    jira: FakeJira,
    namespace: str,
) -> None:
    jira.hang_next = 3  # one search, retried: three timeouts
    jira.fail_next = 10_000  # then 503s
    apply(
        kubeconfig,
        secret(namespace, "jira", {"user": "bot@example.com", "token": "jira-token"}),
        policy_document(
            namespace,
            "budget",
            {
                "selector": {"matchLabels": {"tier": "api"}},
                "ticket": {
                    "jira": {
                        "url": jira.url,
                        "project": "OPS",
                        "issueType": "Bug",
                        "labels": ["slo"],
                        "user": {"name": "jira", "key": "user"},
                        "token": {"name": "jira", "key": "token"},
                    }
                },
                "steps": TICKET_STEP,
            },
        ),
    )
    endpoint = start_slo(namespace, "api", 60, budget_traffic, prometheus, kubeconfig)

    def failing_with(text: str) -> Any:
        return lambda s: (
            text in ((s.get("policy") or {}).get("message") or "")
            and (condition({"status": s}, "PolicyReady") or {}).get("reason") == "TicketBackendError"
        )

    wait_status(
        namespace, "api", kubeconfig, failing_with("Timeout"), "a timeout in status", 3 * REFRESH_DEADLINE
    )
    wait_status(namespace, "api", kubeconfig, failing_with("503"), "HTTP 503 in status")
    assert events(namespace, kubeconfig, "TicketBackendError")
    assert jira.issues == []
    jira.fail_next = 0
    status = wait_status(namespace, "api", kubeconfig, tickets, "a Jira ticket once the backend recovers")
    assert tickets(status)[0]["key"] == "OPS-1" and tickets(status)[0]["url"].endswith("/browse/OPS-1")
    assert condition({"status": status}, "PolicyReady")["status"] == "True"  # type: ignore[index]
    (issue,) = jira.issues
    assert issue["fields"]["issuetype"] == {"name": "Bug"} and "slo" in issue["fields"]["labels"]

    # Recover (below 50 - 5), then spend again: the same ticket gets a comment, no new ticket.
    budget_traffic.set_rate(endpoint, 100 * RATE)  # the failures so far weigh a hundred times less
    wait_status(
        namespace,
        "api",
        kubeconfig,
        lambda s: (s.get("policy") or {}).get("step") is None and s.get("policy"),
        "the step left after recovery",
        3 * REFRESH_DEADLINE,
    )
    budget_traffic.spend(endpoint, 100)
    wait_status(
        namespace,
        "api",
        kubeconfig,
        lambda s: (s.get("policy") or {}).get("step") == "ticket",
        "the step reached again",
        3 * REFRESH_DEADLINE,
    )
    wait_for(lambda: jira.comments, REFRESH_DEADLINE, message="a comment on the ticket")
    assert [key for key, _ in jira.comments] == ["OPS-1"]
    assert len(jira.issues) == 1 and creations(jira) == 1
    assert jira.problems == []


def test_missing_secret_is_a_condition_and_an_event_and_nothing_is_half_done(
    kubeconfig: Path,
    operator: RestartableOperator,
    prometheus: Prometheus,
    budget_traffic: BudgetTraffic,
    github: FakeGitHub,
    namespace: str,
) -> None:
    apply(kubeconfig, github_policy(namespace, github))
    start_slo(namespace, "api", 60, budget_traffic, prometheus, kubeconfig)
    status = wait_status(
        namespace,
        "api",
        kubeconfig,
        lambda s: (condition({"status": s}, "PolicyReady") or {}).get("reason") == "SecretNotFound",
        "PolicyReady=False SecretNotFound",
    )
    assert "gh/token" in condition({"status": status}, "PolicyReady")["message"]  # type: ignore[index]
    assert status["policy"]["step"] == "ticket" and status["policy"]["tickets"] == []
    assert events(namespace, kubeconfig, "SecretNotFound")
    assert github.requests == []  # no search, no creation without credentials
    apply(kubeconfig, secret(namespace, "gh", {"token": github.token}))
    wait_status(namespace, "api", kubeconfig, tickets, "the ticket once the Secret exists")
    assert len(github.issues) == 1 and github.problems == []


def test_a_policy_selecting_nothing_does_nothing(
    kubeconfig: Path,
    operator: RestartableOperator,
    prometheus: Prometheus,
    budget_traffic: BudgetTraffic,
    github: FakeGitHub,
    namespace: str,
) -> None:
    apply(
        kubeconfig,
        secret(namespace, "gh", {"token": github.token}),
        github_policy(
            namespace, github, [{"name": "freeze", "consumed": 10, "actions": ["freeze", "ticket"]}]
        ),
    )
    start_slo(namespace, "api", 60, budget_traffic, prometheus, kubeconfig, labels={"tier": "batch"})
    wait_status(
        namespace,
        "api",
        kubeconfig,
        lambda s: ((s.get("errorBudget") or {}).get("consumed") or 0) > 10,
        "budget consumed above 10%",
    )
    wait_for(
        lambda: ((get("errorbudgetpolicy", "budget", namespace, kubeconfig) or {}).get("status") or {}).get(
            "observedGeneration"
        ),
        REFRESH_DEADLINE,
        message="the policy evaluated",
    )
    before = refresh_cycles(operator)
    wait_for(lambda: refresh_cycles(operator) >= before + 3, REFRESH_DEADLINE, message="3 refreshes")
    status = wait_status(namespace, "api", kubeconfig, lambda s: True, "status")
    assert "policy" not in status and condition({"status": status}, "PolicyReady") is None
    policy = get("errorbudgetpolicy", "budget", namespace, kubeconfig)
    assert policy is not None and policy["status"]["slos"] == [] and policy["status"]["frozen"] == 0
    assert github.requests == []
    assert not events(namespace, kubeconfig, "PolicyStepReached")
