"""kopf wiring: which events call which reconcile function. No logic of its own.

- SLO created, changed or found at start-up -> ``reconcile_children`` and the conditions in status. The
  SLOs' events come through the operator's own intake (``slo_intake``: one pending entry per SLO, a
  fixed set of workers), not kopf's per-object queues; kopf runs the start-up, the policies' and
  workloads' events, the health probe and the clean-up.
- A child (any kind in ``CHILD_KINDS``) changed or deleted by someone else -> reconcile its SLO again;
  server-side apply makes our own writes no-ops, so this converges without loops.
- One background task refreshes the numbers of every SLO each ``refresh_seconds``: a LIST of SLOs plus a
  constant number of Prometheus queries, whatever the number of SLOs. Its first cycle runs right at
  start-up (a replacement pod refreshes at once, not one period later); it still writes only what
  changed, so restarting the operator writes nothing to a settled SLO.
- Login: the pod's service account against ``KUBERNETES_SERVICE_HOST``/``_PORT`` (``kube.in_cluster``),
  else the kubeconfig. kopf's own ``login_with_service_account`` dials ``kubernetes.default.svc``,
  which needs cluster DNS that host-network pods and DNS-less clusters do not have.
- The health endpoint (readiness and liveness) answers only after start-up, and fails when the status
  refresher died or has not finished a cycle for several periods.

No timers, daemons or deletion handlers, and kopf handles no SLO event: nothing puts a finalizer on
SLOs, so deleting one never waits for the operator; children go with it through their owner references.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, cast

import kopf

from slo_operator import API_GROUP, API_VERSION, metrics
from slo_operator.child_watch import ChildWatch
from slo_operator.children import CHILD_KINDS
from slo_operator.config import OperatorConfig
from slo_operator.forecaster import Forecaster
from slo_operator.kube import SLO_KIND, Credentials, KubeClient, KubeError, in_cluster, load_credentials
from slo_operator.memory import Trimmer, freeze_start_up
from slo_operator.model import SLO
from slo_operator.policy import OVERRIDE_ANNOTATION, SERVICE_LABEL
from slo_operator.prometheus import PrometheusClient
from slo_operator.ratelimit import TokenBucket
from slo_operator.reconcile import (
    first_status,
    reconcile_children,
    reconcile_decision,
    refresh_all,
    shaped_slo,
)
from slo_operator.render import MANAGED_BY
from slo_operator.shared_rules import SharedRules, SharedRulesWatcher
from slo_operator.slo_intake import SLOIntake
from slo_operator.watch_cache import Listings, WatchCache

log = logging.getLogger("slo_operator")


class _State:
    config: OperatorConfig = OperatorConfig()
    kube: KubeClient | None = None
    credentials: Credentials | None = None
    child_watch: ChildWatch | None = None  # children as metadata (child_watch.py)
    intake: SLOIntake | None = None  # the SLOs' events (slo_intake.py)
    shared: SharedRules | None = None  # the namespaces' shared PrometheusRules (shared_rules.py)
    watches: tuple[asyncio.Task[None], ...] = ()
    prometheus: PrometheusClient | None = None
    forecaster: Forecaster = Forecaster()
    metrics_server: Any = None
    refresher: asyncio.Task[None] | None = None
    trimmer: Trimmer = Trimmer()  # gives a burst's freed memory back to the OS (memory.py)
    trimming: asyncio.Task[None] | None = None
    cache: WatchCache = WatchCache()  # children and policies as the watches deliver them
    listings: Listings = Listings()  # when kopf lists a kind again (its watch could not resume: 410 Gone)
    write_budget: TokenBucket | None = None  # the refresher's status writes per second
    started: float = 0.0  # monotonic time of start-up
    last_cycle: float = 0.0  # monotonic time the last refresh cycle ended (0: none yet)
    cycles: int = 0
    # SLOs (namespace, name) the last refresh found recorded series of; None until a refresh reached
    # Prometheus. A new SLO outside it gets its first figures with its first status write (first_status).
    measured: frozenset[tuple[str, str]] | None = None
    # kopf's record of the SLOs' last handled spec (status.kopf), in kopf's own format
    diffbase: LeanStatusDiffBaseStorage
    progress: kopf.ProgressStorage


STATE = _State()
WORKER_LIMIT = 48  # kopf's per-object workers at once (its handler threads: min(32, cores + 4))


def configure(config: OperatorConfig) -> None:
    STATE.config = config


def _kube() -> KubeClient:
    if STATE.kube is None:
        # $KUBECONFIG is read now, not when the kubernetes package was imported (`run --kubeconfig`).
        STATE.credentials = load_credentials(os.environ.get("KUBECONFIG"))
        STATE.kube = KubeClient(STATE.credentials, field_manager=STATE.config.field_manager)
    return STATE.kube


def operator_client() -> KubeClient:
    """The client every reconcile and refresh writes through (leader election guards its writes)."""
    return _kube()


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.posting.enabled = False  # Events are posted explicitly, on transitions only
    settings.watching.server_timeout = 300
    settings.networking.error_backoffs = [1, 2, 5, 10, 30]
    # kopf starts one worker task per object with news (policies, workloads) and keeps it 5 s after its
    # last event; bounded, the others wait as an unstarted coroutine and their raw event.
    settings.queueing.worker_limit = WORKER_LIMIT
    settings.queueing.idle_timeout = 0.5  # a worker's slot is free again soon after its last event
    for plural in WORKLOADS:  # only workloads a deploy freeze can concern
        settings.watching.label_selectors["apps", "v1", plural] = SERVICE_LABEL
    logging.getLogger("httpx").setLevel(logging.WARNING)
    _prime_cache(_kube())
    assert STATE.credentials is not None
    STATE.shared = SharedRules(STATE.config.render_options)
    STATE.shared.prime(_kube(), STATE.config.namespaces)
    watcher = SharedRulesWatcher(STATE.shared, _resolve_shape)
    STATE.intake = SLOIntake(STATE.credentials, _kube(), _reconcile, _due, watcher=watcher)
    STATE.intake.start(STATE.config.namespaces)
    STATE.prometheus = PrometheusClient(STATE.config.prometheus_url, STATE.config.prometheus_timeout)
    rate = STATE.config.status_writes_per_second
    STATE.write_budget = TokenBucket(rate, 2 * rate) if rate > 0 else None
    STATE.started = time.monotonic()
    if STATE.config.metrics and STATE.metrics_server is None:
        metrics.watch_forecasts(lambda: STATE.forecaster.latest)
        try:
            STATE.metrics_server = metrics.serve(STATE.config.metrics)
        except OSError as exc:  # e.g. the port is taken: the operator's work matters more than its metrics
            log.error("cannot serve /metrics on %s: %s", STATE.config.metrics, exc)
    STATE.refresher = asyncio.create_task(_refresh_forever())
    STATE.trimming = asyncio.create_task(STATE.trimmer.run())
    freeze_start_up()
    log.info(
        "slo-operator started: prometheus=%s namespaces=%s refresh=%ss",
        STATE.config.prometheus_url,
        ",".join(STATE.config.namespaces) or "*",
        STATE.config.refresh_seconds,
    )


class LeanStatusDiffBaseStorage(kopf.StatusDiffBaseStorage):
    """kopf's record of the last handled spec in ``status.kopf``, built from the fields it keeps.

    kopf builds an object's essence (what it compares with that record) by deep-copying the whole
    object and then dropping ``metadata`` and ``status``: for an SLO that is mostly ``managedFields``
    and the status, copied on every event of every SLO (a tenth of the operator's CPU in a burst of
    creates). The same essence comes from a shallow body of the top-level fields and the labels and
    annotations kopf keeps. Extra fields (a handler's ``field=``) under ``spec`` are in that body; any
    under ``metadata`` or ``status`` make it kopf's own way.
    """

    def build(
        self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None
    ) -> kopf.BodyEssence:
        extra_fields = list(extra_fields or ())
        if any(_top(field) in ("metadata", "status") for field in extra_fields):
            return super().build(body=body, extra_fields=extra_fields)
        raw = dict(body)
        metadata = raw.get("metadata") or {}
        lean: dict[str, Any] = {key: value for key, value in raw.items() if key not in ("metadata", "status")}
        lean["metadata"] = {key: metadata[key] for key in ("labels", "annotations") if key in metadata}
        return super().build(body=cast(kopf.Body, lean), extra_fields=extra_fields)

    def record(self, body: dict[str, Any], progress: kopf.ProgressStorage) -> str | None:
        """The record of ``body``'s essence once it is handled (kopf's own comparison of the stored and
        the current essence, progress markers cleared), None when the stored one is current already."""
        new = progress.clear(essence=self.build(body=cast(kopf.Body, body)))
        old = self.fetch(body=cast(kopf.Body, body))
        if old is not None and progress.clear(essence=old) == new:
            return None
        return json.dumps(new, separators=(",", ":"))


STATE.diffbase = LeanStatusDiffBaseStorage(name="kopf")
STATE.progress = kopf.SmartProgressStorage()


def _due(body: dict[str, Any]) -> str | None:
    """The record of an SLO's spec (labels, annotations) to store once it is handled, None when it is the
    one last handled: kopf's create or update when not None."""
    return STATE.diffbase.record(body, STATE.progress)


def _top(field: Any) -> str:
    """The top-level key of a kopf field (a dotted string or a tuple of keys)."""
    return str(field.split(".")[0] if isinstance(field, str) else field[0])


def _prime_cache(kube: KubeClient) -> None:
    """One LIST per child kind (metadata only) and of the policies, before kopf's watches start (startup
    handlers run first); then the children's watches (``child_watch``) and kopf's policy watch keep
    ``STATE.cache`` current and reconciles list nothing."""
    managed = ",".join(f"{key}={value}" for key, value in MANAGED_BY.items())
    assert STATE.credentials is not None
    STATE.cache.manager = kube.field_manager  # whose writes leave a child's rendered digest standing
    watch = STATE.child_watch = ChildWatch(STATE.credentials, kube, STATE.cache, managed, _restore_owner)
    namespaces = STATE.config.namespaces or ("",)
    for kind in CHILD_KINDS:
        for namespace in namespaces:
            version = watch.prime(kind, namespace)
            if version is not None:  # None: the kind's CRD is not installed
                STATE.watches += (asyncio.create_task(watch.follow(kind, namespace, version)),)
    for body in kube.list_policies(STATE.config.namespaces):
        STATE.cache.observe_policy(None, body)
    for namespace in namespaces:
        STATE.listings.primed((POLICIES, namespace), time.monotonic())


def _scope(body: kopf.Body) -> str:
    """The namespace a watch covers: kopf watches each configured namespace, or all in one stream."""
    return str(body.get("metadata", {}).get("namespace")) if STATE.config.namespaces else ""


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """$KUBECONFIG when set (read at login time), else the in-cluster service account, else ~/.kube/config.

    kopf calls this again when the API answers 401, so a rotated projected token is picked up.
    """
    pod = None if os.environ.get("KUBECONFIG") else in_cluster()
    if pod is None:
        return kopf.login_with_kubeconfig(**kwargs)
    return kopf.ConnectionInfo(
        server=pod.server,
        ca_path=str(pod.ca_file) if pod.ca_file else None,
        token=pod.token(),
        default_namespace=pod.namespace,
        priority=30,  # above kopf's own service-account and client-library handlers
    )


def stale_after(refresh_seconds: float) -> float:
    """Seconds without a finished refresh cycle after which the operator reports itself unhealthy.

    Generous (three periods plus two minutes): a slow Prometheus or API server makes cycles late, and
    restarting the pod for that would only add load.
    """
    return 3 * refresh_seconds + 120


@kopf.on.probe(id="refresher")
def refresher_probe(**_: Any) -> dict[str, Any]:
    """Health of the status refresher; raising makes kopf's health endpoint answer 500."""
    return refresher_health()


def refresher_health() -> dict[str, Any]:
    """The refresher's health: raises ``kopf.PermanentError`` when it died or stalled."""
    task = STATE.refresher
    if task is None or task.done():
        raise kopf.PermanentError("the status refresher is not running")
    since = STATE.last_cycle or STATE.started
    age = time.monotonic() - since
    if age > stale_after(STATE.config.refresh_seconds):
        raise kopf.PermanentError(f"no status refresh finished for {age:.0f}s")
    return {"cycles": STATE.cycles, "secondsSinceLastCycle": round(age, 1)}


@kopf.on.cleanup()
async def cleanup(**_: Any) -> None:
    """SIGTERM (pod deletion, rollout): kopf stops watching, then this stops the refresher."""
    if STATE.refresher is not None:
        STATE.refresher.cancel()
    if STATE.trimming is not None:
        STATE.trimming.cancel()
    for task in STATE.watches:
        task.cancel()
    STATE.watches = ()
    if STATE.intake is not None:
        await STATE.intake.close()
        STATE.intake = None
    if STATE.child_watch is not None:
        await STATE.child_watch.close()
        STATE.child_watch = None
    log.info("slo-operator stopping")


async def _refresh_forever() -> None:
    while True:
        try:
            assert STATE.prometheus is not None
            await asyncio.to_thread(_check_shared, _kube())  # e.g. a namespace's last SLO deleted
            began = time.monotonic()
            report = await asyncio.to_thread(
                refresh_all,
                _kube(),
                STATE.prometheus,
                STATE.config.namespaces,
                STATE.config.heartbeat_seconds,
                options=STATE.config.render_options,
                forecaster=STATE.forecaster,
                budget=STATE.write_budget,
                reconciled_only=True,
            )
            log.info(
                "status refresh: slos=%d queries=%d writes=%d deferred=%d conflicts=%d prometheus=%s",
                report.slos,
                report.queries,
                report.writes,
                report.deferred,
                report.conflicts,
                "ok" if report.reachable else "unreachable",
            )
            for error in report.errors:
                log.warning("status refresh: %s", error)
            metrics.REFRESH_SECONDS.observe(time.monotonic() - began)
            metrics.REFRESHES.labels("ok" if report.reachable else "unreachable").inc()
            metrics.PROMETHEUS_QUERIES.inc(report.queries + report.forecast_queries)
            STATE.measured = report.measured
            STATE.trimmer.touch()  # a cycle parses every SLO: trim after it too
            STATE.cycles += 1
            STATE.last_cycle = time.monotonic()
        except asyncio.CancelledError:
            raise
        except Exception:  # never let one bad cycle stop the refresher
            metrics.REFRESHES.labels("error").inc()
            log.exception("status refresh failed; retrying next cycle")
        await asyncio.sleep(STATE.config.refresh_seconds)


def _reconcile(body: dict[str, Any], record: str | None) -> None:
    """Reconcile one SLO (in a worker thread of the intake); ``record``: the record of its spec to store
    with its status (``_due``), None when that spec was handled already."""
    STATE.trimmer.touch()
    with metrics.RECONCILE_SECONDS.time():
        try:
            _reconcile_once(body, record)
        except kopf.TemporaryError:
            metrics.RECONCILES.labels("retry").inc()
            raise
        except Exception:
            metrics.RECONCILES.labels("error").inc()
            raise
    metrics.RECONCILES.labels("ok").inc()


def _resolve_shape(body: dict[str, Any]) -> SLO | None:
    """An SLO as its shared rules see it: resolved and shaped by its policy (from the watch cache)."""
    return shaped_slo(body, _kube(), STATE.config.render_options, STATE.cache)


def _flush_shared(kube: KubeClient) -> None:
    """Write the shared PrometheusRules whose namespace's SLO shapes changed; a failure is retried at the
    next reconcile or refresh."""
    if STATE.shared is None:
        return
    try:
        for done in STATE.shared.flush(kube):
            log.info("shared rules: %s", done)
    except KubeError as exc:
        log.warning("cannot write the shared rules: %s", exc)


def _check_shared(kube: KubeClient) -> None:
    """Mark the shared PrometheusRules deleted or edited by someone else for writing again, and write them."""
    if STATE.shared is None:
        return
    try:
        for namespace in STATE.shared.check(kube, STATE.config.namespaces):
            log.info("shared rules of %s were deleted or edited: writing them again", namespace)
    except KubeError as exc:
        log.warning("cannot read the shared rules: %s", exc)
    _flush_shared(kube)


def _reconcile_once(body: dict[str, Any], record: str | None) -> None:
    kube = _kube()
    outcome = reconcile_children(body, kube, STATE.config.render_options, STATE.cache)
    if STATE.shared is not None:
        meta = body["metadata"]
        STATE.shared.update(meta["namespace"], meta["name"], outcome.slo)
        _flush_shared(kube)
    decision = reconcile_decision(body, outcome)
    meta = body["metadata"]
    status = decision.status
    measured, key = STATE.measured, (meta["namespace"], meta["name"])
    if (
        status is not None
        and outcome.slo is not None
        and not outcome.error
        and not (body.get("status") or {}).get("lastEvaluated")
        and measured is not None
        and key not in measured
    ):  # a new SLO Prometheus knows nothing of yet: the refresh would only write NoData a moment later
        current = {**(body.get("status") or {}), **status}
        unknown = key not in STATE.forecaster.history  # the forecaster has no history of it either
        status = first_status(outcome.slo, current, datetime.now(UTC), forecasting=unknown)
    # The record of the handled spec (status.kopf, kopf's format) goes with the status, in one PATCH;
    # not after a failed apply, which is retried.
    if record is not None and decision.retry is None:
        status = {**(status or {}), "kopf": {"last-handled-configuration": record}}
    if status is not None:
        kube.patch_slo_status(meta["namespace"], meta["name"], status, None)
    for event in decision.events:
        kube.post_event(body, *event)
    if decision.log is not None:
        log.log(*decision.log)
    if decision.retry is not None:
        raise kopf.TemporaryError(decision.retry, delay=10)


def _restore_owner(namespace: str, name: str) -> None:
    """A generated object was edited or deleted by someone else (``child_watch``, also while its watch
    was broken): its SLO is reconciled again, read afresh unless a newer object of it is waiting in the
    intake; further news of it meanwhile join that pending reconcile."""
    if STATE.intake is not None:
        STATE.intake.request(namespace, name)


# ---- error-budget policies ---------------------------------------------------------------------------------
# A policy's spec can change the children of the SLOs it governs (the ticket-tier alert and its route):
# re-reconcile the namespace's SLOs when a policy appears, goes or changes generation (not on the status
# writes of every refresh). Raw events: kopf keeps no state on policies, so no finalizer either.
_POLICY_GENERATIONS: dict[str, int | None] = {}


POLICIES = "errorbudgetpolicies"


@kopf.on.event(API_GROUP, API_VERSION, POLICIES)
def policy_changed(event: kopf.RawEvent, body: kopf.Body, **_: Any) -> None:
    scope = _scope(body)
    if STATE.listings.starts((POLICIES, scope), event.get("type"), time.monotonic()):
        try:  # a re-listing: policies deleted while the watch was away count as deleted now
            items = _kube().list_policies((scope,) if scope else ())
        except KubeError as exc:
            log.warning("cannot list ErrorBudgetPolicies after a re-listing: %s", exc)
        else:
            for gone in STATE.cache.resync_policies(scope or None, items):
                _policy_event("DELETED", gone)
    _policy_event(event.get("type"), body)


def _policy_event(event_type: str | None, body: Any) -> None:
    STATE.cache.observe_policy(event_type, body)
    meta = body.get("metadata", {})
    uid = str(meta.get("uid"))
    generation = None if event_type == "DELETED" else meta.get("generation")
    if _POLICY_GENERATIONS.get(uid, -1) == generation:
        return
    _POLICY_GENERATIONS[uid] = generation
    intake = STATE.intake
    if intake is None:
        return
    try:  # a page at a time, packed: they wait in the intake with the SLOs' own events
        for page in _kube().slo_pages((str(meta["namespace"]),)):
            intake.offer([intake.listed(item, True) for item in page])
    except KubeError as exc:
        log.warning("cannot list SLOs of %s after a policy change: %s", meta["namespace"], exc)


# ---- deploy-freeze overrides ------------------------------------------------------------------------------
# The API server enforces the freeze (policy.freeze_admission_policy); the operator only records, as an
# Event on the frozen SLO, each pod-template change let through by the override annotation. Raw watch
# events (no kopf state written onto users' workloads); the last template seen per workload is kept in
# memory, so a change made while the operator was down is not reported.
WORKLOADS = ("deployments", "statefulsets", "daemonsets")
_TEMPLATES: dict[str, str] = {}


def _workload_changed(event: kopf.RawEvent, body: kopf.Body, **_: Any) -> None:
    meta = body.get("metadata", {})
    uid = str(meta.get("uid"))
    if event.get("type") == "DELETED":
        _TEMPLATES.pop(uid, None)
        return
    digest = hashlib.sha256(
        json.dumps((body.get("spec") or {}).get("template"), sort_keys=True).encode()
    ).hexdigest()
    previous, _TEMPLATES[uid] = _TEMPLATES.get(uid), digest
    if previous is None or previous == digest:
        return
    override = ((meta.get("annotations") or {}).get(OVERRIDE_ANNOTATION) or "").strip()
    if not override:
        return
    service = (meta.get("labels") or {}).get(SERVICE_LABEL)
    try:
        slos = _kube().list_objects(SLO_KIND, meta["namespace"])
    except KubeError as exc:
        log.warning("cannot list SLOs of %s for a freeze override: %s", meta["namespace"], exc)
        return
    for slo in slos:
        policy = (slo.get("status") or {}).get("policy") or {}
        if (slo.get("spec") or {}).get("service") == service and policy.get("frozen"):
            message = (
                f"{body.get('kind')} {meta['name']} changed its pod template during the deploy freeze "
                f"(step {policy.get('step')} of ErrorBudgetPolicy {policy.get('name')}) with "
                f"{OVERRIDE_ANNOTATION}: {override}"
            )
            _kube().post_event(slo, "Warning", "FreezeOverridden", message)
            log.warning("%s/%s: %s", meta["namespace"], slo["metadata"]["name"], message)


for _plural in WORKLOADS:
    kopf.on.event("apps", "v1", _plural, labels={SERVICE_LABEL: kopf.PRESENT})(_workload_changed)
