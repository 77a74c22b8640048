"""The unexpected-skip guard (tests/skips.py): an unlisted skip fails the run, and the allow-list matches
the skips written in the suite (no skip without an entry, no entry without its skip)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import skips

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
SKIPPING = {"skip", "importorskip", "skipif", "xfail"}

UNEXPECTED = '''
import pytest

@pytest.fixture()
def needs_tool():
    pytest.skip("tool missing")

def test_plain_skip():
    pytest.skip("not today")

@pytest.mark.skipif(True, reason="condition")
def test_skipif():
    pass

def test_skip_in_fixture(needs_tool):
    pass

@pytest.mark.xfail(reason="known")
def test_xfail():
    assert False

def test_passes():
    pass
'''


@pytest.fixture(autouse=True)
def _no_plugin_autoload(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # the inner runs need no installed plugin


def run(pytester: pytest.Pytester) -> pytest.RunResult:
    """A pytest run of the files written by the test, with the guard of tests/skips.py loaded."""
    return pytester.runpytest_inprocess("-p", "skips", "-p", "no:cacheprovider")


def test_an_unlisted_skip_fails_the_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_unlisted=UNEXPECTED)
    result = run(pytester)
    # a skip in the test fails it; a skip while setting it up (skipif, a fixture) is an error
    result.assert_outcomes(passed=1, failed=2, errors=2)
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*unexpected skip of test_unlisted.py::test_plain_skip: not today*"])


def test_a_module_level_importorskip_fails_the_collection(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_module='import pytest\npytest.importorskip("no_such_module_x")\n'
                        "def test_a():\n    pass\n")
    result = run(pytester)
    assert result.ret != 0
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*unexpected skip of test_module.py*no_such_module_x*"])


def test_a_listed_skip_passes_only_under_its_condition(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_listed='import pytest\ndef test_a():\n    pytest.skip("regenerating")\n')
    state = {"on": True}
    entry = skips.AllowedSkip("test_listed.py::*", r"^regenerating$", "test", lambda: state["on"])
    monkeypatch.setattr(skips, "ALLOWED", (entry,))
    result = run(pytester)
    result.assert_outcomes(skipped=1)
    assert result.ret == 0
    state["on"] = False
    result = run(pytester)
    result.assert_outcomes(failed=1)
    # a different message in a listed test is not covered by the entry
    state["on"] = True
    pytester.makepyfile(test_listed='import pytest\ndef test_a():\n    pytest.skip("something else")\n')
    result = run(pytester)
    result.assert_outcomes(failed=1)


def _skip_calls() -> list[tuple[str, int, str, str | None]]:
    """(file relative to the repository, line, kind, literal message or None) of every skip in tests/."""
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        if path.name in {"skips.py", "test_skips.py"}:
            continue
        tree = ast.parse(path.read_text(), str(path))
        called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
        for node in ast.walk(tree):
            if id(node) in called:
                continue  # seen as its call, with the call's message
            func = node.func if isinstance(node, ast.Call) else node
            if isinstance(func, ast.Attribute) and func.attr in SKIPPING:
                owner = func.value
                while isinstance(owner, ast.Attribute):
                    owner = owner.value
                if not (isinstance(owner, ast.Name) and owner.id == "pytest"):
                    continue
                message = None
                if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                    message = str(node.args[0].value)
                found.append((path.relative_to(REPO).as_posix(), node.lineno, func.attr, message))
    return found


def test_every_skip_in_the_suite_is_listed_and_every_entry_has_its_skip() -> None:
    calls = {(file, line, kind, message) for file, line, kind, message in _skip_calls()}
    used: set[skips.AllowedSkip] = set()
    unlisted = []
    for file, line, kind, message in sorted(calls):
        entries = [
            e for e in skips.ALLOWED
            if e.nodeids.split("::")[0] == file and kind == "skip" and message is not None
            and re.search(e.message, message)
        ]
        if not entries:
            unlisted.append(f"{file}:{line}: pytest.{kind}({message!r})")
        used.update(entries)
    assert not unlisted, "skips without an entry in tests/skips.py ALLOWED:\n" + "\n".join(unlisted)
    stale = [e for e in skips.ALLOWED if e not in used]
    assert not stale, f"entries in tests/skips.py ALLOWED whose skip is gone: {stale}"


def test_every_entry_says_why_and_when() -> None:
    for entry in skips.ALLOWED:
        assert len(entry.why) > 30, entry
        assert (REPO / entry.nodeids.split("::")[0]).is_file(), entry
        re.compile(entry.message)


def test_under_the_defaults_of_make_test_no_skip_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UPDATE_GOLDEN", raising=False)
    monkeypatch.delenv("PROM_STACK", raising=False)
    assert [entry for entry in skips.ALLOWED if entry.when()] == []
