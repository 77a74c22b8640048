"""A token bucket for the status refresher's writes.

When Prometheus comes back after an outage every SLO's PrometheusReachable condition flips at once: with
10,000 SLOs that would be 10,000 PATCHes in one burst. The refresher takes one token per write; without
a token the write waits for a later cycle (the status it would write is recomputed then, so nothing is
lost, only delayed), and the API server sees at most ``rate`` writes per second after a ``burst``.
Pure: the caller passes the time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TokenBucket:
    rate: float  # tokens added per second
    burst: float  # the most tokens held
    tokens: float = -1.0  # -1: full (a fresh bucket starts with a burst)
    updated: float | None = None

    def take(self, now: float) -> bool:
        """One token if there is one at ``now`` (seconds, any monotonic origin)."""
        if self.tokens < 0:
            self.tokens = self.burst
        if self.updated is not None and now > self.updated:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now if self.updated is None else max(self.updated, now)
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False
