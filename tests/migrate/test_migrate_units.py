"""Importers and the OpenSLO exporter as pure functions: source documents in, our documents and
findings out. The inputs in ``inputs/`` were written from each project's API reference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from slo_operator.api import ServiceLevelObjective
from slo_operator.migrate import import_documents
from slo_operator.migrate.common import IMPORTED_FROM, ImportRefused, histogram, rate_sum
from slo_operator.migrate.openslo import export
from slo_operator.migrate.pyrra import pyrra_windows
from slo_operator.model import exact, resolve
from slo_operator.render import rule_file
from slo_operator.selectors import parse_selector

INPUTS = Path(__file__).parent / "inputs"
EXAMPLES = Path(__file__).resolve().parents[2] / "manifests" / "examples"


def read(name: str) -> list[tuple[str, Any]]:
    text = (INPUTS / name).read_text()
    return [(f"{name}#{i}", doc) for i, doc in enumerate(yaml.safe_load_all(text)) if doc is not None]


def by_name(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents}


def fields(result: Any, level: str) -> set[str]:
    return {f.field for f in result.findings if f.level == level}


# ---- PromQL shapes ----------------------------------------------------------------------------------


def test_rate_sum_reads_selector_and_grouping() -> None:
    found = rate_sum('sum by (route) (rate(x_total{code=~"5.."}[{{.window}}]))', "q")
    assert found.selector.render() == 'x_total{code=~"5.."}'
    assert found.by == ("route",)


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("sum(rate(x_total[5m]))", "{{.window}}"),
        ("rate(x_total[{{.window}}])", "only sum(rate"),
        ("sum without (pod) (rate(x_total[{{.window}}]))", "without"),
        ("sum(rate(x_total[{{.window}}] offset 1h))", "offset"),
        ("max(rate(x_total[{{.window}}]))", "only sum(rate"),
        ("sum(rate(x_total[{{.window}}])) / 2", "only sum(rate"),
    ],
)
def test_rate_sum_refuses_what_it_cannot_rebuild(query: str, reason: str) -> None:
    with pytest.raises(ImportRefused) as caught:
        rate_sum(query, "spec.slos[0].sli.events.errorQuery")
    assert caught.value.field == "spec.slos[0].sli.events.errorQuery"
    assert reason in caught.value.message


def test_histogram_threshold_from_le() -> None:
    good = parse_selector('h_bucket{job="a",le="0.25"}')
    total = parse_selector('h_count{job="a"}')
    assert histogram(good, total, "f") == ('h{job="a"}', "250ms")
    assert histogram(parse_selector('h_bucket{le="2"}'), parse_selector("h_count"), "f") == ("h", "2s")
    with pytest.raises(ImportRefused, match="different label matchers"):
        histogram(good, parse_selector('h_count{job="b"}'), "f")


# ---- Sloth -----------------------------------------------------------------------------------------


def test_sloth_cr_availability_and_latency() -> None:
    result = import_documents("sloth", read("sloth-cr.yaml"))
    assert not result.errors, result.findings
    docs = by_name(result.documents)
    avail = docs["checkout-requests-availability"]
    assert avail["metadata"]["namespace"] == "shop"
    assert avail["metadata"]["annotations"][IMPORTED_FROM] == (
        "sloth.slok.dev/v1 PrometheusServiceLevel shop/checkout slo requests-availability"
    )
    spec = avail["spec"]
    assert spec["objective"] == 99.9 and spec["window"] == "30d" and spec["service"] == "checkout"
    assert spec["indicator"] == {
        "availability": {
            "errors": 'checkout_requests_total{job="checkout",code=~"5.."}',
            "total": 'checkout_requests_total{job="checkout"}',
        }
    }
    alerts = spec["alerting"]["burnRates"]
    assert [
        (a["name"], a["severity"], a["budgetPercent"], a["longWindow"], a["shortWindow"]) for a in alerts
    ] == [
        ("CheckoutAvailabilityPage", "critical", 2, "1h", "5m"),
        ("CheckoutAvailabilityPageSlow", "critical", 5, "6h", "30m"),
        ("CheckoutAvailabilityTicket", "warning", 10, "1d", "2h"),
        ("CheckoutAvailabilityTicketSlow", "warning", 10, "3d", "6h"),
    ]
    assert spec["alerting"]["labels"] == {"team": "payments", "category": "availability"}
    assert spec["alerting"]["annotations"] == {"runbook_url": "https://runbooks.example/checkout"}
    # Thresholds equal Sloth's: 14.4, 6, 3 and 1.
    slo = resolve(ServiceLevelObjective.model_validate(avail))
    assert [float(a.threshold) for a in slo.alerts] == [14.4, 6, 3, 1]

    latency = docs["checkout-requests-latency"]["spec"]
    assert latency["indicator"] == {
        "latency": {"histogram": 'checkout_request_duration_seconds{job="checkout"}', "threshold": "250ms"}
    }
    assert [a["name"] for a in latency["alerting"]["burnRates"]] == [
        "CheckoutLatencyPage",
        "CheckoutLatencyPageSlow",
    ]
    assert "spec.slos[0].alerting.name" in fields(result, "warning")


def test_sloth_spec_file_grouping_refusals_and_per_alert_labels() -> None:
    result = import_documents("sloth", read("sloth-spec.yaml"), namespace="search")
    docs = by_name(result.documents)
    assert list(docs) == ["search-query-errors"]
    spec = docs["search-query-errors"]["spec"]
    assert spec["groupBy"] == ["region"]
    assert docs["search-query-errors"]["metadata"]["namespace"] == "search"
    assert spec["alerting"]["labels"] == {"owner": "search-team"}
    assert fields(result, "error") == {"slos[1].sli.raw", "slos[2].sli.plugin"}
    # A label on the page alert only is not silently dropped.
    assert "slos[0].alerting.page_alert.labels.channel" in fields(result, "warning")


def test_sloth_objective_of_100_is_refused() -> None:
    doc = yaml.safe_load((INPUTS / "sloth-cr.yaml").read_text())
    doc["spec"]["slos"][0]["objective"] = 100
    result = import_documents("sloth", [("x", doc)])
    assert "spec.slos[0].objective" in fields(result, "error")


# ---- Pyrra -----------------------------------------------------------------------------------------


def test_pyrra_windows_match_pyrras_table() -> None:
    four_weeks = 28 * 86400
    assert [(f, lw, sw, hold) for _, _, _, f, lw, sw, hold in pyrra_windows(four_weeks)] == [
        (14, 3600, 300, 120),
        (7, 6 * 3600, 1800, 900),
        (2, 86400, 7200, 3600),
        (1, 4 * 86400, 6 * 3600, 3 * 3600),
    ]


def test_pyrra_ratio_latency_and_refused_bool_gauge() -> None:
    result = import_documents("pyrra", read("pyrra.yaml"))
    docs = by_name(result.documents)
    assert set(docs) == {"api-errors", "api-latency"}
    assert fields(result, "error") == {"spec.indicator.bool_gauge"}
    errors = docs["api-errors"]
    assert (
        errors["metadata"]["annotations"][IMPORTED_FROM]
        == "pyrra.dev/v1alpha1 ServiceLevelObjective web/api-errors"
    )
    spec = errors["spec"]
    assert spec["objective"] == 99.5 and spec["window"] == "4w" and spec["groupBy"] == ["route"]
    assert spec["alerting"]["labels"] == {"team": "frontend"}
    slo = resolve(ServiceLevelObjective.model_validate(errors))
    assert [(a.name, a.severity, exact(a.threshold), a.long, a.short, a.for_) for a in slo.alerts] == [
        ("ErrorBudgetBurnFast", "critical", "14", "1h", "5m", "2m"),
        ("ErrorBudgetBurnMedium", "critical", "7", "6h", "30m", "15m"),
        ("ErrorBudgetBurnSlow", "warning", "2", "1d", "2h", "1h"),
        ("ErrorBudgetBurnLongTerm", "warning", "1", "4d", "6h", "3h"),
    ]
    # Pyrra's absent alert: 14 x 0.5% of 1h (252s) + 2m, rounded to minutes.
    assert spec["alerting"]["noData"] == {"for": "6m", "severity": "critical"}

    latency = docs["api-latency"]["spec"]
    assert latency["indicator"] == {
        "latency": {"histogram": 'api_request_duration_seconds{job="api"}', "threshold": "500ms"}
    }
    assert "noData" not in latency["alerting"]
    burn = latency["alerting"]["burnRates"]
    assert burn[0]["name"] == "APILatencyBudgetBurnFast" and burn[0]["severity"] == "page"
    # 2w: windows scale with the SLO window, rounded to minutes as Pyrra does (2.5m -> 3m).
    assert [(b["longWindow"], b["shortWindow"]) for b in burn] == [
        ("30m", "3m"),
        ("3h", "15m"),
        ("12h", "1h"),
        ("2d", "3h"),
    ]


# ---- OpenSLO ---------------------------------------------------------------------------------------


def test_openslo_refs_inline_policies_and_refusals() -> None:
    result = import_documents("openslo", read("openslo.yaml"), namespace="orders")
    docs = by_name(result.documents)
    assert list(docs) == ["orders-availability"]
    errors = fields(result, "error")
    assert errors == {"spec.indicator.thresholdMetric", "spec.timeWindow[0].calendar"}
    doc = docs["orders-availability"]
    spec = doc["spec"]
    assert spec["objective"] == 99.9 and spec["window"] == "28d" and spec["service"] == "orders"
    assert spec["indicator"] == {
        "availability": {"errors": 'orders_total{status="failed"}', "total": "orders_total"}
    }
    alerts = spec["alerting"]["burnRates"]
    assert [(a["name"], a["severity"], a["longWindow"], a["shortWindow"], a.get("for")) for a in alerts] == [
        ("OrdersPage", "critical", "1h", "5m", "2m"),
        ("OrdersTicket", "warning", "1d", "2h", None),
    ]
    slo = resolve(ServiceLevelObjective.model_validate(doc))
    assert [exact(a.threshold) for a in slo.alerts] == ["14", "3"]
    assert spec["alerting"]["noData"] == {"for": "15m", "severity": "warning"}
    assert doc["metadata"]["labels"] == {"team": "orders"}
    warnings = fields(result, "warning")
    assert "spec.alertPolicies[0].conditions[0].spec.condition.lookbackWindow" in warnings
    assert "spec.alertPolicies[1].spec.notificationTargets" in warnings


def _examples() -> list[ServiceLevelObjective]:
    out = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "ServiceLevelObjective":
                obj = ServiceLevelObjective.model_validate(doc)
                out.append(obj)
    return out


@pytest.mark.parametrize("obj", _examples(), ids=lambda o: o.name)
def test_ours_to_openslo_and_back_renders_the_same_rules(obj: ServiceLevelObjective) -> None:
    exported = export(obj)
    assert [d["kind"] for d in exported[:2]] == ["SLO", "SLI"]
    back = import_documents("openslo", [(f"#{i}", d) for i, d in enumerate(exported)])
    assert not result_errors(back), back.findings
    (document,) = back.documents
    again = ServiceLevelObjective.model_validate(document)
    assert again.spec.indicator == obj.spec.indicator
    assert rule_file([resolve(again)]) == rule_file([resolve(obj)])
    # OpenSLO -> ours -> OpenSLO is stable.
    assert export(again) == exported


def result_errors(result: Any) -> list[Any]:
    return [f for f in result.findings if f.level == "error"]


def test_openslo_stable_for_hand_written_documents() -> None:
    result = import_documents("openslo", read("openslo.yaml"))
    (doc,) = result.documents
    first = export(ServiceLevelObjective.model_validate(doc))
    # What OpenSLO expresses comes back as written: objective, window, SLI queries, thresholds.
    slo_out, sli_out = first[0]["spec"], first[1]["spec"]
    assert slo_out["objectives"] == [{"target": 0.999}] and slo_out["timeWindow"][0]["duration"] == "28d"
    assert sli_out["ratioMetric"]["bad"]["metricSource"]["spec"]["query"] == 'orders_total{status="failed"}'
    conditions = [d["spec"]["condition"] for d in first if d["kind"] == "AlertCondition"]
    assert [(c["threshold"], c["lookbackWindow"], c["alertAfter"]) for c in conditions] == [
        (14, "1h", "2m"),
        (3, "1d", "0m"),
    ]
    again = import_documents("openslo", [(f"#{i}", d) for i, d in enumerate(first)])
    assert not result_errors(again)
    assert export(ServiceLevelObjective.model_validate(again.documents[0])) == first


def test_freshness_exports_as_a_threshold_metric_on_the_age() -> None:
    (doc,) = yaml.safe_load_all((EXAMPLES / "freshness.yaml").read_text())
    slo_doc, sli = export(ServiceLevelObjective.model_validate(doc))[:2]
    assert sli["spec"] == {
        "thresholdMetric": {
            "metricSource": {
                "type": "Prometheus",
                "spec": {"query": "time() - max(model_features_last_updated_timestamp_seconds)"},
            }
        }
    }
    assert slo_doc["spec"]["budgetingMethod"] == "Timeslices"
    assert slo_doc["spec"]["objectives"] == [
        {"op": "lte", "value": 3600, "target": 0.99, "timeSliceTarget": 1, "timeSliceWindow": "5m"}
    ]


def test_other_kinds_are_skipped_with_a_warning() -> None:
    result = import_documents("pyrra", read("sloth-cr.yaml") + read("pyrra.yaml")[:1])
    assert len(result.documents) == 1
    assert any(f.field == "kind" and "skipped" in f.message for f in result.findings)


def test_kubectl_list_output_is_read_item_by_item() -> None:
    items = [doc for _, doc in read("pyrra.yaml")]
    listed = {"apiVersion": "v1", "kind": "List", "items": items}
    result = import_documents("pyrra", [("kubectl#0", listed)])
    assert [d["metadata"]["name"] for d in result.documents] == ["api-errors", "api-latency"]
    assert "kubectl#0.items[2]" in {f.source for f in result.errors}


def test_alerts_that_can_never_fire_at_a_low_objective_are_dropped_with_a_warning() -> None:
    doc = yaml.safe_load((INPUTS / "pyrra.yaml").read_text().split("---")[0])
    doc["spec"]["target"] = "90"  # 14x over 1h needs a 140% error ratio; 7x over 6h needs 70%
    result = import_documents("pyrra", [("x", doc)])
    assert not result.errors, result.findings
    (slo,) = result.documents
    names = [a["name"] for a in slo["spec"]["alerting"]["burnRates"]]
    assert names == ["ErrorBudgetBurnMedium", "ErrorBudgetBurnSlow", "ErrorBudgetBurnLongTerm"]
    assert any(f.field == "alert ErrorBudgetBurnFast" and "never" in f.message for f in result.findings)
