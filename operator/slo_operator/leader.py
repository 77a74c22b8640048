"""Leader election on a ``coordination.k8s.io/v1`` Lease: with two replicas only one reconciles.

kopf's peering only pauses operators that see a peer of higher priority; it does not elect one (two pods
of equal priority both freeze). This is the Lease protocol of client-go's leaderelection, small enough to
read: a replica holds the Lease while it renews it every ``retry_seconds``; a standby takes it over when
the Lease's resourceVersion has not changed for ``lease_seconds`` of the standby's own clock (no clock
comparison between machines); every write to the Lease is a PUT with the resourceVersion read, so two
standbys cannot both win.

The leader gives up by itself: when it could not renew for ``renew_deadline_seconds`` (shorter than the
lease) it exits before a standby may take over. A paused process (SIGSTOP, a frozen VM, a partition)
wakes up past that deadline: the write guard (``Leadership.may_write``) refuses every write and ends
the process, so the old leader never writes after its lease could have passed to another.

``decide`` and ``Leadership`` are pure (times are passed in); ``Elector`` does the I/O.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

log = logging.getLogger(__name__)

LEASE_API = "/apis/coordination.k8s.io/v1"
MICROTIME = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass(frozen=True)
class Timing:
    """The chart's defaults: a dead leader is replaced within ``lease_seconds`` + ``retry_seconds``."""

    lease_seconds: float = 15.0
    renew_deadline_seconds: float = 10.0
    retry_seconds: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.retry_seconds < self.renew_deadline_seconds < self.lease_seconds:
            raise ValueError("leader election needs 0 < retry < renew deadline < lease duration")


@dataclass(frozen=True)
class Record:
    """The parts of a Lease the protocol reads."""

    holder: str
    lease_seconds: float
    transitions: int
    resource_version: str

    @classmethod
    def from_lease(cls, lease: dict[str, Any]) -> Record:
        spec = lease.get("spec") or {}
        return cls(
            holder=str(spec.get("holderIdentity") or ""),
            lease_seconds=float(spec.get("leaseDurationSeconds") or 0),
            transitions=int(spec.get("leaseTransitions") or 0),
            resource_version=str(lease["metadata"].get("resourceVersion", "")),
        )


@dataclass(frozen=True)
class Observation:
    """The Lease version a standby last saw change, and when (its own monotonic clock)."""

    resource_version: str
    since: float


Action = Literal["create", "renew", "acquire", "wait"]


def decide(
    record: Record | None, identity: str, observed: Observation | None, now: float
) -> tuple[Action, Observation | None]:
    """What to do with the Lease as read now: create it, renew ours, take it over, or wait."""
    if record is None:
        return "create", None
    if record.holder == identity:
        return "renew", None
    if not record.holder:  # released by a leader that stopped cleanly
        return "acquire", None
    if observed is None or observed.resource_version != record.resource_version:
        return "wait", Observation(record.resource_version, now)
    if now - observed.since >= record.lease_seconds:
        return "acquire", observed
    return "wait", observed


def lease_body(
    namespace: str,
    name: str,
    identity: str,
    timing: Timing,
    record: Record | None,
    now: datetime,
    action: Action,
) -> dict[str, Any]:
    """The Lease to write for ``action`` (a PUT carries ``record``'s resourceVersion)."""
    stamp = now.strftime(MICROTIME)
    transitions = 0 if record is None else record.transitions + (1 if action == "acquire" else 0)
    spec: dict[str, Any] = {
        "holderIdentity": identity,
        "leaseDurationSeconds": int(timing.lease_seconds),
        "renewTime": stamp,
        "leaseTransitions": transitions,
    }
    if action in ("create", "acquire"):
        spec["acquireTime"] = stamp
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if record is not None:
        metadata["resourceVersion"] = record.resource_version
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec}


@dataclass(frozen=True)
class Leadership:
    """Whether this process may still act as leader: its last successful renewal was less than the
    renew deadline ago (monotonic clock, which keeps counting while the process is paused)."""

    timing: Timing
    renewed: float | None = None  # monotonic time of the last successful create/renew/acquire

    def renewed_at(self, now: float) -> Leadership:
        return replace(self, renewed=now)

    def may_write(self, now: float) -> bool:
        return self.renewed is not None and now - self.renewed < self.timing.renew_deadline_seconds


def default_identity() -> str:
    """The pod's name (POD_ID, set by the chart), else host and pid: unique per process."""
    return os.environ.get("POD_ID") or f"{socket.gethostname()}-{os.getpid()}"


class LostLeadership(RuntimeError):
    pass


class Elector:
    """The Lease loop over a ``KubeClient`` (run in a thread: the client is synchronous)."""

    def __init__(self, kube: Any, namespace: str, name: str, identity: str, timing: Timing) -> None:
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.timing = timing
        self.leadership = Leadership(timing)
        self.observed: Observation | None = None
        self.last_read: float | None = None  # monotonic time the Lease was last read (warm standby)
        self.leader = False

    @property
    def path(self) -> str:
        return f"{LEASE_API}/namespaces/{self.namespace}/leases/{self.name}"

    def _read(self) -> Record | None:
        from slo_operator.kube import KubeError

        try:
            lease = self.kube.request("GET", self.path, attempts=1)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise
        return Record.from_lease(lease)

    def attempt(self, now: float) -> bool:
        """One round: read the Lease and act; True when this process holds it afterwards."""
        from slo_operator.kube import KubeError

        record = self._read()
        self.last_read = now
        action, self.observed = decide(record, self.identity, self.observed, now)
        if action == "wait":
            return False
        body = lease_body(
            self.namespace, self.name, self.identity, self.timing, record, datetime.now(UTC), action
        )
        try:
            if action == "create":
                self.kube.request(
                    "POST", f"{LEASE_API}/namespaces/{self.namespace}/leases", json=body, attempts=1
                )
            else:
                self.kube.request("PUT", self.path, json=body, attempts=1)
        except KubeError as exc:
            if exc.status in (409, 422):  # someone else wrote it first
                return False
            raise
        if action != "renew":
            log.info(
                "leader election: %s holds Lease %s/%s (%s)", self.identity, self.namespace, self.name, action
            )
        self.leadership = self.leadership.renewed_at(now)
        self.leader = True
        return True

    def may_write(self, now: float) -> bool:
        return self.leadership.may_write(now)

    def release(self) -> None:
        """Clean stop (SIGTERM): hand the Lease back so a standby takes over at once."""
        record = self._read()
        if record is None or record.holder != self.identity:
            return
        body = lease_body(self.namespace, self.name, "", self.timing, record, datetime.now(UTC), "renew")
        body["spec"]["leaseDurationSeconds"] = 1
        self.kube.request("PUT", self.path, json=body, attempts=1)
        log.info("leader election: released Lease %s/%s", self.namespace, self.name)

    async def acquire(self, clock: Any) -> None:
        """Return once this process is the leader (a standby waits here, reading the Lease)."""
        while True:
            try:
                if await asyncio.to_thread(self.attempt, clock()):
                    return
            except Exception as exc:  # the API server may be away: keep trying
                log.warning("leader election: %s", exc)
            await asyncio.sleep(self.timing.retry_seconds)

    async def keep(self, clock: Any) -> None:
        """Renew every ``retry_seconds``; raise LostLeadership once the renew deadline passed."""
        while True:
            await asyncio.sleep(self.timing.retry_seconds)
            if not self.may_write(clock()):
                raise LostLeadership("the Lease was not renewed within the renew deadline")
            try:
                if not await asyncio.to_thread(self.attempt, clock()):
                    raise LostLeadership(f"Lease {self.namespace}/{self.name} is held by another replica")
            except LostLeadership:
                raise
            except Exception as exc:
                log.warning("leader election: renewing failed: %s", exc)


# ---- the process around the election: health endpoint, write guard, kopf only on the leader --------------


def readiness(elector: Elector, operator_started: bool, now: float) -> bool:
    """Ready: the leader once its operator runs, or a warm standby (it read the Lease recently, so it
    can take over within one lease duration)."""
    if elector.leader:
        return operator_started and elector.may_write(now)
    return elector.last_read is not None and now - elector.last_read < 2 * elector.timing.lease_seconds


async def serve_health(
    host: str, port: int, elector: Elector, alive: Any, started: Any, clock: Any
) -> asyncio.AbstractServer:
    """``/healthz`` (liveness: ``alive()`` does not raise) and ``/readyz`` (``readiness``) on one port;
    with leader election it replaces kopf's endpoint, which a standby (no kopf running) would not serve."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = (await asyncio.wait_for(reader.readline(), 5)).decode("latin-1")
            while (await asyncio.wait_for(reader.readline(), 5)).strip():
                pass
            path = line.split(" ")[1] if line.count(" ") >= 2 else "/"
            if path.startswith("/healthz"):
                try:
                    alive()
                    ok, text = True, "ok"
                except Exception as exc:
                    ok, text = False, str(exc)
            elif path.startswith("/readyz"):
                ok = readiness(elector, bool(started()), clock())
                text = ("leader" if elector.leader else "standby") + (" ready" if ok else " not ready")
            else:
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            body = text.encode()
            status = b"200 OK" if ok else b"503 Service Unavailable"
            writer.write(
                b"HTTP/1.1 "
                + status
                + b"\r\nContent-Type: text/plain\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)


async def run_elected(
    elector: Elector,
    guard_client: Any,
    operator: Any,
    health: tuple[str, int] | None,
    alive: Any,
    started: Any,
) -> None:
    """Wait for the Lease, then run ``operator()`` (kopf) while renewing it. Losing the Lease ends the
    process at once (exit code 70): kopf and its handler threads may hold writes in flight, and a clean
    shutdown would let them land after another replica took over."""
    import time

    clock = time.monotonic

    def guard() -> None:
        if not elector.may_write(clock()):
            log.error("leader election: lease not renewed in time; exiting before any further write")
            os._exit(70)

    server = await serve_health(*health, elector, alive, started, clock) if health else None
    log.info("leader election: %s waiting for Lease %s/%s", elector.identity, elector.namespace, elector.name)
    await elector.acquire(clock)
    guard_client.write_guard = guard
    running = asyncio.create_task(operator())
    keeper = asyncio.create_task(elector.keep(clock))
    done, _ = await asyncio.wait({running, keeper}, return_when=asyncio.FIRST_COMPLETED)
    if keeper in done:
        log.error("leader election: %s; exiting", keeper.exception())
        os._exit(70)
    keeper.cancel()
    try:
        await asyncio.to_thread(elector.release)
    except Exception as exc:
        log.warning("leader election: could not release the Lease: %s", exc)
    if server is not None:
        server.close()
    running.result()


def timing_for(lease_seconds: float) -> Timing:
    """client-go's proportions (15 s lease, 10 s renew deadline, 2 s retry) scaled to ``lease_seconds``."""
    return Timing(lease_seconds, lease_seconds * 2 / 3, lease_seconds / 7.5)


async def run_operator_elected(config: Any, operator: Any) -> None:
    """``slo-operator run`` with leader election (``config``: an ``OperatorConfig``)."""
    from urllib.parse import urlsplit

    from slo_operator import handlers
    from slo_operator.kube import KubeClient, in_cluster, load_credentials

    timing = timing_for(config.lease_seconds)
    pod = in_cluster()
    namespace = config.lease_namespace or (pod.namespace if pod else None) or "slo-system"
    credentials = load_credentials(os.environ.get("KUBECONFIG"))
    client = KubeClient(
        credentials, field_manager=config.field_manager, timeout=timing.renew_deadline_seconds / 2
    )
    elector = Elector(client, namespace, config.lease_name, default_identity(), timing)
    url = urlsplit(config.liveness) if config.liveness else None
    health = (url.hostname or "0.0.0.0", url.port or 8080) if url else None

    def alive() -> None:
        if elector.leader and handlers.STATE.started:
            handlers.refresher_health()

    await run_elected(
        elector, handlers.operator_client(), operator, health, alive, lambda: handlers.STATE.started > 0
    )
