"""Mutation testing of the pure core with mutmut: does every small change to the code fail a test?

``make mutation`` (not part of ``make test``; it takes long): for each module of ``MODULES``, one at a
time, mutmut changes one operator, number, string or call at a time and runs the pure tests that execute
the changed function (``SELECTION``). A mutant no test kills is a promise that could break silently. The
results go to ``.mutation/report.md`` (kill rate per module, every survivor with its diff) and
``.mutation/results.json``; equivalent mutants (a change no behaviour can tell apart) are explained in
``EQUIVALENT`` so they do not count against the rate.

mutmut wants the code under ``src/`` and runs the tests from a copy of the project (``mutants/``), so
the run happens in ``.mutation/work``, a copy of the tracked files with ``operator/`` as ``src/``.

    python hack/mutation.py [MODULE ...]     # e.g. budget.py rules.py; default: every module
    python hack/mutation.py --report         # the report again from results.json (after editing EQUIVALENT)
    MUTATION_CHILDREN=2                      # parallel test processes (default 1: the machine is shared)
    MUTATION_REUSE=1                         # keep .mutation/work (and mutmut's cache) from the last run
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / ".mutation"
WORK = OUT / "work"

# module (under operator/slo_operator) -> the tests to run: the pure tier (mutmut runs, for each mutant, only
# the tests that executed its function); routing adds its render tests, in-process but not in the tier.
PURE = ["tests", "-m", "pure"]
SELECTION: dict[str, list[str]] = {
    # Nearly every pure test parses, validates and resolves SLOs: for these modules the whole tier is an hour
    # or more of mutants on a shared machine, so each runs the tests of its own promises (and the goldens).
    "api.py": ["tests/core/test_validation.py", "tests/core/test_cost_validation.py",
               "tests/core/test_crd.py", "tests/core/test_model.py"],
    "model.py": ["tests/core/test_model.py", "tests/core/test_validation.py", "tests/core/test_golden.py",
                 "tests/golden/test_golden_cases.py"],
    "budget.py": PURE,
    "rules.py": PURE,
    "promql.py": PURE,
    "selectors.py": ["tests/core/test_durations_selectors.py", "tests/core/test_validation.py",
                     "tests/golden/test_golden_cases.py"],
    "durations.py": PURE,
    "status.py": PURE,
    "routing.py": ["tests/core", "tests/golden/test_golden_cases.py", "tests/routing/test_routing_render.py",
                   "tests/operator_unit/test_reconcile_decision.py", "-k", "not crd_schema",
                   "--ignore=tests/core/test_cli.py"],  # the CLI tests run the installed entry point
    "reports/compute.py": PURE,
}
MODULES = list(SELECTION)

# Mutants no test can kill because no behaviour tells them apart, with the reason (by mutant name).
EQUIVALENT: dict[str, str] = {
    "slo_operator.durations.x_format_duration__mutmut_22":
        "`int(remaining // size)` -> `int(remaining / size)`: remaining is a positive Decimal here, and "
        "int() truncates toward zero, which is floor for positive numbers",
    "slo_operator.durations.x_parse_duration__mutmut_15":
        "`last_rank = -1` -> `-2`: ranks are list indices (>= 0), so `rank <= last_rank` is false for the "
        "first unit either way",
    "slo_operator.budget.x__positive__mutmut_7":
        '`float("inf")` -> `float("INF")`: float() reads infinity in any case',
    "slo_operator.budget.xǁErrorBudgetCalculatorǁconsumed_budget__mutmut_8":
        '`float("inf")` -> `float("INF")`: float() reads infinity in any case',
    "slo_operator.budget.x__decimal__mutmut_1":
        "a Decimal passed through Decimal(str(value)) is the same Decimal: the shortcut only saves work",
    "slo_operator.budget.xǁErrorBudgetCalculatorǁtime_to_exhaustion__mutmut_6":
        "`remaining <= 0` -> `< 0`: at exactly 0 the rate is above 0, so the other branch also returns "
        "timedelta(0) (remaining x window / burn rate)",
    # reports/compute.py
    "slo_operator.reports.compute.x_apply_hold__mutmut_1":
        "`hold <= 0` -> `< 0`: with hold 0 the loop keeps every period as it is (durations are > 0, "
        "start + 0 s)",
    "slo_operator.reports.compute.x__percent__mutmut_2":
        "`whole > 0` -> `(whole > 0) or True`: every caller passes a whole only when it is truthy (a total, "
        "an allowed budget or a budget, never negative), so the guard never fails",
    "slo_operator.reports.compute.x__percent__mutmut_6":
        "`whole > 0` -> `whole >= 0`: no caller passes a whole of 0 (see _percent__mutmut_2)",
    "slo_operator.reports.compute.x_forecast_note__mutmut_12":
        "bad of an hour without total: 0 instead of NaN; the forecaster reads bad only where total was seen "
        "(fit) and sums the known hours with NaN as 0 (consumed), so nothing changes",
    "slo_operator.reports.compute.x_forecast_note__mutmut_42":
        "`or` -> `and` in `not sufficient or violation_probability is None`: a sufficient forecast always "
        "has a probability and an insufficient one never does, so both forms agree",
    "slo_operator.reports.compute.x_slo_month_report__mutmut_67":
        "`compliance >= objective - 1e-9` -> `>`: differs only at exactly objective - 1e-9 percent, a value "
        "the tolerance exists to step over and no month of events reaches exactly",
    "slo_operator.reports.compute.x_slo_month_report__mutmut_101":
        "`-(d.bad or 0.0)` -> `or 1.0` in the worst days' sort key: only days with bad events are sorted "
        "(`if d.bad`), so the fallback is never taken",
    "slo_operator.reports.compute.x_steps_to_periods__mutmut_13":
        "`< 1e-3` -> `<= 1e-3`: range-query steps lie on the step grid; the tolerance absorbs float error "
        "only, and no sum of Unix seconds is off by exactly 1 ms",
    # api.py
    "slo_operator.api.x__error_at__mutmut_1":
        "the error's title is not shown: the loader reports each error's location and message only",
    "slo_operator.api.x__error_at__mutmut_5":
        "the error's title is not shown: the loader reports each error's location and message only",
    "slo_operator.api.x__error_at__mutmut_6":
        "the error's title is not shown: the loader reports each error's location and message only",
    "slo_operator.api.x__error_at__mutmut_7":
        "the error's title is not shown: the loader reports each error's location and message only",
    "slo_operator.api.x__error_at__mutmut_10":
        "a value error's input is not shown: the loader reports each error's location and message only",
    "slo_operator.api.x__error_at__mutmut_13":
        "a value error's input is not shown: the loader reports each error's location and message only",
    "slo_operator.api.x__error_at__mutmut_18":
        "the loader rewrites only extra_forbidden and string_pattern_mismatch errors; any other type keeps "
        "its message, so the type's spelling is not seen",
    "slo_operator.api.x__error_at__mutmut_19":
        "the loader rewrites only extra_forbidden and string_pattern_mismatch errors; any other type keeps "
        "its message, so the type's spelling is not seen",
    "slo_operator.api.x__indicator_rules__mutmut_27":
        "`if timed` -> `if timed or True`: some kinds are measured in time or slices, so `timed` is never "
        "empty",
    "slo_operator.api.x__indicator_rules__mutmut_28":
        "the `else` text when `timed` is empty: it never is (see _indicator_rules__mutmut_27)",
    "slo_operator.api.x__indicator_rules__mutmut_47":
        "`split(' whose ')[-1]` -> `[+1]`: a kind's description holds ' whose ' once, so [1] is [-1]",
    # model.py
    "slo_operator.model.x__round_minutes__mutmut_3":
        "`rounding=ROUND_HALF_EVEN` -> `rounding=None`: None takes the context's rounding, "
        "ROUND_HALF_EVEN in the default context",
    "slo_operator.model.x__round_minutes__mutmut_11":
        "`max(1, minutes)` -> `max(2, minutes)`: its result only feeds max(WINDOW_FLOOR, ...) and "
        "max(..., 2 x short), so a window under 5 minutes never survives either way",
    # routing.py
    "slo_operator.routing.x_receivers__mutmut_67":
        "`channel if slack is not None` -> always `channel`: the channel is read only when there is a Slack "
        "receiver",
    "slo_operator.routing.x__text_matcher__mutmut_10":
        "label values here are Kubernetes names and namespaces, which hold no backslash or quote: the "
        "escaping never changes them",
    "slo_operator.routing.x__text_matcher__mutmut_11":
        "label values here are Kubernetes names and namespaces, which hold no backslash or quote: the "
        "escaping never changes them",
    "slo_operator.routing.x__text_matcher__mutmut_12":
        "label values here are Kubernetes names and namespaces, which hold no backslash or quote: the "
        "escaping never changes them",
    "slo_operator.routing.x__text_matcher__mutmut_13":
        "label values here are Kubernetes names and namespaces, which hold no backslash or quote: the "
        "escaping never changes them",
    # selectors.py
    "slo_operator.selectors.x_parse_selector__mutmut_36":
        "the parser spells an operator `MatchOp.<Name>`, with one dot: split or rsplit with any maxsplit, "
        "and index 1 or -1, all give `<Name>`",
    "slo_operator.selectors.x_parse_selector__mutmut_37":
        "the parser spells an operator `MatchOp.<Name>`, with one dot: split or rsplit with any maxsplit, "
        "and index 1 or -1, all give `<Name>`",
    "slo_operator.selectors.x_parse_selector__mutmut_40":
        "the parser spells an operator `MatchOp.<Name>`, with one dot: split or rsplit with any maxsplit, "
        "and index 1 or -1, all give `<Name>`",
    "slo_operator.selectors.x_parse_selector__mutmut_41":
        "the parser spells an operator `MatchOp.<Name>`, with one dot: split or rsplit with any maxsplit, "
        "and index 1 or -1, all give `<Name>`",
    # promql.py, rules.py, status.py
    "slo_operator.promql.x_exact__mutmut_8":
        '`format(d, "f")` -> `format(d, "F")`: for a Decimal the two differ in no output (infinity and NaN '
        "are spelled the same)",
}


def prepare() -> None:
    """``.mutation/work``: the tracked files (and uncommitted changes) with ``operator/`` as ``src/``."""
    if WORK.exists():
        shutil.rmtree(WORK)
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in files:
        source = REPO / name
        if not source.is_file():
            continue
        target = WORK / re.sub(r"^operator/", "src/", name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    # Deterministic, deadline-free Hypothesis: a mutant's verdict must not depend on the machine's load.
    with (WORK / "tests" / "conftest.py").open("a") as conftest:
        conftest.write(
            "\n\nfrom hypothesis import settings as _settings  # added by hack/mutation.py\n\n"
            '_settings.register_profile("mutation", deadline=None, derandomize=True, database=None)\n'
            '_settings.load_profile("mutation")\n'
        )
    # mutmut reads [tool.mutmut] from pyproject.toml first: the run's settings go in setup.cfg instead.
    also = sorted({p.split("/")[0] for p in files if "/" in p and not p.startswith(("operator/", "tests/"))})
    also += [p for p in files if "/" not in p and p not in {"pyproject.toml", "setup.cfg"}]
    (WORK / ".also_copy").write_text("\n".join(also))


def configure(module: str) -> None:
    also = (WORK / ".also_copy").read_text().split("\n")
    selection = SELECTION[module]
    lines = [
        "[mutmut]",
        "source_paths=src/slo_operator",
        f"only_mutate=src/slo_operator/{module}",
        "also_copy=\n  " + "\n  ".join(also),
        "pytest_add_cli_args_test_selection=\n  " + "\n  ".join(selection),
        "pytest_add_cli_args=\n  -p\n  no:cacheprovider\n  -q",
        "timeout_multiplier=10",
        "use_git_change_detection=false",
    ]
    (WORK / "setup.cfg").write_text("\n".join(lines) + "\n")


def results(module: str) -> dict[str, int | str]:
    """mutmut's verdict per mutant of ``module`` (from its ``.meta`` file)."""
    meta = WORK / "mutants" / "src" / "slo_operator" / f"{module}.meta"
    data = json.loads(meta.read_text())
    return dict(data.get("exit_code_by_key", {}))


VERDICT = {0: "survived", 1: "killed", 3: "killed", 5: "no tests", 33: "no tests", 34: "skipped",
           35: "suspicious", 36: "timeout", 37: "caught by type check", 24: "timeout", 152: "timeout",
           255: "timeout", -24: "timeout", -11: "segfault", -9: "killed"}


def verdict(code: int | str | None) -> str:
    if code is None:
        return "not checked"
    if isinstance(code, str):
        return code
    return VERDICT.get(code, "killed" if code not in (0, 5, 33) else "survived")


def show(name: str) -> str:
    out = subprocess.run([sys.executable, "-m", "mutmut", "show", name], cwd=WORK, capture_output=True,
                         text=True, env=_env())
    return out.stdout.strip()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("BENTOML_DO_NOT_TRACK", "true")
    return env


def run(module: str, children: int) -> dict[str, object]:
    configure(module)
    # A fresh mutants/ per module: mutmut takes a file it copied unmutated for an earlier module as done.
    shutil.rmtree(WORK / "mutants", ignore_errors=True)
    started = time.monotonic()
    print(f"[mutation] {module}: mutmut run (selection: {' '.join(SELECTION[module])})", file=sys.stderr)
    log = OUT / f"{module.replace('/', '-')}.log"
    with log.open("w") as out:
        subprocess.run(
            ["nice", "-n", "15", sys.executable, "-m", "mutmut", "run", "--max-children", str(children)],
            cwd=WORK, env=_env(), check=False, stdout=out, stderr=subprocess.STDOUT,
        )
    codes = results(module)
    verdicts = {name: verdict(code) for name, code in codes.items()}
    unkilled = ("survived", "no tests")
    survivors = sorted(n for n, v in verdicts.items() if v in unkilled and n not in EQUIVALENT)
    equivalent = sorted(n for n in verdicts if n in EQUIVALENT)
    killed = sum(v in ("killed", "timeout", "caught by type check", "segfault") for v in verdicts.values())
    counted = len(verdicts) - len(equivalent)
    return {
        "module": module,
        "mutants": len(verdicts),
        "killed": killed,
        "equivalent": equivalent,
        "survivors": {name: show(name) for name in survivors},
        "verdicts": verdicts,
        "kill_rate": round(100 * killed / counted, 1) if counted else None,
        "seconds": round(time.monotonic() - started),
    }


def report(found: list[dict[str, object]]) -> str:
    lines = ["# Mutation testing of the pure core (mutmut)", "",
             "| module | mutants | killed | equivalent | survived | kill rate | time |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in found:
        survivors = r["survivors"]
        assert isinstance(survivors, dict)
        lines.append(f"| {r['module']} | {r['mutants']} | {r['killed']} | {len(r['equivalent'])} "  # type: ignore[arg-type]
                     f"| {len(survivors)} | {r['kill_rate']}% | {r['seconds']} s |")
    for r in found:
        survivors = r["survivors"]
        assert isinstance(survivors, dict)
        if survivors or r["equivalent"]:
            lines += ["", f"## {r['module']}"]
        for name in r["equivalent"]:  # type: ignore[attr-defined]
            lines += ["", f"- `{name}` (equivalent): {EQUIVALENT[name]}"]
        for name, diff in survivors.items():
            lines += ["", f"### {name}", "", "```diff", diff, "```"]
    return "\n".join(lines) + "\n"


def reclassify(found: dict[str, object]) -> dict[str, object]:
    """A saved module result with the current ``EQUIVALENT`` applied (``--report``)."""
    verdicts = found["verdicts"]
    survivors = found["survivors"]
    assert isinstance(verdicts, dict) and isinstance(survivors, dict)
    equivalent = sorted(n for n in verdicts if n in EQUIVALENT)
    counted = len(verdicts) - len(equivalent)
    killed = found["killed"]
    assert isinstance(killed, int)
    return {
        **found,
        "equivalent": equivalent,
        "survivors": {n: d for n, d in survivors.items() if n not in EQUIVALENT},
        "kill_rate": round(100 * killed / counted, 1) if counted else None,
    }


def main(argv: list[str]) -> int:
    if argv == ["--report"]:  # rewrite report.md from results.json with the current EQUIVALENT
        ordered = [reclassify(r) for r in json.loads((OUT / "results.json").read_text())]
        (OUT / "results.json").write_text(json.dumps(ordered, indent=1))
        (OUT / "report.md").write_text(report(ordered))
        print((OUT / "report.md").read_text().split("\n\n## ")[0])
        return 0
    modules = argv or MODULES
    unknown = [m for m in modules if m not in SELECTION]
    if unknown:
        print(f"unknown modules {unknown}; choose from {MODULES}", file=sys.stderr)
        return 2
    children = int(os.environ.get("MUTATION_CHILDREN", "1"))
    OUT.mkdir(exist_ok=True)
    if os.environ.get("MUTATION_REUSE") != "1" or not WORK.exists():
        prepare()
    saved = OUT / "results.json"
    found = {r["module"]: r for r in json.loads(saved.read_text())} if saved.exists() else {}
    for module in modules:
        found[module] = run(module, children)
        ordered = [found[m] for m in MODULES if m in found]
        saved.write_text(json.dumps(ordered, indent=1))
        (OUT / "report.md").write_text(report(ordered))
        r = found[module]
        print(f"[mutation] {module}: {r['killed']}/{r['mutants']} killed, {len(r['equivalent'])} equivalent, "  # type: ignore[arg-type]
              f"kill rate {r['kill_rate']}% in {r['seconds']} s", file=sys.stderr)
    print(f"[mutation] report: {OUT / 'report.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
