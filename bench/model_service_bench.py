"""Benchmark of the model service's /predict: latency percentiles, throughput, SLI-tracking overhead.

Not a test. Run::

    .venv/bin/python bench/model_service_bench.py [--seconds 5] [--rounds 3] [--concurrency 1 16]
        [--batch 1] [--with-no-metrics] [--json-out FILE]

Two services run side by side on loopback (``bentoml serve``, one worker each): tracking on (the
default) and ``MODEL_SLI_TRACKING=false``; with ``--with-no-metrics`` a third one also disables
BentoML's own metrics middleware. Each round measures every variant for ``--seconds`` per
concurrency level, interleaved, so drift on the machine hits every variant alike; results are
pooled over rounds. The client is a closed loop of ``concurrency`` asyncio workers (httpx) on the
same machine, so absolute throughput includes the client's CPU share (2 cores here).

It also times the tracker's record_* calls in a subprocess in prometheus multiprocess mode
(the per-request cost the service pays), which is far more precise than end-to-end differences.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")

from model_service import training  # noqa: E402
from model_service.devserver import ServiceProcess  # noqa: E402
from model_service.traffic import percentile  # noqa: E402

VARIANTS: dict[str, dict[str, str]] = {
    "tracking_on": {"MODEL_SLI_TRACKING": "true"},
    "tracking_off": {"MODEL_SLI_TRACKING": "false"},
}
NO_METRICS = {"MODEL_SLI_TRACKING": "false", "MODEL_SERVICE_BENTOML_METRICS": "false"}


@dataclass
class Samples:
    latencies: list[float] = field(default_factory=list)
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        def ms(p: float) -> float | None:
            v = percentile(self.latencies, p)
            return round(v * 1000, 3) if v is not None else None

        return {
            "requests": self.requests,
            "errors": self.errors,
            "throughput_rps": round(self.requests / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": ms(50),
            "p95_ms": ms(95),
            "p99_ms": ms(99),
            "mean_ms": round(statistics.fmean(self.latencies) * 1000, 3) if self.latencies else None,
        }


async def closed_loop(url: str, body: bytes, concurrency: int, seconds: float, out: Samples) -> None:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()

        async def worker() -> None:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                resp = await client.post(url + "/predict", content=body, headers=headers)
                elapsed = time.perf_counter() - t0
                out.requests += 1
                if resp.status_code == 200:
                    out.latencies.append(elapsed)
                else:
                    out.errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        out.seconds += time.perf_counter() - started


RECORD_COST_SNIPPET = textwrap.dedent(
    """
    import json, sys, time
    sys.path.insert(0, {root!r})
    from model_service.sli import SLITracker
    results = {{}}
    for enabled in (True, False):
        t = SLITracker(enabled=enabled, model_name="m", model_version="v")
        t.start()
        n = 20000
        t0 = time.perf_counter()
        for i in range(n):
            t.record_availability(True)
            t.record_latency(0.003)
            t.record_predictions(1)
        results["tracking_on" if enabled else "tracking_off"] = (time.perf_counter() - t0) / n * 1e6
    print(json.dumps(results))
    """
)


def record_cost_us() -> dict[str, float]:
    """Per-request cost (µs) of the tracker calls on /predict, in prometheus multiprocess mode."""
    with tempfile.TemporaryDirectory() as mp_dir:
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": mp_dir}
        out = subprocess.run(
            [sys.executable, "-c", RECORD_COST_SNIPPET.format(root=str(REPO_ROOT))],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
    data: dict[str, float] = json.loads(out.stdout)
    return {k: round(v, 2) for k, v in data.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per variant, per concurrency, per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--batch", type=int, default=1, help="rows per /predict request")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per variant")
    parser.add_argument(
        "--with-no-metrics", action="store_true", help="add a variant without BentoML metrics"
    )
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    variants = dict(VARIANTS)
    if args.with_no_metrics:
        variants["no_metrics"] = NO_METRICS
    workdir = Path(tempfile.mkdtemp(prefix="model-bench-"))
    model_dir = workdir / "model"
    training.train_and_save(model_dir)
    ds = training.load_dataset()
    body = json.dumps({"instances": ds.x_test[: args.batch].tolist()}).encode()

    servers: dict[str, ServiceProcess] = {}
    try:
        for name, env in variants.items():
            servers[name] = ServiceProcess(workdir / name, model_dir=model_dir, env=env).start()
        for server in servers.values():
            asyncio.run(closed_loop(server.url, body, 4, args.warmup, Samples()))
        results: dict[str, dict[int, Samples]] = {
            n: {c: Samples() for c in args.concurrency} for n in variants
        }
        for rnd in range(args.rounds):
            order = list(servers) if rnd % 2 == 0 else list(reversed(servers))
            for concurrency in args.concurrency:
                for name in order:
                    asyncio.run(
                        closed_loop(
                            servers[name].url, body, concurrency, args.seconds, results[name][concurrency]
                        )
                    )
    finally:
        for server in servers.values():
            server.stop()

    report: dict[str, Any] = {
        "config": {
            "seconds": args.seconds,
            "rounds": args.rounds,
            "batch_rows": args.batch,
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
        },
        "variants": {n: {str(c): s.summary() for c, s in per.items()} for n, per in results.items()},
        "record_calls_us_per_request": record_cost_us(),
    }
    overhead: dict[str, Any] = {}
    for c in args.concurrency:
        on = results["tracking_on"][c].summary()
        off = results["tracking_off"][c].summary()
        overhead[str(c)] = {
            "throughput_ratio_on_over_off": round(on["throughput_rps"] / off["throughput_rps"], 4),
            "p50_ratio_on_over_off": round(on["p50_ms"] / off["p50_ms"], 4),
            "p99_ratio_on_over_off": round(on["p99_ms"] / off["p99_ms"], 4),
        }
    report["overhead"] = overhead

    print(f"{'variant':<14}{'conc':>5}{'req':>8}{'rps':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    for name, per in report["variants"].items():
        for c, s in per.items():
            print(
                f"{name:<14}{c:>5}{s['requests']:>8}{s['throughput_rps']:>9}"
                f"{s['p50_ms']:>9}{s['p95_ms']:>9}{s['p99_ms']:>9}"
            )
    print(
        json.dumps(
            {"overhead": overhead, "record_calls_us_per_request": report["record_calls_us_per_request"]}
        )
    )
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
