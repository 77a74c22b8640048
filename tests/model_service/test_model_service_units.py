"""Fast unit tests: no server, no network."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.prometheus_api import request_params

from model_service.faults import FaultConfig, FaultInjector
from model_service.settings import LATENCY_BUCKETS
from model_service.sli import (
    WINDOW,
    PrometheusQueryError,
    SLIQueries,
    SLITracker,
    go_float,
    validate_window,
)
from model_service.store import FeedbackOutcome, PredictionStore
from model_service.traffic import LoadConfig, NotLoopbackError, percentile, require_loopback


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- store


def test_store_resolves_once_then_duplicate() -> None:
    store = PredictionStore(ttl_seconds=60, max_entries=10)
    store.add("a", 1, "v1")
    outcome, entry = store.resolve("a")
    assert outcome is FeedbackOutcome.ACCEPTED and entry is not None and entry.label == 1
    assert store.resolve("a")[0] is FeedbackOutcome.DUPLICATE
    assert store.resolve("nope") == (FeedbackOutcome.UNKNOWN, None)


def test_store_expires_after_ttl() -> None:
    clock = FakeClock()
    store = PredictionStore(ttl_seconds=3600, max_entries=10, clock=clock)
    store.add("old", 0, "v1")
    clock.now += 1800
    store.add("new", 1, "v1")
    clock.now += 1801  # "old" is 3601 s old, "new" 1801 s
    assert store.resolve("old")[0] is FeedbackOutcome.UNKNOWN
    assert store.resolve("new")[0] is FeedbackOutcome.ACCEPTED
    assert store.expired == 1


def test_store_is_bounded_evicting_oldest() -> None:
    store = PredictionStore(ttl_seconds=60, max_entries=3)
    store.add_many([(str(i), i % 2) for i in range(5)], "v1")
    store.add("5", 1, "v1")
    assert len(store) == 3
    assert store.evicted == 3
    assert [store.resolve(str(i))[0] for i in range(6)] == [FeedbackOutcome.UNKNOWN] * 3 + [
        FeedbackOutcome.ACCEPTED
    ] * 3


# --- faults


def test_faults_off_by_default() -> None:
    faults = FaultInjector()
    assert faults.decide() == (0.0, False)
    assert not faults.status().active


def test_seeded_faults_are_reproducible_and_near_the_rate() -> None:
    config = FaultConfig(error_rate=0.2, latency_seconds=0.3, latency_probability=0.5, seed=42)
    runs = []
    for _ in range(2):
        faults = FaultInjector()
        faults.configure(config)
        runs.append([faults.decide() for _ in range(2000)])
        status = faults.status()
        assert status.errors_injected == sum(fail for _, fail in runs[-1])
        assert status.delays_injected == sum(delay > 0 for delay, _ in runs[-1])
    assert runs[0] == runs[1]
    errors = sum(fail for _, fail in runs[0])
    assert 0.17 < errors / 2000 < 0.23  # binomial sd ~0.009
    assert all(delay in (0.0, 0.3) for delay, _ in runs[0])


def test_faults_expire() -> None:
    clock = FakeClock()
    faults = FaultInjector(clock=clock)
    status = faults.configure(FaultConfig(error_rate=1.0, duration_seconds=10))
    assert status.active and status.expires_in_seconds == pytest.approx(10)
    assert faults.decide() == (0.0, True)
    clock.now += 10
    assert faults.decide() == (0.0, False)
    assert not faults.status().active


def test_fault_config_rejects_out_of_range_and_unknown_fields() -> None:
    with pytest.raises(ValueError):
        FaultConfig(error_rate=1.5)
    with pytest.raises(ValueError):
        FaultConfig.model_validate({"error_rat": 0.1})
    with pytest.raises(ValueError):
        FaultConfig(latency_seconds=math.nan)


# --- SLITracker: recording


def test_tracker_records_into_its_registry() -> None:
    tracker = SLITracker(model_name="m", model_version="v1")
    tracker.record_availability(True)
    tracker.record_availability(True)
    tracker.record_availability(False)
    tracker.record_latency(0.15)
    tracker.record_latency(0.3)
    assert tracker.record_accuracy(1, 1) is True
    assert tracker.record_accuracy(1, 0) is False
    tracker.record_feature_refresh(1234.5)
    reg = tracker.registry
    get = reg.get_sample_value
    assert get("model_service_requests_total", {"endpoint": "/predict", "outcome": "success"}) == 2
    assert get("model_service_requests_total", {"endpoint": "/predict", "outcome": "failure"}) == 1
    assert get("model_service_request_duration_seconds_bucket", {"endpoint": "/predict", "le": "0.2"}) == 1
    assert get("model_service_request_duration_seconds_count", {"endpoint": "/predict"}) == 2
    assert get("model_predictions_evaluated_total", {"model_version": "v1"}) == 2
    assert get("model_predictions_correct_total", {"model_version": "v1"}) == 1
    assert get("model_features_last_updated_timestamp_seconds") == 1234.5
    assert get("model_info", {"model_name": "m", "model_version": "v1"}) == 1


def test_cost_meter_charges_cpu_seconds_times_the_price() -> None:
    from model_service.cost import CostMeter

    tracker = SLITracker(model_name="m", model_version="v1")
    cpu = iter([10.0, 10.5, 10.5, 12.0])
    meter = CostMeter(tracker, price_per_cpu_hour=36.0, clock=lambda: next(cpu))
    assert meter.charge() == pytest.approx(0.005)  # 0.5 CPU seconds at $0.01 per CPU second
    assert meter.charge() == 0
    assert meter.charge() == pytest.approx(0.015)
    assert tracker.registry.get_sample_value(
        "model_serving_cost_dollars_total", {"model_version": "v1"}
    ) == pytest.approx(0.02)
    with pytest.raises(ValueError, match="price"):
        CostMeter(tracker, price_per_cpu_hour=-1)


def test_disabled_tracker_records_nothing() -> None:
    tracker = SLITracker(enabled=False)
    tracker.start()
    tracker.record_availability(False)
    tracker.record_latency(1.0)
    assert tracker.record_accuracy(0, 1) is False
    assert tracker._metrics is None


def test_latency_buckets_contain_slo_thresholds() -> None:
    for threshold in (0.1, 0.2, 0.25, 0.5, 1.0):
        assert threshold in LATENCY_BUCKETS
    assert list(LATENCY_BUCKETS) == sorted(LATENCY_BUCKETS)
    assert go_float(0.2) == "0.2" and go_float(1) == "1.0"


# --- SLITracker: queries


def _prometheus(answers: dict[str, Any], seen: list[str]) -> httpx.Client:
    """A fake Prometheus answering by the first query substring that matches."""

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/query"
        query = request_params(request)["query"]
        seen.append(query)
        for key, answer in answers.items():
            if key in query:
                return httpx.Response(200, json=answer)
        return httpx.Response(400, json={"status": "error", "errorType": "bad_data", "error": "unexpected"})

    return httpx.Client(transport=httpx.MockTransport(handler))


def _vector(value: str) -> dict[str, Any]:
    return {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, value]}]},
    }


EMPTY = {"status": "success", "data": {"resultType": "vector", "result": []}}


def test_calculate_slis_from_prometheus_answers() -> None:
    seen: list[str] = []
    client = _prometheus(
        {
            "histogram_quantile(0.99": _vector("0.2375"),
            'le="0.2"': _vector("0.95"),
            "bentoml_service_request_total": _vector("0.998"),
            "model_predictions_correct_total": _vector("0.9"),
            "time() -": _vector("42.5"),
        },
        seen,
    )
    tracker = SLITracker("http://prom:9090", http_client=client)
    assert tracker.calculate_availability_sli("5m") == pytest.approx(99.8)
    assert tracker.calculate_latency_sli(99, "5m") == pytest.approx(237.5)
    assert tracker.calculate_latency_good_sli(0.2, "1h") == pytest.approx(95.0)
    assert tracker.calculate_accuracy_sli("1h") == pytest.approx(90.0)
    assert tracker.calculate_feature_age_seconds() == pytest.approx(42.5)
    availability = seen[0]
    assert 'endpoint="/predict"' in availability and 'http_response_code!~"4.."' in availability
    assert "[5m]" in availability
    assert all(WINDOW not in q and "__" not in q for q in seen)


def test_no_traffic_is_no_data_not_nan() -> None:
    client = _prometheus({"histogram_quantile": _vector("NaN"), "bentoml_service_request_total": EMPTY}, [])
    tracker = SLITracker(http_client=client)
    assert tracker.calculate_availability_sli("5m") is None
    assert tracker.calculate_latency_sli(50, "5m") is None


def test_query_errors_raise() -> None:
    tracker = SLITracker(http_client=_prometheus({}, []))
    with pytest.raises(PrometheusQueryError, match="bad_data"):
        tracker.calculate_availability_sli("5m")


def test_unreachable_prometheus_raises_query_error() -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    tracker = SLITracker(http_client=httpx.Client(transport=httpx.MockTransport(boom)))
    with pytest.raises(PrometheusQueryError, match="unreachable"):
        tracker.calculate_latency_sli(99, "5m")


@pytest.mark.parametrize("window", ["5m", "1h30m", "250ms", "30s", "4w"])
def test_valid_windows(window: str) -> None:
    assert validate_window(window) == window


@pytest.mark.parametrize("window", ["", "5", "5 m", "5m]) or vector(1", "-1m", "1.5h"])
def test_invalid_windows(window: str) -> None:
    with pytest.raises(ValueError):
        validate_window(window)


def test_argument_validation() -> None:
    tracker = SLITracker(http_client=_prometheus({}, []))
    with pytest.raises(ValueError):
        tracker.calculate_latency_sli(0, "5m")
    with pytest.raises(ValueError):
        tracker.calculate_latency_sli(100, "5m")
    with pytest.raises(ValueError, match="bucket"):
        tracker.calculate_latency_good_sli(0.15, "5m")
    with pytest.raises(ValueError):
        SLIQueries.bentoml(endpoint='/x"}')


def test_tracker_queries_and_selector() -> None:
    q = SLIQueries.tracker(selector='namespace="ml",pod=~"model-.{3}"')
    text = q.availability.replace(WINDOW, "5m")
    assert (
        'model_service_requests_total{endpoint="/predict",namespace="ml",pod=~"model-.{3}",outcome="success"}'
        in text
    )
    assert (
        q.freshness_age
        == 'time() - max(model_features_last_updated_timestamp_seconds{namespace="ml",pod=~"model-.{3}"})'
    )


# --- training


def test_train_save_load_roundtrip(tmp_path: Path) -> None:
    from model_service import training

    bundle = training.train_and_save(tmp_path)
    meta = json.loads((tmp_path / "metadata.json").read_text())
    assert meta["model_version"] == bundle.metadata.model_version == meta["sha256"][:12]
    assert meta["n_features"] == 30 and meta["classes"] == [0, 1]
    assert meta["test_accuracy"] > 0.9
    assert meta["trained_at"] > 0
    loaded = training.load(tmp_path)
    ds = training.load_dataset()
    assert (loaded.model.predict(ds.x_test) == bundle.model.predict(ds.x_test)).all()


def test_tampered_model_is_rejected(tmp_path: Path) -> None:
    from model_service import training

    training.train_and_save(tmp_path)
    with (tmp_path / "model.joblib").open("ab") as fh:
        fh.write(b"x")
    with pytest.raises(training.ModelIntegrityError):
        training.load(tmp_path)


def test_first_start_trains_and_survives_read_only_dir(tmp_path: Path) -> None:
    from model_service import training

    with pytest.raises(FileNotFoundError):
        training.load_or_train(tmp_path / "none", train_if_missing=False)
    fresh = training.load_or_train(tmp_path / "fresh")
    assert fresh.path == tmp_path / "fresh" and training.exists(tmp_path / "fresh")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    in_memory = training.load_or_train(blocker / "sub")  # mkdir fails: kept in memory
    assert in_memory.path is None and in_memory.metadata.n_features == 30


# --- traffic


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:3000", "http://localhost:3000/", "http://127.1.2.3:80", "http://[::1]:3000"]
)
def test_loopback_targets_are_allowed(url: str) -> None:
    assert require_loopback(url) == url.rstrip("/")


@pytest.mark.parametrize(
    "url",
    ["http://10.0.0.1:3000", "http://192.168.1.5", "http://example.com", "ftp://127.0.0.1", "127.0.0.1:3000"],
)
def test_other_targets_are_refused(url: str) -> None:
    with pytest.raises(NotLoopbackError):
        require_loopback(url)


def test_load_config_bounds() -> None:
    LoadConfig().validate()
    with pytest.raises(ValueError):
        LoadConfig(duration_seconds=0).validate()
    with pytest.raises(ValueError):
        LoadConfig(label_noise=1.5).validate()
    with pytest.raises(ValueError):
        LoadConfig(url="http://10.1.1.1:3000").validate()


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile([], 50) is None
