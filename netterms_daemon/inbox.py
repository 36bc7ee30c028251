"""The durable webhook inbox: events stored on receipt, claimed by workers, retried.

An event is acknowledged to BigCommerce only after its row commits. Workers
claim due rows with FOR UPDATE SKIP LOCKED and take a lease by pushing
next_attempt_at forward, then work outside any transaction; a worker that
dies simply lets its lease run out and the row is claimed again. So any
number of daemons can share one database without handling an event twice
at the same time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

NOTIFY_CHANNEL = "netterms_inbox"
STATES = ("pending", "done", "dead")

# One statement, so one round trip: the insert and, only for a new row, the
# notification that wakes the workers; it is delivered when the statement's
# own transaction commits.
_STORE = f"""
WITH stored AS (
    INSERT INTO inbox_events
        (store_hash, scope, event_hash, event_created_at, resource_id, payload)
    VALUES ($1, $2, $3, $4, $5, $6::jsonb)
    ON CONFLICT (store_hash, scope, event_hash, event_created_at) DO NOTHING
    RETURNING id
)
SELECT id, pg_notify('{NOTIFY_CHANNEL}', '') FROM stored
"""
_CLAIM = """
WITH due AS (
    SELECT store_hash, id FROM inbox_events
    WHERE store_hash = $1 AND state = 'pending' AND next_attempt_at <= now()
    ORDER BY next_attempt_at, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE inbox_events AS e
SET attempts = e.attempts + 1,
    next_attempt_at = now() + make_interval(secs => $3),
    claimed_by = $4,
    claimed_at = now()
FROM due
WHERE e.store_hash = due.store_hash AND e.id = due.id
RETURNING e.*
"""
_DONE = """
UPDATE inbox_events
SET state = 'done', processed_at = now(), last_error = NULL, claimed_by = NULL
WHERE store_hash = $1 AND id = $2
"""
_RETRY = """
UPDATE inbox_events
SET next_attempt_at = now() + make_interval(secs => $3), last_error = $4,
    claimed_by = NULL
WHERE store_hash = $1 AND id = $2
"""
_DEFER = """
UPDATE inbox_events
SET next_attempt_at = now() + make_interval(secs => $3), attempts = attempts - 1,
    claimed_by = NULL
WHERE store_hash = $1 AND id = $2
"""
_DEAD = """
UPDATE inbox_events
SET state = 'dead', last_error = $3, processed_at = now(), claimed_by = NULL
WHERE store_hash = $1 AND id = $2
"""
_LIST = """
SELECT * FROM inbox_events
WHERE store_hash = $1 AND ($2::text IS NULL OR state = $2)
ORDER BY id DESC
LIMIT $3
"""
_REPLAY_ONE = """
UPDATE inbox_events
SET state = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL,
    processed_at = NULL
WHERE store_hash = $1 AND id = $2
RETURNING id
"""
_REPLAY_DEAD = """
UPDATE inbox_events
SET state = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL,
    processed_at = NULL
WHERE store_hash = $1 AND state = 'dead'
RETURNING id
"""
_DEPTH = "SELECT count(*) FROM inbox_events WHERE store_hash = $1 AND state = 'pending'"


@dataclass(frozen=True)
class InboxEvent:
    """One stored delivery."""

    id: int
    scope: str
    event_hash: str
    event_created_at: int
    resource_id: int | None
    payload: dict[str, Any]
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    received_at: datetime
    processed_at: datetime | None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> InboxEvent:
        payload = row["payload"]
        return cls(
            id=row["id"],
            scope=row["scope"],
            event_hash=row["event_hash"],
            event_created_at=row["event_created_at"],
            resource_id=row["resource_id"],
            payload=json.loads(payload) if isinstance(payload, str) else payload,
            state=row["state"],
            attempts=row["attempts"],
            next_attempt_at=row["next_attempt_at"],
            last_error=row["last_error"],
            received_at=row["received_at"],
            processed_at=row["processed_at"],
        )


class Inbox:
    """The inbox of one store; the pool is the caller's."""

    def __init__(self, pool: asyncpg.Pool, store_hash: str) -> None:
        self._pool = pool
        self.store_hash = store_hash

    async def store(
        self,
        payload_json: str,
        *,
        scope: str,
        event_hash: str,
        created_at: int,
        resource_id: int | None,
    ) -> bool:
        """
        Store a delivery once; False when it was already stored (a duplicate).

        payload_json is the text as received, so it is not encoded twice.
        """
        new_id = await self._pool.fetchval(
            _STORE,
            self.store_hash,
            scope,
            event_hash,
            created_at,
            resource_id,
            payload_json,
        )
        return new_id is not None

    async def claim(self, limit: int, lease_s: float, worker: str) -> list[InboxEvent]:
        """Take up to limit due events, leased to this worker for lease_s."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(
                _CLAIM, self.store_hash, limit, lease_s, worker
            )
        return [InboxEvent.from_row(row) for row in rows]

    async def complete(self, event_id: int) -> None:
        """The event's work is done."""
        await self._execute(_DONE, event_id)

    async def retry_later(self, event_id: int, delay_s: float, error: str) -> None:
        """The attempt failed; try again after delay_s."""
        await self._execute(_RETRY, event_id, delay_s, error[:2000])

    async def defer(self, event_id: int, delay_s: float) -> None:
        """Not now, through no fault of the event (its order is busy): no try spent."""
        await self._execute(_DEFER, event_id, delay_s)

    async def dead_letter(self, event_id: int, error: str) -> None:
        """Give up on the event; it stays visible and can be replayed."""
        await self._execute(_DEAD, event_id, error[:2000])

    async def list(
        self, state: str | None = None, limit: int = 100
    ) -> list[InboxEvent]:
        """The newest events, optionally in one state."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(_LIST, self.store_hash, state, limit)
        return [InboxEvent.from_row(row) for row in rows]

    async def replay(self, event_id: int) -> bool:
        """Make one event pending again; False if there is no such event."""
        async with self._pool.acquire() as connection:
            found = await connection.fetchval(_REPLAY_ONE, self.store_hash, event_id)
            await connection.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, "")
        return found is not None

    async def replay_dead(self) -> int:
        """Make every dead-lettered event pending again; return how many."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(_REPLAY_DEAD, self.store_hash)
            await connection.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, "")
        return len(rows)

    async def depth(self) -> int:
        """Events waiting to be processed."""
        async with self._pool.acquire() as connection:
            return int(await connection.fetchval(_DEPTH, self.store_hash))

    async def _execute(self, query: str, *args: Any) -> None:
        async with self._pool.acquire() as connection:
            await connection.execute(query, self.store_hash, *args)
