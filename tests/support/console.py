"""The installed ``slo-operator`` console script, run as a user runs it (a real subprocess from the
repository root), and the YAML documents it prints."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / ".venv" / "bin" / "slo-operator"


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    if not CLI.exists():
        pytest.fail(f"{CLI} is missing: run `make venv`")
    return subprocess.run(
        [str(CLI), *args], cwd=REPO, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def yaml_documents(text: str) -> list[dict[str, Any]]:
    """The documents of a YAML stream, without the empty ones."""
    return [d for d in yaml.safe_load_all(text) if d is not None]
