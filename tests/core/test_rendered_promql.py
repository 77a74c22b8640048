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

import promql_parser
import pytest
from slo_operator.api import ServiceLevelObjective
from slo_operator.model import SLO, resolve
from slo_operator.promql import exact, le_matcher
from slo_operator.rules import rule_groups


def document(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "service": "svc",
        "objective": 99.9,
        "window": "30d",
        "indicator": {"availability": {"errors": 'req{code=~"5.."}', "total": "req"}},
    }
    base.update(spec)
    return {
        "apiVersion": "slo.mlops.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": "checkout", "namespace": "shop"},
        "spec": base,
    }


def slo_of(**spec: Any) -> SLO:
    return resolve(ServiceLevelObjective.model_validate(document(**spec)))


def rules_of(slo: SLO) -> list[dict[str, Any]]:
    return [rule for group in rule_groups(slo) for rule in group["rules"]]


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
    groupBy labels: every ``sum by`` keeps all of them, and every one-to-one match on them names all."""
    labels = ["model_version", "region"]
    slo = slo_of(groupBy=labels, indicator=indicator)
    by_clauses, on_clauses = [], []
    for rule in rules_of(slo):
        for node in nodes(promql_parser.parse(rule["expr"])):
            if isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
                by_clauses.append(list(node.modifier.labels))
            matching = getattr(getattr(node, "modifier", None), "matching", None)
            # on (...), not ignoring (...)
            if isinstance(node, promql_parser.BinaryExpr) and matching is not None and matching.labels \
                    and str(matching.type).endswith("Include"):
                on_clauses.append(list(matching.labels))
    assert by_clauses and on_clauses
    assert all(clause == labels for clause in by_clauses), by_clauses
    assert all(clause == labels for clause in on_clauses), on_clauses
