"""Benchmark: N SLOs created at once on the local control plane, slo-operator against Sloth's controller.

Not a test (not part of ``make test``). Run::

    nice .venv/bin/python bench/scale_bench.py [--slos 1000] [--only ours|sloth] [--rounds 3]
        [--json-out FILE]

Starts (or reuses) the control plane of ``make cluster-up`` (``.cluster``), then for each controller:
a fresh namespace, the controller as a subprocess, ``--slos`` objects POSTed at once from a thread pool,
and the wall time until every one reports done (ours: condition ``Ready`` True at the current
generation; Sloth: ``status.promOpRulesGenerated`` at the current generation). The API requests each
controller made come from the API server's own counter (``apiserver_request_total`` in ``/metrics``),
as a difference between before and after, minus the requests this script made itself (the creates
and its watch of the collection); the controller's resident memory from ``/proc`` (current and peak).

slo-operator runs with the identity of ``manifests/rbac.yaml`` and a stand-in Prometheus that answers
every query with an empty result (the status then says NoData: the refresh still reads and decides for
every SLO). After all are Ready the benchmark waits one more refresh cycle so its status writes count.
Sloth (``sloth kubernetes-controller``, built by ``make peers``, never a dependency) gets the same
SLO (availability, 99.9%, 30 days) as a ``PrometheusServiceLevel`` with one SLO each, and its CRD from
its Go module. Our SLOs have two children each (PrometheusRule and dashboard ConfigMap), Sloth's one.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import http.server
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from devstack.cluster import ensure_cluster, kubectl  # noqa: E402
from devstack.identity import rbac_kubeconfig  # noqa: E402

SLOTH_BINARY = Path.home() / ".cache" / "slo-operator" / "peers" / "sloth-v0.16.0" / "sloth"
SLOTH_CRD = (
    Path.home()
    / "go/pkg/mod/github.com/slok/sloth@v0.16.0/deploy/kubernetes/helm/sloth/crds"
    / "sloth.slok.dev_prometheusservicelevels.yaml"
)
METRIC = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$")
DURATION = re.compile(r"^apiserver_request_duration_seconds_sum\{(?P<labels>[^}]*)\} (?P<value>\S+)$")
# What a controller of SLOs touches; leases and watches are reported apart (not per SLO).
RESOURCES = {
    "servicelevelobjectives",
    "prometheusservicelevels",
    "prometheusrules",
    "configmaps",
    "alertmanagerconfigs",
    "events",
    "errorbudgetpolicies",
    "secrets",
    "leases",
}
ERRORS = 'http_requests_total{job="checkout",code=~"5.."}'
TOTAL = 'http_requests_total{job="checkout"}'


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmptyPrometheus(http.server.BaseHTTPRequestHandler):
    """Answers every query with an empty result: the operator's refresh runs its queries and decides."""

    def do_GET(self) -> None:
        data: Any = [] if self.path.startswith("/api/v1/series") else {"resultType": "vector", "result": []}
        if self.path.startswith("/api/v1/query_range"):
            data = {"resultType": "matrix", "result": []}
        body = json.dumps({"status": "success", "data": data}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        pass


def request_counts(kubeconfig: Path) -> tuple[Counter[tuple[str, str, str]], Counter[tuple[str, str, str]]]:
    """apiserver_request_total, and the seconds the API server spent on them
    (apiserver_request_duration_seconds_sum), summed by (verb, resource, subresource)."""
    text = kubectl("get", "--raw", "/metrics", kubeconfig=kubeconfig).stdout
    counts: Counter[tuple[str, str, str]] = Counter()
    seconds: Counter[tuple[str, str, str]] = Counter()
    for line in text.splitlines():
        match = METRIC.match(line)
        table, value = counts, 1.0
        if not match:
            match = DURATION.match(line)
            table, value = seconds, 1000.0  # kept in milliseconds: a Counter of ints
            if not match:
                continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
        if labels.get("resource") in RESOURCES:
            key = (labels.get("verb", ""), labels["resource"], labels.get("subresource", ""))
            table[key] += int(float(match["value"]) * value)
    return counts, seconds


def quiet_api(kubeconfig: Path, quiet: float = 5.0, timeout: float = 600.0) -> float:
    """Wait until the API server has served no single GET or DELETE of the benchmark's resources for
    ``quiet`` seconds: kube-controller-manager's garbage collector still reading the dependents of a
    namespace deleted just before (the previous round's) would count against the next controller
    (hundreds of GETs of ConfigMaps during Sloth's run, which never touches one). Returns the seconds
    waited."""
    began = time.monotonic()

    def busy() -> int:
        counts, _ = request_counts(kubeconfig)
        return sum(n for (verb, res, _), n in counts.items() if verb in ("GET", "DELETE") and res != "leases")

    last, since = busy(), time.monotonic()
    while time.monotonic() - since < quiet and time.monotonic() - began < timeout:
        time.sleep(1)
        now = busy()
        if now != last:
            last, since = now, time.monotonic()
    return round(time.monotonic() - began, 1)


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields.get("VmRSS", 0), fields.get("VmHWM", 0)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat, clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def control_plane_cpu(state_dir: Path) -> float:
    """CPU seconds so far of the local control plane's kube-apiserver and etcd (0 when not ours)."""
    total = 0.0
    for name in ("kube-apiserver", "etcd"):
        with contextlib.suppress(OSError, ValueError):
            total += cpu_seconds(int((state_dir / f"{name}.pid").read_text()))
    return total


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


class Api:
    """Admin requests of the benchmark itself (creates and polling), counted to be subtracted."""

    def __init__(self, kubeconfig: Path) -> None:
        from slo_operator.kube import KubeClient, load_credentials

        self.client_credentials = load_credentials(str(kubeconfig))
        self.client = KubeClient(self.client_credentials, timeout=60)
        self.own: Counter[tuple[str, str, str]] = Counter()
        self.lock = threading.Lock()

    def create(self, path: str, resource: str, body: dict[str, Any]) -> None:
        self.client.request("POST", path, json=body, attempts=6)
        with self.lock:
            self.own["POST", resource, ""] += 1

    def list_body(self, path: str, resource: str) -> dict[str, Any]:
        with self.lock:
            self.own["LIST", resource, ""] += 1
        return self.client.request("GET", path)

    def list(self, path: str, resource: str) -> list[dict[str, Any]]:
        with self.lock:
            self.own["LIST", resource, ""] += 1
        return list(self.client.request("GET", path).get("items", []))


class Completion:
    """Which objects are done, from one LIST and then a watch of the collection (a thread).

    Polling a LIST every second made the API server serialise every SLO with its status once per
    second: at 1,000 SLOs that was about 0.2 CPU-s per LIST on this machine, slowing both controllers
    down. A watch sends each change once.
    """

    def __init__(self, api: Api, path: str, resource: str, done: Any) -> None:
        import httpx
        from slo_operator.kube import ssl_context, token_auth

        credentials = api.client_credentials
        self.api, self.path, self.resource, self.is_done = api, path, resource, done
        self.state: dict[str, bool] = {}
        self.lock = threading.Lock()
        self.error: BaseException | None = None
        self.stopped = threading.Event()
        self.http = httpx.Client(
            base_url=credentials.server, verify=ssl_context(credentials), auth=token_auth(credentials),
            timeout=httpx.Timeout(30, read=None),
        )
        body = api.client.request("GET", path)
        with api.lock:
            api.own["LIST", resource, ""] += 1
        self.observe_all(body.get("items", []))
        self.version = str(body["metadata"]["resourceVersion"])
        self.thread = threading.Thread(target=self._follow, daemon=True)
        self.thread.start()

    def observe_all(self, items: list[dict[str, Any]]) -> None:
        with self.lock:
            for item in items:
                self.state[item["metadata"]["name"]] = bool(self.is_done(item))

    def _follow(self) -> None:
        while not self.stopped.is_set():
            params = {"watch": "1", "resourceVersion": self.version, "allowWatchBookmarks": "true",
                      "timeoutSeconds": "60"}
            try:
                with self.api.lock:
                    self.api.own["WATCH", self.resource, ""] += 1
                with self.http.stream("GET", self.path, params=params) as response:
                    if response.status_code == 410:  # too old: list again
                        body = self.api.list_body(self.path, self.resource)
                        self.observe_all(body.get("items", []))
                        self.version = str(body["metadata"]["resourceVersion"])
                        continue
                    response.raise_for_status()
                    for line in response.iter_lines():
                        if self.stopped.is_set():
                            return
                        if not line.strip():
                            continue
                        event = json.loads(line)
                        obj = event.get("object") or {}
                        self.version = str(obj.get("metadata", {}).get("resourceVersion") or self.version)
                        if event.get("type") in ("ADDED", "MODIFIED"):
                            self.observe_all([obj])
            except Exception as exc:  # reported by the waiting loop
                if not self.stopped.is_set():
                    self.error = exc
                return

    def finished(self) -> int:
        if self.error is not None:
            raise RuntimeError(f"watch of {self.resource} failed: {self.error}")
        with self.lock:
            return sum(1 for done in self.state.values() if done)

    def stop(self) -> None:
        self.stopped.set()
        self.http.close()


def slo_document(namespace: str, index: int) -> dict[str, Any]:
    return {
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": f"checkout-{index:05d}", "namespace": namespace},
        "spec": {
            "service": f"checkout-{index:05d}",
            "objective": 99.9,
            "window": "30d",
            "indicator": {"availability": {"errors": ERRORS, "total": TOTAL}},
        },
    }


def sloth_document(namespace: str, index: int) -> dict[str, Any]:
    window = "{{.window}}"
    return {
        "apiVersion": "sloth.slok.dev/v1",
        "kind": "PrometheusServiceLevel",
        "metadata": {"name": f"checkout-{index:05d}", "namespace": namespace},
        "spec": {
            "service": f"checkout-{index:05d}",
            "slos": [
                {
                    "name": "availability",
                    "objective": 99.9,
                    "sli": {
                        "events": {
                            "errorQuery": f"sum(rate({ERRORS.replace('}', '')}}}[{window}]))",
                            "totalQuery": f"sum(rate({TOTAL}[{window}]))",
                        }
                    },
                    "alerting": {
                        "name": "CheckoutAvailability",
                        "pageAlert": {"disable": False},
                        "ticketAlert": {"disable": False},
                    },
                }
            ],
        },
    }


def ours_done(item: dict[str, Any]) -> bool:
    status = item.get("status") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
    return bool(
        ready.get("status") == "True" and status.get("observedGeneration") == item["metadata"]["generation"]
    )


def sloth_done(item: dict[str, Any]) -> bool:
    status = item.get("status") or {}
    return bool(
        status.get("promOpRulesGenerated")
        and status.get("observedGeneration") == item["metadata"]["generation"]
    )


def run_one(
    name: str,
    admin: Path,
    command: list[str],
    env: dict[str, str],
    documents: list[dict[str, Any]],
    path: str,
    resource: str,
    done: Any,
    namespace: str,
    workdir: Path,
    ready_url: str | None,
    settle: Any = None,
    timeout: float = 1800,
    quiet: float = float(os.environ.get("SCALE_BENCH_QUIET", "15")),
    cleanup: bool = True,
) -> dict[str, Any]:
    import httpx

    api = Api(admin)
    extra: dict[str, Any] = {"settled_seconds": quiet_api(admin)}
    kubectl("create", "namespace", namespace, kubeconfig=admin)
    log = (workdir / f"{name}.log").open("w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while ready_url:
            try:
                if httpx.get(ready_url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{name} did not become healthy; see {log.name}")
            time.sleep(0.5)
        if not ready_url:
            time.sleep(5)  # Sloth has no readiness endpoint before its informers run
        idle_rss, _ = rss_kib(process.pid)
        idle_cpu = cpu_seconds(process.pid)
        load_before = load_average()
        plane_before = control_plane_cpu(admin.parent)
        before, before_seconds = request_counts(admin)
        completion = Completion(api, path, resource, done)
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda d: api.create(path, resource, d), documents))
        created = time.monotonic() - started
        print(f"[{name}] created {len(documents)} in {created:.1f}s", file=sys.stderr)
        try:
            while (finished := completion.finished()) < len(documents):
                if time.monotonic() - started > timeout:
                    raise RuntimeError(f"{name}: only {finished}/{len(documents)} done after {timeout}s")
                time.sleep(0.2)
        finally:
            completion.stop()
        elapsed = time.monotonic() - started
        busy = cpu_seconds(process.pid) - idle_cpu
        plane = control_plane_cpu(admin.parent) - plane_before
        load_done = load_average()
        print(f"[{name}] all {len(documents)} done after {elapsed:.1f}s", file=sys.stderr)
        rss_done, peak_done = rss_kib(process.pid)  # the burst alone, before the refresh cycle below
        if settle is not None:
            extra.update(settle(process) or {})
        after, after_seconds = request_counts(admin)
        rss, peak = rss_kib(process.pid)
        time.sleep(quiet)  # the burst is over: what the controller keeps (slo-operator trims then)
        rss_quiet, _ = rss_kib(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        # Wait for the namespace to go: its garbage collection would count against the next controller.
        if cleanup:
            kubectl("delete", "namespace", namespace, "--timeout=600s", kubeconfig=admin, check=False)
    delta = after - before
    delta.subtract(api.own)
    requests = {
        f"{verb} {res}{'/' + sub if sub else ''}": n for (verb, res, sub), n in sorted(delta.items()) if n > 0
    }
    served = after_seconds - before_seconds  # the benchmark's own creates included
    server_ms = {
        f"{verb} {res}{'/' + sub if sub else ''}": n
        for (verb, res, sub), n in sorted(served.items())
        if n > 0 and verb != "WATCH"
    }
    # Single GETs of the SLOs (ours or Sloth's) come from kube-controller-manager's garbage collector, which
    # reads the owner of a new child when its own watch of the owners lags: not from either controller
    # (neither reads an object it is handed by its watch). Reported apart.
    apart = {("GET", "servicelevelobjectives"), ("GET", "prometheusservicelevels")}
    per_slo = sum(
        n for (verb, res, _), n in delta.items()
        if n > 0 and verb != "WATCH" and (verb, res) not in apart and res != "leases"
    )
    gets = sum(n for (verb, res, _), n in delta.items() if n > 0 and (verb, res) in apart)
    return {
        "controller": name,
        "slos": len(documents),
        "seconds_to_all_done": round(elapsed, 1),
        "requests": requests,
        "requests_per_slo": round(per_slo / len(documents), 2),
        "owner_gets_per_slo": round(gets / len(documents), 2),  # the garbage collector's; not counted
        # the API server's time in each kind of request meanwhile, ms per SLO (watches left out)
        "apiserver_ms_per_slo": {k: round(v / len(documents), 2) for k, v in server_ms.items()},
        "rss_idle_mib": round(idle_rss / 1024, 1),
        "rss_mib": round(rss / 1024, 1),
        "rss_peak_mib": round(peak / 1024, 1),
        "rss_quiet_mib": round(rss_quiet / 1024, 1),  # 15 s later, no new work meanwhile
        "rss_all_done_mib": [round(rss_done / 1024, 1), round(peak_done / 1024, 1)],  # current, peak
        **extra,
        "cpu_seconds_to_all_done": round(busy, 1),  # the controller's own CPU time meanwhile
        "created_seconds": round(created, 1),  # until the API server had accepted every create
        # kube-apiserver + etcd meanwhile (the benchmark's own creates and its watch included)
        "apiserver_etcd_cpu_seconds": round(plane, 1),
        "load_average_1m": [load_before, load_done],  # at the creates and when all were done
    }


def run_ours(args: argparse.Namespace, admin: Path, workdir: Path, namespace: str) -> dict[str, Any]:
    """slo-operator with the RBAC identity of manifests/rbac.yaml and the empty stand-in Prometheus."""
    identity = rbac_kubeconfig(admin, workdir / "operator.kubeconfig")
    prometheus = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), EmptyPrometheus)
    threading.Thread(target=prometheus.serve_forever, daemon=True).start()
    health = free_port()
    metrics_port = free_port()

    def one_more_refresh(process: subprocess.Popen[bytes]) -> dict[str, Any]:
        """The refresher's first cycle over all of them writes their measured status: count it.
        Returns how long the cycles meanwhile took (slo_operator_status_refresh_duration_seconds)."""
        first = refresh_seconds()
        deadline = time.monotonic() + 3 * args.refresh_seconds + 120
        while (last := refresh_seconds(first))[1] < first[1] + 1:
            if time.monotonic() > deadline:
                raise RuntimeError("no status refresh after all SLOs were Ready")
            time.sleep(1)
        cycles = last[1] - first[1]
        mean = (last[0] - first[0]) / cycles
        return {"refresh_seconds": round(mean, 1), "refresh_cycles": cycles}

    def refresh_seconds(otherwise: tuple[float, int] | None = None) -> tuple[float, int]:
        """(sum, count) of the operator's status refresh durations so far (``otherwise`` when one
        scrape fails: a garbled answer once ended a 1,000-SLO run after all were done)."""
        import httpx

        try:
            text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
        except httpx.HTTPError as exc:
            if otherwise is None:
                raise
            print(f"[slo-operator] /metrics: {exc}; again", file=sys.stderr)
            return otherwise
        metric = r"^slo_operator_status_refresh_duration_seconds_(sum|count) (\S+)$"
        found = dict(re.findall(metric, text, re.M))
        return float(found.get("sum", 0)), int(float(found.get("count", 0)))

    command = [  # SCALE_BENCH_OPERATOR: another launcher of the same CLI (e.g. under tracemalloc)
        *(os.environ.get("SCALE_BENCH_OPERATOR") or str(REPO / ".venv" / "bin" / "slo-operator")).split(),
        "run",
        "--kubeconfig",
        str(identity),
        "--prometheus-url",
        f"http://127.0.0.1:{prometheus.server_port}",
        "--refresh-seconds",
        str(args.refresh_seconds),
        "--liveness",
        f"http://127.0.0.1:{health}/healthz",
        "--log-format",
        "plain",
    ]
    try:
        return run_one(
            "slo-operator",
            admin,
            command,
            {
                **os.environ,
                "KUBECONFIG": str(identity),
                "SLO_OPERATOR_METRICS": f"127.0.0.1:{metrics_port}",
                **({"SLO_OPERATOR_DASHBOARDS": "false"} if args.no_dashboards else {}),
            },
            [slo_document(namespace, i) for i in range(args.slos)],
            f"/apis/slo.mlops.dev/v1alpha1/namespaces/{namespace}/servicelevelobjectives",
            "servicelevelobjectives",
            ours_done,
            namespace,
            workdir,
            f"http://127.0.0.1:{health}/healthz",
            one_more_refresh,
            cleanup=not args.keep_namespace,
        )
    finally:
        prometheus.shutdown()


def run_sloth(args: argparse.Namespace, admin: Path, workdir: Path, namespace: str) -> dict[str, Any]:
    """Sloth's controller, watching its namespace only, with the admin kubeconfig."""
    command = [
        str(SLOTH_BINARY),
        "kubernetes-controller",
        "--kube-local",
        "--kube-config",
        str(admin),
        "--namespace",
        namespace,
        "--metrics-listen-addr",
        f"127.0.0.1:{free_port()}",
        "--hot-reload-addr",
        f"127.0.0.1:{free_port()}",
        "--no-color",
    ]
    return run_one(
        "sloth",
        admin,
        command,
        dict(os.environ),
        [sloth_document(namespace, i) for i in range(args.slos)],
        f"/apis/sloth.slok.dev/v1/namespaces/{namespace}/prometheusservicelevels",
        "prometheusservicelevels",
        sloth_done,
        namespace,
        workdir,
        None,
        cleanup=not args.keep_namespace,
    )


def ratios(ours: dict[str, Any], sloth: dict[str, Any]) -> dict[str, float]:
    """Ours over Sloth's, for one round."""
    return {
        "time": round(ours["seconds_to_all_done"] / max(sloth["seconds_to_all_done"], 0.1), 2),
        "requests_per_slo": round(ours["requests_per_slo"] / max(sloth["requests_per_slo"], 0.01), 2),
        "peak_rss": round(ours["rss_peak_mib"] / max(sloth["rss_peak_mib"], 0.1), 2),
        "apiserver_etcd_cpu": round(
            ours["apiserver_etcd_cpu_seconds"] / max(sloth["apiserver_etcd_cpu_seconds"], 0.1), 2
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--slos", type=int, default=1000, help="number of SLOs (10000 for the large run)")
    parser.add_argument("--only", choices=("ours", "sloth"), help="run one controller only")
    parser.add_argument(
        "--rounds", type=int, default=1,
        help="rounds of both controllers, each in fresh namespaces; the order alternates (ours first in "
        "odd rounds, Sloth first in even ones) so a load that drifts weighs on both alike. Prints each "
        "round's ratios and their median",
    )
    parser.add_argument(
        "--no-dashboards", action="store_true",
        help="ours without its dashboard ConfigMaps (SLO_OPERATOR_DASHBOARDS=false): the same output as "
        "Sloth's, one PrometheusRule per SLO",
    )
    parser.add_argument("--state-dir", type=Path, default=REPO / ".cluster")
    parser.add_argument("--refresh-seconds", type=float, default=60.0)
    parser.add_argument("--json-out", type=Path)
    parser.add_argument(
        "--keep-namespace", action="store_true",
        help="leave the SLOs' namespaces (their garbage collection at 10,000 takes many minutes): for a "
        "cluster thrown away afterwards (--state-dir of its own, then hack/cluster/down.sh --purge). "
        "Both controllers still run, in namespaces of their own",
    )
    parser.add_argument(
        "--restart-apiserver", action="store_true",
        help="ours only: restart kube-apiserver under --slos SLOs and measure the recovery "
        "(bench/apiserver_restart_bench.py)",
    )
    args = parser.parse_args()
    if args.restart_apiserver:
        from apiserver_restart_bench import run

        run(args.slos, args.state_dir, args.refresh_seconds, args.json_out)
        return

    admin = ensure_cluster(args.state_dir)
    workdir = args.state_dir / "bench"
    workdir.mkdir(parents=True, exist_ok=True)
    controllers = ["ours", "sloth"] if args.only is None else [args.only]
    if "sloth" in controllers:
        if not SLOTH_BINARY.is_file():
            sys.exit(f"{SLOTH_BINARY} missing: run `make peers`")
        kubectl("apply", "--server-side", "-f", str(SLOTH_CRD), kubeconfig=admin)
        kubectl(
            "wait",
            "--for=condition=Established",
            "crd/prometheusservicelevels.sloth.slok.dev",
            kubeconfig=admin,
        )
    rounds: list[dict[str, dict[str, Any]]] = []
    try:
        for number in range(1, args.rounds + 1):
            suffix = uuid.uuid4().hex[:6]
            order = controllers if number % 2 else controllers[::-1]
            done: dict[str, dict[str, Any]] = {}
            for controller in order:
                print(f"[round {number}/{args.rounds}] {controller}", file=sys.stderr)
                runner = run_ours if controller == "ours" else run_sloth
                done[controller] = runner(args, admin, workdir, f"bench-{controller}-{suffix}")
                done[controller]["round"] = number
            rounds.append(done)
            if len(done) == 2:
                ratio = ratios(done["ours"], done["sloth"])
                print(f"[round {number}] ratios ours/sloth: {ratio}", file=sys.stderr)
    finally:
        if "sloth" in controllers:
            # Sloth's CRD goes again: kubectl would otherwise resolve `kubectl get slo` to its kind.
            kubectl("delete", "--ignore-not-found", "-f", str(SLOTH_CRD), kubeconfig=admin, check=False)
    results = [done[c] for done in rounds for c in controllers]
    for result in results:
        print(json.dumps(result, indent=2))
    if len(controllers) == 2:
        each = [ratios(done["ours"], done["sloth"]) for done in rounds]
        for number, ratio in enumerate(each, 1):
            print(f"round {number} ratios ours/sloth: " + ", ".join(f"{k} {v:.2f}" for k, v in ratio.items()))
        if len(each) > 1:
            summary = {
                key: (statistics.median(r[key] for r in each), min(r[key] for r in each),
                      max(r[key] for r in each))
                for key in each[0]
            }
            print(
                f"median ratios ours/sloth over {len(each)} rounds (min-max): "
                + ", ".join(f"{k} {m:.2f} ({lo:.2f}-{hi:.2f})" for k, (m, lo, hi) in summary.items())
            )
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
