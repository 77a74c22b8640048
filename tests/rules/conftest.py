"""Every rule test runs on every promtool of the matrix (``devstack.promstack.promtool_matrix``).

Users run Prometheus 2.x and 3.x, sometimes both in one fleet, with one rule set: the same scenario and
the same expectations must pass on each generation. The test id names the promtool (``[3.16.0]``).
"""

from __future__ import annotations

from collections.abc import Iterator

import harness
import pytest

from devstack import promstack

MATRIX = [promstack.promtool(flavour) for flavour in promstack.promtool_matrix()]


@pytest.fixture(autouse=True, params=MATRIX, ids=[tool.version for tool in MATRIX])
def promtool_under_test(request: pytest.FixtureRequest) -> Iterator[promstack.Promtool]:
    tool: promstack.Promtool = request.param
    harness.ACTIVE_PROMTOOL = tool.path
    try:
        yield tool
    finally:
        harness.ACTIVE_PROMTOOL = None
