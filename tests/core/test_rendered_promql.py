"""What the rendered rules mean, read from their parsed PromQL rather than compared as text.

The golden files pin the exact text of a few SLOs; these tests pin behaviour for any SLO: the labels
every aggregation keeps, the numbers the expressions hold, the windows they cover. They are written
against the parsed expression (``promql_parser``), so they keep holding when the rule set is reorganised
without changing what it computes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import numpy as np
import promql_parser
import pytest
from slo_operator.durations import parse_duration
from slo_operator.model import SLO
from slo_operator.promql import CURRENT_BURN_RATE, ERROR_RATIO, SLI, exact, le_matcher
from slo_operator.rules import RuleOptions, rule_groups, shared_groups, slo_groups
from slo_operator.scenario import parse_scenario, raw_series
from slo_operator.simulate import Timing, evaluate
from support.slo_documents import resolved, slo_document


def document(**spec: Any) -> dict[str, Any]:
    return slo_document("checkout", "shop", **spec)


def slo_of(**spec: Any) -> SLO:
    return resolved(document(**spec))


def rules_of(slo: SLO) -> list[dict[str, Any]]:
    return rules_of_with(slo, RuleOptions())


def rules_of_with(slo: SLO, options: RuleOptions) -> list[dict[str, Any]]:
    return [rule for group in rule_groups(slo, options) for rule in group["rules"]]


def nodes(tree: Any) -> Iterator[Any]:
    """Every node of a parsed PromQL expression, depth first."""
    yield tree
    for attribute in ("lhs", "rhs", "expr", "param", "vector_selector"):
        child = getattr(tree, attribute, None)
        if child is not None and not isinstance(child, str | float | int):
            yield from nodes(child)
    for child in getattr(tree, "args", None) or []:
        yield from nodes(child)


# --- promql: numbers and bucket matchers ---------------------------------------------------------------


@pytest.mark.parametrize("value", ["-0", "-0.000", "-0E+5", "-0E-20", "0.0"])
def test_a_zero_of_any_sign_or_exponent_is_written_0(value: str) -> None:
    assert exact(Decimal(value)) == "0"


@pytest.mark.parametrize(("threshold", "spelling"), [("1e16", "1e+16"), ("0.00001", "1e-05")])
def test_le_matcher_matches_bucket_bounds_written_with_an_exponent(threshold: str, spelling: str) -> None:
    """prometheus_client writes very large and very small bounds in exponent form (``repr``): the ``+``
    of the exponent is a literal in the regex, not a quantifier."""
    value = le_matcher(Decimal(threshold)).value
    assert re.fullmatch(value, spelling)
    assert not any(re.fullmatch(value, other) for other in ("1e16", "1ee16", "1e-5", "1x-05", "1e+05"))


# --- groupBy: one series per group everywhere -------------------------------------------------------------


@pytest.mark.parametrize(
    "indicator",
    [
        {"availability": {"errors": 'req{code=~"5.."}', "total": "req"}},
        {"latency": {"histogram": "req_seconds", "threshold": "200ms"}},
    ],
    ids=["availability", "latency"],
)
def test_every_aggregation_and_match_keeps_all_group_by_labels(indicator: dict[str, Any]) -> None:
    """README: ``groupBy`` gives one SLI, budget and alert per value, and every series carries the
    groupBy labels. The SLO's own rules: every ``sum by`` keeps all of them, and every one-to-one match
    on them names all. The namespace's shared rules (one rule for SLOs of any groupBy): no ``by``, only
    ``without``, and an ``on (slo, namespace)`` only to join an SLO's parameters (``group_left`` or a set
    operation), which keeps every label of the left side."""
    labels = ["model_version", "region"]
    slo = slo_of(groupBy=labels, indicator=indicator)
    by_clauses, on_clauses, shared_on = [], [], []
    own = [rule for group in slo_groups(slo) for rule in group["rules"]]
    common = [rule for group in shared_groups(slo.namespace, [slo]) for rule in group["rules"]]
    for rules, ons in ((own, on_clauses), (common, shared_on)):
        for rule in rules:
            for node in nodes(promql_parser.parse(rule["expr"])):
                if isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None \
                        and str(node.modifier.type).endswith("By"):
                    by_clauses.append((rules is common, list(node.modifier.labels)))
                matching = getattr(getattr(node, "modifier", None), "matching", None)
                # on (...), not ignoring (...)
                if isinstance(node, promql_parser.BinaryExpr) and matching is not None and matching.labels \
                        and str(matching.type).endswith("Include"):
                    card = str(node.modifier.card)
                    ons.append((list(matching.labels), card, str(node.op).strip()))
    assert by_clauses and shared_on
    assert all(not shared and clause == labels for shared, clause in by_clauses), by_clauses
    assert all(clause == labels for clause, _, _ in on_clauses), on_clauses
    for clause, card, op in shared_on:
        assert clause == ["slo", "namespace"]
        assert card.endswith("ManyToOne") or op in ("and", "or", "unless")


# --- rules: edge correction of the fast windows, for any evaluation interval --------------------------------

HOUR = 3600.0


@pytest.mark.parametrize("fast_interval", ["30s", "2m", "5m"])
def test_a_fresh_outage_counts_at_once_in_the_1h_window_at_any_fast_interval(fast_interval: str) -> None:
    """README: windows up to 6h are edge-corrected, so a fresh outage is seen at once, not half a base
    window late. The correction factor depends on the evaluation interval (k = (5m - i) / 2i: 4.5 at
    30s, 0.75 at 2m, none at 5m, where each base sample covers exactly its own interval): the 1h error
    ratio, evaluated from the rendered rules, holds the outage's bad events to within 10 seconds' worth
    at 10, 20 and 30 minutes into a total outage for each of them (uncorrected it misses (5m - i) / 2:
    90 s at 2m, 135 s at 30s)."""
    slo = slo_of()
    assert slo.base_window == 300
    scenario = parse_scenario({"duration": "3h", "scrapeInterval": "15s", "traffic": {"rate": 10},
                               "events": [{"at": "2h", "for": "1h", "errorRatio": 1}]})
    timing = Timing(step=float(parse_duration(fast_interval)), promtool=True,
                    options=RuleOptions(fast_interval=fast_interval))
    outcome = evaluate(slo, raw_series(slo, scenario), scenario.duration, timing)
    times, ratios = outcome.series(ERROR_RATIO, window="1h")
    for minutes in (10, 20, 30):
        (index,) = np.flatnonzero(times == 2 * HOUR + minutes * 60)
        assert ratios[index] * HOUR == pytest.approx(minutes * 60, abs=10), (fast_interval, minutes)


def test_where_each_base_sample_covers_its_own_interval_the_window_sum_is_plain() -> None:
    """At a 5m evaluation interval and a 5m base window nothing overlaps, so there is no edge to correct:
    the windowed sums read no ``offset`` (a zero-weighted correction would still vanish with the newest
    sample). At 2m the correction is there, with its factor 0.75."""
    slo = slo_of()

    def offsets(fast_interval: str) -> list[tuple[str, str]]:
        found = []
        for rule in rules_of_with(slo, RuleOptions(fast_interval=fast_interval)):
            if rule.get("record") == ERROR_RATIO and rule["labels"]["window"] == "1h":
                tree = promql_parser.parse(rule["expr"])
                found += [(rule["labels"]["window"], str(n)) for n in nodes(tree)
                          if isinstance(n, promql_parser.VectorSelector) and n.offset is not None]
        return found

    assert offsets("5m") == []
    corrected = offsets("2m")
    assert corrected and {window for window, _ in corrected} == {"1h"}
    assert " 0.75 * " in next(r["expr"] for r in rules_of_with(slo, RuleOptions(fast_interval="2m"))
                              if r.get("record") == ERROR_RATIO and r["labels"]["window"] == "1h")


# --- rules: the current burn rate is recorded next to its source ------------------------------------------


@pytest.mark.parametrize(("long_window", "group"), [("1h", "fast"), ("6h", "fast"), ("1d", "slow")])
def test_the_current_burn_rate_is_recorded_in_its_source_windows_group_right_after_it(
    long_window: str, group: str
) -> None:
    """The current burn rate is the error ratio of the first alert's long window / the budget; in the same
    group, after it, it is evaluated at the same instant and always equals it (6h: fast group's last)."""
    slo = slo_of(alerting={"burnRates": [
        {"name": "Page", "severity": "critical", "budgetPercent": 5, "longWindow": long_window,
         "shortWindow": "5m"},
    ]})
    assert slo.current_burn_window == parse_duration(long_window)
    placed = {}
    for entry in rule_groups(slo):
        for position, rule in enumerate(entry["rules"]):
            if rule.get("record") == CURRENT_BURN_RATE:
                placed["current"] = (entry["name"], position)
                source = f'slo:error_ratio{{namespace="shop",window="{long_window}"}}'
                assert rule["expr"].startswith(f"{source}\n/ ")
            elif rule.get("record") == ERROR_RATIO and rule["labels"]["window"] == long_window:
                placed["source"] = (entry["name"], position)
    assert placed["current"][0] == placed["source"][0] == f"slo:shop:*:{group}"
    assert placed["current"][1] > placed["source"][1]


@pytest.mark.parametrize("long_window", ["7d", "1d"])
def test_the_sli_is_one_minus_the_error_ratio_of_the_slo_window(long_window: str) -> None:
    """When an alert already records the SLO window's error ratio, the SLI reads that very series (the
    SLO window's, no other); otherwise it computes the ratio inline, reading no recorded ratio."""
    slo = slo_of(window="7d", alerting={"burnRates": [
        {"name": "Page", "severity": "critical", "budgetPercent": 50, "longWindow": long_window,
         "shortWindow": "6h"},
    ]})
    (sli,) = [rule for rule in rules_of(slo) if rule.get("record") == SLI]
    if long_window == "7d":
        source = f'{ERROR_RATIO}{{namespace="shop",window="7d"}}'
        assert sli["expr"].startswith(f"1 - {source}\nand on (slo, namespace) ")
    else:
        names = {n.name for n in nodes(promql_parser.parse(sli["expr"]))
                 if isinstance(n, promql_parser.VectorSelector)}
        assert names and ERROR_RATIO not in names
