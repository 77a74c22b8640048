"""Benchmark: ``slo-operator simulate`` against ``promtool test rules`` on the same month.

Not a test. Run::

    .venv/bin/python bench/simulate_bench.py [--days 30] [--promtool PATH] [--json-out FILE]

One SLO (manifests/examples/availability.yaml), ``--days`` of traffic scraped every 30s (daily
seasonality, an outage, a slow degradation), rules evaluated every 30s. The simulator runs in this
process (time and peak memory from tracemalloc, which numpy reports to); promtool runs the same input
series in a unit test whose expectations are the simulator's own alert instants, so the benchmark
also checks that both agree (promtool's peak memory from the child's rusage). Prints the ratio.

promtool's test engine refuses queries over 10,000 samples: the SLO's 30d window over a 30s series
passes that after 83h, so promtool cannot run a month of these rules at all. It runs ``--promtool-days``
(3) of the same scenario; the ratio compares both on those days, and the simulator's month is timed too.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--promtool-days", type=int, default=3)
    parser.add_argument("--promtool", default=shutil.which("promtool") or "promtool")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    from slo_operator.api import ServiceLevelObjective
    from slo_operator.evaluator import Semantics
    from slo_operator.model import resolve
    from slo_operator.promtool_compat import firing_at
    from slo_operator.render import rule_file, to_yaml
    from slo_operator.scenario import parse_scenario, promtool_series, raw_series
    from slo_operator.simulate import Timing, simulate_scenario

    from devstack import promstack

    document = yaml.safe_load((REPO_ROOT / "manifests/examples/availability.yaml").read_text())
    slo = resolve(ServiceLevelObjective.model_validate(document))
    days = args.days
    semantics = Semantics.for_version(promstack.version(args.promtool))

    def scenario_of(days: int) -> Any:
        return parse_scenario({
            "duration": f"{days}d", "scrapeInterval": "30s",
            "traffic": {"rate": 10, "daily": 0.5}, "errorRatio": 0.0003,
            "events": [
                {"at": f"{days * 8}h", "for": "20m", "errorRatio": 1},
                {"at": f"{days * 16}h", "for": "12h", "errorRatio": 0.005},
            ],
        })

    timing = Timing(promtool=True, semantics=semantics)
    tracemalloc.start()
    started = time.perf_counter()
    month = simulate_scenario(slo, scenario_of(days), timing)
    month_seconds = time.perf_counter() - started
    month_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"simulator, {days} days: {month_seconds:.2f}s, peak {month_peak / 2**20:.1f} MiB, "
          f"alerts {[(s.alert, s.fired, s.resolved) for s in month.spans]}")

    days = min(days, args.promtool_days)
    scenario = scenario_of(days)
    started = time.perf_counter()
    outcome = simulate_scenario(slo, scenario, timing)
    simulator_seconds = time.perf_counter() - started
    print(f"simulator, {days} days: {simulator_seconds:.2f}s")

    checks = []
    names = sorted({s.alert for s in outcome.spans} | {a.name for a in slo.alerts})
    moments = sorted({t for s in outcome.spans for t in (s.fired, s.fired - 30, s.resolved or s.fired)})
    for name in names:
        for at in moments:
            firing = firing_at(outcome.result, name, at)
            checks.append({"eval_time": f"{int(at)}s", "alertname": name,
                           "exp_alerts": [{"exp_labels": labels} for labels in firing]})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rules = rule_file([slo])
        for group in rules["groups"]:
            for rule in group["rules"]:
                rule.pop("annotations", None)
        (folder / "rules.yaml").write_text(to_yaml([rules]))
        test = {
            "rule_files": ["rules.yaml"], "evaluation_interval": "30s",
            "group_eval_order": [g["name"] for g in rules["groups"]],
            "tests": [{
                "interval": "30s",
                "input_series": promtool_series(raw_series(slo, scenario), 30, scenario.duration),
                "alert_rule_test": checks,
                "promql_expr_test": [{"expr": "vector(1)", "eval_time": f"{days}d",
                                      "exp_samples": [{"labels": "{}", "value": 1}]}],
            }],
        }
        (folder / "test.yaml").write_text(yaml.safe_dump(test, width=1 << 30))
        started = time.perf_counter()
        result = subprocess.run([args.promtool, "test", "rules", "test.yaml"], cwd=folder,
                                capture_output=True, text=True)
        promtool_seconds = time.perf_counter() - started
        promtool_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    agree = result.returncode == 0
    print(f"promtool {promstack.version(args.promtool)}: {promtool_seconds:.1f}s, peak RSS "
          f"{promtool_peak / 2**20:.0f} MiB, agrees with the simulator: {agree}")
    if not agree:
        print(result.stdout[-3000:], result.stderr[-3000:], file=sys.stderr)
    ratio = promtool_seconds / simulator_seconds
    print(f"ratio: simulator is {ratio:.0f}x faster ({days} days at a 30s step, the same scenario)")
    if args.json_out:
        args.json_out.write_text(json.dumps({
            "days": days, "simulatorSeconds": simulator_seconds, "monthDays": args.days,
            "monthSimulatorSeconds": month_seconds, "monthSimulatorPeakBytes": month_peak,
            "promtoolSeconds": promtool_seconds, "promtoolPeakRssBytes": promtool_peak,
            "promtoolVersion": promstack.version(args.promtool), "ratio": ratio, "agree": agree,
        }, indent=2))
    sys.exit(0 if agree else 1)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    main()
