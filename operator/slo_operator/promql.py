"""PromQL text built from parsed parts: selectors, label sets and exact numbers only.

Nothing here accepts a free-form user string. Metric selectors come from ``selectors.Selector``
(re-escaped), label names have been validated against Prometheus' grammar, and numbers pass through
``exact`` so rules read ``0.0144``, not ``0.014400000000000001``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import TYPE_CHECKING

from slo_operator.durations import format_duration
from slo_operator.selectors import Matcher, Selector, escape_label_value

if TYPE_CHECKING:
    from slo_operator.model import SLO

# Names of the recorded series. Windows are a label, not part of the name, so the status of every SLO
# and every window is one instant query per series name (constant cost for N SLOs).
BAD_EVENTS = "slo:bad_events:rate"
TOTAL_EVENTS = "slo:total_events:rate"
ERROR_RATIO = "slo:error_ratio"
BURN_RATE = "slo:burn_rate"
# The burn rate over the SLO's current burn-rate window (``SLO.current_burn_window``: the first alert's
# long window), the status' ``burnRate``; it keeps its source's ``window`` label, which names that window.
CURRENT_BURN_RATE = "slo:current_burn_rate:ratio"
SLI = "slo:sli:ratio"
OBJECTIVE = "slo:objective:ratio"
BUDGET_REMAINING = "slo:error_budget_remaining:ratio"
TIME_TO_EXHAUSTION = "slo:time_to_exhaustion:seconds"
WINDOW_SECONDS = "slo:window:seconds"
# When the recorded series of the SLO's current indicator began (Unix seconds), labelled ``indicator``
# with a hash of the indicator: see ``coverage``. Not in RECORDED_SERIES: it reads only itself.
RECORDING_SINCE = "slo:recording_since:timestamp"

RECORDED_SERIES = (
    BAD_EVENTS, TOTAL_EVENTS, ERROR_RATIO, BURN_RATE, CURRENT_BURN_RATE, SLI, OBJECTIVE, BUDGET_REMAINING,
    TIME_TO_EXHAUSTION, WINDOW_SECONDS,
)


_CONTEXT = Context(prec=12, rounding=ROUND_HALF_EVEN)


def exact(value: Decimal) -> str:
    """A number as PromQL text: at most 12 significant digits, no exponent, no float artefacts."""
    rounded = _CONTEXT.plus(value).normalize()
    text = format(rounded, "f")
    return text if text != "-0" else "0"


def number(value: Decimal | int) -> str:
    return exact(Decimal(value))


def by(slo: SLO) -> str:
    """The aggregation clause keeping the SLO's groupBy labels."""
    return f" by ({', '.join(slo.group_by)})" if slo.group_by else ""


def on(slo: SLO) -> str:
    return f"on ({', '.join(slo.group_by)}) " if slo.group_by else ""


def recorded(name: str, slo: SLO, window: int | None = None) -> str:
    """Selector for one of this SLO's recorded series (optionally one window)."""
    parts = [f"slo={escape_label_value(slo.name)}", f"namespace={escape_label_value(slo.namespace)}"]
    if window is not None:
        parts.append(f"window={escape_label_value(format_duration(window))}")
    return f"{name}{{{','.join(parts)}}}"


def rate_sum(selector: Selector, window: int, slo: SLO) -> str:
    return f"sum{by(slo)} (rate({selector.render()}[{format_duration(window)}]))"


def le_matcher(threshold: Decimal) -> Matcher:
    """Match the bucket whose upper bound equals ``threshold``, in Go's and Python's spellings.

    Go clients write 1 as ``1``, Python's prometheus_client as ``1.0``; both write 0.2 as ``0.2``.
    """
    python_form = repr(float(threshold))
    forms = [python_form]
    if python_form.endswith(".0"):
        forms.insert(0, python_form[:-2])
    return Matcher("le", "=~", "|".join(f.replace(".", "\\.").replace("+", "\\+") for f in forms))
