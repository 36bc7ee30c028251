"""The inbox worker: claim due events, process them concurrently, retry or give up.

It wakes on NOTIFY from the webhook route and on a timer (NOTIFY is a
hint, not a guarantee: a daemon that was down misses it). Events for one
order are serialised across every daemon sharing the database by a Postgres
advisory lock; an event whose order is busy waits a moment without losing
an attempt. A failed event is retried with growing pauses, and after the
configured number of attempts it is dead-lettered: kept, visible in
`netterms events list --state dead`, and replayable.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable

import asyncpg
import structlog

from netterms_daemon import failpoints
from netterms_daemon.config import WorkerSettings
from netterms_daemon.inbox import NOTIFY_CHANNEL, Inbox, InboxEvent
from netterms_daemon.locks import order_lock
from netterms_daemon.processor import OrderProcessor

log = structlog.get_logger(__name__)

# How long an event whose order is being handled elsewhere waits.
BUSY_ORDER_DELAY_S = 0.5

Connect = Callable[[], Awaitable[asyncpg.Connection]]


class Worker:
    """Processes one store's inbox until stopped."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        inbox: Inbox,
        processor: OrderProcessor,
        settings: WorkerSettings,
        connect: Connect,
    ) -> None:
        self._pool = pool
        self._inbox = inbox
        self._processor = processor
        self._settings = settings
        self._connect = connect
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.processed = 0
        self.dead_lettered = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and process until stop is set; then let in-flight events finish."""
        listener = await self._listen()
        try:
            while not stop.is_set():
                claimed = await self._claim_free_slots()
                if not claimed:
                    await self._wait_for_work(stop)
        finally:
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            if listener is not None:
                with contextlib.suppress(Exception):
                    await listener.close()

    async def _claim_free_slots(self) -> int:
        free = self._settings.concurrency - len(self._tasks)
        if free <= 0:
            await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
            return 1
        events = await self._inbox.claim(free, self._settings.lease_s, self.name)
        for event in events:
            task = asyncio.create_task(self._process(event), name=f"event-{event.id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(events)

    async def _wait_for_work(self, stop: asyncio.Event) -> None:
        self._wake.clear()
        waiters = [
            asyncio.ensure_future(self._wake.wait()),
            asyncio.ensure_future(stop.wait()),
        ]
        try:
            await asyncio.wait(
                waiters,
                timeout=self._settings.poll_interval_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _listen(self) -> asyncpg.Connection | None:
        try:
            connection = await self._connect()
            await connection.add_listener(NOTIFY_CHANNEL, self._on_notify)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("worker.listen_failed", error=str(exc), fallback="polling")
            return None
        return connection

    def _on_notify(self, *args: object) -> None:
        self._wake.set()

    async def _process(self, event: InboxEvent) -> None:
        structlog.contextvars.bind_contextvars(event_id=event.id, scope=event.scope)
        failpoints.reach("after_claim")
        try:
            async with self._lock(event.resource_id) as got:
                if not got:
                    await self._inbox.defer(event.id, BUSY_ORDER_DELAY_S)
                    return
                outcome = await self._processor.handle(event)
                # The effect happened; losing this write would only repeat a no-op.
                await asyncio.shield(self._inbox.complete(event.id))
            self.processed += 1
            log.debug("webhook.processed", outcome=outcome, attempts=event.attempts)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._failed(event, exc)
        finally:
            structlog.contextvars.unbind_contextvars("event_id", "scope")

    def _lock(
        self, resource_id: int | None
    ) -> contextlib.AbstractAsyncContextManager[bool]:
        if resource_id is None:
            return contextlib.nullcontext(True)
        return order_lock(self._pool, self._inbox.store_hash, resource_id)

    async def _failed(self, event: InboxEvent, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"
        try:
            if event.attempts >= self._settings.max_attempts:
                await self._inbox.dead_letter(event.id, error)
                self.dead_lettered += 1
                log.error("webhook.dead_lettered", attempts=event.attempts, error=error)
                return
            delay = min(
                self._settings.retry_initial_s * 2 ** (event.attempts - 1),
                self._settings.retry_max_s,
            )
            await self._inbox.retry_later(event.id, delay, error)
            log.warning(
                "webhook.retrying",
                attempts=event.attempts,
                retry_in_s=delay,
                error=error,
            )
        except (OSError, asyncpg.PostgresError) as db_error:
            # The lease will run out and the event will be claimed again.
            log.warning("webhook.retry_not_recorded", error=str(db_error))
