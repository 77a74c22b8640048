"""The development workflow's own rules: every make target explains itself, the pure tier stays pure."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MAKEFILES = [REPO / "Makefile", *sorted((REPO / "mk").glob("*.mk"))]
RULE = re.compile(r"^([a-zA-Z][a-zA-Z0-9_.-]*)\s*:(?!=)(.*)$")


def make_targets() -> dict[str, bool]:
    """Every target named at the start of a rule or in .PHONY, and whether it has a ``##`` help line."""
    targets: dict[str, bool] = {}
    for path in MAKEFILES:
        for line in path.read_text().splitlines():
            if line.startswith(".PHONY:"):
                for name in line.split(":", 1)[1].split():
                    targets.setdefault(name, False)
                continue
            match = RULE.match(line)
            if match is None or "=" in match.group(2).split("##")[0].split(";")[0][:1]:
                continue
            for name in match.group(1).split():
                targets.setdefault(name, False)
            if "## " in match.group(2):
                targets[match.group(1)] = True
    return targets


def test_every_make_target_has_a_help_line() -> None:
    targets = make_targets()
    assert {"help", "check", "generate", "test", "venv"} <= set(targets)
    missing = sorted(name for name, helped in targets.items() if not helped)
    assert not missing, f"make targets without a `## help` comment on their rule line: {missing}"


def test_a_pure_test_cannot_start_a_process() -> None:
    """This file is in the pure tier: the guard in tests/conftest.py must stop a subprocess."""
    with pytest.raises(pytest.fail.Exception, match="pure tier"):
        subprocess.run(["true"], check=False)
