"""The golden cases' rule groups are valid Prometheus rule files (``promtool check rules``).

Separate from the pure golden comparison (tests/golden/test_golden_cases.py) because it runs promtool.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from devstack import promstack

CASES_DIR = Path(__file__).parent / "cases"


@pytest.mark.parametrize("flavour", promstack.promtool_matrix())
def test_every_golden_rule_file_passes_promtool_check(tmp_path: Path, flavour: str) -> None:
    """On every promtool of the matrix (Prometheus 3.x, the 2.53 LTS, Debian's 2.42 by default)."""
    promtool = promstack.binary("promtool", flavour)
    files = []
    for golden in sorted(CASES_DIR.glob("*/prometheusrule.yaml")):
        rule = yaml.safe_load(golden.read_text())
        target = tmp_path / f"{golden.parent.name}.rules.yaml"
        target.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
        files.append(str(target))
    assert len(files) == len(list(CASES_DIR.glob("*/slo.yaml")))
    proc = subprocess.run([promtool, "check", "rules", *files], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
