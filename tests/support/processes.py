"""Real processes the end-to-end tests start: Prometheus (the PROM_STACK's), test exporters, the operator.

Everything listens on loopback ports picked free at start; readiness is polled with a deadline.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from devstack import promstack
from support.cluster import wait_for

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(
    process: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, grace: float = 15.0
) -> None:
    """Send ``sig`` to ``process`` if it still runs; kill it if it has not exited ``grace`` seconds later."""
    if process is not None and process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class LoopbackServer:
    """A server process on a free loopback port, its output in ``WORKDIR/<name>.log``.

    ``start`` runs ``command()`` and waits until ``GET <url><ready_path>`` answers 200; ``log()`` is the
    log (its last ``log_limit`` characters when set).
    """

    name = ""
    ready_path = "/-/ready"
    start_timeout = 30.0
    log_limit: int | None = None

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{self.name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str] | None:
        return None  # the tests' own

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, env=self.environment()
        )
        wait_for(self.ready, self.start_timeout, message=f"{self.name} ready")

    def ready(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited; log:\n{self.tail()}")
        return httpx.get(f"{self.url}{self.ready_path}", timeout=1).status_code == 200

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def log(self) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text if self.log_limit is None else text[-self.log_limit :]

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])


class Prometheus(LoopbackServer):
    """A real Prometheus server on loopback with a rule directory that tests fill and reload.

    It scrapes ``scrape_targets`` as job ``job`` and, when given, sends alerts to ``alertmanagers``.
    """

    name = "prometheus"

    def __init__(
        self,
        workdir: Path,
        scrape_targets: list[str],
        scrape_interval: str = "1s",
        *,
        job: str = "exporter",
        alertmanagers: list[str] | None = None,
    ) -> None:
        super().__init__(workdir)
        self.rules_dir = workdir / "rules"
        self.rules_dir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "prometheus.yml"
        config: dict[str, Any] = {
            "global": {"scrape_interval": scrape_interval, "evaluation_interval": "1s"},
            "rule_files": [str(self.rules_dir / "*.yaml")],
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": scrape_targets}]}],
        }
        if alertmanagers:
            config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": alertmanagers}]}]}
        self.config.write_text(yaml.safe_dump(config))

    def command(self) -> list[str]:
        return [
            promstack.binary("prometheus"),
            f"--config.file={self.config}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=1d",
        ]

    def write_rules(self, name: str, groups: list[dict[str, Any]]) -> None:
        """Write a rule file (as prometheus-operator would from a PrometheusRule); read at start or reload."""
        (self.rules_dir / f"{name}.yaml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))

    def load_rules(self, name: str, groups: list[dict[str, Any]]) -> None:
        """Write a rule file and reload."""
        self.write_rules(name, groups)
        response = httpx.post(f"{self.url}/-/reload", timeout=10)
        response.raise_for_status()

    def rule_groups(self) -> list[dict[str, Any]]:
        """The rule groups Prometheus has loaded (``/api/v1/rules``)."""
        body = httpx.get(f"{self.url}/api/v1/rules", timeout=5).json()
        assert body["status"] == "success", body
        return list(body["data"]["groups"])

    def query(self, expr: str) -> list[dict[str, Any]]:
        body = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5).json()
        assert body["status"] == "success", body
        return list(body["data"]["result"])


class OperatorProcess(LoopbackServer):
    """``slo-operator run`` as a subprocess with a given kubeconfig (the operator's own identity).

    Its port is the liveness endpoint's (``health_port``).
    """

    name = "operator"
    ready_path = "/healthz"
    start_timeout = 60.0

    def __init__(
        self,
        workdir: Path,
        kubeconfig: Path,
        prometheus_url: str,
        extra: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(workdir)
        self.env = env or {}
        self.kubeconfig = kubeconfig
        self.prometheus_url = prometheus_url
        self.extra = extra or []
        self.health_port = self.port

    def command(self) -> list[str]:
        return [
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
            f"{self.url}{self.ready_path}",
            "--log-format",
            "plain",
            *self.extra,
        ]

    def environment(self) -> dict[str, str]:
        return {**os.environ, **self.env, "KUBECONFIG": str(self.kubeconfig)}

    def stop(self, kill: bool = False) -> None:
        stop_process(self.process, signal.SIGKILL if kill else signal.SIGTERM, grace=20)
        self.process = None


class TickingExporter:
    """A prometheus_client registry on a free loopback port; a daemon thread calls ``step()`` every
    ``tick`` seconds until ``stop()``. Subclasses create their metrics, then call ``serve()``."""

    def __init__(self, tick: float) -> None:
        from prometheus_client import CollectorRegistry

        self.tick = tick
        self.registry = CollectorRegistry()
        self.port = free_port()
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._run, daemon=True)

    def serve(self) -> None:
        from prometheus_client import start_http_server

        self.server, self.thread = start_http_server(self.port, addr="127.0.0.1", registry=self.registry)
        self._worker.start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def step(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            self.step()

    def stop(self) -> None:
        self._stop.set()
        self.server.shutdown()


class SteadyTraffic(TickingExporter):
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
        from prometheus_client import Counter, Gauge, Histogram

        super().__init__(tick)
        self.error_ratio, self.slow_ratio, self.wrong_ratio = error_ratio, slow_ratio, wrong_ratio
        self.feature_age = feature_age
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
        self._ok = self.requests.labels("/predict", "200")
        self._failed = self.requests.labels("/predict", "503")
        self._probes = self.requests.labels("/readyz", "200")
        self._latency = self.duration.labels("/predict")
        self.serve()

    def step(self) -> None:
        self._ok.inc(10 * (1 - self.error_ratio))
        self._failed.inc(10 * self.error_ratio)
        self._probes.inc(1)
        slow = round(10 * self.slow_ratio)
        for i in range(10):
            self._latency.observe(0.3 if i < slow else 0.05)
        self.evaluated.inc(5)
        self.correct.inc(5 * (1 - self.wrong_ratio))
        self.features.set(time.time() - self.feature_age)
