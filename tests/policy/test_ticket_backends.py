"""The ticket backends against local endpoints speaking GitHub's REST API (every request and answer
checked against GitHub's OpenAPI description) and Jira's REST v2: find before create, lost answers,
retries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from slo_operator.tickets import GitHubIssues, Jira, TicketContent, TicketError, Webhook, ensure_ticket
from ticket_servers import FakeGitHub, FakeJira, TicketServer

CONTENT = TicketContent("SLO ns/api: step ticket reached", "budget 60% consumed", ("slo-budget-0123", "slo"))


def github_client(server: FakeGitHub, timeout: float = 5) -> GitHubIssues:
    return GitHubIssues(server.url, server.owner, server.repo, server.token, timeout=timeout, backoff=0.05)


def test_github_find_before_create_and_comment(github: FakeGitHub) -> None:
    client = github_client(github)
    first, created = ensure_ticket(client, "slo-budget-0123", CONTENT)
    again, created_again = ensure_ticket(client, "slo-budget-0123", CONTENT)
    assert created and not created_again and first == again
    assert (first.key, first.url) == ("1", "https://github.example/acme/models/issues/1")
    other, _ = ensure_ticket(client, "slo-budget-4567", TicketContent("t", "b", ("slo-budget-4567",)))
    assert other.key == "2"
    client.comment(first, "reached again")
    assert github.comments == [("1", "reached again")]
    assert github.problems == []


def test_github_requests_are_checked_against_the_openapi_description(github_spec: Path) -> None:
    from ticket_servers import OpenAPI, load_spec

    api = OpenAPI(load_spec(github_spec))
    assert api.check_request("POST", "/repos/a/b/issues", {}, {"title": "t", "labels": ["x"]}) == []
    assert api.check_request("POST", "/repos/a/b/issues", {}, {"labels": ["x"]})  # title is required
    assert api.check_request("GET", "/repos/a/b/issues", {"labelz": ["x"]}, None)  # undeclared parameter
    with pytest.raises(AssertionError):
        api.operation("POST", "/repos/a/b/tickets")


def test_a_lost_creation_answer_is_found_not_created_twice(github: FakeGitHub) -> None:
    github.hold_creation.set()  # the issue is stored, its answer never arrives in time
    ticket, created = ensure_ticket(
        github_client(github, timeout=1), "slo-budget-0123", CONTENT, backoff=0.05
    )
    github.released.set()
    assert not created and ticket.key == "1" and len(github.issues) == 1


def test_server_errors_are_retried_then_reported(github: FakeGitHub, jira: FakeJira) -> None:
    github.fail_next = 2
    client = github_client(github)
    ticket, _ = ensure_ticket(client, "slo-budget-0123", CONTENT)
    assert ticket.key == "1" and client.http.retries == 2
    jira.fail_next = 100
    with pytest.raises(TicketError, match="after 3 attempts: HTTP 503"):
        Jira(jira.url, "OPS", "Task", "jira-token", "bot@example.com", backoff=0.05).find("slo-budget-0123")


def test_jira_search_create_comment(jira: FakeJira) -> None:
    client = Jira(jira.url, "OPS", "Task", "jira-token", "bot@example.com", backoff=0.05)
    ticket, created = ensure_ticket(client, "slo-budget-0123", CONTENT)
    assert created and ticket.key == "OPS-1" and ticket.url == f"{jira.url}/browse/OPS-1"
    assert ensure_ticket(client, "slo-budget-0123", CONTENT) == (ticket, False)
    client.comment(ticket, "again")
    assert jira.comments == [("OPS-1", "again")] and jira.problems == []
    fields = jira.issues[0]["fields"]
    assert fields["project"] == {"key": "OPS"} and fields["labels"] == ["slo-budget-0123", "slo"]
    wrong = Jira(jira.url, "OPS", "Task", "bad", "bot@example.com", backoff=0.05)
    with pytest.raises(TicketError, match="401"):
        wrong.find("x")


class FakeHook(TicketServer):
    def route(
        self, method: str, path: str, query: dict[str, list[str]], body: Any, headers: dict[str, str]
    ) -> tuple[int, Any]:
        return 200, {"key": "HOOK-1", "url": "https://tickets.example/HOOK-1"} if body[
            "event"
        ] == "ticket" else {}


def test_webhook_posts_a_stable_id() -> None:
    server = FakeHook()
    try:
        hook = Webhook(server.url + "/hook", backoff=0.05)
        ticket, created = ensure_ticket(hook, "slo-budget-0123", CONTENT)
        hook.comment(ticket, "again")
    finally:
        server.stop()
    assert created and (ticket.key, ticket.url) == ("HOOK-1", "https://tickets.example/HOOK-1")
    (_, path, body), (_, _, comment) = server.requests
    assert path == "/hook" and body["id"] == "slo-budget-0123" and body["event"] == "ticket"
    assert comment["event"] == "comment" and comment["body"] == "again"
