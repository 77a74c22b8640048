"""KubeClient against a real HTTP server that plays an API server misbehaving on purpose.

The real control plane will not produce a 409, a 500 or a dropped connection on demand; this server
answers each request from a script, so retries and their limits are observable.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fakes import ScriptedAPI
from slo_operator.children import PROMETHEUS_RULE
from slo_operator.kube import Credentials, KubeClient, KubeError


@pytest.fixture()
def api() -> Iterator[ScriptedAPI]:
    server = ScriptedAPI()
    yield server
    server.close()


def client(api: ScriptedAPI) -> KubeClient:
    creds = Credentials(
        server=api.url,
        ca_file=None,
        cert_file=None,
        key_file=None,
        verify=False,
        token=lambda: "Bearer t0ken",
    )
    return KubeClient(creds)


RULE = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "PrometheusRule",
    "metadata": {"name": "r", "namespace": "ns"},
    "spec": {"groups": []},
}


SLOS = "/apis/slo.mlops.dev/v1alpha1/namespaces/ns/servicelevelobjectives"


def test_apply_is_server_side_apply_with_our_field_manager(api: ScriptedAPI) -> None:
    client(api).apply(PROMETHEUS_RULE, RULE)
    method, path, headers, body = api.requests[0]
    assert method == "PATCH"
    assert path.startswith("/apis/monitoring.coreos.com/v1/namespaces/ns/prometheusrules/r?")
    assert "fieldManager=slo-operator" in path and "force=true" in path
    assert "fieldValidation=Ignore" in path, "the server's strict second decode costs a third of an apply"
    assert headers["Content-Type"] == "application/apply-patch+yaml"
    assert headers["Authorization"] == "Bearer t0ken"
    assert json.loads(body) == RULE


def test_status_patches_skip_the_servers_field_validation(api: ScriptedAPI) -> None:
    api.script = [(200, {"metadata": {"resourceVersion": "8"}})]
    client(api).patch_slo_status("ns", "x", {"state": "Meeting"}, None)
    method, path, headers, body = api.requests[0]
    assert (method, path) == (
        "PATCH",
        f"{SLOS}/x/status?fieldManager=slo-operator&fieldValidation=Ignore",
    )
    assert headers["Content-Type"] == "application/merge-patch+json"
    assert json.loads(body) == {"status": {"state": "Meeting"}}


def test_conflicts_and_server_errors_are_retried(api: ScriptedAPI) -> None:
    api.script = [
        (409, {"message": "conflict"}),
        (500, {"message": "etcd hiccup"}),
        (200, {"metadata": {"resourceVersion": "7"}}),
    ]
    result = client(api).apply(PROMETHEUS_RULE, RULE)
    assert result["metadata"]["resourceVersion"] == "7"
    assert len(api.requests) == 3


def test_dropped_connection_is_retried(api: ScriptedAPI) -> None:
    api.script = [(0, {}), (200, {"items": [{"metadata": {"name": "a"}}]})]
    items = client(api).list_objects(PROMETHEUS_RULE, "ns", "slo.mlops.dev/name=x")
    assert [i["metadata"]["name"] for i in items] == ["a"]
    assert "labelSelector=slo.mlops.dev%2Fname%3Dx" in api.requests[-1][1]


def test_retries_stop_and_the_error_says_why(api: ScriptedAPI) -> None:
    api.script = [(503, {"message": "unavailable"})] * 4
    with pytest.raises(KubeError) as info:
        client(api).apply(PROMETHEUS_RULE, RULE)
    assert info.value.status == 503 and "unavailable" in str(info.value)
    assert len(api.requests) == 4


def test_forbidden_is_not_retried(api: ScriptedAPI) -> None:
    api.script = [(403, {"message": "cannot patch prometheusrules"})]
    with pytest.raises(KubeError) as info:
        client(api).apply(PROMETHEUS_RULE, RULE)
    assert info.value.status == 403 and len(api.requests) == 1


def test_status_patch_with_resource_version_is_not_retried_on_conflict(api: ScriptedAPI) -> None:
    api.script = [(409, {"message": "the object has been modified"})]
    with pytest.raises(KubeError) as info:
        client(api).patch_slo_status("ns", "x", {"state": "Meeting"}, "41")
    assert info.value.status == 409 and len(api.requests) == 1
    _, path, headers, body = api.requests[0]
    assert path == f"{SLOS}/x/status?fieldManager=slo-operator&fieldValidation=Ignore"
    assert headers["Content-Type"] == "application/merge-patch+json"
    assert json.loads(body) == {"status": {"state": "Meeting"}, "metadata": {"resourceVersion": "41"}}


def test_delete_of_missing_object_is_not_an_error(api: ScriptedAPI) -> None:
    api.script = [(404, {"message": "not found"})]
    assert client(api).delete(PROMETHEUS_RULE, "ns", "gone") is False
