"""In-cluster login: the API server from KUBERNETES_SERVICE_HOST/_PORT and the pod's service account.

A pod without cluster DNS (host network, clusters without a DNS add-on) still has these variables; the
DNS name kubernetes.default.svc that kopf's built-in handler dials does not resolve there.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import kopf
import pytest
from slo_operator import handlers
from slo_operator.kube import in_cluster, kubeconfig_credentials, load_credentials


@pytest.fixture()
def account(tmp_path: Path) -> Path:
    (tmp_path / "token").write_text("first-token\n")
    (tmp_path / "ca.crt").write_text("not parsed here\n")
    (tmp_path / "namespace").write_text("slo-system")
    return tmp_path


def test_server_comes_from_the_service_variables(account: Path) -> None:
    pod = in_cluster({"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}, account)
    assert pod is not None
    assert pod.server == "https://10.0.0.1:443"
    assert pod.ca_file == account / "ca.crt"
    assert pod.namespace == "slo-system"
    assert pod.token() == "first-token"


def test_ipv6_host_is_bracketed(account: Path) -> None:
    pod = in_cluster({"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"}, account)
    assert pod is not None and pod.server == "https://[fd00::1]:6443"


@pytest.mark.parametrize(
    "env",
    [{}, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, {"KUBERNETES_SERVICE_PORT": "443"}],
)
def test_not_in_a_pod_without_both_variables(account: Path, env: dict[str, str]) -> None:
    assert in_cluster(env, account) is None


def test_not_in_a_pod_without_a_mounted_token(tmp_path: Path) -> None:
    env = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    assert in_cluster(env, tmp_path) is None


def test_rotated_token_is_read_on_each_request(
    account: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "26443")
    monkeypatch.setattr("slo_operator.kube.SERVICE_ACCOUNT_DIR", account)
    credentials = load_credentials()
    assert credentials.server == "https://127.0.0.1:26443"
    assert credentials.token() == "Bearer first-token"
    (account / "token").write_text("rotated-token")
    assert credentials.token() == "Bearer rotated-token"


def test_login_handler_uses_the_variables_not_the_dns_name(
    account: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "26443")
    monkeypatch.setattr("slo_operator.kube.SERVICE_ACCOUNT_DIR", account)
    info = handlers.login(settings=kopf.OperatorSettings(), logger=None)
    assert info is not None
    assert info.server == "https://127.0.0.1:26443"
    assert info.token == "first-token"
    assert info.ca_path == str(account / "ca.crt")
    assert info.default_namespace == "slo-system"


def test_explicit_kubeconfig_wins_over_the_pod_identity(
    account: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: abc}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
        "current-context: x\n"
    )
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    monkeypatch.setattr("slo_operator.kube.SERVICE_ACCOUNT_DIR", account)
    assert load_credentials(str(kubeconfig)).server == "https://127.0.0.1:1"


def test_probe_fails_when_the_refresher_is_not_running() -> None:
    saved = handlers.STATE.refresher
    handlers.STATE.refresher = None
    try:
        with pytest.raises(kopf.PermanentError):
            handlers.refresher_probe()
    finally:
        handlers.STATE.refresher = saved


def test_probe_fails_when_no_cycle_finished_for_too_long(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        task = asyncio.create_task(asyncio.sleep(60))
        monkeypatch.setattr(handlers.STATE, "refresher", task)
        monkeypatch.setattr(handlers.STATE, "cycles", 4)
        now = handlers.time.monotonic()
        monkeypatch.setattr(handlers.STATE, "last_cycle", now - 5)
        assert handlers.refresher_probe()["cycles"] == 4
        late = handlers.stale_after(handlers.STATE.config.refresh_seconds) + 1
        monkeypatch.setattr(handlers.STATE, "last_cycle", now - late)
        with pytest.raises(kopf.PermanentError, match="no status refresh"):
            handlers.refresher_probe()
        task.cancel()

    asyncio.run(scenario())


def test_plain_kubeconfigs_are_read_without_the_kubernetes_package(tmp_path: Path) -> None:
    """Server, CA and client certificate given inline or as files, or a token: read here (the operator
    then does not import the kubernetes package); exec plugins are left to that package (None)."""
    (tmp_path / "token").write_text("from-a-file\n")
    plain = tmp_path / "plain"
    plain.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:2', certificate-authority: ca.crt}},\n"
        "           {name: d, cluster: {server: 'https://127.0.0.1:3', certificate-authority-data: "
        + base64.b64encode(b"PEM").decode() + "}}]\n"
        "users: [{name: u, user: {tokenFile: " + str(tmp_path / "token") + "}},\n"
        "        {name: e, user: {exec: {command: aws}}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}, {name: y, context: {cluster: d, user: e}}]\n"
    )
    found = kubeconfig_credentials(str(plain))
    assert found is not None
    assert (found.server, found.cert_file) == ("https://127.0.0.1:2", None)
    assert found.ca_file == str(tmp_path / "ca.crt")
    assert found.token() == "Bearer from-a-file"
    exec_plugin = tmp_path / "exec"
    exec_plugin.write_text(plain.read_text().replace("current-context: x", "current-context: y"))
    assert kubeconfig_credentials(str(exec_plugin)) is None
    inline = tmp_path / "inline"
    inline.write_text(plain.read_text().replace("{cluster: d, user: e}", "{cluster: d, user: u}")
                      .replace("current-context: x", "current-context: y"))
    ca = kubeconfig_credentials(str(inline))
    assert ca is not None and ca.ca_file is not None and Path(ca.ca_file).read_bytes() == b"PEM"
