"""The installed ``slo-operator`` console script, run as a user would (a real subprocess)."""

from __future__ import annotations

from pathlib import Path

import pytest
from slo_operator.cli import app
from slo_operator.crd import render_crd_yaml
from slo_operator.render import SHARED_RULE_NAME
from support.console import REPO, run_cli, yaml_documents
from typer.testing import CliRunner

EXAMPLES = REPO / "manifests" / "examples"
EXAMPLE_NAMES = {"model-accuracy", "model-availability", "feature-freshness", "model-latency"}

BAD_FILE = """\
apiVersion: slo.mlops.dev/v1alpha1
kind: ServiceLevelObjective
metadata:
  name: broken-one
spec:
  service: my service
  objective: 150
  window: 30d
  indicator:
    availability:
      errors: rate(x[5m])
      total: x
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: not-an-slo
data:
  objective: "is ignored"
---
apiVersion: slo.mlops.dev/v1alpha1
kind: ServiceLevelObjective
metadata:
  name: broken-two
spec:
  service: api
  objective: 99
  window: 45m
  indicator: {}
  alerting:
    labels:
      severity: page
"""


def test_validate_examples() -> None:
    result = run_cli("validate", "-f", "manifests/examples")
    assert result.returncode == 0, result.stderr
    for name in EXAMPLE_NAMES:
        assert f"ml-serving/{name}: valid" in result.stdout
    assert result.stderr == ""


def test_validate_bad_file_reports_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_FILE)
    result = run_cli("validate", "-f", str(bad))
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    expected = [
        (f"{bad}#0", "spec.service", "starting and ending with a letter or digit (got 'my service')"),
        (f"{bad}#0", "spec.objective", "less than 100"),
        (f"{bad}#0", "spec.indicator.availability.errors", "plain vector selector"),
        (f"{bad}#2", "spec.window", "shorter than 1h"),
        (f"{bad}#2", "spec.indicator", "exactly one indicator"),
        (f"{bad}#2", "spec.alerting.labels", "severity"),
    ]
    for source, field, hint in expected:
        assert any(line.startswith(f"{source}: {field}: ") and hint in line for line in lines), (
            f"missing {source}: {field}: ...{hint}... in:\n{result.stderr}"
        )
    assert len(lines) == len(expected), result.stderr
    assert "not-an-slo" not in result.stderr  # other kinds in the same file are skipped
    assert "valid" not in result.stdout


def test_validate_one_bad_file_among_good_ones_fails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_FILE)
    result = run_cli("validate", "-f", "manifests/examples", "-f", str(bad))
    assert result.returncode != 0
    assert "spec.objective" in result.stderr


def test_validate_missing_file_and_empty_input(tmp_path: Path) -> None:
    missing = run_cli("validate", "-f", str(tmp_path / "nope.yaml"))
    assert missing.returncode != 0
    assert "no such file" in missing.stderr
    other = tmp_path / "cm.yaml"
    other.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    empty = run_cli("validate", "-f", str(other))
    assert empty.returncode != 0
    assert "no ServiceLevelObjective documents found" in empty.stderr


def test_validate_broken_yaml(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: slo.mlops.dev/v1alpha1\nkind: [unclosed\n")
    result = run_cli("validate", "-f", str(broken))
    assert result.returncode != 0
    assert f"{broken}: (file): " in result.stderr


def test_render_examples_as_prometheus_rules() -> None:
    result = run_cli("render", "-f", "manifests/examples")
    assert result.returncode == 0, result.stderr
    docs = yaml_documents(result.stdout)
    assert len(docs) == 5  # each SLO's own, and the namespace's shared one
    assert {d["kind"] for d in docs} == {"PrometheusRule"}
    assert {d["apiVersion"] for d in docs} == {"monitoring.coreos.com/v1"}
    assert {d["metadata"]["name"] for d in docs} == {f"{n}-slo" for n in EXAMPLE_NAMES} | {SHARED_RULE_NAME}
    assert {d["metadata"]["namespace"] for d in docs} == {"ml-serving"}
    for doc in docs:
        assert doc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "slo-operator"
        groups = doc["spec"]["groups"]
        # every example has a window over 6h: the running sums' coarse copies have a group of their own
        shared = doc["metadata"]["name"] == SHARED_RULE_NAME
        kinds = ["fast", "slow", "tier"] if shared else ["fast", "alerts", "slow"]
        assert [g["name"].rsplit(":", 1)[-1] for g in groups] == kinds
        assert all(g["rules"] for g in groups)


def test_render_rule_file_format() -> None:
    result = run_cli("render", "-f", "manifests/examples", "--format", "rules")
    assert result.returncode == 0, result.stderr
    docs = yaml_documents(result.stdout)
    assert len(docs) == 1
    assert list(docs[0]) == ["groups"]
    groups = docs[0]["groups"]
    assert len(groups) == 15  # a fast, an alerts and a slow group per SLO; the namespace's fast, slow, tier
    assert {g["name"].split(":")[2] for g in groups} == EXAMPLE_NAMES | {"*"}
    assert result.stdout.startswith("groups:")


def test_render_reads_stdin() -> None:
    text = (EXAMPLES / "latency.yaml").read_text()
    result = run_cli("render", "-f", "-", stdin=text)
    assert result.returncode == 0, result.stderr
    docs = yaml_documents(result.stdout)
    assert [d["metadata"]["name"] for d in docs] == ["model-latency-slo", SHARED_RULE_NAME]
    from_file = run_cli("render", "-f", "manifests/examples/latency.yaml")
    assert from_file.stdout == result.stdout


def test_render_stdin_errors_name_stdin() -> None:
    result = run_cli("render", "-f", "-", stdin=BAD_FILE)
    assert result.returncode != 0
    assert "<stdin>#0: spec.objective: " in result.stderr
    assert result.stdout == ""


def test_render_rule_labels_land_on_metadata() -> None:
    result = run_cli(
        "render", "-f", "manifests/examples", "--rule-label", "release=kps", "--rule-label", "tier="
    )
    assert result.returncode == 0, result.stderr
    for doc in yaml_documents(result.stdout):
        labels = doc["metadata"]["labels"]
        assert labels["release"] == "kps"
        assert labels["tier"] == ""
        assert labels["app.kubernetes.io/managed-by"] == "slo-operator"
        # The rule labels are object metadata only, not alert or series labels.
        for group in doc["spec"]["groups"]:
            for rule in group["rules"]:
                assert "release" not in rule.get("labels", {})


def test_render_rule_label_cannot_override_managed_by() -> None:
    result = run_cli(
        "render",
        "-f",
        "manifests/examples/latency.yaml",
        "--rule-label",
        "app.kubernetes.io/managed-by=someone-else",
    )
    assert result.returncode == 0, result.stderr
    for doc in yaml_documents(result.stdout):  # the SLO's own and the namespace's shared rules
        assert doc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "slo-operator"


def test_render_bad_rule_label() -> None:
    result = run_cli("render", "-f", "manifests/examples", "--rule-label", "release")
    assert result.returncode != 0
    assert "key=value" in result.stderr


def test_crds_prints_the_crd() -> None:
    result = run_cli("crds")
    assert result.returncode == 0, result.stderr
    assert result.stdout == render_crd_yaml()
    (crd,) = yaml_documents(result.stdout)
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["metadata"]["name"] == "servicelevelobjectives.slo.mlops.dev"


def test_no_arguments_shows_help() -> None:
    result = run_cli()
    assert "render" in result.stdout + result.stderr
    assert "validate" in result.stdout + result.stderr


@pytest.mark.parametrize(
    "command",
    [["validate"], ["render"], ["simulate", "--table"], ["forecast", "--prometheus", "http://127.0.0.1:9"]],
    ids=lambda command: command[0],
)
def test_every_command_reports_a_bad_file_by_file_and_field_before_doing_anything(
    command: list[str], tmp_path: Path
) -> None:
    """One loader for all the commands: the same lines, naming the file once and then the field, and exit
    status 1 before anything is rendered or queried (in process: the console script is proven above)."""
    missing = tmp_path / "nope.yaml"
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_FILE)
    result = CliRunner().invoke(app, [*command, "-f", str(missing), "-f", str(bad)])
    assert result.exit_code == 1, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == f"{missing}: (file): no such file or directory"
    assert all(line.startswith(f"{bad}#") for line in lines[1:]), result.stderr
    assert any(line.startswith(f"{bad}#0: spec.objective: ") for line in lines), result.stderr
