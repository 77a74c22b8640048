"""Test-side helpers for alert routing: amtool, real Alertmanager and Prometheus processes, fake PagerDuty /
Slack endpoints and an exporter with injectable incidents. What prometheus-operator makes of the rendered
AlertmanagerConfigs comes from the real operator (``support.monitoring``), never from a re-implementation.
"""

from __future__ import annotations

import copy
import re
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml
from slo_operator.api import ServiceLevelObjective
from slo_operator.model import SLO, resolve
from support import processes
from support.cluster import wait_for
from support.processes import LoopbackServer, TickingExporter

from devstack import promstack
from devstack.receivers import Delivery, FakeReceivers  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "manifests" / "examples"
GOLDEN = REPO / "tests" / "routing" / "golden"

ROUTING = {
    "pagerduty": {"routingKey": {"name": "pagerduty", "key": "routing-key"}},
    "slack": {"apiURL": {"name": "slack-webhook", "key": "url"}, "channel": "#ml-alerts"},
}

T = TypeVar("T")


def poll(predicate: Callable[[], T], timeout: float, message: str, interval: float = 0.1) -> T:
    """``wait_for`` with the routing tests' argument order: the first truthy value of ``predicate``."""
    return wait_for(predicate, timeout, interval, message)


def example_document(name: str, routing: dict[str, Any] | None = None) -> dict[str, Any]:
    """An example SLO document from manifests/examples, with ``spec.alerting.routing`` set when given."""
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    if routing is not None:
        document["spec"].setdefault("alerting", {})["routing"] = copy.deepcopy(routing)
    return document


def slo_of(document: dict[str, Any]) -> SLO:
    return resolve(ServiceLevelObjective.model_validate(document))


# ---- amtool ----------------------------------------------------------------------------------------


def amtool() -> str:
    return promstack.binary("amtool")


def utf8_matchers() -> bool:
    """Alertmanager 0.27+ parses matchers with its UTF-8 parser (classic parser only as a fallback)."""
    major, minor = (int(part) for part in promstack.version(amtool()).split(".")[:2])
    return (major, minor) >= (0, 27)


# What Alertmanager 0.27+ logs when a matcher needs the classic parser, or the two parsers disagree.
PARSER_FALLBACK = re.compile(r"incompatible|disagreement|classic matchers parser", re.IGNORECASE)


def amtool_command(*args: str) -> list[str]:
    """amtool with ``args``; in UTF-8 strict mode (no classic fallback) where the version has it."""
    return [amtool(), *(["--enable-feature=utf8-strict-mode"] if utf8_matchers() else []), *args]


def check_config(path: Path) -> None:
    """``amtool check-config``: valid, and every matcher (routes, inhibit rules) is UTF-8-parser clean.

    On 0.27+ the default mode must not fall back to the classic parser (it logs a warning) and strict
    UTF-8 mode must accept the file too; on 0.25 the classic parser is the only one.
    """
    result = subprocess.run([amtool(), "check-config", str(path)], capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"amtool check-config {path} failed:\n{output}"
    if utf8_matchers():
        assert not PARSER_FALLBACK.search(output), f"matchers not UTF-8-parser clean in {path}:\n{output}"
        strict = subprocess.run(amtool_command("check-config", str(path)), capture_output=True, text=True,
                                timeout=60)
        assert strict.returncode == 0, f"amtool check-config (UTF-8 strict):\n{strict.stdout}{strict.stderr}"


def route_receivers(path: Path, labels: dict[str, str]) -> list[str]:
    """The receivers Alertmanager picks for an alert with ``labels`` (``amtool config routes test``)."""
    result = subprocess.run(
        amtool_command(
            "config", "routes", "test", f"--config.file={path}", *(f"{k}={v}" for k, v in labels.items())
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # 0.27+ logs (e.g. "UTF-8 strict mode enabled") to stdout as logfmt lines before the answer.
    answer = [line for line in result.stdout.splitlines() if line.strip() and not line.startswith("time=")]
    assert len(answer) == 1, result.stdout
    return [name.strip() for name in answer[0].split(",") if name.strip()]


# ---- fake PagerDuty Events v2 and Slack webhook ----------------------------------------------------------



# ---- real processes ----------------------------------------------------------------------------------


class Alertmanager(LoopbackServer):
    """Alertmanager of the selected PROM_STACK on loopback, clustering off, with a given configuration."""

    name = "alertmanager"
    log_limit = 4000

    def __init__(self, workdir: Path, config: dict[str, Any]) -> None:
        super().__init__(workdir)
        self.config_path = workdir / "alertmanager.yml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    def command(self) -> list[str]:
        return [
            promstack.binary("alertmanager"),
            f"--config.file={self.config_path}",
            f"--storage.path={self.workdir / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",
            "--log.level=debug",
        ]

    def alerts(self, **filters: str) -> list[dict[str, Any]]:
        params = [("filter", f'{k}="{v}"') for k, v in filters.items()]
        response = httpx.get(f"{self.url}/api/v2/alerts", params=params, timeout=5)
        response.raise_for_status()
        return list(response.json())

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        httpx.post(f"{self.url}/api/v2/alerts", json=alerts, timeout=5).raise_for_status()


class Prometheus(processes.Prometheus):
    """The Debian Prometheus on loopback: scrapes the exporter every second, evaluates the given rule
    groups and sends alerts to the given Alertmanager."""

    log_limit = 4000

    def __init__(self, workdir: Path, target: str, groups: list[dict[str, Any]], alertmanager: str) -> None:
        super().__init__(workdir, [target], job="app", alertmanagers=[alertmanager])
        self.write_rules("rules", groups)

    def fired_at(self, alertname: str, slo: str) -> float | None:
        """Unix time the alert became active (Prometheus' ``activeAt``), None while it is not."""
        body = httpx.get(f"{self.url}/api/v1/alerts", timeout=5).json()
        for alert in body["data"]["alerts"]:
            if alert["labels"].get("alertname") == alertname and alert["labels"].get("slo") == slo:
                stamp = re.sub(r"(\.\d{6})\d*", r"\1", alert["activeAt"]).replace("Z", "+00:00")
                return datetime.fromisoformat(stamp).timestamp()
        return None


class Traffic(TickingExporter):
    """A prometheus_client exporter: per scenario, ``rate`` requests/s of which ``error_ratio`` fail.

    ``set_error_ratio`` injects or ends an incident and returns the monotonic time it took effect.
    """

    def __init__(self, scenarios: list[str], rate: float = 100.0, tick: float = 0.1) -> None:
        from prometheus_client import Counter

        super().__init__(tick)
        self.requests = Counter("app_requests", "requests", ["scenario"], registry=self.registry)
        self.errors = Counter("app_request_errors", "failed requests", ["scenario"], registry=self.registry)
        self.ratios = dict.fromkeys(scenarios, 0.0)
        for scenario in scenarios:  # series exist from the first scrape, errors at 0
            self.requests.labels(scenario)
            self.errors.labels(scenario)
        self.per_tick = rate * tick
        self._lock = threading.Lock()
        self.serve()

    def set_error_ratio(self, scenario: str, ratio: float) -> tuple[float, float]:
        """Takes effect at the next tick; returns (monotonic, unix) time of the change."""
        with self._lock:
            self.ratios[scenario] = ratio
            return time.monotonic(), time.time()

    def step(self) -> None:
        with self._lock:
            for scenario, ratio in self.ratios.items():
                self.requests.labels(scenario).inc(self.per_tick)
                self.errors.labels(scenario).inc(self.per_tick * ratio)
