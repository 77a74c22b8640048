"""PromQL text built from parsed parts: selectors, label sets and exact numbers only.

Nothing here accepts a free-form user string. Metric selectors come from ``selectors.Selector``
(re-escaped), label names have been validated against Prometheus' grammar, and numbers pass through
``exact`` so rules read ``0.0144``, not ``0.014400000000000001``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import TYPE_CHECKING, Any

from slo_operator.durations import format_duration
from slo_operator.selectors import Matcher, Selector, escape_label_value

if TYPE_CHECKING:
    from slo_operator.model import SLO

# Names of the recorded series. Windows are a label, not part of the name, so the status of every SLO
# and every window is one instant query per series name (constant cost for N SLOs).
BAD_EVENTS = "slo:bad_events:rate"
TOTAL_EVENTS = "slo:total_events:rate"
# Running sums of the two base series (labelled ``tier``): long windows are differences of them (``tiers``).
RUNNING_SUMS = {BAD_EVENTS: "slo:bad_events:rate_sum", TOTAL_EVENTS: "slo:total_events:rate_sum"}
ERROR_RATIO = "slo:error_ratio"
# Burn rates are not recorded per window: error ratio / error budget, divided where they are read.
# The burn rate over the SLO's current burn-rate window (``SLO.current_burn_window``: the first alert's
# long window), the status' ``burnRate``; it keeps its source's ``window`` label, which names that window.
CURRENT_BURN_RATE = "slo:current_burn_rate:ratio"
SLI = "slo:sli:ratio"
OBJECTIVE = "slo:objective:ratio"
BUDGET_REMAINING = "slo:error_budget_remaining:ratio"
TIME_TO_EXHAUSTION = "slo:time_to_exhaustion:seconds"
# When the recorded series of the SLO's current indicator began (Unix seconds), labelled ``indicator``
# with a hash of the indicator: see ``coverage``. Not in RECORDED_SERIES: it reads only itself.
RECORDING_SINCE = "slo:recording_since:timestamp"
# Not recorded by the rules: the operator's own gauge (``metrics``), read by SLOForecastViolation.
FORECAST_VIOLATION = "slo_operator_forecast_violation_probability"
FORECAST_CONSUMED = "slo_operator_forecast_budget_consumed_ratio"  # median; ..._quantile_ratio{quantile}
FORECAST_CONSUMED_QUANTILE = "slo_operator_forecast_budget_consumed_quantile_ratio"

RECORDED_SERIES = (
    BAD_EVENTS, TOTAL_EVENTS, *RUNNING_SUMS.values(), ERROR_RATIO, CURRENT_BURN_RATE, SLI, OBJECTIVE,
    BUDGET_REMAINING, TIME_TO_EXHAUSTION,
)


_CONTEXT = Context(prec=12, rounding=ROUND_HALF_EVEN)


def exact(value: Decimal) -> str:
    """A number as PromQL text: at most 12 significant digits, no exponent, no float artefacts."""
    # plus() also turns -0 into 0 (0 + -0 is +0 under every rounding but ROUND_FLOOR): never "-0".
    rounded = _CONTEXT.plus(value).normalize()
    return format(rounded, "f")


def number(value: Decimal | int) -> str:
    return exact(Decimal(value))


def by(slo: SLO) -> str:
    """The aggregation clause keeping the SLO's groupBy labels."""
    return f" by ({', '.join(slo.group_by)})" if slo.group_by else ""


def on(slo: SLO) -> str:
    return f"on ({', '.join(slo.group_by)}) " if slo.group_by else ""


def series_labels(slo: SLO) -> dict[str, str]:
    """Labels every recorded series and alert of the SLO carries; ``recorded`` selects by them."""
    return {"slo": slo.name, "namespace": slo.namespace, "service": slo.service}


def record_rule(name: str, expr: str, slo: SLO, **extra: str) -> dict[str, Any]:
    """A recording rule of the SLO: its series' labels, plus ``extra`` (``window``, ``tier``...)."""
    return {"record": name, "expr": expr, "labels": {**series_labels(slo), **extra}}


def alert_rule_labels(slo: SLO, severity: str, **extra: str) -> dict[str, str]:
    """Labels of every alert the SLO generates (burn rate, no data, forecast, spend): the user's
    ``alerting.labels`` first, so the severity and the SLO's identity, which routing matches on, win."""
    return {**slo.alert_labels, "severity": severity, **series_labels(slo), **extra}


def recorded(name: str, slo: SLO, window: int | None = None) -> str:
    """Selector for one of this SLO's recorded series (optionally one window)."""
    parts = [f"slo={escape_label_value(slo.name)}", f"namespace={escape_label_value(slo.namespace)}"]
    if window is not None:
        parts.append(f"window={escape_label_value(format_duration(window))}")
    return f"{name}{{{','.join(parts)}}}"


# Ranges are a millisecond off their window so that no sample sits exactly on their left end (below).
RANGE_EPSILON = Decimal("0.001")


def window_range(window: int | Decimal) -> str:
    """Range over a *recorded* series: ``[W - 1ms]``, the same samples on Prometheus 2.x and 3.x.

    Prometheus 3 made ranges left-open, ``(t - W, t]``; 2.x includes both ends, ``[t - W, t]``. Rules
    evaluate in step with the series they read (a series recorded W ago has a sample exactly at t - W),
    so ``[W]`` holds one sample more on 2.x than on 3.x: 121 vs 120 samples of a 30s series over 1h.
    Stopping 1 ms short excludes that sample on both: ``(t - W + 1ms, t]`` holds exactly W / interval
    samples on every version, and one rule set gives the same numbers on a mixed fleet. (The report
    queries use the same range for the same reason.)
    """
    return f"[{format_duration(Decimal(window) - RANGE_EPSILON)}]"


def counter_range(window: int | Decimal) -> str:
    """Range for ``rate()`` over *scraped* counters: ``[W + 1ms]``, the same samples on 2.x and 3.x.

    When scrapes are in step with the evaluation (a scrape exactly W ago), 2.x's closed range includes
    that scrape and 3.x's left-open one does not: the rate then spans W on 2.x but W minus a scrape
    interval, extrapolated, on 3.x. Reaching 1 ms further includes it on both, so the base rate covers
    the whole base window, which the edge correction of the derived windows assumes (``rules``). Out
    of step, the extra millisecond changes nothing.
    """
    return f"[{format_duration(Decimal(window) + RANGE_EPSILON)}]"


def rate_sum(selector: Selector, window: int, slo: SLO) -> str:
    return f"sum{by(slo)} (rate({selector.render()}{counter_range(window)}))"


def le_matcher(threshold: Decimal) -> Matcher:
    """Match the bucket whose upper bound equals ``threshold``, in Go's and Python's spellings.

    Go clients write 1 as ``1``, Python's prometheus_client as ``1.0``; both write 0.2 as ``0.2``.
    """
    python_form = repr(float(threshold))
    forms = [python_form]
    if python_form.endswith(".0"):
        forms.insert(0, python_form[:-2])
    return Matcher("le", "=~", "|".join(f.replace(".", "\\.").replace("+", "\\+") for f in forms))
