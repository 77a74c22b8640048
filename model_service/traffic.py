"""Traffic generator and incident controls for the model service (loopback targets only).

Usage::

    python -m model_service.traffic load --rate 20 --duration 60 --feedback-delay 5 --label-noise 0.1
    python -m model_service.traffic faults set --error-rate 0.05 --latency 0.3 --latency-probability 0.2
    python -m model_service.traffic faults set --stale-features 7200 --duration 600
    python -m model_service.traffic faults status
    python -m model_service.traffic faults clear
    python -m model_service.traffic refresh-features

``load`` sends /predict requests at a target rate (open loop; ``--rate 0`` means closed loop as fast
as ``--concurrency`` allows) for a bounded duration and/or count, using rows of the held-out split of
the training data set. For each answered prediction it sends the ground truth to /feedback after
``--feedback-delay`` seconds (+ uniform jitter); with probability ``--label-noise`` the reported
label is wrong, so the accuracy SLI drops. ``--invalid-fraction`` mixes in malformed requests (4xx).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import math
import os
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx
import typer

DEFAULT_URL = os.environ.get("MODEL_SERVICE_URL", "http://127.0.0.1:3000")
MAX_DURATION_SECONDS = 24 * 3600.0
MAX_FEEDBACK_DELAY_SECONDS = 6 * 3600.0


class NotLoopbackError(ValueError):
    pass


def require_loopback(url: str) -> str:
    """Return ``url`` if its host is a loopback address (127.0.0.0/8, ::1, localhost)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NotLoopbackError(f"{url!r} is not an http(s) URL")
    host = parts.hostname
    if host == "localhost":
        return url.rstrip("/")
    try:
        address = ipaddress.ip_address(host)
    except ValueError as exc:
        raise NotLoopbackError(f"{host!r}: only loopback IPs or 'localhost' are allowed as targets") from exc
    if not address.is_loopback:
        raise NotLoopbackError(f"{host} is not a loopback address; traffic is only sent to this machine")
    return url.rstrip("/")


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (no interpolation); None for an empty list."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(math.ceil(pct / 100.0 * len(ordered)), 1)
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class LoadConfig:
    url: str = DEFAULT_URL
    #: Requests per second; <= 0 runs closed loop (each of ``concurrency`` workers back to back).
    rate: float = 10.0
    duration_seconds: float = 30.0
    #: Stop after this many /predict requests (None: only the duration bounds the run).
    count: int | None = None
    batch_size: int = 1
    concurrency: int = 16
    feedback_fraction: float = 1.0
    feedback_delay_seconds: float = 0.0
    feedback_jitter_seconds: float = 0.0
    label_noise: float = 0.0
    invalid_fraction: float = 0.0
    seed: int | None = 0
    timeout_seconds: float = 30.0

    def validate(self) -> None:
        require_loopback(self.url)
        if not 0 < self.duration_seconds <= MAX_DURATION_SECONDS:
            raise ValueError(f"duration must be in (0, {MAX_DURATION_SECONDS:g}] seconds")
        if self.count is not None and self.count < 1:
            raise ValueError("count must be >= 1")
        if not (1 <= self.batch_size <= 256 and 1 <= self.concurrency <= 512):
            raise ValueError("batch_size must be in [1, 256] and concurrency in [1, 512]")
        for name in ("feedback_fraction", "label_noise", "invalid_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]")
        if not 0 <= self.feedback_delay_seconds + self.feedback_jitter_seconds <= MAX_FEEDBACK_DELAY_SECONDS:
            raise ValueError(
                f"feedback delay + jitter must be in [0, {MAX_FEEDBACK_DELAY_SECONDS:g}] seconds"
            )


@dataclass(slots=True)
class LoadReport:
    predict_requests: int = 0
    predict_status: dict[int, int] = field(default_factory=dict)
    transport_errors: int = 0
    rows_predicted: int = 0
    invalid_requests: int = 0
    feedback_requests: int = 0
    feedback_status: dict[int, int] = field(default_factory=dict)
    #: Feedback whose reported label was deliberately wrong (label noise).
    feedback_noisy: int = 0
    #: As judged by the service: reported label == predicted label.
    feedback_correct: int = 0
    #: Whole run, including the wait for delayed feedback.
    elapsed_seconds: float = 0.0
    #: Time spent sending /predict requests (the rate is computed over it).
    send_seconds: float = 0.0
    achieved_rate: float = 0.0
    #: Requests started more than 100 ms after their scheduled time (concurrency exhausted).
    late_starts: int = 0
    latency_ms: dict[str, float | None] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["predict_status"] = {str(k): v for k, v in sorted(self.predict_status.items())}
        data["feedback_status"] = {str(k): v for k, v in sorted(self.feedback_status.items())}
        return data


def _holdout() -> tuple[list[list[float]], list[int]]:
    from model_service.training import load_dataset  # sklearn import only when traffic is generated

    ds = load_dataset()
    return ds.x_test.tolist(), [int(v) for v in ds.y_test.tolist()]


_INVALID_BODIES: tuple[bytes, ...] = (
    b'{"instances": [[1.0, 2.0, 3.0]]}',  # wrong number of features
    b'{"instances": [[NaN' + b", 0.0" * 29 + b"]]}",  # NaN feature
    b'{"instances": []}',  # empty batch
    b'{"instances": "not a list"}',  # wrong type
    b"not json",
)


class LoadGenerator:
    def __init__(
        self, config: LoadConfig, rows: list[list[float]] | None = None, labels: list[int] | None = None
    ):
        config.validate()
        self.config = config
        self.url = require_loopback(config.url)
        if rows is None or labels is None:
            rows, labels = _holdout()
        self.rows = rows
        self.labels = labels
        self.rng = random.Random(config.seed)
        self.report = LoadReport()
        self._latencies: list[float] = []
        self._predict_status: Counter[int] = Counter()
        self._feedback_status: Counter[int] = Counter()
        self._feedback_tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> LoadReport:
        cfg = self.config
        limits = httpx.Limits(
            max_connections=cfg.concurrency * 2, max_keepalive_connections=cfg.concurrency * 2
        )
        async with httpx.AsyncClient(timeout=cfg.timeout_seconds, limits=limits) as client:
            self._predict_sem = asyncio.Semaphore(cfg.concurrency)
            self._feedback_sem = asyncio.Semaphore(cfg.concurrency)
            started = time.perf_counter()
            if cfg.rate > 0:
                await self._open_loop(client, started)
            else:
                await self._closed_loop(client, started)
            send_elapsed = time.perf_counter() - started
            if self._feedback_tasks:
                await asyncio.gather(*self._feedback_tasks)
            elapsed = time.perf_counter() - started
        r = self.report
        r.predict_status = dict(self._predict_status)
        r.feedback_status = dict(self._feedback_status)
        r.elapsed_seconds = round(elapsed, 3)
        r.send_seconds = round(send_elapsed, 3)
        r.achieved_rate = round(r.predict_requests / send_elapsed, 2) if send_elapsed > 0 else 0.0
        r.latency_ms = {
            f"p{p:g}": (round(v * 1000, 3) if (v := percentile(self._latencies, p)) is not None else None)
            for p in (50, 95, 99)
        }
        return r

    def _budget_left(self, sent: int, now: float, started: float) -> bool:
        cfg = self.config
        if cfg.count is not None and sent >= cfg.count:
            return False
        return now - started < cfg.duration_seconds

    async def _open_loop(self, client: httpx.AsyncClient, started: float) -> None:
        interval = 1.0 / self.config.rate
        tasks: set[asyncio.Task[None]] = set()
        sent = 0
        while True:
            scheduled = started + sent * interval
            if not self._budget_left(sent, scheduled, started):
                break
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await self._predict_sem.acquire()
            if time.perf_counter() - scheduled > 0.1:
                self.report.late_starts += 1
            task = asyncio.create_task(self._one_predict(client, release=True))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sent += 1
        if tasks:
            await asyncio.gather(*tasks)

    async def _closed_loop(self, client: httpx.AsyncClient, started: float) -> None:
        sent = 0

        async def worker() -> None:
            nonlocal sent
            while self._budget_left(sent, time.perf_counter(), started):
                sent += 1
                await self._one_predict(client, release=False)

        await asyncio.gather(*(worker() for _ in range(self.config.concurrency)))

    async def _one_predict(self, client: httpx.AsyncClient, *, release: bool) -> None:
        cfg = self.config
        try:
            self.report.predict_requests += 1
            if cfg.invalid_fraction and self.rng.random() < cfg.invalid_fraction:
                self.report.invalid_requests += 1
                body = self.rng.choice(_INVALID_BODIES)
                await self._post(client, "/predict", body, self._predict_status)
                return
            picks = [self.rng.randrange(len(self.rows)) for _ in range(cfg.batch_size)]
            # Decide feedback for every row now, so that the random stream does not depend on timing.
            plans = [
                (
                    self.rng.random() < cfg.feedback_fraction,
                    self.rng.random() < cfg.label_noise,
                    cfg.feedback_delay_seconds + self.rng.random() * cfg.feedback_jitter_seconds,
                )
                for _ in picks
            ]
            payload = json.dumps({"instances": [self.rows[i] for i in picks]}).encode()
            t0 = time.perf_counter()
            resp = await self._post(client, "/predict", payload, self._predict_status)
            if resp is None or resp.status_code != 200:
                return
            self._latencies.append(time.perf_counter() - t0)
            predictions = resp.json()["predictions"]
            self.report.rows_predicted += len(predictions)
            for pred, row_index, (send, noisy, delay) in zip(predictions, picks, plans, strict=True):
                if not send:
                    continue
                true_label = self.labels[row_index]
                if noisy:
                    true_label = 1 - true_label if true_label in (0, 1) else true_label + 1
                    self.report.feedback_noisy += 1
                task = asyncio.create_task(
                    self._one_feedback(client, pred["prediction_id"], true_label, delay)
                )
                self._feedback_tasks.add(task)
                task.add_done_callback(self._feedback_tasks.discard)
        finally:
            if release:
                self._predict_sem.release()

    async def _one_feedback(
        self, client: httpx.AsyncClient, prediction_id: str, label: int, delay: float
    ) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        async with self._feedback_sem:
            self.report.feedback_requests += 1
            body = json.dumps({"prediction_id": prediction_id, "true_label": label}).encode()
            resp = await self._post(client, "/feedback", body, self._feedback_status)
            if resp is not None and resp.status_code == 200 and resp.json().get("correct"):
                self.report.feedback_correct += 1

    async def _post(
        self, client: httpx.AsyncClient, path: str, body: bytes, status: Counter[int]
    ) -> httpx.Response | None:
        try:
            resp = await client.post(
                self.url + path, content=body, headers={"content-type": "application/json"}
            )
        except httpx.HTTPError:
            self.report.transport_errors += 1
            return None
        status[resp.status_code] += 1
        return resp


def run_load(config: LoadConfig) -> LoadReport:
    return asyncio.run(LoadGenerator(config).run())


# --- admin client


def _admin_headers(token: str | None) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"} if token else {}


def post_json(url: str, path: str, payload: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    base = require_loopback(url)
    resp = httpx.post(base + path, json=payload, headers=_admin_headers(token), timeout=10.0)
    data: Any = (
        resp.json() if resp.headers.get("content-type", "").startswith("application/json") else resp.text
    )
    if resp.status_code >= 400:
        raise RuntimeError(f"{path} -> HTTP {resp.status_code}: {data}")
    assert isinstance(data, dict)
    return data


def set_faults(url: str, token: str | None = None, **config: Any) -> dict[str, Any]:
    return post_json(url, "/admin/faults", {k: v for k, v in config.items() if v is not None}, token)


def fault_status(url: str, token: str | None = None) -> dict[str, Any]:
    return post_json(url, "/admin/faults/status", {}, token)


def refresh_features(url: str, updated_at: float | None = None) -> dict[str, Any]:
    return post_json(url, "/features/refresh", {} if updated_at is None else {"updated_at": updated_at})


# --- CLI

app = typer.Typer(help=__doc__.split("\n\n")[0], no_args_is_help=True, add_completion=False)
faults_app = typer.Typer(help="Fault injection (needs MODEL_SERVICE_ADMIN_ENABLED=true on the service).")
app.add_typer(faults_app, name="faults")

UrlOpt = Annotated[
    str, typer.Option("--url", help="Service base URL (loopback only).", envvar="MODEL_SERVICE_URL")
]
TokenOpt = Annotated[
    str | None, typer.Option("--token", help="Admin bearer token.", envvar="MODEL_SERVICE_ADMIN_TOKEN")
]


def _echo(data: dict[str, Any]) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True))


@app.command()
def load(
    url: UrlOpt = DEFAULT_URL,
    rate: Annotated[float, typer.Option(help="Requests/s; 0 = closed loop.")] = 10.0,
    duration: Annotated[float, typer.Option(help="Seconds to send for (upper bound).")] = 30.0,
    count: Annotated[int | None, typer.Option(help="Stop after this many /predict requests.")] = None,
    batch_size: Annotated[int, typer.Option(help="Rows per /predict request.")] = 1,
    concurrency: Annotated[int, typer.Option(help="Max requests in flight.")] = 16,
    feedback_fraction: Annotated[
        float, typer.Option(help="Share of predictions that get ground truth.")
    ] = 1.0,
    feedback_delay: Annotated[float, typer.Option(help="Seconds before ground truth is sent.")] = 0.0,
    feedback_jitter: Annotated[float, typer.Option(help="Extra uniform random delay, seconds.")] = 0.0,
    label_noise: Annotated[float, typer.Option(help="Probability that the reported label is wrong.")] = 0.0,
    invalid_fraction: Annotated[float, typer.Option(help="Share of malformed /predict requests.")] = 0.0,
    seed: Annotated[int | None, typer.Option(help="Random seed (reproducible choices).")] = 0,
) -> None:
    """Send /predict traffic and delayed /feedback; prints a JSON report."""
    config = LoadConfig(
        url=url,
        rate=rate,
        duration_seconds=duration,
        count=count,
        batch_size=batch_size,
        concurrency=concurrency,
        feedback_fraction=feedback_fraction,
        feedback_delay_seconds=feedback_delay,
        feedback_jitter_seconds=feedback_jitter,
        label_noise=label_noise,
        invalid_fraction=invalid_fraction,
        seed=seed,
    )
    try:
        report = run_load(config)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    _echo(report.to_json())


@faults_app.command("set")
def faults_set(
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    error_rate: Annotated[float, typer.Option(help="Share of /predict answered with 500.")] = 0.0,
    latency: Annotated[float, typer.Option(help="Seconds added to delayed requests.")] = 0.0,
    latency_probability: Annotated[float, typer.Option(help="Share of requests delayed.")] = 1.0,
    stale_features: Annotated[
        float, typer.Option(help="Features report this age (s) and stop refreshing.")
    ] = 0.0,
    duration: Annotated[float | None, typer.Option(help="Clear the faults after this many seconds.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the fault draws.")] = None,
) -> None:
    """Replace the service's fault configuration."""
    _echo(
        set_faults(
            url,
            token,
            error_rate=error_rate,
            latency_seconds=latency,
            latency_probability=latency_probability,
            stale_features_seconds=stale_features,
            duration_seconds=duration,
            seed=seed,
        )
    )


@faults_app.command("clear")
def faults_clear(url: UrlOpt = DEFAULT_URL, token: TokenOpt = None) -> None:
    """Switch every fault off."""
    _echo(set_faults(url, token))


@faults_app.command("status")
def faults_status(url: UrlOpt = DEFAULT_URL, token: TokenOpt = None) -> None:
    """Show the faults and how many were injected."""
    _echo(fault_status(url, token))


@app.command("refresh-features")
def refresh_features_cmd(
    url: UrlOpt = DEFAULT_URL,
    updated_at: Annotated[float | None, typer.Option(help="Unix time of the update (default: now).")] = None,
) -> None:
    """Record a feature update (sets model_features_last_updated_timestamp_seconds)."""
    _echo(refresh_features(url, updated_at))


if __name__ == "__main__":
    app()
