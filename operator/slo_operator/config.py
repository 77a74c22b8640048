"""Operator configuration: what differs between clusters, from environment variables and CLI flags.

Every setting has an environment variable (``SLO_OPERATOR_*``, what the Helm chart sets) and a flag of
``slo-operator run``; flags win. Rendering options derived from it are handed to the pure core.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from slo_operator.render import RenderOptions
from slo_operator.rules import RuleOptions


def _labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{item!r}: write labels as key=value[,key=value]")
        labels[key.strip()] = value.strip()
    return labels


@dataclass(frozen=True)
class OperatorConfig:
    """Settings of one running operator."""

    prometheus_url: str = "http://prometheus-operated.monitoring.svc:9090"
    namespaces: tuple[str, ...] = ()  # empty: all namespaces
    refresh_seconds: float = 60.0  # how often the status numbers are read from Prometheus
    heartbeat_seconds: float = 300.0  # lastEvaluated is rewritten at least this often
    prometheus_timeout: float = 10.0
    rule_labels: dict[str, str] = field(default_factory=dict)
    fast_interval: str = "30s"
    slow_interval: str = "2m"
    field_manager: str = "slo-operator"
    liveness: str = "http://0.0.0.0:8080/healthz"

    @property
    def render_options(self) -> RenderOptions:
        return RenderOptions(
            rule_labels=dict(self.rule_labels),
            rules=RuleOptions(fast_interval=self.fast_interval, slow_interval=self.slow_interval),
        )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> OperatorConfig:
        env = dict(os.environ if environ is None else environ)
        default = cls()

        def get(name: str, fallback: str) -> str:
            return env.get(f"SLO_OPERATOR_{name}", fallback)

        return cls(
            prometheus_url=get("PROMETHEUS_URL", default.prometheus_url),
            namespaces=tuple(n for n in get("NAMESPACES", "").replace(" ", "").split(",") if n),
            refresh_seconds=float(get("REFRESH_SECONDS", str(default.refresh_seconds))),
            heartbeat_seconds=float(get("HEARTBEAT_SECONDS", str(default.heartbeat_seconds))),
            prometheus_timeout=float(get("PROMETHEUS_TIMEOUT", str(default.prometheus_timeout))),
            rule_labels=_labels(get("RULE_LABELS", "")),
            fast_interval=get("FAST_INTERVAL", default.fast_interval),
            slow_interval=get("SLOW_INTERVAL", default.slow_interval),
            liveness=get("LIVENESS", default.liveness),
        )
