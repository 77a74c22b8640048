"""A backfilled month (100 days) of the model service's SLIs, for the forecast backtest.

Not a test. Two steps::

    .venv/bin/python bench/model_service_month.py record   # ~5 min: real service, real load, real faults
    .venv/bin/python bench/forecast_backtest.py            # reads the recording, backfills, backtests

``record`` serves the real model service (``bentoml serve``, one worker, the saved model), drives it
with the project's load tool at several rates, injects its real faults (an error rate, then a latency
fault) and scrapes its ``/metrics`` every ``SCRAPE_EVERY`` seconds. It writes what the service did per
phase to ``bench/data/model_service_run.json`` (committed): requests, 5xx and requests slower than
200 ms, as the example SLOs ``model-availability`` (99.9%/30d) and ``model-latency`` (95% <= 200ms/30d)
count them.

``build`` (called by the backtest) turns that into 100 days of the service's source counters,
minute by minute, and backfills them into a real Prometheus with promtool
(``create-blocks-from openmetrics``, then ``create-blocks-from rules`` with the rules slo-operator
renders for the two example SLOs). The backtest reads the hourly history back with the operator's
own batched history query. What is measured and what is assumed:

- measured: the share of 5xx and of slow requests at each rate without faults, and what the fault
  injector's error-rate and latency faults turn into at the service's /metrics;
- assumed: the traffic's daily and weekly shape (the service has no users of its own: the lab's load
  runs a daily cycle peaking at 40 req/s at 14:00 UTC, a quiet night, weekends at 60%) and the
  incident schedule (fault injections at random times, on average one every 10 days, of the kinds
  recorded at 0.2, 0.5, 1 or 2 times the recorded dose, 10 minutes to 3 hours long). Counts per
  minute are drawn binomially from the measured shares, so the noise is that of real counts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "operator"))
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")

RECORDING = REPO_ROOT / "bench" / "data" / "model_service_run.json"
SCRAPE_EVERY = 5.0
PHASE_SECONDS = 45.0
THRESHOLD = "0.2"  # model-latency's bucket
# (name, request rate, fault config or None)
PHASES: tuple[tuple[str, float, dict[str, Any] | None], ...] = (
    ("rate 5", 5.0, None),
    ("rate 20", 20.0, None),
    ("rate 40", 40.0, None),
    ("rate 20, error fault 5%", 20.0, {"error_rate": 0.05}),
    ("rate 20, latency fault 0.3s on 20%", 20.0, {"latency_seconds": 0.3, "latency_probability": 0.2}),
)
NAMESPACE = "ml-serving"
SLOS = ("model-availability", "model-latency")


# ---- record: the real service ------------------------------------------------------------------


def _counts(url: str) -> dict[str, float]:
    from model_service.devserver import MetricsSnapshot

    snap = MetricsSnapshot.scrape(url)
    total = "bentoml_service_request_total"
    hist = "bentoml_service_request_duration_seconds"
    return {
        "requests": snap.value(total, lambda lab: not lab.get("http_response_code", "").startswith("4"),
                               endpoint="/predict"),
        "errors": snap.value(total, lambda lab: lab.get("http_response_code", "").startswith("5"),
                             endpoint="/predict"),
        "timed": snap.value(hist + "_count", endpoint="/predict"),
        "fast": snap.value(hist + "_bucket", endpoint="/predict", le=THRESHOLD),
    }


def record(out: Path) -> None:
    from model_service.devserver import ServiceProcess, temp_workdir
    from model_service.traffic import LoadConfig, run_load, set_faults

    model_dir = Path(os.environ.get("MODEL_DIR", Path.home() / ".cache" / "slo-operator" / "model-service"))
    workdir = temp_workdir("model-month-")
    env = {"MODEL_SERVICE_ADMIN_ENABLED": "true"}
    phases = []
    with ServiceProcess(workdir, model_dir=model_dir, env=env) as service:
        url = service.url
        run_load(LoadConfig(url=url, rate=10, duration_seconds=5))  # warm-up, not recorded
        for name, rate, fault in PHASES:
            set_faults(url, **(fault or {}))
            before = _counts(url)
            scrapes = []
            load = threading.Thread(target=run_load, args=(LoadConfig(
                url=url, rate=rate, duration_seconds=PHASE_SECONDS, concurrency=64),))
            began = time.monotonic()
            load.start()
            while load.is_alive():
                load.join(timeout=SCRAPE_EVERY)
                now = _counts(url)
                scrapes.append({"t": round(time.monotonic() - began, 1),
                                **{k: now[k] - before[k] for k in now}})
            after = _counts(url)
            delta = {k: after[k] - before[k] for k in after}
            phases.append({"phase": name, "rate": rate, "fault": fault, "seconds": PHASE_SECONDS,
                           **delta, "scrapes": scrapes})
            print(f"{name}: {delta}", file=sys.stderr)
        set_faults(url)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "what": "the model service under the load tool, counters read from its /metrics",
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "threshold_seconds": float(THRESHOLD), "phases": phases}, indent=1) + "\n")


# ---- build: 100 days of counters, backfilled ----------------------------------------------------


def learned(recording: dict[str, Any]) -> dict[str, Any]:
    """Shares per rate without faults, and what each fault kind did (5xx share, slow share)."""
    clean = [p for p in recording["phases"] if not p["fault"]]
    rates = np.array([p["rate"] for p in clean])
    err = np.array([p["errors"] / max(p["requests"], 1) for p in clean])
    slow = np.array([(p["timed"] - p["fast"]) / max(p["timed"], 1) for p in clean])
    faults = {}
    for p in recording["phases"]:
        if p["fault"]:
            # What the fault added to the shares measured at the same rate without it.
            kind = "errors" if p["fault"].get("error_rate") else "latency"
            faults[kind] = {
                "errors": max(0.0, p["errors"] / max(p["requests"], 1)
                              - float(np.interp(p["rate"], rates, err))),
                "slow": max(0.0, (p["timed"] - p["fast"]) / max(p["timed"], 1)
                            - float(np.interp(p["rate"], rates, slow))),
                "fault": p["fault"]}
    return {"rates": rates, "errors": err, "slow": slow, "faults": faults}


def traffic_rate(minutes: np.ndarray) -> np.ndarray:
    """Requests per second at each minute (from a Monday 00:00 UTC): the assumed daily/weekly cycle."""
    hours = minutes / 60.0
    daily = 0.5 * (1 + np.cos(2 * np.pi * (hours % 24 - 14) / 24))  # 1 at 14:00, 0 at 02:00
    weekday = (hours // 24) % 7
    weekly = np.where(weekday >= 5, 0.6, 1.0)
    return (3.0 + 37.0 * daily) * weekly


def minute_events(recording: dict[str, Any], days: int, seed: int) -> dict[str, np.ndarray]:
    """Per minute: requests, 5xx, slow requests (the two SLOs' bad events)."""
    rng = np.random.default_rng(seed)
    shape = learned(recording)
    minutes = np.arange(days * 1440)
    rate = traffic_rate(minutes)
    requests = rng.poisson(rate * 60)
    err_share = np.interp(rate, shape["rates"], shape["errors"])
    slow_share = np.interp(rate, shape["rates"], shape["slow"])
    # Incidents: fault injections of the recorded kinds, at random minutes.
    count = rng.poisson(days / 10)
    for _ in range(count):
        at = int(rng.integers(0, days * 1440))
        length = int(rng.choice([10, 20, 45, 90, 180]))
        kind = str(rng.choice(sorted(shape["faults"])))
        scale = float(rng.choice([0.2, 0.5, 1.0, 2.0]))  # the recorded fault at a fraction or twice the dose
        fault = shape["faults"][kind]
        span = slice(at, min(at + length, len(minutes)))
        err_share[span] = np.minimum(1.0, err_share[span] + scale * fault["errors"])
        slow_share[span] = np.minimum(1.0, slow_share[span] + scale * fault["slow"])
    errors = rng.binomial(requests, np.clip(err_share, 0, 1))
    slow = rng.binomial(requests - errors, np.clip(slow_share, 0, 1))
    return {"requests": requests, "errors": errors, "slow": slow, "incidents": np.array([count])}


def write_openmetrics(path: Path, events: dict[str, np.ndarray], start: int) -> None:
    """The service's counters as a scrape every minute sees them (5xx are answered fast: counted as
    fast requests in the histogram, as BentoML does)."""
    names = {
        "bentoml_service_request_total": "counter",
        "bentoml_service_request_duration_seconds": "histogram",
    }
    ok = np.concatenate(([0], np.cumsum(events["requests"] - events["errors"])))
    err = np.concatenate(([0], np.cumsum(events["errors"])))
    count = np.concatenate(([0], np.cumsum(events["requests"])))
    fast = np.concatenate(([0], np.cumsum(events["requests"] - events["slow"])))
    ts = start + 60 * np.arange(len(ok))
    series = [
        ("bentoml_service_request_total", 'endpoint="/predict",http_response_code="200"', ok),
        ("bentoml_service_request_total", 'endpoint="/predict",http_response_code="500"', err),
        ("bentoml_service_request_duration_seconds_bucket", f'endpoint="/predict",le="{THRESHOLD}"', fast),
        ("bentoml_service_request_duration_seconds_bucket", 'endpoint="/predict",le="+Inf"', count),
        ("bentoml_service_request_duration_seconds_count", 'endpoint="/predict"', count),
    ]
    with path.open("w") as out:
        out.write(f"# TYPE bentoml_service_request {names['bentoml_service_request_total']}\n")
        for name, labels, values in series[:2]:
            out.writelines(f"{name}{{{labels}}} {v} {t}\n" for v, t in zip(values, ts, strict=True))
        out.write("# TYPE bentoml_service_request_duration_seconds histogram\n")
        for name, labels, values in series[2:]:
            out.writelines(f"{name}{{{labels}}} {v} {t}\n" for v, t in zip(values, ts, strict=True))
        out.write("# EOF\n")


def _run(cmd: list[str], **kwargs: Any) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def histories(workdir: Path, start: int, days: int, seed: int = 0,
              recording: Path = RECORDING) -> tuple[dict[str, Any], dict[str, Any]]:
    """Backfill ``days`` from ``start`` and read each SLO's hourly history back the operator's way.
    Returns ({slo name: (objective, window seconds, History)}, facts about the build)."""
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    import yaml
    from reports.monthdata import PrometheusServer  # a TSDB served on loopback
    from slo_operator import forecast as fc
    from slo_operator.api import ServiceLevelObjective
    from slo_operator.model import resolve
    from slo_operator.prometheus import PrometheusClient
    from slo_operator.promql import BAD_EVENTS, TOTAL_EVENTS
    from slo_operator.render import RenderOptions, rule_file, to_yaml
    from slo_operator.rules import RuleOptions

    from devstack import promstack

    data = json.loads(recording.read_text())
    clock = time.monotonic()
    events = minute_events(data, days, seed)
    workdir.mkdir(parents=True, exist_ok=True)
    tsdb = workdir / "tsdb"
    tsdb.mkdir()
    om = workdir / "month.om"
    write_openmetrics(om, events, start)
    promtool = promstack.binary("promtool")
    _run([promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", "--max-block-duration=800h",
          str(om), str(tsdb)], timeout=900)
    om.unlink()
    slos = [resolve(ServiceLevelObjective.model_validate(yaml.safe_load(
        (REPO_ROOT / "manifests" / "examples" / f"{name}.yaml").read_text())))
        for name in ("availability", "latency")]
    rules = rule_file(slos, RenderOptions(rules=RuleOptions(fast_interval="5m", slow_interval="5m")))
    wanted = (BAD_EVENTS, TOTAL_EVENTS)  # the forecast reads these two only
    base = {"groups": [{**g, "rules": [r for r in g["rules"] if r.get("record") in wanted]}
                       for g in rules["groups"]]}
    base["groups"] = [g for g in base["groups"] if g["rules"]]
    (workdir / "rules.yaml").write_text(to_yaml([base]))
    end = start + days * 86400
    server = PrometheusServer(tsdb, workdir)
    server.start()
    try:
        _run([promtool, "tsdb", "create-blocks-from", "rules", "-q", "--max-block-duration=800h",
              f"--url={server.url}", f"--start={start}", f"--end={end}", "--output-dir=blocks",
              "--eval-interval=300s", "rules.yaml"], cwd=workdir, timeout=900)
    finally:
        server.stop()
    for block in (workdir / "blocks").iterdir():
        os.replace(block, tsdb / block.name)
    backfilled = time.monotonic() - clock
    server.start()
    try:
        client = PrometheusClient(server.url)
        queries = 0
        hours = days * 24
        # The operator's own batched history query, a week per request, over the whole span.
        series: dict[tuple[str, str], dict[str, np.ndarray]] = {}
        first = start
        while first < end:
            stop = min(end, first + 7 * 86400)
            for labels, samples in client.query_range(_history_query(), first + fc.HOUR, stop, fc.HOUR):
                key = (labels.get("namespace", ""), labels.get("slo", ""))
                values = series.setdefault(key, {"bad": np.full(hours, np.nan),
                                                 "total": np.full(hours, np.nan)})[labels["series"]]
                for t, v in samples:
                    index = (round(t) - fc.HOUR - start) // fc.HOUR
                    if 0 <= index < hours:
                        values[index] = v
            queries += 1
            first = stop
    finally:
        server.stop()
    out = {}
    for slo in slos:
        got = series[(slo.namespace, slo.name)]
        out[slo.name] = (float(slo.objective), slo.window, fc.History(start, got["bad"], got["total"]))
    facts = {"days": days, "requests": int(events["requests"].sum()),
             "incidents": int(events["incidents"][0]),
             "backfill_seconds": round(backfilled, 1), "range_queries": queries,
             "recorded_at": data["recorded_at"]}
    return out, facts


def _history_query() -> str:
    from slo_operator.forecaster import HISTORY_QUERY

    return HISTORY_QUERY


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["record"])
    parser.add_argument("--out", type=Path, default=RECORDING)
    args = parser.parse_args()
    record(args.out)


if __name__ == "__main__":
    main()
