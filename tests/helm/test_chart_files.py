"""Static checks of the chart and the operator image (no helm binary, no cluster)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from support.processes import REPO

CHART = REPO / "helm" / "slo-operator"
STALE = "stale copy in the chart: run `make chart-files`"


def yaml_files(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.glob("*.yaml")) if p.name not in skip}


@pytest.mark.parametrize(
    ("source", "copy", "skip"),
    [
        ("crds", "crds", ()),
        ("manifests/dashboards", "files/dashboards", ()),
        ("manifests/model-service", "files/model-service", ("kustomization.yaml",)),
    ],
)
def test_chart_copies_equal_their_sources(source: str, copy: str, skip: tuple[str, ...]) -> None:
    assert yaml_files(CHART / copy) == yaml_files(REPO / source, skip), STALE


def test_chart_rbac_copy_equals_manifests_rbac() -> None:
    copy = (CHART / "files" / "rbac.yaml").read_text()
    assert copy == (REPO / "manifests" / "rbac.yaml").read_text(), STALE


def operator_env_settings() -> list[str]:
    """Every SLO_OPERATOR_* variable OperatorConfig.from_env reads (its `get("NAME", ...)` calls)."""
    source = (REPO / "operator" / "slo_operator" / "config.py").read_text()
    names = sorted(set(re.findall(r'\bget\(\s*"([A-Z0-9_]+)"', source)))
    assert len(names) >= 10, "config.py's from_env changed shape: update this parser"
    return [f"SLO_OPERATOR_{name}" for name in names]


def test_every_operator_setting_is_a_chart_value() -> None:
    deployment = (CHART / "templates" / "deployment.yaml").read_text()
    values = (CHART / "values.yaml").read_text()
    missing = [v for v in operator_env_settings() if f"name: {v}\n" not in deployment]
    assert not missing, f"config.py reads {missing}: set them in templates/deployment.yaml from a value"
    undocumented = [v for v in operator_env_settings() if v != "SLO_OPERATOR_LIVENESS" and v not in values]
    assert not undocumented, f"values.yaml does not say which value sets {undocumented}"


def test_values_schema_is_strict_json_schema() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["$schema"].startswith("http://json-schema.org/draft-07/")
    assert schema["additionalProperties"] is False  # typos such as `replicas: 2` are errors
    assert schema["properties"]["replicaCount"]["maximum"] == 5


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, line continuations joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", path.read_text())
    instructions = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_operator_dockerfile_is_small_pinned_and_non_root() -> None:
    instructions = dockerfile_instructions(REPO / "operator" / "Dockerfile")
    bases = [args.split()[0] for keyword, args in instructions if keyword == "FROM"]
    assert len(bases) == 1
    image, _, tag = bases[0].partition(":")
    assert image == "python", bases
    # A full version (not 3.11, slim or latest) or a digest: rebuilds get the same interpreter.
    assert "@sha256:" in bases[0] or re.fullmatch(r"3\.11\.\d+-slim(-[a-z]+)?", tag), bases

    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users, "no USER: the image would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) > 0, f"USER {users[-1]}: must be a numeric non-root uid"
    assert not gid or (gid.isdigit() and int(gid) > 0), users[-1]
    assert [keyword for keyword, _ in instructions][-1] in {"ENTRYPOINT", "CMD", "EXPOSE"}
    assert instructions.index(("USER", users[-1])) > max(
        i for i, (keyword, _) in enumerate(instructions) if keyword == "RUN"
    ), "USER must come after every RUN"

    entrypoint = [json.loads(args) for keyword, args in instructions if keyword == "ENTRYPOINT"]
    assert entrypoint == [["slo-operator", "run"]], "exec-form ENTRYPOINT slo-operator run"

    runs = " && ".join(args for keyword, args in instructions if keyword == "RUN")
    words = shlex.split(runs.replace("&&", " "))
    assert "pip" in words and "--no-cache-dir" in words and "." in words, runs
    for tool in ("gcc", "build-essential", "apt-get", "apk", "curl", "wget"):
        assert tool not in words, f"{tool} in the image: no build tools or downloads"


def test_operator_image_runs_as_the_uid_the_chart_expects() -> None:
    instructions = dockerfile_instructions(REPO / "operator" / "Dockerfile")
    users = [args for keyword, args in instructions if keyword == "USER"]
    uid, _, gid = users[-1].partition(":")
    deployment = (CHART / "templates" / "deployment.yaml").read_text()
    assert f"runAsUser: {uid}\n" in deployment and f"runAsGroup: {gid or uid}\n" in deployment


def test_dockerignore_keeps_the_context_small_but_complete() -> None:
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines() if line.strip()} - {
        line for line in (REPO / ".dockerignore").read_text().splitlines() if line.startswith("#")
    }
    for heavy in (".git", ".venv", ".cluster", "tests"):
        assert heavy in ignored, f"{heavy} would be sent to the docker daemon"
    # What operator/Dockerfile and model_service/Dockerfile COPY must stay in the context.
    for needed in ("operator", "pyproject.toml", "README.md", "model_service"):
        assert needed not in ignored and f"{needed}/" not in ignored, needed
