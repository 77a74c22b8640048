"""The source tools' own rule generators (Sloth, Pyrra) and a promtool run that reports when each alert
class fired, for comparing their rules with ours on the same input series.

The binaries are built by ``make peers`` (hack/peers/build.sh, a prerequisite of ``make test``); the
tests never build them.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from devstack import promstack

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "hack" / "peers" / "build.sh"
STEP = 30  # seconds: input sample spacing, promtool's evaluation interval and our fast group's


def peer_binaries() -> dict[str, Path]:
    """Paths of the cached sloth and pyrra binaries (the script's warm path does not invoke Go)."""
    proc = subprocess.run(
        [str(BUILD), "--env"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "GO": "/nonexistent"},
    )
    found = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    paths = {"sloth": Path(found.get("SLOTH_BIN", "")), "pyrra": Path(found.get("PYRRA_BIN", ""))}
    missing = [name for name, path in paths.items() if not path.is_file()]
    if proc.returncode != 0 or missing:
        raise RuntimeError(f"{', '.join(missing) or 'peer tools'} not built: run `make peers`\n{proc.stderr}")
    return paths


def promtool() -> str:
    """The promtool of the selected monitoring stack (PROM_STACK), as the other rule tests use."""
    return promstack.binary("promtool")


def sloth_rules(binary: Path, spec: dict[str, Any], workdir: Path) -> dict[str, Any]:
    source, out = workdir / "sloth-spec.yaml", workdir / "sloth-rules.yaml"
    source.write_text(yaml.safe_dump(spec, sort_keys=False))
    subprocess.run(
        [str(binary), "generate", "-i", str(source), "-o", str(out)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return yaml.safe_load(out.read_text())


def pyrra_rules(binary: Path, objective: dict[str, Any], workdir: Path) -> dict[str, Any]:
    config = workdir / "pyrra-config"
    folder = workdir / "pyrra-rules"
    config.mkdir()
    folder.mkdir()
    (config / "slo.yaml").write_text(yaml.safe_dump(objective, sort_keys=False))
    subprocess.run(
        [str(binary), "generate", f"--config-files={config}/*.yaml", f"--prometheus-folder={folder}"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    (rules,) = sorted(folder.glob("*.yaml"))
    return yaml.safe_load(rules.read_text())


@dataclass(frozen=True)
class Firing:
    """When one class of alerts fired in a scenario: first and last firing evaluation, and how many."""

    first: float | None
    last: float | None
    ticks: int


def firing_times(
    workdir: Path,
    rule_files: dict[str, dict[str, Any]],
    series: list[dict[str, str]],
    end: int,
    classes: dict[str, str],
) -> dict[str, Firing]:
    """Run promtool once with every rule file and report, per class (name -> ALERTS matchers), when
    alerts of that class fired between 0 and ``end`` seconds.

    The values come from promtool itself: each probe expects nothing, so promtool prints what it got.
    """
    names = []
    for name, document in rule_files.items():
        for group in document["groups"]:
            for rule in group["rules"]:
                rule.pop("annotations", None)  # templates are irrelevant to timing
        (workdir / f"{name}.yaml").write_text(yaml.safe_dump(document, sort_keys=False, width=200))
        names.append(f"{name}.yaml")
    tests = []
    for cls, matchers in classes.items():
        firing = f'count(ALERTS{{alertstate="firing",{matchers}}})'
        window = f"[{end}s:{STEP}s]"
        for stat, expr in (
            ("first", f"min_over_time(timestamp({firing}){window})"),
            ("last", f"max_over_time(timestamp({firing}){window})"),
            ("ticks", f"count_over_time({firing}{window})"),
        ):
            probe = f'label_replace({expr}, "probe", "{cls}/{stat}", "", "")'
            tests.append({"expr": probe, "eval_time": f"{end}s", "exp_samples": []})
    # promtool evaluates groups in Go map order unless told: at one instant an alert group could run
    # before or after the recordings it reads, moving firing by a step at random. File order: each tool
    # writes its recordings before its alerts.
    order = [group["name"] for document in rule_files.values() for group in document["groups"]]
    spec = {
        "rule_files": names,
        "evaluation_interval": f"{STEP}s",
        "group_eval_order": order,
        "tests": [{"interval": f"{STEP}s", "input_series": series, "promql_expr_test": tests}],
    }
    (workdir / "test.yaml").write_text(yaml.safe_dump(spec, sort_keys=False, width=400))
    proc = subprocess.run(
        [promtool(), "test", "rules", "test.yaml"], cwd=workdir, capture_output=True, text=True, timeout=900
    )
    output = proc.stdout + proc.stderr
    if "FAILED" not in output and proc.returncode != 0:
        raise AssertionError(f"promtool could not run the scenario:\n{output}")
    if re.search(r"(?i)error|could not|parse", output.split("FAILED", 1)[-1].split("expr:", 1)[0]):
        raise AssertionError(f"promtool reported an error:\n{output}")
    values = {
        m.group(1): float(m.group(2))
        for m in re.finditer(r'probe="([^"]+)"\}\s*=?>?\s*([-+0-9.eE]+)', output)
    }
    result = {}
    for cls in classes:
        ticks = int(values.get(f"{cls}/ticks", 0))
        result[cls] = Firing(values.get(f"{cls}/first"), values.get(f"{cls}/last"), ticks)
    return result
