"""Imported SLOs alert when the source tool's own rules alert: Sloth and Pyrra generate their rules from
an SLO, ``slo-operator import`` turns the same SLO into ours, and one promtool run evaluates both rule
sets on the same series (a total outage, a 2% error burst, a slow steady burn).

Each alert class (page/critical, ticket/warning) must first fire and last fire within one evaluation
step of the source's. The intended difference (README, "Migrating"): windows longer than 6h are sums of
the recorded 5m rates without the edge correction the shorter ones get, so a burst shows up in them half
a base window (150s) late; alerts whose long windows are 1d or longer get that much extra tolerance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from peers import STEP, Firing, firing_times, peer_binaries, pyrra_rules, sloth_rules
from slo_operator.api import ServiceLevelObjective
from slo_operator.migrate import import_documents
from slo_operator.model import resolve
from slo_operator.render import rule_file
from support.promtool_series import counter

pytestmark = pytest.mark.slow

LONG_WINDOW_LAG = 150  # seconds: half the 5m base window, uncorrected in windows over 6h
PER_SAMPLE = 300  # requests per 30s sample: 10 requests/s
HOUR = 3600 // STEP  # samples per hour
SERIES_OK = 'shop_requests_total{job="shop",code="200"}'
SERIES_ERR = 'shop_requests_total{job="shop",code="500"}'

# (name, [(error ratio, samples)]) after one healthy hour.
SCENARIOS = {
    "total-outage": [(1.0, HOUR // 3), (0.0, 2 * HOUR + HOUR // 3)],
    "burst-2pct": [(0.02, 2 * HOUR), (0.0, HOUR)],
    "slow-burn-1pct": [(0.01, 6 * HOUR)],
}


def series(phases: list[tuple[float, int]]) -> tuple[list[dict[str, str]], int]:
    steps = [(0.0, HOUR), *phases]
    ok = counter(0, [(PER_SAMPLE * (1 - e), n) for e, n in steps])
    err = counter(0, [(PER_SAMPLE * e, n) for e, n in steps])
    samples = sum(n for _, n in steps)
    return [{"series": SERIES_OK, "values": ok}, {"series": SERIES_ERR, "values": err}], samples * STEP


SLOTH_SPEC: dict[str, Any] = {
    "version": "prometheus/v1",
    "service": "shop",
    "slos": [
        {
            "name": "requests",
            "objective": 99.9,
            "sli": {
                "events": {
                    "error_query": 'sum(rate(shop_requests_total{job="shop",code=~"5.."}[{{.window}}]))',
                    "total_query": 'sum(rate(shop_requests_total{job="shop"}[{{.window}}]))',
                }
            },
            "alerting": {
                "name": "ShopAvailability",
                "page_alert": {"labels": {"severity": "critical"}},
                "ticket_alert": {"labels": {"severity": "warning"}},
            },
        }
    ],
}

PYRRA_SLO: dict[str, Any] = {
    "apiVersion": "pyrra.dev/v1alpha1",
    "kind": "ServiceLevelObjective",
    "metadata": {"name": "shop-requests", "namespace": "shop"},
    "spec": {
        "target": "99.9",
        "window": "4w",
        "indicator": {
            "ratio": {
                "errors": {"metric": 'shop_requests_total{job="shop",code=~"5.."}'},
                "total": {"metric": 'shop_requests_total{job="shop"}'},
            }
        },
        "alerting": {"absent": False},
    },
}


@pytest.fixture(scope="module")
def binaries() -> dict[str, Path]:
    return peer_binaries()


def ours(source: str, document: dict[str, Any]) -> dict[str, Any]:
    result = import_documents(source, [("scenario", document)], namespace="shop")
    assert not result.errors, result.findings
    (slo,) = result.documents
    return rule_file([resolve(ServiceLevelObjective.model_validate(slo))])


def assert_same_timing(name: str, source: Firing, mine: Firing, tolerance: int = STEP) -> None:
    assert (source.first is None) == (mine.first is None), f"{name}: source {source}, ours {mine}"
    if source.first is None:
        return
    assert mine.first is not None and mine.last is not None and source.last is not None
    assert abs(mine.first - source.first) <= tolerance, f"{name} first fired: source {source}, ours {mine}"
    assert abs(mine.last - source.last) <= tolerance, f"{name} last fired: source {source}, ours {mine}"
    assert abs(mine.ticks - source.ticks) <= tolerance // STEP + 1, f"{name} duration: {source} vs {mine}"


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_sloth_import_fires_with_sloth(scenario: str, binaries: dict[str, Path], tmp_path: Path) -> None:
    input_series, end = series(SCENARIOS[scenario])
    rules = {"sloth": sloth_rules(binaries["sloth"], SLOTH_SPEC, tmp_path), "ours": ours("sloth", SLOTH_SPEC)}
    classes = {
        "sloth-page": 'alertname="ShopAvailability",sloth_severity="page"',
        "ours-page": 'alertname=~"ShopAvailabilityPage.*",slo="shop-requests"',
        "sloth-ticket": 'alertname="ShopAvailability",sloth_severity="ticket"',
        "ours-ticket": 'alertname=~"ShopAvailabilityTicket.*",slo="shop-requests"',
    }
    fired = firing_times(tmp_path, rules, input_series, end, classes)
    print(scenario, fired)
    # Every scenario makes both classes fire: the comparison is never between two silent rule sets.
    assert fired["sloth-page"].first is not None and fired["sloth-ticket"].first is not None
    assert_same_timing(f"{scenario} page", fired["sloth-page"], fired["ours-page"])
    # Ticket alerts: 1d/2h and 3d/6h; the long windows carry the documented lag.
    assert_same_timing(
        f"{scenario} ticket", fired["sloth-ticket"], fired["ours-ticket"], STEP + LONG_WINDOW_LAG
    )


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_pyrra_import_fires_with_pyrra(scenario: str, binaries: dict[str, Path], tmp_path: Path) -> None:
    input_series, end = series(SCENARIOS[scenario])
    rules = {"pyrra": pyrra_rules(binaries["pyrra"], PYRRA_SLO, tmp_path), "ours": ours("pyrra", PYRRA_SLO)}
    classes = {
        "pyrra-critical": 'alertname="ErrorBudgetBurn",severity="critical"',
        "ours-critical": 'alertname=~"ErrorBudgetBurn.+",severity="critical"',
        "pyrra-warning": 'alertname="ErrorBudgetBurn",severity="warning"',
        "ours-warning": 'alertname=~"ErrorBudgetBurn.+",severity="warning"',
    }
    fired = firing_times(tmp_path, rules, input_series, end, classes)
    print(scenario, fired)
    assert fired["pyrra-critical"].first is not None and fired["pyrra-warning"].first is not None
    assert_same_timing(f"{scenario} critical", fired["pyrra-critical"], fired["ours-critical"])
    # Warning alerts: 1d/2h and 4d/6h; the long windows carry the documented lag.
    assert_same_timing(
        f"{scenario} warning", fired["pyrra-warning"], fired["ours-warning"], STEP + LONG_WINDOW_LAG
    )
