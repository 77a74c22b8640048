"""Run ``promtool test rules`` on rules rendered by slo-operator, with scenarios built in Python.

A scenario is the promtool unit-test document (input series, alert and expression expectations); the
harness writes the SLO's rendered rule file next to it and runs the real promtool, so a failing
expectation fails the pytest test with promtool's own explanation.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml
from slo_operator.api import ServiceLevelObjective
from slo_operator.evaluator import Semantics
from slo_operator.model import SLO, resolve
from slo_operator.promtool_compat import check_promtool_case, simulated_expectations
from slo_operator.render import rule_file, to_yaml

from devstack import promstack

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "manifests" / "examples"


# The promtool the current test runs on: conftest.py parametrises every test of this directory over the
# matrix of devstack.promstack (Prometheus 3.x, the 2.53 LTS and Debian's 2.42 by default).
ACTIVE_PROMTOOL: str | None = None


def promtool() -> str:
    return ACTIVE_PROMTOOL or promstack.binary("promtool")


def promtool_semantics() -> Semantics:
    """The PromQL semantics of the promtool under test (range edges and rate details moved between
    versions), for the simulator run next to it."""
    return Semantics.for_version(promstack.version(promtool()))


def example(name: str) -> ServiceLevelObjective:
    document = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    return ServiceLevelObjective.model_validate(document)


def slo_from(document: dict[str, Any]) -> SLO:
    return resolve(ServiceLevelObjective.model_validate(document))


def run_promtool_test(
    tmp_path: Path,
    slos: list[SLO],
    tests: list[dict[str, Any]],
    evaluation_interval: str = "30s",
    strip_annotations: bool = True,
    without_groups: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """``without_groups``: name suffixes of rule groups left out (such as ``:tier``: a group that has not
    run yet, since promtool runs every group at every ``evaluation_interval``)."""
    rules = tmp_path / "rules.yaml"
    document = rule_file(slos)
    document["groups"] = [g for g in document["groups"] if not g["name"].endswith(without_groups)]
    if strip_annotations:
        # promtool compares annotations exactly and they hold {{ $value }}: alert scenarios assert on
        # labels and timing; annotation templates are checked by `promtool check rules` above.
        for group in document["groups"]:
            for rule in group["rules"]:
                rule.pop("annotations", None)
    rules.write_text(to_yaml([document]))
    tests = with_simulator_agreement(document["groups"], tests, evaluation_interval)
    check = subprocess.run([promtool(), "check", "rules", str(rules)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    spec = {
        "rule_files": [rules.name],
        "evaluation_interval": evaluation_interval,
        # Without an order promtool runs the groups of one instant in map order (random): the slow group
        # would read the fast group's newest samples in some runs and the previous ones in others.
        "group_eval_order": [group["name"] for group in document["groups"]],
        "tests": tests,
    }
    test_file = tmp_path / "test.yaml"
    test_file.write_text(yaml.safe_dump(spec, sort_keys=False, width=200))
    return subprocess.run(
        [promtool(), "test", "rules", test_file.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )


def assert_passes(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"promtool test rules failed:\n{result.stdout}\n{result.stderr}"


def alert_labels(slo: SLO, severity: str, **extra: str) -> dict[str, str]:
    labels = {"slo": slo.name, "namespace": slo.namespace, "service": slo.service, "severity": severity}
    labels.update(slo.alert_labels)
    labels.update(extra)
    return labels


def seconds_to(text_seconds: float) -> str:
    """promtool duration for whole seconds (eval_time)."""
    return f"{int(text_seconds)}s"


def with_simulator_agreement(
    groups: list[dict[str, Any]], tests: list[dict[str, Any]], evaluation_interval: str
) -> list[dict[str, Any]]:
    """Every promtool scenario is a simulator case too: the simulator must meet the scenario's own
    expectations, and promtool must confirm the simulator's timeline (fire and resolve instants, one
    evaluation before each) and every recorded value within 0.1% (see ``simulated_expectations``)."""
    step = float(evaluation_interval.rstrip("s"))
    semantics = promtool_semantics()
    merged = []
    for test in tests:
        failures = check_promtool_case(groups, test, step, semantics)
        assert not failures, "the simulator disagrees with the scenario:\n" + "\n".join(failures)
        claims = simulated_expectations(groups, test, step, semantics)
        merged.append({
            **test,
            "alert_rule_test": [*test.get("alert_rule_test", []), *claims["alert_rule_test"]],
            "promql_expr_test": [*test.get("promql_expr_test", []), *claims["promql_expr_test"]],
        })
    return merged
