"""The claims table (tests/README.md): every README promise names tests, and every named test exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
TABLE = TESTS / "README.md"
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def _rows() -> list[str]:
    text = TABLE.read_text()
    section = text.split("## README promises", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    return rows[1:]  # after the header


def _test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    return {
        node.name for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
    }


def test_every_promise_names_at_least_one_test() -> None:
    rows = _rows()
    assert len(rows) >= 30
    empty = [row.split("|")[1].strip() for row in rows if not REFERENCE.search(row)]
    assert not empty, f"promises without a test in tests/README.md: {empty}"


def test_every_named_test_exists() -> None:
    missing = []
    references = REFERENCE.findall(TABLE.read_text())
    assert references
    for file, name in sorted(set(references)):
        path = REPO / file
        if not path.is_file() or name not in _test_functions(path):
            missing.append(f"{file}::{name}")
    assert not missing, f"tests/README.md names tests that do not exist (renamed or removed?): {missing}"
