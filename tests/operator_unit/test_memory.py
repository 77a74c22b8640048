"""The operator gives the memory of a burst back to the OS: glibc's malloc_trim, once work went quiet."""

from __future__ import annotations

from pathlib import Path

from slo_operator.memory import Trimmer, _libc_trim


def rss_kib() -> int:
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmRSS"))
    return int(line.split()[1])


def test_malloc_trim_returns_the_free_pages_of_a_burst() -> None:
    trim = _libc_trim()
    assert trim is not None, "glibc's malloc_trim not found"
    # 64 MiB in 1 KiB blocks (above pymalloc's 512 bytes: glibc's heap), all freed but the last: the
    # heap cannot shrink from its top, so only malloc_trim gives the pages below it back.
    blocks = [bytes(1024) for _ in range(64 * 1024)]
    keep = blocks[-1]
    full = rss_kib()
    del blocks
    trim()
    freed = full - rss_kib()
    assert freed > 32 * 1024, f"only {freed} KiB of 64 MiB given back"
    assert len(keep) == 1024


def test_trims_once_after_work_went_quiet() -> None:
    calls: list[int] = []
    trimmer = Trimmer(quiet=5.0, trim=lambda: calls.append(1) or 1)
    assert not trimmer.due(1000.0), "nothing happened yet: nothing to give back"
    trimmer.touch()
    now = trimmer._last_work
    assert not trimmer.due(now + 4.9), "work may still be going on"
    assert trimmer.due(now + 5.0)
    trimmer._last_work -= 5.0  # as if five quiet seconds went by
    assert trimmer.trim_if_due() and calls == [1]
    assert not trimmer.trim_if_due(), "once per burst"
    trimmer.touch()
    trimmer._last_work -= 5.0
    assert trimmer.trim_if_due() and calls == [1, 1]


def test_the_operator_process_imports_no_plotting() -> None:
    """`slo-operator run` imports the CLI and the handlers; matplotlib (simulate's and the tests' plots,
    tens of MiB) must stay out of the operator's memory. numpy stays in: the forecaster needs it in
    every refresh."""
    import subprocess
    import sys

    probe = (
        "import sys; sys.modules.setdefault('kubernetes', None)\n"
        "import slo_operator.cli, kopf\n"
        "from slo_operator import handlers\n"
        "print(sorted({m.split('.')[0] for m in sys.modules}))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "'slo_operator'" in loaded and "'kopf'" in loaded, loaded
    for heavy in ("matplotlib", "PIL", "scipy", "pandas"):
        assert f"'{heavy}'" not in loaded, f"the operator imports {heavy}"


def test_start_up_objects_leave_the_collectors_sight() -> None:
    import gc

    from slo_operator.memory import freeze_start_up

    try:
        freeze_start_up()
        assert gc.get_freeze_count() > 10_000, "the imported modules' objects are frozen"
    finally:
        gc.unfreeze()
