"""The images built without Docker (hack/images) and the Dockerfiles users build agree.

Both recipes install exactly a lock file (--no-deps); here: same entrypoint, user (with a passwd entry:
kopf asks the OS for the uid's name), environment, working directory and ports; the lock files pin what
pyproject.toml pins; and a built archive holds exactly the lock file's distributions (plus the project).
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import tarfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
from support.processes import REPO

BUILD = REPO / "hack" / "images" / "build.py"
RECIPES = {k: v for k, v in json.loads((REPO / "hack/images/images.json").read_text()).items() if k[0] != "_"}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dockerfile(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines, current = [], ""
    for raw in path.read_text().splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        current += " " + stripped.rstrip("\\").strip() if current else stripped.rstrip("\\").strip()
        if not stripped.endswith("\\"):
            lines.append(current)
            current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def docker_env(instructions: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, args in instructions:
        if keyword == "ENV":
            for item in re.findall(r"(\w+)=(\S+)", args):
                env[item[0]] = item[1]
    return env


def lock_pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[normalise(name)] = version.strip()
    return pins


@pytest.mark.parametrize("key", sorted(RECIPES))
def test_dockerfile_and_recipe_agree(key: str) -> None:
    recipe = RECIPES[key]
    instructions = dockerfile(REPO / recipe["dockerfile"])
    assert [json.loads(a) for k, a in instructions if k == "ENTRYPOINT"][-1] == recipe["entrypoint"]
    assert [a for k, a in instructions if k == "USER"][-1] == recipe["user"]
    assert [a for k, a in instructions if k == "WORKDIR"][-1] == recipe["workdir"]
    assert sorted(a if "/" in a else f"{a}/tcp" for k, a in instructions if k == "EXPOSE") == sorted(
        recipe["ports"]
    )
    assert docker_env(instructions) == recipe["env"]
    runs = " ".join(a for k, a in instructions if k == "RUN")
    uid, gid = recipe["user"].split(":")
    assert f"--uid {uid} --gid {gid}" in runs and recipe["account"] in runs, "no passwd entry for the uid"
    lock = recipe["lock"]
    assert re.search(rf"pip install [^&]*--no-deps [^&]*-r \S*{re.escape(Path(lock).name)}", runs), runs


@pytest.mark.parametrize("key", sorted(RECIPES))
def test_lock_files_pin_what_pyproject_pins(key: str) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    required = list(project["dependencies"]) if RECIPES[key]["project"] else []
    if key == "reports":
        required += project["optional-dependencies"]["reports"]
    if key == "model":
        required = [
            line for line in (REPO / "model_service/requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ]
    pins = lock_pins(REPO / RECIPES[key]["lock"])
    for requirement in required:
        name, _, version = requirement.partition("==")
        assert pins.get(normalise(name)) == version, f"{RECIPES[key]['lock']}: {name} (make image-locks)"
    if key == "operator":
        assert not {"matplotlib", "reportlab"} & set(pins), "no plotting/PDF libraries in the operator image"


def built_archive(key: str) -> Path:
    proc = subprocess.run([str(BUILD), "--cached", key], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.fail(f"{proc.stderr.strip()} (`make test` builds the images first)")
    return Path(proc.stdout.strip())


def image_contents(archive: Path) -> tuple[dict[str, Any], dict[str, str], str]:
    """(image config, {distribution: version} installed, /etc/passwd) of a one-layer OCI archive."""
    with tarfile.open(archive) as outer:
        index = json.load(outer.extractfile("index.json"))  # type: ignore[arg-type]
        digest = index["manifests"][0]["digest"].split(":")[1]
        manifest = json.load(outer.extractfile(f"blobs/sha256/{digest}"))  # type: ignore[arg-type]
        config = json.load(outer.extractfile(f"blobs/sha256/{manifest['config']['digest'][7:]}"))  # type: ignore[arg-type]
        layer = outer.extractfile(f"blobs/sha256/{manifest['layers'][0]['digest'][7:]}")
        assert layer is not None
        dists, passwd = {}, ""
        with tarfile.open(fileobj=io.BytesIO(layer.read()), mode="r:gz") as rootfs:
            for member in rootfs:
                match = re.search(r"/dist-packages/([^/]+)-([^-/]+)\.dist-info/METADATA$", member.name)
                if match:
                    dists[normalise(match.group(1))] = match.group(2)
                elif member.name.lstrip("./") == "etc/passwd":
                    passwd = rootfs.extractfile(member).read().decode()  # type: ignore[union-attr]
    return config, dists, passwd


@pytest.mark.parametrize("key", ["operator", "model"])
def test_built_image_holds_exactly_the_lock(key: str) -> None:
    recipe = RECIPES[key]
    config, dists, passwd = image_contents(built_archive(key))
    expected = lock_pins(REPO / recipe["lock"])
    if recipe["project"]:
        expected["slo-operator"] = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    dists.pop("pip", None)  # never installed: the build runs pip from a wheel outside the image
    assert dists == expected
    settings = config["config"]
    assert settings["Entrypoint"] == recipe["entrypoint"]
    assert settings["User"] == recipe["user"]
    assert {k: v for k, v in (e.split("=", 1) for e in settings["Env"]) if k != "PATH"} == recipe["env"]
    uid, gid = recipe["user"].split(":")
    assert f"{recipe['account']}:x:{uid}:{gid}:" in passwd, "no passwd entry: kopf's getpwuid() fails"
