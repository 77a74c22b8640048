"""The simulator's picture: burn rate per window with each alert's threshold, the error budget left, and
when each alert fired. matplotlib is imported here only, when a plot is asked for, so neither the
operator nor the other commands load it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from slo_operator.durations import format_duration
from slo_operator.promql import BAD_EVENTS, ERROR_RATIO, TOTAL_EVENTS

if TYPE_CHECKING:
    from slo_operator.simulate import Outcome

COLOURS = {"critical": "#c0392b", "warning": "#e67e22"}


def plot_outcome(
    outcome: Outcome,
    path: Path,
    title: str,
    incident: tuple[float, float] | None = None,
    origin: float = 0.0,
) -> None:
    try:
        import matplotlib
    except ImportError:  # the operator image leaves the charting libraries out
        raise RuntimeError("--plot needs matplotlib: pip install 'slo-operator[reports]'") from None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    slo = outcome.slo
    hours = 3600.0
    figure, (burn, budget, spans) = plt.subplots(
        3, 1, figsize=(11, 8), sharex=True, gridspec_kw={"height_ratios": [3, 2, 1]}
    )
    figure.suptitle(title)
    windows = sorted({w for a in slo.alerts for w in (a.long_window, a.short_window)})
    for window in windows:
        ts, ratios = outcome.series(ERROR_RATIO, window=format_duration(window))
        values = ratios / float(slo.error_budget)
        if len(ts):
            label = f"burn rate {format_duration(window)}"
            burn.plot((ts - origin) / hours, values, label=label, linewidth=1)
    for alert in slo.alerts:
        burn.axhline(float(alert.threshold), linestyle="--", linewidth=0.8,
                     color=COLOURS.get(alert.severity, "grey"),
                     label=f"{alert.name} threshold {float(alert.threshold):g}")
    burn.set_yscale("symlog", linthresh=1)
    burn.set_ylabel("burn rate (× budget)")
    burn.legend(loc="upper right", fontsize=7, ncol=2)
    if incident is not None:
        for axis in (burn, budget, spans):
            left, right = (incident[0] - origin) / hours, (incident[1] - origin) / hours
            axis.axvspan(left, right, color="grey", alpha=0.12)

    ts, bad = outcome.series(BAD_EVENTS)
    _, total = outcome.series(TOTAL_EVENTS)
    if len(ts) > 1:
        step = float(ts[1] - ts[0])
        average = float(np.nanmean(total)) if np.any(~np.isnan(total)) else 0.0
        allowed = float(slo.error_budget) * average * slo.window
        spent = np.cumsum(np.nan_to_num(bad)) * step
        remaining = 100.0 * (1 - spent / allowed) if allowed > 0 else np.full(ts.shape, 100.0)
        budget.plot((ts - origin) / hours, remaining, color="#2c3e50")
    budget.set_ylabel(f"budget left (% of {format_duration(slo.window)})")
    budget.grid(alpha=0.3)

    names = [a.name for a in slo.alerts]
    for span in outcome.spans:
        if span.alert not in names:
            continue
        row = names.index(span.alert)
        end = span.resolved if span.resolved is not None else outcome.end
        bar = ((span.fired - origin) / hours, max(end - span.fired, 30) / hours)
        spans.broken_barh([bar], (row - 0.4, 0.8), color=COLOURS.get(span.severity, "grey"))
    spans.set_yticks(range(len(names)), names)
    spans.set_ylim(-0.6, len(names) - 0.4)
    spans.set_xlabel("hours since start" if not origin else f"hours since {origin:.0f} (Unix)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
