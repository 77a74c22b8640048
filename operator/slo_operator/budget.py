"""Error-budget arithmetic (SRE Workbook, "Alerting on SLOs"), independent of Prometheus.

``ErrorBudgetCalculator`` answers the questions an on-call engineer asks of an SLO given an observed
error rate: how much failure is allowed, how fast the budget burns, how much is left after some days at
that rate and when it runs out. Objectives are read as decimals so 99.9 gives exactly 0.001, not
0.0010000000000000009. The operator and tests use it as the reference the Prometheus rules must match.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal


def _decimal(value: float | int | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _positive(value: float, name: str) -> None:
    # Written as a chained comparison so NaN (false against everything) is refused too.
    if not 0 < value < float("inf"):
        raise ValueError(f"{name} must be a positive finite number, got {value}")


class ErrorBudgetCalculator:
    """Error budget of an SLO with ``slo_target`` percent good over a ``window_days`` rolling window."""

    def __init__(self, slo_target: float = 99.9, window_days: float = 30) -> None:
        if not 0 < slo_target < 100:  # also refuses NaN (Decimal would raise InvalidOperation instead)
            raise ValueError(f"slo_target must be between 0 and 100 (exclusive), got {slo_target}")
        _positive(window_days, "window_days")
        target = _decimal(slo_target)
        self.slo_target = float(slo_target)
        self.window_days = float(window_days)
        self._allowed = (Decimal(100) - target) / Decimal(100)
        self._window = _decimal(window_days)

    def allowed_error_rate(self) -> float:
        """Fraction of events that may fail: 1 - target (0.001 for 99.9%)."""
        return float(self._allowed)

    def allowed_downtime(self) -> timedelta:
        """Total time of full outage the budget absorbs over the window (43.2 min for 99.9%/30d)."""
        return timedelta(days=float(self._window * self._allowed))

    def burn_rate(self, current_error_rate: float) -> float:
        """How many times faster than sustainable the budget burns (1.0 = exactly used up at window end)."""
        _check_rate(current_error_rate)
        return float(_decimal(current_error_rate) / self._allowed)

    def consumed_budget(self, current_error_rate: float, elapsed_days: float) -> float:
        """Fraction of the whole budget used after ``elapsed_days`` at ``current_error_rate``."""
        _check_rate(current_error_rate)
        if not 0 <= elapsed_days < float("inf"):
            raise ValueError(f"elapsed_days must be a finite number of days >= 0, got {elapsed_days}")
        return float(_decimal(current_error_rate) * _decimal(elapsed_days) / (self._allowed * self._window))

    def remaining_budget(self, current_error_rate: float, elapsed_days: float) -> float:
        """Fraction of the budget left (1.0 = untouched, 0 = exhausted, negative = overspent)."""
        return 1.0 - self.consumed_budget(current_error_rate, elapsed_days)

    def is_budget_exhausted(self, current_error_rate: float, elapsed_days: float) -> bool:
        """Whether the budget is used up (remaining at or below zero)."""
        return self.remaining_budget(current_error_rate, elapsed_days) <= 0

    def time_to_exhaustion(self, current_error_rate: float, elapsed_days: float) -> timedelta | None:
        """Time until the budget is gone if the rate holds; zero if already gone, None if it never burns."""
        remaining = self.remaining_budget(current_error_rate, elapsed_days)
        if remaining <= 0:
            return timedelta(0)
        burn = self.burn_rate(current_error_rate)
        if burn == 0:
            return None
        return timedelta(days=remaining * self.window_days / burn)

    def burn_rate_threshold(self, budget_percent: float, long_window_hours: float) -> float:
        """Burn rate that spends ``budget_percent`` % of the budget within ``long_window_hours``."""
        if not 0 < budget_percent <= 100:
            raise ValueError(f"budget_percent must be in (0, 100], got {budget_percent}")
        _positive(long_window_hours, "long_window_hours")
        hours = self._window * 24
        return float(_decimal(budget_percent) / Decimal(100) * hours / _decimal(long_window_hours))

    def time_to_fire(
        self, current_error_rate: float, long_window_hours: float, threshold: float
    ) -> timedelta:
        """How long an error rate takes to trip a burn-rate alert (SRE Workbook: (1-SLO)/e × W × t)."""
        _check_rate(current_error_rate)
        if current_error_rate == 0:
            raise ValueError("an error rate of 0 never fires an alert")
        _positive(long_window_hours, "long_window_hours")
        _positive(threshold, "threshold")
        hours = (
            self._allowed / _decimal(current_error_rate) * _decimal(long_window_hours) * _decimal(threshold)
        )
        return timedelta(hours=float(hours))


def _check_rate(rate: float) -> None:
    if not 0 <= rate <= 1:
        raise ValueError(f"an error rate is a fraction between 0 and 1, got {rate}")
