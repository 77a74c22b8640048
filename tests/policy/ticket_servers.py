"""Local HTTP endpoints speaking GitHub's and Jira's REST formats, for the ticket tests.

Both keep the issues they were asked to create (with labels) and answer searches from them, so the
operator's find-before-create is exercised for real. Faults can be injected: the next N requests fail
with a status (503) or hang past the client's timeout, or a creation is *stored* and then its answer held
back until released (a kill mid-creation). Every GitHub request is checked against GitHub's published
OpenAPI description (npm @octokit/openapi): path and method exist, query parameters are declared, the
JSON body matches the operation's request schema; every answer matches the response schema.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

SPEC_CACHE: dict[str, Any] = {}


def load_spec(path: Path) -> dict[str, Any]:
    if str(path) not in SPEC_CACHE:
        SPEC_CACHE[str(path)] = json.loads(path.read_text())
    return SPEC_CACHE[str(path)]


class OpenAPI:
    """Just enough OpenAPI 3.0 to validate requests and answers of the operations used."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.templates = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path) for path in spec["paths"]
        ]

    def operation(self, method: str, path: str) -> dict[str, Any]:
        for pattern, template in self.templates:
            if pattern.match(path) and method.lower() in self.spec["paths"][template]:
                op: dict[str, Any] = self.spec["paths"][template][method.lower()]
                return op
        raise AssertionError(f"{method} {path}: no such operation in GitHub's OpenAPI description")

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.spec
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node

    def check(self, schema: dict[str, Any], value: Any, where: str) -> list[str]:
        """Problems of ``value`` against ``schema`` (type, required, properties, items, oneOf/anyOf, enum)."""
        schema = self.resolve(schema)
        if value is None:
            return [] if schema.get("nullable") or not schema else [f"{where}: null not allowed"]
        for key in ("oneOf", "anyOf"):
            if key in schema:
                if any(not self.check(option, value, where) for option in schema[key]):
                    return []
                return [f"{where}: matches none of {key}"]
        problems: list[str] = []
        kind = schema.get("type")
        types = {
            "string": str,
            "integer": int,
            "number": (int, float),
            "boolean": bool,
            "array": list,
            "object": dict,
        }
        if kind in types and (
            not isinstance(value, types[kind]) or (kind == "integer" and isinstance(value, bool))
        ):
            return [f"{where}: expected {kind}, got {type(value).__name__}"]
        if "enum" in schema and value not in schema["enum"]:
            problems.append(f"{where}: {value!r} not in {schema['enum']}")
        if kind == "object" or "properties" in schema:
            for name in schema.get("required", []):
                if name not in value:
                    problems.append(f"{where}: missing required {name!r}")
            props = schema.get("properties", {})
            for name, item in value.items():
                if name in props:
                    problems.extend(self.check(props[name], item, f"{where}.{name}"))
                elif schema.get("additionalProperties") is False:
                    problems.append(f"{where}: unexpected property {name!r}")
        if kind == "array" and "items" in schema:
            for i, item in enumerate(value):
                problems.extend(self.check(schema["items"], item, f"{where}[{i}]"))
        return problems

    def check_request(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> list[str]:
        op = self.operation(method, path)
        params = [self.resolve(p) for p in op.get("parameters", [])]
        declared = {p["name"] for p in params if p["in"] == "query"}
        problems = [f"query parameter {q!r} not declared" for q in query if q not in declared]
        if body is not None:
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            problems.extend(self.check(schema, body, "body"))
        return problems

    def check_response(self, method: str, path: str, status: int, body: Any) -> list[str]:
        op = self.operation(method, path)
        response = self.resolve(op["responses"][str(status)])
        schema = response["content"]["application/json"]["schema"]
        return self.check(schema, body, f"response {status}")


class _Handler(BaseHTTPRequestHandler):
    server: TicketServer

    def log_message(self, *args: Any) -> None:
        pass

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        url = urlsplit(self.path)
        status, answer = self.server.handle(method, url.path, parse_qs(url.query), body, dict(self.headers))
        data = json.dumps(answer).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")


class TicketServer(ThreadingHTTPServer):
    """Base: issues in memory, request log, fault injection."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, Any]] = []
        self.problems: list[str] = []
        self.issues: list[dict[str, Any]] = []
        self.comments: list[tuple[str, str]] = []
        self.fail_next = 0
        self.fail_status = 503
        self.hang_next = 0
        self.hold_creation = threading.Event()  # set: answers to creations are held back
        self.released = threading.Event()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.released.set()
        self.shutdown()
        self.server_close()

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], body: Any, headers: dict[str, str]
    ) -> tuple[int, Any]:
        with self.lock:
            self.requests.append((method, path, body))
            if self.hang_next > 0:
                self.hang_next -= 1
                hang = True
            else:
                hang = False
            if not hang and self.fail_next > 0:
                self.fail_next -= 1
                return self.fail_status, {"message": "injected failure"}
        if hang:
            self.released.wait(30)
            return 503, {"message": "hung"}
        return self.route(method, path, query, body, headers)

    def route(
        self, method: str, path: str, query: dict[str, list[str]], body: Any, headers: dict[str, str]
    ) -> tuple[int, Any]:
        raise NotImplementedError

    def created(self) -> None:
        """Called after an issue is stored: a held creation waits here (the client times out)."""
        if self.hold_creation.is_set():
            self.released.wait(30)


class FakeGitHub(TicketServer):
    def __init__(
        self, spec_path: Path, owner: str = "acme", repo: str = "models", token: str = "gh-token"
    ) -> None:
        self.api = OpenAPI(load_spec(spec_path))
        self.owner, self.repo, self.token = owner, repo, token
        super().__init__()

    def _issue(self, number: int, title: str, body: str, labels: list[str]) -> dict[str, Any]:
        base = f"https://github.example/{self.owner}/{self.repo}"
        api = f"{self.url}/repos/{self.owner}/{self.repo}/issues/{number}"
        user = {
            "login": "slo-bot",
            "id": 1,
            "node_id": "U_1",
            "avatar_url": "https://github.example/a.png",
            "gravatar_id": "",
            "url": f"{self.url}/users/slo-bot",
            "html_url": "https://github.example/slo-bot",
            "followers_url": "x",
            "following_url": "x",
            "gists_url": "x",
            "starred_url": "x",
            "subscriptions_url": "x",
            "organizations_url": "x",
            "repos_url": "x",
            "events_url": "x",
            "received_events_url": "x",
            "type": "Bot",
            "site_admin": False,
        }
        return {
            "id": 1000 + number,
            "node_id": f"I_{number}",
            "url": api,
            "repository_url": f"{self.url}/repos/x",
            "labels_url": f"{api}/labels{{/name}}",
            "comments_url": f"{api}/comments",
            "events_url": f"{api}/events",
            "html_url": f"{base}/issues/{number}",
            "number": number,
            "state": "open",
            "title": title,
            "body": body,
            "user": user,
            "labels": [
                {
                    "id": i,
                    "node_id": f"L_{i}",
                    "url": "x",
                    "name": name,
                    "description": None,
                    "color": "ededed",
                    "default": False,
                }
                for i, name in enumerate(labels)
            ],
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "active_lock_reason": None,
            "comments": 0,
            "closed_at": None,
            "created_at": "2026-12-01T12:00:00Z",
            "updated_at": "2026-12-01T12:00:00Z",
            "author_association": "NONE",
        }

    def route(
        self, method: str, path: str, query: dict[str, list[str]], body: Any, headers: dict[str, str]
    ) -> tuple[int, Any]:
        try:
            problems = self.api.check_request(method, path, query, body)
        except AssertionError as exc:
            problems = [str(exc)]
        if headers.get("Authorization") != f"Bearer {self.token}":
            problems.append("missing or wrong Authorization header")
        if problems:
            self.problems.extend(f"{method} {path}: {p}" for p in problems)
            return 422, {"message": "; ".join(problems)}
        issues_path = f"/repos/{self.owner}/{self.repo}/issues"
        if method == "GET" and path == issues_path:
            wanted = set((query.get("labels") or [""])[0].split(",")) - {""}
            with self.lock:
                found = [i for i in self.issues if wanted <= {label["name"] for label in i["labels"]}]
            return self._answer(method, path, 200, found)
        if method == "POST" and path == issues_path:
            with self.lock:
                issue = self._issue(
                    len(self.issues) + 1, body["title"], body.get("body", ""), body.get("labels", [])
                )
                self.issues.append(issue)
            self.created()
            return self._answer(method, path, 201, issue)
        match = re.fullmatch(rf"{issues_path}/(\d+)/comments", path)
        if method == "POST" and match:
            with self.lock:
                self.comments.append((match.group(1), body["body"]))
            return 201, {"id": len(self.comments), "body": body["body"]}
        return 404, {"message": "Not Found"}

    def _answer(self, method: str, path: str, status: int, body: Any) -> tuple[int, Any]:
        self.problems.extend(self.api.check_response(method, path, status, body))
        return status, body


class FakeJira(TicketServer):
    """Jira REST v2: POST /rest/api/2/issue, GET /rest/api/2/search?jql=labels = "X", comments."""

    def __init__(self, user: str = "bot@example.com", token: str = "jira-token") -> None:
        import base64

        self.auth = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
        super().__init__()

    def route(
        self, method: str, path: str, query: dict[str, list[str]], body: Any, headers: dict[str, str]
    ) -> tuple[int, Any]:
        if headers.get("Authorization") != self.auth:
            return 401, {"errorMessages": ["unauthorized"]}
        if method == "GET" and path == "/rest/api/2/search":
            jql = (query.get("jql") or [""])[0]
            match = re.fullmatch(r'labels = "([^"]+)"', jql)
            if not match:
                self.problems.append(f"unexpected JQL {jql!r}")
                return 400, {"errorMessages": ["bad jql"]}
            with self.lock:
                found = [i for i in self.issues if match.group(1) in i["fields"]["labels"]]
            return 200, {"startAt": 0, "maxResults": 1, "total": len(found), "issues": found[:1]}
        if method == "POST" and path == "/rest/api/2/issue":
            fields = (body or {}).get("fields") or {}
            missing = [f for f in ("project", "issuetype", "summary") if f not in fields]
            if missing or "key" not in fields.get("project", {}) or "name" not in fields.get("issuetype", {}):
                self.problems.append(f"issue creation without {missing or 'project.key/issuetype.name'}")
                return 400, {"errors": {"fields": "missing"}}
            if not all(isinstance(label, str) and " " not in label for label in fields.get("labels", [])):
                self.problems.append("labels must be strings without spaces")
                return 400, {"errors": {"labels": "invalid"}}
            with self.lock:
                key = f"{fields['project']['key']}-{len(self.issues) + 1}"
                issue = {"id": str(10000 + len(self.issues)), "key": key, "fields": fields}
                self.issues.append(issue)
            self.created()
            return 201, {"id": issue["id"], "key": key, "self": f"{self.url}/rest/api/2/issue/{issue['id']}"}
        match = re.fullmatch(r"/rest/api/2/issue/([A-Z][A-Z0-9_]*-\d+)/comment", path)
        if method == "POST" and match:
            with self.lock:
                self.comments.append((match.group(1), body["body"]))
            return 201, {"id": str(len(self.comments)), "body": body["body"]}
        return 404, {"errorMessages": ["not found"]}
