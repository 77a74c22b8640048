"""Benchmark: the cost of slo-operator's "cheap long windows" against the raw formulations of Pyrra and Sloth.

Not a test. Run::

    .venv/bin/python bench/rules_cost_bench.py [--pods 50] [--days 30] [--scrape 60] [--eval 60]
        [--runs 10] [--seed 7]

``rules_cost_bench.py peers ...`` instead runs whole rule sets side by side with the real Sloth and Pyrra
(``bench/peers_bench.py``: CPU, group durations, samples, series, memory, accuracy, alert timing).

What it does, all on loopback and in a temporary directory that is removed at the end:

1. Generates ``--days`` of ``bentoml_service_request_total{endpoint="/predict",http_response_code=...,
   pod=...}`` for ``--pods`` pods and two codes (200 and 503), one sample per ``--scrape`` seconds.
   Traffic is uneven: about 12x more requests at 15:00 than at 03:00 UTC, pods of different sizes,
   Poisson counts. Errors are denser at night (0.19% vs 0.03%), with a 40-minute incident (20% errors)
   at 03:00 on the last day, i.e. at the traffic trough.
2. Backfills it with ``promtool tsdb create-blocks-from openmetrics`` and, against a Prometheus serving
   that TSDB, backfills with ``promtool tsdb create-blocks-from rules`` (every ``--eval`` seconds):
   the two base recording rules of the availability example (``slo:bad_events:rate`` and
   ``slo:total_events:rate``, rendered by ``slo_operator.rules``) and, for the Sloth formulation, a
   ``slo:sli_error:ratio_rate5m`` series (Sloth's 5m ratio rule). The deployment default for the base
   rules is every 30s; the benchmark uses ``--eval`` (1m by default) to keep the backfill short, which
   halves the samples our long windows read compared with a live 30s deployment.
3. Starts /usr/bin/prometheus on that TSDB and times instant queries at the last sample (median of
   ``--runs`` runs each, interleaved, after a warm-up run), with Prometheus' own ``stats=all``:
   - ours: the error ratio exactly as ``slo_operator.rules`` renders it (``sum_over_time`` of the
     recorded base series, edge-corrected for windows up to 6h);
   - raw: ``sum(increase(errors[W])) / sum(increase(total[W]))`` (Pyrra for every window; Sloth's
     ``rate(...[W])`` ratios for windows up to 3d cost and return the same);
   - sloth: ``avg_over_time(slo:sli_error:ratio_rate5m[W])`` (how Sloth derives its 30d window).
   Costs are printed against raw measured in the same run, and every value against the exact error
   ratio counted from the generated events.

Promtool's rules backfill runs one range query per block; Prometheus refuses more than 11,000 points
per series, so rules are backfilled in the largest block promtool allows under that limit (162h at a
1m interval, 54h at 30s), raw data in one large block (hidden ``--max-block-duration`` flag of promtool
2.42, as in tests/reports/monthdata.py).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml
from slo_operator.api import ServiceLevelObjective
from slo_operator.durations import format_duration
from slo_operator.model import SLO, resolve
from slo_operator.promql import BAD_EVENTS, ERROR_RATIO, TOTAL_EVENTS
from slo_operator.render import to_yaml
from slo_operator.rules import RuleOptions, _error_ratio, rule_groups

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # devstack/ (which Prometheus and promtool: PROM_STACK)
from devstack import promstack  # noqa: E402

EXAMPLE = REPO_ROOT / "manifests" / "examples" / "availability.yaml"

METRIC = "bentoml_service_request_total"
ERRORS = f'{METRIC}{{endpoint="/predict",http_response_code=~"5.."}}'
TOTAL = f'{METRIC}{{endpoint="/predict",http_response_code!~"4.."}}'
SLOTH_RATIO = "slo:sli_error:ratio_rate5m"
SLOTH_LABELS = {"sloth_service": "cancer-classifier", "sloth_slo": "model-availability"}

END = datetime(2026, 11, 1, tzinfo=UTC)  # the last scrape and the time of every query
PADDING = 2 * 3600  # raw data before the longest window starts, so its first base-rule samples exist
WINDOWS = (3600, 86400, 3 * 86400, 30 * 86400)
MAX_POINTS = 11000  # per series in one range query (Prometheus' limit)
PEAK_PER_POD = 120.0  # requests a minute of an average pod at the daily peak


# ---- data -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Data:
    """Per-scrape events of every pod (column j holds the events the scrape at ``times[j]`` sees first)."""

    times: np.ndarray  # unix seconds, one per scrape; column 0 has every counter at 0
    ok: np.ndarray  # (pods, scrapes) 200s
    bad: np.ndarray  # (pods, scrapes) 503s
    scrape: int

    def exact_ratio(self, window: int, age: float = 0) -> tuple[float, float, float]:
        """(bad, total, bad/total) of the events in (END - age - window, END - age]."""
        last = len(self.times) - math.ceil(age / self.scrape)  # columns before it are in the window
        columns = slice(last - window // self.scrape, last)
        bad = float(self.bad[:, columns].sum())
        total = bad + float(self.ok[:, columns].sum())
        return bad, total, bad / total


def generate(pods: int, days: int, scrape: int, seed: int) -> Data:
    rng = np.random.default_rng(seed)
    end = int(END.timestamp())
    start = end - days * 86400 - PADDING
    times = np.arange(start, end + 1, scrape, dtype=np.int64)
    hours = ((times % 86400) / 3600.0)[None, :]
    traffic = 1 + 0.85 * np.cos(2 * np.pi * (hours - 15) / 24)  # 1.85 at 15:00, 0.15 at 03:00
    error_p = 0.0003 + 0.0017 * (1 - traffic / 1.85)  # 0.03% at the peak, 0.19% at the trough
    incident = (times >= end - 21 * 3600) & (times < end - 21 * 3600 + 40 * 60)  # 03:00-03:40, last day
    error_p = np.where(incident[None, :], 0.2, error_p)
    size = rng.uniform(0.4, 1.6, size=(pods, 1))  # uneven pods
    requests = rng.poisson(PEAK_PER_POD / 1.85 * traffic * size * scrape / 60)
    bad = rng.binomial(requests, np.broadcast_to(error_p, requests.shape))
    requests[:, 0] = bad[:, 0] = 0
    return Data(times, requests - bad, bad, scrape)


def write_openmetrics(data: Data, path: Path) -> int:
    """The counters as OpenMetrics text (one block of samples per series); returns the sample count."""
    stamps = [str(t) for t in data.times.tolist()]
    count = 0
    with path.open("w") as out:
        out.write(f"# TYPE {METRIC.removesuffix('_total')} counter\n")
        for code, events in (("200", data.ok), ("503", data.bad)):
            for pod, row in enumerate(np.cumsum(events, axis=1)):
                prefix = f'{METRIC}{{endpoint="/predict",http_response_code="{code}",pod="model-{pod:03d}"}} '
                out.write("".join(f"{prefix}{v} {t}\n" for v, t in zip(row.tolist(), stamps, strict=True)))
                count += len(stamps)
        out.write("# EOF\n")
    return count


# ---- rules ----------------------------------------------------------------------------------------


def availability_slo() -> SLO:
    return resolve(ServiceLevelObjective.model_validate(yaml.safe_load(EXAMPLE.read_text())))


def rules_block(eval_seconds: int) -> str:
    """The largest block promtool's rules backfill accepts (it rounds down to 2h x 3^k) whose range query
    stays within ``MAX_POINTS`` steps."""
    hours = 2
    while hours * 3 * 3600 // eval_seconds <= MAX_POINTS:
        hours *= 3
    return f"{hours}h"


def rendered(slo: SLO, options: RuleOptions, windows: tuple[int, ...],
             ) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """(our two base recording rules, our error-ratio expression per benchmarked window)."""
    rules = [r for g in rule_groups(slo, options) for r in g["rules"] if "record" in r]
    base = [r for r in rules if r["record"] in (BAD_EVENTS, TOTAL_EVENTS)]
    ratios = {r["labels"]["window"]: r["expr"] for r in rules if r["record"] == ERROR_RATIO}
    exprs = {}
    for window in windows:
        # 3d is not one of the example's windows: render it the same way rule_groups would.
        expr = ratios.get(format_duration(window)) or _error_ratio(slo, window, options)["expr"]
        exprs[window] = expr
    return base, exprs


def sloth_rule() -> dict[str, Any]:
    expr = f"(sum(rate({ERRORS}[5m])))\n/\n(sum(rate({TOTAL}[5m])))"
    return {"record": SLOTH_RATIO, "expr": expr, "labels": {**SLOTH_LABELS, "sloth_window": "5m"}}


@dataclass(frozen=True)
class Query:
    name: str
    window: int | None  # None: a rule evaluated every interval, not a window
    expr: str
    kind: str  # ours | raw | sloth


def queries(base: list[dict[str, Any]], ours: dict[int, str]) -> list[Query]:
    found: list[Query] = []
    for window in ours:
        w = format_duration(window)
        found += [
            Query("ours", window, ours[window], "ours"),
            Query("raw increase", window,
                  f"sum(increase({ERRORS}[{w}]))\n/\nsum(increase({TOTAL}[{w}]))", "raw"),
            Query("sloth avg_over_time", window, f"avg_over_time({SLOTH_RATIO}[{w}])", "sloth"),
        ]
    found += [Query(f"base rule {r['record']}", None, r["expr"], "ours") for r in base]
    found.append(Query(f"sloth rule {SLOTH_RATIO}", None, sloth_rule()["expr"], "sloth"))
    return found


# ---- processes ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def prometheus(tsdb: Path, workdir: Path) -> Iterator[str]:
    """/usr/bin/prometheus serving ``tsdb`` on a free loopback port, no scraping or rules; yields the URL."""
    config = workdir / "prometheus.yml"
    config.write_text("global: {evaluation_interval: 1h}\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (workdir / "prometheus.log").open("ab") as log:
        process = subprocess.Popen(
            [promstack.binary("prometheus"), f"--config.file={config}",
             f"--storage.tsdb.path={tsdb}", f"--web.listen-address=127.0.0.1:{port}",
             "--storage.tsdb.retention.time=100y",
             "--storage.tsdb.min-block-duration=2h", "--storage.tsdb.max-block-duration=2h",
             "--query.max-samples=500000000", "--query.timeout=5m"],
            stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"prometheus exited:\n{(workdir / 'prometheus.log').read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/-/ready", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError("prometheus not ready within 120s")
            time.sleep(0.2)  # polling interval; the deadline bounds the wait
        yield url
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def run(cmd: list[str], **kwargs: Any) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def backfill(data: Data, rules: list[dict[str, Any]], eval_seconds: int, workdir: Path,
             timings: dict[str, float]) -> tuple[Path, int]:
    """The TSDB with the raw counters and the recorded series; returns it and the raw sample count."""
    promtool = promstack.binary("promtool")
    tsdb = workdir / "tsdb"
    tsdb.mkdir()
    clock = time.monotonic()
    om = workdir / "requests.om"
    samples = write_openmetrics(data, om)
    timings["write openmetrics"] = time.monotonic() - clock
    timings["openmetrics MB"] = om.stat().st_size / 1e6
    clock = time.monotonic()
    run([promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", "--max-block-duration=800h", str(om),
         str(tsdb)], timeout=900)
    om.unlink()
    timings["backfill raw"] = time.monotonic() - clock
    clock = time.monotonic()
    (workdir / "rules.yaml").write_text(
        to_yaml([{"groups": [{"name": "bench", "interval": f"{eval_seconds}s", "rules": rules}]}]))
    out = workdir / "rule-blocks"
    start = int(data.times[0]) + 600  # every 5m rate window full
    with prometheus(tsdb, workdir) as url:
        run([promtool, "tsdb", "create-blocks-from", "rules", "-q",
             f"--max-block-duration={rules_block(eval_seconds)}", f"--url={url}", f"--start={start}",
             f"--end={int(data.times[-1])}", f"--output-dir={out.name}", f"--eval-interval={eval_seconds}s",
             "rules.yaml"], cwd=workdir, timeout=900)
    for block in out.iterdir():
        os.replace(block, tsdb / block.name)
    timings["backfill rules"] = time.monotonic() - clock
    return tsdb, samples


# ---- measurement ----------------------------------------------------------------------------------


@dataclass
class Measured:
    query: Query
    wall_ms: list[float] = field(default_factory=list)
    exec_ms: list[float] = field(default_factory=list)
    samples: int | None = None
    peak: int | None = None
    value: float | None = None


def measure(url: str, plan: list[Query], runs: int) -> list[Measured]:
    results = [Measured(q) for q in plan]
    at = str(int(END.timestamp()))
    with httpx.Client(base_url=url, timeout=300) as client:
        for run_index in range(runs + 1):  # run 0 warms the page cache and is dropped
            for result in results:
                clock = time.perf_counter()
                response = client.get("/api/v1/query",
                                      params={"query": result.query.expr, "time": at, "stats": "all"})
                wall = (time.perf_counter() - clock) * 1000
                response.raise_for_status()
                body = response.json()["data"]
                stats = body.get("stats") or {}
                if run_index == 0:
                    values = body["result"]
                    result.value = float(values[0]["value"][1]) if len(values) == 1 else math.nan
                    continue
                result.wall_ms.append(wall)
                timings = stats.get("timings") or {}
                if "execTotalTime" in timings:
                    result.exec_ms.append(1000 * float(timings["execTotalTime"]))
                sample_stats = stats.get("samples") or {}
                result.samples = sample_stats.get("totalQueryableSamples", result.samples)
                result.peak = sample_stats.get("peakSamples", result.peak)
    return results


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def times_text(value: float | None, baseline: float | None) -> str:
    if value is None or baseline is None or not baseline or math.isnan(value) or math.isnan(baseline):
        return "-"
    return f"{value / baseline:.4f}x" if value < baseline / 100 else f"{value / baseline:.3f}x"


def print_tables(results: list[Measured], data: Data, budget: float, age: float) -> None:
    raw = {r.query.window: r for r in results if r.query.kind == "raw"}
    header = (f"{'window':>6}  {'query':<36} {'median ms':>10} {'exec ms':>9} {'samples':>11} {'peak':>9}"
              f"  {'ms vs raw':>10} {'samples vs raw':>14}")
    print("\nCost: instant query at the last sample (median of the timed runs; exec = Prometheus' "
          "execTotalTime)")
    print(header)
    print("-" * len(header))
    for r in results:
        window = format_duration(r.query.window) if r.query.window else "rule"
        base = raw.get(r.query.window)
        wall, exec_ms = median(r.wall_ms), median(r.exec_ms)
        samples = f"{r.samples:,}" if r.samples is not None else "-"
        peak = f"{r.peak:,}" if r.peak is not None else "-"
        print(f"{window:>6}  {r.query.name:<36} {wall:>10.2f} {exec_ms:>9.2f} {samples:>11} {peak:>9}"
              f"  {times_text(wall, median(base.wall_ms) if base else None):>10}"
              f" {times_text(r.samples, base.samples if base else None):>14}")
    print(f"\nAccuracy at the last sample (error ratio; budget used = ratio / {budget:g}, the example's "
          "99.9% objective)")
    print(f"The recorded series' newest sample is {age:.1f}s before the query time (the rule group's "
          "evaluation offset),\nso windows over them end there: the last column compares with the exact "
          "ratio of that window.")
    header = (f"{'window':>6}  {'query':<22} {'error ratio':>12} {'exact':>12} {'rel. error':>10}"
              f" {'budget used':>12} {'exact budget':>12} {'vs exact at rules':>18}")
    print(header)
    print("-" * len(header))
    for r in results:
        if r.query.window is None:
            continue
        _, _, exact = data.exact_ratio(r.query.window)
        value = r.value if r.value is not None else math.nan
        shifted = "-"
        if r.query.kind != "raw":
            _, _, at_rules = data.exact_ratio(r.query.window, age)
            shifted = f"{100 * (value - at_rules) / at_rules:+.2f}%"
        print(f"{format_duration(r.query.window):>6}  {r.query.name:<22} {value:>12.6f} {exact:>12.6f}"
              f" {100 * (value - exact) / exact:>+9.2f}% {100 * value / budget:>11.1f}%"
              f" {100 * exact / budget:>11.1f}% {shifted:>18}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=50)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--scrape", type=int, default=60, help="seconds between raw samples")
    parser.add_argument("--eval", type=int, default=60, help="seconds between recorded samples")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    windows = tuple(w for w in WINDOWS if w <= args.days * 86400)
    if args.days < 1 or not 0 < args.scrape <= 120 or args.eval <= 0:
        parser.error("--days >= 1; --scrape up to 120s (rate() over the 5m base window needs 2 samples)")
    slo = availability_slo()
    options = RuleOptions(fast_interval=f"{args.eval}s", slow_interval=f"{args.eval}s")
    base, ours = rendered(slo, options, windows)
    plan = queries(base, ours)
    timings: dict[str, float] = {}
    clock = time.monotonic()
    data = generate(args.pods, args.days, args.scrape, args.seed)
    timings["generate"] = time.monotonic() - clock
    with tempfile.TemporaryDirectory(prefix="slo-rules-cost-bench-") as tmp:
        workdir = Path(tmp)
        tsdb, samples = backfill(data, [*base, sloth_rule()], args.eval, workdir, timings)
        scrapes = len(data.times)
        print(f"Data: {args.pods} pods x 2 codes = {2 * args.pods} raw series, {scrapes:,} samples each "
              f"(every {args.scrape}s over {args.days}d + {PADDING // 3600}h), {samples:,} raw samples, "
              f"{timings['openmetrics MB']:.0f} MB of OpenMetrics; "
              f"{data.ok.sum() + data.bad.sum():,} requests, {data.bad.sum():,} errors.")
        print(f"Recorded: {BAD_EVENTS}, {TOTAL_EVENTS} (rendered by slo_operator.rules) and {SLOTH_RATIO}, "
              f"backfilled every {args.eval}s (deployment default for the base rules: 30s). "
              f"Queries at {END.isoformat()}.")
        print("Setup: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items() if not k.endswith("MB")))
        with prometheus(tsdb, workdir) as url:
            info = httpx.get(url + "/api/v1/status/buildinfo", timeout=10).json()["data"]
            print(f"Prometheus {info.get('version')} on {url}, {args.runs} timed runs per query "
                  f"(after 1 warm-up run), queries interleaved.")
            results = measure(url, plan, args.runs)
            age = float(httpx.get(url + "/api/v1/query", timeout=30, params={
                "query": f"time() - timestamp({TOTAL_EVENTS})", "time": str(int(END.timestamp())),
            }).json()["data"]["result"][0]["value"][1])
    print_tables(results, data, float(slo.error_budget), age)
    print("\nours: rendered by slo_operator.rules (1d and longer: sum_over_time of the two recorded base "
          "series;\n  up to 6h: plus the base-window edge correction).\n"
          "raw increase: Pyrra's formulation; Sloth's raw rate() ratios (its windows up to 3d) read the "
          "same samples.\n"
          "sloth avg_over_time: how Sloth derives its SLO window (30d) from its 5m ratio, unweighted by "
          "traffic;\n  the shorter rows apply the same formulation for comparison (Sloth itself uses raw "
          "rate() there).\n"
          "rule rows: one evaluation of the 5m-window rule each design also runs (ours every 30s by "
          "default).\n\nExpressions of the longest window:")
    longest = max(windows)
    for r in results:
        if r.query.window in (longest, None):
            print(f"  {r.query.name}: {' '.join(r.query.expr.split())}")
    sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1:2] == ["peers"]:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import peers_bench

        peers_bench.main(sys.argv[2:])
    else:
        main()
