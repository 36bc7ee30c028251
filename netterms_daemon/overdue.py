"""Which open orders are overdue, about to be, or overdue long enough to escalate.

Pure queries over tracked_orders; the reconciler acts on the answers. An
order is overdue from the day after its due date in the store's time zone.
"""

from __future__ import annotations

from datetime import date

import asyncpg

from netterms_daemon.ledger import TrackedOrder

_NEWLY_OVERDUE = """
SELECT * FROM tracked_orders
WHERE store_hash = $1 AND state = 'awaiting_payment'
  AND due_date < $2::date AND overdue_flagged_at IS NULL
ORDER BY due_date, order_id
LIMIT $3
"""
_ESCALATING = """
SELECT * FROM tracked_orders
WHERE store_hash = $1 AND state = 'awaiting_payment'
  AND overdue_flagged_at IS NOT NULL
  AND due_date <= $2::date - $3::int AND escalation_days < $3::int
ORDER BY due_date, order_id
LIMIT $4
"""
_DUE_SOON = """
SELECT * FROM tracked_orders
WHERE store_hash = $1 AND state = 'awaiting_payment'
  AND due_soon_flagged_at IS NULL
  AND due_date >= $2::date AND due_date <= $2::date + $3::int
ORDER BY due_date, order_id
LIMIT $4
"""


async def newly_overdue(
    pool: asyncpg.Pool, store_hash: str, today: date, limit: int = 1000
) -> list[TrackedOrder]:
    """Open orders past their due date that were never flagged."""
    async with pool.acquire() as connection:
        rows = await connection.fetch(_NEWLY_OVERDUE, store_hash, today, limit)
    return [TrackedOrder.from_row(row) for row in rows]


async def escalating(
    pool: asyncpg.Pool, store_hash: str, today: date, step_days: int, limit: int = 1000
) -> list[TrackedOrder]:
    """Flagged orders now step_days or more overdue, not yet escalated that far."""
    async with pool.acquire() as connection:
        rows = await connection.fetch(_ESCALATING, store_hash, today, step_days, limit)
    return [TrackedOrder.from_row(row) for row in rows]


async def due_soon(
    pool: asyncpg.Pool,
    store_hash: str,
    today: date,
    within_days: int,
    limit: int = 1000,
) -> list[TrackedOrder]:
    """Open orders due within the next within_days days, not yet reminded of."""
    async with pool.acquire() as connection:
        rows = await connection.fetch(_DUE_SOON, store_hash, today, within_days, limit)
    return [TrackedOrder.from_row(row) for row in rows]
