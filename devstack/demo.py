"""`make demo`: the whole system on this machine, then an incident you can watch being paged.

Starts (or reuses) the control plane, local PagerDuty/Slack receivers, the BentoML model service with
traffic, Prometheus and Alertmanager, the real prometheus-operator with a Prometheus and an Alertmanager
resource as kube-prometheus-stack sets them up (``devstack.prometheus_operator`` copies what it generates
to the local servers, as the kubelet would), and slo-operator running as its own ServiceAccount.
Two modes, named in the output: **pods** when the node can run (kubelet built and images present:
`make node-build images`) -- `helm install` of the chart runs slo-operator and the model service as
pods on the local node; otherwise **processes** (slo-operator and `bentoml serve` as local processes).
It applies the four example SLOs and a cost SLO (model-cost); shows
``kubectl get slo`` with live numbers; stages a total outage of /predict; waits for the fast-burn page
to reach the PagerDuty receiver and shows the budget falling. Everything keeps running afterwards;
``make demo-down`` (``python -m devstack.demo down``) stops it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console
from rich.panel import Panel

from devstack import prometheus_operator, promstack
from devstack.cluster import REPO_ROOT, ensure_cluster, kubectl
from devstack.identity import rbac_kubeconfig

STATE = REPO_ROOT / ".demo"
VENV_BIN = Path(sys.executable).parent
NAMESPACE = "ml-serving"
RELEASE = "kube-prometheus-stack"  # Helm release name: rules and AlertmanagerConfigs carry release=<it>
console = Console(highlight=False, width=None if sys.stdout.isatty() else 132)


def pick_ports(preferred: Mapping[str, int]) -> dict[str, int]:
    """A loopback port per name: its preferred one when free, else any free one.

    Every socket stays bound until all are picked, so a fallback can neither be another name's
    preferred port nor another fallback (a port checked and released at once could be handed out
    twice).
    """
    held: list[socket.socket] = []
    chosen: dict[str, int] = {}
    try:
        for name, wanted in preferred.items():
            sock = socket.socket()
            held.append(sock)
            try:
                sock.bind(("127.0.0.1", wanted))
            except OSError:
                sock.bind(("127.0.0.1", 0))
            chosen[name] = int(sock.getsockname()[1])
    finally:
        for sock in held:
            sock.close()
    return chosen


def step(text: str) -> None:
    console.print(f"[bold cyan]==>[/] {text}")


def wait(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (httpx.HTTPError, subprocess.CalledProcessError, OSError, ValueError, KeyError):
            pass
        time.sleep(interval)
    raise SystemExit(f"demo: timed out after {timeout:.0f}s waiting for {what}; logs are in {STATE / 'logs'}")


def spawn(name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A background process that outlives `make demo`; its pid goes to .demo/pids for `make demo-down`."""
    (STATE / "logs").mkdir(parents=True, exist_ok=True)
    (STATE / "pids").mkdir(parents=True, exist_ok=True)
    log = (STATE / "logs" / f"{name}.log").open("ab")
    process = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        cwd=REPO_ROOT,
        start_new_session=True,
    )
    (STATE / "pids" / f"{name}.pid").write_text(str(process.pid))
    return process


def http_ok(url: str) -> bool:
    return httpx.get(url, timeout=2).status_code == 200


def apply(kubeconfig: Path, documents: list[dict[str, Any]]) -> None:
    kubectl("apply", "-f", "-", kubeconfig=kubeconfig, input=yaml.safe_dump_all(documents))


def slo_table(kubeconfig: Path) -> str:
    return kubectl("get", "slo", "-n", NAMESPACE, kubeconfig=kubeconfig).stdout.rstrip()


HELM_RELEASE = "slo-demo"


def node_images() -> list[str] | None:
    """The image archives for the node, or None when pods cannot run here (nothing is built on the fly)."""
    if os.environ.get("KUBECONFIG") or os.environ.get("SLO_DEMO_MODE") == "processes":
        return None
    check = subprocess.run([str(REPO_ROOT / "hack/cluster/build.sh"), "--node", "--check"],
                           capture_output=True, check=False)
    if check.returncode != 0 or not all(shutil.which(t) for t in ("containerd", "runc", "ctr")):
        return None
    archives = []
    for image in ("operator", "model"):
        proc = subprocess.run([str(REPO_ROOT / "hack/images/build.py"), "--cached", image],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            return None
        archives.append(proc.stdout.strip())
    return archives


def helm_binary() -> str:
    out = subprocess.run([str(REPO_ROOT / "hack/helm/build.sh"), "--print-path"], capture_output=True,
                         text=True, check=True).stdout
    return out.strip().splitlines()[-1]


def up(args: argparse.Namespace) -> None:
    if (STATE / "pids").exists() and any((STATE / "pids").iterdir()):
        down(argparse.Namespace(keep_cluster=True))
    STATE.mkdir(exist_ok=True)
    started = time.monotonic()

    images = node_images()
    pods = images is not None
    if pods:
        console.print("[bold]mode: pods[/] -- the operator and the model service run on the local node")
        os.environ.update(SLO_NODE="1", SLO_NODE_IMAGES=" ".join(images or []))
        step("Kubernetes control plane and one node (containerd, kubelet, kube-scheduler)")
    else:
        console.print("[bold]mode: processes[/] -- no node here (`make node-build images` enables pods)")
        step("Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager)")
    mode = "pods" if pods else "processes"
    (STATE / "mode").write_text(mode)
    kubeconfig = ensure_cluster()
    if kubeconfig.name == "kubeconfig":  # the local control plane (a reachable $KUBECONFIG is only used)
        (STATE / "cluster-started").write_text(str(kubeconfig))
    console.print(f"    kubeconfig: {kubeconfig}")

    # The operator's /metrics (its own default 8081) must not take prometheus-operator's port: in pods
    # mode the chart binds it on the node's loopback before prometheus-operator starts.
    ports = pick_ports({
        "receivers": 9099,
        "model": 3000,
        "prometheus": 9090,
        "alertmanager": 9093,
        "operator": 8080,
        "prometheus-operator": 8081,
        "operator-metrics": 8082,
    })
    (STATE / "ports.json").write_text(json.dumps(ports))
    receivers = f"http://127.0.0.1:{ports['receivers']}"
    pagerduty_url = f"{receivers}/v2/enqueue"
    slack_url = f"{receivers}/slack/T000/B000/demo"
    prometheus_url = f"http://127.0.0.1:{ports['prometheus']}"
    alertmanager_url = f"http://127.0.0.1:{ports['alertmanager']}"
    model_url = f"http://127.0.0.1:{ports['model']}"

    step("Operator identity, namespace and receiver Secrets (references only in the SLOs)")
    operator_kubeconfig = rbac_kubeconfig(kubeconfig, STATE / "operator.kubeconfig")
    apply(
        kubeconfig,
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "pagerduty", "namespace": NAMESPACE},
                "stringData": {"routing-key": "demo-routing-key-0123456789abcdef"},
            },
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "slack", "namespace": NAMESPACE},
                "stringData": {"webhook-url": slack_url},
            },
        ],
    )

    step(f"PagerDuty and Slack receivers on {receivers}")
    spawn(
        "receivers",
        [
            sys.executable,
            "-m",
            "devstack.receivers",
            "--port",
            str(ports["receivers"]),
            "--log",
            str(STATE / "deliveries.jsonl"),
        ],
    )
    (STATE / "deliveries.jsonl").touch()

    if pods:
        step(f"helm install {HELM_RELEASE}: the operator and the model service ({model_url}) as pods")
        values = {
            **yaml.safe_load((kubeconfig.parent / "node-values.yaml").read_text()),
            "healthPort": ports["operator"],
            "metricsPort": ports["operator-metrics"],
            "prometheus": {"url": prometheus_url},
            "refreshSeconds": 5,
            "rules": {"fastInterval": "10s", "slowInterval": "30s", "labels": {"release": RELEASE}},
            "routing": {
                "pagerduty": {"secretName": "pagerduty", "secretKey": "routing-key", "url": pagerduty_url},
                "slack": {"secretName": "slack", "secretKey": "webhook-url", "channel": "#ml-alerts"},
                "alertmanagerConfigLabels": {"release": RELEASE},
            },
            "modelService": {"enabled": True, "namespace": NAMESPACE, "port": ports["model"],
                             "faultInjection": True, "serviceMonitor": {"enabled": False}},
        }
        (STATE / "values.yaml").write_text(yaml.safe_dump(values))
        chart = str(REPO_ROOT / "helm" / "slo-operator")
        subprocess.run(
            [helm_binary(), "upgrade", "--install", HELM_RELEASE, chart, "-n", NAMESPACE,
             "--values", str(STATE / "values.yaml"), "--kubeconfig", str(kubeconfig)],
            check=True,
            capture_output=True,
        )
        wait(lambda: http_ok(f"{model_url}/readyz"), 300, "the model-service pod")
    else:
        step(f"Model service (BentoML) on {model_url} — training the model if needed")
        subprocess.run(
            [sys.executable, "-m", "model_service.training", "--if-missing"],
            cwd=REPO_ROOT,
            check=True,
            capture_output=True,
        )
        spawn(
            "model-service",
            [
                str(VENV_BIN / "bentoml"),
                "serve",
                "model_service.service:ModelService",
                "--host",
                "127.0.0.1",
                "--port",
                str(ports["model"]),
            ],
            env={
                "MODEL_SERVICE_ADMIN_ENABLED": "true",
                "BENTOML_HOME": str(STATE / "bentoml"),
                "BENTOML_DO_NOT_TRACK": "true",
                "MODEL_SERVICE_ACCESS_LOG": "false",
                "PYTHONPATH": str(REPO_ROOT),
            },
        )
        wait(lambda: http_ok(f"{model_url}/readyz"), 180, "the model service")

    step(f"Prometheus on {prometheus_url} and Alertmanager on {alertmanager_url}")
    rules_dir = STATE / "rules"
    shutil.rmtree(rules_dir, ignore_errors=True)  # only what prometheus-operator generates this time
    rules_dir.mkdir()
    (STATE / "prometheus.yml").write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
                "rule_files": [str(rules_dir / "*.yaml")],
                "alerting": {
                    "alertmanagers": [
                        {"static_configs": [{"targets": [f"127.0.0.1:{ports['alertmanager']}"]}]}
                    ]
                },
                "scrape_configs": [
                    {
                        "job_name": "model-service",
                        "static_configs": [{"targets": [f"127.0.0.1:{ports['model']}"]}],
                    }
                ],
            }
        )
    )
    am_config = STATE / "alertmanager.yml"
    am_config.write_text(yaml.safe_dump({"route": {"receiver": "null"}, "receivers": [{"name": "null"}]}))
    spawn(
        "prometheus",
        [
            promstack.binary("prometheus"),
            f"--config.file={STATE / 'prometheus.yml'}",
            f"--storage.tsdb.path={STATE / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
            "--web.enable-lifecycle",
        ],
    )
    spawn(
        "alertmanager",
        [
            promstack.binary("alertmanager"),
            f"--config.file={am_config}",
            f"--storage.path={STATE / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{ports['alertmanager']}",
            "--cluster.listen-address=",
        ],
    )
    wait(lambda: http_ok(f"{prometheus_url}/-/ready"), 60, "Prometheus")
    wait(lambda: http_ok(f"{alertmanager_url}/-/ready"), 60, "Alertmanager")
    step(
        "prometheus-operator (built from its Go module) with a Prometheus and an Alertmanager resource; "
        "devstack copies what it generates to the local servers"
    )
    spawn(
        "prometheus-operator",
        prometheus_operator.operator_command(
            prometheus_operator.binary(), f"127.0.0.1:{ports['prometheus-operator']}"
        ),
        env={"KUBECONFIG": str(kubeconfig)},
    )
    prometheus_version, alertmanager_version = prometheus_operator.stack_versions()
    apply(
        kubeconfig,
        prometheus_operator.monitoring_resources(
            RELEASE,
            RELEASE,
            prometheus_version=prometheus_version,
            alertmanager_version=alertmanager_version,
        ),
    )
    operator_health = f"http://127.0.0.1:{ports['prometheus-operator']}/healthz"
    wait(lambda: http_ok(operator_health), 120, "prometheus-operator")
    spawn(
        "kubelet",
        [
            sys.executable,
            "-m",
            "devstack.prometheus_operator",
            "kubelet",
            "--kubeconfig",
            str(kubeconfig),
            "--name",
            RELEASE,
            "--rules-dir",
            str(rules_dir),
            "--alertmanager-config",
            str(am_config),
            "--prometheus",
            prometheus_url,
            "--alertmanager",
            alertmanager_url,
        ],
    )

    if pods:
        deployment = f"deploy/{HELM_RELEASE}-slo-operator"
        step(f"slo-operator: a pod of release {HELM_RELEASE} (kubectl logs -n {NAMESPACE} {deployment})")
    else:
        step("slo-operator, as the ServiceAccount of manifests/rbac.yaml")
        spawn(
            "operator",
            [
                str(VENV_BIN / "slo-operator"),
                "run",
                "--kubeconfig",
                str(operator_kubeconfig),
                "--prometheus-url",
                prometheus_url,
                "--refresh-seconds",
                "5",
                "--fast-interval",
                "10s",
                "--slow-interval",
                "30s",
                "--liveness",
                f"http://127.0.0.1:{ports['operator']}/healthz",
                "--pagerduty-secret",
                "pagerduty/routing-key",
                "--pagerduty-url",
                pagerduty_url,
                "--slack-secret",
                "slack/webhook-url",
                "--slack-channel",
                "#ml-alerts",
            ],
            env={
                "SLO_OPERATOR_METRICS": f"127.0.0.1:{ports['operator-metrics']}",
                "SLO_OPERATOR_RULE_LABELS": f"release={RELEASE}",
                "SLO_OPERATOR_ALERTMANAGER_CONFIG_LABELS": f"release={RELEASE}",
            },
        )
    operator_health = f"http://127.0.0.1:{ports['operator']}/healthz"
    wait(lambda: http_ok(operator_health), 240 if pods else 60, "the operator")

    step("Traffic: 20 requests/s with ground-truth feedback 5 s later (5% label noise)")
    spawn(
        "traffic",
        [
            sys.executable,
            "-m",
            "model_service.traffic",
            "load",
            "--url",
            model_url,
            "--rate",
            "20",
            "--duration",
            str(args.traffic_hours * 3600),
            "--feedback-delay",
            "5",
            "--label-noise",
            "0.05",
            "--concurrency",
            "8",
        ],
    )

    step("The four example SLOs, and a cost SLO next to them: kubectl apply -f manifests/examples/ "
         "-f manifests/examples-extra/cost.yaml")
    kubectl("apply", "-f", str(REPO_ROOT / "manifests" / "examples"), "-f",
            str(REPO_ROOT / "manifests" / "examples-extra" / "cost.yaml"), kubeconfig=kubeconfig)
    wait(
        lambda: (
            len(
                json.loads(
                    kubectl(
                        "get", "prometheusrules", "-n", NAMESPACE, "-o", "json", kubeconfig=kubeconfig
                    ).stdout
                )["items"]
            )
            >= 5
        ),
        60,
        "the PrometheusRules",
    )

    step("Error-budget policy: a ticket at 50% of the budget; a deploy freeze (and a ticket) while paging")
    kubectl("apply", "--server-side", "-f", str(REPO_ROOT / "manifests" / "policy" / "deploy-freeze.yaml"),
            kubeconfig=kubeconfig)
    apply(kubeconfig, demo_policy(receivers))
    kubectl("label", "--overwrite", "slo", "model-availability", "policy=model-serving", "-n", NAMESPACE,
            kubeconfig=kubeconfig)

    step("prometheus-operator selects the PrometheusRules and accepts the AlertmanagerConfigs")

    def selected() -> list[str]:
        groups = httpx.get(f"{prometheus_url}/api/v1/rules", timeout=5).json()["data"]["groups"]
        files = {g["file"] for g in groups if any(r.get("name") == "SLOFastBurn" for r in g["rules"])}
        return sorted(Path(f).name for f in files) if len(files) >= 4 else []

    rule_files = wait(selected, 180, "the SLO rules in Prometheus (prometheus-operator's rule files)")

    def accepted() -> str:
        status = httpx.get(f"{alertmanager_url}/api/v2/status", timeout=5).json()
        text = str(status["config"]["original"])
        return text if f"{NAMESPACE}/model-availability-slo/pagerduty" in text else ""

    am_text = wait(accepted, 180, "the AlertmanagerConfigs in Alertmanager (prometheus-operator's Secret)")
    am_routes = yaml.safe_load(am_text)["route"].get("routes") or []
    matchers = sorted({m for r in am_routes for m in r.get("matchers") or [] if m.startswith("namespace")})
    console.print(
        Panel(
            "\n".join(
                [f"{'rule files in Prometheus' if i == 0 else '':<27}{f}" for i, f in enumerate(rule_files)]
                + [
                    f"Alertmanager routes        {len(am_routes)} "
                    f"(from Secret alertmanager-{RELEASE}-generated)",
                    f"OnNamespace matchers       {', '.join(matchers)}",
                ]
            ),
            title="generated by prometheus-operator",
        )
    )

    step("Waiting for the first measurements (rules evaluate every 10s)")

    def measured() -> bool:
        items = json.loads(kubectl("get", "slo", "-n", NAMESPACE, "-o", "json", kubeconfig=kubeconfig).stdout)
        return all((i.get("status") or {}).get("sli") is not None for i in items["items"])

    wait(measured, 300, "an SLI on every SLO", interval=2)
    console.print(Panel(slo_table(kubeconfig), title="kubectl get slo -n ml-serving (healthy)"))

    if not args.no_incident:
        incident(kubeconfig, model_url, args.incident_minutes)

    elapsed = time.monotonic() - started
    console.print(
        Panel(
            "\n".join(
                [
                    f"kubeconfig        export KUBECONFIG={kubeconfig}",
                    "SLOs              kubectl get slo -n ml-serving -o wide",
                    "                  kubectl describe slo model-availability -n ml-serving",
                    f"model service     {model_url}  (POST /predict and /feedback)",
                    "incidents         .venv/bin/python -m model_service.traffic faults set --error-rate 0.5",
                    f"Prometheus        {prometheus_url}  (try slo:error_ratio or ALERTS)",
                    f"Alertmanager      {alertmanager_url}",
                    f"PagerDuty/Slack   {receivers}  (deliveries in {STATE / 'deliveries.jsonl'})",
                    f"logs              {STATE / 'logs'}",
                    "stop everything   make demo-down",
                ]
            ),
            title=f"slo-operator demo is running ({mode}, ready in {elapsed:.0f}s)",
        )
    )


def deliveries() -> list[dict[str, Any]]:
    path = STATE / "deliveries.jsonl"
    return (
        [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    )


def incident(kubeconfig: Path, model_url: str, minutes: float) -> None:
    step("Incident: every /predict now fails with 500 (fault injection)")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "model_service.traffic",
            "faults",
            "set",
            "--url",
            model_url,
            "--error-rate",
            "1.0",
            "--duration",
            str(minutes * 60),
        ],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    )
    began = time.monotonic()

    def paged() -> dict[str, Any] | None:
        for delivery in deliveries():
            body = delivery["body"]
            if (
                delivery["path"] == "/v2/enqueue"
                and body.get("event_action") == "trigger"
                and "model-availability" in json.dumps(body)
            ):
                return body
        return None

    page = wait(paged, 600, "the fast-burn page at the PagerDuty receiver", interval=2)
    took = time.monotonic() - began
    summary = (page.get("payload") or {}).get("summary", "")
    console.print(
        Panel(
            f"PagerDuty Events v2 trigger received {took:.0f}s after the outage began:\n{summary}",
            title="paged",
            border_style="red",
        )
    )
    console.print(
        Panel(slo_table(kubeconfig), title="kubectl get slo -n ml-serving (during the outage)")
    )
    subprocess.run(
        [sys.executable, "-m", "model_service.traffic", "faults", "clear", "--url", model_url],
        cwd=REPO_ROOT,
        check=False,
        capture_output=True,
    )
    show_freeze(kubeconfig)
    step("Outage over (faults cleared); the alert resolves within the short window")


def demo_policy(receivers: str) -> list[dict[str, Any]]:
    """The demo's ErrorBudgetPolicy (webhook tickets to the local receivers) and a Deployment of the
    model service's name for the freeze to guard (an object only; the model runs on the host)."""
    labels = {"app": "cancer-classifier"}
    return [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tickets", "namespace": NAMESPACE},
         "stringData": {"url": f"{receivers}/tickets"}},
        {
            "apiVersion": "slo.mlops.dev/v1alpha1",
            "kind": "ErrorBudgetPolicy",
            "metadata": {"name": "model-serving", "namespace": NAMESPACE},
            "spec": {
                "selector": {"matchLabels": {"policy": "model-serving"}},
                "ticket": {"webhook": {"url": {"name": "tickets", "key": "url"}}},
                "steps": [
                    {"name": "ticket", "consumed": 50, "actions": ["ticket"]},
                    {"name": "freeze", "consumed": 100, "severity": "critical",
                     "actions": ["freeze", "ticket", "notify"]},
                ],
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "cancer-classifier", "namespace": NAMESPACE,
                         "labels": {"slo.mlops.dev/service": "cancer-classifier"}},
            "spec": {"replicas": 0, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "model",
                                                           "image": "cancer-classifier:1"}]}}},
        },
    ]


def show_freeze(kubeconfig: Path) -> None:
    """The policy's ticket and a deploy the API server refuses, during the outage."""

    def frozen() -> bool:
        slo = json.loads(kubectl("get", "slo", "model-availability", "-n", NAMESPACE, "-o", "json",
                                 kubeconfig=kubeconfig).stdout)
        return bool(((slo.get("status") or {}).get("policy") or {}).get("frozen"))

    wait(frozen, 300, "the error-budget policy's deploy freeze", interval=2)
    tickets = [d for d in deliveries() if d["path"].startswith("/tickets")]
    ticket = wait(lambda: [d for d in deliveries() if d["path"].startswith("/tickets")], 120, "the ticket")[0]
    console.print(Panel(f"{ticket['body'].get('title')}\nid: {ticket['body'].get('id')}",
                        title=f"ticket opened ({len(tickets) or 1} so far)", border_style="yellow"))

    def refused() -> str | None:
        proc = kubectl("set", "image", "deployment/cancer-classifier", "model=cancer-classifier:2",
                       "-n", NAMESPACE, kubeconfig=kubeconfig, check=False)
        return proc.stderr.strip() if proc.returncode != 0 else None

    message = wait(refused, 120, "the deploy to be refused", interval=2)
    title = "kubectl set image deployment/cancer-classifier (refused: deploy freeze)"
    console.print(Panel(message, title=title, border_style="red"))


def down(args: argparse.Namespace) -> None:
    pids = STATE / "pids"
    for pid_file in sorted(pids.glob("*.pid")) if pids.exists() else []:
        with contextlib.suppress(ProcessLookupError, ValueError, PermissionError):
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)
        pid_file.unlink()
    console.print("demo processes stopped")
    marker = STATE / "cluster-started"
    mode = STATE / "mode"
    if mode.exists() and mode.read_text() == "pods" and marker.exists():
        subprocess.run(
            [helm_binary(), "uninstall", HELM_RELEASE, "-n", NAMESPACE, "--kubeconfig", marker.read_text()],
            check=False,
            capture_output=True,
        )
        console.print(f"helm release {HELM_RELEASE} uninstalled (operator and model-service pods)")
        mode.unlink()
    if marker.exists() and not getattr(args, "keep_cluster", False):
        subprocess.run(
            [str(REPO_ROOT / "hack" / "cluster" / "down.sh"), str(REPO_ROOT / ".cluster")], check=False
        )
        marker.unlink()
        console.print(
            "local control plane stopped (data kept in .cluster; `make cluster-down PURGE=1` removes it)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("up", help="start everything and stage an incident")
    start.add_argument("--no-incident", action="store_true", help="only start the system")
    start.add_argument("--incident-minutes", type=float, default=5.0)
    start.add_argument("--traffic-hours", type=float, default=4.0)
    stop = commands.add_parser("down", help="stop everything `up` started")
    stop.add_argument("--keep-cluster", action="store_true")
    args = parser.parse_args()
    up(args) if args.command == "up" else down(args)


if __name__ == "__main__":
    main()
