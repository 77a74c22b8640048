"""The monthly CronJob: hardened, bounded, the SMTP password from a Secret, and a command the CLI knows."""

from __future__ import annotations

from typing import Any

import monthdata
import yaml
from slo_operator.cli import app
from typer.testing import CliRunner

MANIFEST = monthdata.REPO / "manifests" / "reports" / "cronjob.yaml"


def documents() -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in yaml.safe_load_all(MANIFEST.read_text())}


def test_cronjob_runs_monthly_non_root_read_only_with_resources() -> None:
    cron = documents()["CronJob"]
    assert cron["spec"]["schedule"] == "0 6 1 * *" and cron["spec"]["timeZone"] == "Etc/UTC"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    job = cron["spec"]["jobTemplate"]["spec"]
    # Exit 3 (some recipients not reached) must not be retried: the others would get the mail twice.
    (no_retry, _) = job["podFailurePolicy"]["rules"]
    assert no_retry["action"] == "FailJob" and 3 in no_retry["onExitCodes"]["values"]
    pod = job["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert "/tmp" in mounts  # matplotlib's cache; the root filesystem is read-only


def test_the_smtp_password_comes_from_a_secret_file_only() -> None:
    pod = documents()["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert "SLO_REPORT_SMTP_PASSWORD" not in env
    password_file = env["SLO_REPORT_SMTP_PASSWORD_FILE"]["value"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    (mount,) = [m for m in container["volumeMounts"] if password_file.startswith(m["mountPath"] + "/")]
    secret = volumes[mount["name"]]["secret"]
    assert secret["secretName"] == "slo-report-smtp" and mount["readOnly"] is True
    context = pod["securityContext"]
    assert secret["defaultMode"] == 0o440 and context["fsGroup"] == context["runAsGroup"]


def test_the_report_account_may_only_read_slos() -> None:
    (rule,) = documents()["ClusterRole"]["rules"]
    assert rule == {"apiGroups": ["slo.mlops.dev"], "resources": ["servicelevelobjectives"],
                    "verbs": ["get", "list"]}


def test_the_command_is_one_the_cli_accepts() -> None:
    (container,) = documents()["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["slo-operator", "report"]
    result = CliRunner().invoke(app, ["report", *container["args"], "--help"])
    assert result.exit_code == 0, result.output
    options = {a.split("=", 1)[0] for a in container["args"]}
    assert options <= {"--from-cluster", "--format", "--email-to"}
