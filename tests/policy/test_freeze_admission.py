"""The deploy freeze on the real API server, with no operator running: the shipped
ValidatingAdmissionPolicy reads `status.policy.frozen` of the namespace's SLOs (written here as the
operator would), so the freeze holds whether or not the operator is up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from policy_support import deployment, endpoint_name, slo_document
from support.cluster import KubectlError, kubectl, wait_for
from support.slo_objects import apply

pytestmark = pytest.mark.cluster
# Admission policies and their parameters reach the API server's admission plugin through informers:
# a change takes effect after a short propagation delay, so every expectation is polled with a deadline.
PROPAGATION = 60.0


def set_frozen(namespace: str, slo: str, frozen: bool, kubeconfig: Path) -> None:
    status = {
        "policy": {
            "name": "freeze-policy",
            "step": "freeze",
            "since": "2026-12-01T12:00:00Z",
            "actions": ["freeze"],
            "tickets": [],
            "frozen": frozen,
        }
    }
    kubectl(
        "patch",
        "slo",
        slo,
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
        kubeconfig=kubeconfig,
    )


def set_image(namespace: str, name: str, image: str, kubeconfig: Path, *extra: str) -> tuple[bool, str]:
    """(accepted, error text) of an image change."""
    try:
        kubectl(
            "set",
            "image",
            f"deployment/{name}",
            f"app={image}",
            "-n",
            namespace,
            *extra,
            kubeconfig=kubeconfig,
        )
    except KubectlError as exc:
        return False, str(exc.stderr)
    return True, ""


def image_of(namespace: str, name: str, kubeconfig: Path) -> str:
    out = kubectl(
        "get",
        "deployment",
        name,
        "-n",
        namespace,
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
        kubeconfig=kubeconfig,
    ).stdout
    return out.strip()


def test_frozen_slo_refuses_pod_template_changes_until_lifted(
    kubeconfig: Path, deploy_freeze: Path, namespace: str
) -> None:
    apply(
        kubeconfig,
        slo_document(namespace, "checkout", endpoint_name(), "checkout", {}),
        deployment(namespace, "checkout", "checkout"),
        deployment(namespace, "other", "other-service"),
    )
    set_frozen(namespace, "checkout", True, kubeconfig)
    counter = iter(range(2, 10_000))

    def refused() -> str | None:
        accepted, error = set_image(namespace, "checkout", f"registry.local/app:{next(counter)}", kubeconfig)
        return None if accepted else error

    error = wait_for(refused, PROPAGATION, interval=1, message="the image change to be refused")
    assert "deploy freeze: SLO checkout" in error and "step freeze" in error
    assert "freeze-policy" in error and "slo.mlops.dev/freeze-override" in error
    refused_image = image_of(namespace, "checkout", kubeconfig)

    # Scaling and metadata changes pass; another service's workload is not frozen.
    kubectl("scale", "deployment/checkout", "--replicas=3", "-n", namespace, kubeconfig=kubeconfig)
    kubectl(
        "patch",
        "deployment",
        "checkout",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec": {"replicas": 2}}',
        kubeconfig=kubeconfig,
    )
    kubectl("label", "deployment/checkout", "team=payments", "-n", namespace, kubeconfig=kubeconfig)
    kubectl("annotate", "deployment/checkout", "note=hello", "-n", namespace, kubeconfig=kubeconfig)
    assert set_image(namespace, "other", "registry.local/other:2", kubeconfig)[0]
    replicas = kubectl(
        "get",
        "deployment",
        "checkout",
        "-n",
        namespace,
        "-o",
        "jsonpath={.spec.replicas}",
        kubeconfig=kubeconfig,
    ).stdout
    assert replicas == "2"
    assert image_of(namespace, "checkout", kubeconfig) == refused_image

    # The override annotation, in the same change, lets a pod-template change through.
    patch = {
        "metadata": {"annotations": {"slo.mlops.dev/freeze-override": "hotfix INC-42"}},
        "spec": {
            "template": {"spec": {"containers": [{"name": "app", "image": "registry.local/app:hotfix"}]}}
        },
    }
    kubectl(
        "patch",
        "deployment",
        "checkout",
        "-n",
        namespace,
        "--type=strategic",
        "-p",
        json.dumps(patch),
        kubeconfig=kubeconfig,
    )
    assert image_of(namespace, "checkout", kubeconfig) == "registry.local/app:hotfix"
    # An empty reason is no override.
    kubectl(
        "annotate",
        "--overwrite",
        "deployment/checkout",
        "slo.mlops.dev/freeze-override=",
        "-n",
        namespace,
        kubeconfig=kubeconfig,
    )
    assert not set_image(namespace, "checkout", "registry.local/app:no-reason", kubeconfig)[0]

    # Lifted: the same change is accepted.
    set_frozen(namespace, "checkout", False, kubeconfig)
    wait_for(
        lambda: set_image(namespace, "checkout", f"registry.local/app:{next(counter)}", kubeconfig)[0],
        PROPAGATION,
        interval=1,
        message="the image change to be accepted after the freeze is lifted",
    )


def test_statefulsets_and_daemonsets_are_frozen_too(
    kubeconfig: Path, deploy_freeze: Path, namespace: str
) -> None:
    apply(kubeconfig, slo_document(namespace, "batch", endpoint_name(), "batch", {}))
    labels = {"app": "batch"}
    template = {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "app", "image": "r.local/b:1"}]},
    }
    meta = {"namespace": namespace, "labels": {"slo.mlops.dev/service": "batch"}}
    apply(
        kubeconfig,
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "batch-db", **meta},
            "spec": {
                "serviceName": "batch-db",
                "selector": {"matchLabels": labels},
                "template": template,
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "batch-agent", **meta},
            "spec": {"selector": {"matchLabels": labels}, "template": template},
        },
    )
    set_frozen(namespace, "batch", True, kubeconfig)
    for kind in ("statefulset/batch-db", "daemonset/batch-agent"):

        def refused(kind: str = kind) -> bool:
            proc = kubectl(
                "set", "image", kind, "app=r.local/b:2", "-n", namespace, kubeconfig=kubeconfig, check=False
            )
            return proc.returncode != 0 and "deploy freeze: SLO batch" in proc.stderr

        wait_for(refused, PROPAGATION, interval=1, message=f"{kind} image change refused")


def test_no_frozen_slo_means_no_freeze(kubeconfig: Path, deploy_freeze: Path, namespace: str) -> None:
    apply(
        kubeconfig,
        slo_document(namespace, "calm", endpoint_name(), "calm", {}),
        deployment(namespace, "calm", "calm"),
    )
    for i in range(3):
        assert set_image(namespace, "calm", f"registry.local/app:{i + 2}", kubeconfig)[0]
