#!/usr/bin/env python3
"""Run the test suite as two concurrent pytest lanes (what `make test` and `make unit` call).

Why two lanes: about half of the suite's time is `promtool test rules` in tests/rules, which keeps one
core busy, while most of the rest waits on real servers (the API server, Prometheus, Alertmanager,
pods) and leaves the CPU idle. Run one after the other they took about 30 minutes on a 2-core machine;
side by side the suite takes the time of the longer lane.

- The promtool lane (``tests/rules``, plus ``BESIDE_PROMTOOL``: the kube-apiserver restart test, which
  starts and restarts a control plane of its own) writes to ``.test-lanes/promtool.log``; its output is printed
  when both lanes are done (the other lane streams live, so CI shows progress).
- Every test still runs exactly once, in one of the lanes; the exit status is non-zero when either
  lane fails. ``TEST_LANES=1`` runs one plain pytest instead (e.g. to read a single ordered log).
- Extra arguments are passed to both lanes (``make test PYTEST_ARGS="-x"``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROMTOOL_LANE = "tests/rules"
# Tests that wait on a control plane of their own, not the shared one: they go beside the promtool lane,
# which is the shorter one (about 11 against 18 minutes), so the suite takes no longer.
BESIDE_PROMTOOL = ("tests/ha/test_apiserver_restart.py",)


def main(argv: list[str]) -> int:
    pytest = [sys.executable, "-m", "pytest", "-q", *argv]
    if os.environ.get("TEST_LANES", "2") == "1":
        return subprocess.call(pytest, cwd=REPO)
    logs = REPO / ".test-lanes"
    logs.mkdir(exist_ok=True)
    log_path = logs / "promtool.log"
    started = time.monotonic()
    with log_path.open("w") as log:
        # Its own cache-less session: two sessions writing .pytest_cache at once would race.
        promtool_lane = subprocess.Popen(
            [*pytest, "-p", "no:cacheprovider", PROMTOOL_LANE, *BESIDE_PROMTOOL],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        print(f"test lanes: {PROMTOOL_LANE} runs alongside (log: {log_path.relative_to(REPO)})", flush=True)
        try:
            ignored = [f"--ignore={path}" for path in (PROMTOOL_LANE, *BESIDE_PROMTOOL)]
            rest = subprocess.call([*pytest, *ignored], cwd=REPO)
        except KeyboardInterrupt:
            promtool_lane.terminate()
            raise
        if promtool_lane.poll() is None:
            print(f"test lanes: waiting for {PROMTOOL_LANE} ...", flush=True)
        promtool = promtool_lane.wait()
    print(f"\n==== {PROMTOOL_LANE} lane (exit {promtool}) ====", flush=True)
    sys.stdout.write(log_path.read_text())
    print(
        f"test lanes: other tests exit {rest}, {PROMTOOL_LANE} exit {promtool}, "
        f"{time.monotonic() - started:.0f} s in all",
        flush=True,
    )
    return rest or promtool


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
