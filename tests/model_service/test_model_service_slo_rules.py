"""The core engine's recording rules, loaded into a real Prometheus, against what the traffic generator sent.

``bentoml serve`` runs the model service; a real Prometheus (1 s scrapes, loopback) scrapes it and has
loaded the rule file ``rule_file()`` renders for the four SLOs of manifests/examples/*.yaml, evaluated
every second (``RuleOptions(fast_interval="1s", slow_interval="1s")``). The traffic generator drives
/predict with injected 5xx and delays, malformed (4xx) requests and label noise on /feedback; the SLIs
Prometheus records through those rules must match the counts the generator and the fault injector report.

Why the base window (5m) is exact: the whole test is shorter than 5 minutes, so every ``rate(x[5m])``
covers everything since Prometheus started. Every series the SLOs read exists before Prometheus starts
(a warm-up creates the 200, 500 and 400 series; the tracker creates its counters up front), so all of
them have their first sample in the same scrape and their last in the same scrape: rate() sees exactly
the increase since that first scrape (the warm-up is not counted) and extrapolates every series by the
same factor. (Towards the start rate() extrapolates half a scrape interval unless the counter would
reach zero sooner; the warm-up counts are large enough, first value / increase > 0.5 s / sampled
interval, that no bentoml series does, and the tracker's counters all start at 0 and so all extrapolate
by 0.) A ratio of recorded rates of one evaluation is therefore the ratio of the counts sent:
``slo:error_ratio{window="5m"}`` of availability (5xx / non-4xx requests) and accuracy (wrong /
evaluated predictions) is checked to 0.01 percentage points (float rounding). 4xx are left out of
availability: counting them would move the ratio by about 0.3 points, 30 times that tolerance.

Why longer windows are not: ``slo:error_ratio`` over 10m ... 30d and ``slo:sli:ratio`` (1 - error ratio
over the SLO window) are ratios of *sums* of the per-second base rates (plus an edge correction on the
fast windows). Once the last request is scraped every new evaluation adds exactly the final ratio, but
the few evaluations during the traffic (about 3 s) add the ratio of the counts seen so far, which
differs from the final one (a delayed request is counted slow only when it completes, 0.3 s later). The
test reads the windows after ``SETTLE_EVALUATIONS`` (30) evaluations of the final state and allows
1 percentage point (measured: availability +0.1, accuracy +0.1, latency -0.45 on the 1d/30d windows;
under 0.1 on the edge-corrected 10m/1h windows).

Latency: a request is slow when it is not in the ``le="0.2"`` bucket. Every injected delay (0.3 s) is
slow; an undelayed request can exceed 0.2 s under CPU contention, so the expected share is read from
what the service's histogram recorded (its /metrics), not from the injected delays, which only bound it
from below. The example latency SLO reads the histogram of every /predict response, 4xx included.

Freshness (maxAge 1h, one good or bad slice per evaluation): with the features refreshed 30 minutes
before Prometheus started, every slice is good (error ratio exactly 0 on every window). After the
stale-features fault (features 2 h old), every evaluation from the scrape that sees it on is bad: the
number of bad slices in the 5m window matches the seconds since the fault was set: at most one per
second since the admin call was made, at least one per second since it returned minus 2 (a scrape
interval plus an evaluation interval), and the SLI (7d) agrees with the 5m ratio within one slice (the
slow group evaluates at another phase of the second).

Also checked: every rendered rule is loaded and evaluates without error, burn rates are the error
ratios over the error budget, and 10 % errors fire both availability burn-rate alerts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from slo_operator.durations import format_duration, parse_duration
from slo_operator.loader import load
from slo_operator.model import SLO, resolve
from slo_operator.render import RenderOptions, rule_file, to_yaml
from slo_operator.rules import RuleOptions
from slo_operator.shared import ratio_windows
from support.incident import INCIDENT_FAULTS, incident_load

from model_service.devserver import (
    MetricsSnapshot,
    PrometheusProcess,
    ServiceProcess,
    wait_until,
)
from model_service.traffic import _INVALID_BODIES, LoadGenerator, post_json

pytestmark = [
    pytest.mark.slow,
    pytest.mark.usefixtures("prometheus_installed"),
]

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "manifests" / "examples"
TOKEN = "slo-rules-test-token"
ROW = [0.0] * 30
WARMUP = 20  # 500s and 200s each, before Prometheus starts (see the module docstring)
WARMUP_INVALID = 4  # of each malformed body
SETTLE_EVALUATIONS = 30  # evaluations of the final state before the windows are read
WEIGHTED_TOLERANCE = 0.01  # windows longer than 5m: sums of per-second rates (see the module docstring)
REQ = "bentoml_service_request_total"
DUR = "bentoml_service_request_duration_seconds"
AVAILABILITY, LATENCY, ACCURACY, FRESHNESS = (
    "model-availability",
    "model-latency",
    "model-accuracy",
    "feature-freshness",
)

Key = tuple[str, str, str]  # (series name, slo, window or "")


def _examples() -> list[SLO]:
    objects, problems = load([str(EXAMPLES)])
    assert not problems, problems
    slos = [resolve(o) for o in objects]
    assert sorted(s.name for s in slos) == sorted([AVAILABILITY, LATENCY, ACCURACY, FRESHNESS])
    return slos


def _post(svc: ServiceProcess, path: str, body: bytes | dict[str, Any]) -> httpx.Response:
    if isinstance(body, bytes):
        headers = {"content-type": "application/json"}
        return httpx.post(svc.url + path, content=body, headers=headers, timeout=10)
    return httpx.post(svc.url + path, json=body, timeout=10)


def _admin(svc: ServiceProcess, payload: dict[str, Any], path: str = "/admin/faults") -> dict[str, Any]:
    return post_json(svc.url, path, payload, TOKEN)


def _warm_up(svc: ServiceProcess) -> dict[int, int]:
    """Create every /predict series the SLOs read, before Prometheus' first scrape. Returns codes sent."""
    codes: dict[int, int] = {}

    def send(body: bytes | dict[str, Any]) -> None:
        code = _post(svc, "/predict", body).status_code
        codes[code] = codes.get(code, 0) + 1

    _admin(svc, {"error_rate": 1.0})
    for _ in range(WARMUP):
        send({"instances": [ROW]})
    _admin(svc, {})
    for _ in range(WARMUP):
        send({"instances": [ROW]})
    for body in _INVALID_BODIES:
        for _ in range(WARMUP_INVALID):
            send(body)
    assert codes[500] == WARMUP and codes[200] == WARMUP
    assert sum(n for c, n in codes.items() if 400 <= c < 500) == WARMUP_INVALID * len(_INVALID_BODIES)
    return codes


@dataclass
class Stack:
    svc: ServiceProcess
    prom: PrometheusProcess
    slos: list[SLO]
    rendered: dict[str, Any]  # the rule file Prometheus loaded
    warmup_requests: int  # /predict requests in Prometheus' first scrape (not counted by rate())
    feature_time: float  # features' last update when Prometheus started

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        resp = httpx.get(f"{self.prom.url}/api/v1/query", params=params, timeout=5.0)
        resp.raise_for_status()
        result: list[dict[str, Any]] = resp.json()["data"]["result"]
        return result

    def scalar(self, promql: str, at: float | None = None) -> float | None:
        result = self.query(promql, at)
        return float(result[0]["value"][1]) if result else None

    def last_scrape(self) -> float:
        return self.scalar(f'timestamp(up{{job="{self.prom.job}"}})') or 0.0

    def oldest_evaluation(self, slo: str | None = None) -> float:
        """Time of the least recent evaluation among the latest samples of every recorded slo:* series."""
        selector = '__name__=~"slo:.+"' + (f',slo="{slo}"' if slo else "")
        # timestamp() drops the metric name: keep it in a label so the series stay distinct.
        named = f'label_replace({{{selector}}}, "name", "$1", "__name__", "(.+)")'
        return self.scalar(f"min(timestamp({named}))") or 0.0

    def recorded(self, at: float) -> dict[Key, float]:
        """Every recorded slo:* series at ``at``, by (name, slo, window)."""
        return {
            (r["metric"]["__name__"], r["metric"]["slo"], r["metric"].get("window", "")): float(r["value"][1])
            for r in self.query('{__name__=~"slo:.+"}', at)
        }


@pytest.fixture(scope="module")
def stack(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    slos = _examples()
    rules_path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    options = RenderOptions(rules=RuleOptions(fast_interval="1s", slow_interval="1s"))
    rendered = rule_file(slos, options)
    rules_path.write_text(to_yaml([rendered]))  # what `slo-operator render --format rule-file` prints
    env = {
        "MODEL_SERVICE_ADMIN_ENABLED": "true",
        "MODEL_SERVICE_ADMIN_TOKEN": TOKEN,
        "MODEL_FEATURE_REFRESH_INTERVAL_SECONDS": "0",
    }
    with ServiceProcess(tmp_path_factory.mktemp("rsvc"), model_dir=model_dir, env=env) as svc:
        warmup_codes = _warm_up(svc)
        feature_time = time.time() - 1800  # 30 minutes old: fresh for maxAge 1h
        post_json(svc.url, "/features/refresh", {"updated_at": feature_time})
        target = svc.url.removeprefix("http://")
        prom = PrometheusProcess(tmp_path_factory.mktemp("rprom"), [target], scrape_interval="1s")
        # PrometheusProcess writes a config without rules: add the rendered rule file (top-level key).
        with prom.config_path.open("a") as config:
            config.write(f"rule_files:\n  - {rules_path}\n")
        with prom:
            yield Stack(svc, prom, slos, rendered, sum(warmup_codes.values()), feature_time)


def _window_labels(slo: SLO) -> list[str]:
    """Window labels of the SLO's error-ratio series, shortest first (the SLO window's is the SLI)."""
    return [format_duration(w) for w in ratio_windows(slo)]


def _one(rec: dict[Key, float], name: str, slo: str) -> float:
    """The one series ``name`` of ``slo``, whatever its window label (the SLI keeps its SLO window's)."""
    [value] = [v for (n, s, _), v in rec.items() if n == name and s == slo]
    return value


def test_recording_rules_match_the_traffic(stack: Stack) -> None:
    svc, started = stack.svc, time.monotonic()
    warmup_total = stack.warmup_requests

    def predict_total() -> float:
        return stack.scalar('sum(bentoml_service_request_total{endpoint="/predict"})') or 0.0

    # The rule file loaded: every rendered rule is there, in its group, at the rendered interval: 1 s for
    # the fast and slow groups, the coarse copies of the running sums at their own tier interval (the
    # slow group's start begins the running sums within a second of the first base sample).
    groups = httpx.get(f"{stack.prom.url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    rendered_groups = stack.rendered["groups"]
    assert sorted(g["name"] for g in groups) == sorted(g["name"] for g in rendered_groups)
    assert sum(len(g["rules"]) for g in groups) == sum(len(g["rules"]) for g in rendered_groups)
    intervals = {g["name"]: float(g["interval"]) for g in groups}
    assert intervals == {g["name"]: float(parse_duration(g["interval"])) for g in rendered_groups}
    assert {i for name, i in intervals.items() if not name.endswith(":tier")} == {1.0}

    wait_until(lambda: predict_total() == warmup_total, timeout=20, what="warm-up scraped")

    # Traffic with faults: 10 % 5xx, 20 % delayed by 0.3 s, 5 % malformed (4xx), 25 % wrong ground truth.
    before = MetricsSnapshot.scrape(svc.url)
    _admin(svc, INCIDENT_FAULTS)
    config = incident_load(svc.url, rate=120)
    report = asyncio.run(LoadGenerator(config).run())
    faults = _admin(svc, {}, "/admin/faults/status")
    _admin(svc, {})
    after = MetricsSnapshot.scrape(svc.url)

    def delta(name: str, **labels: Any) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    # Expectations come from what the service recorded (its /metrics) and its fault injector counted:
    # a client timeout on a busy machine loses an answer, not a request the service counted.
    def code(prefix: str) -> Any:
        return lambda labels: labels["http_response_code"].startswith(prefix)

    ok = delta(REQ, endpoint="/predict", http_response_code="200")
    errors = delta(REQ, endpoint="/predict", where=code("5"))
    invalid = delta(REQ, endpoint="/predict", where=code("4"))
    delays = faults["delays_injected"]
    assert errors == faults["errors_injected"] and ok + errors == faults["requests_seen"]
    answered = ok + errors + invalid
    assert report.predict_requests - report.transport_errors <= answered <= report.predict_requests
    assert 0 < invalid <= report.invalid_requests
    evaluated = delta("model_predictions_evaluated_total")
    correct = delta("model_predictions_correct_total")
    assert report.feedback_status.get(200, 0) <= evaluated <= report.predict_status.get(200, 0) <= ok
    # Every /predict request is in the histogram (4xx too: fast, good); every delayed one is slow.
    histogram_total = delta(f"{DUR}_count", endpoint="/predict")
    slow = histogram_total - delta(f"{DUR}_bucket", endpoint="/predict", le="0.2")
    assert histogram_total == ok + errors + invalid and slow >= delays

    server_total = after.value(REQ, endpoint="/predict")
    wait_until(lambda: predict_total() == server_total, timeout=20, what="traffic scraped")
    evaluated_total = after.value("model_predictions_evaluated_total")
    wait_until(
        lambda: stack.scalar("sum(model_predictions_evaluated_total)") == evaluated_total,
        timeout=20,
        what="feedback scraped",
    )
    final_scrape = stack.last_scrape()  # saw every request and every piece of feedback

    def settled() -> bool:
        return stack.oldest_evaluation() >= final_scrape + SETTLE_EVALUATIONS

    wait_until(settled, timeout=SETTLE_EVALUATIONS + 20, what="rules evaluated on the final state")
    at = stack.oldest_evaluation()
    rec = stack.recorded(at)

    expected = {
        AVAILABILITY: errors / (ok + errors),
        LATENCY: slow / histogram_total,  # 4xx are in the histogram (fast, good)
        ACCURACY: (evaluated - correct) / evaluated,
        FRESHNESS: 0.0,
    }
    print(
        f"\nok={ok} 5xx={errors} 4xx={invalid} delays={delays} slow={slow} correct={correct}/{evaluated} "
        f"traffic={report.send_seconds:.1f}s evaluations after final scrape={at - final_scrape:.0f}"
    )
    for slo in stack.slos:
        windows = {w: v for (n, s, w), v in rec.items() if n == "slo:error_ratio" and s == slo.name}
        print(
            f"{slo.name}: expected error ratio {expected[slo.name]:.6f}; recorded "
            + ", ".join(f"{w}={v:.6f}" for w, v in sorted(windows.items(), key=lambda kv: len(kv[0])))
            + f"; sli={_one(rec, 'slo:sli:ratio', slo.name):.6f}"
        )

    # Base window: exact.
    assert rec[("slo:error_ratio", AVAILABILITY, "5m")] == pytest.approx(expected[AVAILABILITY], abs=1e-4)
    assert rec[("slo:error_ratio", ACCURACY, "5m")] == pytest.approx(expected[ACCURACY], abs=1e-4)
    # 4xx are left out of availability's total (5m is exact, so the check can tell the difference).
    with_4xx = errors / (ok + errors + invalid)
    assert abs(rec[("slo:error_ratio", AVAILABILITY, "5m")] - with_4xx) > 10 * 1e-4
    latency_5m = rec[("slo:error_ratio", LATENCY, "5m")]
    assert latency_5m == pytest.approx(expected[LATENCY], abs=1e-4)

    # Every window (5m ... 30d) holds all the traffic; the SLI is 1 - error ratio over the SLO window.
    for slo in stack.slos:
        ratios = {w: v for (n, s, w), v in rec.items() if n == "slo:error_ratio" and s == slo.name}
        assert set(ratios) == set(_window_labels(slo)), slo.name
        for window, value in ratios.items():
            tol = 1e-4 if window == "5m" else WEIGHTED_TOLERANCE
            assert expected[slo.name] - tol <= value <= expected[slo.name] + tol, (slo.name, window)
        sli = _one(rec, "slo:sli:ratio", slo.name)
        assert 1 - expected[slo.name] - WEIGHTED_TOLERANCE <= sli, slo.name
        assert sli <= 1 - expected[slo.name] + WEIGHTED_TOLERANCE, slo.name
        remaining = _one(rec, "slo:error_budget_remaining:ratio", slo.name)
        assert remaining == pytest.approx(1 - (1 - sli) / float(slo.error_budget), abs=1e-9)
        assert _one(rec, "slo:objective:ratio", slo.name) == pytest.approx(float(slo.objective))
        current = _one(rec, "slo:current_burn_rate:ratio", slo.name)
        current_ratio = ratios[format_duration(slo.current_burn_window)]
        assert current == pytest.approx(current_ratio / float(slo.error_budget), rel=1e-9)
    # Freshness: features refreshed at feature_time (30 min before Prometheus started) were never stale.
    scraped_update = stack.scalar("max(model_features_last_updated_timestamp_seconds)", at)
    assert scraped_update == pytest.approx(stack.feature_time, abs=0.01)
    assert rec[("slo:bad_events:rate", FRESHNESS, "5m")] == 0.0

    # 10 % errors burn the 99.9 % availability budget 100x: both burn-rate alerts fire.
    alerts = httpx.get(f"{stack.prom.url}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
    firing = {(a["labels"]["alertname"], a["labels"]["slo"]) for a in alerts if a["state"] == "firing"}
    assert {("SLOFastBurn", AVAILABILITY), ("SLOSlowBurn", AVAILABILITY)} <= firing

    # Freshness: stale features (2 h old, refreshes blocked) make every following slice bad.
    stale_set = time.time()
    _admin(svc, {"stale_features_seconds": 7200})
    stale_done = time.time()
    wait_until(
        lambda: (stack.scalar("max(model_features_last_updated_timestamp_seconds)") or 0) < stale_set - 3600,
        timeout=10,
        what="stale features scraped",
    )
    stale_key = ("slo:error_ratio", FRESHNESS, "5m")
    wait_until(
        lambda: stack.oldest_evaluation(FRESHNESS) >= stale_set + 5,
        timeout=15,
        what="five evaluations of stale features",
    )
    at = stack.oldest_evaluation(FRESHNESS)
    rec = stack.recorded(at)
    slices = stack.scalar('count_over_time(slo:total_events:rate{slo="feature-freshness"}[5m])', at)
    assert slices is not None
    bad_slices = rec[stale_key] * slices
    print(
        f"freshness: {slices:.0f} slices, {bad_slices:.2f} bad, {at - stale_set:.2f} s since the fault; "
        f"error ratio 5m={rec[stale_key]:.4f} sli={_one(rec, 'slo:sli:ratio', FRESHNESS):.4f}"
    )
    assert rec[("slo:bad_events:rate", FRESHNESS, "5m")] == 1.0
    assert rec[stale_key] > 0
    # bad: the evaluations after the first scrape that saw the fault, at most a scrape plus an evaluation
    # interval after the admin call returned; at most one per second since it was made.
    assert at - stale_done - 2.0 <= round(bad_slices) <= at - stale_set + 1.0
    assert _one(rec, "slo:sli:ratio", FRESHNESS) < 1.0
    assert _one(rec, "slo:sli:ratio", FRESHNESS) == pytest.approx(1 - rec[stale_key], abs=1.5 / slices)
    _admin(svc, {})

    # No rule failed to evaluate.
    groups = httpx.get(f"{stack.prom.url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    # (The coarse copies' group runs at its tier interval, minutes to an hour: it may not have run yet.)
    broken = [(r["name"], r.get("lastError")) for g in groups for r in g["rules"]
              if r["health"] == "err" or (r["health"] != "ok" and not g["name"].endswith(":tier"))]
    assert not broken
    print(f"test body {time.monotonic() - started:.1f}s")
