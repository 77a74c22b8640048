"""Real processes the end-to-end tests start: Prometheus (Debian package), test exporters, the operator.

Everything listens on loopback ports picked free at start; readiness is polled with a deadline.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from support.cluster import wait_for

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Prometheus:
    """A real Prometheus server on loopback with a rule directory that tests fill and reload."""

    def __init__(self, workdir: Path, scrape_targets: list[str], scrape_interval: str = "1s") -> None:
        self.workdir = workdir
        self.rules_dir = workdir / "rules"
        self.rules_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = workdir / "prometheus.yml"
        self.config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": scrape_interval, "evaluation_interval": "1s"},
                    "rule_files": [str(self.rules_dir / "*.yaml")],
                    "scrape_configs": [
                        {"job_name": "exporter", "static_configs": [{"targets": scrape_targets}]}
                    ],
                }
            )
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("prometheus") or "/usr/bin/prometheus"
        log = (self.workdir / "prometheus.log").open("ab")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={self.config}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
                "--storage.tsdb.retention.time=1d",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for(
            lambda: httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200,
            30,
            message="prometheus ready",
        )

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def load_rules(self, name: str, groups: list[dict[str, Any]]) -> None:
        """Write a rule file (as prometheus-operator would from a PrometheusRule) and reload."""
        (self.rules_dir / f"{name}.yaml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
        response = httpx.post(f"{self.url}/-/reload", timeout=10)
        response.raise_for_status()

    def query(self, expr: str) -> list[dict[str, Any]]:
        body = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5).json()
        assert body["status"] == "success", body
        return list(body["data"]["result"])


class OperatorProcess:
    """``slo-operator run`` as a subprocess with a given kubeconfig (the operator's own identity)."""

    def __init__(
        self, workdir: Path, kubeconfig: Path, prometheus_url: str, extra: list[str] | None = None
    ) -> None:
        self.workdir = workdir
        self.kubeconfig = kubeconfig
        self.prometheus_url = prometheus_url
        self.extra = extra or []
        self.log_path = workdir / "operator.log"
        self.health_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                str(REPO / ".venv" / "bin" / "slo-operator"),
                "run",
                "--kubeconfig",
                str(self.kubeconfig),
                "--prometheus-url",
                self.prometheus_url,
                "--refresh-seconds",
                "2",
                "--fast-interval",
                "1s",
                "--slow-interval",
                "2s",
                "--liveness",
                f"http://127.0.0.1:{self.health_port}/healthz",
                "--log-format",
                "plain",
                *self.extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        wait_for(self.healthy, 60, message="operator liveness endpoint")

    def healthy(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"operator exited; log:\n{self.tail()}")
        return httpx.get(f"http://127.0.0.1:{self.health_port}/healthz", timeout=1).status_code == 200

    def stop(self, kill: bool = False) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])


class SteadyTraffic:
    """A prometheus_client exporter whose counters grow at exactly known rates (the ground truth).

    Every tick adds 10 requests with ``error_ratio`` of them failed, 10 latency observations with
    ``slow_ratio`` of them above 200 ms, 5 evaluated predictions with ``wrong_ratio`` wrong, and keeps
    the feature timestamp ``feature_age`` seconds old.
    """

    def __init__(
        self,
        error_ratio: float = 0.02,
        slow_ratio: float = 0.1,
        wrong_ratio: float = 0.1,
        feature_age: float = 600.0,
        tick: float = 0.1,
    ) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

        self.error_ratio, self.slow_ratio, self.wrong_ratio = error_ratio, slow_ratio, wrong_ratio
        self.feature_age, self.tick = feature_age, tick
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "bentoml_service_request", "requests", ["endpoint", "http_response_code"], registry=self.registry
        )
        self.duration = Histogram(
            "bentoml_service_request_duration_seconds",
            "latency",
            ["endpoint"],
            buckets=(0.1, 0.2, 0.5, 1.0),
            registry=self.registry,
        )
        self.evaluated = Counter("model_predictions_evaluated", "evaluated", registry=self.registry)
        self.correct = Counter("model_predictions_correct", "correct", registry=self.registry)
        self.features = Gauge(
            "model_features_last_updated_timestamp_seconds", "features", registry=self.registry
        )
        self.port = free_port()
        self.server, self.thread = start_http_server(self.port, addr="127.0.0.1", registry=self.registry)
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._run, daemon=True)
        self._worker.start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self) -> None:
        ok = self.requests.labels("/predict", "200")
        failed = self.requests.labels("/predict", "503")
        probes = self.requests.labels("/readyz", "200")
        latency = self.duration.labels("/predict")
        while not self._stop.wait(self.tick):
            ok.inc(10 * (1 - self.error_ratio))
            failed.inc(10 * self.error_ratio)
            probes.inc(1)
            slow = round(10 * self.slow_ratio)
            for i in range(10):
                latency.observe(0.3 if i < slow else 0.05)
            self.evaluated.inc(5)
            self.correct.inc(5 * (1 - self.wrong_ratio))
            self.features.set(time.time() - self.feature_age)

    def stop(self) -> None:
        self._stop.set()
        self.server.shutdown()
