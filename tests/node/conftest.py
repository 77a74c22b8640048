"""The local cluster with one node (hack/cluster/node.sh): containerd, kubelet and kube-scheduler.

The node joins the control plane the session already uses; it is started once for this package and
stopped after it (pods, containerd, mounts), so the other suites keep a node-less cluster. Its binaries
and the images it loads are built by make (`make test` depends on node-build and images): a missing
build fails here with the make target to run, it is never started inside a test's timeout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from node_support import Node
from support.processes import REPO

from devstack.cluster import DEFAULT_STATE_DIR

IMAGES = REPO / "hack" / "images" / "build.py"
sys.path.insert(0, str(REPO / "tests" / "helm"))  # the pinned helm CLI wrapper of the chart tests
from helm_support import BUILD as HELM_BUILD  # noqa: E402
from helm_support import Helm  # noqa: E402

NODE_SH = REPO / "hack" / "cluster" / "node.sh"
UP_SH = REPO / "hack" / "cluster" / "up.sh"


def image_archive(name: str) -> str:
    proc = subprocess.run([str(IMAGES), "--cached", name], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.fail(f"{proc.stderr.strip()} (`make test` builds it first)")
    return proc.stdout.strip()


@pytest.fixture(scope="package")
def node(kubeconfig: Path) -> Iterator[Node]:
    state = Path(os.environ.get("SLO_CLUSTER_STATE_DIR") or DEFAULT_STATE_DIR)
    if kubeconfig.parent.resolve() != state.resolve():
        pytest.fail(f"the node joins the local control plane in {state}; KUBECONFIG={kubeconfig} is another")
    check = subprocess.run([str(REPO / "hack/cluster/build.sh"), "--node", "--check"], check=False)
    if check.returncode != 0:
        pytest.fail("kubelet/kube-scheduler are not built: run `make node-build` (`make test` does)")
    images = " ".join(image_archive(name) for name in ("operator", "model"))
    env = {**os.environ, "SLO_NODE": "1", "SLO_NODE_IMAGES": images}
    started = time.monotonic()
    proc = subprocess.run(
        [str(UP_SH), str(state)], env=env, capture_output=True, text=True, timeout=900, check=False
    )
    if proc.returncode != 0:
        pytest.fail(f"hack/cluster/up.sh (SLO_NODE=1) failed:\n{proc.stderr[-4000:]}")
    values = yaml.safe_load((state / "node-values.yaml").read_text())
    yield Node(state, kubeconfig, values, time.monotonic() - started)
    subprocess.run([str(NODE_SH), "down", str(state)], capture_output=True, timeout=300, check=False)


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    proc = subprocess.run([str(HELM_BUILD), "--print-path"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.fail(f"hack/helm/build.sh failed:\n{proc.stderr[-3000:]}")
    return Helm(Path(proc.stdout.strip().splitlines()[-1]), tmp_path_factory.mktemp("helm-home"))
