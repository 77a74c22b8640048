"""status.forecast written by the operator on the real API server, from four days of recorded series that
a real Prometheus serves (backfilled with promtool: a forecast needs two days of history, which no live
test can wait for), and the same forecast on the operator's own /metrics (what SLOForecastViolation reads)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from reports.monthdata import PrometheusServer
from support.cluster import wait_for
from support.examples import example_documents
from support.processes import OperatorProcess, free_port
from support.slo_objects import apply, get

from devstack import promstack

pytestmark = pytest.mark.cluster

HOUR = 3600
DAYS = 4
RATE = 20.0  # requests per second, with a daily rhythm
ERROR_RATIO = 0.0005  # half the 0.1% budget of model-availability (99.9% over 30d)


def _openmetrics(path: Path, namespace: str, end: int) -> None:
    """The two recorded series the forecast reads, every 5 minutes for DAYS days up to ``end``."""
    lines = ["# TYPE slo:total_events:rate gauge\n"]
    bad = ["# TYPE slo:bad_events:rate gauge\n"]
    labels = f'namespace="{namespace}",slo="model-availability",window="5m"'
    for t in range(end - DAYS * 86400, end, 300):
        hour = (t // HOUR) % 24
        total = RATE * (1.0 + 0.5 * ((hour - 12) / 12) ** 2)
        lines.append(f"slo:total_events:rate{{{labels}}} {total} {t}\n")
        bad.append(f"slo:bad_events:rate{{{labels}}} {total * ERROR_RATIO} {t}\n")
    path.write_text("".join(lines + bad) + "# EOF\n")


@pytest.fixture()
def history(tmp_path: Path, namespace: str) -> Iterator[PrometheusServer]:
    """A Prometheus serving DAYS days of the SLO's recorded series, ending at the last whole hour."""
    end = int(time.time()) // HOUR * HOUR
    source = tmp_path / "history.om"
    _openmetrics(source, namespace, end)
    tsdb = tmp_path / "tsdb"
    subprocess.run([promstack.binary("promtool"), "tsdb", "create-blocks-from", "openmetrics", "-q",
                    str(source), str(tsdb)], check=True, capture_output=True, timeout=300)
    server = PrometheusServer(tsdb, tmp_path)
    server.start()
    yield server
    server.stop()


def test_operator_writes_the_forecast_of_the_recorded_history(
    operator_kubeconfig: Path, kubeconfig: Path, namespace: str, history: PrometheusServer, tmp_path: Path
) -> None:
    metrics_port = free_port()
    (tmp_path / "operator").mkdir()
    operator = OperatorProcess(
        tmp_path / "operator", operator_kubeconfig, history.url,
        env={"SLO_OPERATOR_NAMESPACES": namespace, "SLO_OPERATOR_METRICS": f"127.0.0.1:{metrics_port}"},
    )
    operator.start()
    try:
        (document,) = [d for d in example_documents(namespace)
                       if d["metadata"]["name"] == "model-availability"]
        apply(kubeconfig, document)

        def forecast() -> dict[str, object] | None:
            status = (get("slo", "model-availability", namespace, kubeconfig) or {}).get("status") or {}
            found = status.get("forecast") or {}
            return found if found.get("model") == "seasonal-bootstrap" else None

        # Refresh period 2 s; the first refresh after the SLO appears fits and forecasts it.
        result = wait_for(forecast, 120.0, message="status.forecast from four days of history")
        # The hours with data: four days, and the hour after them whose average still holds the last samples.
        assert str(result["trainedOn"]).startswith("4d"), result
        assert result["budgetConsumed"] == pytest.approx(50.0, abs=5.0), result
        assert result["endOfWindowSLI"] == pytest.approx(99.95, abs=0.01), result
        assert result["violationProbability"] == 0.0 and result.get("exhaustionAt") is None, result

        def gauge() -> float | None:
            text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
            for line in text.splitlines():
                if (line.startswith("slo_operator_forecast_budget_consumed_ratio{")
                        and f'slo_namespace="{namespace}"' in line):
                    return float(line.rsplit(" ", 1)[1])
            return None

        assert wait_for(gauge, 60.0, message="forecast gauge on /metrics") == pytest.approx(0.5, abs=0.05)
    finally:
        operator.stop()
        print("---- operator log (tail) ----\n" + operator.tail(40))
