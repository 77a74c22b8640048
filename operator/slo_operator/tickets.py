"""Ticket backends of error-budget policies: Jira (REST v2), GitHub Issues (REST) and a generic webhook.

Each backend can *find* a ticket by its identity label (see ``policy.ticket_identity``), *create* one
carrying that label, and *comment* on one. The operator always finds before it creates, which is what
makes tickets idempotent across restarts, replicas and a kill between creation and the status write:
the backend itself remembers, not the operator. The generic webhook cannot be searched; it receives the
identity as ``id`` and must deduplicate on it (the operator records the ticket once the POST succeeded).

Credentials are read from Secrets by the caller and passed in; they are never logged or put in status.
Transient failures (connection errors, timeouts, 429 and 5xx) are retried a few times within one call;
what still fails raises ``TicketError``, which the operator shows in the SLO's status and retries on the
next refresh.
"""

from __future__ import annotations

import base64
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

log = logging.getLogger(__name__)
RETRIABLE = {429, 500, 502, 503, 504}


class TicketError(RuntimeError):
    """A backend call that failed (after retries for transient errors)."""


@dataclass(frozen=True)
class Ticket:
    backend: str
    key: str
    url: str | None


@dataclass(frozen=True)
class TicketContent:
    title: str
    body: str
    labels: tuple[str, ...]  # the identity label first


class Backend(Protocol):
    name: str

    def find(self, identity: str) -> Ticket | None: ...

    def create(self, identity: str, content: TicketContent) -> Ticket: ...

    def comment(self, ticket: Ticket, text: str) -> None: ...


class _Http:
    """An httpx client with the retry policy every backend shares."""

    def __init__(
        self, base_url: str, headers: dict[str, str], timeout: float, attempts: int, backoff: float
    ) -> None:
        self._client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)
        self.attempts = attempts
        self.backoff = backoff
        self.retries = 0

    def close(self) -> None:
        self._client.close()

    def call(self, method: str, path: str, what: str, *, retry: bool = True, **kwargs: Any) -> Any:
        """One request; transient failures retried unless ``retry`` is False (a creation whose answer was
        lost may have happened: the caller searches again before creating again)."""
        delay = self.backoff
        problem = ""
        attempts = self.attempts if retry else 1
        for attempt in range(1, attempts + 1):
            try:
                response = self._client.request(method, path, **kwargs)
            except httpx.TransportError as exc:  # timeouts included
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                if response.status_code < 400:
                    return response.json() if response.content else {}
                problem = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code not in RETRIABLE:
                    raise TicketError(f"{what} failed: {problem}")
            if attempt < attempts:
                self.retries += 1
                log.info("%s: %s; retrying in %.1fs", what, problem, delay)
                time.sleep(delay)
                delay *= 2
        raise TicketError(f"{what} failed after {attempts} attempt{'s' if attempts > 1 else ''}: {problem}")


class GitHubIssues:
    """GitHub Issues: ``GET /repos/{owner}/{repo}/issues?labels=ID&state=all`` (a consistent listing,
    unlike the search API's delayed index) and ``POST /repos/{owner}/{repo}/issues``."""

    name = "github"

    def __init__(
        self,
        api_url: str,
        owner: str,
        repo: str,
        token: str,
        *,
        timeout: float = 5,
        attempts: int = 3,
        backoff: float = 0.5,
    ) -> None:
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "slo-operator",
        }
        self.http = _Http(api_url, headers, timeout, attempts, backoff)
        self.path = f"/repos/{owner}/{repo}/issues"

    def find(self, identity: str) -> Ticket | None:
        issues = self.http.call(
            "GET",
            self.path,
            "GitHub issue search",
            params={"labels": identity, "state": "all", "per_page": 5},
        )
        for issue in issues:
            if "pull_request" not in issue:
                return Ticket(self.name, str(issue["number"]), issue.get("html_url"))
        return None

    def create(self, identity: str, content: TicketContent) -> Ticket:
        issue = self.http.call(
            "POST",
            self.path,
            "GitHub issue creation",
            retry=False,
            json={"title": content.title, "body": content.body, "labels": list(content.labels)},
        )
        return Ticket(self.name, str(issue["number"]), issue.get("html_url"))

    def comment(self, ticket: Ticket, text: str) -> None:
        self.http.call("POST", f"{self.path}/{ticket.key}/comments", "GitHub comment", json={"body": text})


class Jira:
    """Jira REST API v2: JQL search on the identity label, ``POST /rest/api/2/issue``, comments."""

    name = "jira"

    def __init__(
        self,
        url: str,
        project: str,
        issue_type: str,
        token: str,
        user: str | None = None,
        *,
        timeout: float = 5,
        attempts: int = 3,
        backoff: float = 0.5,
    ) -> None:
        # Jira Cloud: e-mail + API token (basic); Jira Data Center: personal access token (bearer).
        basic = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
        auth = basic if user else f"Bearer {token}"
        headers = {"Authorization": auth, "Accept": "application/json", "User-Agent": "slo-operator"}
        self.base = url.rstrip("/")
        self.http = _Http(url, headers, timeout, attempts, backoff)
        self.project, self.issue_type = project, issue_type

    def find(self, identity: str) -> Ticket | None:
        found = self.http.call(
            "GET",
            "/rest/api/2/search",
            "Jira search",
            params={"jql": f'labels = "{identity}"', "fields": "summary", "maxResults": 1},
        )
        issues = found.get("issues") or []
        if not issues:
            return None
        key = str(issues[0]["key"])
        return Ticket(self.name, key, f"{self.base}/browse/{key}")

    def create(self, identity: str, content: TicketContent) -> Ticket:
        fields = {
            "project": {"key": self.project},
            "issuetype": {"name": self.issue_type},
            "summary": content.title,
            "description": content.body,
            "labels": list(content.labels),
        }
        created = self.http.call(
            "POST", "/rest/api/2/issue", "Jira issue creation", retry=False, json={"fields": fields}
        )
        key = str(created["key"])
        return Ticket(self.name, key, f"{self.base}/browse/{key}")

    def comment(self, ticket: Ticket, text: str) -> None:
        self.http.call("POST", f"/rest/api/2/issue/{ticket.key}/comment", "Jira comment", json={"body": text})


class Webhook:
    """A generic JSON webhook: ``{"event": "ticket"|"comment", "id": IDENTITY, ...}``. The receiver
    deduplicates on ``id``; its JSON answer may give ``key`` and ``url``."""

    name = "webhook"

    def __init__(self, url: str, *, timeout: float = 5, attempts: int = 3, backoff: float = 0.5) -> None:
        self.url = url  # posted to exactly as given (a base URL would gain a trailing slash)
        self.http = _Http("", {"User-Agent": "slo-operator"}, timeout, attempts, backoff)

    def find(self, identity: str) -> Ticket | None:
        return None

    def create(self, identity: str, content: TicketContent) -> Ticket:
        answer = self.http.call(
            "POST",
            self.url,
            "webhook ticket",
            json={
                "event": "ticket",
                "id": identity,
                "title": content.title,
                "body": content.body,
                "labels": list(content.labels),
            },
        )
        answer = answer if isinstance(answer, dict) else {}
        return Ticket(self.name, str(answer.get("key") or identity), answer.get("url"))

    def comment(self, ticket: Ticket, text: str) -> None:
        self.http.call(
            "POST", self.url, "webhook comment", json={"event": "comment", "id": ticket.key, "body": text}
        )


def ensure_ticket(
    backend: Backend, identity: str, content: TicketContent, rounds: int = 3, backoff: float = 0.5
) -> tuple[Ticket, bool]:
    """The ticket with ``identity``: found if it exists, else created. Returns (ticket, created).

    A failed creation is never repeated blindly: the next round searches first, because the backend may
    have stored the ticket and only its answer was lost (timeout, connection reset, 5xx from a proxy).
    """
    problem: TicketError | None = None
    for round_ in range(rounds):
        found = backend.find(identity)
        if found is not None:
            return found, False
        try:
            return backend.create(identity, content), True
        except TicketError as exc:
            problem = exc
            if round_ < rounds - 1:
                time.sleep(backoff * 2**round_)
    assert problem is not None
    raise problem
