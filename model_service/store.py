"""Bounded in-memory store of recent predictions awaiting their ground truth.

Ground truth may arrive hours after a prediction, so entries live for a TTL; the store is also capped
in size (oldest entries are evicted first), which bounds memory whatever the traffic. Entries are kept
in insertion order, which is also expiry order, so expiry and eviction are O(1) amortised.

The store is per process: run the service with one worker per pod (the default here) or route the
feedback of a prediction to the replica that served it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


@dataclass(slots=True)
class StoredPrediction:
    label: int
    model_version: str
    created_at: float
    evaluated: bool = False


class FeedbackOutcome(Enum):
    ACCEPTED = "accepted"
    UNKNOWN = "unknown"  # never seen, expired or evicted
    DUPLICATE = "duplicate"  # ground truth already recorded


class PredictionStore:
    def __init__(
        self,
        *,
        ttl_seconds: float,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be > 0")
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, StoredPrediction] = OrderedDict()
        self._lock = threading.Lock()
        self.evicted = 0
        self.expired = 0

    def __len__(self) -> int:
        return len(self._entries)

    def _expire(self, now: float) -> None:
        deadline = now - self.ttl_seconds
        entries = self._entries
        while entries:
            key = next(iter(entries))
            if entries[key].created_at > deadline:
                break
            del entries[key]
            self.expired += 1

    def add(self, prediction_id: str, label: int, model_version: str) -> None:
        with self._lock:
            now = self._clock()
            self._expire(now)
            self._entries[prediction_id] = StoredPrediction(label, model_version, now)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
                self.evicted += 1

    def add_many(self, items: list[tuple[str, int]], model_version: str) -> None:
        with self._lock:
            now = self._clock()
            self._expire(now)
            for prediction_id, label in items:
                self._entries[prediction_id] = StoredPrediction(label, model_version, now)
            overflow = len(self._entries) - self.max_entries
            for _ in range(max(overflow, 0)):
                self._entries.popitem(last=False)
                self.evicted += 1

    def resolve(self, prediction_id: str) -> tuple[FeedbackOutcome, StoredPrediction | None]:
        """Mark a prediction as evaluated; returns the stored prediction on the first call only."""
        with self._lock:
            self._expire(self._clock())
            entry = self._entries.get(prediction_id)
            if entry is None:
                return FeedbackOutcome.UNKNOWN, None
            if entry.evaluated:
                return FeedbackOutcome.DUPLICATE, entry
            entry.evaluated = True
            return FeedbackOutcome.ACCEPTED, entry
