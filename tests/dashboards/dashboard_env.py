"""A real Prometheus holding hours of known traffic and slo-operator's rules, for the dashboard tests.

How it is built (under a minute):

1. ``traffic_openmetrics`` writes 8 hours of the example SLOs' source series (scraped every 30 s) with
   known error ratios and incidents in the last hour, as OpenMetrics;
   ``promtool tsdb create-blocks-from openmetrics`` turns them into TSDB blocks.
2. The recording rules are backfilled with ``promtool tsdb create-blocks-from rules`` against a
   Prometheus reading those blocks, one dependency level at a time (a rule backfill sees only data that
   exists before it runs: base rates, then error ratios, then burn rates and budgets, then time to
   exhaustion), restarting Prometheus between levels so it loads the new blocks.
3. Prometheus then runs live with the full rule file (loaded by a reload, so alerts are written from
   the first evaluation on), so the alerting rules evaluate on top of that history and ``ALERTS`` /
   ``ALERTS_FOR_STATE`` exist (promtool does not backfill alerts).

Every query is then evaluated at one fixed instant (``evaluated_at``), for the panels and for the
operator's own ``fetch_measurements`` alike, so both read exactly the same samples.
"""

from __future__ import annotations

import math
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml
from slo_operator import tiers
from slo_operator.loader import load
from slo_operator.model import SLO, resolve
from slo_operator.promql import RECORDED_SERIES
from slo_operator.render import rule_file, to_yaml
from slo_operator.spend import SPEND_SERIES

from devstack import promstack

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "manifests" / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures.yaml"
HOURS = 8
SCRAPE = 30  # seconds between samples of the source series
INCIDENT_MINUTES = 65  # availability: errors at 1.6% (burn 16 > 14.4) in the last 65 minutes
ACCURACY_INCIDENT_MINUTES = 50  # accuracy: 55% wrong (burn 3.7 > both thresholds) in the last 50 minutes
# Freshness: features are updated at both ends of each gap (minutes before the end) and not between,
# so they are stale (older than 1h) for 3 and 1 minutes; the second gap keeps the current (14m) burn
# rate, and so the time to exhaustion, above zero.
STALE_GAPS = ((300, 237), (68, 7))
# Alerts the traffic makes fire: availability's fast burn, accuracy's fast and slow burns, and the
# checkout SLO's slow burn on route /pay.
FIRING_ALERTS = 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float, message: str, interval: float = 0.5) -> None:
    """Poll until ``predicate`` is true (exceptions count as not yet); TimeoutError naming ``message``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except (httpx.HTTPError, KeyError, IndexError, ValueError):
            pass
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {message}")
        time.sleep(interval)


def load_slos() -> list[SLO]:
    objects, problems = load([str(EXAMPLES), str(FIXTURES)])
    assert not problems, problems
    return [resolve(obj) for obj in objects]


# ---- traffic ----------------------------------------------------------------------------------------


def _labels(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _num(value: float) -> str:
    return repr(round(value, 6))


def traffic_openmetrics(end: int) -> str:
    """OpenMetrics text of every source series from ``end - HOURS`` to ``end``, one sample per SCRAPE.

    Per scrape (30 s): 300 /predict requests (0.01% failed, 1.6% during the availability incident) and
    30 /readyz probes; 300 latency observations, 2% above the 200 ms threshold; 150 evaluated
    predictions, 10% wrong (55% during the accuracy incident); features refreshed every 20 minutes except
    in two gaps (4 stale minutes); checkout: 150 requests per route, /cart 0.3% failed, /pay 4%.
    """
    start = end - HOURS * 3600
    times = list(range(start, end + 1, SCRAPE))
    series: list[tuple[str, dict[str, str], list[float]]] = []

    def counter(name: str, labels: dict[str, str], per_scrape: Any) -> None:
        total, values = 0.0, []
        for t in times:
            values.append(total)
            total += per_scrape((end - t) / 60)
        series.append((name, labels, values))

    def incident(minutes: float, limit: float) -> bool:
        return minutes < limit

    def error_ratio(minutes: float) -> float:
        return 0.016 if incident(minutes, INCIDENT_MINUTES) else 0.0001

    predict = {"endpoint": "/predict", "service_name": "cancer-classifier"}
    counter("bentoml_service_request_total", {**predict, "http_response_code": "200"},
            lambda m: 300 * (1 - error_ratio(m)))
    counter("bentoml_service_request_total", {**predict, "http_response_code": "503"},
            lambda m: 300 * error_ratio(m))
    probes = {"endpoint": "/readyz", "service_name": "cancer-classifier", "http_response_code": "200"}
    counter("bentoml_service_request_total", probes, lambda m: 30)
    for le, share in (("0.1", 0.9), ("0.2", 0.98), ("0.5", 0.995), ("1.0", 1.0), ("+Inf", 1.0)):
        counter("bentoml_service_request_duration_seconds_bucket", {"endpoint": "/predict", "le": le},
                lambda m, share=share: 300 * share)
    counter("bentoml_service_request_duration_seconds_count", {"endpoint": "/predict"}, lambda m: 300)
    counter("bentoml_service_request_duration_seconds_sum", {"endpoint": "/predict"}, lambda m: 300 * 0.08)

    def wrong(minutes: float) -> float:
        return 0.55 if incident(minutes, ACCURACY_INCIDENT_MINUTES) else 0.10

    counter("model_predictions_evaluated_total", {}, lambda m: 150)
    counter("model_predictions_correct_total", {}, lambda m: 150 * (1 - wrong(m)))
    # cost: $0.30 per 1,000 predictions (under the $0.40 maximum), 10 predictions/s, except for a price
    # tripled for 2 minutes half an hour ago: 10-minute slices above the maximum for about 8 minutes
    counter("model_predictions_total", {}, lambda m: 300)
    counter("model_serving_cost_dollars_total", {}, lambda m: 300 * 0.0003 * (3 if 28 <= m < 30 else 1))
    for route, failed in (("/cart", 0.003), ("/pay", 0.04)):
        ok, error = {"route": route, "outcome": "ok"}, {"route": route, "outcome": "error"}
        counter("checkout_requests_total", ok, lambda m, f=failed: 150 * (1 - f))
        counter("checkout_requests_total", error, lambda m, f=failed: 150 * f)

    updated, fresh = float(start), []
    for t in times:
        minutes = (end - t) / 60
        on_schedule = (t - start) % 1200 == 0 and not any(to < minutes < since for since, to in STALE_GAPS)
        if on_schedule or any(minutes in gap for gap in STALE_GAPS):
            updated = float(t)
        fresh.append(updated)
    series.append(("model_features_last_updated_timestamp_seconds", {}, fresh))

    series.extend(forecast_gauges(len(times)))

    lines = []
    for name, labels, values in series:
        text = f"{name}{_labels(labels)}" if labels else name
        lines.extend(f"{text} {_num(v)} {t}" for t, v in zip(times, values, strict=True))
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


# The SLOs with source series: the operator's /metrics exports a forecast for each (the orphan has none).
FORECAST_SLOS = (("ml-serving", "model-availability"), ("ml-serving", "model-latency"),
                 ("ml-serving", "model-accuracy"), ("ml-serving", "feature-freshness"),
                 ("shop", "checkout-success"), ("ml-serving", "serving-cost"))


def forecast_gauges(samples: int) -> list[tuple[str, dict[str, str], list[float]]]:
    """The operator's forecast gauges as its collector exports them (a constant forecast: 60% of the
    budget spent one window ahead, 40-90% between the 10th and 90th percentile), as scraped."""
    from prometheus_client import CollectorRegistry
    from slo_operator.forecast import SEASONAL, Forecast
    from slo_operator.metrics import ForecastCollector

    quantiles = {"p10": np.full(2, 0.4), "p50": np.full(2, 0.6), "p90": np.full(2, 0.9)}
    latest = {key: Forecast(model=SEASONAL, budget_consumed=0.6, violation_probability=0.05,
                            end_of_window_sli=0.9994, consumed_quantiles=quantiles)
              for key in FORECAST_SLOS}
    registry = CollectorRegistry()
    registry.register(ForecastCollector(lambda: latest))
    return [(sample.name, dict(sample.labels), [sample.value] * samples)
            for family in registry.collect() for sample in family.samples]


# ---- Prometheus -------------------------------------------------------------------------------------


class PrometheusServer:
    """/usr/bin/prometheus on a free loopback port over a given TSDB directory."""

    def __init__(self, workdir: Path, data: Path, rule_files: list[str] | None = None) -> None:
        self.workdir, self.data = workdir, data
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = workdir / f"prometheus-{self.port}.yml"
        self.config.write_text(yaml.safe_dump({
            "global": {"evaluation_interval": "30s"},
            "rule_files": list(rule_files or []),
        }))
        self.log = workdir / "prometheus.log"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> PrometheusServer:
        binary = promstack.binary("prometheus")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [binary, f"--config.file={self.config}", f"--storage.tsdb.path={self.data}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=30d",
                 "--web.enable-lifecycle"],
                stdout=log, stderr=subprocess.STDOUT,
            )

        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited:\n{self.log.read_text()[-3000:]}")
            try:
                return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, 60, message="prometheus ready")
        return self

    def __exit__(self, *_: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


def promtool(*args: str) -> None:
    binary = promstack.binary("promtool")
    result = subprocess.run([binary, *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"promtool {' '.join(args[:3])} failed:\n{result.stdout}\n{result.stderr}"


def _move_blocks(source: Path, data: Path) -> None:
    for block in source.iterdir():
        if (block / "meta.json").exists():
            shutil.move(str(block), data / block.name)


def recording_levels(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The rule file split by dependency level: each level only reads series of lower levels."""
    rules = [rule for group in document["groups"] for rule in group["rules"] if "record" in rule]
    level: dict[str, int] = {}
    names = (*RECORDED_SERIES, *SPEND_SERIES)
    for _ in range(len(names) + 1):
        for rule in rules:
            deps = [name for name in names if re.search(re.escape(name) + r"\b", rule["expr"])]
            level[rule["record"]] = max(
                level.get(rule["record"], 1), 1 + max((level.get(dep, 1) for dep in deps), default=0)
            )
    documents = []
    for n in sorted(set(level.values())):
        groups = []
        for group in document["groups"]:
            kept = [r for r in group["rules"] if "record" in r and level[r["record"]] == n]
            if kept:
                groups.append({**group, "rules": kept})
        documents.append({"groups": groups})
    return documents


@dataclass
class Environment:
    """The running Prometheus and what the tests need to know about its data."""

    url: str
    slos: list[SLO]
    start: int  # first sample of the source series (the boards' range start)
    end: int  # last sample of the source series
    evaluated_at: float = 0.0  # every query is evaluated at this instant
    workdir: Path = field(default_factory=Path)

    @property
    def range_seconds(self) -> int:
        return int(self.evaluated_at) - self.start

    def by_name(self, name: str) -> SLO:
        return next(slo for slo in self.slos if slo.name == name)


def build_environment(workdir: Path) -> Iterator[Environment]:
    """Backfill history, then run Prometheus live with every rule; yields while it runs."""
    slos = load_slos()
    end = (int(time.time()) // SCRAPE) * SCRAPE - SCRAPE
    start = end - HOURS * 3600
    data = workdir / "data"
    data.mkdir(parents=True)
    source = workdir / "source.om"
    source.write_text(traffic_openmetrics(end))
    raw_blocks = workdir / "raw-blocks"
    promtool("tsdb", "create-blocks-from", "openmetrics", str(source), str(raw_blocks))
    _move_blocks(raw_blocks, data)

    document = rule_file(slos)
    # Running sums are backfilled in a form that reads no earlier values of their own (see tiers).
    span = HOURS * 3600 + 3600
    backfill = {"groups": [{**group, "rules": [tiers.backfill_rule(rule, span) for rule in group["rules"]]}
                           for group in document["groups"]]}
    for index, level in enumerate(recording_levels(backfill), start=1):
        rules = workdir / f"rules-level-{index}.yaml"
        rules.write_text(to_yaml([level]))
        out = workdir / f"rule-blocks-{index}"
        with PrometheusServer(workdir, data) as server:
            promtool("tsdb", "create-blocks-from", "rules", f"--start={start}", f"--end={end}",
                     f"--url={server.url}", f"--output-dir={out}", "--quiet", str(rules))
        _move_blocks(out, data)

    live = workdir / "live-rules"
    live.mkdir()
    with PrometheusServer(workdir, data, [str(live / "*.yaml")]) as server:
        # Rules loaded at start-up restore alert state first and write ALERTS only from their third
        # evaluation; rules loaded by a reload write them from the first.
        all_rules = live / "rules.yaml"
        all_rules.write_text(to_yaml([document]))
        promtool("check", "rules", str(all_rules))
        httpx.post(f"{server.url}/-/reload", timeout=30).raise_for_status()
        env = Environment(server.url, slos, start, end, workdir=workdir)
        expected = FIRING_ALERTS

        def alerts_evaluated() -> bool:
            body = httpx.get(f"{server.url}/api/v1/query",
                             params={"query": 'count(ALERTS{alertstate="firing"})'}, timeout=10).json()
            result = body["data"]["result"]
            return bool(result) and float(result[0]["value"][1]) >= expected

        wait_for(alerts_evaluated, 120, message="SLO alerts evaluated live over the backfilled history")
        time.sleep(1)
        env.evaluated_at = round(time.time(), 3)
        yield env


# ---- queries ----------------------------------------------------------------------------------------


def instant(env: Environment, expr: str, at: float | None = None) -> list[dict[str, Any]]:
    """Instant query at ``at`` (default: the environment's instant); NaN and infinite values dropped."""
    when = env.evaluated_at if at is None else at
    body = httpx.get(f"{env.url}/api/v1/query", params={"query": expr, "time": when}, timeout=60).json()
    assert body["status"] == "success", f"{body}\n{expr}"
    return [item for item in body["data"]["result"] if math.isfinite(float(item["value"][1]))]


def range_query(env: Environment, expr: str, step: int) -> list[dict[str, Any]]:
    """Range query over the data, its last step exactly at the environment's instant."""
    start = env.evaluated_at - math.ceil((env.evaluated_at - env.start) / step) * step
    body = httpx.get(f"{env.url}/api/v1/query_range",
                     params={"query": expr, "start": start, "end": env.evaluated_at, "step": step},
                     timeout=120).json()
    assert body["status"] == "success", f"{body}\n{expr}"
    return list(body["data"]["result"])


class AtTime(httpx.HTTPTransport):
    """Pins every instant query of ``PrometheusClient`` to the environment's evaluation instant."""

    def __init__(self, at: float) -> None:
        super().__init__()
        self.at = at

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_merge_params({"time": str(self.at)})
        return super().handle_request(request)


# ---- Grafana's side ---------------------------------------------------------------------------------

VARIABLE = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_:]*\}?")


def substitute(expr: str, env: Environment, step: int, variables: dict[str, str] | None = None) -> str:
    """The query as Grafana sends it for the range [env.start, env.evaluated_at] at ``step`` seconds.

    Template variables at their defaults: group labels and namespaces ``All`` (``.*``). Anything left that
    looks like a variable fails the test.
    """
    values = {
        "${__from:date:seconds}": str(env.start),
        "$__rate_interval": f"{4 * step}s",
        "$__interval_ms": str(step * 1000),
        "$__interval": f"{step}s",
        "$__range": f"{env.range_seconds}s",
        "${namespace}": ".*",
        **(variables or {}),
    }
    for token in sorted(values, key=len, reverse=True):
        expr = expr.replace(token, values[token])
    leftover = VARIABLE.findall(expr)
    assert not leftover, f"unsubstituted template variables {leftover} in {expr}"
    return expr


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels") or [])
    return [p for p in found if p.get("type") != "row"]


def panel(dashboard: dict[str, Any], title: str) -> dict[str, Any]:
    matches = [p for p in panels(dashboard) if p["title"] == title]
    assert len(matches) == 1, f"{title!r}: {len(matches)} panels"
    return matches[0]


def group_variables(dashboard: dict[str, Any]) -> dict[str, str]:
    """``${label}`` -> ``.*`` for every query variable with an All option (the default selection)."""
    return {"${" + v["name"] + "}": ".*" for v in dashboard["templating"]["list"]
            if v.get("type") == "query" and v.get("includeAll")}
