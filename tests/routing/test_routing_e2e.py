"""Alert routing end to end with the real components, all on loopback:

exporter (prometheus_client, injected incidents) -> Prometheus (the rendered rule groups) -> Alertmanager
(configured with what the real prometheus-operator generated from the rendered AlertmanagerConfigs and
PrometheusRules applied to the control plane) -> fake PagerDuty Events API v2 and Slack webhook endpoints
that record what they receive.

Every wait polls a condition with a deadline; the SLOs use second-scale windows so a fast burn pages
within seconds and the whole module runs in about a minute.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from routing_support import (
    Alertmanager,
    Delivery,
    FakeReceivers,
    Prometheus,
    Traffic,
    example_document,
    poll,
    slo_of,
)
from slo_operator.budget import ErrorBudgetCalculator
from slo_operator.model import SLO
from slo_operator.render import (
    SHARED_RULE_NAME,
    RenderOptions,
    alertmanager_config,
    prometheus_rule,
    shared_prometheus_rule,
)
from slo_operator.routing import FileReceivers, RoutingOptions, alertmanager_file
from slo_operator.rules import RuleOptions
from support.cluster import kubectl
from support.monitoring import MonitoringPair

NS = "shop"  # the namespace of the tests without a control plane
ROUTING_KEY = "e2e0routing0key0000000000000000a"
# Alertmanager timing for tests: notify 1 s after an alert arrives, group updates (resolves) every 2 s.
TIMING = {"group_wait": "1s", "group_interval": "2s", "repeat_interval": "1h"}


def _slo(name: str, scenario: str, channel: str, namespace: str = NS) -> SLO:
    """A 99% / 1h availability SLO with second-scale burn-rate windows:
    fast (critical) 14.4x over 20s and 5s; slow (warning) 1.5x over 30s and 5s."""
    return slo_of(
        {
            "apiVersion": "slo.mlops.dev/v1alpha1",
            "kind": "ServiceLevelObjective",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "service": "checkout",
                "objective": 99,
                "window": "1h",
                "indicator": {
                    "availability": {
                        "errors": f'app_request_errors_total{{scenario="{scenario}"}}',
                        "total": f'app_requests_total{{scenario="{scenario}"}}',
                    }
                },
                "alerting": {
                    "burnRates": [
                        {
                            "name": "SLOFastBurn",
                            "severity": "critical",
                            "budgetPercent": 8,
                            "longWindow": "20s",
                            "shortWindow": "5s",
                        },
                        {
                            "name": "SLOSlowBurn",
                            "severity": "warning",
                            "budgetPercent": 1.25,
                            "longWindow": "30s",
                            "shortWindow": "5s",
                        },
                    ],
                    "routing": {
                        "pagerduty": {"routingKey": {"name": "pagerduty", "key": "routing-key"}},
                        "slack": {"apiURL": {"name": "slack-webhook", "key": "url"}, "channel": channel},
                    },
                },
            },
        }
    )


@pytest.fixture
def receivers() -> Iterator[FakeReceivers]:
    fake = FakeReceivers()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def pair(kubeconfig: Path, prometheus_operator: object) -> Iterator[MonitoringPair]:
    """A Prometheus/Alertmanager pair prometheus-operator generates configuration for."""
    monitoring = MonitoringPair(kubeconfig, "routing-e2e")
    yield monitoring
    monitoring.delete()


def _options(receivers: FakeReceivers, labels: dict[str, str] | None = None) -> RenderOptions:
    return RenderOptions(
        rule_labels=dict(labels or {}),
        rules=RuleOptions(fast_interval="1s", slow_interval="5s"),
        routing=RoutingOptions(pagerduty_url=receivers.pagerduty_url, labels=dict(labels or {}), **TIMING),
    )


def _apply_children(
    pair: MonitoringPair, kubeconfig: Path, slos: list[SLO], receivers: FakeReceivers, rules: bool = False
) -> dict[str, Any]:
    """Apply the SLOs' AlertmanagerConfigs (and PrometheusRules), with the Secrets they refer to, and return
    the Alertmanager configuration prometheus-operator generated from them."""
    namespace = slos[0].namespace
    options = _options(receivers, pair.labels)
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "data": {key: base64.b64encode(value.encode()).decode()},
        }
        for name, key, value in (
            ("pagerduty", "routing-key", ROUTING_KEY),
            ("slack-webhook", "url", receivers.slack_url),
        )
    ]
    for slo in slos:
        amc = alertmanager_config(slo, options)
        assert amc is not None
        objects.append(amc)
        if rules:
            objects.append(prometheus_rule(slo, options))
    shared = shared_prometheus_rule(slos[0].namespace, slos, options) if rules else None
    if shared is not None:  # the windows the alerts read
        objects.append(shared)
    kubectl("apply", "-f", "-", kubeconfig=kubeconfig, input=yaml.safe_dump_all(objects))
    names = [f"{namespace}/{slo.name}-slo/{r}" for slo in slos for r in ("pagerduty", "slack")]
    # This test's endpoints (fresh ports each test), not an earlier test's configuration.
    urls = (receivers.slack_url, receivers.pagerduty_url)
    pair.wait_generated(lambda g: all(u in (g.alertmanager_config or "") for u in urls), "this test's URLs")
    return pair.alertmanager_config(names)


def _slack_text(delivery: Delivery) -> str:
    return " ".join(f"{a.get('title', '')} {a.get('text', '')}" for a in delivery.body.get("attachments", []))


def _key(slo: SLO | str) -> str:
    """``namespace/name`` of an SLO (a bare name: one in ``NS``)."""
    return f"{slo.namespace}/{slo.name}" if isinstance(slo, SLO) else f"{NS}/{slo}"


def _pagerduty_events(receivers: FakeReceivers, slo: SLO | str, action: str) -> list[Delivery]:
    return [
        d
        for d in receivers.pagerduty()
        if d.body.get("event_action") == action
        and (action == "resolve" or _key(slo) in d.body["payload"]["summary"])
    ]


def _slack_messages(receivers: FakeReceivers, slo: SLO | str, status: str) -> list[Delivery]:
    return [
        d for d in receivers.slack() if _key(slo) in _slack_text(d) and f"[{status}" in _slack_text(d)
    ]


def _suppressed_by_critical(am: Alertmanager, slo: str) -> bool:
    alerts = am.alerts(slo=slo)
    warning = [a for a in alerts if a["labels"]["severity"] == "warning"]
    critical = [a["fingerprint"] for a in alerts if a["labels"]["severity"] == "critical"]
    return bool(warning) and all(
        a["status"]["state"] == "suppressed" and set(a["status"]["inhibitedBy"]) & set(critical)
        for a in warning
    )


# ---- Alertmanager alone, alerts injected through its API --------------------------------------------------


def _api_alert(
    slo: str, alertname: str, severity: str, ends: datetime | None = None, namespace: str = NS
) -> dict[str, Any]:
    now = datetime.now(UTC)
    alert: dict[str, Any] = {
        "labels": {
            "alertname": alertname,
            "severity": severity,
            "slo": slo,
            "namespace": namespace,
            "service": "checkout",
        },
        "annotations": {
            "summary": f"SLO {namespace}/{slo} (checkout) is burning its error budget",
            "description": "d",
        },
        "startsAt": (now - timedelta(seconds=30)).isoformat(),
    }
    if ends is not None:
        alert["endsAt"] = ends.isoformat()
    return alert


@pytest.mark.cluster
def test_critical_pages_warning_posts_and_a_critical_silences_the_warning_of_its_slo(
    tmp_path: Path, receivers: FakeReceivers, pair: MonitoringPair, kubeconfig: Path, namespace: str
) -> None:
    paging, ticketing = (
        _slo("payments-availability", "payments", "#payments", namespace),
        _slo("search-availability", "search", "#search", namespace),
    )
    am = Alertmanager(tmp_path, _apply_children(pair, kubeconfig, [paging, ticketing], receivers))
    am.start()
    try:
        # The critical alert first, and only once Alertmanager holds it: its inhibitor ingests alerts
        # asynchronously, so a warning posted in the same instant can be flushed before the inhibitor
        # has seen the critical (on a loaded machine). In the real pipeline the two fire apart anyway.
        critical = _api_alert(paging.name, "SLOFastBurn", "critical", namespace=namespace)
        warnings = [
            _api_alert(paging.name, "SLOSlowBurn", "warning", namespace=namespace),
            _api_alert(ticketing.name, "SLOSlowBurn", "warning", namespace=namespace),
        ]
        firing = [critical, *warnings]
        am.post_alerts([critical])
        poll(lambda: am.alerts(alertname="SLOFastBurn", slo=paging.name), 10, "the critical alert held")
        am.post_alerts(warnings)
        (page,) = poll(lambda: _pagerduty_events(receivers, paging, "trigger"), 20, "PagerDuty trigger")
        poll(
            lambda: _slack_messages(receivers, ticketing, "FIRING"), 20, "Slack warning of the other SLO"
        )
        poll(lambda: _suppressed_by_critical(am, paging.name), 10, "the warning inhibited by the critical")
        body = page.body
        assert body["routing_key"] == ROUTING_KEY and body["dedup_key"]
        assert body["payload"]["severity"] == "critical"
        assert body["payload"]["custom_details"]["slo"] == f"{namespace}/{paging.name}"
        assert body["payload"]["component"] == "checkout" and body["payload"]["group"] == namespace
        # The Slack warning of the other SLO went out after two group intervals; the inhibited one never did.
        assert _slack_messages(receivers, paging, "FIRING") == []
        assert all(d.body["channel"] == "#search" for d in receivers.slack())
        assert len(_pagerduty_events(receivers, ticketing, "trigger")) == 0

        ended = datetime.now(UTC) - timedelta(seconds=1)
        am.post_alerts([{**a, "endsAt": ended.isoformat()} for a in firing])
        (resolve,) = poll(
            lambda: _pagerduty_events(receivers, paging, "resolve"), 20, "PagerDuty resolve"
        )
        assert resolve.body["dedup_key"] == body["dedup_key"]
        poll(lambda: _slack_messages(receivers, ticketing, "RESOLVED"), 20, "Slack resolved")
        assert _slack_messages(receivers, paging, "RESOLVED") == []
    finally:
        am.stop()


def test_rendered_alertmanager_yml_reads_secrets_from_files_and_delivers(
    tmp_path: Path, receivers: FakeReceivers
) -> None:
    (tmp_path / "pd-key").write_text(ROUTING_KEY)
    (tmp_path / "slack-url").write_text(receivers.slack_url)
    slo = slo_of(example_document("availability"))
    endpoints = FileReceivers(
        str(tmp_path / "pd-key"), receivers.pagerduty_url, str(tmp_path / "slack-url"), "#slo-alerts"
    )
    config = alertmanager_file([slo], endpoints, RoutingOptions(**TIMING))
    am = Alertmanager(tmp_path, config)
    am.start()
    try:
        critical = {
            **_api_alert(slo.name, "SLOFastBurn", "critical"),
            "labels": {
                "alertname": "SLOFastBurn",
                "severity": "critical",
                "slo": slo.name,
                "namespace": slo.namespace,
            },
        }
        warning = copy.deepcopy(critical)
        warning["labels"].update(alertname="SLONoData", severity="warning")
        am.post_alerts([warning])  # first alone: once the critical fires, it silences this warning
        (post,) = poll(receivers.slack, 20, "Slack message")
        assert post.body["channel"] == "#slo-alerts" and "SLONoData" in _slack_text(post)
        am.post_alerts([critical])
        (page,) = poll(
            lambda: [d for d in receivers.pagerduty() if d.body.get("event_action") == "trigger"],
            20,
            "PagerDuty trigger",
        )
        assert page.body["routing_key"] == ROUTING_KEY
    finally:
        am.stop()


# ---- the whole pipeline: incident -> Prometheus rules -> Alertmanager -> PagerDuty / Slack -------------


def _samples(prometheus: Prometheus, expr: str) -> float:
    result = prometheus.query(expr)
    return min((float(r["value"][1]) for r in result), default=0.0)


@pytest.mark.slow
@pytest.mark.cluster
def test_incidents_reach_pagerduty_and_slack_in_time_and_resolve(
    tmp_path: Path, receivers: FakeReceivers, pair: MonitoringPair, kubeconfig: Path, namespace: str
) -> None:
    fast = _slo("payments-availability", "payments", "#payments", namespace)  # 100% errors: fast, pages
    slow = _slo("search-availability", "search", "#search", namespace)  # 5% errors (5x): slow, Slack only
    traffic = Traffic(["payments", "search"])
    am = Alertmanager(tmp_path, _apply_children(pair, kubeconfig, [fast, slow], receivers, rules=True))
    prometheus = Prometheus(tmp_path, traffic.target, [], f"127.0.0.1:{am.port}")
    # prometheus-operator's rule files for both SLOs, copied to the local Prometheus as a kubelet would.
    kubelet = pair.kubelet(prometheus.rules_dir, am.config_path, None, None)
    rule_prefixes = [f"{namespace}-{slo.name}-slo-" for slo in (fast, slow)]
    rule_prefixes.append(f"{namespace}-{SHARED_RULE_NAME}-")  # the windows the alerts read
    pair.wait_generated(
        lambda g: all(any(p in f for f in g.rule_files) for p in rule_prefixes), "both SLOs' rule files"
    )
    kubelet.sync_once()
    try:
        am.start()
        prometheus.start()
        loaded = {r["name"] for g in prometheus.rule_groups() for r in g["rules"]}
        assert {"SLOFastBurn", "SLOSlowBurn", "slo:total_events:rate"} <= loaded, loaded
        # Warm-up: every window of the alerts (at most 30 s) full of good traffic, as the time-to-fire
        # formula assumes.
        poll(
            lambda: _samples(prometheus, "count_over_time(slo:total_events:rate[30s])") >= 29,
            90,
            "30 s of recorded traffic",
            interval=0.5,
        )
        assert prometheus.query("ALERTS") == [] and receivers.deliveries == []

        started, started_unix = traffic.set_error_ratio("payments", 1.0)
        traffic.set_error_ratio("search", 0.05)
        (page,) = poll(lambda: _pagerduty_events(receivers, fast, "trigger"), 40, "PagerDuty page")
        (post,) = poll(lambda: _slack_messages(receivers, slow, "FIRING"), 60, "Slack warning")
        poll(lambda: _suppressed_by_critical(am, fast.name), 20, "fast SLO's warning inhibited while paging")

        calculator = ErrorBudgetCalculator(slo_target=99, window_days=1 / 24)
        fast_alert, slow_alert = fast.alerts[0], slow.alerts[1]
        expected_page = calculator.time_to_fire(
            1.0, fast_alert.long_window / 3600, float(fast_alert.threshold)
        )
        expected_post = calculator.time_to_fire(
            0.05, slow_alert.long_window / 3600, float(slow_alert.threshold)
        )
        page_after, post_after = page.at - started, post.at - started
        page_fired = (prometheus.fired_at("SLOFastBurn", fast.name) or 0) - started_unix
        post_fired = (prometheus.fired_at("SLOSlowBurn", slow.name) or 0) - started_unix
        print(
            f"\nPagerDuty (critical, 100% errors, {fast_alert.threshold}x over {fast_alert.long}/"
            f"{fast_alert.short}): time_to_fire {expected_page.total_seconds():.2f}s; Prometheus fired at "
            f"{page_fired:.1f}s, delivered {page_after:.1f}s after incident start"
        )
        print(
            f"Slack (warning, 5% errors = 5x burn, {slow_alert.threshold}x over {slow_alert.long}/"
            f"{slow_alert.short}): time_to_fire {expected_post.total_seconds():.2f}s; Prometheus fired at "
            f"{post_fired:.1f}s, delivered {post_after:.1f}s after incident start"
        )
        # Delivery = firing + up to one scrape, one rule evaluation, group_wait (1 s) and the HTTP hop.
        assert expected_page.total_seconds() * 0.5 <= page_after <= expected_page.total_seconds() + 8
        assert expected_post.total_seconds() * 0.5 <= post_after <= expected_post.total_seconds() + 8

        body = page.body
        assert body["routing_key"] == ROUTING_KEY and body["dedup_key"]
        assert body["payload"]["severity"] == "critical"
        assert body["payload"]["summary"].startswith(f"SLOFastBurn: SLO {namespace}/{fast.name} (checkout")
        assert post.body["channel"] == "#search" and "SLOSlowBurn" in _slack_text(post)
        assert _pagerduty_events(receivers, slow, "trigger") == []  # a 5x burn never pages

        recovered, _ = traffic.set_error_ratio("payments", 0.0)
        traffic.set_error_ratio("search", 0.0)
        (resolve,) = poll(lambda: _pagerduty_events(receivers, fast, "resolve"), 40, "PagerDuty resolve")
        (resolved,) = poll(lambda: _slack_messages(receivers, slow, "RESOLVED"), 40, "Slack resolved")
        assert resolve.body["dedup_key"] == body["dedup_key"]
        assert "Resolved:" in _slack_text(resolved)
        pagerduty_after, slack_after = resolve.at - recovered, resolved.at - recovered
        print(f"resolves after recovery: PagerDuty {pagerduty_after:.1f}s, Slack {slack_after:.1f}s")
    except BaseException:
        print(f"--- prometheus log (tail)\n{prometheus.log()}\n--- alertmanager log (tail)\n{am.log()}")
        raise
    finally:
        prometheus.stop()
        am.stop()
        traffic.stop()
