"""Alertmanager 0.27+ parses matchers with its UTF-8 parser: every matcher slo-operator writes must be
clean for it (no classic-parser fallback, accepted in strict mode), and 0.25's classic parser must read
them the same way. ``check_config`` enforces that on every file the routing tests write; here it is
shown to catch a matcher only the classic parser reads, and the SLO names that need quoting route."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from routing_support import check_config, example_document, route_receivers, slo_of, utf8_matchers
from slo_operator.routing import FileReceivers, alertmanager_file

ENDPOINTS = FileReceivers(pagerduty_routing_key_file="/run/pd", slack_api_url_file="/run/slack")


def test_a_classic_only_matcher_is_caught(tmp_path: Path) -> None:
    if not utf8_matchers():
        pytest.skip("Alertmanager 0.25 (PROM_STACK=debian) has only the classic parser: nothing to catch")
    config = {"route": {"receiver": "none", "routes": [{"receiver": "none", "matchers": ["slo=a b"]}]},
              "receivers": [{"name": "none"}]}
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(AssertionError, match="UTF-8"):
        check_config(path)


def test_dotted_names_route_on_both_parsers(tmp_path: Path) -> None:
    document = example_document("availability", None)
    document["metadata"]["name"] = "checkout.v2-availability"
    slo = slo_of(document)
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(alertmanager_file([slo], ENDPOINTS), sort_keys=False))
    check_config(path)
    labels = {"alertname": "SLOFastBurn", "slo": slo.name, "namespace": slo.namespace, "severity": "critical"}
    assert route_receivers(path, labels) == [f"{slo.namespace}/{slo.name}/pagerduty"]
