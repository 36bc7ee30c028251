"""Clocks for tests: time that passes only when someone sleeps."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta


class FakeClock:
    """Every sleep returns at once, moving this clock forward by its length.

    Enough for one coroutine at a time; see VirtualClock for many.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self.start = start or datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
        self.elapsed = 0.0
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)

    def monotonic(self) -> float:
        return self.elapsed

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.elapsed += max(0.0, seconds)
        await asyncio.sleep(0)


class VirtualClock:
    """Discrete-event time for many coroutines: sleepers wake in deadline order.

    `run(coroutines)` lets every task run until all are blocked, then jumps
    the clock to the earliest pending deadline and wakes those sleepers.
    """

    def __init__(self) -> None:
        self.time = 0.0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._sequence = itertools.count()

    def now(self) -> datetime:
        return datetime(2026, 1, 5, tzinfo=UTC) + timedelta(seconds=self.time)

    def monotonic(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        deadline = self.time + max(0.0, seconds)
        heapq.heappush(self._timers, (deadline, next(self._sequence), future))
        await future

    async def settle(self) -> None:
        """Let every runnable task run until all of them wait."""
        for _ in range(50):
            await asyncio.sleep(0)

    async def run(self, tasks: list[asyncio.Task[None]]) -> None:
        """Drive time forward until every task is done."""
        while not all(task.done() for task in tasks):
            await self.settle()
            if all(task.done() for task in tasks):
                break
            if not self._timers:
                raise AssertionError("deadlock: tasks wait but nobody sleeps")
            deadline = self._timers[0][0]
            self.time = max(self.time, deadline)
            while self._timers and self._timers[0][0] <= deadline:
                _, _, future = heapq.heappop(self._timers)
                if not future.done():
                    future.set_result(None)
        for task in tasks:
            task.result()
