"""Benchmark: kube-apiserver restarted under N SLOs (default 1,000); how slo-operator recovers.

Not a test (not part of ``make test``). Run it on an otherwise idle machine (it is heavy)::

    nice .venv/bin/python bench/scale_bench.py --restart-apiserver [--slos 1000]

slo-operator (identity of ``manifests/rbac.yaml``, a stand-in Prometheus answering every query empty) gets
``--slos`` SLOs, all Ready, and one status refresh. Then kube-apiserver is restarted with its own flags
(hack/cluster/restart-apiserver.sh: SIGTERM, SIGKILL after 5 s of draining, start, /readyz). Right after
it is back, one new SLO is created: the time until it is Ready is the time to recover (the operator must
have re-established its SLO watch and be able to write). Two refresh cycles later the benchmark reports:

- the operator's PID (the same: it never exited) and every child's uid and resourceVersion (unchanged:
  no child recreated or rewritten);
- what the operator did after the restart, from its own ``/metrics``: reconciles, API requests by method
  and answer (its own client; kopf's watches and LISTs are not in it) and per SLO;
- what the API server served after the restart (``apiserver_request_total`` starts from zero with the new
  process): every client's requests for the SLO-related resources, kube-controller-manager's included;
- the re-listings after 410 Gone (the operator logs one line per child kind it re-lists).
"""

from __future__ import annotations

import concurrent.futures
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from devstack.cluster import ensure_cluster, kubectl, restart_apiserver  # noqa: E402
from devstack.identity import rbac_kubeconfig  # noqa: E402


def operator_counters(port: int) -> dict[str, float]:
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "slo_operator_reconciles_total":
                key = f"reconciles {sample.labels['outcome']}"
            elif sample.name == "slo_operator_api_requests_total":
                key = f"{sample.labels['method']} {sample.labels['code']}"
            else:
                continue
            out[key] = out.get(key, 0.0) + sample.value
    return out


def children(api: Any, namespace: str) -> dict[str, tuple[str, str]]:
    """Every child (PrometheusRule, dashboard ConfigMap) of the namespace: name -> (uid, resourceVersion)."""
    out: dict[str, tuple[str, str]] = {}
    for path in (
        f"/apis/monitoring.coreos.com/v1/namespaces/{namespace}/prometheusrules",
        f"/api/v1/namespaces/{namespace}/configmaps?labelSelector=slo.mlops.dev%2Fname",
    ):
        for item in api.client.request("GET", path).get("items", []):
            meta = item["metadata"]
            out[f"{item.get('kind', path.rsplit('/', 1)[-1])}/{meta['name']}"] = (
                meta["uid"],
                meta["resourceVersion"],
            )
    return out


def run(slos: int, state_dir: Path, refresh_seconds: float, json_out: Path | None) -> dict[str, Any]:
    import scale_bench as sb

    admin = ensure_cluster(state_dir)
    workdir = state_dir / "bench"
    workdir.mkdir(parents=True, exist_ok=True)
    identity = rbac_kubeconfig(admin, workdir / "operator.kubeconfig")
    prometheus = http.server.ThreadingHTTPServer(("127.0.0.1", sb.free_port()), sb.EmptyPrometheus)
    threading.Thread(target=prometheus.serve_forever, daemon=True).start()
    health, metrics = sb.free_port(), sb.free_port()
    namespace = f"bench-restart-{uuid.uuid4().hex[:6]}"
    path = f"/apis/slo.mlops.dev/v1alpha1/namespaces/{namespace}/servicelevelobjectives"
    logfile = workdir / "restart-operator.log"
    api = sb.Api(admin)
    kubectl("create", "namespace", namespace, kubeconfig=admin)
    command = [
        str(REPO / ".venv" / "bin" / "slo-operator"), "run", "--kubeconfig", str(identity),
        "--prometheus-url", f"http://127.0.0.1:{prometheus.server_port}",
        "--refresh-seconds", str(refresh_seconds), "--liveness", f"http://127.0.0.1:{health}/healthz",
        "--log-format", "plain",
    ]
    env = {**os.environ, "KUBECONFIG": str(identity), "SLO_OPERATOR_METRICS": f"127.0.0.1:{metrics}"}
    log = logfile.open("w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def refreshes() -> int:
        return logfile.read_text().count("status refresh: slos=")

    def wait(predicate: Any, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while not (result := predicate()):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{what}: not within {timeout:.0f}s (operator log: {logfile})")
            time.sleep(1)
        return result

    def all_ready(expected: int) -> bool:
        items = api.list(path, "servicelevelobjectives")
        return sum(1 for item in items if sb.ours_done(item)) == expected

    try:
        import httpx

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{health}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait(healthy, 180, "operator healthy")
        pid = process.pid

        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: api.create(path, "servicelevelobjectives", sb.slo_document(namespace, i)),
                          range(slos)))
        wait(lambda: all_ready(slos), 1800, f"{slos} SLOs Ready")
        print(f"[restart] {slos} Ready after {time.monotonic() - started:.1f}s", file=sys.stderr)
        # Settled: a whole refresh cycle with nothing to write (the first cycles catch up on conflicts
        # with the reconciles still writing status; those writes are not the restart's).
        quiet = "writes=0 deferred=0 conflicts=0"
        seen = logfile.read_text().count(quiet)
        wait(lambda: logfile.read_text().count(quiet) > seen, 6 * refresh_seconds + 300, "a quiet refresh")
        settled = children(api, namespace)
        before = operator_counters(metrics)
        relists_before = logfile.read_text().count("resumed by a re-listing")

        away = restart_apiserver(admin)
        back = time.monotonic()
        print(f"[restart] kube-apiserver away {away:.1f}s", file=sys.stderr)
        probe = sb.slo_document(namespace, slos)
        api.client.request("POST", path, json=probe, attempts=10)
        probe_path = f"{path}/{probe['metadata']['name']}"
        wait(lambda: sb.ours_done(api.client.request("GET", probe_path)), 600, "the probe SLO Ready")
        recovered = time.monotonic() - back
        print(f"[restart] a new SLO Ready {recovered:.1f}s after the API server was back", file=sys.stderr)
        seen = refreshes()
        wait(lambda: refreshes() >= seen + 2, 6 * refresh_seconds + 300, "two refreshes after the restart")
        refresh_back = time.monotonic() - back
        after = operator_counters(metrics)
        final = children(api, namespace)
        server_side, _ = sb.request_counts(admin)  # the new process counts from zero
        text = logfile.read_text()
        result = {
            "slos": slos,
            "apiserver_away_seconds": away,
            "seconds_to_recover": round(recovered, 1),
            "seconds_to_two_refreshes": round(refresh_back, 1),
            "same_pid": process.poll() is None and process.pid == pid,
            "children_rewritten": sum(1 for k, v in settled.items() if final.get(k) != v),
            "children_total": len(final),
            "operator_after_restart": {k: after.get(k, 0) - before.get(k, 0) for k in sorted(after)
                                       if after.get(k, 0) - before.get(k, 0)},
            "operator_requests_per_slo": round(
                sum(after.get(k, 0) - before.get(k, 0) for k in after if not k.startswith("reconciles"))
                / slos, 3),
            "apiserver_after_restart": {
                f"{verb} {res}{'/' + sub if sub else ''}": n
                for (verb, res, sub), n in sorted(server_side.items())
            },
            "apiserver_requests_per_slo_after_restart": round(
                sum(n for (verb, res, _), n in server_side.items() if verb != "WATCH" and res != "leases")
                / slos,
                3,
            ),
            "relistings_after_410": text.count("resumed by a re-listing") - relists_before,
            "relisting_lines": [line for line in text.splitlines() if "resumed by a re-listing" in line][-4:],
        }
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        prometheus.shutdown()
        kubectl("delete", "namespace", namespace, "--timeout=600s", kubeconfig=admin, check=False)
    print(json.dumps(result, indent=2))
    if json_out:
        json_out.write_text(json.dumps(result, indent=2))
    return result
