"""Tracked orders and the audit log: the system of record for due dates.

Every change to a tracked order is written together with its audit row in
one transaction, so the history always explains the current state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from netterms_daemon.database import Connection

ACTORS = ("webhook", "reconciler", "cli", "api", "worker")
OPEN_STATES = ("awaiting_payment", "held")

_GET = "SELECT * FROM tracked_orders WHERE store_hash = $1 AND order_id = $2"
_INSERT = """
INSERT INTO tracked_orders (
    store_hash, order_id, customer_id, customer_group_id, group_name, policy,
    schedule, order_created_at, due_date, amount, currency, state, target_state,
    ignored_reason, bc_status_id, bc_date_modified, explanation, note_line,
    hold_reason
) VALUES (
    $1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12, $13, $14, $15, $16,
    $17, $18, $19
)
ON CONFLICT (store_hash, order_id) DO NOTHING
RETURNING *
"""
_AUDIT = """
INSERT INTO audit_log (store_hash, at, actor, order_id, action, before, after)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb)
"""
_HISTORY = """
SELECT at, actor, action, before, after FROM audit_log
WHERE store_hash = $1 AND order_id = $2
ORDER BY id
"""
_OPEN_BALANCE = """
SELECT coalesce(sum(amount), 0) FROM tracked_orders
WHERE store_hash = $1 AND customer_id = $2 AND currency = $3
  AND state = 'awaiting_payment' AND order_id <> $4
"""
# Columns a transition may change, checked so no caller can write another.
_CHANGEABLE = {
    "state",
    "target_state",
    "bc_status_id",
    "bc_date_modified",
    "paid_at",
    "closed_at",
    "closed_reason",
    "hold_reason",
    "metafield_id",
    "ignored_reason",
    "overdue_flagged_at",
    "escalation_days",
    "due_soon_flagged_at",
}


@dataclass(frozen=True)
class TrackedOrder:
    """One order netterms knows about, as stored."""

    order_id: int
    customer_id: int
    customer_group_id: int | None
    group_name: str | None
    policy: str | None
    schedule: dict[str, Any] | None
    order_created_at: datetime
    due_date: date | None
    amount: Decimal
    currency: str
    state: str
    target_state: str | None
    ignored_reason: str | None
    bc_status_id: int | None
    bc_date_modified: datetime | None
    explanation: str | None
    note_line: str | None
    hold_reason: str | None
    closed_reason: str | None
    metafield_id: int | None
    overdue_flagged_at: datetime | None
    paid_at: datetime | None
    closed_at: datetime | None
    escalation_days: int = 0
    due_soon_flagged_at: datetime | None = None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> TrackedOrder:
        schedule = row["schedule"]
        return cls(
            order_id=row["order_id"],
            customer_id=row["customer_id"],
            customer_group_id=row["customer_group_id"],
            group_name=row["group_name"],
            policy=row["policy"],
            schedule=json.loads(schedule) if isinstance(schedule, str) else schedule,
            order_created_at=row["order_created_at"],
            due_date=row["due_date"],
            amount=row["amount"],
            currency=row["currency"].strip(),
            state=row["state"],
            target_state=row["target_state"],
            ignored_reason=row["ignored_reason"],
            bc_status_id=row["bc_status_id"],
            bc_date_modified=row["bc_date_modified"],
            explanation=row["explanation"],
            note_line=row["note_line"],
            hold_reason=row["hold_reason"],
            closed_reason=row["closed_reason"],
            metafield_id=row["metafield_id"],
            overdue_flagged_at=row["overdue_flagged_at"],
            paid_at=row["paid_at"],
            closed_at=row["closed_at"],
            escalation_days=row["escalation_days"],
            due_soon_flagged_at=row["due_soon_flagged_at"],
        )

    def view(self) -> dict[str, Any]:
        """The audit-worthy fields, as JSON."""
        return {
            "state": self.state,
            "bc_status_id": self.bc_status_id,
            "due_date": self.due_date.isoformat() if self.due_date else None,
            "amount": str(self.amount),
            "currency": self.currency,
            "policy": self.policy,
            "hold_reason": self.hold_reason,
            "closed_reason": self.closed_reason,
            "ignored_reason": self.ignored_reason,
        }


@dataclass(frozen=True)
class NewTrackedOrder:
    """What is known about an order when netterms first records it."""

    order_id: int
    customer_id: int
    customer_group_id: int | None
    group_name: str | None
    policy: str | None
    schedule: dict[str, Any] | None
    order_created_at: datetime
    due_date: date | None
    amount: Decimal
    currency: str
    state: str
    target_state: str | None
    ignored_reason: str | None
    bc_status_id: int
    bc_date_modified: datetime
    explanation: str | None = None
    note_line: str | None = None
    hold_reason: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    """One row of an order's history."""

    at: datetime
    actor: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class Ledger:
    """Tracked orders of one store; the pool is the caller's."""

    def __init__(self, pool: asyncpg.Pool, store_hash: str) -> None:
        self.pool = pool
        self.store_hash = store_hash

    async def get(self, order_id: int) -> TrackedOrder | None:
        """The tracked order, or None if netterms has never recorded it."""
        async with self.pool.acquire() as connection:
            row = await connection.fetchrow(_GET, self.store_hash, order_id)
        return TrackedOrder.from_row(row) if row else None

    async def record(
        self, new: NewTrackedOrder, *, actor: str, action: str, at: datetime
    ) -> TrackedOrder:
        """Record an order once; if it is already there, return what is there."""
        async with self.pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(
                _INSERT,
                self.store_hash,
                new.order_id,
                new.customer_id,
                new.customer_group_id,
                new.group_name,
                new.policy,
                json.dumps(new.schedule) if new.schedule is not None else None,
                new.order_created_at,
                new.due_date,
                new.amount,
                new.currency,
                new.state,
                new.target_state,
                new.ignored_reason,
                new.bc_status_id,
                new.bc_date_modified,
                new.explanation,
                new.note_line,
                new.hold_reason,
            )
            if row is None:
                existing = await connection.fetchrow(
                    _GET, self.store_hash, new.order_id
                )
                assert existing is not None, "a conflicting row exists"
                return TrackedOrder.from_row(existing)
            tracked = TrackedOrder.from_row(row)
            await self._audit(
                connection, at, actor, new.order_id, action, None, tracked.view()
            )
        return tracked

    async def update(
        self,
        order_id: int,
        changes: dict[str, Any],
        *,
        actor: str,
        action: str,
        at: datetime,
    ) -> TrackedOrder:
        """Change some columns of a tracked order and audit the change, atomically."""
        unknown = set(changes) - _CHANGEABLE
        if unknown:
            raise ValueError(f"not changeable: {sorted(unknown)}")

        columns = list(changes)
        assignments = ", ".join(f"{name} = ${i + 3}" for i, name in enumerate(columns))
        query = (
            f"UPDATE tracked_orders SET {assignments}, updated_at = now() "
            "WHERE store_hash = $1 AND order_id = $2 RETURNING *"
        )
        async with self.pool.acquire() as connection, connection.transaction():
            before_row = await connection.fetchrow(
                _GET + " FOR UPDATE", self.store_hash, order_id
            )
            if before_row is None:
                raise LookupError(f"order {order_id} is not tracked")
            before = TrackedOrder.from_row(before_row)
            row = await connection.fetchrow(
                query, self.store_hash, order_id, *(changes[c] for c in columns)
            )
            assert row is not None, "the row was locked above"
            after = TrackedOrder.from_row(row)
            await self._audit(
                connection, at, actor, order_id, action, before.view(), after.view()
            )
        return after

    async def audit(
        self,
        order_id: int | None,
        action: str,
        *,
        actor: str,
        at: datetime,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        """Record a change made elsewhere (in BigCommerce, say) in the history."""
        async with self.pool.acquire() as connection:
            await self._audit(connection, at, actor, order_id, action, before, after)

    async def history(self, order_id: int) -> list[AuditEntry]:
        """An order's audit rows, oldest first."""
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(_HISTORY, self.store_hash, order_id)
        return [
            AuditEntry(
                at=row["at"],
                actor=row["actor"],
                action=row["action"],
                before=_json(row["before"]),
                after=_json(row["after"]),
            )
            for row in rows
        ]

    async def open_balance(
        self, customer_id: int, currency: str, excluding: int
    ) -> Decimal:
        """What a customer owes on other orders awaiting payment, in one currency."""
        async with self.pool.acquire() as connection:
            total = await connection.fetchval(
                _OPEN_BALANCE, self.store_hash, customer_id, currency, excluding
            )
        return Decimal(total)

    async def _audit(
        self,
        connection: Connection,
        at: datetime,
        actor: str,
        order_id: int | None,
        action: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        if actor not in ACTORS:
            raise ValueError(f"unknown actor {actor!r}")
        await connection.execute(
            _AUDIT,
            self.store_hash,
            at,
            actor,
            order_id,
            action,
            json.dumps(before) if before is not None else None,
            json.dumps(after) if after is not None else None,
        )


def _json(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    value: dict[str, Any] = json.loads(raw) if isinstance(raw, str) else raw
    return value
