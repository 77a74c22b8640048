"""Reading ServiceLevelObjective documents from files, folders or stdin, with errors by field path.

Used by the CLI (``render``, ``validate``, ``simulate``, ``forecast``, ``report``, ``policy explain``); the
operator gets objects from the API server instead and validates them with the same models.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
import yaml
from pydantic import ValidationError

from slo_operator import API_GROUP, KIND
from slo_operator.api import (
    ALERT_NAME_PATTERN,
    LABEL_NAME_PATTERN,
    SECRET_KEY_PATTERN,
    SECRET_NAME_PATTERN,
    SERVICE_PATTERN,
    SEVERITY_PATTERN,
    SLACK_CHANNEL_PATTERN,
    ServiceLevelObjective,
)
from slo_operator.durations import DURATION_PATTERN, WINDOW_PATTERN

PATTERN_HINTS = {
    WINDOW_PATTERN: "must be one number and one unit of s, m, h, d or w, e.g. 5m, 1h, 30d",
    DURATION_PATTERN: "must be a Prometheus duration such as 200ms, 5m or 1h",
    SERVICE_PATTERN: "must be letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
    ALERT_NAME_PATTERN: "must be letters, digits and '_', not starting with a digit, e.g. SLOFastBurn",
    LABEL_NAME_PATTERN: "must be a Prometheus label name: letters, digits and '_', e.g. model_version",
    SEVERITY_PATTERN: "must be lower-case letters, digits, '-' or '_', e.g. critical or warning",
    SECRET_NAME_PATTERN: "must be a Secret name: lower-case letters, digits, '-' and '.', e.g. pagerduty",
    SECRET_KEY_PATTERN: "must be a Secret data key: letters, digits, '-', '_' and '.', e.g. routing-key",
    SLACK_CHANNEL_PATTERN: "must be a Slack channel such as #ml-alerts (letters, digits, '.', '_', '-')",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one document: where, which field, what to do."""

    source: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.field}: {self.message}"


def field_path(loc: tuple[int | str, ...]) -> str:
    """``('spec', 'alerting', 'burnRates', 0, 'longWindow')`` -> ``spec.alerting.burnRates[0].longWindow``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.startswith(("function-after", "function-before", "function-wrap")):
            continue
        else:
            text += ("." if text else "") + part
    return text or "(document)"


def problems_of(error: ValidationError, source: str) -> list[Problem]:
    problems = []
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field; check the spelling against `kubectl explain slo.spec`"
        elif item["type"] == "string_pattern_mismatch":
            pattern = str((item.get("ctx") or {}).get("pattern", ""))
            message = PATTERN_HINTS.get(pattern, message) + f" (got {item.get('input')!r})"
        problems.append(Problem(source, field_path(tuple(item["loc"])), message))
    return problems


def parse_object(document: Any, source: str) -> tuple[ServiceLevelObjective | None, list[Problem]]:
    """Validate one decoded document; returns the object or the list of problems."""
    if not isinstance(document, dict):
        return None, [Problem(source, "(document)", "expected a mapping (a Kubernetes object)")]
    try:
        return ServiceLevelObjective.model_validate(document), []
    except ValidationError as exc:
        return None, problems_of(exc, source)


def _documents(path: str) -> Iterator[tuple[str, Any]]:
    if path == "-":
        for i, doc in enumerate(yaml.safe_load_all(sys.stdin)):
            yield f"<stdin>#{i}", doc
        return
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError("no such file or directory")  # the Problem names the path
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml")) if root.is_dir() else [root]
    for file in files:
        with file.open(encoding="utf-8") as handle:
            for i, doc in enumerate(yaml.safe_load_all(handle)):
                yield f"{file}#{i}", doc


def is_slo_document(document: Any) -> bool:
    return (
        isinstance(document, dict)
        and document.get("kind") == KIND
        and str(document.get("apiVersion", "")).startswith(API_GROUP + "/")
    )


def load(paths: list[str]) -> tuple[list[ServiceLevelObjective], list[Problem]]:
    """Every SLO document under ``paths``; other kinds of objects in the same files are skipped."""
    objects: list[ServiceLevelObjective] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            for source, document in _documents(path):
                if document is None or not is_slo_document(document):
                    continue
                obj, found = parse_object(document, source)
                problems.extend(found)
                if obj is not None:
                    objects.append(obj)
        except OSError as exc:  # "Permission denied", not "[Errno 13] Permission denied: '<path>'"
            problems.append(Problem(path, "(file)", exc.strerror or str(exc)))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            problems.append(Problem(path, "(file)", str(exc)))
    return objects, problems


def load_or_exit(paths: list[str]) -> list[ServiceLevelObjective]:
    """``load`` for the commands: every problem on stderr, one line each (file, field, what to do), and
    exit status 1 when there is any, before anything is rendered or queried."""
    objects, problems = load(paths)
    for problem in problems:
        typer.echo(str(problem), err=True)
    if problems:
        raise typer.Exit(1)
    return objects
