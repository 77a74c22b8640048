"""Every `make ...` command the docs show exists and resolves on a clean copy of the repository.

The commands are read from README.md, CONTRIBUTING.md and model_service/README.md (code blocks and
inline code) and dry-run with ``make -n`` in a copy holding only the tracked files: no venv, no cache
state of this checkout. A renamed target or a missing prerequisite rule fails here, not for a reader.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "CONTRIBUTING.md", "model_service/README.md")
INLINE = re.compile(r"`(make(?: [^`]*)?)`")
BLOCK_LINE = re.compile(r"^\s*(?:\$\s+)?(make(?:\s.*)?)$")


def documented_commands() -> list[tuple[str, str]]:
    """(doc, command) for every make command in the docs, comments stripped, deduplicated."""
    found: dict[str, str] = {}
    for doc in DOCS:
        path = REPO / doc
        if not path.exists():
            continue
        in_block = False
        for line in path.read_text().splitlines():
            if line.lstrip().startswith("```"):
                in_block = not in_block
                continue
            candidates = []
            if in_block:
                match = BLOCK_LINE.match(line)
                if match:
                    candidates.append(match.group(1).split(" #", 1)[0])
            else:
                candidates.extend(INLINE.findall(line))
            for command in candidates:
                for part in re.split(r"\s*(?:&&|;|\|\|?)\s*", command.strip()):
                    if part.split()[:1] == ["make"] and "…" not in part:  # "`make …`" is prose
                        found.setdefault(part, doc)
    return sorted((doc, command) for command, doc in found.items())


COMMANDS = documented_commands()


@pytest.fixture(scope="module")
def clean_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tracked (and new, not ignored) files of this checkout, nothing else."""
    target = tmp_path_factory.mktemp("clean") / "repo"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def test_the_docs_show_make_commands() -> None:
    commands = {command for _, command in COMMANDS}
    assert {"make test", "make demo", "make check", "make generate", "make model-serve"} <= commands


@pytest.mark.parametrize(("doc", "command"), COMMANDS, ids=[c for _, c in COMMANDS])
def test_documented_command_resolves_on_a_clean_copy(clean_copy: Path, doc: str, command: str) -> None:
    args = shlex.split(command)[1:]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run(
        ["make", "-n", *args], cwd=clean_copy, env=env, capture_output=True, text=True, timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"{doc}: `{command}` does not resolve:\n{proc.stderr[-2000:]}"
    assert "No rule to make target" not in proc.stderr
