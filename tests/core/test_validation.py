"""Validation of SLO documents: a table of invalid ones (field path + hint), valid ones, and injection.

Every invalid document goes through ``loader.parse_object`` — what the CLI and the operator use — and
must produce a Problem naming the field to fix and saying what is wrong.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from slo_operator.loader import Problem, parse_object
from slo_operator.model import resolve
from slo_operator.render import prometheus_rule, to_yaml
from slo_operator.selectors import escape_label_value

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "manifests" / "examples").glob("*.yaml"))

BASE: dict[str, Any] = {
    "apiVersion": "slo.mlops.dev/v1alpha1",
    "kind": "ServiceLevelObjective",
    "metadata": {"name": "api-availability", "namespace": "team-a"},
    "spec": {
        "service": "api",
        "objective": 99.9,
        "window": "30d",
        "indicator": {
            "availability": {"errors": 'http_requests_total{code=~"5.."}', "total": "http_requests_total"}
        },
    },
}


def doc(**spec: Any) -> dict[str, Any]:
    """BASE with spec keys replaced (a value of None removes the key)."""
    document = copy.deepcopy(BASE)
    for key, value in spec.items():
        if value is None:
            document["spec"].pop(key, None)
        else:
            document["spec"][key] = value
    return document


def top(**fields: Any) -> dict[str, Any]:
    document = copy.deepcopy(BASE)
    document.update(fields)
    return document


def errors_selector(selector: str) -> dict[str, Any]:
    return doc(indicator={"availability": {"errors": selector, "total": "http_requests_total"}})


def latency(histogram: str = "http_request_duration_seconds", threshold: str = "200ms") -> dict[str, Any]:
    return doc(indicator={"latency": {"histogram": histogram, "threshold": threshold}})


def burn(**overrides: Any) -> dict[str, Any]:
    alert = {
        "name": "Fast",
        "severity": "critical",
        "budgetPercent": 2,
        "longWindow": "1h",
        "shortWindow": "5m",
    }
    alert.update(overrides)
    return alert


def parsed(document: Any) -> list[Problem]:
    obj, problems = parse_object(document, "test")
    assert (obj is None) == bool(problems)
    return problems


SELECTOR = "spec.indicator.availability.errors"

INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    # objective
    ("objective-0", doc(objective=0), "spec.objective", "greater than 0"),
    ("objective-100", doc(objective=100), "spec.objective", "less than 100"),
    ("objective-negative", doc(objective=-1), "spec.objective", "greater than 0"),
    ("objective-150", doc(objective=150), "spec.objective", "less than 100"),
    ("objective-abc", doc(objective="abc"), "spec.objective", "valid number"),
    ("objective-missing", doc(objective=None), "spec.objective", "required"),
    # window
    (
        "window-30x",
        doc(window="30x"),
        "spec.window",
        "must be one number and one unit of s, m, h, d or w, e.g. 5m, 1h, 30d (got '30x')",
    ),
    ("window-0d", doc(window="0d"), "spec.window", "one number and one unit of s, m, h, d or w"),
    ("window-with-space", doc(window="30 d"), "spec.window", "(got '30 d')"),
    ("window-two-units", doc(window="1d12h"), "spec.window", "one number and one unit of s, m, h, d or w"),
    ("window-45m-too-short", doc(window="45m"), "spec.window", "shorter than 1h"),
    # indicator
    (
        "two-indicators",
        doc(
            indicator={
                "availability": {"errors": "e", "total": "t"},
                "accuracy": {"correct": "c", "total": "t"},
            }
        ),
        "spec.indicator",
        "exactly one indicator",
    ),
    ("no-indicator", doc(indicator={}), "spec.indicator", "exactly one indicator"),
    ("indicator-missing", doc(indicator=None), "spec.indicator", "required"),
    (
        "ratio-good-and-bad",
        doc(indicator={"ratio": {"good": "g", "bad": "b", "total": "t"}}),
        "spec.indicator.ratio",
        "exactly one of good or bad",
    ),
    (
        "ratio-neither",
        doc(indicator={"ratio": {"total": "t"}}),
        "spec.indicator.ratio",
        "exactly one of good or bad",
    ),
    (
        "ratio-no-total",
        doc(indicator={"ratio": {"good": "g"}}),
        "spec.indicator.ratio.total",
        "required",
    ),
    # burn-rate windows
    (
        "short-equals-long",
        doc(alerting={"burnRates": [burn(shortWindow="1h")]}),
        "spec.alerting.burnRates[0]",
        "shortWindow (1h) must be shorter than longWindow (1h)",
    ),
    (
        "short-longer-than-long",
        doc(alerting={"burnRates": [burn(), burn(name="Slow", longWindow="1h", shortWindow="2h")]}),
        "spec.alerting.burnRates[1]",
        "must be shorter than longWindow",
    ),
    (
        "long-window-over-slo-window",
        doc(window="7d", alerting={"burnRates": [burn(longWindow="8d", shortWindow="1h")]}),
        "spec.alerting.burnRates[0].longWindow",
        "at most the SLO window",
    ),
    (
        "burn-budget-percent-0",
        doc(alerting={"burnRates": [burn(budgetPercent=0)]}),
        "spec.alerting.burnRates[0].budgetPercent",
        "greater than 0",
    ),
    (
        "burn-alert-name",
        doc(alerting={"burnRates": [burn(name="fast-burn")]}),
        "spec.alerting.burnRates[0].name",
        "letters, digits and '_', not starting with a digit",
    ),
    (
        "burn-alert-severity",
        doc(alerting={"burnRates": [burn(severity="Critical")]}),
        "spec.alerting.burnRates[0].severity",
        "must be lower-case letters, digits, '-' or '_', e.g. critical or warning (got 'Critical')",
    ),
    (
        "burn-threshold-unreachable",
        # 100% of an 85% SLO's 24h budget within 1h is a burn rate of 24: an error ratio of 360%.
        doc(
            objective=85,
            window="24h",
            alerting={"burnRates": [burn(budgetPercent=100, longWindow="1h", shortWindow="5m")]},
        ),
        "spec.alerting.burnRates[0].budgetPercent",
        "can never happen",
    ),
    # selectors that are not plain vector selectors
    ("promql-rate", errors_selector("rate(x[5m])"), SELECTOR, "plain vector selector"),
    ("promql-sum", errors_selector("sum(x)"), SELECTOR, "plain vector selector"),
    ("promql-range", errors_selector("x[5m]"), SELECTOR, "plain vector selector"),
    ("promql-offset", errors_selector("x offset 5m"), SELECTOR, "offset"),
    ("promql-at", errors_selector("x @ 100"), SELECTOR, "'@'"),
    ("promql-arithmetic", errors_selector("x / 2"), SELECTOR, "plain vector selector"),
    ("promql-parens", errors_selector("(x)"), SELECTOR, "plain vector selector"),
    ("promql-empty", errors_selector(""), SELECTOR, "at least 1 character"),
    ("promql-blank", errors_selector("   "), SELECTOR, "vector selector"),
    # injection attempts
    ("inject-close-brace", errors_selector("x} or vector(1)"), SELECTOR, "not valid PromQL"),
    ("inject-or", errors_selector('x{a="1"} or vector(1)'), SELECTOR, "plain vector selector"),
    ("inject-parens", errors_selector('x{a="1"}) or vector(1) or (y'), SELECTOR, "not valid PromQL"),
    ("inject-newline", errors_selector('x{a="1"}\nvector(1)'), SELECTOR, "not valid PromQL"),
    ("inject-newline-or", errors_selector('x{a="1"}\nor vector(1)'), SELECTOR, "plain vector selector"),
    ("no-metric-name", errors_selector('{a="1"}'), SELECTOR, "must name a metric"),
    ("invalid-regex", errors_selector('x{a=~"(("}'), SELECTOR, "illegal regex"),
    ("name-twice", errors_selector('x{__name__="y"}'), SELECTOR, "metric name"),
    ("or-in-braces", errors_selector('x{a="1" or b="2"}'), SELECTOR, "'or'"),
    (
        "inject-total",
        doc(indicator={"availability": {"errors": "e", "total": "t or vector(1)"}}),
        "spec.indicator.availability.total",
        "plain vector selector",
    ),
    # latency
    (
        "histogram-bucket-suffix",
        latency("http_request_duration_seconds_bucket"),
        "spec.indicator.latency.histogram",
        "without its _bucket suffix",
    ),
    (
        "histogram-count-suffix",
        latency("http_request_duration_seconds_count"),
        "spec.indicator.latency.histogram",
        "without its _count suffix",
    ),
    (
        "histogram-le-matcher",
        latency('http_request_duration_seconds{le="0.2"}'),
        "spec.indicator.latency.histogram",
        "must not match on 'le'",
    ),
    (
        "threshold-fast",
        latency(threshold="fast"),
        "spec.indicator.latency.threshold",
        "must be a Prometheus duration such as 200ms, 5m or 1h (got 'fast')",
    ),
    (
        "threshold-units-order",
        latency(threshold="200ms1s"),
        "spec.indicator.latency.threshold",
        "largest to smallest",
    ),
    # unknown fields
    ("unknown-spec-field", doc(objectve=99.9), "spec.objectve", "unknown field"),
    (
        "unknown-indicator-kind",
        doc(indicator={"availabilty": {"errors": "e", "total": "t"}}),
        "spec.indicator.availabilty",
        "unknown field",
    ),
    (
        "unknown-indicator-field",
        doc(indicator={"availability": {"errors": "e", "total": "t", "totl": "t"}}),
        "spec.indicator.availability.totl",
        "unknown field",
    ),
    ("unknown-top-level", top(extra={}), "extra", "unknown field"),
    # alert labels and names
    (
        "label-reserved-severity",
        doc(alerting={"labels": {"severity": "page"}}),
        "spec.alerting.labels",
        "severity",
    ),
    (
        "label-reserved-namespace",
        doc(alerting={"labels": {"namespace": "x"}}),
        "spec.alerting.labels",
        "set by",
    ),
    ("label-invalid-name", doc(alerting={"labels": {"a-b": "x"}}), "spec.alerting.labels", "not a valid"),
    (
        "duplicate-alert-names",
        doc(alerting={"burnRates": [burn(), burn(longWindow="6h", shortWindow="30m")]}),
        "spec.alerting.burnRates",
        "must be unique (repeated: Fast)",
    ),
    # groupBy
    ("group-by-slo", doc(groupBy=["slo"]), "spec.groupBy", "cannot group by 'slo'"),
    ("group-by-duplicate", doc(groupBy=["pod", "pod"]), "spec.groupBy", "unique"),
    ("group-by-invalid", doc(groupBy=["a-b"]), "spec.groupBy[0]", "must be a Prometheus label name"),
    # budgeting method
    (
        "freshness-occurrences",
        doc(budgetingMethod="Occurrences", indicator={"freshness": {"timestamp": "ts", "maxAge": "1h"}}),
        "spec.budgetingMethod",
        "freshness is measured in timeslices",
    ),
    ("timeslices-without-goal", doc(budgetingMethod="Timeslices"), "spec.timeslices", "timeslices.goal"),
    (
        "slice-longer-than-window",
        doc(window="1h", budgetingMethod="Timeslices", timeslices={"goal": 95, "sliceSize": "2h"}),
        "spec.timeslices.sliceSize",
        "shorter than the SLO window",
    ),
    (
        "slice-equal-to-window",
        doc(window="1h", budgetingMethod="Timeslices", timeslices={"goal": 95, "sliceSize": "1h"}),
        "spec.timeslices.sliceSize",
        "shorter than the SLO window",
    ),
    (
        "slice-under-a-minute",
        doc(budgetingMethod="Timeslices", timeslices={"goal": 95, "sliceSize": "30s"}),
        "spec.timeslices.sliceSize",
        "1m",
    ),
    ("budgeting-method-typo", doc(budgetingMethod="Timeslice"), "spec.budgetingMethod", "Occurrences"),
    # object
    ("wrong-api-version", top(apiVersion="slo.mlops.dev/v1"), "apiVersion", "slo.mlops.dev/v1alpha1"),
    ("wrong-kind", top(kind="SLO"), "kind", "ServiceLevelObjective"),
    (
        "service-with-spaces",
        doc(service="my service"),
        "spec.service",
        "starting and ending with a letter or digit (got 'my service')",
    ),
    ("metadata-name-uppercase", top(metadata={"name": "Bad_Name"}), "metadata.name", "pattern"),
    ("spec-missing", top(spec=None), "spec", "valid dictionary"),
]


@pytest.mark.parametrize(("document", "field", "hint"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_documents_name_the_field(document: dict[str, Any], field: str, hint: str) -> None:
    problems = parsed(document)
    assert problems, "document was accepted"
    by_field = {p.field: p.message for p in problems}
    assert field in by_field, f"no problem at {field}; got {by_field}"
    assert hint in by_field[field], f"{field}: {by_field[field]!r} lacks {hint!r}"
    for problem in problems:
        assert problem.source == "test"
        assert str(problem).startswith(f"test: {problem.field}: ")
        assert not problem.message.startswith("Value error")


def test_table_ids_are_unique() -> None:
    ids = [c[0] for c in INVALID]
    assert len(ids) == len(set(ids))


def test_a_document_that_is_not_a_mapping() -> None:
    documents: list[Any] = [None, [], "text", 3]
    for document in documents:
        problems = parsed(document)
        assert [p.field for p in problems] == ["(document)"]


def test_every_problem_is_reported_at_once() -> None:
    problems = parsed(doc(objective=150, window="30x", service="my service"))
    assert {p.field for p in problems} >= {"spec.objective", "spec.window", "spec.service"}


# ---- valid documents ------------------------------------------------------------------------------------

VALID: list[tuple[str, dict[str, Any]]] = [
    *((path.stem, yaml.safe_load(path.read_text())) for path in EXAMPLES),
    (
        "timeslices-availability",
        doc(budgetingMethod="Timeslices", timeslices={"goal": 95, "sliceSize": "1m"}),
    ),
    (
        "ratio-good-group-by",
        doc(
            indicator={"ratio": {"good": 'jobs_total{result="ok"}', "total": "jobs_total"}},
            groupBy=["model_version", "pod"],
        ),
    ),
    ("ratio-bad", doc(indicator={"ratio": {"bad": 'jobs_total{result="failed"}', "total": "jobs_total"}})),
    (
        "freshness-timeslices",
        doc(budgetingMethod="Timeslices", indicator={"freshness": {"timestamp": "ts", "maxAge": "15m"}}),
    ),
    ("window-1h", doc(window="1h")),
    (
        "custom-burn-rates",
        doc(
            window="7d",
            alerting={"burnRates": [burn(), burn(name="Slow", longWindow="7d", shortWindow="6h")]},
        ),
    ),
    (
        "no-alerting",
        doc(alerting={"enabled": False, "labels": {"team": "x"}, "annotations": {"runbook_url": "u"}}),
    ),
    ("escaped-values", errors_selector('x{path="a\\"b\\\\c",code=~"5\\\\d\\\\d"}')),
    # Valid RE2 that Python's re rejects (\z): the PromQL parser, not re, decides.
    ("re2-regex", errors_selector('x{a=~"\\\\z"}')),
    (
        "slice-just-under-window",
        doc(window="1h", budgetingMethod="Timeslices", timeslices={"goal": 95, "sliceSize": "59m"}),
    ),
    (
        "burn-threshold-reachable-on-low-objective",
        # 10% of an 85% SLO's 24h budget within 1h: burn rate 2.4, an error ratio of 36%.
        doc(
            objective=85,
            window="24h",
            alerting={"burnRates": [burn(budgetPercent=10, longWindow="1h", shortWindow="5m")]},
        ),
    ),
]


def test_four_examples_are_in_the_table() -> None:
    assert len(EXAMPLES) == 4
    assert {path.stem for path in EXAMPLES} == {"accuracy", "availability", "freshness", "latency"}


@pytest.mark.parametrize("document", [v[1] for v in VALID], ids=[v[0] for v in VALID])
def test_valid_documents(document: dict[str, Any]) -> None:
    obj, problems = parse_object(document, "test")
    assert problems == []
    assert obj is not None
    # A valid object also resolves and renders, and every rendered expression is valid PromQL.
    rule = prometheus_rule(resolve(obj))
    for group in rule["spec"]["groups"]:
        for item in group["rules"]:
            promql_parser.parse(item["expr"])


# ---- injection can never reach a rendered rule ----------------------------------------------------------

HOSTILE = 'a"} or vector(1) # \\ b\\"} or vector(1) #\n) or on() vector(1'
SCRUBBED_LITERAL = escape_label_value(HOSTILE)


def nodes(expr: str) -> list[Any]:
    found: list[Any] = []
    promql_parser.walk(promql_parser.parse(expr), lambda node: found.append(node))
    return found


@pytest.mark.parametrize("kind", ["availability", "ratio-good", "latency", "freshness", "timeslices"])
def test_hostile_label_values_round_trip_and_inject_nothing(kind: str) -> None:
    selector = f'req_total{{path={SCRUBBED_LITERAL},job="api"}}'
    indicators = {
        "availability": {"availability": {"errors": selector, "total": selector}},
        "ratio-good": {"ratio": {"good": selector, "total": selector}},
        "latency": {
            "latency": {"histogram": selector.replace("req_total", "req_seconds"), "threshold": "1s"}
        },
        "freshness": {"freshness": {"timestamp": selector, "maxAge": "1h"}},
        "timeslices": {"availability": {"errors": selector, "total": selector}},
    }
    extra = {"budgetingMethod": "Timeslices", "timeslices": {"goal": 90}} if kind == "timeslices" else {}
    obj, problems = parse_object(doc(indicator=indicators[kind], groupBy=["pod"], **extra), "test")
    assert problems == [] and obj is not None
    slo = resolve(obj)
    rule = prometheus_rule(slo)

    expressions = [
        (item.get("record") or item["alert"], item["expr"])
        for g in rule["spec"]["groups"]
        for item in g["rules"]
    ]
    user_selectors = 0
    vector_calls: list[tuple[str, float | str]] = []
    for name, expr in expressions:
        for node in nodes(expr):
            if isinstance(node, promql_parser.VectorSelector) and node.name and node.name.startswith("req_"):
                user_selectors += 1
                values = {m.name: m.value for m in node.matchers.matchers}
                assert values["path"] == HOSTILE, expr
                assert values["job"] == "api"
            if isinstance(node, promql_parser.Call) and node.func.name == "vector":
                (arg,) = node.args
                if isinstance(arg, promql_parser.Call):  # the recording start: now, on its first run
                    assert arg.func.name == "time" and not list(arg.args)
                    vector_calls.append((name, "time()"))
                    continue
                assert isinstance(arg, promql_parser.NumberLiteral)
                vector_calls.append((name, arg.val))
    assert user_selectors > 0
    # The only vector() calls are slo-operator's own constants.
    assert sorted(vector_calls, key=str) == sorted(
        [("slo:objective:ratio", float(slo.objective)), ("slo:recording_since:timestamp", "time()")],
        key=str,
    )
    # And the YAML as applied holds the same: the hostile text only ever appears escaped.
    text = to_yaml([rule])
    reloaded = yaml.safe_load(text)
    assert reloaded == rule
    for _, expr in expressions:
        if "req_" in expr:
            assert SCRUBBED_LITERAL in expr
            # Outside the escaped string literal, none of the hostile text is left.
            rest = expr.replace(SCRUBBED_LITERAL, '""')
            assert "vector(" not in rest and "#" not in rest and "on()" not in rest, rest


# ---- exact messages at each check's boundary ------------------------------------------------------

_FRESHNESS = {"freshness": {"timestamp": "features_last_update_seconds", "maxAge": "10m"}}
_COST = {"cost": {"dollars": "cost_dollars_total", "units": "predictions_total", "maxCostPerUnit": "0.1"}}


def _burn(name: str = "A", long: str = "1h", short: str = "5m", percent: float = 2) -> dict[str, Any]:
    return {"name": name, "severity": "critical", "budgetPercent": percent, "longWindow": long,
            "shortWindow": short}


def _slices(size: str, window: str) -> dict[str, Any]:
    return doc(window=window, budgetingMethod="Timeslices", timeslices={"sliceSize": size, "goal": 95},
               alerting={"burnRates": []})


_UNREACHABLE = ("alerting.burnRates[0]: spending {}% of the budget within 1d needs an error ratio of 100%, "
                "which can never happen; lower budgetPercent or lengthen longWindow")
_ONE_OF = "set exactly one indicator: availability, latency, accuracy, freshness, ratio or cost"
EXACT: list[tuple[str, dict[str, Any], list[tuple[str, str]]]] = [
    ("two-indicators", doc(indicator={**BASE["spec"]["indicator"], **_FRESHNESS}), [
        ("spec.indicator", _ONE_OF + " (got availability, freshness)")]),
    ("no-indicator", doc(indicator={}), [("spec.indicator", _ONE_OF)]),
    ("slice-59s", _slices("59s", "30d"), [
        ("spec.timeslices.sliceSize",
         "'59s': a slice shorter than 1m cannot hold several scrapes; use 1m or more")]),
    ("slice-1m", _slices("1m", "30d"), []),
    ("short-window-not-shorter", doc(alerting={"burnRates": [_burn(long="1h", short="1h")]}), [
        ("spec.alerting.burnRates[0]", "shortWindow (1h) must be shorter than longWindow (1h)")]),
    ("label-name", doc(alerting={"labels": {"a-b": "x"}}), [
        ("spec.alerting.labels", "label name 'a-b' is not a valid Prometheus label name")]),
    ("label-reserved", doc(alerting={"labels": {"slo": "x"}}), [
        ("spec.alerting.labels", "label 'slo' is set by slo-operator; choose another name")]),
    ("alert-names-repeated", doc(alerting={"burnRates": [_burn("B"), _burn("A"), _burn("B", long="2h"),
                                                         _burn("A", long="3h"), _burn("C")]}), [
        ("spec.alerting.burnRates", "alert names must be unique (repeated: A, B)")]),
    ("window-59m", doc(window="59m"), [
        ("spec.window", "'59m': an SLO window shorter than 1h cannot hold a meaningful budget")]),
    ("window-1h", doc(window="1h", alerting={"burnRates": []}), []),
    ("group-by-reserved", doc(groupBy=["slo"]), [
        ("spec.groupBy", "cannot group by 'slo': slo-operator sets that label itself")]),
    ("group-by-repeated", doc(groupBy=["model", "model"]), [("spec.groupBy", "labels must be unique")]),
    ("long-window-over-window", doc(window="1d", alerting={"burnRates": [_burn(long="25h", short="1h")]}), [
        ("spec.alerting.burnRates[0].longWindow",
         "alerting.burnRates[0].longWindow (25h) must be at most the SLO window (1d)")]),
    ("long-window-is-window",
     doc(window="1d", alerting={"burnRates": [_burn(long="1d", short="1h", percent=50)]}), []),
    # 90% over 30d: 33.4% within 1d is a burn rate of 10.02, an error ratio of 100.2%; 33.3% is 99.9%.
    ("unreachable-burn", doc(objective=90, alerting={"burnRates": [_burn(long="1d", percent=33.4)]}), [
        ("spec.alerting.burnRates[0].budgetPercent", _UNREACHABLE.format(33.4))]),
    ("reachable-burn", doc(objective=90, alerting={"burnRates": [_burn(long="1d", percent=33.3)]}), []),
    # Exactly an error ratio of 100% (90% over 10d, all of it within 1d): reachable only by a total outage
    # that never ends, refused too.
    ("burn-needs-every-event-bad", doc(objective=90, window="10d",
                                       alerting={"burnRates": [_burn(long="1d", percent=100)]}), [
        ("spec.alerting.burnRates[0].budgetPercent", _UNREACHABLE.format(100.0))]),
    ("method-of-kind", doc(indicator=_FRESHNESS, budgetingMethod="Occurrences"), [
        ("spec.budgetingMethod",
         "budgetingMethod: freshness is measured in timeslices; leave it unset or set Timeslices")]),
    ("timeslices-without-goal", doc(budgetingMethod="Timeslices", timeslices={"sliceSize": "5m"}), [
        ("spec.timeslices", "timeslices: budgetingMethod Timeslices needs timeslices.goal")]),
    ("timeslices-without-settings", doc(budgetingMethod="Timeslices"), [
        ("spec.timeslices", "timeslices: budgetingMethod Timeslices needs timeslices.goal")]),
    ("cost-goal", doc(indicator=_COST, timeslices={"sliceSize": "5m", "goal": 95}), [
        ("spec.timeslices.goal", "timeslices.goal does not apply to cost: a slice is good when cost per unit "
         "is at most maxCostPerUnit; remove goal and keep sliceSize")]),
    ("cost-group-by", doc(indicator=_COST, groupBy=["pod"]), [
        ("spec.groupBy", "groupBy is not supported with a cost indicator: the spend and its budget are one "
         "per SLO; remove groupBy")]),
    ("slice-is-window", _slices("1h", "1h"), [
        ("spec.timeslices.sliceSize", "timeslices.sliceSize must be shorter than the SLO window")]),
    ("slice-under-window", _slices("1h", "2h"), []),
]


@pytest.mark.parametrize(("document", "problems"), [c[1:] for c in EXACT], ids=[c[0] for c in EXACT])
def test_each_check_says_exactly_what_to_fix_on_its_side_of_the_boundary(
    document: dict[str, Any], problems: list[tuple[str, str]]
) -> None:
    assert [(p.field, p.message) for p in parsed(document)] == problems
