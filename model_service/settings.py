"""Environment-driven settings of the model service.

Every knob is an environment variable so that the same code runs under ``bentoml serve`` locally,
in the container and in tests (which start the service as a subprocess).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

#: Histogram buckets (seconds) for request latency. They must contain every latency threshold an SLO
#: uses (a latency SLO reads the bucket whose ``le`` equals its threshold).
LATENCY_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.2,
    0.25,
    0.3,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    10.0,
)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_flag(name: str, default: bool) -> bool:
    """Parse a boolean environment variable; unknown spellings raise instead of silently defaulting."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={raw!r} is not a boolean (use true/false)")


N = TypeVar("N", int, float)


def _env_number(name: str, default: N, parse: Callable[[str], N], kind: str, minimum: N) -> N:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = parse(raw)
    except ValueError as exc:
        raise ValueError(f"{name}={raw!r} is not {kind}") from exc
    if not value >= minimum:  # also rejects NaN
        raise ValueError(f"{name}={raw!r} must be >= {minimum}")
    return value


def _env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    return _env_number(name, default, float, "a number", minimum)


def _env_int(name: str, default: int, *, minimum: int = 1) -> int:
    return _env_number(name, default, int, "an integer", minimum)


def default_model_dir() -> Path:
    """``$MODEL_DIR`` or ``$XDG_CACHE_HOME/slo-operator/model-service`` (``~/.cache/...``)."""
    if explicit := os.environ.get("MODEL_DIR"):
        return Path(explicit).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "slo-operator" / "model-service"


@dataclass(frozen=True, slots=True)
class Settings:
    model_dir: Path
    #: Train and save the model when ``model_dir`` holds none (otherwise a missing model is an error).
    train_if_missing: bool
    #: Record the service's own SLI metrics (``SLITracker``); false only to measure overhead.
    sli_tracking: bool
    #: Enable ``/admin/*`` endpoints (fault injection). Off by default: only for demos and tests.
    admin_enabled: bool
    #: If set, ``/admin/*`` also needs ``Authorization: Bearer <token>``.
    admin_token: str | None
    #: How long a prediction waits for its ground truth before it is forgotten.
    feedback_ttl_seconds: float
    #: Upper bound on predictions kept for feedback (oldest evicted first).
    feedback_max_entries: int
    #: Maximum rows in one /predict request.
    max_batch_rows: int
    #: Interval of the in-process feature refresh loop; 0 disables it (refresh only via API/CLI).
    feature_refresh_interval_seconds: float
    #: Price of one CPU-hour: the CPU time the worker uses is exported as money spent
    #: (``model_serving_cost_dollars_total``), so cost SLOs have data without OpenCost.
    cpu_price_per_hour: float = 0.04
    #: How often the CPU used between requests (idle work) is charged as well.
    cost_interval_seconds: float = 10.0

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            model_dir=default_model_dir(),
            train_if_missing=env_flag("MODEL_TRAIN_IF_MISSING", True),
            sli_tracking=env_flag("MODEL_SLI_TRACKING", True),
            admin_enabled=env_flag("MODEL_SERVICE_ADMIN_ENABLED", False),
            admin_token=os.environ.get("MODEL_SERVICE_ADMIN_TOKEN") or None,
            feedback_ttl_seconds=_env_float("MODEL_FEEDBACK_TTL_SECONDS", 6 * 3600.0, minimum=1.0),
            feedback_max_entries=_env_int("MODEL_FEEDBACK_MAX_ENTRIES", 100_000),
            max_batch_rows=_env_int("MODEL_MAX_BATCH_ROWS", 256),
            feature_refresh_interval_seconds=_env_float("MODEL_FEATURE_REFRESH_INTERVAL_SECONDS", 60.0),
            cpu_price_per_hour=_env_float("MODEL_CPU_PRICE_PER_HOUR", 0.04),
            cost_interval_seconds=_env_float("MODEL_COST_INTERVAL_SECONDS", 10.0, minimum=0.1),
        )
