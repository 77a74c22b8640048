"""The forecaster's one history query on every promtool of the matrix: hourly averages of the recorded
rates per SLO, groupBy values summed, bad and total told apart by the ``series`` label."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from harness import promtool
from slo_operator.forecaster import HISTORY_QUERY


def test_history_query_gives_hourly_averages_per_slo(tmp_path: Path) -> None:
    # Recorded every 30s: a 5-minute rate that is 2/s in the first hour and 4/s in the second (route a),
    # plus 1/s all along for route b of the same SLO; another SLO at 10/s.
    first, second = " ".join(["2"] * 120), " ".join(["4"] * 120)
    api = 'slo="api",namespace="shop"'
    series = [
        {"series": f'slo:bad_events:rate{{{api},route="a",window="5m"}}', "values": f"{first} {second}"},
        {"series": f'slo:bad_events:rate{{{api},route="b",window="5m"}}', "values": "1x240"},
        {"series": f'slo:total_events:rate{{{api},route="a",window="5m"}}', "values": "100x240"},
        {"series": f'slo:total_events:rate{{{api},route="b",window="5m"}}', "values": "50x240"},
        {"series": 'slo:total_events:rate{slo="web",namespace="front",window="5m"}', "values": "10x240"},
    ]
    # Prometheus 3 reads (t - 1h, t]: 120 samples; 2.x [t - 1h, t]: 121. Either way the hour ending at
    # 2h holds (almost) only the second hour's samples; at 1h only the first hour's.
    tests = [{
        "interval": "30s",
        "input_series": series,
        "promql_expr_test": [
            {"expr": f"round({HISTORY_QUERY}, 0.1)", "eval_time": "59m30s", "exp_samples": [
                {"labels": '{namespace="shop",slo="api",series="bad"}', "value": 3},
                {"labels": '{namespace="shop",slo="api",series="total"}', "value": 150},
                {"labels": '{namespace="front",slo="web",series="total"}', "value": 10},
            ]},
            {"expr": f"round({HISTORY_QUERY}, 0.1)", "eval_time": "119m30s", "exp_samples": [
                {"labels": '{namespace="shop",slo="api",series="bad"}', "value": 5},
                {"labels": '{namespace="shop",slo="api",series="total"}', "value": 150},
                {"labels": '{namespace="front",slo="web",series="total"}', "value": 10},
            ]},
        ],
    }]
    (tmp_path / "rules.yaml").write_text("groups: []\n")
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(
        {"rule_files": ["rules.yaml"], "evaluation_interval": "30s", "tests": tests}, sort_keys=False))
    result = subprocess.run([promtool(), "test", "rules", "test.yaml"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
