"""Input series of ``promtool test rules`` scenarios, in promtool's expanding notation."""

from __future__ import annotations


def counter(start: float, steps: list[tuple[float, int]]) -> str:
    """A counter from ``start``, growing phase by phase: ``steps`` of (increment per sample, samples).

    ``counter(0, [(2, 3), (5, 2)])`` is ``"0 2+2x2 11+5x1"``: 0, 2, 4, 6, 11, 16.
    """
    parts = [number(start)]
    value = start
    for increment, count in steps:
        if count <= 0:
            continue
        parts.append(f"{number(value + increment)}+{number(increment)}x{count - 1}")
        value += increment * count
    return " ".join(parts)


def number(value: float) -> str:
    """A sample value as promtool reads it: integers without a decimal point, others to 9 places
    (sums of decimal increments carry float artefacts such as 0.30000000000000004)."""
    return str(int(value)) if float(value).is_integer() else repr(round(value, 9))
