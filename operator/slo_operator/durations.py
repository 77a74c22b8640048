"""Prometheus duration strings, parsed to whole seconds and formatted back canonically.

Windows are kept as integer seconds everywhere inside the engine so that window arithmetic (scaling the
default alert windows to the SLO period, comparing short and long windows) is exact; they are turned
back into the shortest Prometheus spelling only when rules are rendered.
"""

from __future__ import annotations

import functools
import re
from decimal import Decimal

# Units Prometheus accepts in range selectors, largest first (canonical formatting walks this list).
UNIT_SECONDS: dict[str, Decimal] = {
    "y": Decimal(365 * 86400),
    "w": Decimal(7 * 86400),
    "d": Decimal(86400),
    "h": Decimal(3600),
    "m": Decimal(60),
    "s": Decimal(1),
    "ms": Decimal("0.001"),
}

_PART = re.compile(r"([0-9]+)(ms|y|w|d|h|m|s)")
# A duration as the API accepts it: one or more number+unit parts, largest unit first (Prometheus' rule).
DURATION_PATTERN = r"^([0-9]+(y|w|d|h|m|s|ms))+$"
# Windows in the API are a single number and unit ("30d", "90m"): that keeps them comparable in the
# CRD's CEL rules, which cannot parse Prometheus durations (CEL's duration() has no d/w units).
WINDOW_PATTERN = r"^[1-9][0-9]{0,5}(w|d|h|m|s)$"


class DurationError(ValueError):
    """A string that is not a Prometheus duration, with the reason and an example of a valid one."""


def parse_duration(text: str) -> Decimal:
    """Seconds in a Prometheus duration such as ``30d``, ``1h30m`` or ``200ms`` (exact, as a Decimal)."""
    if not isinstance(text, str) or not text:
        raise DurationError("must be a Prometheus duration such as 5m, 1h, 30d or 200ms")
    position = 0
    total = Decimal(0)
    last_rank = -1
    ranks = list(UNIT_SECONDS)
    for match in _PART.finditer(text):
        if match.start() != position:
            break
        rank = ranks.index(match.group(2))
        if rank <= last_rank:
            raise DurationError(f"{text!r}: units must go from largest to smallest, each once (e.g. 1h30m)")
        last_rank = rank
        total += int(match.group(1)) * UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(text):
        raise DurationError(f"{text!r} is not a Prometheus duration; use e.g. 5m, 1h, 30d or 200ms")
    if total <= 0:
        raise DurationError(f"{text!r} must be longer than zero")
    return total


def parse_window(text: str) -> int:
    """Whole seconds in a window (``30d``, ``90m``); sub-second windows make no sense for SLOs."""
    seconds = parse_duration(text)
    if seconds != seconds.to_integral_value() or seconds < 1:
        raise DurationError(f"{text!r}: windows are whole seconds or more (e.g. 5m)")
    return int(seconds)


def human_duration(seconds: float | Decimal) -> str:
    """A duration for people, ``3d4h`` style, rounded to the minute (hours and minutes under a day).

    Status (``timeToExhaustion``) and alert descriptions ("the whole budget lasts 2d2h") both use it,
    so they say the same thing for the same number.
    """
    if seconds <= 0:
        return "0m"
    minutes = max(1, round(float(seconds) / 60))
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h" if hours else f"{days}d"
    return f"{hours}h{mins}m" if hours and mins else (f"{hours}h" if hours else f"{mins}m")


@functools.lru_cache(maxsize=512)  # rendering an SLO's rules and dashboard asks for the same few dozens
def format_duration(seconds: int | Decimal) -> str:
    """The shortest Prometheus spelling of a duration: 2592000 -> ``30d``, 5400 -> ``1h30m``.

    Years and weeks are not used so that ``30d`` stays ``30d`` and ``28d`` stays ``28d`` (what users
    wrote), rather than ``4w``.
    """
    remaining = Decimal(seconds)
    if remaining <= 0:
        raise DurationError("durations must be positive")
    parts: list[str] = []
    for unit in ("d", "h", "m", "s", "ms"):
        size = UNIT_SECONDS[unit]
        count = int(remaining // size)
        if count:
            parts.append(f"{count}{unit}")
            remaining -= count * size
    if remaining:
        raise DurationError(f"{seconds} s cannot be written with millisecond resolution")
    return "".join(parts)
