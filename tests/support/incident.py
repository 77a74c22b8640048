"""The staged incident both model-service Prometheus tests drive: the same faults and the same load."""

from __future__ import annotations

from typing import Any

from model_service.traffic import LoadConfig

# 10 % of /predict answered 500, 20 % delayed by 0.3 s (over the 200 ms latency threshold).
INCIDENT_FAULTS: dict[str, Any] = {
    "error_rate": 0.1,
    "latency_seconds": 0.3,
    "latency_probability": 0.2,
    "seed": 21,
}


def incident_load(url: str, rate: float) -> LoadConfig:
    """320 requests at ``rate``/s: 5 % malformed (4xx), ground truth 0.5 s later with 25 % label noise."""
    return LoadConfig(
        url=url,
        rate=rate,
        count=320,
        duration_seconds=30,
        concurrency=32,
        invalid_fraction=0.05,
        label_noise=0.25,
        feedback_delay_seconds=0.5,
        seed=9,
    )
