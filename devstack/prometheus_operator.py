"""The real prometheus-operator in the loop, for `make demo` and the cluster tests.

prometheus-operator (built by ``hack/prometheus-operator/build.sh``) runs as a process against the control
plane, with a ``Prometheus`` and an ``Alertmanager`` resource configured as kube-prometheus-stack configures
them (rules and AlertmanagerConfigs selected by a ``release`` label, from every namespace, matcher strategy
OnNamespace). There are no nodes, so no pod ever starts, but the operator still writes what it generates:
the rule-file ConfigMaps ``prometheus-<name>-rulefiles-N`` and the Secret ``alertmanager-<name>-generated``
(``alertmanager.yaml.gz``).

``Kubelet`` plays only the kubelet's part: it copies those files to a local Prometheus and Alertmanager
and reloads them (``POST /-/reload``), as the config-reloader sidecar would. Nothing here interprets
PrometheusRules or AlertmanagerConfigs: what reaches Prometheus and Alertmanager is prometheus-operator's
own output. ``python -m devstack.prometheus_operator kubelet ...`` runs the copy loop as a process.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import os
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from slo_operator.kube import KubeClient, KubeError, load_credentials

from devstack import promstack

REPO_ROOT = Path(__file__).resolve().parents[1]
BUILD = REPO_ROOT / "hack" / "prometheus-operator" / "build.sh"
NAMESPACE = "monitoring"
RELEASE_LABEL = "release"


def binary() -> Path:
    """The cached operator binary (`make prometheus-operator` builds it ahead of the tests and the demo;
    here it is only a stamp check, so a cold cache fails at once instead of compiling for half an hour)."""
    out = subprocess.run([str(BUILD), "--print-path", "--check"], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        hint = out.stderr.strip()
        raise RuntimeError(f"prometheus-operator not built: run `make prometheus-operator` ({hint})")
    return Path(out.stdout.strip().splitlines()[-1])


def stack_versions() -> tuple[str | None, str | None]:
    """``X.Y.Z`` of the selected stack's Prometheus and Alertmanager (``devstack.promstack``), so that
    prometheus-operator generates configuration they understand; None where unknown."""
    found = []
    for tool in ("prometheus", "alertmanager"):
        value = promstack.version(promstack.binary(tool))
        found.append(None if value == "unknown" else value)
    return found[0], found[1]


def monitoring_resources(
    name: str,
    release: str,
    namespace: str = NAMESPACE,
    prometheus_version: str | None = None,
    alertmanager_version: str | None = None,
) -> list[dict[str, Any]]:
    """A ``Prometheus`` and an ``Alertmanager`` as kube-prometheus-stack's chart renders them for Helm
    release ``release``: PrometheusRules and AlertmanagerConfigs labelled ``release: <release>`` are picked
    from every namespace; an AlertmanagerConfig only sees alerts of its own namespace (OnNamespace).
    The versions tell the operator which configuration syntax the local servers understand."""
    selector = {"matchLabels": {RELEASE_LABEL: release}}
    prometheus: dict[str, Any] = {
        "replicas": 1,
        "ruleSelector": selector,
        "ruleNamespaceSelector": {},
        "serviceMonitorSelector": selector,
        "serviceMonitorNamespaceSelector": {},
        "podMonitorSelector": selector,
        "podMonitorNamespaceSelector": {},
        "alerting": {
            "alertmanagers": [{"namespace": namespace, "name": f"{name}-alertmanager", "port": "http-web"}]
        },
    }
    alertmanager: dict[str, Any] = {
        "replicas": 1,
        "alertmanagerConfigSelector": selector,
        "alertmanagerConfigNamespaceSelector": {},
        "alertmanagerConfigMatcherStrategy": {"type": "OnNamespace"},
    }
    if prometheus_version:
        prometheus["version"] = f"v{prometheus_version}"
    if alertmanager_version:
        alertmanager["version"] = f"v{alertmanager_version}"
    labels = {RELEASE_LABEL: release}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "Prometheus",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": prometheus,
        },
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "Alertmanager",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": alertmanager,
        },
    ]


def operator_command(executable: Path, listen: str) -> list[str]:
    """prometheus-operator's command line outside a pod: the kubeconfig comes from ``$KUBECONFIG``, no
    kubelet Service is maintained, metrics on loopback. Image names only end up in StatefulSets that never
    get pods."""
    return [
        str(executable),
        "--kubelet-service=",
        f"--web.listen-address={listen}",
        "--log-level=info",
        "--log-format=logfmt",
    ]


class OperatorProcess:
    """prometheus-operator as a child process (its log in ``workdir/prometheus-operator.log``)."""

    def __init__(self, workdir: Path, kubeconfig: Path, port: int) -> None:
        self.workdir = workdir
        self.kubeconfig = kubeconfig
        self.port = port
        self.log_path = workdir / "prometheus-operator.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                operator_command(binary(), f"127.0.0.1:{self.port}"),
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "KUBECONFIG": str(self.kubeconfig)},
                start_new_session=True,
            )

    def ready(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"prometheus-operator exited:\n{self.tail()}")
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


# ---- the kubelet's part -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Generated:
    """What prometheus-operator generated for one Prometheus/Alertmanager pair."""

    rule_files: dict[str, str]  # file name -> content, from every prometheus-<name>-rulefiles-N ConfigMap
    alertmanager_config: str | None  # alertmanager.yaml, None until the operator wrote the Secret


def read_generated(kube: KubeClient, name: str, namespace: str = NAMESPACE) -> Generated:
    """The rule-file ConfigMaps and the generated Alertmanager configuration, as a kubelet mounts them."""
    files: dict[str, str] = {}
    configmaps = kube.request(
        "GET",
        f"/api/v1/namespaces/{namespace}/configmaps",
        params={"labelSelector": f"prometheus-name={name},managed-by=prometheus-operator"},
    )
    prefix = f"prometheus-{name}-rulefiles-"
    for item in configmaps.get("items", []):
        configmap = item["metadata"]["name"]
        if configmap.startswith(prefix):
            for key, text in (item.get("data") or {}).items():
                files[f"{configmap}__{key}"] = text
    try:
        secret = kube.request("GET", f"/api/v1/namespaces/{namespace}/secrets/alertmanager-{name}-generated")
    except KubeError as exc:
        if exc.status != 404:
            raise
        return Generated(files, None)
    packed = (secret.get("data") or {}).get("alertmanager.yaml.gz")
    config = gzip.decompress(base64.b64decode(packed)).decode() if packed else None
    return Generated(files, config)


def _write_if_changed(path: Path, text: str) -> bool:
    if path.exists() and path.read_text() == text:
        return False
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return True


class Kubelet:
    """Copies prometheus-operator's output for Prometheus/Alertmanager ``name`` to local files and reloads
    the local servers when something changed. Rule files go to ``rules_dir`` as
    ``prometheus-<name>-rulefiles-N__<namespace>-<rule>-<uid>.yaml``; other files there are left alone."""

    def __init__(
        self,
        kube: KubeClient,
        name: str,
        rules_dir: Path,
        alertmanager_config: Path,
        prometheus_url: str | None,
        alertmanager_url: str | None,
        namespace: str = NAMESPACE,
    ) -> None:
        self.kube = kube
        self.name = name
        self.namespace = namespace
        self.rules_dir = rules_dir
        self.alertmanager_config = alertmanager_config
        self.prometheus_url = prometheus_url
        self.alertmanager_url = alertmanager_url
        self.syncs = 0  # completed passes (tests wait for one after a change)
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sync_once(self) -> tuple[bool, bool]:
        """One pass; returns (rule files changed, Alertmanager configuration changed), after reloading."""
        generated = read_generated(self.kube, self.name, self.namespace)
        self.rules_dir.mkdir(parents=True, exist_ok=True)
        rules_changed = False
        for file_name, text in generated.rule_files.items():
            rules_changed |= _write_if_changed(self.rules_dir / file_name, text)
        for stale in self.rules_dir.glob(f"prometheus-{self.name}-rulefiles-*"):
            if stale.name not in generated.rule_files:
                stale.unlink()
                rules_changed = True
        am_changed = False
        if generated.alertmanager_config is not None:
            am_changed = _write_if_changed(self.alertmanager_config, generated.alertmanager_config)
        if rules_changed and self.prometheus_url:
            httpx.post(f"{self.prometheus_url}/-/reload", timeout=30).raise_for_status()
        if am_changed and self.alertmanager_url:
            httpx.post(f"{self.alertmanager_url}/-/reload", timeout=30).raise_for_status()
        self.syncs += 1
        return rules_changed, am_changed

    def run(self, interval: float = 1.0) -> None:
        while not self._stop.is_set():
            try:
                self.sync_once()
                self.last_error = None
            except (KubeError, httpx.HTTPError, OSError, ValueError) as exc:
                self.last_error = str(exc)
                print(f"kubelet: sync failed, retrying: {exc}", flush=True)
            self._stop.wait(interval)

    def start(self, interval: float = 1.0) -> None:
        self._thread = threading.Thread(target=self.run, args=(interval,), daemon=True, name="kubelet")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)


def alertmanager_receivers(config_text: str) -> list[str]:
    """Receiver names in a generated Alertmanager configuration (``<namespace>/<config>/<receiver>``)."""
    config = yaml.safe_load(config_text) or {}
    return [str(r.get("name")) for r in config.get("receivers") or []]


def kube_client(kubeconfig: Path) -> KubeClient:
    return KubeClient(load_credentials(str(kubeconfig)), field_manager="devstack")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    kubelet = commands.add_parser("kubelet", help="copy the generated files to local servers, in a loop")
    kubelet.add_argument("--kubeconfig", type=Path, required=True)
    kubelet.add_argument("--name", required=True, help="name of the Prometheus and Alertmanager resources")
    kubelet.add_argument("--namespace", default=NAMESPACE)
    kubelet.add_argument("--rules-dir", type=Path, required=True)
    kubelet.add_argument("--alertmanager-config", type=Path, required=True)
    kubelet.add_argument("--prometheus", required=True, help="Prometheus base URL (reloaded on change)")
    kubelet.add_argument("--alertmanager", required=True, help="Alertmanager base URL (reloaded on change)")
    kubelet.add_argument("--interval", type=float, default=2.0)
    args = parser.parse_args()
    Kubelet(
        kube_client(args.kubeconfig),
        args.name,
        args.rules_dir,
        args.alertmanager_config,
        args.prometheus,
        args.alertmanager,
        args.namespace,
    ).run(args.interval)


if __name__ == "__main__":
    main()
