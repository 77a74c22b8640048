"""In-memory stand-ins for the two HTTP APIs a status refresh talks to, for pure tests of ``refresh_all``.

``ApiServer`` plays the part of the Kubernetes API a refresh uses: LIST of SLOs, merge patches of their
status subresource with optimistic concurrency (a stale ``metadata.resourceVersion`` answers 409, as the
real server does), Events (posted and listed), empty lists for everything else. It runs on loopback in a
thread, so the operator's own ``KubeClient`` talks to it over HTTP unchanged.

``StaticPrometheus`` holds fixed recorded figures per SLO (or is down). ``prometheus_from`` answers
Prometheus' instant-query API by evaluating each query with the simulator (``slo_operator.evaluator``,
proven against promtool in tests/rules) over rule groups it has run on known input series, so the numbers
a refresh reads are what Prometheus would hold for that traffic.
"""

from __future__ import annotations

import copy
import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from slo_operator.coverage import indicator_hash
from slo_operator.durations import format_duration
from slo_operator.evaluator import Result
from slo_operator.kube import Credentials, KubeClient
from slo_operator.model import SLO
from slo_operator.prometheus import QUERIES, PrometheusClient
from slo_operator.promql import (
    BUDGET_REMAINING,
    RECORDING_SINCE,
    SLI,
    TIME_TO_EXHAUSTION,
    TOTAL_EVENTS,
)
from support.prometheus_api import request_params

SLO_PATH = "/apis/slo.mlops.dev/v1alpha1"


class ApiServer:
    """The SLOs of a cluster and what was done to them (status writes, Events, requests)."""

    def __init__(self) -> None:
        self.slos: dict[tuple[str, str], dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.status_writes: list[tuple[str, str]] = []
        self.requests: list[tuple[str, str]] = []
        self.times: list[float] = []  # monotonic arrival time of each request in ``requests``
        self.version = 100
        self.before_patch: Callable[[str, str], None] | None = None  # e.g. a concurrent spec change
        # A fault to answer instead of the normal reply, e.g. 429 with Retry-After: (method, path) ->
        # (status, body, headers), or None to serve the request normally.
        self.fault: Callable[[str, str], tuple[int, dict[str, Any], dict[str, str]] | None] | None = None
        self._lock = threading.Lock()

    # ---- the objects --------------------------------------------------------------------------------

    def add(self, document: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(document)
        meta = obj["metadata"]
        meta.setdefault("uid", f"uid-{meta['namespace']}-{meta['name']}")
        meta.setdefault("generation", 1)
        self.version += 1
        meta["resourceVersion"] = str(self.version)
        self.slos[(meta["namespace"], meta["name"])] = obj
        return obj

    def touch(self, namespace: str, name: str) -> None:
        """Someone else wrote the SLO (e.g. kubectl edit): its resourceVersion moves on."""
        self.version += 1
        self.slos[(namespace, name)]["metadata"]["resourceVersion"] = str(self.version)

    def status(self, namespace: str, name: str) -> dict[str, Any]:
        return dict(self.slos[(namespace, name)].get("status") or {})

    def reasons(self, name: str | None = None) -> list[str]:
        return [e["reason"] for e in self.events if name is None or e["involvedObject"]["name"] == name]

    # ---- HTTP -----------------------------------------------------------------------------------------

    def respond(self, method: str, target: str, body: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        """The reply to one request: an injected ``fault`` if it matches, else ``answer``'s."""
        injected = self.fault(method, urlsplit(target).path) if self.fault is not None else None
        if injected is None:
            return (*self.answer(method, target, body), {})
        with self._lock:
            self.requests.append((method, urlsplit(target).path))
            self.times.append(time.monotonic())
        return injected

    def answer(self, method: str, target: str, body: bytes) -> tuple[int, dict[str, Any]]:
        url = urlsplit(target)
        path, query = url.path, parse_qs(url.query)
        with self._lock:
            self.requests.append((method, path))
            self.times.append(time.monotonic())
            if method == "GET" and path == f"{SLO_PATH}/servicelevelobjectives":
                return 200, _page(list(self.slos.values()), query)
            if method == "GET" and path.endswith("/servicelevelobjectives") and "/namespaces/" in path:
                namespace = path.split("/namespaces/")[1].split("/")[0]
                items = [o for (ns, _), o in self.slos.items() if ns == namespace]
                return 200, _page(items, query)
            if method == "PATCH" and path.endswith("/status") and "/servicelevelobjectives/" in path:
                parts = path.split("/")
                namespace, name = parts[parts.index("namespaces") + 1], parts[-2]
                if self.before_patch is not None:
                    self.before_patch(namespace, name)
                return self._patch_status(namespace, name, json.loads(body))
            if path.endswith("/events") and method == "POST":
                event = json.loads(body)
                self.events.append(event)
                return 201, event
            if path.endswith("/events") and method == "GET":
                selector = query.get("fieldSelector", [""])[0]
                items = [e for e in self.events if _matches(e, selector)]
                return 200, {"kind": "EventList", "items": items}
            if method == "GET" and "/secrets/" in path:
                return 404, {"kind": "Status", "message": "not found", "code": 404}
            if method == "GET":
                return 200, {"kind": "List", "items": []}
            return 405, {"kind": "Status", "message": f"{method} {path} not played", "code": 405}

    def _patch_status(self, namespace: str, name: str, patch: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        obj = self.slos.get((namespace, name))
        if obj is None:
            return 404, {"kind": "Status", "message": "not found", "code": 404}
        wanted = (patch.get("metadata") or {}).get("resourceVersion")
        if wanted is not None and wanted != obj["metadata"]["resourceVersion"]:
            message = "the object has been modified; please apply your changes to the latest version"
            return 409, {"kind": "Status", "reason": "Conflict", "code": 409, "message": message}
        obj["status"] = _merge(obj.get("status") or {}, patch.get("status") or {})
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        self.status_writes.append((namespace, name))
        return 200, copy.deepcopy(obj)


def _page(items: list[dict[str, Any]], query: dict[str, list[str]]) -> dict[str, Any]:
    """A LIST answer honouring ``limit`` and ``continue`` as the API server does: items in key order
    (namespace, name), the token naming where the last page ended (opaque to clients), so objects
    deleted or created between pages do not shift the later ones."""
    def key(item: dict[str, Any]) -> tuple[str, str]:
        return item["metadata"]["namespace"], item["metadata"]["name"]

    after = query.get("continue", [""])[0]
    ordered = sorted(items, key=key)
    if after:
        namespace, _, name = after.partition("/")
        ordered = [o for o in ordered if key(o) > (namespace, name)]
    limit = int(query.get("limit", ["0"])[0]) or len(ordered)
    page = ordered[:limit]
    more = len(ordered) > limit
    token = "/".join(key(page[-1])) if more else ""
    return {"kind": "List", "metadata": {"continue": token} if more else {}, "items": copy.deepcopy(page)}


def _merge(current: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(current) if isinstance(current, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(out.get(key), value)
    return out


def _matches(event: dict[str, Any], selector: str) -> bool:
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        node: Any = event
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if str(node) != value:
            return False
    return True


def answer_json(handler: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str]) -> None:
    """Answer ``payload`` as JSON with ``status`` and extra ``headers`` (both fake servers answer so)."""
    data = json.dumps(payload).encode()
    handler.send_response(status)
    for header, value in headers.items():
        handler.send_header(header, value)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


@contextmanager
def serving(api: ApiServer) -> Iterator[KubeClient]:
    """``api`` on a loopback port, and the operator's own client pointed at it."""

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            status, payload, headers = api.respond(
                self.command, self.path, self.rfile.read(length) if length else b""
            )
            answer_json(self, status, payload, headers)

        do_GET = do_PATCH = do_POST = do_DELETE = _handle

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    credentials = Credentials(server=f"http://127.0.0.1:{server.server_address[1]}", ca_file=None,
                              cert_file=None, key_file=None, verify=False, token=None)
    kube = KubeClient(credentials, timeout=10)
    try:
        yield kube
    finally:
        kube.close()
        server.shutdown()
        server.server_close()


class ScriptedAPI:
    """An HTTP server that answers each request from a script, so the client's retries are observable.

    The real control plane will not produce a 409, a 429, a 500 or a dropped connection on demand. Each
    script entry is ``(status, body)`` or ``(status, body, headers)``; status 0 drops the connection
    without an answer, -1 stalls past any client timeout and then drops it. Without a script entry the
    answer is ``default``. ``times`` holds each request's arrival (monotonic), for assertions on pacing.
    """

    def __init__(self, default: tuple[int, dict[str, Any]] = (200, {"metadata": {}})) -> None:
        self.script: list[tuple[Any, ...]] = []
        self.default = default
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.times: list[float] = []
        self.stall = 3.0
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                api.times.append(time.monotonic())
                api.requests.append((self.command, self.path, dict(self.headers), body))
                entry = api.script.pop(0) if api.script else api.default
                status, payload = entry[0], entry[1]
                headers: dict[str, str] = entry[2] if len(entry) > 2 else {}
                if status <= 0:  # drop the connection without an answer (after a stall for -1)
                    if status < 0:
                        time.sleep(api.stall)
                    self.close_connection = True
                    self.wfile.flush()
                    self.connection.close()
                    return
                answer_json(self, status, payload, headers)

            do_GET = do_PATCH = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def client(self, timeout: float = 30) -> KubeClient:
        credentials = Credentials(
            server=self.url, ca_file=None, cert_file=None, key_file=None, verify=False,
            token=lambda: "Bearer t0ken",
        )
        return KubeClient(credentials, timeout=timeout)

    def gaps(self) -> list[float]:
        """Seconds between consecutive requests, as the server saw them arrive."""
        return [b - a for a, b in zip(self.times, self.times[1:], strict=False)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---- Prometheus -----------------------------------------------------------------------------------------


def prometheus_from(result: Result | None, at: Callable[[], float]) -> PrometheusClient:
    """A ``PrometheusClient`` whose server evaluates each instant query on ``result`` at ``at()`` (the
    simulated 'now'); ``result`` None plays a Prometheus that is down (503)."""

    def handle(request: httpx.Request) -> httpx.Response:
        if result is None:
            return httpx.Response(503, text="service unavailable")
        params = dict(request.url.params)
        if request.method == "POST":
            params.update({k: v[0] for k, v in parse_qs(request.content.decode()).items()})
        now = float(params.get("time") or at())
        vector = result.query(params["query"], [now])
        samples = [
            {"metric": {k: v for k, v in labels if k != "__name__"}, "value": [now, _text(float(values[0]))]}
            for labels, values in vector.items()
            if not math.isnan(float(values[0]))
        ]
        body = {"status": "success", "data": {"resultType": "vector", "result": samples}}
        return httpx.Response(200, content=json.dumps(body))

    return PrometheusClient("http://prometheus.invalid", transport=httpx.MockTransport(handle))


def _text(value: float) -> str:
    return "+Inf" if value == math.inf else "-Inf" if value == -math.inf else repr(value)


class StaticPrometheus:
    """Prometheus holding fixed recorded figures per SLO (what the rules would have recorded), or down."""

    def __init__(self) -> None:
        self.down = False
        self.figures: dict[tuple[str, str], dict[str, Any]] = {}

    def set(self, slo: SLO, error_ratio: float, remaining: float, since: float) -> None:
        """Every recorded series of ``slo`` for a constant ``error_ratio``: burn rates on each alert
        window, the budget ``remaining`` over the window, recording since ``since`` (Unix seconds)."""
        budget = float(slo.error_budget)
        burn = error_ratio / budget
        self.figures[(slo.namespace, slo.name)] = {
            SLI: [({}, 1 - error_ratio)],
            BUDGET_REMAINING: [({}, remaining)],
            QUERIES["burn"]: [({"window": format_duration(w)}, burn) for w in slo.windows],
            TIME_TO_EXHAUSTION: [({}, max(remaining, 0) * slo.window / burn)] if burn > 0 else [],
            TOTAL_EVENTS: [({"window": format_duration(slo.base_window)}, 10.0)],
            RECORDING_SINCE: [({"indicator": indicator_hash(slo)}, since)],
        }

    def client(self) -> PrometheusClient:
        def handle(request: httpx.Request) -> httpx.Response:
            if self.down:
                return httpx.Response(503, text="service unavailable")
            query = request_params(request)["query"]
            samples = [
                {"metric": {"slo": name, "namespace": namespace, **labels}, "value": [0, repr(value)]}
                for (namespace, name), series in self.figures.items()
                for labels, value in series.get(query, [])
            ]
            body = {"status": "success", "data": {"resultType": "vector", "result": samples}}
            return httpx.Response(200, content=json.dumps(body))

        return PrometheusClient("http://prometheus.invalid", transport=httpx.MockTransport(handle))
