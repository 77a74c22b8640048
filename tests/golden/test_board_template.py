"""A board from the template of its shape (``dashboards.board_text``) is byte for byte the board built
whole, for every golden case, under other plain names, and with names that must be built whole."""

from __future__ import annotations

from dataclasses import replace

import pytest
from slo_operator import dashboards
from slo_operator.dashboards import _built, _slo_board, board_text, to_compact_json
from slo_operator.model import SLO
from test_golden_cases import CASES, case_slo


def whole(slo: SLO) -> str:
    return to_compact_json(_built(_slo_board(slo, "30s")))


IDENTITIES = [
    ("payments", "checkout-00042", "checkout-00042"),
    ("a", "b", "Checkout_API.v2"),
    ("team-with-a-long-namespace-name", "slo", "x"),  # uid at its limit of 40
    ("ns", "dotted.name", "svc"),  # a dot: hashed uid, built whole
    ("ns", "x" * 60, "svc"),  # too long for a readable uid: built whole
    ("ns", "name", 'quoted "service"'),  # escaped in JSON: built whole
    ("ns", "qqslonameqq", "qqSLONAMEqq"),  # the stand-in itself as a value
]


@pytest.mark.parametrize("case", CASES)
def test_every_golden_board_is_the_same_from_its_template(case: str) -> None:
    slo = case_slo(case)
    assert board_text(slo) == whole(slo)
    for namespace, name, service in IDENTITIES:
        other = replace(slo, namespace=namespace, name=name, service=service)
        assert board_text(other) == whole(other), (namespace, name, service)


def test_slos_of_one_shape_share_one_template() -> None:
    dashboards._TEMPLATES.clear()
    slo = case_slo(CASES[0])
    for i in range(5):
        board_text(replace(slo, name=f"endpoint-{i}", service=f"svc-{i}"))
    assert len(dashboards._TEMPLATES) == 1
    board_text(replace(slo, objective=slo.objective / 2))
    assert len(dashboards._TEMPLATES) == 2
