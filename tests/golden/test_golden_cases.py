"""Golden cases: an input SLO and every object rendered from it, one directory per case.

``tests/golden/cases/<case>/slo.yaml`` is the input; next to it lie the expected children, one file per
entry of the child table (``children.CHILD_KINDS``): ``prometheusrule.yaml``,
``alertmanagerconfig.yaml`` (absent when no routing is rendered) and ``dashboard.json`` (the board the
ConfigMap carries). The cases are written for coverage, separate from the shipped examples: every
indicator kind under each budgeting method it allows, groupBy, custom burn rates, alerting off and the
no-data alert. ``make goldens`` (part of ``make generate``) rewrites the expected files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from slo_operator.children import (
    ALERTMANAGER_CONFIG,
    CHILD_KINDS,
    DASHBOARD_CONFIGMAP,
    PROMETHEUS_RULE,
)
from slo_operator.indicators import KINDS
from slo_operator.loader import load
from slo_operator.model import SLO, resolve
from slo_operator.render import RenderOptions, shared_prometheus_rule, to_yaml

CASES_DIR = Path(__file__).parent / "cases"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if (p / "slo.yaml").is_file())
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def _dashboard_text(obj: dict[str, Any]) -> str:
    (text,) = obj["data"].values()
    return json.dumps(json.loads(text), indent=2, sort_keys=False) + "\n"


# How each child kind is written down: file name and text. A new child kind needs an entry here.
GOLDEN_FILES: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
    PROMETHEUS_RULE.kind: ("prometheusrule.yaml", lambda obj: to_yaml([obj])),
    ALERTMANAGER_CONFIG.kind: ("alertmanagerconfig.yaml", lambda obj: to_yaml([obj])),
    DASHBOARD_CONFIGMAP.kind: ("dashboard.json", _dashboard_text),
}
# The namespace's shared rules (not a child of the SLO: one object for every SLO of a namespace), as
# rendered for a namespace holding only the case's SLO.
SHARED_FILE = "shared-prometheusrule.yaml"
GOLDEN_FILES_NAMES = [name for name, _ in GOLDEN_FILES.values()] + [SHARED_FILE]


def case_slo(case: str) -> SLO:
    objects, problems = load([str(CASES_DIR / case / "slo.yaml")])
    assert not problems, problems
    (obj,) = objects
    return resolve(obj)


def rendered(case: str) -> dict[str, str]:
    """File name -> expected text, for every child the case's SLO renders."""
    slo = case_slo(case)
    files = {}
    for kind in CHILD_KINDS:
        obj = kind.render(slo, RenderOptions())
        if obj is not None:
            name, text = GOLDEN_FILES[kind.kind]
            files[name] = text(obj)
    shared = shared_prometheus_rule(slo.namespace, [slo], RenderOptions())
    if shared is not None:
        files[SHARED_FILE] = to_yaml([shared])
    return files


@pytest.mark.parametrize("case", CASES)
def test_golden_case(case: str) -> None:
    directory = CASES_DIR / case
    files = rendered(case)
    if UPDATE:
        for stale in set(GOLDEN_FILES_NAMES) - set(files):
            (directory / stale).unlink(missing_ok=True)
        for name, text in files.items():
            (directory / name).write_text(text)
        return
    present = {p.name for p in directory.iterdir()} - {"slo.yaml"}
    assert present == set(files), (
        f"{case}: expected files {sorted(files)}, found {sorted(present)}; run `make goldens`"
    )
    for name, text in files.items():
        assert text == (directory / name).read_text(), (
            f"{case}/{name} differs from what is rendered now; if intended: `make goldens`, then review"
        )


def test_every_child_kind_has_a_golden_file() -> None:
    assert {kind.kind for kind in CHILD_KINDS} == set(GOLDEN_FILES)


def test_every_indicator_kind_and_budgeting_method_has_a_case() -> None:
    """Driven by the indicator registry: a new kind fails here until its golden cases exist."""
    covered = {(slo.kind, slo.method) for slo in map(case_slo, CASES)}
    wanted = {(kind.name, method) for kind in KINDS for method in kind.methods}
    assert not wanted - covered, f"add golden cases for {sorted(wanted - covered)} under {CASES_DIR}"


FEATURES: dict[str, Callable[[SLO], bool]] = {
    "groupBy": lambda slo: bool(slo.group_by),
    "custom burn rates": lambda slo: any(a.name not in ("SLOFastBurn", "SLOSlowBurn") for a in slo.alerts),
    "a for: hold time": lambda slo: any(a.for_ for a in slo.alerts),
    "alerting off": lambda slo: not slo.alerting_enabled,
    "no-data alert": lambda slo: slo.no_data_for is not None,
    "alert routing": lambda slo: slo.routing is not None and slo.alerting_enabled,
}


@pytest.mark.parametrize("feature", sorted(FEATURES))
def test_every_feature_has_a_case(feature: str) -> None:
    assert any(FEATURES[feature](case_slo(case)) for case in CASES), f"no golden case exercises {feature}"


def test_cases_are_not_copies_of_the_examples() -> None:
    names = {case_slo(case).name for case in CASES}
    assert names == set(CASES), "a case's metadata.name is its directory name"
    assert not names & {"model-availability", "model-latency", "model-accuracy", "feature-freshness"}
