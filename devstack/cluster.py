"""Helpers to get a real Kubernetes API server for tests (no pytest fixtures here, just functions).

``ensure_cluster()`` returns a kubeconfig path:

* if ``KUBECONFIG`` is set and that cluster answers ``/readyz``, it is used as is (our CRDs and the
  prometheus-operator CRDs are applied to it first);
* otherwise ``hack/cluster/up.sh`` starts (or reuses) the local, container-free control plane in
  ``SLO_CLUSTER_STATE_DIR`` (default ``<repo>/.cluster``) and its admin kubeconfig is returned.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

REPO_ROOT = Path(__file__).resolve().parents[1]
CLUSTER_DIR = REPO_ROOT / "hack" / "cluster"
CRD_DIR = REPO_ROOT / "crds"
DEFAULT_STATE_DIR = REPO_ROOT / ".cluster"

T = TypeVar("T")


class KubectlError(subprocess.CalledProcessError):
    """A failed kubectl call; ``str()`` includes its stderr."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstderr: {(self.stderr or '').strip()}"


def kubectl_binary() -> str:
    """The kubectl to use: ``$KUBECTL``, else the one on ``PATH``."""
    found = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if not found:
        raise FileNotFoundError("kubectl not found (set KUBECTL or put it on PATH)")
    return found


def kubectl(
    *args: str,
    kubeconfig: Path | str,
    check: bool = True,
    input: str | None = None,
    timeout: float | None = 120.0,
) -> subprocess.CompletedProcess[str]:
    """Run ``kubectl --kubeconfig KUBECONFIG ARGS...`` and capture its text output.

    Raises :class:`KubectlError` (a ``CalledProcessError``) on a non-zero exit when ``check`` is true.
    """
    cmd = [kubectl_binary(), "--kubeconfig", str(kubeconfig), *args]
    proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise KubectlError(proc.returncode, cmd, proc.stdout, proc.stderr)
    return proc


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 30.0,
    interval: float = 0.2,
    message: str = "condition",
) -> T:
    """Poll ``predicate`` until it returns a truthy value, and return that value.

    Exceptions raised by ``predicate`` count as "not yet". On timeout raises ``TimeoutError``
    naming ``message`` (chained to the last exception, if any).
    """
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while True:
        try:
            result = predicate()
            if result:
                return result
            last_exc = None
        except Exception as exc:
            last_exc = exc
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {message}") from last_exc
        time.sleep(interval)


def is_ready(kubeconfig: Path | str) -> bool:
    """True if the API server behind ``kubeconfig`` answers ``/readyz`` with success."""
    try:
        proc = kubectl("get", "--raw", "/readyz", kubeconfig=kubeconfig, check=False, timeout=15)
        return proc.returncode == 0
    except (subprocess.TimeoutExpired, OSError):
        return False


def prometheus_operator_crd_dir() -> Path:
    """The cached prometheus-operator CRD directory (fetched by build.sh if missing; no Kubernetes build)."""
    out = subprocess.run(
        [str(CLUSTER_DIR / "build.sh"), "--crds-only", "--env"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return Path(env["PROM_OPERATOR_CRD_DIR"])


def crd_files() -> list[Path]:
    """Our CRDs (``crds/*.yaml``) followed by the prometheus-operator CRDs."""
    ours = sorted([*CRD_DIR.glob("*.yaml"), *CRD_DIR.glob("*.yml")])
    return [*ours, *sorted(prometheus_operator_crd_dir().glob("*.yaml"))]


def crds_established(kubeconfig: Path | str, names: Sequence[str]) -> bool:
    """True if every named CRD (``crd/x`` or ``customresourcedefinition.../x``) is Established."""
    jsonpath = '{range .items[*]}{.status.conditions[?(@.type=="Established")].status}{"\\n"}{end}'
    proc = kubectl("get", *names, "-o", f"jsonpath={jsonpath}", kubeconfig=kubeconfig, check=False)
    return proc.returncode == 0 and proc.stdout.split().count("True") == len(names)


def apply_crds(
    kubeconfig: Path | str, files: Sequence[Path] | None = None, timeout: float = 120.0
) -> list[str]:
    """Server-side apply CRD files and wait until they are Established; returns ``crd/...`` names."""
    files = crd_files() if files is None else list(files)
    if not files:
        return []
    args = ["apply", "--server-side", "--force-conflicts", "--field-manager=slo-tests", "-o", "name"]
    for f in files:
        args += ["-f", str(f)]
    out = kubectl(*args, kubeconfig=kubeconfig, timeout=timeout).stdout
    names = [n for n in out.split() if n.startswith("customresourcedefinition")]
    if names:
        wait_for(lambda: crds_established(kubeconfig, names), timeout, 0.2, f"CRDs Established: {names}")
    return names


def _external_kubeconfig(value: str, state_dir: Path) -> Path:
    """A single-file kubeconfig for ``$KUBECONFIG`` (flattened if it lists several files)."""
    paths = [p for p in value.split(os.pathsep) if p]
    if len(paths) == 1:
        return Path(paths[0]).expanduser().resolve()
    flat = subprocess.run(
        [kubectl_binary(), "config", "view", "--flatten", "--raw"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "KUBECONFIG": value},
    ).stdout
    state_dir.mkdir(parents=True, exist_ok=True)
    target = state_dir / "external.kubeconfig"
    target.write_text(flat)
    target.chmod(0o600)
    return target


class ClusterNotBuilt(RuntimeError):
    """The control plane binaries are not in the cache: ``make cluster-build`` builds them (slow, once)."""


def require_built() -> None:
    """Fail at once, saying what to run, when the control plane is not built yet.

    The cold build takes 15-20 minutes on two busy cores; it is a make prerequisite (``make
    cluster-build``, with progress output) so that no test or demo waits for it behind a timeout.
    """
    proc = subprocess.run(
        [str(CLUSTER_DIR / "build.sh"), "--check"], capture_output=True, text=True, check=False
    )
    if proc.returncode == 3:
        raise ClusterNotBuilt(
            "the local Kubernetes control plane is not built yet: run `make cluster-build` first "
            "(once, 15-20 min cold; `make test`, `make unit` and `make demo` run it for you)"
        )
    if proc.returncode != 0:
        raise RuntimeError(f"hack/cluster/build.sh --check failed ({proc.returncode}):\n{proc.stderr}")


def ensure_cluster(state_dir: Path | None = None) -> Path:
    """Return a kubeconfig for a ready cluster with all CRDs installed (see module docstring).

    Never builds: without ``$KUBECONFIG`` the control plane must be in the cache already (raises
    ``ClusterNotBuilt`` otherwise); starting it is bounded by ``up.sh``'s own readiness timeout.
    """
    state = Path(state_dir or os.environ.get("SLO_CLUSTER_STATE_DIR") or DEFAULT_STATE_DIR)
    external = os.environ.get("KUBECONFIG")
    if external:
        kubeconfig = _external_kubeconfig(external, state)
        if kubeconfig.is_file() and is_ready(kubeconfig):
            apply_crds(kubeconfig)
            return kubeconfig
    require_built()
    proc = subprocess.run(
        [str(CLUSTER_DIR / "up.sh"), str(state)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"hack/cluster/up.sh failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    kubeconfig = Path(proc.stdout.strip().splitlines()[-1])
    if not kubeconfig.is_file():
        raise RuntimeError(f"hack/cluster/up.sh printed no kubeconfig path:\n{proc.stdout}")
    return kubeconfig


def restart_apiserver(kubeconfig: Path) -> float:
    """Restart the local control plane's kube-apiserver with its own flags (restart-apiserver.sh); the
    seconds it was away. Only for the cluster ``ensure_cluster`` started (its state directory holds the
    kubeconfig and the pid files), not for an external one."""
    state = Path(kubeconfig).parent
    if not (state / "kube-apiserver.pid").is_file():
        raise RuntimeError(f"{state} holds no kube-apiserver.pid: not a cluster of hack/cluster/up.sh")
    proc = subprocess.run(
        [str(CLUSTER_DIR / "restart-apiserver.sh"), str(state)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"restart-apiserver.sh failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return float(proc.stdout.strip().splitlines()[-1])
