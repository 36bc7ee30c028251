"""Mirror each order's payment schedule into an order metafield, many per call.

The schedule's home is Postgres; the metafield is a copy for apps that read
BigCommerce. Writing it once per order would cost every order a third API
call, so applying terms only records the order (schedule set, metafield id
empty) and wakes this writer, which waits a moment for others to join and
sends them together through the batch endpoint. The queue is the ledger
itself: an order waits until its metafield id is recorded, so a crash loses
nothing and the next start (or another daemon) picks the batch up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import structlog

from netterms_daemon.bigcommerce.client import BigCommerceClient
from netterms_daemon.bigcommerce.errors import BigCommerceError, NotFoundError
from netterms_daemon.bigcommerce.models import Metafield, MetafieldWrite
from netterms_daemon.clock import Clock
from netterms_daemon.ledger import Ledger

log = structlog.get_logger(__name__)

METAFIELD_NAMESPACE = "netterms"
METAFIELD_KEY = "schedule"
METAFIELD_DESCRIPTION = "netterms payment schedule"

# Lease each claimed order to one writer (daemons may share the database);
# a writer that dies lets the lease run out and another takes the order.
_CLAIM = """
WITH due AS (
    SELECT store_hash, order_id FROM tracked_orders
    WHERE store_hash = $1
      AND metafield_id IS NULL
      AND schedule IS NOT NULL
      AND state IN ('awaiting_payment', 'held', 'paid')
      AND (metafield_retry_at IS NULL OR metafield_retry_at <= now())
    ORDER BY order_id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE tracked_orders AS t
SET metafield_retry_at = now() + make_interval(secs => $3)
FROM due
WHERE t.store_hash = due.store_hash AND t.order_id = due.order_id
RETURNING t.order_id, t.schedule, t.due_date, t.overdue_flagged_at
"""
PENDING_QUERY = """
SELECT count(*) FROM tracked_orders
WHERE store_hash = $1
  AND metafield_id IS NULL
  AND schedule IS NOT NULL
  AND state IN ('awaiting_payment', 'held', 'paid')
"""
_RETRY_LATER = """
UPDATE tracked_orders SET metafield_retry_at = now() + make_interval(secs => $3)
WHERE store_hash = $1 AND order_id = ANY($2::bigint[])
"""


def schedule_value(schedule: dict[str, Any], overdue_since: date | None = None) -> str:
    """The metafield's text: the schedule, and since when it is overdue, if it is."""
    if overdue_since is not None:
        schedule = {**schedule, "overdue_since": overdue_since.isoformat()}
    return json.dumps(schedule, sort_keys=True)


def schedule_metafield(order_id: int, value: str) -> MetafieldWrite:
    """The metafield that carries an order's schedule."""
    return MetafieldWrite(
        order_id,
        METAFIELD_NAMESPACE,
        METAFIELD_KEY,
        value,
        description=METAFIELD_DESCRIPTION,
    )


@dataclass(frozen=True)
class FlushReport:
    """What one round of writing did."""

    written: int = 0
    calls: int = 0
    failed: int = 0


class MetafieldWriter:
    """Writes waiting schedules to BigCommerce in batches."""

    def __init__(
        self,
        *,
        client: BigCommerceClient,
        ledger: Ledger,
        clock: Clock,
        batch_size: int = 50,
        gather_s: float = 2.0,
        lease_s: float = 60.0,
        retry_s: float = 5.0,
        refused_retry_s: float = 300.0,
    ) -> None:
        self._client = client
        self._ledger = ledger
        self._clock = clock
        self._batch_size = batch_size
        self._gather_s = gather_s
        self._lease_s = lease_s
        self._retry_s = retry_s
        self._refused_retry_s = refused_retry_s
        self._woken = asyncio.Event()
        self.written = 0
        self.calls = 0

    def wake(self) -> None:
        """An order is waiting for its metafield."""
        self._woken.set()

    async def pending(self) -> int:
        """Orders whose schedule has no metafield yet."""
        count: int = await self._ledger.pool.fetchval(
            PENDING_QUERY, self._ledger.store_hash
        )
        return count

    async def run(self, stop: asyncio.Event, poll_s: float) -> None:
        """
        Write batches until stopped.

        After a wake-up it waits `gather_s` so that orders applied meanwhile
        share the call; it also looks every `poll_s`, for orders left by a
        crash or by another process. On stop it writes what is waiting once
        more, and whatever it cannot finish stays for the next start.
        """
        while not stop.is_set():
            await _first_of(self._woken, stop, timeout_s=poll_s)
            if not stop.is_set() and self._woken.is_set():
                await _first_of(stop, timeout_s=self._gather_s)
            self._woken.clear()
            await self.flush()

    async def flush(self) -> FlushReport:
        """Write every waiting schedule now, a batch at a time."""
        written = calls = failed = 0
        while True:
            batch = await self._claim()
            if not batch:
                break
            report = await self._write(batch)
            written += report.written
            calls += report.calls
            failed += report.failed
            if report.failed == len(batch):
                break  # the store refuses everything now; the next round retries
        if written or failed:
            log.info(
                "metafield.batch_written", written=written, failed=failed, calls=calls
            )
        return FlushReport(written, calls, failed)

    async def _claim(self) -> list[MetafieldWrite]:
        rows = await self._ledger.pool.fetch(
            _CLAIM, self._ledger.store_hash, self._batch_size, self._lease_s
        )
        writes = []
        for row in sorted(rows, key=lambda r: r["order_id"]):
            overdue_since = None
            if row["overdue_flagged_at"] is not None and row["due_date"] is not None:
                overdue_since = row["due_date"] + timedelta(days=1)
            value = schedule_value(json.loads(row["schedule"]), overdue_since)
            writes.append(schedule_metafield(row["order_id"], value))
        return writes

    async def _write(self, batch: list[MetafieldWrite]) -> FlushReport:
        calls_before = self._client.calls
        try:
            outcome = await self._client.create_order_metafields(batch)
        except BigCommerceError as exc:
            # The store failed past the client's own retries: try again soon.
            order_ids = [w.order_id for w in batch]
            await self._retry_later(order_ids, str(exc), self._retry_s)
            return FlushReport(0, self._client.calls - calls_before, len(batch))

        written = 0
        for field in outcome.created:
            await self._record(field)
            written += 1
        failed: list[int] = []
        for write in outcome.refused:
            # Most often it exists already: an earlier batch was cut short.
            found = await self._existing(write)
            if found is None:
                failed.append(write.order_id)
                continue
            await self._record(found)
            written += 1
        if failed:
            # Refused for these orders in particular: the same answer is likely
            # for a while, so wait longer.
            await self._retry_later(failed, outcome.reason, self._refused_retry_s)

        self.written += written
        calls = self._client.calls - calls_before
        self.calls += calls
        return FlushReport(written, calls, len(failed))

    async def _existing(self, write: MetafieldWrite) -> Metafield | None:
        try:
            found = await self._client.order_metafields(
                write.order_id, namespace=write.namespace, key=write.key
            )
        except NotFoundError:
            return None  # the order is gone; the reconciler will close it
        return found[0] if found else None

    async def _record(self, field: Metafield) -> None:
        await self._ledger.update(
            field.resource_id,
            {"metafield_id": field.id},
            actor="worker",
            action="metafield.written",
            at=self._clock.now(),
        )

    async def _retry_later(
        self, order_ids: list[int], reason: str, delay_s: float
    ) -> None:
        await self._ledger.pool.execute(
            _RETRY_LATER, self._ledger.store_hash, order_ids, delay_s
        )
        log.warning(
            "metafield.write_failed",
            order_ids=order_ids[:20],
            count=len(order_ids),
            reason=reason,
            retry_in_s=delay_s,
        )


async def _first_of(*events: asyncio.Event, timeout_s: float) -> None:
    """Wait until any of the events is set, or the time is up."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(
            waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for waiter in waiters:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter
