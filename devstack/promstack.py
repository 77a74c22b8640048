"""Which Prometheus, promtool, Alertmanager and amtool the tests, devstack and the demo run.

One place decides, from ``PROM_STACK``:

- ``current`` (what ``make test`` and ``make demo`` use): Prometheus 3.16 and Alertmanager 0.35 with their
  promtool and amtool, built from their Go modules by ``hack/prometheus/build.sh`` (``make prom-stack``)
  into ``$SLO_CACHE/prometheus-stack/current/bin``.
- ``debian``: Debian's packages (Prometheus 2.42, Alertmanager 0.25; ``make tools``).

Users run both generations (and mixed fleets), so the rule tests also run on every promtool of the
matrix: the stack's own, plus, with ``current``, the 2.53 LTS promtool (``$SLO_CACHE/prometheus-stack/
lts/bin``) and Debian's 2.42. ``PROMTOOLS=current,lts`` narrows that list. A binary the selection needs
but cannot find is an error naming the make target that provides it, never a silent fallback to another
version (the point of the matrix is knowing which version passed).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

STACKS = ("current", "debian")
DEFAULT_STACK = "current"
TOOLS = ("prometheus", "promtool", "alertmanager", "amtool")
# Debian names the Alertmanager server binary prometheus-alertmanager.
_DEBIAN_NAMES = {
    "prometheus": "prometheus", "promtool": "promtool", "amtool": "amtool",
    "alertmanager": "prometheus-alertmanager",
}
# Flavours of promtool in the rule-test matrix, newest first.
PROMTOOL_FLAVOURS = ("current", "lts", "debian")


def cache_dir() -> Path:
    return Path(os.environ.get("SLO_CACHE") or Path.home() / ".cache" / "slo-operator")


def stack() -> str:
    """The selected stack (``PROM_STACK``, default ``DEFAULT_STACK``)."""
    name = os.environ.get("PROM_STACK", "").strip() or DEFAULT_STACK
    if name not in STACKS:
        raise ValueError(f"PROM_STACK={name!r}: choose one of {', '.join(STACKS)}")
    return name


def _built(flavour: str, tool: str) -> Path:
    return cache_dir() / "prometheus-stack" / flavour / "bin" / tool


def _debian(tool: str) -> Path:
    found = shutil.which(_DEBIAN_NAMES[tool])
    return Path(found) if found else Path("/usr/bin") / _DEBIAN_NAMES[tool]


def _locate(flavour: str, tool: str) -> Path:
    return _debian(tool) if flavour == "debian" else _built(flavour, tool)


def _hint(flavour: str) -> str:
    return "run `make tools` (Debian packages)" if flavour == "debian" else "run `make prom-stack`"


def binary(tool: str, flavour: str | None = None) -> str:
    """Path of ``tool`` (prometheus, promtool, alertmanager, amtool) in the selected stack."""
    if tool not in TOOLS:
        raise ValueError(f"unknown tool {tool!r}")
    flavour = flavour or stack()
    path = _locate(flavour, tool)
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(f"{tool} of PROM_STACK={flavour} not found at {path}: {_hint(flavour)}")
    return str(path)


def path(tool: str, flavour: str | None = None) -> str:
    """Where ``tool`` of the selected stack is (or would be, once built or installed)."""
    return str(_locate(flavour or stack(), tool))


def available(tool: str, flavour: str | None = None) -> bool:
    return os.access(_locate(flavour or stack(), tool), os.X_OK)


@cache
def version(path: str) -> str:
    """``X.Y.Z`` as the binary reports it (``--version``; Go's build info when not stamped)."""
    out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    found = re.search(r"version (\d+\.\d+\.\d+)", out.stdout + out.stderr)
    if found:
        return found.group(1)
    info = subprocess.run(["go", "version", "-m", path], capture_output=True, text=True, timeout=30)
    module = re.search(r"\bmod\s+github\.com/prometheus/\S+\s+v0\.(\d+)\.(\d+)", info.stdout)
    if not module:
        return "unknown"
    minor, patch = int(module.group(1)), int(module.group(2))
    # github.com/prometheus/prometheus v0.3XX.Y is Prometheus 3.XX.Y; v0.XX.Y is 2.XX.Y.
    return f"3.{minor - 300}.{patch}" if minor >= 300 else f"2.{minor}.{patch}"


@dataclass(frozen=True)
class Promtool:
    flavour: str
    path: str

    @property
    def version(self) -> str:
        return version(self.path)


def promtool_matrix() -> list[str]:
    """The promtool flavours the rule tests run on (see the module docstring)."""
    wanted = os.environ.get("PROMTOOLS", "").strip()
    if wanted:
        names = [n.strip() for n in wanted.split(",") if n.strip()]
        unknown = [n for n in names if n not in PROMTOOL_FLAVOURS]
        if unknown:
            raise ValueError(f"PROMTOOLS: unknown {unknown}; choose from {', '.join(PROMTOOL_FLAVOURS)}")
        return names
    return list(PROMTOOL_FLAVOURS) if stack() == "current" else ["debian"]


def promtool(flavour: str) -> Promtool:
    return Promtool(flavour, binary("promtool", flavour))
