"""Static checks of manifests/model-service, model_service/bentofile.yaml and the Dockerfile."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from model_service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests" / "model-service"


def load(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((MANIFESTS / name).read_text())
    assert isinstance(doc, dict)
    return doc


@pytest.fixture(scope="module")
def deployment() -> dict[str, Any]:
    return load("deployment.yaml")


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    c: dict[str, Any] = containers[0]
    return c


def test_pod_is_locked_down(deployment: dict[str, Any]) -> None:
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False
    sc = container(deployment)["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]


def test_writable_paths_are_emptydirs(deployment: dict[str, Any]) -> None:
    pod = deployment["spec"]["template"]["spec"]
    c = container(deployment)
    env = {e["name"]: e["value"] for e in c["env"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert "emptyDir" in volumes[mounts[env["BENTOML_HOME"]]]
    assert env["PROMETHEUS_MULTIPROC_DIR"].startswith(env["BENTOML_HOME"] + "/")
    assert env["BENTOML_DO_NOT_TRACK"] == "true"
    assert env["MODEL_SERVICE_ADMIN_ENABLED"] == "false"


def test_env_names_are_ones_the_service_reads(deployment: dict[str, Any]) -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "model_service").glob("*.py"))
    known = set(re.findall(r'"((?:MODEL|BENTOML|PROMETHEUS)_[A-Z_]+)"', source))
    known |= {"BENTOML_HOME", "PROMETHEUS_MULTIPROC_DIR", "HOME"}
    for item in container(deployment)["env"]:
        assert item["name"] in known, item["name"]
    assert Settings.from_env()  # the defaults parse


def test_probes_resources_and_ports(deployment: dict[str, Any]) -> None:
    c = container(deployment)
    assert c["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["startupProbe"]["httpGet"]["path"] == "/readyz"
    assert {"cpu", "memory"} <= c["resources"]["requests"].keys()
    assert "memory" in c["resources"]["limits"]
    assert c["ports"] == [{"name": "http", "containerPort": 3000, "protocol": "TCP"}]
    selector = deployment["spec"]["selector"]["matchLabels"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()


def test_service_and_servicemonitor_line_up(deployment: dict[str, Any]) -> None:
    svc = load("service.yaml")
    sm = load("servicemonitor.yaml")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    assert sm["apiVersion"] == "monitoring.coreos.com/v1" and sm["kind"] == "ServiceMonitor"
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    port_names = {p["name"] for p in svc["spec"]["ports"]}
    for endpoint in sm["spec"]["endpoints"]:
        assert endpoint["port"] in port_names
        assert endpoint["path"] == "/metrics"
    kustomization = load("kustomization.yaml")
    assert sorted(kustomization["resources"]) == ["deployment.yaml", "service.yaml", "servicemonitor.yaml"]


def test_bentofile_and_dockerfile() -> None:
    bentofile = yaml.safe_load((ROOT / "model_service" / "bentofile.yaml").read_text())
    assert bentofile["service"] == "model_service.service:ModelService"
    assert {"name": "BENTOML_DO_NOT_TRACK", "value": "true"} in bentofile["envs"]
    assert (ROOT / bentofile["python"]["requirements_txt"]).is_file()
    dockerfile = (ROOT / "model_service" / "Dockerfile").read_text()
    assert re.search(r"^USER 10001", dockerfile, re.M)
    assert "BENTOML_DO_NOT_TRACK=true" in dockerfile
    assert "model_service.training --model-dir /opt/model" in dockerfile
    requirements = (ROOT / "model_service" / "requirements.txt").read_text()
    pins = dict(line.split("==") for line in requirements.splitlines() if line and not line.startswith("#"))
    assert pins["bentoml"] == "1.4.40"
    assert all(re.fullmatch(r"[0-9][0-9.]*", v) for v in pins.values())
