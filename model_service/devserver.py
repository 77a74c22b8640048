"""Start the service (``bentoml serve``) and Prometheus as local subprocesses on loopback ports.

Used by the tests and the benchmark. Both processes run in their own process group and are stopped
by that group's id; readiness is polled with a deadline.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVICE_TARGET = "model_service.service:ModelService"


def _prometheus_bin() -> str:
    """$PROMETHEUS_BIN, else the Prometheus of the selected PROM_STACK (``devstack.promstack``)."""
    explicit = os.environ.get("PROMETHEUS_BIN")
    if explicit:
        return explicit
    try:
        from devstack import promstack
    except ImportError:  # model_service/ copied without the rest of the repository
        return "/usr/bin/prometheus"
    return promstack.path("prometheus")


PROMETHEUS_BIN = _prometheus_bin()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(
    predicate: Callable[[], bool], *, timeout: float, interval: float = 0.1, what: str = "condition"
) -> None:
    """Poll ``predicate`` until it is true; TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


class _Process:
    """A server subprocess on ``127.0.0.1:<port>`` (a free one unless given), its output in ``log_path``;
    ready once ``GET <url><ready_path>`` answers 200."""

    name = "process"
    ready_path = "/-/ready"

    def __init__(self, log_path: Path, port: int | None, startup_timeout: float) -> None:
        self.log_path = log_path
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> Self:
        raise NotImplementedError

    def _start(self, argv: list[str], env: Mapping[str, str], cwd: Path) -> Self:
        """Spawn ``argv`` and wait until it is ready; stopped again if it does not get there."""
        self._spawn(argv, env, cwd)
        try:
            wait_until(
                self._ready, timeout=self.startup_timeout, interval=0.2, what=f"{self.url}{self.ready_path}"
            )
        except BaseException:
            self.stop()
            raise
        return self

    def _ready(self) -> bool:
        self._check_alive()
        try:
            return httpx.get(f"{self.url}{self.ready_path}", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _spawn(self, argv: list[str], env: Mapping[str, str], cwd: Path) -> None:
        self._log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            argv, cwd=cwd, env=dict(env), stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _check_alive(self) -> None:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self._proc.returncode}:\n{self.log_tail()}")

    def _descendants(self) -> list[Any]:
        try:
            import psutil  # a bentoml dependency
        except ImportError:
            return []
        assert self._proc is not None
        try:
            children: list[Any] = psutil.Process(self._proc.pid).children(recursive=True)
        except psutil.Error:
            return []
        return children

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the process (and its group), then SIGKILL what is left of it and its descendants.

        BentoML's workers run in process groups of their own, so they are tracked by pid.
        """
        proc = self._proc
        if proc is None:
            return
        descendants = self._descendants()
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        for child in descendants:
            with contextlib.suppress(Exception):
                if child.is_running():
                    child.kill()
        if self._log is not None:
            self._log.close()
        self._proc = None


class ServiceProcess(_Process):
    """``bentoml serve model_service.service:ModelService`` on ``127.0.0.1:<free port>``."""

    name = "bentoml serve"
    ready_path = "/readyz"

    def __init__(
        self,
        workdir: Path,
        *,
        model_dir: Path,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        startup_timeout: float = 90.0,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        super().__init__(workdir / "bentoml-serve.log", port, startup_timeout)
        self.workdir = workdir
        self.env = {
            **os.environ,
            "BENTOML_DO_NOT_TRACK": "true",
            "BENTOML_HOME": str(workdir / "bentoml-home"),
            "MODEL_DIR": str(model_dir),
            "MODEL_TRAIN_IF_MISSING": "false",
            "MODEL_SERVICE_ACCESS_LOG": "false",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
            **(env or {}),
        }

    def start(self) -> Self:
        bentoml = Path(sys.executable).with_name("bentoml")
        argv = [str(bentoml), "serve", SERVICE_TARGET, "--host", "127.0.0.1", "--port", str(self.port)]
        return self._start(argv, self.env, REPO_ROOT)


class PrometheusProcess(_Process):
    """A throw-away Prometheus scraping ``targets`` every ``scrape_interval`` (loopback only)."""

    name = "prometheus"

    def __init__(
        self,
        workdir: Path,
        targets: list[str],
        *,
        job: str = "model-service",
        scrape_interval: str = "1s",
        port: int | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        super().__init__(workdir / "prometheus.log", port, startup_timeout)
        self.workdir = workdir
        self.job = job
        target_list = ", ".join(f'"{t}"' for t in targets)
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(
            textwrap.dedent(
                f"""\
                global:
                  scrape_interval: {scrape_interval}
                  evaluation_interval: {scrape_interval}
                scrape_configs:
                  - job_name: {job}
                    scrape_interval: {scrape_interval}
                    scrape_timeout: {scrape_interval}
                    metrics_path: /metrics
                    static_configs:
                      - targets: [{target_list}]
                """
            )
        )

    def start(self) -> Self:
        argv = [
            PROMETHEUS_BIN,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--storage.tsdb.retention.time=1h",
            "--log.level=warn",
        ]
        return self._start(argv, os.environ, self.workdir)

    def query(self, promql: str) -> list[dict[str, Any]]:
        resp = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5.0)
        resp.raise_for_status()
        result: list[dict[str, Any]] = resp.json()["data"]["result"]
        return result


def temp_workdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


class MetricsSnapshot:
    """Parsed samples of a /metrics page; ``value()`` sums the samples matching some labels."""

    def __init__(self, text: str) -> None:
        from prometheus_client.parser import text_string_to_metric_families

        self.samples: list[tuple[str, dict[str, str], float]] = [
            (s.name, dict(s.labels), float(s.value))
            for family in text_string_to_metric_families(text)
            for s in family.samples
        ]

    @classmethod
    def scrape(cls, base_url: str) -> MetricsSnapshot:
        resp = httpx.get(f"{base_url}/metrics", timeout=10.0)
        resp.raise_for_status()
        return cls(resp.text)

    def value(self, name: str, where: Callable[[dict[str, str]], bool] | None = None, **labels: str) -> float:
        """Sum of samples named ``name`` whose labels include ``labels`` (and satisfy ``where``)."""
        return sum(
            v
            for n, lab, v in self.samples
            if n == name and all(lab.get(k) == w for k, w in labels.items()) and (where is None or where(lab))
        )

    def has(self, name: str) -> bool:
        return any(n == name for n, _, _ in self.samples)
