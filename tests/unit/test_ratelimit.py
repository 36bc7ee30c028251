"""The token bucket: never over the quota in any window, first come first served."""

from __future__ import annotations

import asyncio
import bisect
import math
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netterms_daemon.bigcommerce.ratelimit import RateLimitHeaders, TokenBucket
from tests.support.clocks import FakeClock, VirtualClock

EPSILON = 1e-6


@dataclass
class FixedWindowStore:
    """The store's side: a quota per fixed window, partly spent by other apps."""

    quota: int
    window_s: float
    offset_s: float
    others_per_window: int
    used: dict[int, int] = field(default_factory=dict)

    def serve(self, at: float) -> RateLimitHeaders:
        index = math.floor((at - self.offset_s) / self.window_s)
        self.used[index] = self.used.get(index, self.others_per_window) + 1
        window_end = self.offset_s + (index + 1) * self.window_s
        return RateLimitHeaders(
            requests_left=self.quota - self.used[index],
            requests_quota=self.quota,
            window_s=self.window_s,
            reset_s=window_end - at,
        )


async def run_callers(
    bucket: TokenBucket,
    clock: VirtualClock,
    arrivals: list[float],
    calls_each: int,
    store: FixedWindowStore | None,
) -> list[tuple[float, int]]:
    """Callers arrive, each makes its calls in turn; return (grant time, ticket)."""
    grants: list[tuple[float, int]] = []
    tickets = iter(range(10**9))

    async def caller(arrival: float) -> None:
        await clock.sleep(arrival)
        for _ in range(calls_each):
            ticket = next(tickets)
            await bucket.acquire()
            grants.append((clock.time, ticket))
            if store is not None:
                bucket.observe(store.serve(clock.time))

    tasks = [asyncio.ensure_future(caller(a)) for a in arrivals]
    await clock.run(tasks)
    return grants


def most_in_any_window(times: list[float], window_s: float) -> int:
    ordered = sorted(times)
    return max(
        (
            bisect.bisect_left(ordered, t + window_s - EPSILON) - i
            for i, t in enumerate(ordered)
        ),
        default=0,
    )


scenario = st.fixed_dictionaries(
    {
        "quota": st.integers(min_value=10, max_value=500),
        "window_s": st.floats(min_value=1, max_value=60),
        "burst_share": st.floats(min_value=0.01, max_value=0.5),
        "arrivals": st.lists(
            st.floats(min_value=0, max_value=90), min_size=1, max_size=25
        ),
        "calls_each": st.integers(min_value=1, max_value=25),
    }
)


@settings(max_examples=60, deadline=None)
@given(scenario)
def test_bucket_no_window_exceeds_quota_and_fifo(case: dict[str, object]) -> None:
    """Many concurrent callers: at most quota grants per window, in arrival order."""
    quota = int(case["quota"])  # type: ignore[call-overload]
    window_s = float(case["window_s"])  # type: ignore[arg-type]
    burst_share = float(case["burst_share"])  # type: ignore[arg-type]
    burst = max(1, min(quota - 1, round(quota * burst_share)))
    arrivals = list(case["arrivals"])  # type: ignore[call-overload]
    calls_each = int(case["calls_each"])  # type: ignore[call-overload]

    async def scenario_run() -> list[tuple[float, int]]:
        clock = VirtualClock()
        bucket = TokenBucket(quota, window_s, burst, clock=clock)
        return await run_callers(bucket, clock, arrivals, calls_each, store=None)

    grants = asyncio.run(scenario_run())

    times = [t for t, _ in grants]
    tickets = [ticket for _, ticket in grants]
    assert len(grants) == len(arrivals) * calls_each, "every waiter was served"
    assert most_in_any_window(times, window_s) <= quota
    assert tickets == sorted(tickets), "served in the order they asked"


@settings(max_examples=60, deadline=None)
@given(
    scenario,
    st.floats(min_value=0, max_value=60),
    st.floats(min_value=0, max_value=0.5),
)
def test_bucket_following_headers_never_draws_429(
    case: dict[str, object], offset_s: float, others_share: float
) -> None:
    """With other apps spending part of the quota, the store never counts too many."""
    quota = int(case["quota"])  # type: ignore[call-overload]
    window_s = float(case["window_s"])  # type: ignore[arg-type]
    burst_share = float(case["burst_share"])  # type: ignore[arg-type]
    burst = max(1, min(quota - 1, round(quota * burst_share)))
    store = FixedWindowStore(
        quota, window_s, offset_s % window_s, int(quota * others_share)
    )

    async def scenario_run() -> None:
        clock = VirtualClock()
        bucket = TokenBucket(quota, window_s, burst, clock=clock)
        await run_callers(
            bucket,
            clock,
            list(case["arrivals"]),  # type: ignore[call-overload]
            int(case["calls_each"]),  # type: ignore[call-overload]
            store,
        )

    asyncio.run(scenario_run())

    assert max(store.used.values()) <= quota


async def test_bucket_burst_then_steady_rate() -> None:
    """A fresh bucket grants its burst at once, then a steady rate.

    The steady rate is (quota - burst) / window per second.
    """
    clock = FakeClock()
    bucket = TokenBucket(150, 30.0, 6, clock=clock)

    for _ in range(6):
        assert await bucket.acquire() == 0
    await bucket.acquire()

    assert clock.elapsed == pytest.approx(1 / 4.8)


async def test_bucket_pause_holds_everyone() -> None:
    """After a 429 nobody is served until the pause is over."""
    clock = FakeClock()
    bucket = TokenBucket(150, 30.0, 6, clock=clock)

    bucket.pause(12.5)
    waited = await bucket.acquire()

    assert waited == pytest.approx(12.5)


def test_rate_limit_headers_parsed_case_insensitively() -> None:
    """Header names may arrive in any case; junk values are ignored."""
    from multidict import CIMultiDict

    headers = CIMultiDict(
        {
            "x-rate-limit-requests-left": "35",
            "X-RATE-LIMIT-REQUESTS-QUOTA": "150",
            "X-Rate-Limit-Time-Window-Ms": "30000",
            "X-Rate-Limit-Time-Reset-Ms": "15000",
            "X-Retry-After": "soon",
        }
    )

    parsed = RateLimitHeaders.parse(headers)

    assert parsed == RateLimitHeaders(35, 150, 30.0, 15.0, None)
    assert parsed.pause_s == 15.0


def test_bucket_refuses_impossible_settings() -> None:
    """A burst as large as the quota could not keep any window within it."""
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(150, 30.0, 150)
