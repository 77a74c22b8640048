"""Operator configuration: what differs between clusters, from environment variables and CLI flags.

Every setting has an environment variable (``SLO_OPERATOR_*``, what the Helm chart sets) and a flag of
``slo-operator run``; flags win. Rendering options derived from it are handed to the pure core.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from slo_operator.api import SecretKeySelector
from slo_operator.dashboards import DashboardOptions
from slo_operator.render import RenderOptions
from slo_operator.routing import RoutingOptions
from slo_operator.rules import RuleOptions


def _labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{item!r}: write labels as key=value[,key=value]")
        labels[key.strip()] = value.strip()
    return labels


def secret_ref(text: str, setting: str = "secret") -> SecretKeySelector | None:
    """``name/key`` as a Secret key reference (empty: none); the Secret lives in each SLO's namespace."""
    if not text.strip():
        return None
    name, sep, key = text.strip().partition("/")
    try:
        if not sep:
            raise ValueError("no '/'")
        return SecretKeySelector(name=name, key=key)
    except ValueError:  # pydantic's ValidationError included
        raise ValueError(
            f"{setting}={text!r}: write a Secret key reference as name/key, e.g. pagerduty/routing-key"
        ) from None


@dataclass(frozen=True)
class OperatorConfig:
    """Settings of one running operator."""

    prometheus_url: str = "http://prometheus-operated.monitoring.svc:9090"
    namespaces: tuple[str, ...] = ()  # empty: all namespaces
    refresh_seconds: float = 60.0  # how often the status numbers are read from Prometheus
    heartbeat_seconds: float = 300.0  # lastEvaluated is rewritten at least this often
    status_writes_per_second: float = 100.0  # the refresher's write budget (ratelimit.py); 0: unbounded
    prometheus_timeout: float = 10.0
    rule_labels: dict[str, str] = field(default_factory=dict)
    fast_interval: str = "30s"
    slow_interval: str = "2m"
    field_manager: str = "slo-operator"
    liveness: str = "http://0.0.0.0:8080/healthz"
    metrics: str = "0.0.0.0:8081"  # host:port of the operator's /metrics; empty: not served
    # Two or more replicas: only the holder of this Lease reconciles (leader.py); /readyz on the
    # liveness port is true on the leader and on a warm standby.
    leader_election: bool = False
    lease_name: str = "slo-operator"
    lease_namespace: str = ""  # empty: the pod's own namespace
    lease_seconds: float = 15.0
    # Default alert receivers (see routing.py), for SLOs whose spec.alerting.routing does not name them.
    pagerduty_secret: str = ""  # name/key of the Secret key holding the PagerDuty routing key
    slack_secret: str = ""  # name/key of the Secret key holding the Slack webhook URL
    slack_channel: str = ""
    pagerduty_url: str = ""  # Events API v2 endpoint; empty: Alertmanager's default
    alertmanager_config_labels: dict[str, str] = field(default_factory=dict)
    # Grafana dashboards (see dashboards.py): one ConfigMap per SLO, found by Grafana's sidecar.
    dashboards: bool = True
    dashboard_labels: dict[str, str] = field(default_factory=lambda: dict(DashboardOptions().labels))
    dashboard_folder_annotation: str = DashboardOptions.folder_annotation
    dashboard_folder: str = DashboardOptions.folder

    def __post_init__(self) -> None:
        secret_ref(self.pagerduty_secret, "SLO_OPERATOR_PAGERDUTY_SECRET")  # fail at start-up, not per SLO
        secret_ref(self.slack_secret, "SLO_OPERATOR_SLACK_SECRET")

    @property
    def render_options(self) -> RenderOptions:
        return RenderOptions(
            rule_labels=dict(self.rule_labels),
            rules=RuleOptions(fast_interval=self.fast_interval, slow_interval=self.slow_interval),
            dashboards=DashboardOptions(
                enabled=self.dashboards,
                labels=dict(self.dashboard_labels),
                folder_annotation=self.dashboard_folder_annotation,
                folder=self.dashboard_folder,
            ),
            routing=RoutingOptions(
                pagerduty_routing_key=secret_ref(self.pagerduty_secret),
                slack_api_url=secret_ref(self.slack_secret),
                slack_channel=self.slack_channel or None,
                pagerduty_url=self.pagerduty_url or None,
                labels=dict(self.alertmanager_config_labels),
            ),
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
            status_writes_per_second=float(
                get("STATUS_WRITES_PER_SECOND", str(default.status_writes_per_second))
            ),
            prometheus_timeout=float(get("PROMETHEUS_TIMEOUT", str(default.prometheus_timeout))),
            rule_labels=_labels(get("RULE_LABELS", "")),
            fast_interval=get("FAST_INTERVAL", default.fast_interval),
            slow_interval=get("SLOW_INTERVAL", default.slow_interval),
            liveness=get("LIVENESS", default.liveness),
            metrics=get("METRICS", default.metrics),
            leader_election=get("LEADER_ELECTION", "false").strip().lower() in ("true", "1", "yes", "on"),
            lease_name=get("LEASE_NAME", default.lease_name),
            lease_namespace=get("LEASE_NAMESPACE", ""),
            lease_seconds=float(get("LEASE_SECONDS", str(default.lease_seconds))),
            pagerduty_secret=get("PAGERDUTY_SECRET", ""),
            slack_secret=get("SLACK_SECRET", ""),
            slack_channel=get("SLACK_CHANNEL", ""),
            pagerduty_url=get("PAGERDUTY_URL", ""),
            alertmanager_config_labels=_labels(get("ALERTMANAGER_CONFIG_LABELS", "")),
            dashboards=get("DASHBOARDS", "true").strip().lower() not in ("false", "0", "no", "off"),
            dashboard_labels=_labels(get("DASHBOARD_LABELS", "grafana_dashboard=1")),
            dashboard_folder_annotation=get("DASHBOARD_FOLDER_ANNOTATION",
                                            default.dashboard_folder_annotation),
            dashboard_folder=get("DASHBOARD_FOLDER", default.dashboard_folder),
        )
