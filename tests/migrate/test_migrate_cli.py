"""``slo-operator import`` and ``render --format openslo`` as a user runs them (the console script)."""

from __future__ import annotations

from pathlib import Path

from support.console import run_cli, yaml_documents

INPUTS = Path(__file__).parent / "inputs"


def test_import_from_stdin_prints_valid_slos_and_names_refused_fields() -> None:
    result = run_cli(
        "import", "-f", "-", "--from", "pyrra", "-n", "team-a", stdin=(INPUTS / "pyrra.yaml").read_text()
    )
    assert result.returncode == 1  # the bool_gauge SLO cannot be imported
    assert "error: <stdin>#2: spec.indicator.bool_gauge:" in result.stderr
    docs = yaml_documents(result.stdout)
    assert [d["metadata"]["name"] for d in docs] == ["api-errors", "api-latency"]
    assert {d["metadata"]["namespace"] for d in docs} == {"team-a"}
    validated = run_cli("validate", "-f", "-", stdin=result.stdout)
    assert validated.returncode == 0, validated.stderr


def test_import_folder_of_sloth_files() -> None:
    result = run_cli("import", "-f", str(INPUTS), "--from", "sloth")
    assert result.returncode == 1
    names = [d["metadata"]["name"] for d in yaml_documents(result.stdout)]
    assert names == ["checkout-requests-availability", "checkout-requests-latency", "search-query-errors"]
    # Files of the other tools in the folder are skipped, each with a warning.
    assert "pyrra.yaml#0: kind: not a sloth SLO document" in result.stderr


def test_render_openslo_then_import_back_is_the_same_slo() -> None:
    exported = run_cli("render", "-f", "manifests/examples/availability.yaml", "--format", "openslo")
    assert exported.returncode == 0, exported.stderr
    kinds = [d["kind"] for d in yaml_documents(exported.stdout)]
    assert kinds[:2] == ["SLO", "SLI"] and {"AlertPolicy", "AlertCondition"} <= set(kinds)
    back = run_cli("import", "-f", "-", "--from", "openslo", stdin=exported.stdout)
    assert back.returncode == 0, back.stderr
    original = run_cli("render", "-f", "manifests/examples/availability.yaml", "--format", "rules")
    again = run_cli("render", "-f", "-", "--format", "rules", stdin=back.stdout)
    assert again.stdout == original.stdout
