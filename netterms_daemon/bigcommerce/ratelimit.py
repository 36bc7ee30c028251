"""A token bucket per store that keeps every API call inside the store's quota.

BigCommerce counts requests per store in fixed windows (150 per 30 s on the
standard plan) shared by every app on the store. The bucket refills
continuously at `(quota - burst) / window`, so a burst plus a full window of
refill never exceeds the quota in any window of that length, whatever its
alignment with the store's own windows. Each response's `X-Rate-Limit-*`
headers then correct the bucket: the quota and window follow the store's
plan, and the tokens are clamped so that what the bucket will grant before
the store's window resets fits in what the store says is left (other apps
spend the same quota). A 429 pauses every caller until the store's reset.

Pure apart from the injected clock, so it is tested without sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from netterms_daemon.clock import Clock, SystemClock

STANDARD_QUOTA = 150
STANDARD_WINDOW_S = 30.0
STANDARD_BURST = 6
_EPSILON = 1e-9


@dataclass(frozen=True)
class RateLimitHeaders:
    """What one response said about the quota; any field may be missing."""

    requests_left: int | None = None
    requests_quota: int | None = None
    window_s: float | None = None
    reset_s: float | None = None
    retry_after_s: float | None = None

    @classmethod
    def parse(cls, headers: Mapping[str, str]) -> RateLimitHeaders:
        """Read the X-Rate-Limit-* and X-Retry-After headers, ignoring junk values."""
        return cls(
            requests_left=_int(headers.get("X-Rate-Limit-Requests-Left")),
            requests_quota=_int(headers.get("X-Rate-Limit-Requests-Quota")),
            window_s=_seconds(headers.get("X-Rate-Limit-Time-Window-Ms"), 1000),
            reset_s=_seconds(headers.get("X-Rate-Limit-Time-Reset-Ms"), 1000),
            retry_after_s=_seconds(headers.get("X-Retry-After"), 1),
        )

    @property
    def pause_s(self) -> float | None:
        """How long a 429 asks us to wait: the longer of reset and retry-after."""
        known = [s for s in (self.reset_s, self.retry_after_s) if s is not None]
        return max(known) if known else None


def _int(raw: str | None) -> int | None:
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _seconds(raw: str | None, per_second: int) -> float | None:
    try:
        value = float(raw) / per_second if raw is not None else None
    except ValueError:
        return None
    return value if value is None or value >= 0 else None


class TokenBucket:
    """Paces callers first come, first served, inside the store's quota."""

    def __init__(
        self,
        quota: int = STANDARD_QUOTA,
        window_s: float = STANDARD_WINDOW_S,
        burst: int = STANDARD_BURST,
        clock: Clock | None = None,
    ) -> None:
        if not 1 <= burst < quota or window_s <= 0:
            raise ValueError("need 1 <= burst < quota and a positive window")
        self._clock = clock or SystemClock()
        self._burst_share = burst / quota
        self._set_quota(quota, window_s)
        self._tokens = float(self.capacity)
        self._updated = self._clock.monotonic()
        self._paused_until = self._updated
        # asyncio.Lock wakes waiters in arrival order and lets no newcomer
        # jump ahead of them, which is what keeps the bucket fair.
        self._turn = asyncio.Lock()

    @property
    def quota(self) -> int:
        """Requests the store allows per window, as last learned."""
        return self._quota

    @property
    def window_s(self) -> float:
        """The store's window, as last learned."""
        return self._window_s

    @property
    def refill_per_s(self) -> float:
        """Tokens added per second."""
        return self._rate

    @property
    def tokens(self) -> float:
        """Tokens available now (negative while the store says we overspent)."""
        self._refill()
        return self._tokens

    async def acquire(self) -> float:
        """Wait for a token and take it; return the seconds waited."""
        started = self._clock.monotonic()
        async with self._turn:
            while (delay := self._delay()) > 0:
                await self._clock.sleep(delay)
            self._tokens -= 1
        return self._clock.monotonic() - started

    def observe(self, headers: RateLimitHeaders, in_flight: int = 0) -> None:
        """Correct the bucket from a response's headers."""
        learned = (headers.requests_quota, headers.window_s)
        if learned[0] and learned[1] and learned != (self._quota, self._window_s):
            self._set_quota(learned[0], learned[1])

        if headers.requests_left is None:
            return
        self._refill()
        # Requests still in flight will be counted against what is left.
        allowance = float(headers.requests_left - in_flight)
        if headers.reset_s is not None:
            allowance -= self._rate * headers.reset_s
        self._tokens = min(self._tokens, allowance)

    def pause(self, seconds: float) -> None:
        """Hold every caller for this long (a 429 told us the quota is spent)."""
        self._refill()
        self._paused_until = max(self._paused_until, self._clock.monotonic() + seconds)
        self._tokens = min(self._tokens, 0.0)

    @property
    def capacity(self) -> int:
        """The most tokens the bucket holds: the burst."""
        return max(1, round(self._quota * self._burst_share))

    def _set_quota(self, quota: int, window_s: float) -> None:
        self._quota = quota
        self._window_s = window_s
        self._rate = (quota - self.capacity) / window_s

    def _refill(self) -> None:
        now = self._clock.monotonic()
        gained = (now - self._updated) * self._rate
        self._tokens = min(float(self.capacity), self._tokens + gained)
        self._updated = now

    def _delay(self) -> float:
        self._refill()
        paused = self._paused_until - self._clock.monotonic()
        # Rounding can leave 0.999...: that is a whole token, or a fake clock
        # that cannot advance by 1e-17 would spin for ever.
        missing = 1 - self._tokens
        short = missing / self._rate if missing > _EPSILON else 0.0
        return max(paused, short)
