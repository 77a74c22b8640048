"""Rules shared by every SLO of a namespace: one rule per window, not one per SLO and window.

A rule evaluation has a fixed cost whatever it reads: its query text is parsed, and a querier is opened
with index look-ups in every block its ranges touch, for every selector. Per SLO that cost is paid once
per rule and SLO; one rule over all of a namespace's SLOs pays it once. So what each SLO needs its own
selectors or text for stays in its own groups (``rules``: the two base rates read from the raw series,
the fine running sums, the recording start, the objective, the alerts and the spend), and everything
downstream that differs between SLOs only in the ``slo`` and ``namespace`` matchers is computed here,
vectorised over the namespace, keyed by (slo, namespace, groupBy labels): the windows' error ratios,
the current burn rate, the SLI, the budget remaining, the time to exhaustion, the running sums' start
and their coarse copies (``tiers``).

**Parameters.** What differs between SLOs (which windows each records and how, its budget, its SLO
window) comes from the objective series every SLO records (``slo:objective:ratio``, one series per
SLO): its value is the objective (the budget is ``1 - objective``) and its labels carry the rest
(``PARAMS``). A shared rule is restricted to the SLOs that need it with ``and on (slo, namespace)``
and a matcher on those labels, so no SLO records a series it did not record before. Editing an SLO's
objective, alerts or windows changes only its objective series: the base rates and the running sums,
which the shared rules select by namespace, go on (no budget history is lost).

**The ``service`` label.** A shared rule cannot set it statically. The error ratios and the SLI take it
from the base rates and the fine running sums (the SLO's own rules label those); the start and the
coarse copies fold it away (``without (service)``), as every read of the running sums already did, so
editing an SLO's service does not restart its sums.

**What the shared object depends on:** the namespace's set of SLO shapes (windows and forms in use, SLO
windows, the longest window), not the SLOs' names: a namespace of a thousand SLOs made from one
template has the same shared rules as one of two, and adding an SLO of a known shape changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from slo_operator import tiers as tiering
from slo_operator.durations import format_duration, parse_duration
from slo_operator.model import SLO
from slo_operator.promql import (
    BAD_EVENTS,
    BUDGET_REMAINING,
    CURRENT_BURN_RATE,
    ERROR_RATIO,
    OBJECTIVE,
    RUNNING_SUMS,
    SLI,
    TIME_TO_EXHAUSTION,
    TOTAL_EVENTS,
    number,
    window_range,
)
from slo_operator.selectors import escape_label_value

FAST_GROUP_MAX_WINDOW = tiering.FAST_GROUP_MAX_WINDOW
# Labels of the objective series that parameterise the shared rules.
WINDOWS_PARAM = "slo_windows"  # ",5m/r,1h/e4.5,1d/t,": the error-ratio windows recorded, each with its form
CURRENT_PARAM = "slo_current"  # the current burn-rate window
SLI_PARAM = "slo_sli"  # the SLO window and how its SLI is read ("30d/t", "1d/rec")
TIERED_PARAM = "slo_tiered"  # "1" when the SLO has running sums
PARAMS = (WINDOWS_PARAM, CURRENT_PARAM, SLI_PARAM, TIERED_PARAM)
RECORDED_FORM = "rec"
# Group names: an SLO's groups are ``slo:<namespace>:<name>:<kind>``; a Kubernetes name cannot hold "*".
SHARED_NAME = "*"


def shared_group_name(namespace: str, kind: str) -> str:
    return f"slo:{namespace}:{SHARED_NAME}:{kind}"


def window_form(slo: SLO, window: int, fast_interval: Decimal) -> str:
    """How an error-ratio window is computed: ``r`` the base rates' ratio (the base window), ``t`` from the
    running sums, ``e<k>`` a sum of the base series with the edge correction k, ``p`` a plain sum."""
    if slo.method == "Occurrences" and window == slo.base_window:
        return "r"
    if tiering.tiered(window):
        return "t"
    k = edge_factor(slo, window, fast_interval)
    return f"e{number(k)}" if k is not None else "p"


def edge_factor(slo: SLO, window: int, fast_interval: Decimal) -> Decimal | None:
    """The edge correction of a fast window (``rules._window_sum``), None when there is none."""
    if slo.method != "Occurrences" or window > FAST_GROUP_MAX_WINDOW:
        return None
    k = (Decimal(slo.base_window) - fast_interval) / (2 * fast_interval)
    return k if k > 0 else None


def _key(window: int, form: str) -> str:
    return f"{format_duration(window)}/{form}"


def ratio_windows(slo: SLO) -> tuple[int, ...]:
    needed = {slo.base_window, slo.current_burn_window}
    for alert in slo.alerts:
        needed.update((alert.long_window, alert.short_window))
    return tuple(w for w in slo.windows if w in needed)


def params(slo: SLO, fast_interval: str) -> dict[str, str]:
    """The objective series' parameter labels for ``slo``."""
    fine = parse_duration(fast_interval)
    ratios = ratio_windows(slo)
    keys = [_key(w, window_form(slo, w, fine)) for w in ratios]
    sli = RECORDED_FORM if slo.window in ratios else window_form(slo, slo.window, fine)
    found = {
        WINDOWS_PARAM: "," + ",".join(keys) + ",",
        CURRENT_PARAM: format_duration(slo.current_burn_window),
        SLI_PARAM: _key(slo.window, sli),
    }
    if tiering.plan(slo, fine) is not None:
        found[TIERED_PARAM] = "1"
    return found


# ---- selectors ---------------------------------------------------------------------------------------


def _ns(namespace: str, *extra: str) -> str:
    return ",".join([f"namespace={escape_label_value(namespace)}", *extra])


def _sel(name: str, namespace: str, *extra: str) -> str:
    return f"{name}{{{_ns(namespace, *extra)}}}"


def _param(namespace: str, name: str, value: str, regex: bool = False) -> str:
    op = "=~" if regex else "="
    return _sel(OBJECTIVE, namespace, f"{name}{op}{escape_label_value(value)}")


def _window_param(namespace: str, key: str) -> str:
    return _param(namespace, WINDOWS_PARAM, f".*,{re.escape(key)},.*", regex=True)


def _restrict(expr: str, param: str) -> str:
    return f"(\n{expr}\n)\nand on (slo, namespace) {param}"


def _budget(namespace: str) -> str:
    return f"(1 - {_sel(OBJECTIVE, namespace)})"


# ---- windows -----------------------------------------------------------------------------------------


def _fast_sum(series: str, window: int, k: Decimal | None) -> str:
    """``rules._window_sum`` with groupBy labels, over every series of the namespace (labels kept)."""
    summed = f"sum_over_time({series}{window_range(window)})"
    if k is None:
        return summed
    label = format_duration(window)
    return f"({summed} + {number(k)} * ({series} - ({series} offset {label} or {series} * 0)))"


def _running(base: str, namespace: str) -> str:
    return _sel(RUNNING_SUMS[base], namespace)


def _newest(base: str, namespace: str, offset: int | None = None) -> str:
    shifted = f" offset {format_duration(offset)}" if offset else ""
    matrix = f"{_running(base, namespace)}[{format_duration(tiering.CARRY)}]{shifted}"
    return f"max without (tier, service) (last_over_time({matrix}))"


def _copies(base: str, namespace: str) -> str:
    fine = escape_label_value(tiering.Tiers.fine_label)
    return _sel(RUNNING_SUMS[base], namespace, f"{tiering.TIER_LABEL}!={fine}")


def _tiered_sum(base: str, namespace: str, window: int) -> str:
    """``tiers.window_sum`` over the namespace: S(t) - S(t - W), else S(t). S(t) is the fine running sum
    (the SLO's own rule, labelled with its service); S(t - W) folds the service label away."""
    fine = escape_label_value(tiering.Tiers.fine_label)
    now = f"max without (tier) ({_sel(RUNNING_SUMS[base], namespace, f'{tiering.TIER_LABEL}={fine}')})"
    inside = f"{_copies(base, namespace)}{window_range(window)}"
    then = (
        f"min without (tier, service) (\n      {_newest(base, namespace, window)}\n"
        f"      or min_over_time({inside})\n    )"
    )
    return f"(\n  {now}\n  - ignoring (service) group_left ()\n  {then}\n)\nor {now}"


def _ratio(namespace: str, window: int, form: str) -> str:
    bad, total = _sel(BAD_EVENTS, namespace), _sel(TOTAL_EVENTS, namespace)
    if form == "r":
        return f"{bad} / ({total} > 0)"
    if form == "t":
        bad_sum = _tiered_sum(BAD_EVENTS, namespace, window)
        total_sum = _tiered_sum(TOTAL_EVENTS, namespace, window)
        return f"(\n{bad_sum}\n)\n/\n(\n(\n{total_sum}\n) > 0\n)"
    k = Decimal(form[1:]) if form.startswith("e") else None
    return f"{_fast_sum(bad, window, k)}\n/\n({_fast_sum(total, window, k)} > 0)"


def _record(name: str, expr: str, **labels: str) -> dict[str, Any]:
    rule: dict[str, Any] = {"record": name, "expr": expr}
    if labels:
        rule["labels"] = labels
    return rule


def _forms(slos: Iterable[SLO], fast_interval: str) -> list[tuple[int, str]]:
    fine = parse_duration(fast_interval)
    found = {(w, window_form(slo, w, fine)) for slo in slos for w in ratio_windows(slo)}
    return sorted(found)


# ---- the groups ----------------------------------------------------------------------------------------


def start_expr(base: str, namespace: str, reach: int) -> str:
    """``tiers.start_expr`` over the namespace's SLOs with running sums."""
    zero = (
        f"0 * sum without (window, service) (\n  {_sel(base, namespace)}\n"
        f"  and on (slo, namespace) {_param(namespace, TIERED_PARAM, '1')}\n)"
    )
    copies = f"{_copies(base, namespace)}[{format_duration(reach)}]"
    return f"{zero}\nunless max without (tier, service) (last_over_time({copies}))"


def coarse_expr(base: str, namespace: str, reach: int) -> str:
    """``tiers.coarse_expr`` over the namespace: the newest running-sum value within ``CARRY``, else the
    copy's own last value within ``reach``, else 0 for an SLO with running sums and a base sample."""
    coarse = escape_label_value(tiering.Tiers.coarse_label)
    own = _sel(RUNNING_SUMS[base], namespace, f"{tiering.TIER_LABEL}={coarse}")
    zero = (
        f"0 * sum without (window, service) ({_sel(base, namespace)}"
        f" and on (slo, namespace) {_param(namespace, TIERED_PARAM, '1')})"
    )
    return (
        f"{_newest(base, namespace)}\n"
        f"or max without (tier, service) (last_over_time({own}[{format_duration(reach)}]))\n"
        f"or {zero}"
    )


def shared_groups(namespace: str, slos: list[SLO], fast_interval: str = "30s",
                  slow_interval: str = "2m") -> list[dict[str, Any]]:
    """The namespace's shared groups (fast, slow, and the coarse tier when any SLO has running sums)."""
    slos = [slo for slo in slos if slo.namespace == namespace]
    if not slos:
        return []
    fine = parse_duration(fast_interval)
    fast: list[dict[str, Any]] = []
    slow: list[dict[str, Any]] = []
    plans = [p for p in (tiering.plan(slo, fine) for slo in slos) if p is not None]
    coarse: list[dict[str, Any]] = []
    if plans:
        longest = max(p.longest for p in plans)
        for base in (BAD_EVENTS, TOTAL_EVENTS):
            slow.append(_record(RUNNING_SUMS[base], start_expr(base, namespace, longest),
                                **{tiering.TIER_LABEL: tiering.Tiers.start_label}))
            coarse.append(_record(RUNNING_SUMS[base], coarse_expr(base, namespace, longest),
                                  **{tiering.TIER_LABEL: tiering.Tiers.coarse_label}))
    for window, form in _forms(slos, fast_interval):
        key = _key(window, form)
        rule = _record(ERROR_RATIO, _restrict(_ratio(namespace, window, form), _window_param(namespace, key)),
                       window=format_duration(window))
        (fast if window <= FAST_GROUP_MAX_WINDOW else slow).append(rule)
    for current in sorted({slo.current_burn_window for slo in slos}):
        label = format_duration(current)
        expr = (
            f"{_sel(ERROR_RATIO, namespace, f'window={escape_label_value(label)}')}\n"
            f"/ on (slo, namespace) group_left ()\n(1 - {_param(namespace, CURRENT_PARAM, label)})"
        )
        (fast if current <= FAST_GROUP_MAX_WINDOW else slow).append(_record(CURRENT_BURN_RATE, expr))
    sli_keys = sorted({params(slo, fast_interval)[SLI_PARAM] for slo in slos})
    for key in sli_keys:
        duration, form = key.split("/", 1)
        window = int(parse_duration(duration))
        if form == RECORDED_FORM:
            ratio = _sel(ERROR_RATIO, namespace, f"window={escape_label_value(duration)}")
            param = _param(namespace, SLI_PARAM, key)
            slow.append(_record(SLI, f"1 - {ratio}\nand on (slo, namespace) {param}"))
        else:
            # Without the base rates' own ``window`` label, which a ratio of the base series keeps.
            ratio = _ratio(namespace, window, form)
            expr = f"1 - max without (window) (\n{ratio}\n)"
            slow.append(_record(SLI, _restrict(expr, _param(namespace, SLI_PARAM, key))))
    slow.append(_record(
        BUDGET_REMAINING,
        f"1 - (1 - {_sel(SLI, namespace)})\n/ on (slo, namespace) group_left ()\n{_budget(namespace)}",
    ))
    for window in sorted({int(parse_duration(key.split('/', 1)[0])) for key in sli_keys}):
        label = format_duration(window)
        expr = (
            f"clamp_min({_sel(BUDGET_REMAINING, namespace)}, 0) * {window}\n"
            f"/ ignoring (window) ({_sel(CURRENT_BURN_RATE, namespace)} > 0)\n"
            f"and on (slo, namespace) {_param(namespace, SLI_PARAM, f'{re.escape(label)}/.*', regex=True)}"
        )
        slow.append(_record(TIME_TO_EXHAUSTION, expr))
    groups = [
        {"name": shared_group_name(namespace, "fast"), "interval": fast_interval, "rules": fast},
        {"name": shared_group_name(namespace, "slow"), "interval": slow_interval, "rules": slow},
    ]
    if plans:
        interval = tiering.coarse_interval(max(p.longest for p in plans))
        groups.append({"name": shared_group_name(namespace, "tier"), "interval": format_duration(interval),
                       "rules": coarse})
    return [g for g in groups if g["rules"]]


def shape(slo: SLO, fast_interval: str) -> tuple[tuple[str, str], ...]:
    """What of an SLO the shared rules depend on (its parameters and its longest tiered window): SLOs of
    one shape need the same shared rules, whatever their names."""
    plan = tiering.plan(slo, parse_duration(fast_interval))
    found = {**params(slo, fast_interval), "longest": str(plan.longest if plan is not None else 0)}
    return tuple(sorted(found.items()))
