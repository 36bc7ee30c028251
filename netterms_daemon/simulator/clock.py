"""The simulated store's clock: real time sped up, and jumps on request."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta


class SimulatedClock:
    """
    Store time that runs `speed` times faster than real time.

    Tests and the demo `advance()` it to cross a due date or a retry delay at
    once. Order dates, webhook retry schedules and blocklists run on it;
    the API's rate limit does not, since callers pace themselves in real time.
    """

    def __init__(self, start: datetime | None = None, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._start = (start or datetime.now(UTC)).astimezone(UTC)
        self._real_start = time.monotonic()
        self._speed = speed
        self._jumped_s = 0.0

    @property
    def speed(self) -> float:
        """Simulated seconds per real second."""
        return self._speed

    def now(self) -> datetime:
        """The store's current time."""
        return self._start + timedelta(seconds=self.monotonic())

    def monotonic(self) -> float:
        """Simulated seconds since the clock started."""
        return (time.monotonic() - self._real_start) * self._speed + self._jumped_s

    async def sleep(self, seconds: float) -> None:
        """Wait this many simulated seconds (a jump ends no sleep early)."""
        await asyncio.sleep(max(0.0, seconds) / self._speed)

    def advance(self, seconds: float) -> None:
        """Jump forward; time never goes back."""
        if seconds < 0:
            raise ValueError("the clock cannot go back")
        self._jumped_s += seconds
