"""Benchmark: what Prometheus spends evaluating slo-operator's rules against Sloth's and Pyrra's own.

Not a test, and the peers are never a dependency of the operator. Run (``make peers`` builds Sloth
v0.16.0 and Pyrra v0.10.1 into ~/.cache/slo-operator/peers once)::

    nice .venv/bin/python bench/rules_cost_bench.py peers [--slos 100] [--days 30] [--minutes 6]

1. N equivalent SLOs (99.9% availability over 30 days, one service each): ours (a ServiceLevelObjective),
   Sloth's (``sloth generate``) and Pyrra's (``pyrra generate``), from the real binaries.
2. ``--days`` of uneven traffic per service (``rules_cost_bench.generate``: a 12x daily swing, errors
   denser at night, a 40-minute incident on the last day), scraped every ``--scrape`` seconds, and the
   recorded inputs a live deployment evaluating every 30s has: Sloth's 5m error ratio (its 30d window
   averages it), our two base rates and their running sums (fine every 30s, coarse copies at their own
   interval). The recorded series are computed by the simulator (``slo_operator.evaluator``: Prometheus'
   rate extrapolation, ranges, running sums) from the very rules each tool generated, in batches of
   SLOs on every core, and written with ``promtool tsdb create-blocks-from openmetrics``; Prometheus
   then compacts the blocks. The block layout is a real Prometheus': one retention (``RETENTION_DAYS``,
   40 days for 30d SLOs) gives promtool's ``--max-block-duration`` and every Prometheus started here its
   own (10% of the retention), so the history is blocks of at most 54h (compaction ranges 2h, 6h, 18h,
   54h), the same for all three tools, and no Prometheus compacts it while it is measured. A 30-day block
   needs a retention of about 310 days; far-edge reads in it decode ten times the chunk references. The
   layout is printed with the results (``--history-only`` builds the history and prints it). The result
   is cached under ``$SLO_CACHE/peers-history/<key>`` (a lock makes a concurrent run wait; progress goes
   to stderr), keyed by the SLO count, days, scrape, seed, the backfilled rules (running sums in their
   backfill form), the retention and the Prometheus version: a rerun with other rules on top of the same
   inputs measures at once. The history then ends when it was built;
   the live target continues the counters from there (the gap is a Prometheus that was down).
3. One Prometheus per tool, one after the other on the same TSDB copy, scraping a live continuation of
   the counters, every rule group evaluated every 30s (``--own-intervals``: each tool's own intervals),
   for ``--minutes``; a Prometheus with no rules on the same data gives the baseline. Measured: CPU
   seconds per minute of the Prometheus process (from /proc, after a warm-up), net of the baseline; mean
   group durations (``prometheus_rule_group_last_duration_seconds``); samples read per SLO per
   evaluation (every rule of one SLO as an instant query with ``stats=all``); recorded series per SLO
   (``prometheus_rule_group_last_evaluation_samples``); resident memory at the end.
4. The 30d error ratio each tool records at the end, against the exact count of the generated events.
5. Alert timing of the three rule sets on a total outage and a 2% error burst after a healthy hour
   (``promtool test rules``, the harness of tests/migrate_equivalence): first and last firing evaluation
   of each tool's page and ticket alerts.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import fcntl
import hashlib
import http.server
import itertools
import json
import math
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml
from slo_operator import evaluator
from slo_operator.api import ServiceLevelObjective
from slo_operator.durations import parse_duration
from slo_operator.model import SLO, resolve
from slo_operator.promql import BAD_EVENTS, OBJECTIVE, RUNNING_SUMS, TOTAL_EVENTS
from slo_operator.render import rule_file, to_yaml
from slo_operator.shared import SHARED_NAME
from slo_operator.tiers import CARRY, TIER_LABEL, Tiers
from slo_operator.tiers import backfill_rule as tiers_backfill_rule

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))
sys.path.insert(0, str(REPO_ROOT / "tests"))
sys.path.insert(0, str(REPO_ROOT / "tests" / "migrate_equivalence"))
import rules_cost_bench as base  # noqa: E402
from peers import Firing, firing_times, peer_binaries  # noqa: E402
from support.promtool_series import counter  # noqa: E402

from devstack import promstack  # noqa: E402

METRIC = "bench_requests_total"
# The TSDB's block layout is the one a Prometheus keeping this history for 30d SLOs would have. Prometheus
# caps a block at 10% of its retention (31d at most) and compacts in ranges of 2h x 3^n, so a retention of
# 40 days (30d windows and some margin) keeps blocks of at most 54h: 2h, 6h, 18h, 54h. A 30-day block only
# exists with a retention of about 310 days or more. One retention drives both the backfill (promtool's
# --max-block-duration, rounded down to a compaction range as Prometheus does) and every Prometheus started
# here (its own max block duration, so none of them compacts the history further while it is measured).
RETENTION_DAYS = 40
MAX_BLOCK_HOURS = RETENTION_DAYS * 24 // 10  # Prometheus' default: 10% of the retention
NAMESPACE = "bench"
STEP = 30
MAX_POINTS = 11000
TOOLS = ("ours", "sloth", "pyrra")


def service(i: int) -> str:
    return f"svc-{i:03d}"


# ---- rule files -------------------------------------------------------------------------------------


def our_slo(i: int) -> SLO:
    return resolve(
        ServiceLevelObjective.model_validate(
            {
                "apiVersion": "slo.mlops.dev/v1alpha1",
                "kind": "ServiceLevelObjective",
                "metadata": {"name": service(i), "namespace": NAMESPACE},
                "spec": {
                    "service": service(i),
                    "objective": 99.9,
                    "window": "30d",
                    "indicator": {
                        "availability": {
                            "errors": f'{METRIC}{{service="{service(i)}",code=~"5.."}}',
                            "total": f'{METRIC}{{service="{service(i)}"}}',
                        }
                    },
                },
            }
        )
    )


def sloth_spec(indices: range) -> dict[str, Any]:
    return {
        "version": "prometheus/v1",
        "service": "bench",
        "slos": [
            {
                "name": service(i),
                "objective": 99.9,
                "sli": {
                    "events": {
                        "error_query": (
                            f'sum(rate({METRIC}{{service="{service(i)}",code=~"5.."}}[{{{{.window}}}}]))'
                        ),
                        "total_query": f'sum(rate({METRIC}{{service="{service(i)}"}}[{{{{.window}}}}]))',
                    }
                },
                "alerting": {
                    "name": "Availability",
                    "page_alert": {"labels": {"severity": "critical"}},
                    "ticket_alert": {"labels": {"severity": "warning"}},
                },
            }
            for i in indices
        ],
    }


def pyrra_slo(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "pyrra.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": service(i), "namespace": NAMESPACE},
        "spec": {
            "target": "99.9",
            "window": "30d",
            "alerting": {"absent": False},
            "indicator": {
                "ratio": {
                    "errors": {"metric": f'{METRIC}{{service="{service(i)}",code=~"5.."}}'},
                    "total": {"metric": f'{METRIC}{{service="{service(i)}"}}'},
                }
            },
        },
    }


def generate_rules(n: int, workdir: Path) -> dict[str, dict[str, Any]]:
    binaries = peer_binaries()
    ours = rule_file([our_slo(i) for i in range(n)])
    spec = workdir / "sloth.yaml"
    spec.write_text(yaml.safe_dump(sloth_spec(range(n)), sort_keys=False))
    out = workdir / "sloth-rules.yaml"
    subprocess.run(
        [str(binaries["sloth"]), "generate", "-i", str(spec), "-o", str(out)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    sloth = yaml.safe_load(out.read_text())
    config, folder = workdir / "pyrra-config", workdir / "pyrra-rules"
    config.mkdir()
    folder.mkdir()
    for i in range(n):
        (config / f"{service(i)}.yaml").write_text(yaml.safe_dump(pyrra_slo(i), sort_keys=False))
    subprocess.run(
        [
            str(binaries["pyrra"]),
            "generate",
            f"--config-files={config}/*.yaml",
            f"--prometheus-folder={folder}",
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    pyrra: dict[str, Any] = {"groups": []}
    for path in sorted(folder.glob("*.yaml")):
        pyrra["groups"] += yaml.safe_load(path.read_text())["groups"]
    for document in (ours, sloth, pyrra):
        for group in document["groups"]:
            for rule in group["rules"]:
                rule.pop("annotations", None)
    return {"ours": ours, "sloth": sloth, "pyrra": pyrra}


def with_interval(document: dict[str, Any], interval: str | None) -> dict[str, Any]:
    if interval is None:
        return document
    return {"groups": [{**group, "interval": interval} for group in document["groups"]]}


def recordings(document: dict[str, Any], names: set[str]) -> dict[str, Any]:
    """The groups' recording rules that record one of ``names`` (the inputs backfilled for history)."""
    groups = []
    for group in document["groups"]:
        rules = [
            r for r in group["rules"] if r.get("record") in names and "tier" not in (r.get("labels") or {})
        ]
        if rules:
            groups.append({"name": group["name"], "interval": f"{STEP}s", "rules": rules})
    return {"groups": groups}


# ---- data -------------------------------------------------------------------------------------------


def write_openmetrics(data: base.Data, path: Path) -> None:
    stamps = [str(t) for t in data.times.tolist()]
    with path.open("w") as out:
        out.write(f"# TYPE {METRIC.removesuffix('_total')} counter\n")
        for code, events in (("200", data.ok), ("500", data.bad)):
            for i, row in enumerate(np.cumsum(events, axis=1)):
                prefix = f'{METRIC}{{code="{code}",service="{service(i)}"}} '
                out.write("".join(f"{prefix}{v} {t}\n" for v, t in zip(row.tolist(), stamps, strict=True)))
        out.write("# EOF\n")


class LiveTarget:
    """The counters continued live from the last generated values (last hour's mean rates, 0.1% errors),
    served on a loopback port for the Prometheus under test to scrape."""

    def __init__(self, data: base.Data) -> None:
        self.end = float(data.times[-1])
        hour = max(1, 3600 // data.scrape)
        self.rate = (data.ok[:, -hour:].sum(axis=1) + data.bad[:, -hour:].sum(axis=1)) / (hour * data.scrape)
        self.ok0 = data.ok.sum(axis=1).astype(float)
        self.bad0 = data.bad.sum(axis=1).astype(float)
        self.port = base.free_port()
        target = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                elapsed = max(0.0, time.time() - target.end)
                lines = [f"# TYPE {METRIC.removesuffix('_total')} counter"]
                for i, rate in enumerate(target.rate.tolist()):
                    lines.append(
                        f'{METRIC}{{code="200",service="{service(i)}"}} '
                        f"{target.ok0[i] + 0.999 * rate * elapsed:.3f}"
                    )
                    lines.append(
                        f'{METRIC}{{code="500",service="{service(i)}"}} '
                        f"{target.bad0[i] + 0.001 * rate * elapsed:.3f}"
                    )
                body = ("\n".join(lines) + "\n").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@contextlib.contextmanager
def prometheus(
    tsdb: Path, workdir: Path, rules: dict[str, Any] | None, scrape_port: int | None, scrape: int
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    config: dict[str, Any] = {
        "global": {"evaluation_interval": f"{STEP}s", "scrape_interval": f"{scrape}s"},
        # Prometheus 3 takes the retention from the configuration file (the flag is deprecated) and derives
        # its max block duration from it (10%).
        "storage": {"tsdb": {"retention": {"time": f"{RETENTION_DAYS}d"}}},
    }
    if rules is not None:
        (workdir / "rules.yaml").write_text(to_yaml([rules]))
        config["rule_files"] = [str(workdir / "rules.yaml")]
    if scrape_port is not None:
        config["scrape_configs"] = [
            {
                "job_name": "bench",
                "honor_labels": True,
                "static_configs": [{"targets": [f"127.0.0.1:{scrape_port}"]}],
            }
        ]
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = base.free_port()
    url = f"http://127.0.0.1:{port}"
    log = (workdir / "prometheus.log").open("ab")
    process = subprocess.Popen(
        [
            promstack.binary("prometheus"),
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={tsdb}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--query.max-samples=500000000",
            "--query.timeout=5m",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"prometheus exited:\n{(workdir / 'prometheus.log').read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/-/ready", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError("prometheus not ready within 300s")
            time.sleep(0.5)  # polling interval; the deadline bounds the wait
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


def compact(tsdb: Path, workdir: Path) -> None:
    """Let Prometheus merge the backfilled blocks (each batch of SLOs has its own blocks over the same time
    ranges) before anything is measured, so no run pays for that compaction: start it without rules or
    scrapes and wait until a whole compaction cycle found nothing left to do.

    Prometheus first compacts a minute after it opens the TSDB and counts a compaction only once it is
    written, so a count that has not moved for a minute proves nothing (a long vertical merge was still
    running when an earlier version of this stopped waiting). Compaction cycles run one after the other,
    so when the triggered count is two past its value at the last counted compaction, one full cycle has
    since ended without compacting. Then no two blocks on disk may overlap."""
    with prometheus(tsdb, workdir, None, None, 60) as (url, _):
        done, mark = -1.0, 0.0
        deadline = time.monotonic() + 3600
        while True:
            text = httpx.get(url + "/metrics", timeout=30).text
            count = sum(metric_values(url, "prometheus_tsdb_compactions_total", text))
            triggered = sum(metric_values(url, "prometheus_tsdb_compactions_triggered_total", text))
            if count != done:
                done, mark = count, triggered
            elif triggered >= mark + 2:
                break
            if time.monotonic() > deadline:
                raise TimeoutError("prometheus still compacting the history after an hour")
            time.sleep(5)  # polling interval; the deadline bounds the wait
    spans = sorted((b["minTime"], b["maxTime"]) for b in block_metas(tsdb))
    overlaps = [(a, b) for a, b in itertools.pairwise(spans) if b[0] < a[1]]
    if overlaps:
        raise RuntimeError(f"overlapping blocks left after compaction: {overlaps[:3]}")


def block_metas(tsdb: Path) -> list[dict[str, Any]]:
    return [json.loads(meta.read_text()) for meta in sorted(tsdb.glob("*/meta.json"))]


def layout(tsdb: Path) -> str:
    """The history's blocks, newest last: how many, their spans in hours and the compaction level."""
    metas = sorted(block_metas(tsdb), key=lambda m: m["minTime"])
    spans: list[str] = []
    for m in metas:
        hours = f"{(m['maxTime'] - m['minTime']) / 3.6e6:.0f}h"
        count = spans.pop() if spans and spans[-1].endswith(f" {hours}") else None
        spans.append(f"{int(count.split()[0]) + 1} x {hours}" if count else f"1 x {hours}")
    levels = sorted({m["compaction"]["level"] for m in metas})
    ranges = [2 * 3**n for n in range(10) if 2 * 3**n * 3600 <= block_seconds()]
    return (
        f"{len(metas)} blocks, oldest first: {', '.join(spans)} (compaction level "
        f"{'/'.join(map(str, levels))}); retention {RETENTION_DAYS}d, so blocks of at most "
        f"{MAX_BLOCK_HOURS}h "
        f"and compaction ranges {', '.join(f'{r}h' for r in ranges)}"
    )


# ---- history (cached) -------------------------------------------------------------------------------

# Bump when what the cached history holds changes meaning without the rules' text changing.
HISTORY_FORMAT = "peers-history-5"
BATCH = 25  # SLOs per OpenMetrics file and promtool run
SPAN = 100 * 365 * 86400  # the running sums' backfill form sums every sample so far (tiers.backfill_rule)


def backfilled_groups(rules: dict[str, dict[str, Any]], i: int) -> list[dict[str, Any]]:
    """The recording rules of SLO ``i`` whose history the measured rules read over a range: our base
    rates and running sums (fine and start every STEP, coarse at its own interval) and Sloth's 5m error ratio
    (its 30d window averages it). Pyrra reads only the raw counters."""
    groups = []
    # The objective series too: it carries the parameters the namespace's shared rules join on.
    ours = {BAD_EVENTS, TOTAL_EVENTS, OBJECTIVE, *RUNNING_SUMS.values()}
    for group in rules["ours"]["groups"]:
        shared = f":{SHARED_NAME}:" in group["name"]  # the namespace's: evaluated over this SLO alone
        if f":{service(i)}:" not in group["name"] and not shared:
            continue
        names = set(RUNNING_SUMS.values()) if shared else ours
        kept = [r for r in group["rules"] if r.get("record") in names]
        if kept:
            coarse = any((r.get("labels") or {}).get(TIER_LABEL) == Tiers.coarse_label for r in kept)
            interval = group["interval"] if coarse else f"{STEP}s"
            groups.append({"name": group["name"], "interval": interval, "rules": kept})
    for group in rules["sloth"]["groups"]:
        kept = [
            r
            for r in group["rules"]
            if r.get("record") == "slo:sli_error:ratio_rate5m"
            and (r.get("labels") or {}).get("sloth_slo") == service(i)
        ]
        if kept:
            groups.append({"name": group["name"], "interval": f"{STEP}s", "rules": kept})
    return groups


def history_key(args: argparse.Namespace, rules: dict[str, dict[str, Any]]) -> str:
    """What the history depends on: the data's parameters, the backfilled rules (running sums in their
    backfill form, so a change in how they carry across gaps keeps the history), the Prometheus."""
    digest = hashlib.sha256()
    version = subprocess.run([promstack.binary("prometheus"), "--version"], capture_output=True, text=True)
    params = f"{HISTORY_FORMAT} {args.slos} {args.days} {args.scrape} {args.seed} {STEP} {RETENTION_DAYS}"
    digest.update(f"{params}\n".encode())
    digest.update(version.stdout.splitlines()[0].encode() if version.stdout else b"?")
    for i in range(args.slos):
        groups = backfilled_groups(rules, i)
        normal = [{**g, "rules": [tiers_backfill_rule(r, SPAN) for r in g["rules"]]} for g in groups]
        digest.update(yaml.safe_dump(normal, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def _om_series(
    out: Any, name: str, labels: dict[str, str], times: np.ndarray, values: np.ndarray, low: int, high: int
) -> None:
    """The series' samples at ``low <= t < high`` (seconds) in OpenMetrics text."""
    keep = ~np.isnan(values) & (times >= low) & (times < high)
    text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    prefix = f"{name}{{{text}}} "
    out.write(
        "".join(
            f"{prefix}{v!r} {int(t)}\n"
            for t, v in zip(times[keep].tolist(), values[keep].tolist(), strict=True)
        )
    )


def _history_batch(job: tuple[dict[str, dict[str, Any]], base.Data, range, int, int, Path]) -> float:
    """One batch of SLOs into TSDB blocks under ``out``: the raw counters and, evaluated with the
    simulator's Prometheus semantics, the recorded series (one OpenMetrics file, one promtool run)."""
    rules, data, indices, start, end, out = job
    clock = time.monotonic()
    families: dict[str, list[tuple[dict[str, str], np.ndarray, np.ndarray]]] = {}
    times = data.times.astype(np.float64)
    for i in indices:
        store = evaluator.Store()
        for code, events in (("200", data.ok), ("500", data.bad)):
            labels = {"__name__": METRIC, "code": code, "service": service(i)}
            store.add(
                evaluator.labels_of(labels), evaluator.Series(times, np.cumsum(events[i]).astype(np.float64))
            )
        result = evaluator.run_groups(backfilled_groups(rules, i), store, end=float(end), start=float(start))
        for stored, series in result.store.series.items():
            if series.order == evaluator.INPUT:
                continue
            mapping = dict(stored)
            name = mapping.pop("__name__")
            # Not past the history's end: a group at a long interval (the coarse copies, hourly) is evaluated
            # up to half an interval beyond it, and a block reaching into the future has Prometheus refuse
            # every sample (out of bounds) until that time has passed.
            keep = series.times <= end
            families.setdefault(name, []).append((mapping, series.times[keep], series.values[keep]))
    counters = [
        ({"code": code, "service": service(i)}, times, np.cumsum(events[i]).astype(np.float64))
        for code, events in (("200", data.ok), ("500", data.bad))
        for i in indices
    ]
    # One OpenMetrics file and promtool run per block: promtool reads its whole input once for every block
    # it cuts, so a 30-day file cut into 54h blocks would be parsed 14 times.
    block = block_seconds()
    out.mkdir()
    for low in range(int(times[0]) // block * block, int(times[-1]) + 1, block):
        path = out.with_name(f"{out.name}-{low}.om")
        with path.open("w") as om:
            om.write(f"# TYPE {METRIC.removesuffix('_total')} counter\n")
            for labels, series_times, values in counters:
                _om_series(om, METRIC, labels, series_times, values, low, low + block)
            for name, items in families.items():
                om.write(f"# TYPE {name} gauge\n")
                for labels, series_times, values in items:
                    _om_series(om, name, labels, series_times, values, low, low + block)
            om.write("# EOF\n")
        base.run(
            [
                promstack.binary("promtool"),
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                "-q",
                f"--max-block-duration={MAX_BLOCK_HOURS}h",
                str(path),
                str(out),
            ],
            timeout=7200,
        )
        path.unlink()
    return time.monotonic() - clock


def block_seconds() -> int:
    """The block length promtool cuts for ``--max-block-duration``: the longest compaction range (2h x 3^n)
    within it, as Prometheus' own compactor would reach; blocks start at multiples of it."""
    hours = max(2 * 3**n for n in range(10) if 2 * 3**n <= MAX_BLOCK_HOURS)
    return hours * 3600


def history(args: argparse.Namespace, rules: dict[str, dict[str, Any]], log: Any) -> tuple[Path, base.Data]:
    """The backfilled, compacted TSDB for these SLOs and days, built once and cached under
    ``$SLO_CACHE/peers-history/<key>`` (stamp + lock: a concurrent run waits instead of building twice).

    The cached history ends when it was built; a later run continues the counters live from there, so
    the gap is a Prometheus that was down for a while (the running sums carry across it, see tiers).
    """
    root = promstack.cache_dir() / "peers-history"
    root.mkdir(parents=True, exist_ok=True)
    key = history_key(args, rules)
    folder, stamp = root / key, root / f"{key}.json"
    with (root / f"{key}.lock").open("w") as lock:
        if not stamp.exists():
            log(f"waiting for the history lock {key}" if _locked(lock) else f"history {key}: building")
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists():
            end = json.loads(stamp.read_text())["end"]
            base.END = datetime.fromtimestamp(end, UTC)
            log(f"history {key}: cached (ended {(time.time() - end) / 60:.0f} min ago)")
            return folder / "tsdb", base.generate(args.slos, args.days, args.scrape, args.seed)
        shutil.rmtree(folder, ignore_errors=True)
        building = root / f"{key}.building"
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir()
        base.END = datetime.fromtimestamp(int(time.time()) // args.scrape * args.scrape, UTC)
        data = base.generate(args.slos, args.days, args.scrape, args.seed)
        start, end = int(data.times[0]) + 600, int(data.times[-1])
        start -= start % STEP
        tsdb = building / "tsdb"
        tsdb.mkdir()
        batches = [range(lo, min(args.slos, lo + BATCH)) for lo in range(0, args.slos, BATCH)]
        workers = max(1, min(len(batches), os.cpu_count() or 1))
        log(
            f"history: {args.slos} SLOs x {args.days}d in {len(batches)} batches of {BATCH} on {workers} "
            f"processes (cold: about a minute per batch and process on a busy 2-core machine)"
        )
        jobs = [(rules, data, b, start, end, building / f"batch-{k:03d}") for k, b in enumerate(batches)]
        clock = time.monotonic()
        fork = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=fork) as pool:
            for done, seconds in enumerate(pool.map(_history_batch, jobs), 1):
                elapsed = time.monotonic() - clock
                log(
                    f"history: batch {done}/{len(batches)} ({seconds:.0f}s); "
                    f"{elapsed:.0f}s elapsed, ~{elapsed / done * (len(batches) - done):.0f}s to go"
                )
        for job in jobs:
            for block in job[-1].iterdir():
                os.replace(block, tsdb / block.name)
            job[-1].rmdir()
        log("history: compacting the blocks")
        compact(tsdb, building)
        os.replace(building, folder)
        stamp.write_text(json.dumps({"end": end, "slos": args.slos, "days": args.days, "built": time.time()}))
        log(f"history {key}: built in {time.monotonic() - clock:.0f}s")
        return folder / "tsdb", data


def _locked(lock: Any) -> bool:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(lock, fcntl.LOCK_UN)
    return False


# ---- measurement ------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return math.nan


def memory_parts(url: str, pid: int) -> dict[str, float]:
    """Where the resident memory is: anonymous (Go heap and runtime) against file-backed (mmapped blocks
    and head chunks), the Go heap in use, and the head's series and chunks."""
    parts = {"rss_anon_mb": rss_mb(pid, "RssAnon"), "rss_file_mb": rss_mb(pid, "RssFile")}
    for key, name in (
        ("heap_inuse_mb", "go_memstats_heap_inuse_bytes"),
        ("head_series", "prometheus_tsdb_head_series"),
        ("head_chunks", "prometheus_tsdb_head_chunks"),
        ("blocks", "prometheus_tsdb_blocks_loaded"),
        ("gc_cycles", "go_gc_duration_seconds_count"),
    ):
        values = metric_values(url, name)
        parts[key] = (values[0] / 2**20 if key.endswith("_mb") else values[0]) if values else math.nan
    return parts


def profile(url: str, seconds: int, out: Path) -> threading.Thread:
    """A CPU profile of the Prometheus under test over ``seconds`` (Go pprof, read with ``go tool pprof``),
    fetched in the background while the CPU is measured."""

    def fetch() -> None:
        with contextlib.suppress(httpx.HTTPError):
            body = httpx.get(url + "/debug/pprof/profile", params={"seconds": seconds}, timeout=seconds + 120)
            out.write_bytes(body.content)

    thread = threading.Thread(target=fetch, daemon=True)
    thread.start()
    return thread


def metric_values(url: str, name: str, text: str | None = None) -> list[float]:
    if text is None:
        text = httpx.get(url + "/metrics", timeout=30).text
    return [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") or line.startswith(name + " ")
    ]


def samples_per_evaluation(url: str, rules: dict[str, Any], marker: str, n: int) -> int:
    """Samples one evaluation of every rule mentioning ``marker`` (one SLO's rules) reads."""
    total = 0
    with httpx.Client(base_url=url, timeout=600) as client:
        for group in rules["groups"]:
            for rule in group["rules"]:
                # A rule shared by the namespace's SLOs (ours) counts for 1/n of its reads per SLO.
                share = f":{SHARED_NAME}:" in group["name"]
                if marker not in rule["expr"] and marker not in group["name"] and not share:
                    continue
                body = client.get("/api/v1/query", params={"query": rule["expr"], "stats": "all"}).json()
                read = int(
                    ((body.get("data") or {}).get("stats") or {})
                    .get("samples", {})
                    .get("totalQueryableSamples", 0)
                )
                total += read / n if share else read
    return round(total)


def warm_up(scrape: int) -> int:
    """Seconds before measuring: a first scrape can come up to one interval late, then one more."""
    return max(60, 2 * scrape + 30)


def run_tool(
    name: str,
    rules: dict[str, Any] | None,
    tsdb: Path,
    workdir: Path,
    data: base.Data,
    target: LiveTarget,
    minutes: float,
    scrape: int,
    n: int,
    profile_dir: Path | None = None,
) -> dict[str, float]:
    copy = workdir / f"tsdb-{name}"
    shutil.copytree(tsdb, copy)
    run_dir = workdir / f"run-{name}"
    run_dir.mkdir()
    try:
        with prometheus(copy, run_dir, rules, target.port, scrape) as (url, process):
            started = time.time()
            # Warm-up: WAL replay done, every group evaluated a few times, and two scrapes of the live target
            # in every raw range: the scraped series are new (the history ended before this run, and the
            # target adds job and instance labels), and rate() needs two samples. With a 60s warm-up and a
            # 60s scrape the base rates, and every rule reading them, could still be missing when the
            # measurement began: 9 instead of 15 series per SLO.
            time.sleep(warm_up(scrape))
            cpu0, clock0 = cpu_seconds(process.pid), time.monotonic()
            profiling = None
            if profile_dir is not None:
                profile_dir.mkdir(parents=True, exist_ok=True)
                profiling = profile(url, max(10, int(minutes * 60) - 10), profile_dir / f"{name}.cpu.pb.gz")
            time.sleep(minutes * 60)
            cpu1, clock1 = cpu_seconds(process.pid), time.monotonic()
            result = {"cpu_per_min": (cpu1 - cpu0) / ((clock1 - clock0) / 60), "rss_mb": rss_mb(process.pid)}
            result.update(memory_parts(url, process.pid))
            if profiling is not None and profile_dir is not None:
                profiling.join(180)
                heap = httpx.get(url + "/debug/pprof/heap", timeout=120)
                (profile_dir / f"{name}.heap.pb.gz").write_bytes(heap.content)
            if rules is not None:
                durations = metric_values(url, "prometheus_rule_group_last_duration_seconds")
                samples = metric_values(url, "prometheus_rule_group_last_evaluation_samples")
                result["group_ms"] = 1000 * float(np.mean(durations)) if durations else math.nan
                result["groups"] = len(durations)
                result["series_per_slo"] = sum(samples) / n
                result["samples_per_eval"] = samples_per_evaluation(url, rules, service(0), n)
                result["ratio_30d"] = ratio_30d(url, name)
                # This tool's own window: the history until it ended, then what its Prometheus scraped.
                result["exact_30d"] = exact_ratio(data, target, 0, started, time.time())
                result["gap_min"] = (started - target.end) / 60
                RULE_TIMES[name] = rule_times(url, n)
            return result
    finally:
        shutil.rmtree(copy, ignore_errors=True)


RULE_TIMES: dict[str, dict[str, float]] = {}
EVALS_PER_MIN: dict[str, float] = {}


def evaluations_per_minute(document: dict[str, Any], n: int) -> float:
    """Rule evaluations per SLO per minute: each group's rules times its evaluations per minute (a group
    without an interval runs at the global STEP)."""
    total = 0.0
    for group in document["groups"]:
        seconds = float(parse_duration(group["interval"])) if group.get("interval") else float(STEP)
        total += len(group["rules"]) * 60 / seconds
    return total / n
PER_SLO_LABELS = {"slo", "namespace", "service", "sloth_slo", "sloth_id", "sloth_service", "indicator"}


def rule_times(url: str, n: int) -> dict[str, float]:
    """Microseconds per SLO of each kind of rule (name plus its non-SLO labels) at its last evaluation:
    where a rule set spends its group time."""
    body = httpx.get(url + "/api/v1/rules", timeout=120).json()
    out: dict[str, float] = {}
    for group in body["data"]["groups"]:
        for rule in group["rules"]:
            labels = {k: v for k, v in (rule.get("labels") or {}).items() if k not in PER_SLO_LABELS}
            key = rule["name"] + (
                "{" + ",".join(f"{k}={v}" for k, v in sorted(labels.items())) + "}" if labels else ""
            )
            out[key] = out.get(key, 0.0) + 1e6 * float(rule.get("evaluationTime", 0)) / n
    return dict(sorted(out.items(), key=lambda item: -item[1]))


def exact_ratio(data: base.Data, target: LiveTarget, row: int, started: float, at: float) -> float:
    """The error ratio of one service's events in the 30 days up to ``at`` (when a tool's ratio was read):
    the generated history in that window, plus the live events from ``started`` (its Prometheus ready)
    to ``at``. The live events between the end of the history and ``started`` reached no Prometheus (it
    was down), so no tool can count them. The tools' ratios are read for service 0 (over all services
    the figure differs by the services' own Poisson noise, ~0.7% at 20 SLOs)."""
    gap = at - float(data.times[-1])
    columns = slice(len(data.times) - max(0, 30 * 86400 - int(gap)) // data.scrape, len(data.times))
    live = float(target.rate[row]) * max(0.0, at - started)
    bad = float(data.bad[row, columns].sum()) + 0.001 * live
    return bad / (bad + float(data.ok[row, columns].sum()) + 0.999 * live)


def ratio_30d(url: str, name: str) -> float:
    expr = {
        "ours": f'1 - slo:sli:ratio{{slo="{service(0)}"}}',  # the SLO window's ratio is recorded as the SLI
        "sloth": f'slo:sli_error:ratio_rate30d{{sloth_slo="{service(0)}"}}',
        "pyrra": (
            f'sum(bench_requests:increase30d{{slo="{service(0)}",code=~"5.."}})'
            f' / sum(bench_requests:increase30d{{slo="{service(0)}"}})'
        ),
    }[name]
    result = httpx.get(url + "/api/v1/query", params={"query": expr}, timeout=120).json()["data"]["result"]
    return float(result[0]["value"][1]) if result else math.nan


# ---- alert timing -----------------------------------------------------------------------------------

HOUR = 3600 // STEP
HEALTHY = 24 * HOUR  # a healthy day first, so every alert window holds history
PER_SAMPLE = 300.0
SCENARIOS = {
    "total outage": [(1.0, HOUR // 3), (0.0, 2 * HOUR)],
    "2% burst": [(0.02, 2 * HOUR), (0.0, 2 * HOUR)],
}


def alert_timing(rules: dict[str, dict[str, Any]], workdir: Path) -> dict[str, dict[str, Firing]]:
    """First and last firing of each tool's page (critical) and ticket (warning) alerts per scenario."""
    one = {
        name: {"groups": [g for g in doc["groups"] if service(0) in g["name"] or service(0) in str(g)]}
        for name, doc in rules.items()
    }
    out: dict[str, dict[str, Firing]] = {}
    for scenario, phases in SCENARIOS.items():
        steps = [(0.0, HEALTHY), *phases]
        series = [
            {
                "series": f'{METRIC}{{code="200",service="{service(0)}"}}',
                "values": counter(0, [(PER_SAMPLE * (1 - e), k) for e, k in steps]),
            },
            {
                "series": f'{METRIC}{{code="500",service="{service(0)}"}}',
                "values": counter(0, [(PER_SAMPLE * e, k) for e, k in steps]),
            },
        ]
        end = sum(k for _, k in steps) * STEP
        classes = {
            "ours page": 'alertname="SLOFastBurn"',
            "ours ticket": 'alertname="SLOSlowBurn"',
            "sloth page": 'sloth_slo!="",severity="critical"',
            "sloth ticket": 'sloth_slo!="",severity="warning"',
            "pyrra page": 'alertname="ErrorBudgetBurn",severity="critical"',
            "pyrra ticket": 'alertname="ErrorBudgetBurn",severity="warning"',
        }
        scenario_dir = workdir / f"alerts-{scenario.replace(' ', '-').replace('%', 'pct')}"
        scenario_dir.mkdir()
        out[scenario] = firing_times(scenario_dir, one, series, end, classes)
    return out


# ---- main -------------------------------------------------------------------------------------------


def ratio_text(ours: float, peer: float) -> str:
    return f"{ours / peer:.2f}x" if peer and not math.isnan(peer) and not math.isnan(ours) else "-"


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="rules_cost_bench.py peers", description=__doc__.splitlines()[0])
    parser.add_argument("--slos", type=int, default=100)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--scrape", type=int, default=60)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--own-intervals", action="store_true", help="each tool's own group intervals")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--no-alert-timing",
        action="store_true",
        help="skip the promtool alert scenarios (independent of --slos)",
    )
    parser.add_argument(
        "--tools",
        default=",".join(TOOLS),
        help="comma-separated subset of ours,sloth,pyrra to measure (ratios need ours and the peer)",
    )
    parser.add_argument(
        "--history-only",
        action="store_true",
        help="build (or find) the cached history, print its block layout and stop",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="write each Prometheus' CPU and heap profiles (Go pprof) into this folder",
    )
    args = parser.parse_args(argv)
    # SIGTERM (a timeout, a cancelled job) unwinds like Ctrl-C: the Prometheus under test is stopped and
    # the working folder removed by the context managers, instead of being left running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    args.tools = [t for t in TOOLS if t in args.tools.split(",")]
    clock = time.monotonic()

    def log(text: str) -> None:
        print(f"[{time.monotonic() - clock:7.1f}s] {text}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="slo-peers-bench-") as tmp:
        workdir = Path(tmp)
        rules = generate_rules(args.slos, workdir)
        log("rules generated")
        timing = {} if args.no_alert_timing or args.history_only else alert_timing(rules, workdir)
        log("alert timing done" if timing else "alert timing skipped")
        tsdb, data = history(args, rules, log)
        blocks = layout(tsdb)
        log(f"history layout: {blocks}")
        if args.history_only:
            print(f"history: {tsdb}\nlayout: {blocks}")
            return
        target = LiveTarget(data)
        interval = None if args.own_intervals else f"{STEP}s"
        results: dict[str, dict[str, float]] = {}
        try:
            results["baseline"] = run_tool(
                "baseline", None, tsdb, workdir, data, target, args.minutes, args.scrape, args.slos
            )
            log(f"baseline: {results['baseline']}")
            for tool in args.tools:
                EVALS_PER_MIN[tool] = evaluations_per_minute(with_interval(rules[tool], interval), args.slos)
                results[tool] = run_tool(
                    tool,
                    with_interval(rules[tool], interval),
                    tsdb,
                    workdir,
                    data,
                    target,
                    args.minutes,
                    args.scrape,
                    args.slos,
                    args.profile,
                )
                log(f"{tool}: {results[tool]}")
        finally:
            target.close()
    report(args, results, timing, blocks)


def report(
    args: argparse.Namespace,
    results: dict[str, dict[str, float]],
    timing: dict[str, dict[str, Firing]],
    blocks: str,
) -> None:
    info = subprocess.run([promstack.binary("prometheus"), "--version"], capture_output=True, text=True)
    version = (info.stdout + info.stderr).splitlines()[0] if (info.stdout + info.stderr) else "?"
    print(
        f"{args.slos} SLOs (99.9%/30d availability, one service each), {args.days}d of history scraped "
        f"every {args.scrape}s, recorded inputs every {STEP}s; groups every "
        f"{'own interval' if args.own_intervals else f'{STEP}s'}; {args.minutes:g} min measured per tool "
        f"after {warm_up(args.scrape)} s; {os.cpu_count()} cores; {version}"
    )
    print(f"history TSDB (one copy per tool): {blocks}")
    idle = results["baseline"]["cpu_per_min"]
    print(
        f"baseline (same data and scrape, no rules): {idle:.2f} CPU-s/min, "
        f"{results['baseline']['rss_mb']:.0f} MB"
    )
    header = (
        f"{'tool':<6} {'CPU-s/min':>10} {'net of base':>11} {'group ms':>9} {'samples/SLO/eval':>17}"
        f" {'series/SLO':>10} {'RSS MB':>7} {'30d ratio':>10} {'vs exact':>9}"
    )
    print(header)
    print("-" * len(header))
    for tool in args.tools:
        r = results[tool]
        exact = r["exact_30d"] if args.days >= 30 else math.nan
        off = 100 * (r["ratio_30d"] - exact) / exact if exact else math.nan
        print(
            f"{tool:<6} {r['cpu_per_min']:>10.2f} {r['cpu_per_min'] - idle:>11.2f} {r['group_ms']:>9.2f}"
            f" {r['samples_per_eval']:>17,} {r['series_per_slo']:>10.1f} {r['rss_mb']:>7.0f}"
            f" {r['ratio_30d']:>10.6f} {off:>+8.2f}%"
        )
    exacts = ", ".join(
        f"{tool} {results[tool]['exact_30d']:.6f} ({results[tool]['gap_min']:.0f} min after the history)"
        for tool in args.tools
    )
    print(f"exact 30d error ratio of {service(0)}'s events in each tool's window: {exacts}")
    if "ours" in results and results["ours"]["gap_min"] * 60 > CARRY:
        print(
            f"note: ours started more than {CARRY // 3600}h after the history ended: its fine running sums "
            "waited for the hourly coarse copy (tiers), so part of the run had no long windows"
        )
    for tool in ["baseline", *args.tools]:
        r = results[tool]
        print(
            f"{tool} memory: RSS {r['rss_mb']:.0f} MB = anonymous {r['rss_anon_mb']:.0f} + file-backed "
            f"{r['rss_file_mb']:.0f}; Go heap in use {r['heap_inuse_mb']:.0f} MB; "
            f"head {r['head_series']:,.0f} series, {r['head_chunks']:,.0f} chunks; {r['blocks']:.0f} blocks; "
            f"{r['gc_cycles']:.0f} GC cycles"
        )
    for tool, times in RULE_TIMES.items():
        every = ", ".join(f"{key} {us:.0f}" for key, us in times.items())
        print(f"{tool} rule time per SLO (us, last evaluation, {sum(times.values()):.0f} in all): {every}")
    for tool, evaluations in EVALS_PER_MIN.items():
        times = RULE_TIMES.get(tool, {})
        floor = f"; cheapest rule {min(times.values()):.0f} us per evaluation" if times else ""
        print(f"{tool}: {evaluations:.1f} rule evaluations per SLO per minute{floor}")
    ours = results.get("ours")
    for peer in ("sloth", "pyrra"):
        if ours is None or peer not in results:
            continue
        p = results[peer]
        print(
            f"ours / {peer}: CPU {ratio_text(ours['cpu_per_min'] - idle, p['cpu_per_min'] - idle)} (net), "
            f"{ratio_text(ours['cpu_per_min'], p['cpu_per_min'])} (gross); samples per evaluation "
            f"{ratio_text(ours['samples_per_eval'], p['samples_per_eval'])}; series per SLO "
            f"{ratio_text(ours['series_per_slo'], p['series_per_slo'])}; RSS "
            f"{ratio_text(ours['rss_mb'], p['rss_mb'])}"
        )
    print(
        "\nAlert timing (seconds after the errors start, after a healthy day; promtool, evaluation every "
        "30s):\nfirst fired / last fired (resolved one evaluation later; end: still firing at the end)"
    )
    for scenario, classes in timing.items():
        cells = []
        for cls, firing in classes.items():
            if firing.first is None or firing.last is None:
                cells.append(f"{cls}: never")
            else:
                run_end = (HEALTHY + sum(k for _, k in SCENARIOS[scenario])) * STEP
                last = "end" if firing.last >= run_end - STEP else f"{firing.last - HEALTHY * STEP:.0f}"
                cells.append(f"{cls}: {firing.first - HEALTHY * STEP:.0f} / {last}")
        print(f"  {scenario}: " + "; ".join(cells))
