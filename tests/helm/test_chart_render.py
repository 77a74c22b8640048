"""The chart rendered by the pinned helm: lint, objects, RBAC = manifests/rbac.yaml, values -> settings,
schema errors, and the plain-YAML install in manifests/install (no cluster needed)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from helm_support import CHART, Helm, HelmError, container_env, find, rbac_rules
from slo_operator.config import OperatorConfig
from slo_operator.dashboards import DashboardOptions
from support.processes import REPO


def test_lint_strict(helm: Helm, tmp_path: Path) -> None:
    helm.run("lint", "--strict", str(CHART))
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({"modelService": {"enabled": True}, "watchNamespaces": ["a", "b"]}))
    helm.run("lint", "--strict", str(CHART), "--values", str(values))


def test_default_install_objects(default_objects: list[dict[str, Any]]) -> None:
    kinds = sorted(o["kind"] for o in default_objects if o["kind"] != "ConfigMap")
    assert kinds == [
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "PodDisruptionBudget",
        "PodMonitor",
        "Role",
        "RoleBinding",
        "ServiceAccount",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ]
    cluster_scoped = kinds[:2] + kinds[-2:]
    for obj in default_objects:
        if obj["kind"] not in cluster_scoped:
            assert obj["metadata"]["namespace"] == "slo-system", obj["metadata"]
        assert obj["metadata"]["labels"]["app.kubernetes.io/instance"] == "slo-operator"


def test_operator_deployment_is_replicated_hardened_and_probed(default_objects: list[dict[str, Any]]) -> None:
    deployment = find(default_objects, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    rolling = {"maxUnavailable": 1, "maxSurge": 0}
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": rolling}
    env = container_env(deployment)
    assert env["SLO_OPERATOR_LEADER_ELECTION"] == "true"
    assert env["SLO_OPERATOR_LEASE_NAMESPACE"] == "slo-system"
    assert env["SLO_OPERATOR_LEASE_SECONDS"] == "15"
    assert spec["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/readyz"
    budget = find(default_objects, "PodDisruptionBudget")["spec"]
    assert budget["minAvailable"] == 1
    assert budget["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == find(default_objects, "ServiceAccount")["metadata"]["name"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["runAsNonRoot"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    probe = container["livenessProbe"]["httpGet"]
    assert probe["path"] == "/healthz"
    assert {p["name"]: p["containerPort"] for p in container["ports"]}[probe["port"]] == 8080
    assert container_env(deployment)["SLO_OPERATOR_LIVENESS"] == "http://0.0.0.0:8080/healthz"
    assert set(container["resources"]) == {"requests", "limits"}
    assert {m["mountPath"]: m["name"] for m in container["volumeMounts"]} == {"/tmp": "tmp"}
    assert pod["volumes"][0]["name"] == "tmp" and "emptyDir" in pod["volumes"][0]
    assert container["image"] == "slo-operator/operator:0.1.0"
    assert container["args"] == ["--log-format=json"]


def test_cluster_role_is_exactly_manifests_rbac(default_objects: list[dict[str, Any]]) -> None:
    role = find(default_objects, "ClusterRole")
    assert role["rules"] == rbac_rules(REPO / "manifests" / "rbac.yaml")
    for rule in role["rules"]:
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], rule
        assert "resourceNames" not in rule or rule["resourceNames"]
    lease_role = find(default_objects, "Role")
    assert lease_role["rules"] == rbac_rules(REPO / "manifests" / "rbac.yaml", "Role")
    assert lease_role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update"]}
    ]
    assert lease_role["metadata"]["namespace"] == "slo-system"
    assert find(default_objects, "RoleBinding")["roleRef"]["name"] == lease_role["metadata"]["name"]
    binding = find(default_objects, "ClusterRoleBinding")
    account = find(default_objects, "ServiceAccount")["metadata"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
    ]


def test_cluster_scoped_names_follow_the_release(helm: Helm) -> None:
    objects = helm.template(release="team-a")
    assert find(objects, "ClusterRole")["metadata"]["name"] == "team-a-slo-operator"
    objects = helm.template({"rbac": {"create": False}})
    assert not [o for o in objects if o["kind"].startswith("ClusterRole")]


def test_chart_defaults_are_the_operators_defaults(default_objects: list[dict[str, Any]]) -> None:
    """The defaults the chart changes: PrometheusRules get kube-prometheus-stack's selector label, and two
    replicas elect a leader on a Lease named after the release in its namespace."""
    env = container_env(find(default_objects, "Deployment"))
    config = OperatorConfig.from_env(env)
    assert config.rule_labels == {"release": "kube-prometheus-stack"}
    assert (config.leader_election, config.lease_namespace) == (True, "slo-system")
    baseline = OperatorConfig()
    for field in config.__dataclass_fields__:
        if field not in ("rule_labels", "leader_election", "lease_namespace"):
            assert getattr(config, field) == getattr(baseline, field), field


CUSTOM: dict[str, Any] = {
    "prometheus": {"url": "https://prometheus.example.org:9443/prom", "timeoutSeconds": 4.5},
    "refreshSeconds": 30,
    "heartbeatSeconds": 120,
    "watchNamespaces": ["ml-serving", "payments"],
    "rules": {
        "labels": {"release": "{{ .Release.Name }}", "team": "sre"},
        "fastInterval": "15s",
        "slowInterval": "1m",
    },
    "routing": {
        "pagerduty": {"secretName": "pagerduty", "secretKey": "key", "url": "https://events.example/v2"},
        "slack": {"secretName": "slack", "secretKey": "url", "channel": "#slo"},
        "alertmanagerConfigLabels": {"alertmanager": "main"},
    },
    "dashboards": {
        "enabled": False,
        "labels": {"grafana_dashboard": "slo"},
        "folderAnnotation": "k8s-sidecar-target-directory",
        "folder": "Reliability",
    },
    "logLevel": "debug",
    "logFormat": "plain",
    "image": {"repository": "registry.example/slo-operator", "tag": "1.2.3", "pullPolicy": "Always"},
    "resources": {"requests": {"cpu": "20m", "memory": "100Mi"}, "limits": {"memory": "200Mi"}},
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "infra", "operator": "Exists", "effect": "NoSchedule"}],
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["infra"]}]}
                ]
            }
        }
    },
    "podAnnotations": {"prometheus.io/scrape": "false"},
    "podLabels": {"cost-center": "ml"},
    "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}],
}


def test_values_become_the_operator_settings(helm: Helm) -> None:
    objects = helm.template(CUSTOM, release="obs")
    deployment = find(objects, "Deployment")
    env = container_env(deployment)
    config = OperatorConfig.from_env(env)
    assert config.prometheus_url == "https://prometheus.example.org:9443/prom"
    assert config.prometheus_timeout == 4.5
    assert (config.refresh_seconds, config.heartbeat_seconds) == (30, 120)
    assert config.namespaces == ("ml-serving", "payments")
    assert config.rule_labels == {"release": "obs", "team": "sre"}
    assert (config.fast_interval, config.slow_interval) == ("15s", "1m")
    assert (config.pagerduty_secret, config.slack_secret) == ("pagerduty/key", "slack/url")
    assert (config.pagerduty_url, config.slack_channel) == ("https://events.example/v2", "#slo")
    assert config.alertmanager_config_labels == {"alertmanager": "main"}
    assert config.dashboards is False
    assert config.dashboard_labels == {"grafana_dashboard": "slo"}
    assert (config.dashboard_folder_annotation, config.dashboard_folder) == (
        "k8s-sidecar-target-directory",
        "Reliability",
    )
    routing = config.render_options.routing
    assert routing.pagerduty_routing_key is not None and routing.pagerduty_routing_key.name == "pagerduty"
    assert env["HTTPS_PROXY"] == "http://proxy:3128"

    pod = deployment["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["args"] == ["--log-format=plain", "--verbose"]
    assert container["image"] == "registry.example/slo-operator:1.2.3"
    assert container["imagePullPolicy"] == "Always"
    assert container["resources"] == CUSTOM["resources"]
    for key in ("nodeSelector", "tolerations", "affinity"):
        assert pod["spec"][key] == CUSTOM[key]
    assert pod["metadata"]["annotations"] == CUSTOM["podAnnotations"]
    assert pod["metadata"]["labels"]["cost-center"] == "ml"


def test_cli_parses_what_the_chart_passes(helm: Helm) -> None:
    """`slo-operator run` accepts the container args (ENTRYPOINT is `slo-operator run`)."""
    from slo_operator.cli import app
    from typer.testing import CliRunner

    args = find(helm.template(CUSTOM), "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    result = CliRunner().invoke(app, ["run", *args, "--help"])
    assert result.exit_code == 0, result.output


def test_replicas_without_leader_election_are_refused(helm: Helm) -> None:
    with pytest.raises(HelmError) as failure:
        helm.template({"leaderElection": {"enabled": False}})
    assert "replicaCount > 1 needs leaderElection.enabled" in failure.value.stderr
    single = find(helm.template({"leaderElection": {"enabled": False}, "replicaCount": 1}), "Deployment")
    assert single["spec"]["strategy"] == {"type": "Recreate"}
    assert container_env(single)["SLO_OPERATOR_LEADER_ELECTION"] == "false"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicaCount": 6}, "replicaCount: Must be less than or equal to 5"),
        ({"replicas": 2}, "Additional property replicas is not allowed"),
        ({"prometheus": {"url": "prometheus:9090"}}, "prometheus.url: Does not match pattern"),
        ({"prometheus": {"url": "not a url"}}, "prometheus.url: Does not match pattern"),
        ({"resources": {"cpu": "100m"}}, "resources: Additional property cpu is not allowed"),
        ({"resources": {"limits": {"memory": "lots"}}}, "resources.limits.memory: Does not match pattern"),
        ({"resources": {"requests": "100m"}}, "resources.requests: Invalid type. Expected: object"),
        ({"watchNamespaces": "ml-serving"}, "watchNamespaces: Invalid type. Expected: array"),
        ({"watchNamespaces": ["ML_Serving"]}, "watchNamespaces.0: Does not match pattern"),
        ({"logLevel": "trace"}, 'logLevel: logLevel must be one of the following: "info", "debug"'),
        ({"rules": {"fastInterval": "30 seconds"}}, "rules.fastInterval: Does not match pattern"),
        ({"rules": {"labels": {"release": "has space"}}}, "rules.labels.release"),
        ({"routing": {"pagerduty": {"secretName": "PagerDuty"}}}, "routing.pagerduty.secretName"),
        ({"image": {"pullPolicy": "Sometimes"}}, "image.pullPolicy: image.pullPolicy must be one of"),
        ({"podMonitor": {"interval": "soon"}}, "podMonitor.interval: Does not match pattern"),
    ],
)
def test_schema_rejects_bad_values_clearly(helm: Helm, values: dict[str, Any], message: str) -> None:
    with pytest.raises(HelmError) as failure:
        helm.template(values)
    assert "values don't meet the specifications of the schema" in failure.value.stderr
    assert message in failure.value.stderr, failure.value.stderr


def test_install_manifests_equal_helm_template(helm: Helm) -> None:
    """manifests/install/slo-operator.yaml is exactly what `make install-manifests` renders."""
    rendered = subprocess.run(
        [str(REPO / "hack" / "helm" / "render-install.sh"), str(helm.binary)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    shipped = (REPO / "manifests" / "install" / "slo-operator.yaml").read_text()
    assert shipped == rendered, "manifests/install is stale: run `make install-manifests`"
    kustomization = yaml.safe_load((REPO / "manifests" / "install" / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["slo-operator.yaml"]
    kinds = [d["kind"] for d in yaml.safe_load_all(rendered) if d]
    assert kinds[:2] == ["Namespace", "CustomResourceDefinition"]


def test_model_service_is_optional_and_follows_values(helm: Helm) -> None:
    assert not [o for o in helm.template() if o["metadata"]["name"] == "model-service"]
    values = {
        "modelService": {
            "enabled": True,
            "namespace": "ml-serving",
            "image": {"repository": "registry.example/model", "tag": "2.0.0"},
            "resources": {"requests": {"cpu": "1", "memory": "1Gi"}},
            "serviceMonitor": {"labels": {"release": "{{ .Release.Name }}"}},
        }
    }
    objects = helm.template(values, release="kps")
    shipped = {
        d["kind"]: d
        for f in sorted((REPO / "manifests" / "model-service").glob("*.yaml"))
        for d in yaml.safe_load_all(f.read_text())
        if d and d["kind"] != "Kustomization"
    }
    for kind, original in shipped.items():
        obj = find(objects, kind, "model-service")
        assert obj["metadata"]["namespace"] == "ml-serving"
        assert obj["metadata"]["labels"]["app.kubernetes.io/instance"] == "kps"
        if kind != "Deployment":
            assert obj["spec"] == original["spec"]
    monitor = find(objects, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kps"
    deployment = find(objects, "Deployment", "model-service")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    original = shipped["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example/model:2.0.0"
    assert container["resources"] == values["modelService"]["resources"]
    for key in ("env", "securityContext", "livenessProbe", "readinessProbe", "volumeMounts"):
        assert container[key] == original[key], key

    without_monitor = helm.template({"modelService": {"enabled": True, "serviceMonitor": {"enabled": False}}})
    assert not [o for o in without_monitor if o["kind"] == "ServiceMonitor"]


def test_pod_monitor_scrapes_the_operators_metrics_port(
    helm: Helm, default_objects: list[dict[str, Any]]
) -> None:
    # Without a scrape of the operator's /metrics, SLOForecastViolation has no gauge to read.
    monitor = find(default_objects, "PodMonitor")
    deployment = find(default_objects, "Deployment")
    pod = deployment["spec"]["template"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "operator"
    ports = {p["name"]: p["containerPort"] for p in pod["spec"]["containers"][0]["ports"]}
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] == "metrics" and ports["metrics"] == 8081
    assert endpoint["path"] == "/metrics" and endpoint["interval"] == "30s"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert container_env(deployment)["SLO_OPERATOR_METRICS"] == "0.0.0.0:8081"

    moved = helm.template({"metricsPort": 9100, "podMonitor": {"interval": "1m",
                                                               "labels": {"release": "{{ .Release.Name }}"}}},
                          release="kps")
    monitor = find(moved, "PodMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kps"
    assert monitor["spec"]["podMetricsEndpoints"][0]["interval"] == "1m"
    container = find(moved, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "metrics", "containerPort": 9100, "protocol": "TCP"} in container["ports"]
    for values in ({"podMonitor": {"enabled": False}}, {"metricsPort": 0}):
        assert not [o for o in helm.template(values) if o["kind"] == "PodMonitor"], values


def overview_file(target: Path) -> Path:
    """The overview board's ConfigMap as `make dashboards` writes it (manifests/dashboards/)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLO_OPERATOR_DASHBOARD")}
    out = subprocess.run(
        [
            str(REPO / ".venv" / "bin" / "slo-operator"),
            "render",
            "--format",
            "overview-dashboard",
            "-f",
            str(REPO / "manifests" / "examples"),
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=120,
    ).stdout
    target.write_text(out)
    return target


def test_overview_dashboard_follows_dashboard_values(helm: Helm, chart_copy: Path) -> None:
    board = overview_file(chart_copy / "files" / "dashboards" / "slo-overview.yaml")
    source = yaml.safe_load(board.read_text())
    values = {
        "dashboards": {
            "labels": {"grafana_dashboard": "slo"},
            "folder": "Reliability",
            "folderAnnotation": "grafana_folder",
        }
    }
    objects = helm.template(values, chart=chart_copy, namespace="monitoring")
    configmap = find(objects, "ConfigMap", source["metadata"]["name"])
    assert configmap["metadata"]["namespace"] == "monitoring"
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "slo"
    assert configmap["metadata"]["annotations"] == {"grafana_folder": "Reliability"}
    assert configmap["data"] == source["data"]
    # Defaults reproduce the generated file's sidecar label and folder.
    default = find(helm.template(chart=chart_copy), "ConfigMap", source["metadata"]["name"])
    for key, value in DashboardOptions().labels.items():
        assert default["metadata"]["labels"][key] == value == source["metadata"]["labels"][key]
    assert default["metadata"].get("annotations") == source["metadata"].get("annotations")
    off = helm.template({"dashboards": {"overview": {"enabled": False}}}, chart=chart_copy)
    assert not [o for o in off if o["kind"] == "ConfigMap"]


def test_helm_binary_is_the_pinned_version(helm: Helm) -> None:
    pinned = (
        subprocess.run(
            ["grep", "-m1", "^HELM_VERSION=", str(REPO / "hack" / "helm" / "build.sh")],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.split("=")[1]
        .split()[0]
    )
    assert helm.run("version", "--short").stdout.startswith(pinned)


def test_pod_identity_and_readiness_in_every_install(default_objects: list[dict[str, Any]]) -> None:
    """kopf needs POD_ID (or a passwd entry for the uid); readiness and liveness use the health port."""
    pod = find(default_objects, "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {item["name"]: item for item in container["env"]}
    assert env["POD_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert "KUBERNETES_SERVICE_HOST" not in env  # the kubelet's value: the `kubernetes` Service
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert "hostNetwork" not in pod


def test_host_network_moves_every_port_to_loopback(helm: Helm) -> None:
    values = {
        "hostNetwork": True,
        "healthPort": 18080,
        "apiServer": {"host": "127.0.0.1", "port": 26443},
        "modelService": {"enabled": True, "port": 3901},
        "tolerations": [{"key": "slo-operator.dev/local-node", "operator": "Exists", "effect": "NoSchedule"}],
    }
    objects = helm.template(values)
    deployment = find(objects, "Deployment", "slo-operator")
    pod = deployment["spec"]["template"]["spec"]
    assert (pod["hostNetwork"], pod["dnsPolicy"]) == (True, "ClusterFirstWithHostNet")
    (container,) = pod["containers"]
    env = container_env(deployment)
    assert env["SLO_OPERATOR_LIVENESS"] == "http://127.0.0.1:18080/healthz"
    assert (env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"]) == ("127.0.0.1", "26443")
    assert env["SLO_OPERATOR_METRICS"] == "127.0.0.1:8081"
    assert container["ports"] == [{"name": "health", "containerPort": 18080, "protocol": "TCP"},
                                  {"name": "metrics", "containerPort": 8081, "protocol": "TCP"}]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["host"] == "127.0.0.1"

    model = find(objects, "Deployment", "model-service")["spec"]["template"]["spec"]
    assert model["hostNetwork"] is True
    assert model["tolerations"] == pod["tolerations"] == values["tolerations"]
    (server,) = model["containers"]
    assert server["args"] == ["--host", "127.0.0.1", "--port", "3901"]
    assert server["ports"][0]["containerPort"] == 3901
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert server[probe]["httpGet"]["host"] == "127.0.0.1"


def test_api_server_host_needs_its_port(helm: Helm) -> None:
    with pytest.raises(HelmError) as failure:
        helm.template({"apiServer": {"host": "127.0.0.1"}})
    assert "apiServer.port is required" in failure.value.stderr


def test_model_service_fault_injection_is_off_unless_asked(helm: Helm) -> None:
    def admin(values: dict[str, Any]) -> str:
        deployment = find(helm.template(values), "Deployment", "model-service")
        return container_env(deployment)["MODEL_SERVICE_ADMIN_ENABLED"]

    assert admin({"modelService": {"enabled": True}}) == "false"
    assert admin({"modelService": {"enabled": True, "faultInjection": True}}) == "true"
