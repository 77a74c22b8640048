"""The skips a user would accept, and the pytest plugin that fails every other one.

A skipped test proves nothing, and a skip in a fixture or a module-level ``importorskip`` can hide a
whole suite while ``make test`` stays green. So every skip must be listed in ``ALLOWED`` below, with
the condition under which it is acceptable and the reason a user would accept; any other skip (a new
``pytest.skip``, ``skipif``, ``importorskip``, a skip raised in a fixture or at collection) turns into
a failure naming the test and its skip message. Missing tools and packages are failures, not skips:
``make test`` installs or builds everything it needs, so a missing one is a broken set-up.

Loaded by ``tests/conftest.py``; ``tests/core/test_skips.py`` proves the plugin fails an unexpected
skip and that this list matches the skips written in the suite.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

import pytest


def _always() -> bool:
    return True


@dataclass(frozen=True)
class AllowedSkip:
    """One skip a user accepts: which tests (``fnmatch`` on the node id), its message, when, and why."""

    nodeids: str
    message: str  # regular expression the skip message must match (``re.search``)
    why: str  # the reason a user accepts, shown with the skip summary
    when: Callable[[], bool] = field(default=_always)

    def allows(self, nodeid: str, message: str) -> bool:
        listed = fnmatch.fnmatch(nodeid, self.nodeids) and re.search(self.message, message) is not None
        return listed and self.when()


def _regenerating() -> bool:
    return os.environ.get("UPDATE_GOLDEN", "") not in ("", "0")


def _debian_alertmanager() -> bool:
    return os.environ.get("PROM_STACK", "current") == "debian"


ALLOWED: tuple[AllowedSkip, ...] = (
    AllowedSkip(
        "tests/core/test_golden.py::*",
        r"^regenerating$",
        "UPDATE_GOLDEN=1 rewrites the golden files these tests compare against (make goldens)",
        _regenerating,
    ),
    AllowedSkip(
        "tests/dashboards/test_dashboard_json.py::*",
        r"^regenerating$",
        "UPDATE_GOLDEN=1 rewrites the golden dashboards this test compares against (make goldens)",
        _regenerating,
    ),
    AllowedSkip(
        "tests/routing/test_routing_utf8.py::test_a_classic_only_matcher_is_caught",
        r"^Alertmanager 0\.25 \(PROM_STACK=debian\) has only the classic parser",
        "PROM_STACK=debian: Alertmanager 0.25 has no UTF-8 matcher parser, so there is nothing to catch",
        _debian_alertmanager,
    ),
)


def skip_message(report: pytest.TestReport | pytest.CollectReport) -> str:
    """The message of a skipped report (``Skipped: `` prefix removed); an xfail counts as a skip."""
    if hasattr(report, "wasxfail"):
        return f"xfail {report.wasxfail}".strip()
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return text.removeprefix("Skipped: ")


def allowed(nodeid: str, message: str) -> AllowedSkip | None:
    return next((entry for entry in ALLOWED if entry.allows(nodeid, message)), None)


def _refuse(report: pytest.TestReport | pytest.CollectReport) -> None:
    message = skip_message(report)
    if allowed(report.nodeid, message) is not None:
        return
    report.outcome = "failed"
    if hasattr(report, "wasxfail"):
        del report.wasxfail
    report.longrepr = (
        f"unexpected skip of {report.nodeid or 'the collection'}: {message}\n"
        "A skip hides what the test proves. Install or build what is missing (make test does), make the "
        "test pass, or, if a user would accept this skip, add it with its reason to tests/skips.py ALLOWED."
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.skipped:
        _refuse(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    if report.skipped:
        _refuse(report)
    return report
