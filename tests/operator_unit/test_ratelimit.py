"""The refresher's write budget: a burst, then a steady rate; a paused bucket refills up to its burst."""

from __future__ import annotations

from slo_operator.ratelimit import TokenBucket


def test_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate=10, burst=5)
    assert [bucket.take(0.0) for _ in range(7)] == [True] * 5 + [False] * 2
    assert bucket.take(0.05) is False  # half a token
    assert bucket.take(0.1) is True
    assert bucket.take(0.1) is False


def test_ten_thousand_writes_at_once_are_spread_at_the_rate() -> None:
    bucket = TokenBucket(rate=100, burst=200)
    written = sum(bucket.take(0.0) for _ in range(10_000))
    assert written == 200
    written += sum(bucket.take(10.0) for _ in range(10_000))  # ten seconds later: the burst again at most
    assert written == 400


def test_time_going_backwards_adds_nothing() -> None:
    bucket = TokenBucket(rate=1, burst=1)
    assert bucket.take(100.0) is True
    assert bucket.take(50.0) is False
    assert bucket.take(100.5) is False
    assert bucket.take(101.0) is True

