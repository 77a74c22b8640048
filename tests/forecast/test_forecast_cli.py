"""``slo-operator forecast`` against a loopback Prometheus API that answers the history range query."""

from __future__ import annotations

import json
import math
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

import pytest

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / ".venv" / "bin" / "slo-operator"
EXAMPLE = REPO / "manifests" / "examples" / "availability.yaml"
NOW = int(datetime(2026, 11, 30, 12, 0, tzinfo=UTC).timestamp())


class History(BaseHTTPRequestHandler):
    """Six weeks of model-availability at 20 req/s with a daily rhythm and 0.3% errors; every query_range
    request is recorded."""

    requests: ClassVar[list[dict[str, list[str]]]] = []

    def do_GET(self) -> None:
        url = urlparse(self.path)
        params = parse_qs(url.query)
        History.requests.append(params)
        start, end, step = (float(params[k][0]) for k in ("start", "end", "step"))
        result = []
        for series, share in (("total", 1.0), ("bad", 0.003)):
            values = []
            t = start
            while t <= end:
                if t > NOW - 42 * 86400:
                    rate = 20 * (1 + 0.5 * math.sin(2 * math.pi * (t % 86400) / 86400)) * share
                    values.append([t, repr(rate)])
                t += step
            result.append({"metric": {"namespace": "ml-serving", "slo": "model-availability",
                                      "series": series}, "values": values})
        body = json.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def prometheus() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), History)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    History.requests = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), "forecast", *args], capture_output=True, text=True, timeout=120)


def test_forecast_of_a_file_from_one_range_query(prometheus: str) -> None:
    result = run("-f", str(EXAMPLE), "--prometheus", prometheus, "--at", str(NOW), "-o", "json")
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)
    forecast = entry["forecast"]
    assert (entry["namespace"], entry["name"]) == ("ml-serving", "model-availability")
    assert forecast["model"] == "seasonal-bootstrap"
    assert len(History.requests) == 5  # five weeks of hourly history, a week per request
    assert all(r["query"][0].count("slo:bad_events:rate") == 1 for r in History.requests)
    # 0.3% errors every hour: the next window's SLI is 99.7%.
    assert forecast["endOfWindowSLI"] == pytest.approx(99.7, abs=0.01)
    text = run("-f", str(EXAMPLE), "--prometheus", prometheus, "--at", str(NOW))
    assert text.returncode == 0, text.stderr
    assert "ml-serving/model-availability: seasonal-bootstrap, trained on 35d of history" in text.stdout
    assert "probability the window ends below its objective" in text.stdout


def test_no_history_says_so_instead_of_a_number(prometheus: str) -> None:
    result = run("-f", str(EXAMPLE), "--prometheus", prometheus, "--at", str(NOW - 50 * 86400))
    assert result.returncode == 0, result.stderr
    assert "no forecast yet (insufficient history" in result.stdout
    assert "%" not in result.stdout


def test_unreachable_prometheus_fails_with_the_reason() -> None:
    result = run("-f", str(EXAMPLE), "--prometheus", "http://127.0.0.1:9", "--at", str(NOW))
    assert result.returncode == 2
    assert "cannot read the SLOs' history" in result.stderr
