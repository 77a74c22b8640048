"""Young SLOs against a real Prometheus holding a month of raw history (promtool-backfilled).

Four services share one Prometheus; their counters are functions of time (``Traffic``), backfilled every
minute for up to 32 days and served live by an exporter from the same functions, so the expected window
figures are exact arithmetic. The rules are rendered by slo-operator and evaluated live by Prometheus:

- ``fresh``: 32 days of raw history, rules applied now: the first refresh reads raw history (budget
  within 1% of the raw 30-day count, not the minutes since the rules appeared);
- ``weeks``: the recorded series backfilled for 20 days (the SLO is three weeks old): still raw;
- ``mature``: recorded for 31 days: the recorded series, and the same figures;
- ``newborn``: a service with 3 days of history and a 30-minute outage: coverage 10%, budget counted
  against the whole window's budget, ``Warming`` — recorded alone, it reads about -640%.

A refresh of all four is ``fetch_measurements`` plus one raw-history query, whatever their number.
"""

from __future__ import annotations

import math
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from slo_operator.api import ServiceLevelObjective
from slo_operator.coverage import RAW, RECORDED, indicator_hash
from slo_operator.model import SLO, resolve
from slo_operator.prometheus import PrometheusClient, fetch_measurements, fetch_window_measurements
from slo_operator.promql import BAD_EVENTS, RECORDING_SINCE, RUNNING_SUMS, TOTAL_EVENTS
from slo_operator.reports.compute import slo_month_report
from slo_operator.reports.data import HOUR, ReportRange
from slo_operator.reports.source import PrometheusRangeClient, fetch_month
from slo_operator.rules import RuleOptions, rule_groups
from slo_operator.status import refreshed_status
from support.cluster import wait_for
from support.processes import Prometheus, free_port

from devstack import promstack

pytestmark = pytest.mark.slow

DAY = 86400
WINDOW = 30 * DAY
RATE = 10.0  # requests per second, every service
BASELINE = 0.0005  # error ratio outside incidents
NAMESPACE = "young"
OPTIONS = RuleOptions(fast_interval="5s", slow_interval="5s")
REFRESH_DEADLINE = 120.0  # rule groups run every 5 s; generous for a loaded two-core machine


@dataclass(frozen=True)
class Traffic:
    """Counters of one service as exact functions of time: RATE requests/s from ``start``, a BASELINE
    error ratio, and ``incidents`` of (start, end, error ratio)."""

    start: float
    incidents: tuple[tuple[float, float, float], ...] = ()

    def requests(self, t: float) -> float:
        return RATE * max(0.0, t - self.start)

    def errors(self, t: float) -> float:
        count = RATE * BASELINE * max(0.0, t - self.start)
        for a, b, ratio in self.incidents:
            overlap = max(0.0, min(t, b) - max(a, self.start))
            count += RATE * (ratio - BASELINE) * overlap
        return count

    def error_ratio(self, t0: float, t1: float) -> float:
        t0 = max(t0, self.start)
        return (self.errors(t1) - self.errors(t0)) / (self.requests(t1) - self.requests(t0))


def slo_for(service: str) -> SLO:
    return resolve(ServiceLevelObjective.model_validate({
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": service, "namespace": NAMESPACE},
        "spec": {"service": service, "objective": 99.9, "window": "30d", "indicator": {"availability": {
            "errors": f'http_requests_total{{svc="{service}",code="500"}}',
            "total": f'http_requests_total{{svc="{service}"}}'}}},
    }))


class Exporter:
    """Serves every service's counters at scrape time, from the same functions the backfill used."""

    def __init__(self, traffic: dict[str, Traffic]) -> None:
        self.port = free_port()
        body = self._body

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                data = body(time.time()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.traffic = traffic
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _body(self, t: float) -> str:
        lines = ["# TYPE http_requests_total counter"]
        for svc, traffic in self.traffic.items():
            errors = traffic.errors(t)
            lines.append(f'http_requests_total{{svc="{svc}",code="200"}} {traffic.requests(t) - errors!r}')
            lines.append(f'http_requests_total{{svc="{svc}",code="500"}} {errors!r}')
        return "\n".join(lines) + "\n"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def write_openmetrics(
    path: Path, traffic: dict[str, Traffic], recorded: dict[str, float], end: float
) -> None:
    """Raw counters every minute from each service's start; for SLOs in ``recorded`` (name -> since)
    also the series the fast rule group would have recorded every minute since then."""
    with path.open("w") as out:
        out.write("# TYPE http_requests counter\n")
        for svc, tr in traffic.items():
            for code in ("200", "500"):
                t = math.ceil(tr.start / 60) * 60
                while t <= end:
                    errors = tr.errors(t)
                    value = errors if code == "500" else tr.requests(t) - errors
                    out.write(f'http_requests_total{{svc="{svc}",code="{code}"}} {value!r} {t}\n')
                    t += 60
        for name, figure in ((BAD_EVENTS, "bad"), (TOTAL_EVENTS, "total"), (RECORDING_SINCE, "since")):
            out.write(f"# TYPE {name.replace(':', '_')} gauge\n")
            for svc, since in recorded.items():
                tr, slo = traffic[svc], slo_for(svc)
                labels = f'slo="{svc}",namespace="{NAMESPACE}",service="{svc}"'
                labels += f',indicator="{indicator_hash(slo)}"' if figure == "since" else ',window="5m"'
                t = math.ceil(since / 60) * 60
                while t <= end:
                    if figure == "since":
                        value = since
                    else:
                        counter = tr.errors if figure == "bad" else tr.requests
                        value = (counter(t) - counter(t - 300)) / 300
                    out.write(f"{name}{{{labels}}} {value!r} {t}\n")
                    t += 60
        # The running sums the fast group keeps of the two rates (long windows are their differences):
        # every rate sample so far, added up.
        sums = ((RUNNING_SUMS[BAD_EVENTS], "errors"), (RUNNING_SUMS[TOTAL_EVENTS], "requests"))
        for name, counter_of in sums:
            out.write(f"# TYPE {name.replace(':', '_')} gauge\n")
            for svc, since in recorded.items():
                counter = getattr(traffic[svc], counter_of)
                labels = f'slo="{svc}",namespace="{NAMESPACE}",service="{svc}",tier="fine"'
                t, total = math.ceil(since / 60) * 60, 0.0
                while t <= end:
                    total += (counter(t) - counter(t - 300)) / 300
                    out.write(f"{name}{{{labels}}} {total!r} {t}\n")
                    t += 60
        out.write("# EOF\n")


class BackfilledPrometheus(Prometheus):
    """The tests' Prometheus with a retention long enough to keep the backfilled month."""

    def command(self) -> list[str]:
        kept = [arg for arg in super().command() if not arg.startswith("--storage.tsdb.retention")]
        return [*kept, "--storage.tsdb.retention.time=100y"]


@dataclass
class Scenario:
    prometheus: Prometheus
    traffic: dict[str, Traffic]
    slos: dict[str, SLO]
    since: dict[str, float]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    promtool = promstack.binary("promtool")  # the PROM_STACK's, like the server Prometheus runs
    workdir = tmp_path_factory.mktemp("young")
    now = time.time()
    month_ago = now - 32 * DAY
    incident = (now - 10 * DAY, now - 10 * DAY + 3600, 0.2)
    traffic = {
        "fresh": Traffic(month_ago, (incident,)),
        "weeks": Traffic(month_ago, (incident,)),
        "mature": Traffic(month_ago, (incident,)),
        "newborn": Traffic(now - 3 * DAY, ((now - DAY, now - DAY + 1800, 1.0),)),
    }
    since = {"weeks": now - 20 * DAY, "mature": now - 31 * DAY}
    data = workdir / "history.om"
    write_openmetrics(data, traffic, since, now - 60)
    (workdir / "data").mkdir()
    result = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=800h", str(data),
         str(workdir / "data")], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    data.unlink()
    exporter = Exporter(traffic)
    prometheus = BackfilledPrometheus(workdir, [f"127.0.0.1:{exporter.port}"], scrape_interval="5s")
    slos = {name: slo_for(name) for name in traffic}
    for slo in slos.values():
        prometheus.write_rules(slo.name, rule_groups(slo, OPTIONS))
    prometheus.start()
    try:
        yield Scenario(prometheus, traffic, slos, since)
    finally:
        prometheus.stop()
        exporter.stop()


def refresh(scenario: Scenario) -> tuple[dict[str, dict[str, Any]], int, float]:
    """One status refresh of every SLO as the operator does it: (status by name, queries, when)."""
    with PrometheusClient(scenario.prometheus.url, timeout=60) as client:
        now = time.time()
        measurements = fetch_measurements(client)
        figures = fetch_window_measurements(client, list(scenario.slos.values()), measurements, now)
        statuses = {}
        for name, slo in scenario.slos.items():
            measurement, coverage = figures[(NAMESPACE, name)]
            statuses[name] = refreshed_status(
                slo, {}, measurement, True, "", datetime.fromtimestamp(now, UTC), coverage)
        return statuses, client.queries_made, now


def consumed(traffic: Traffic, now: float, fraction: float = 1.0) -> float:
    """Percent of the 30d budget spent, from the counters' functions."""
    return 100 * traffic.error_ratio(now - WINDOW, now) / 0.001 * fraction


def test_first_refresh_reads_raw_history_for_young_slos(scenario: Scenario) -> None:
    statuses, queries, now = refresh(scenario)
    assert queries == 7, "fetch_measurements' six queries and one raw-history query for every young SLO"
    for name in ("fresh", "weeks"):
        status = statuses[name]
        expected = consumed(scenario.traffic[name], now)
        assert 70 < expected < 85  # the incident and the baseline: a known share of the budget
        assert status["errorBudget"]["consumed"] == pytest.approx(expected, abs=1.0), (name, status)
        assert status["window"]["source"] == RAW and status["window"]["covered"] == 100.0, status
        assert status["state"] == "Meeting", status
    assert statuses["weeks"]["window"]["since"] == datetime.fromtimestamp(
        scenario.since["weeks"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    newborn = statuses["newborn"]
    traffic = scenario.traffic["newborn"]
    ratio = traffic.error_ratio(traffic.start, now)
    assert 100 * ratio / 0.001 > 600  # what the recorded-style arithmetic would call spent: 7x the budget
    covered = newborn["window"]["covered"]
    assert 10.0 <= covered <= 10.2, newborn  # 3 days of 30, rounded up by at most one 1h grid step
    assert newborn["errorBudget"]["consumed"] == pytest.approx(
        100 * ratio / 0.001 * covered / 100, abs=1.0), newborn
    assert newborn["state"] == "Warming", newborn
    assert newborn["window"]["source"] == RAW
    (condition,) = [c for c in newborn["conditions"] if c["type"] == "WindowCovered"]
    assert condition["status"] == "False" and condition["reason"] == "PartialHistory"


def test_covered_slo_reads_the_recorded_series_with_the_same_figures(scenario: Scenario) -> None:
    def recorded_ready() -> dict[str, Any] | None:
        statuses, queries, now = refresh(scenario)
        status = statuses["mature"]
        return (status, queries, now) if status["sli"] is not None else None  # type: ignore[return-value]

    status, queries, now = wait_for(recorded_ready, REFRESH_DEADLINE, message="recorded SLI of mature")
    assert status["window"]["source"] == RECORDED and status["window"]["covered"] == 100.0, status
    expected = consumed(scenario.traffic["mature"], now)
    assert status["errorBudget"]["consumed"] == pytest.approx(expected, abs=1.0)
    assert status["state"] == "Meeting"
    (condition,) = [c for c in status["conditions"] if c["type"] == "WindowCovered"]
    assert (condition["status"], condition["reason"]) == ("True", "Recorded")
    assert queries == 7  # the young ones still share one raw query


def test_recording_since_is_carried_by_the_rules(scenario: Scenario) -> None:
    """The live rule keeps the backfilled start of ``mature`` and starts ``fresh`` at its first run."""

    def since() -> dict[str, float] | None:
        found = {r["metric"]["slo"]: float(r["value"][1]) for r in scenario.prometheus.query(RECORDING_SINCE)}
        return found if {"mature", "fresh"} <= set(found) else None

    found = wait_for(since, REFRESH_DEADLINE, message="slo:recording_since:timestamp")
    assert found["mature"] == pytest.approx(scenario.since["mature"], abs=1)
    assert time.time() - found["fresh"] < REFRESH_DEADLINE + 60
    groups = yaml.safe_dump(rule_groups(scenario.slos["mature"], OPTIONS))
    assert indicator_hash(scenario.slos["mature"]) in groups


def test_report_reads_raw_history_for_hours_the_recorded_series_miss(scenario: Scenario) -> None:
    """A report range of 24 days: ``weeks`` misses its first 4 days of recorded series, ``mature`` none;
    each total is the counters' own within 1% and the notes say what was read. ``fresh`` was applied
    after the range: no data (as for an SLO never deployed), whatever raw history holds."""
    end = datetime.fromtimestamp(time.time() // HOUR * HOUR, UTC)
    rng = ReportRange("last 24 days", end - timedelta(days=24), end, True)
    slos = list(scenario.slos.values())
    with PrometheusRangeClient(scenario.prometheus.url) as client:
        data = fetch_month(client, slos, rng)
    fresh = slo_month_report(scenario.slos["fresh"], data[(NAMESPACE, "fresh")], rng, 60)
    assert fresh.status == "no_data" and data[(NAMESPACE, "fresh")].raw_hours == 0
    for name in ("weeks", "mature"):
        report = slo_month_report(scenario.slos[name], data[(NAMESPACE, name)], rng, 60)
        traffic = scenario.traffic[name]
        assert report.total == pytest.approx(traffic.requests(rng.end_ts) - traffic.requests(rng.start_ts),
                                             rel=0.01), name
        assert report.bad == pytest.approx(traffic.errors(rng.end_ts) - traffic.errors(rng.start_ts),
                                           rel=0.02), name
        raw_hours = data[(NAMESPACE, name)].raw_hours
        if name == "weeks":
            assert 4 * 24 - 1 <= raw_hours <= 4 * 24 + 1, raw_hours
            assert any("cover the month only from" in n and "from raw history" in n for n in report.notes)
        else:
            assert raw_hours == 0 and not any("raw history" in n for n in report.notes), report.notes
