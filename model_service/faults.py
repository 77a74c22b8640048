"""Run-time fault injection, so that an incident can be staged in a demo or a test.

Faults (all off by default, switched through ``POST /admin/faults`` when the admin API is enabled):

- ``error_rate``: share of /predict requests answered with HTTP 500;
- ``latency_seconds`` with ``latency_probability``: extra delay added to that share of /predict requests;
- ``stale_features_seconds``: the feature snapshot reports that it was last updated that many seconds
  ago and stops refreshing, so the freshness SLI degrades;
- ``duration_seconds``: the faults clear themselves after that long (None: until replaced).

With ``seed`` set, the random draws are reproducible: N requests draw the same number of errors
and delays whatever their order, which lets tests compare exact counts.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class FaultConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    error_rate: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] = 0.0
    latency_seconds: Annotated[float, Field(ge=0.0, le=30.0, allow_inf_nan=False)] = 0.0
    latency_probability: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] = 1.0
    stale_features_seconds: Annotated[float, Field(ge=0.0, le=30 * 86400.0, allow_inf_nan=False)] = 0.0
    duration_seconds: Annotated[float | None, Field(gt=0.0, le=86400.0, allow_inf_nan=False)] = None
    seed: int | None = None

    @property
    def active(self) -> bool:
        return (
            self.error_rate > 0
            or (self.latency_seconds > 0 and self.latency_probability > 0)
            or self.stale_features_seconds > 0
        )


class FaultStatus(BaseModel):
    config: FaultConfig
    active: bool
    #: Seconds until the faults clear themselves (None: no expiry or nothing active).
    expires_in_seconds: float | None
    #: Decisions taken since the configuration was set.
    requests_seen: int
    errors_injected: int
    delays_injected: int


class FaultInjector:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._config = FaultConfig()
        self._rng = random.Random()
        self._expires_at: float | None = None
        self._requests = 0
        self._errors = 0
        self._delays = 0

    def configure(self, config: FaultConfig) -> FaultStatus:
        with self._lock:
            self._config = config
            self._rng = random.Random(config.seed)
            self._expires_at = (
                self._clock() + config.duration_seconds if config.duration_seconds is not None else None
            )
            self._requests = self._errors = self._delays = 0
        return self.status()

    def clear(self) -> FaultStatus:
        return self.configure(FaultConfig())

    def _current(self) -> FaultConfig:
        # caller holds the lock
        if self._expires_at is not None and self._clock() >= self._expires_at:
            self._config = FaultConfig()
            self._expires_at = None
        return self._config

    @property
    def config(self) -> FaultConfig:
        with self._lock:
            return self._current()

    def status(self) -> FaultStatus:
        with self._lock:
            config = self._current()
            expires_in = max(self._expires_at - self._clock(), 0.0) if self._expires_at is not None else None
            return FaultStatus(
                config=config,
                active=config.active,
                expires_in_seconds=expires_in,
                requests_seen=self._requests,
                errors_injected=self._errors,
                delays_injected=self._delays,
            )

    def decide(self) -> tuple[float, bool]:
        """For one /predict request: (seconds of delay to add, whether to fail with a 5xx)."""
        with self._lock:
            config = self._current()
            if config.error_rate == 0 and config.latency_seconds == 0:
                return 0.0, False
            self._requests += 1
            delay = 0.0
            if config.latency_seconds > 0 and self._rng.random() < config.latency_probability:
                delay = config.latency_seconds
                self._delays += 1
            fail = config.error_rate > 0 and self._rng.random() < config.error_rate
            if fail:
                self._errors += 1
            return delay, fail

    def stale_features_seconds(self) -> float:
        with self._lock:
            return self._current().stale_features_seconds
