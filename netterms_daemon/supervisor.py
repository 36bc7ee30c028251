"""Supervised background tasks: named, logged, restarted with backoff.

The worker and the reconciler run under a Supervisor. A task that raises is
logged with its traceback and started again after a growing pause, so a
passing fault (the database restarting, say) never silently ends a part of
the daemon. On shutdown every task sees the stop event and gets the grace
period to finish what it holds before it is cancelled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger(__name__)

TaskBody = Callable[[asyncio.Event], Awaitable[None]]

INITIAL_BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0
# A task that ran this long before failing is treated as healthy again.
HEALTHY_RUN_S = 300.0


@dataclass
class _Entry:
    name: str
    body: TaskBody
    restarts: int = 0
    task: asyncio.Task[None] | None = None


class Supervisor:
    """Runs each registered body until stop, restarting it when it fails."""

    def __init__(
        self,
        *,
        initial_backoff_s: float = INITIAL_BACKOFF_S,
        max_backoff_s: float = MAX_BACKOFF_S,
    ) -> None:
        self.stopping = asyncio.Event()
        self._initial_backoff_s = initial_backoff_s
        self._max_backoff_s = max_backoff_s
        self._entries: dict[str, _Entry] = {}

    def add(self, name: str, body: TaskBody) -> None:
        """Register a body; it starts now if the supervisor already runs."""
        if name in self._entries:
            raise ValueError(f"a task named {name!r} is already supervised")
        entry = _Entry(name, body)
        self._entries[name] = entry
        entry.task = asyncio.create_task(self._keep_running(entry), name=name)

    def restarts(self, name: str) -> int:
        """How many times a task was started again after failing."""
        return self._entries[name].restarts

    async def stop(self, grace_s: float) -> None:
        """Ask every task to stop, wait up to grace_s, then cancel the rest."""
        self.stopping.set()
        tasks = [e.task for e in self._entries.values() if e.task is not None]
        if not tasks:
            return

        _, pending = await asyncio.wait(tasks, timeout=grace_s)
        for task in pending:
            log.warning("task.cancelled", task=task.get_name(), grace_s=grace_s)
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _keep_running(self, entry: _Entry) -> None:
        backoff = self._initial_backoff_s
        while not self.stopping.is_set():
            started = time.monotonic()
            error = await self._run_once(entry)
            if self.stopping.is_set():
                break

            if time.monotonic() - started >= HEALTHY_RUN_S:
                backoff = self._initial_backoff_s
            if error is None:
                log.error("task.exited", task=entry.name, retry_in_s=backoff)
            else:
                log.error(
                    "task.crashed", task=entry.name, retry_in_s=backoff, exc_info=error
                )
            if await self._wait_or_stop(backoff):
                break

            entry.restarts += 1
            log.info("task.restarted", task=entry.name, restarts=entry.restarts)
            backoff = min(backoff * 2, self._max_backoff_s)

    async def _run_once(self, entry: _Entry) -> BaseException | None:
        """Run the body once; return what it raised, or None if it returned."""
        try:
            await entry.body(self.stopping)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return exc
        return None

    async def _wait_or_stop(self, delay_s: float) -> bool:
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=delay_s)
        except TimeoutError:
            return False
        return True
