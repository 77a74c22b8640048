"""Money spent serving, measured: the CPU time the worker process used × a price per CPU-hour.

``CostMeter.charge()`` adds the process CPU time used since the previous charge, priced, to
``model_serving_cost_dollars_total``. The service charges after every prediction and on a timer, so CPU
used between requests (idle work, background tasks) is paid for too, as it would be on a bill. Each
worker process meters its own CPU time (``time.process_time``: every thread of the process); in
BentoML's multiprocess mode the counter is summed over workers.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from model_service.sli import SLITracker


class CostMeter:
    """Charges CPU seconds × ``price_per_cpu_hour`` / 3600 to the tracker's cost counter."""

    def __init__(
        self,
        tracker: SLITracker,
        price_per_cpu_hour: float,
        clock: Callable[[], float] = time.process_time,
    ) -> None:
        if not price_per_cpu_hour >= 0:
            raise ValueError(f"price per CPU-hour must be >= 0, not {price_per_cpu_hour!r}")
        self.tracker = tracker
        self.price_per_second = price_per_cpu_hour / 3600
        self._clock = clock
        self._last = clock()

    def charge(self) -> float:
        """Charge the CPU time used since the last charge; returns the money charged."""
        now = self._clock()
        used, self._last = max(0.0, now - self._last), now
        dollars = used * self.price_per_second
        self.tracker.record_cost(dollars)
        return dollars
