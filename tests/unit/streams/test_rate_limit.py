"""Token buckets per producer, driven by a hand-held clock."""

from __future__ import annotations

import pytest

from streams.rate_limit import RateLimit, TokenBucketLimiter, retry_after_header


class HandClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_rate_then_refill() -> None:
    clock = HandClock()
    limiter = TokenBucketLimiter(RateLimit(rate=2.0, burst=3), clock)
    assert [limiter.acquire("gw") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("gw") == pytest.approx(0.5)
    clock.now += 0.25
    assert limiter.acquire("gw") == pytest.approx(0.25)
    clock.now += 0.25
    assert limiter.acquire("gw") == 0.0
    assert limiter.acquire("gw") == pytest.approx(0.5)
    clock.now += 100  # refills to the burst, not beyond
    assert [limiter.acquire("gw") for _ in range(4)][-1] == pytest.approx(0.5)


def test_producers_have_their_own_buckets() -> None:
    clock = HandClock()
    limiter = TokenBucketLimiter(RateLimit(rate=1.0, burst=1), clock)
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") > 0
    assert limiter.acquire("b") == 0.0


def test_rate_zero_is_no_limit() -> None:
    limiter = TokenBucketLimiter(RateLimit(rate=0, burst=1), HandClock())
    assert all(limiter.acquire("a") == 0.0 for _ in range(1000))


def test_a_clock_that_steps_back_never_adds_tokens() -> None:
    clock = HandClock()
    limiter = TokenBucketLimiter(RateLimit(rate=1.0, burst=1), clock)
    limiter.acquire("a")
    clock.now -= 50
    assert limiter.acquire("a") == pytest.approx(1.0)


@pytest.mark.parametrize(("rate", "burst"), [(-1, 1), (float("nan"), 1), (float("inf"), 1), (1, 0)])
def test_bad_limits_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match=r"rate|burst"):
        RateLimit(rate=rate, burst=burst)


@pytest.mark.parametrize(("wait", "header"), [(0.01, "1"), (1.0, "1"), (1.2, "2"), (30, "30")])
def test_retry_after_is_whole_seconds_rounded_up(wait: float, header: str) -> None:
    assert retry_after_header(wait) == header
