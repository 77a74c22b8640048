"""Golden files: the exact rules rendered for the example SLOs.

A change to the rendered rules shows up here as a diff to review. When the change is intended, rewrite
the files with ``UPDATE_GOLDEN=1 .venv/bin/pytest tests/core/test_golden.py`` and commit them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from slo_operator.loader import load
from slo_operator.model import SLO, resolve
from slo_operator.render import prometheus_rule, rule_file, to_yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "manifests" / "examples"
GOLDEN = REPO / "tests" / "golden"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

# Binary-float artefacts: 0.0144000000000001, 0.9990000000000001, 2.8799999999999999, 1e-05.
FLOAT_ARTEFACT = re.compile(r"\d\.\d*0{6,}\d|\d\.?\d*9{6,}")
EXPONENT = re.compile(r"(?<![A-Za-z_:])\d+(\.\d+)?[eE][+-]?\d")


def slo_of(path: Path) -> SLO:
    objects, problems = load([str(path)])
    assert not problems, problems
    (obj,) = objects
    return resolve(obj)


def compare(golden: Path, text: str) -> None:
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
        return
    if not golden.exists():
        pytest.fail(f"{golden.relative_to(REPO)} is missing: run UPDATE_GOLDEN=1 pytest {__file__}")
    expected = golden.read_text()
    assert text == expected, (
        f"rendered rules differ from {golden.relative_to(REPO)}; if intended, regenerate with UPDATE_GOLDEN=1"
    )


def all_rules(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [rule for group in groups for rule in group["rules"]]


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.stem for p in EXAMPLE_FILES])
def test_prometheus_rule_golden(path: Path) -> None:
    text = to_yaml([prometheus_rule(slo_of(path))])
    compare(GOLDEN / f"{path.stem}.prometheusrule.yaml", text)


def test_rule_file_golden() -> None:
    objects, problems = load([str(EXAMPLES)])
    assert not problems and len(objects) == 4
    text = to_yaml([rule_file([resolve(obj) for obj in objects])])
    compare(GOLDEN / "examples.rules.yaml", text)


def test_golden_files_match_examples() -> None:
    if UPDATE:
        pytest.skip("regenerating")
    expected = {f"{p.stem}.prometheusrule.yaml" for p in EXAMPLE_FILES} | {"examples.rules.yaml"}
    assert {p.name for p in GOLDEN.glob("*.yaml")} == expected, "stale or missing golden files"


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.stem for p in EXAMPLE_FILES])
def test_rendered_numbers_have_no_float_artefacts(path: Path) -> None:
    slo = slo_of(path)
    rule = prometheus_rule(slo)
    rules = all_rules(rule["spec"]["groups"])
    assert rules
    for item in rules:
        expr = item["expr"]
        promql_parser.parse(expr)
        assert not FLOAT_ARTEFACT.search(expr), expr
        assert not EXPONENT.search(expr), expr
        for text in (*item.get("labels", {}).values(), *item.get("annotations", {}).values()):
            assert not FLOAT_ARTEFACT.search(text), text
    thresholds = [item["expr"] for item in rules if "alert" in item and item["alert"] != "SLONoData"]
    assert len(thresholds) == len(slo.alerts)
    for alert, expr in zip(slo.alerts, thresholds, strict=True):
        numbers = re.findall(r"> (\S+)", expr)
        assert numbers and set(numbers) == {numbers[0]}
        assert not FLOAT_ARTEFACT.search(numbers[0])
        assert float(numbers[0]) == float(alert.threshold)


def test_artefact_pattern_catches_artefacts() -> None:
    # The check above would be useless if its pattern missed what float arithmetic really produces.
    for bad in (str(1 - 0.999), str(99.9 / 100), str(0.1 + 0.2), str(1.1 * 3), "2.8799999999999999"):
        assert FLOAT_ARTEFACT.search(bad), bad
    for good in ("14.4", "0.999", "0.001", "2592000", "0.05", "3", "99.9"):
        assert not FLOAT_ARTEFACT.search(good), good
    assert EXPONENT.search("x / 1e-05") and not EXPONENT.search('slo:burn_rate{window="1d"} / 0.001')


def test_golden_files_are_valid_yaml_and_promql() -> None:
    if UPDATE:
        pytest.skip("regenerating")
    for golden in sorted(GOLDEN.glob("*.yaml")):
        for doc in yaml.safe_load_all(golden.read_text()):
            groups = doc["spec"]["groups"] if "spec" in doc else doc["groups"]
            for item in all_rules(groups):
                promql_parser.parse(item["expr"])
