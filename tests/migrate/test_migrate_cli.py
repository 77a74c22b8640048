"""``slo-operator import`` and ``render --format openslo`` as a user runs them (the console script)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / ".venv" / "bin" / "slo-operator"
INPUTS = Path(__file__).parent / "inputs"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    if not CLI.exists():
        pytest.fail(f"{CLI} is missing: run `make venv`")
    return subprocess.run(
        [str(CLI), *args], cwd=REPO, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def test_import_from_stdin_prints_valid_slos_and_names_refused_fields() -> None:
    result = run(
        "import", "-f", "-", "--from", "pyrra", "-n", "team-a", stdin=(INPUTS / "pyrra.yaml").read_text()
    )
    assert result.returncode == 1  # the bool_gauge SLO cannot be imported
    assert "error: <stdin>#2: spec.indicator.bool_gauge:" in result.stderr
    docs = documents(result.stdout)
    assert [d["metadata"]["name"] for d in docs] == ["api-errors", "api-latency"]
    assert {d["metadata"]["namespace"] for d in docs} == {"team-a"}
    validated = run("validate", "-f", "-", stdin=result.stdout)
    assert validated.returncode == 0, validated.stderr


def test_import_folder_of_sloth_files() -> None:
    result = run("import", "-f", str(INPUTS), "--from", "sloth")
    assert result.returncode == 1
    names = [d["metadata"]["name"] for d in documents(result.stdout)]
    assert names == ["checkout-requests-availability", "checkout-requests-latency", "search-query-errors"]
    # Files of the other tools in the folder are skipped, each with a warning.
    assert "pyrra.yaml#0: kind: not a sloth SLO document" in result.stderr


def test_render_openslo_then_import_back_is_the_same_slo() -> None:
    exported = run("render", "-f", "manifests/examples/availability.yaml", "--format", "openslo")
    assert exported.returncode == 0, exported.stderr
    kinds = [d["kind"] for d in documents(exported.stdout)]
    assert kinds[:2] == ["SLO", "SLI"] and {"AlertPolicy", "AlertCondition"} <= set(kinds)
    back = run("import", "-f", "-", "--from", "openslo", stdin=exported.stdout)
    assert back.returncode == 0, back.stderr
    original = run("render", "-f", "manifests/examples/availability.yaml", "--format", "rules")
    again = run("render", "-f", "-", "--format", "rules", stdin=back.stdout)
    assert again.stdout == original.stdout
