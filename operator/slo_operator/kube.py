"""A thin Kubernetes API client: server-side apply, list, delete, status patches and Events.

kopf watches and calls our handlers; writing objects goes through this small client instead of the
generated ``kubernetes`` models, because server-side apply of arbitrary kinds (PrometheusRule today,
AlertmanagerConfig and ConfigMap tomorrow) is one uniform HTTP call. Credentials come from the same
places kopf's login handler uses (``in_cluster``): the pod's service account with the API server from
``KUBERNETES_SERVICE_HOST``/``_PORT``, else the kubeconfig.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import ssl
import time
from collections.abc import Awaitable, Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from slo_operator import API_GROUP, API_VERSION, KIND, PLURAL
from slo_operator.acceptance import last_change
from slo_operator.children import ChildKind
from slo_operator.metrics import API_REQUESTS

log = logging.getLogger(__name__)

SLO_KIND = ChildKind(f"{API_GROUP}/{API_VERSION}", KIND, PLURAL, lambda slo, options: None)
POLICY_KIND = ChildKind(f"{API_GROUP}/{API_VERSION}", "ErrorBudgetPolicy", "errorbudgetpolicies",
                        lambda slo, options: None)
RETRIABLE = {409, 429, 500, 502, 503, 504}
# What a create, or a write with a resourceVersion, retries: a 409 there means the object exists or the
# version is stale, and the same request would only fail again.
RETRIABLE_PRECONDITIONED = RETRIABLE - {409}
METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
# The API server's check for unknown and duplicate fields (``fieldValidation``, ``Warn`` unless asked
# otherwise) decodes each write a second time, strictly: a third of the kube-apiserver CPU of a server-side
# apply or a status PATCH (measured: 11-12 ms down to 8 for an SLO's PrometheusRule and its status,
# 10 to 6.5 for its dashboard ConfigMap). The operator writes only what it renders from its own models
# and never reads the warnings. tests/operator/test_rendered_children_strict.py dry-runs every rendered
# child with strict validation, so a field a schema would drop or refuse fails a test instead.
NO_FIELD_VALIDATION = {"fieldValidation": "Ignore"}
SLO_PAGE = 200  # SLOs per LIST page of the status refresh (one page parsed is ~15 KB of objects per SLO)
# The longest wait a 429's Retry-After imposes (a misbehaving server cannot park the operator for hours).
MAX_RETRY_AFTER = 60.0


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asked us to wait: the ``Retry-After`` header (seconds; the API server's
    priority and fairness sends it with every 429), else the Status' ``details.retryAfterSeconds``."""
    header = response.headers.get("Retry-After", "").strip()
    try:
        if header:
            return max(0.0, float(header))
    except ValueError:
        pass  # an HTTP date: the API server never sends one
    try:
        details = (response.json() or {}).get("details") or {}
    except (ValueError, AttributeError):
        return None
    seconds = details.get("retryAfterSeconds") if isinstance(details, dict) else None
    return float(seconds) if isinstance(seconds, int | float) and seconds >= 0 else None


class KubeError(RuntimeError):
    """An API error with its HTTP status and the server's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Credentials:
    server: str
    ca_file: str | None
    cert_file: str | None
    key_file: str | None
    verify: bool
    token: Any  # callable returning the Authorization header value, or None


SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class InCluster:
    """Where a pod finds the API server and its own identity (the standard in-cluster contract).

    The server comes from ``KUBERNETES_SERVICE_HOST``/``KUBERNETES_SERVICE_PORT``, never from the DNS
    name ``kubernetes.default.svc``: pods without cluster DNS (host-network pods, clusters without a
    DNS add-on) have the variables but cannot resolve the name.
    """

    server: str
    token_file: Path
    ca_file: Path | None
    namespace: str | None

    def token(self) -> str:
        """The current token: re-read every time, because the kubelet rotates projected tokens."""
        return self.token_file.read_text(encoding="utf-8").strip()


def in_cluster(environ: Mapping[str, str] | None = None, account_dir: Path | None = None) -> InCluster | None:
    """The in-cluster endpoint and service account, or None outside a pod (or without a mounted token)."""
    env = os.environ if environ is None else environ
    account_dir = SERVICE_ACCOUNT_DIR if account_dir is None else account_dir
    host = env.get("KUBERNETES_SERVICE_HOST", "").strip()
    port = env.get("KUBERNETES_SERVICE_PORT", "").strip()
    token_file = account_dir / "token"
    if not host or not port or not token_file.is_file():
        return None
    if ":" in host and not host.startswith("["):  # an IPv6 address
        host = f"[{host}]"
    ca_file = account_dir / "ca.crt"
    ns_file = account_dir / "namespace"
    namespace = ns_file.read_text(encoding="utf-8").strip() if ns_file.is_file() else None
    return InCluster(
        server=f"https://{host}:{port}",
        token_file=token_file,
        ca_file=ca_file if ca_file.is_file() else None,
        namespace=namespace or None,
    )


def load_credentials(kubeconfig: str | None = None) -> Credentials:
    """An explicit kubeconfig first, then the in-cluster service account, else the default kubeconfig."""
    pod = None if kubeconfig else in_cluster()
    if pod is not None:
        return Credentials(
            server=pod.server,
            ca_file=str(pod.ca_file) if pod.ca_file else None,
            cert_file=None,
            key_file=None,
            verify=True,
            token=lambda: f"Bearer {pod.token()}",
        )
    found = kubeconfig_credentials(kubeconfig or os.environ.get("KUBECONFIG") or str(DEFAULT_KUBECONFIG))
    if found is not None:
        return found
    from kubernetes import client, config  # exec plugins and the like: the kubernetes package knows them

    configuration = client.Configuration()
    config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=kubeconfig, client_configuration=configuration
    )

    def token() -> str | None:
        value = configuration.get_api_key_with_prefix("BearerToken", alias="authorization")
        return str(value) if value else None

    return Credentials(
        server=configuration.host,
        ca_file=configuration.ssl_ca_cert,
        cert_file=configuration.cert_file,
        key_file=configuration.key_file,
        verify=bool(configuration.verify_ssl),
        token=token,
    )


async def read_watch(
    http: httpx.AsyncClient,
    path: str,
    params: Mapping[str, str],
    on_event: Callable[[str, dict[str, Any]], None],
    headers: Mapping[str, str] | None = None,
) -> str | None:
    """One watch request of the operator's own watches (children, SLOs): ``on_event(type, object)`` for
    every event but bookmarks, which only move the resourceVersion on. Returns the resourceVersion to
    resume from, or None when the server no longer has it (410 Gone, as a status or an ERROR event):
    the caller must LIST again."""
    version = str(params.get("resourceVersion", ""))
    async with http.stream("GET", path, params=dict(params), headers=dict(headers or {})) as response:
        if response.status_code == 410:
            return None
        if response.status_code >= 400:
            await response.aread()
            raise KubeError(response.status_code, response.text[:300])
        async for line in response.aiter_lines():
            if not line.strip():
                continue
            event = json.loads(line)
            obj = event.get("object") or {}
            if event.get("type") == "ERROR":
                if obj.get("code") == 410:
                    return None
                raise KubeError(int(obj.get("code") or 0), str(obj.get("message")))
            version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
            if event.get("type") != "BOOKMARK":
                on_event(str(event.get("type")), obj)
    return version


def watch_client(credentials: Credentials, watch_seconds: int) -> httpx.AsyncClient:
    """The HTTP client of one of the operator's own watches (``read_watch``), whose requests the API server
    ends after ``watch_seconds``: no read timeout shorter than that."""
    return httpx.AsyncClient(
        base_url=credentials.server,
        verify=ssl_context(credentials),
        auth=token_auth(credentials),
        timeout=httpx.Timeout(watch_seconds + 30, connect=10),
    )


# What a failed watch of the operator's own waits before it tries again, by consecutive failures.
WATCH_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)
WATCH_ERRORS = (httpx.HTTPError, KubeError, ValueError)  # what ends a watch attempt (ValueError: bad JSON)


async def follow_watch(
    what: str,
    relist: Callable[[], Awaitable[str]],
    watch: Callable[[str], Awaitable[str | None]],
    version: str | None = None,
) -> None:
    """The loop of each of the operator's own watches, until cancelled: ``relist()`` (a LIST and what its
    caller makes of it; returns the list's resourceVersion) whenever there is no version to resume from,
    then ``watch(version)`` (one watch request, ``read_watch``: the version to resume from, None when it
    must LIST again). A failed attempt is logged and tried again after ``WATCH_BACKOFF`` (by consecutive
    failures), resuming from the last version it had."""
    failures = 0
    while True:
        try:
            if version is None:
                version = await relist()
            version = await watch(version)
            failures = 0
        except asyncio.CancelledError:
            raise
        except WATCH_ERRORS as exc:
            delay = WATCH_BACKOFF[min(failures, len(WATCH_BACKOFF) - 1)]
            failures += 1
            log.warning("watch of %s failed (%s); again in %.0fs", what, exc, delay)
            await asyncio.sleep(delay)


def ssl_context(credentials: Credentials) -> ssl.SSLContext | bool:
    """TLS settings of a client of the API server (False: verification off, as the kubeconfig says)."""
    if not credentials.verify:
        return False
    context = ssl.create_default_context(cafile=credentials.ca_file)
    if credentials.cert_file:
        context.load_cert_chain(credentials.cert_file, credentials.key_file)
    return context


def token_auth(credentials: Credentials) -> httpx.Auth:
    """The bearer token, read for every request (projected tokens rotate)."""
    return _TokenAuth(credentials)


DEFAULT_KUBECONFIG = Path.home() / ".kube" / "config"
_PLAIN_USER = {"token", "tokenFile", "client-certificate", "client-key", "client-certificate-data",
               "client-key-data"}


def kubeconfig_credentials(path: str) -> Credentials | None:
    """The current context of a kubeconfig that names its server, CA, token or client certificate
    directly (as ``make cluster-up`` and ``rbac_kubeconfig`` write them); None for anything else (exec
    plugins, auth providers, several files in $KUBECONFIG), which ``load_credentials`` leaves to the
    ``kubernetes`` package. The operator then never imports that package (``cli.run``): it is most of an
    idle process's memory. Embedded ``*-data`` go to private files, as the package does too.
    """
    import yaml

    if os.pathsep in path or not Path(path).is_file():
        return None
    config = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}

    def named(section: str, name: Any) -> dict[str, Any] | None:
        entry = next((e for e in config.get(section) or [] if e.get("name") == name), None)
        return None if entry is None else dict(entry.get(section[:-1]) or {})

    context = named("contexts", config.get("current-context")) or {}
    cluster, user = named("clusters", context.get("cluster")), named("users", context.get("user"))
    if cluster is None or user is None or not set(user) <= _PLAIN_USER or not cluster.get("server"):
        return None
    base = Path(path).resolve().parent

    def file_of(entry: dict[str, Any], key: str) -> str | None:
        if entry.get(f"{key}-data"):
            import tempfile

            handle, name = tempfile.mkstemp(prefix="slo-operator-")
            with os.fdopen(handle, "wb") as out:
                out.write(base64.b64decode(entry[f"{key}-data"]))
            return name
        return str(base / entry[key]) if entry.get(key) else None

    token, token_file = user.get("token"), user.get("tokenFile")

    def bearer() -> str | None:
        value = token or (Path(token_file).read_text(encoding="utf-8").strip() if token_file else None)
        return f"Bearer {value}" if value else None

    return Credentials(
        server=str(cluster["server"]),
        ca_file=file_of(cluster, "certificate-authority"),
        cert_file=file_of(user, "client-certificate"),
        key_file=file_of(user, "client-key"),
        verify=not cluster.get("insecure-skip-tls-verify", False),
        token=bearer,
    )


class _TokenAuth(httpx.Auth):
    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        header = self._credentials.token() if self._credentials.token else None
        if header:
            request.headers["Authorization"] = header
        yield request


def resource_path(kind: ChildKind, namespace: str, name: str | None = None) -> str:
    base = f"/apis/{kind.api_version}" if kind.group else f"/api/{kind.version}"
    path = f"{base}/namespaces/{namespace}/{kind.plural}"
    return f"{path}/{name}" if name else path


class KubeClient:
    """The API calls the operator makes, each one an explicit, countable request."""

    def __init__(
        self, credentials: Credentials, field_manager: str = "slo-operator", timeout: float = 30
    ) -> None:
        context = ssl_context(credentials)
        self.field_manager = field_manager
        # Called before every write; with leader election it ends the process once the Lease may have
        # passed to another replica (leader.run_elected).
        self.write_guard: Callable[[], None] | None = None
        self._http = httpx.Client(
            base_url=credentials.server, verify=context, auth=_TokenAuth(credentials), timeout=timeout
        )
        # Monotonic time before which no request leaves: a 429's Retry-After holds back every thread
        # of this client (handlers and refresher alike), not only the one that was told.
        self.not_before = 0.0

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        attempts: int = 4,
        retriable: frozenset[int] | set[int] = RETRIABLE,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """One API call, retried with backoff on conflicts, throttling, server errors and lost connections.

        At most ``attempts`` requests. A 429 is retried no sooner than its Retry-After (capped at
        ``MAX_RETRY_AFTER``), and later requests of the whole client wait for it too, so a throttled
        operator slows down instead of spending its attempts inside the server's penalty window.
        """
        delay = 0.2
        for attempt in range(1, attempts + 1):
            wait = self.not_before - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if method != "GET" and self.write_guard is not None:
                self.write_guard()
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                API_REQUESTS.labels(method, "0").inc()
                if attempt == attempts:
                    raise KubeError(0, f"cannot reach the API server: {exc}") from exc
                pause = delay
            else:
                API_REQUESTS.labels(method, str(response.status_code)).inc()
                if response.status_code < 400:
                    return response.json() if response.content else {}
                message = _message(response)
                pause = delay
                if response.status_code == 429:
                    after = min(retry_after(response) or 0.0, MAX_RETRY_AFTER)
                    self.not_before = max(self.not_before, time.monotonic() + after)
                    pause = max(delay, after)
                if response.status_code not in retriable or attempt == attempts:
                    raise KubeError(response.status_code, message)
                log.info("retrying %s %s after %s: %s", method, path, response.status_code, message)
            time.sleep(pause)
            delay *= 2
        raise AssertionError("unreachable")

    # ---- generic objects --------------------------------------------------------------------------

    def apply(self, kind: ChildKind, obj: dict[str, Any], metadata_only: bool = False) -> dict[str, Any]:
        """Server-side apply: the object becomes exactly what we render; a no-op when it already is.

        ``metadata_only``: the answer is the object's metadata (``PartialObjectMetadata``), not the whole
        object sent back: a reconcile needs only its resourceVersion, and a dashboard is tens of KB.
        """
        metadata = obj["metadata"]
        headers = {"Content-Type": "application/apply-patch+yaml"}
        if metadata_only:
            headers["Accept"] = METADATA_ONLY
        return self.request(
            "PATCH",
            resource_path(kind, metadata["namespace"], metadata["name"]),
            params={"fieldManager": self.field_manager, "force": "true", **NO_FIELD_VALIDATION},
            content=json.dumps(obj),
            headers=headers,
        )

    def create(self, kind: ChildKind, obj: dict[str, Any]) -> dict[str, Any]:
        """POST a new object; the answer is its metadata. Raises ``KubeError`` 409 when it exists.

        For the API server a create is cheaper than a server-side apply of the same object: no YAML
        parse of the patch (an apply's body is YAML, however it is written) and no merge (measured on
        this project's control plane: 5.9 against 6.6-7.8 ms of kube-apiserver + etcd CPU for an SLO's
        PrometheusRule, 2.9 against 4.1-4.6 for its dashboard ConfigMap). The fields belong to the
        field manager as an update's (``operation: Update``)."""
        return self.request(
            "POST",
            resource_path(kind, obj["metadata"]["namespace"]),
            params={"fieldManager": self.field_manager, **NO_FIELD_VALIDATION},
            content=json.dumps(obj, separators=(",", ":")),
            headers={"Content-Type": "application/json", "Accept": METADATA_ONLY},
            retriable=RETRIABLE_PRECONDITIONED,  # 409 here is AlreadyExists: trying again changes nothing
        )

    def replace(self, kind: ChildKind, obj: dict[str, Any], resource_version: str) -> dict[str, Any]:
        """PUT the whole object over the one at ``resource_version`` (409 when it moved on, 404 when it
        is gone); the answer is its metadata. Every field is what ``obj`` says, whoever set it before: a
        field it no longer has goes, which an apply would leave to its other owners (a create's fields
        belong to an update). An unchanged object is no write (the API server keeps its version)."""
        metadata = obj["metadata"]
        body = {**obj, "metadata": {**metadata, "resourceVersion": resource_version}}
        return self.request(
            "PUT",
            resource_path(kind, metadata["namespace"], metadata["name"]),
            params={"fieldManager": self.field_manager, **NO_FIELD_VALIDATION},
            content=json.dumps(body, separators=(",", ":")),
            headers={"Content-Type": "application/json", "Accept": METADATA_ONLY},
            retriable=RETRIABLE_PRECONDITIONED,
        )

    def get_metadata(self, kind: ChildKind, namespace: str, name: str) -> dict[str, Any] | None:
        """One object's metadata (``PartialObjectMetadata``), None when it does not exist."""
        try:
            return self.request(
                "GET", resource_path(kind, namespace, name), headers={"Accept": METADATA_ONLY}
            )
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    def list_objects(
        self, kind: ChildKind, namespace: str, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        params = {"labelSelector": label_selector} if label_selector else None
        result = self.request("GET", resource_path(kind, namespace), params=params)
        return list(result.get("items", []))

    def list_all(
        self, kind: ChildKind, namespace: str = "", label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """Objects of a kind in one namespace, or in all when ``namespace`` is empty (one LIST)."""
        if namespace:
            return self.list_objects(kind, namespace, label_selector)
        base = f"/apis/{kind.api_version}" if kind.group else f"/api/{kind.version}"
        params = {"labelSelector": label_selector} if label_selector else None
        return list(self.request("GET", f"{base}/{kind.plural}", params=params).get("items", []))

    def delete(self, kind: ChildKind, namespace: str, name: str) -> bool:
        """Delete; False when it was already gone."""
        try:
            self.request(
                "DELETE", resource_path(kind, namespace, name), json={"propagationPolicy": "Background"}
            )
        except KubeError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # ---- SLOs ------------------------------------------------------------------------------------------

    def get_slo(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self.request("GET", resource_path(SLO_KIND, namespace, name))
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    # ---- Secrets (alert routing) ---------------------------------------------------------------------

    def get_secret_keys(self, namespace: str, name: str) -> frozenset[str] | None:
        """The data keys of one named Secret, or None when it does not exist.

        Only ``get`` on the named Secret (no list/watch): the operator checks that the references its
        AlertmanagerConfigs carry resolve. The values are dropped here, never returned or logged.
        """
        try:
            secret = self.request("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}", attempts=2)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise
        return frozenset((secret.get("data") or {}).keys())

    def get_secret_value(self, namespace: str, name: str, key: str) -> str | None:
        """One key of one named Secret, decoded (None: no such Secret or key). For ticket backends and
        notifications only; callers must never log or store the value."""
        try:
            secret = self.request("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}", attempts=2)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise
        value = (secret.get("data") or {}).get(key)
        return None if value is None else base64.b64decode(value).decode()

    def list_policies(self, namespaces: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Every ErrorBudgetPolicy watched; empty when its CRD is not installed."""
        try:
            if not namespaces:
                result = self.request("GET", f"/apis/{API_GROUP}/{API_VERSION}/{POLICY_KIND.plural}")
                return list(result.get("items", []))
            items: list[dict[str, Any]] = []
            for namespace in namespaces:
                items.extend(self.list_objects(POLICY_KIND, namespace))
            return items
        except KubeError as exc:
            if exc.status == 404:
                return []
            raise

    def patch_policy_status(self, namespace: str, name: str, status: dict[str, Any]) -> dict[str, Any]:
        return self.request(
            "PATCH",
            resource_path(POLICY_KIND, namespace, name) + "/status",
            content=json.dumps({"status": status}),
            headers={"Content-Type": "application/merge-patch+json"},
        )

    def secret_last_change(self, namespace: str, name: str) -> datetime | None:
        """When one named Secret was last written (None when it does not exist); its data is dropped here."""
        try:
            secret = self.request("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}", attempts=2)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise
        return last_change({"metadata": secret.get("metadata") or {}})

    # ---- Events (what prometheus-operator says about our children) ---------------------------------------

    def list_events(self, namespace: str, field_selector: str) -> list[dict[str, Any]]:
        """core/v1 Events of one namespace matching ``field_selector`` (RBAC: ``list`` on events)."""
        path = f"/api/v1/namespaces/{namespace}/events"
        result = self.request("GET", path, params={"fieldSelector": field_selector}, attempts=2)
        return list(result.get("items", []))

    def list_slos(self, namespaces: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Every SLO the operator watches, whole and at once (reports read them all; the status refresh
        reads ``slo_pages`` and keeps only what it needs of each page)."""
        return [item for page in self.slo_pages(namespaces) for item in page]

    def slo_pages(
        self, namespaces: tuple[str, ...] = (), limit: int = SLO_PAGE
    ) -> Iterator[list[dict[str, Any]]]:
        """Every SLO the operator watches, ``limit`` at a time (``limit``/``continue``): the caller keeps
        what it needs of one page before the next is read, instead of every whole SLO at once (at 10,000
        SLOs one LIST answer parsed is some 250 MB of Python objects, most of it ``managedFields``). No
        reference to a page stays here once it is yielded: a caller that empties it (``refresh_all``)
        holds one page at a time, not the last one and the next one while that is parsed."""
        paths = [f"/apis/{API_GROUP}/{API_VERSION}/{PLURAL}"] if not namespaces else [
            resource_path(SLO_KIND, namespace) for namespace in namespaces
        ]
        for path in paths:
            token = None
            while True:
                params = {"limit": str(limit)} | ({"continue": token} if token else {})
                result = self.request("GET", path, params=params)
                token = (result.get("metadata") or {}).get("continue")
                items = list(result.get("items", []))
                del result  # the page is the caller's alone: emptying it frees it while the next is read
                yield items
                if not token:
                    break

    def patch_slo_status(
        self, namespace: str, name: str, status: dict[str, Any], resource_version: str | None
    ) -> dict[str, Any]:
        """Merge-patch the status subresource; with a resourceVersion it fails (409) if the SLO moved on."""
        body: dict[str, Any] = {"status": status}
        if resource_version:
            body["metadata"] = {"resourceVersion": resource_version}
        return self.request(
            "PATCH",
            resource_path(SLO_KIND, namespace, name) + "/status",
            # one manager for every status write (the handler's, with kopf's record, and the refresh's):
            # one entry in managedFields, which every watch event and LIST of the SLO carries
            params={"fieldManager": self.field_manager, **NO_FIELD_VALIDATION},
            content=json.dumps(body),
            headers={"Content-Type": "application/merge-patch+json"},
            attempts=1 if resource_version else 4,
        )

    def post_event(self, obj: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        """A core/v1 Event on ``obj`` (shown by ``kubectl describe slo``)."""
        metadata = obj["metadata"]
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{metadata['name']}.", "namespace": metadata["namespace"]},
            "involvedObject": {
                "apiVersion": obj.get("apiVersion"),
                "kind": obj.get("kind"),
                "name": metadata["name"],
                "namespace": metadata["namespace"],
                "uid": metadata.get("uid"),
                "resourceVersion": metadata.get("resourceVersion"),
            },
            "type": event_type,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": "slo-operator"},
            "reportingComponent": "slo-operator",
            "reportingInstance": "slo-operator",
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            self.request("POST", f"/api/v1/namespaces/{metadata['namespace']}/events", json=event, attempts=2)
        except KubeError as exc:  # an Event is best effort: never fail a reconcile over it
            log.warning(
                "could not post event %s on %s/%s: %s", reason, metadata["namespace"], metadata["name"], exc
            )


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    return str(body.get("message", body))[:1000]
