"""The golden cases' rule groups are valid Prometheus rule files (``promtool check rules``).

Separate from the pure golden comparison (tests/golden/test_golden_cases.py) because it runs promtool.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

CASES_DIR = Path(__file__).parent / "cases"


def test_every_golden_rule_file_passes_promtool_check(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found: run `make tools` (Debian package prometheus)")
    files = []
    for golden in sorted(CASES_DIR.glob("*/prometheusrule.yaml")):
        rule = yaml.safe_load(golden.read_text())
        target = tmp_path / f"{golden.parent.name}.rules.yaml"
        target.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
        files.append(str(target))
    assert len(files) == len(list(CASES_DIR.glob("*/slo.yaml")))
    proc = subprocess.run([promtool, "check", "rules", *files], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
