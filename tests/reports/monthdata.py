"""A month of known SLO data in a real Prometheus: generated, backfilled with promtool, served on loopback.

October 2026 (UTC) of the example SLOs' source series, scraped every minute from 2026-09-30T22:00Z to
2026-11-01T02:00Z (two hours of padding each side, which the report must leave out), with known events:

- availability (99.9%/30d): 100 /predict requests a minute (2 of them 404s, which count as good), one 5xx
  every 100 minutes, a full outage on 2026-10-14 10:00-12:00 and 1% errors all day on 2026-10-21.
- latency (95% <= 200ms/30d): 100 requests a minute, 2 slower than 200ms, 30 on 2026-10-07 14:00-20:00.
- accuracy (85%/24h): 20 evaluated predictions a minute, 1% wrong, 80% wrong on 2026-10-25 03:00-04:00.
  Its alert state is backfilled as ALERTS series too (the rule backfiller ignores alerting rules), with
  times that differ from what the burn-rate series imply, so a test can tell which source was read.
- freshness (99%/7d): features refreshed every 30 minutes, except two gaps (2026-10-09 02:00-06:00 and
  2026-10-28 10:00-12:30).
- two test-only SLOs: ``batch-availability`` (99%, one job every 2 hours, one failure: low traffic) and
  ``model-latency-strict`` (threshold 150ms, a bucket the histogram does not have).

Recording rules are rendered by slo-operator (both groups every 5 minutes, to keep the backfill quick) and
backfilled level by level with ``promtool tsdb create-blocks-from rules``: the backfiller cannot see the
output of rules it is backfilling in the same run, so each level is evaluated by a Prometheus that
already holds the levels below it (restarted on the TSDB after each level).

The expected numbers are computed here from the same per-minute events, independently of Prometheus.
"""

from __future__ import annotations

import contextlib
import math
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml
from slo_operator import tiers
from slo_operator.api import ServiceLevelObjective
from slo_operator.model import SLO, resolve
from slo_operator.promql import RECORDED_SERIES, TIME_TO_EXHAUSTION
from slo_operator.render import RenderOptions, rule_file, to_yaml
from slo_operator.rules import RuleOptions
from slo_operator.spend import SPEND_SERIES
from support.processes import free_port, stop_process

from devstack import promstack

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "manifests" / "examples"

MONTH = "2026-10"
MONTH_START = datetime(2026, 10, 1, tzinfo=UTC)
MONTH_END = datetime(2026, 11, 1, tzinfo=UTC)
DATA_START = MONTH_START - timedelta(hours=2)
DATA_END = MONTH_END + timedelta(hours=2)
SCRAPE = 60
EVAL = 300  # both rule groups: one sample of every recorded series each 5 minutes
MINUTES = int((DATA_END - DATA_START).total_seconds()) // SCRAPE
RULE_OPTIONS = RuleOptions(fast_interval="5m", slow_interval="5m")
REPORT_TIME = datetime(2026, 11, 2, 7, 30, tzinfo=UTC)  # "now" for the tests' report: October is over

OUTAGE = (datetime(2026, 10, 14, 10, tzinfo=UTC), datetime(2026, 10, 14, 12, tzinfo=UTC))
ELEVATED_DAY = (datetime(2026, 10, 21, tzinfo=UTC), datetime(2026, 10, 22, tzinfo=UTC))
SLOW_LATENCY = (datetime(2026, 10, 7, 14, tzinfo=UTC), datetime(2026, 10, 7, 20, tzinfo=UTC))
ACCURACY_SPIKE = (datetime(2026, 10, 25, 3, tzinfo=UTC), datetime(2026, 10, 25, 4, tzinfo=UTC))
BATCH_FAILURES = (datetime(2026, 10, 3, 8, tzinfo=UTC), datetime(2026, 10, 3, 8, 10, tzinfo=UTC))
FRESHNESS_GAPS = (
    (datetime(2026, 10, 9, 2, tzinfo=UTC), datetime(2026, 10, 9, 6, tzinfo=UTC)),
    (datetime(2026, 10, 28, 10, tzinfo=UTC), datetime(2026, 10, 28, 12, 30, tzinfo=UTC)),
)
# Backfilled alert state of model-accuracy: (alertname, severity, pending from, firing from, resolved at).
ACCURACY_ALERTS = (
    ("SLOFastBurn", "critical", datetime(2026, 10, 25, 3, 6, tzinfo=UTC),
     datetime(2026, 10, 25, 3, 8, tzinfo=UTC), datetime(2026, 10, 25, 4, 6, tzinfo=UTC)),
    ("SLOSlowBurn", "warning", datetime(2026, 10, 25, 3, 27, tzinfo=UTC),
     datetime(2026, 10, 25, 3, 29, tzinfo=UTC), datetime(2026, 10, 25, 4, 7, tzinfo=UTC)),
)

EXTRA_SLOS = """
apiVersion: slo.mlops.dev/v1alpha1
kind: ServiceLevelObjective
metadata: {name: batch-availability, namespace: ml-serving}
spec:
  service: batch-scorer
  description: One scoring job a minute; 99.9% succeed.
  objective: 99.9
  window: 30d
  indicator:
    availability:
      errors: batch_jobs_total{result="failed"}
      total: batch_jobs_total
---
apiVersion: slo.mlops.dev/v1alpha1
kind: ServiceLevelObjective
metadata: {name: model-latency-strict, namespace: ml-serving}
spec:
  service: cancer-classifier
  description: A threshold the histogram has no bucket for.
  objective: 99
  window: 30d
  indicator:
    latency:
      histogram: bentoml_service_request_duration_seconds{endpoint="/predict"}
      threshold: 150ms
---
apiVersion: slo.mlops.dev/v1alpha1
kind: ServiceLevelObjective
metadata: {name: model-cost, namespace: ml-serving}
spec:
  service: cancer-classifier
  description: 95% of hours at most $0.40 per 1,000 predictions; $1,000 a month.
  objective: 95
  window: 30d
  timeslices: {sliceSize: 1h}
  indicator:
    cost:
      dollars: model_serving_cost_dollars_total
      units: model_predictions_total
      maxCostPerUnit: "0.0004"
      budget: {amount: "1000", currency: USD, period: month}
"""


def objects() -> list[ServiceLevelObjective]:
    docs = [yaml.safe_load(p.read_text()) for p in sorted(EXAMPLES.glob("*.yaml"))]
    docs += list(yaml.safe_load_all(EXTRA_SLOS))
    return [ServiceLevelObjective.model_validate(d) for d in docs]


def slos() -> list[SLO]:
    return [resolve(o) for o in objects()]


def write_slo_files(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for obj in objects():
        data = obj.model_dump(by_alias=True, exclude_none=True, exclude={"status"})
        (directory / f"{obj.name}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return directory


# ---- the events, minute by minute -----------------------------------------------------------------
# Minute k (1-based) holds the events of (DATA_START + (k-1) min, DATA_START + k min]; the scrape at
# DATA_START + k min sees them. Every rate is constant between the known edges: Prometheus' rate()
# extrapolation is then exact except within one minute of an edge (see edge_tolerance).


def minute_start(k: int) -> datetime:
    return DATA_START + timedelta(minutes=k - 1)


def _within(t: datetime, span: tuple[datetime, datetime]) -> bool:
    return span[0] <= t < span[1]


def predict_requests(k: int) -> tuple[int, int, int]:
    """(200s, 404s, 5xx) of /predict in minute k: 100 a minute; the SLO leaves the 404s out."""
    t = minute_start(k)
    if _within(t, OUTAGE):
        return 0, 0, 100
    if _within(t, ELEVATED_DAY):
        return 97, 2, 1
    return 98, 2, 0


def latency_slow(k: int) -> int:
    """Requests (of 100) slower than 200ms in minute k."""
    return 30 if _within(minute_start(k), SLOW_LATENCY) else 2


COST_SPIKE = (datetime(2026, 10, 18, 9, tzinfo=UTC), datetime(2026, 10, 18, 11, tzinfo=UTC))
PRICE = 0.0003  # dollars per prediction, 100 predictions a minute; tripled during COST_SPIKE


def cost_dollars(k: int) -> float:
    return 100 * PRICE * (3 if _within(minute_start(k), COST_SPIKE) else 1)


def accuracy_wrong(k: int) -> int:
    """Wrong predictions of 100 evaluated in minute k."""
    return 80 if _within(minute_start(k), ACCURACY_SPIKE) else 1


def batch_failed(k: int) -> int:
    """Failed jobs (of 1) in minute k."""
    return 1 if _within(minute_start(k), BATCH_FAILURES) else 0


def freshness_value(scrape: datetime) -> float:
    """The gauge at a scrape: when the features were last refreshed (every :00 and :30, bar the gaps)."""
    last = scrape.replace(minute=0 if scrape.minute < 30 else 30, second=0)
    for start, end in FRESHNESS_GAPS:
        if start < last < end:
            last = start
    return last.timestamp()


def freshness_stale(k: int) -> int:
    """1 if the data was older than 1h at the end of minute k."""
    end = minute_start(k + 1)
    return 1 if end.timestamp() - freshness_value(end) > 3600 else 0


# (bad, total) per minute, as each SLO defines them.
EVENTS: dict[str, Callable[[int], tuple[float, float]]] = {
    "model-availability": lambda k: (predict_requests(k)[2], predict_requests(k)[0] + predict_requests(k)[2]),
    "model-latency": lambda k: (latency_slow(k), 100),
    "model-accuracy": lambda k: (accuracy_wrong(k), 100),
    "batch-availability": lambda k: (batch_failed(k), 1),
    "feature-freshness": lambda k: (freshness_stale(k) * 60, 60),  # seconds stale, seconds measured
}


# ---- OpenMetrics ----------------------------------------------------------------------------------

AVAIL = "bentoml_service_request_total"
HIST = "bentoml_service_request_duration_seconds"
BUCKETS = ("0.05", "0.1", "0.2", "0.5", "1.0", "+Inf")


def write_openmetrics(path: Path) -> None:
    series: dict[str, list[str]] = {}
    kinds = {AVAIL: "counter", HIST: "histogram", "model_predictions_correct_total": "counter",
             "model_predictions_evaluated_total": "counter", "batch_jobs_total": "counter",
             "model_features_last_updated_timestamp_seconds": "gauge", "ALERTS": "gauge",
             "model_predictions_total": "counter", "model_serving_cost_dollars_total": "counter"}

    def add(name: str, labels: str, ts: float, value: float) -> None:
        text = "NaN" if math.isnan(value) else repr(float(value))
        series.setdefault(f"{name}{{{labels}}}", []).append(f"{name}{{{labels}}} {text} {int(ts)}")

    counters: dict[tuple[str, str], float] = {}

    def inc(name: str, labels: str, ts: float, by: float) -> None:
        key = (name, labels)
        counters[key] = counters.get(key, 0.0) + by
        add(name, labels, ts, counters[key])

    for k in range(0, MINUTES + 1):  # scrape k sees minute k's events; scrape 0 has every counter at 0
        scrape = DATA_START + timedelta(minutes=k)
        ts = scrape.timestamp()
        ok, client_error, server_error = predict_requests(k) if k else (0, 0, 0)
        inc(AVAIL, 'endpoint="/predict",http_response_code="200"', ts, ok)
        inc(AVAIL, 'endpoint="/predict",http_response_code="404"', ts, client_error)
        inc(AVAIL, 'endpoint="/predict",http_response_code="500"', ts, server_error)
        inc(AVAIL, 'endpoint="/healthz",http_response_code="200"', ts, 12 if k else 0)
        slow = latency_slow(k) if k else 0
        cumulative = {"0.05": 50, "0.1": 80, "0.2": 100 - slow, "0.5": 100 - slow // 2, "1.0": 100,
                      "+Inf": 100}
        for le in BUCKETS:
            inc(HIST + "_bucket", f'endpoint="/predict",le="{le}"', ts, cumulative[le] if k else 0)
        inc(HIST + "_count", 'endpoint="/predict"', ts, 100 if k else 0)
        inc(HIST + "_sum", 'endpoint="/predict"', ts, 12.5 if k else 0)
        wrong = accuracy_wrong(k) if k else 0
        inc("model_predictions_evaluated_total", "", ts, 100 if k else 0)
        inc("model_predictions_correct_total", "", ts, (100 - wrong) if k else 0)
        inc("model_predictions_total", "", ts, 100 if k else 0)
        inc("model_serving_cost_dollars_total", "", ts, cost_dollars(k) if k else 0)
        failed = batch_failed(k) if k else 0
        inc("batch_jobs_total", 'result="succeeded"', ts, (1 - failed) if k else 0)
        inc("batch_jobs_total", 'result="failed"', ts, failed)
        add("model_features_last_updated_timestamp_seconds", "", ts, freshness_value(scrape))
        for name, severity, pending, firing, resolved in ACCURACY_ALERTS:
            base = (f'alertname="{name}",namespace="ml-serving",service="cancer-classifier",'
                    f'severity="{severity}",slo="model-accuracy",team="ml-platform"')
            # A NaN sample stands in for the stale marker Prometheus writes when an alert state ends
            # (OpenMetrics cannot carry one), so the series does not linger for the lookback period.
            if pending <= scrape < firing:
                add("ALERTS", base + ',alertstate="pending"', ts, 1)
            elif scrape == firing:
                add("ALERTS", base + ',alertstate="pending"', ts, math.nan)
            if firing <= scrape < resolved:
                add("ALERTS", base + ',alertstate="firing"', ts, 1)
            elif scrape == resolved:
                add("ALERTS", base + ',alertstate="firing"', ts, math.nan)
    with path.open("w") as out:
        done = set()
        for key, lines in series.items():
            name = key.split("{", 1)[0]
            family = name.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum")
            family = family if kinds.get(family) == "histogram" else name
            if family not in done:
                kind = kinds.get(family, "gauge")
                metric_family = family.removesuffix("_total") if kind == "counter" else family
                out.write(f"# TYPE {metric_family} {kind}\n")
                done.add(family)
            out.write("\n".join(lines) + "\n")
        out.write("# EOF\n")


# ---- expected numbers -----------------------------------------------------------------------------


def month_minutes() -> range:
    """Minutes whose events belong to October."""
    first = int((MONTH_START - DATA_START).total_seconds()) // 60 + 1
    last = int((MONTH_END - DATA_START).total_seconds()) // 60
    return range(first, last + 1)


@dataclass(frozen=True)
class Expected:
    """An SLO's October from its minute-by-minute events."""

    bad: float
    total: float
    by_day: dict[str, float]  # date -> bad
    tolerance: float  # how far the recorded rates may put bad and total from the events

    @property
    def error_ratio(self) -> float:
        return self.bad / self.total

    def compliance_percent(self) -> float:
        return 100 * (1 - self.error_ratio)

    def budget_consumed_percent(self, objective_percent: float) -> float:
        return 100 * self.error_ratio / (1 - objective_percent / 100)

    def worst_days(self, n: int) -> list[str]:
        return sorted((d for d in self.by_day if self.by_day[d] > 0), key=lambda d: -self.by_day[d])[:n]


def expected(slo: str) -> Expected:
    """The month's numbers of ``slo``, and the tolerance Prometheus' sampling allows.

    A rate over 5 minutes of 1-minute scrapes sees 4 increments and extrapolates them by 5/4; samples
    every 5 minutes therefore skip one increment in five and weigh the others 1.25. Where the rate is
    constant that is exact; each change of the per-minute rate (an edge) can move the sum by at most the
    size of the change. The tolerance is the sum of those changes over the month (plus one eval interval
    worth of events for freshness, whose 5-minute samples are 0 or 1 for the whole interval).
    """
    events = EVENTS[slo]
    bad = total = 0.0
    edges = 0.0
    by_day: dict[str, float] = {}
    previous: tuple[float, float] | None = None
    for k in month_minutes():
        b, n = events(k)
        bad += b
        total += n
        day = minute_start(k).date().isoformat()
        by_day[day] = by_day.get(day, 0.0) + b
        if previous is not None:
            edges += abs(b - previous[0]) + abs(n - previous[1])
        previous = (b, n)
    if slo == "feature-freshness":
        edges *= EVAL / 60  # a stale edge moves the bad time by up to one evaluation interval
    return Expected(bad, total, by_day, edges)


@dataclass(frozen=True)
class Stretch:
    start: datetime
    end: datetime
    open_at_end: bool


def _prefix(values: list[float]) -> list[float]:
    sums = [0.0]
    for v in values:
        sums.append(sums[-1] + v)
    return sums


def reference_stretches(slo: str, condition: Callable[[Callable[[int, int], float | None], int], bool],
                        ) -> list[Stretch]:
    """Minute-level stretches of October where ``condition(ratio, k)`` held; ``ratio(k, w)`` is the error
    ratio over the w minutes up to the end of minute k (None without traffic)."""
    events = [EVENTS[slo](k) for k in range(1, MINUTES + 1)]
    bad, total = _prefix([b for b, _ in events]), _prefix([n for _, n in events])

    def ratio(k: int, window: int) -> float | None:
        lo = max(0, k - window)
        n = total[k] - total[lo]
        return (bad[k] - bad[lo]) / n if n > 0 else None

    stretches: list[Stretch] = []
    for k in month_minutes():
        if condition(ratio, k):
            at = minute_start(k + 1)
            if stretches and stretches[-1].end == at:
                stretches[-1] = Stretch(stretches[-1].start, at + timedelta(minutes=1), False)
            else:
                stretches.append(Stretch(at, at + timedelta(minutes=1), False))
    if stretches and stretches[-1].end >= MONTH_END:
        stretches[-1] = Stretch(stretches[-1].start, MONTH_END, True)
    return stretches


def reference_window_remaining(slo: SLO) -> float:
    """Percent of the budget left over the SLO's own window at the end of October."""
    events = [EVENTS[slo.name](k) for k in range(1, MINUTES + 1)]
    last = month_minutes()[-1]
    window = events[max(0, last - slo.window // 60):last]
    ratio = sum(b for b, _ in window) / sum(n for _, n in window)
    return 100 * (1 - ratio / float(slo.error_budget))


def reference_sli_below(slo: SLO) -> list[Stretch]:
    window = slo.window // 60
    budget = float(slo.error_budget)

    def below(ratio: Callable[[int, int], float | None], k: int) -> bool:
        value = ratio(k, window)
        return value is not None and value > budget

    return reference_stretches(slo.name, below)


def reference_firings(slo: SLO, alert_name: str) -> list[Stretch]:
    alert = next(a for a in slo.alerts if a.name == alert_name)
    limit = float(alert.threshold) * float(slo.error_budget)

    def firing(ratio: Callable[[int, int], float | None], k: int) -> bool:
        long, short = ratio(k, alert.long_window // 60), ratio(k, alert.short_window // 60)
        return long is not None and short is not None and long > limit and short > limit

    return reference_stretches(slo.name, firing)


# ---- promtool backfill and the Prometheus server --------------------------------------------------


class PrometheusServer:
    """/usr/bin/prometheus on a free loopback port, serving an existing TSDB (no scraping, no rules)."""

    def __init__(self, tsdb: Path, workdir: Path) -> None:
        self.tsdb = tsdb
        self.workdir = workdir
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, deadline_seconds: float = 60) -> None:
        config = self.workdir / "prometheus.yml"
        config.write_text("global: {evaluation_interval: 1h}\n")
        self.port = free_port()
        log = (self.workdir / "prometheus.log").open("ab")
        self.process = subprocess.Popen(
            [promstack.binary("prometheus"), f"--config.file={config}",
             f"--storage.tsdb.path={self.tsdb}", f"--web.listen-address=127.0.0.1:{self.port}",
             "--storage.tsdb.retention.time=100y",
             "--storage.tsdb.min-block-duration=2h", "--storage.tsdb.max-block-duration=2h",
             "--query.max-samples=200000000", "--query.timeout=5m"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited: see {self.workdir / 'prometheus.log'}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/-/ready", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)  # polling interval; the deadline bounds the wait
        raise TimeoutError(f"prometheus not ready within {deadline_seconds}s")

    def stop(self) -> None:
        stop_process(self.process, grace=30)
        self.process = None


RECORDED = (*RECORDED_SERIES, *SPEND_SERIES)


def _level(expr: str, levels: dict[str, int]) -> int:
    return 1 + max((levels[name] for name in RECORDED if name in expr and name in levels), default=-1)


def rule_levels(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The recording rules split into rule files by dependency depth (alerting rules dropped)."""
    levels: dict[str, int] = {}
    per_rule: list[tuple[int, str, dict[str, Any]]] = []
    for _ in range(len(RECORDED)):  # fixed point: a name's level is its deepest rule's
        per_rule = []
        for group in document["groups"]:
            for rule in group["rules"]:
                if "record" in rule:
                    depth = _level(rule["expr"], levels)
                    per_rule.append((depth, group["name"], rule))
        for depth, _name, rule in per_rule:
            levels[rule["record"]] = max(levels.get(rule["record"], 0), depth)
    files: list[dict[str, Any]] = []
    for depth in range(max(d for d, _, _ in per_rule) + 1):
        groups = []
        for group in document["groups"]:
            rules = [r for d, g, r in per_rule if d == depth and g == group["name"]]
            if rules:
                groups.append({**group, "rules": rules})
        files.append({"groups": groups})
    return files


RULES_FILE = "slo-rules.yaml"


def run(cmd: list[str], **kwargs: Any) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def build(workdir: Path, log: Callable[[str], None] = lambda _: None) -> tuple[Path, dict[str, float]]:
    """Generate, backfill and return (TSDB directory, seconds per step)."""
    timings: dict[str, float] = {}
    promtool = promstack.binary("promtool")
    tsdb = workdir / "tsdb"
    tsdb.mkdir(parents=True)
    clock = time.monotonic()
    data = workdir / "month.om"
    write_openmetrics(data)
    timings["openmetrics"] = time.monotonic() - clock
    clock = time.monotonic()
    # --max-block-duration (a hidden flag of promtool 2.42): one block, not one per 2 hours
    run([promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", "--max-block-duration=800h", str(data),
         str(tsdb)], timeout=600)
    data.unlink()
    timings["backfill raw"] = time.monotonic() - clock
    rules = rule_file(slos(), RenderOptions(rules=RULE_OPTIONS))
    (workdir / "rules.yaml").write_text(to_yaml([rules]))
    # Running sums in a form that reads no earlier values of their own (see tiers); the time to
    # exhaustion is not read by the report.
    span = int((DATA_END - DATA_START).total_seconds()) + 3600
    backfill = {"groups": [
        {**group, "rules": [tiers.backfill_rule(rule, span) for rule in group["rules"]
                            if rule.get("record") != TIME_TO_EXHAUSTION]}
        for group in rules["groups"]
    ]}
    server = PrometheusServer(tsdb, workdir)
    try:
        for depth, level in enumerate(rule_levels(backfill)):
            clock = time.monotonic()
            server.start()
            # One relative path for every level: a group's evaluation offset hashes its file name and
            # group name, so every level is evaluated at the same instants (as one group's rules are by a
            # live Prometheus), and at the same instants on every run of the tests.
            (workdir / RULES_FILE).write_text(to_yaml([level]))
            out = workdir / f"blocks-{depth}"
            run([promtool, "tsdb", "create-blocks-from", "rules", "-q", "--max-block-duration=800h",
                 f"--url={server.url}", f"--start={int(DATA_START.timestamp())}",
                 f"--end={int(DATA_END.timestamp())}", f"--output-dir={out.name}",
                 f"--eval-interval={EVAL}s", RULES_FILE], cwd=workdir, timeout=600)
            server.stop()
            for block in out.iterdir():
                os.replace(block, tsdb / block.name)
            timings[f"backfill rules level {depth}"] = time.monotonic() - clock
            log(f"level {depth}: {timings[f'backfill rules level {depth}']:.1f}s")
    finally:
        server.stop()
    return tsdb, timings


@contextlib.contextmanager
def serve(tsdb: Path, workdir: Path) -> Iterator[PrometheusServer]:
    server = PrometheusServer(tsdb, workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()
