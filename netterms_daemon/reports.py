"""Receivables reports read from the ledger: aging, order listings, statements.

Every report is a read of `tracked_orders` alone, so it works while the
store is unreachable. Money stays Decimal and is summed per currency, never
across currencies; rounding to the currency's minor unit happens only when a
table is rendered for people. `today` is the store's day (see
`storefacts.store_today`), passed in so that reports are reproducible.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from netterms_daemon.storefacts import day_in_zone, stored_time_zone
from netterms_daemon.terms.schedule import minor_unit

# Aging buckets: the AgingRow field and the column label people read.
BUCKETS = (
    ("current", "current"),
    ("days_1_30", "1-30"),
    ("days_31_60", "31-60"),
    ("days_61_90", "61-90"),
    ("over_90", "90+"),
)
ORDER_STATES = ("awaiting_payment", "overdue", "paid", "closed", "held")

# One pass over the open orders; the WHERE clause matches the partial index
# tracked_orders_open_by_due. A date minus a date is a whole number of days.
_AGING = """
SELECT customer_id, currency, count(*) AS orders,
    sum(CASE WHEN due_date IS NULL OR due_date >= $2::date
        THEN amount ELSE 0 END) AS current,
    sum(CASE WHEN $2::date - due_date BETWEEN 1 AND 30
        THEN amount ELSE 0 END) AS days_1_30,
    sum(CASE WHEN $2::date - due_date BETWEEN 31 AND 60
        THEN amount ELSE 0 END) AS days_31_60,
    sum(CASE WHEN $2::date - due_date BETWEEN 61 AND 90
        THEN amount ELSE 0 END) AS days_61_90,
    sum(CASE WHEN $2::date - due_date > 90 THEN amount ELSE 0 END) AS over_90
FROM tracked_orders
WHERE store_hash = $1 AND state = 'awaiting_payment'
GROUP BY customer_id, currency
ORDER BY currency, customer_id
"""
_LINE_COLUMNS = """
SELECT order_id, customer_id, group_name, state, amount, currency, due_date,
    policy,
    CASE WHEN state = 'awaiting_payment' AND due_date < $2::date
        THEN $2::date - due_date ELSE 0 END AS days_overdue
FROM tracked_orders
"""
# The state is a literal in the two open-order queries so that the planner
# can walk the partial index by due date, oldest first, and stop at the limit.
_AWAITING = (
    _LINE_COLUMNS
    + """
WHERE store_hash = $1 AND state = 'awaiting_payment'
  AND ($3::bigint IS NULL OR customer_id = $3)
ORDER BY due_date NULLS LAST, order_id
LIMIT $4
"""
)
_OVERDUE = (
    _LINE_COLUMNS
    + """
WHERE store_hash = $1 AND state = 'awaiting_payment' AND due_date < $2::date
  AND ($3::bigint IS NULL OR customer_id = $3)
ORDER BY due_date, order_id
LIMIT $4
"""
)
_IN_STATES = (
    _LINE_COLUMNS
    + """
WHERE store_hash = $1 AND state = ANY($5::text[])
  AND ($3::bigint IS NULL OR customer_id = $3)
ORDER BY order_created_at DESC, order_id DESC
LIMIT $4
"""
)
_STATEMENT = """
SELECT order_id, policy, state, amount, currency, due_date, order_created_at,
    paid_at
FROM tracked_orders
WHERE store_hash = $1 AND customer_id = $2
  AND (state IN ('awaiting_payment', 'held')
       OR (state = 'paid' AND paid_at >= $3))
"""
_LISTED_STATES = ("awaiting_payment", "paid", "closed", "held")


@dataclass(frozen=True)
class AgingRow:
    """One customer's open orders in one currency by lateness, or a currency's total.

    `customer_id` is None on a currency's total row.
    """

    customer_id: int | None
    currency: str
    orders: int
    current: Decimal
    days_1_30: Decimal
    days_31_60: Decimal
    days_61_90: Decimal
    over_90: Decimal

    @property
    def total(self) -> Decimal:
        """Everything open, whatever its lateness."""
        return sum((getattr(self, field) for field, _ in BUCKETS), Decimal(0))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON, money as exact strings."""
        return {
            **_plain(self, self.currency),
            "total": exact_amount(self.total, self.currency),
        }


@dataclass(frozen=True)
class AgingReport:
    """A store's receivables by lateness on one day: rows and totals per currency."""

    store_hash: str
    today: date
    rows: tuple[AgingRow, ...]
    totals: tuple[AgingRow, ...]

    def to_json(self) -> dict[str, Any]:
        """Plain JSON: dates ISO, money as strings."""
        return {
            "store_hash": self.store_hash,
            "today": self.today.isoformat(),
            "rows": [row.to_json() for row in self.rows],
            "totals": [{k: v for k, v in total.to_json().items()
                        if k != "customer_id"} for total in self.totals],
        }  # fmt: skip


@dataclass(frozen=True)
class OrderLine:
    """One tracked order as listings show it; state 'overdue' when it is."""

    order_id: int
    customer_id: int
    group_name: str | None
    state: str
    amount: Decimal
    currency: str
    due_date: date | None
    days_overdue: int
    policy: str | None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON: dates ISO, money as strings."""
        return _plain(self, self.currency)


@dataclass(frozen=True)
class StatementLine:
    """A charge (an order) or a payment, and the currency's balance after it."""

    date: date
    order_id: int
    kind: str
    description: str
    charge: Decimal | None
    payment: Decimal | None
    balance: Decimal
    held: bool

    def to_json(self, currency: str) -> dict[str, Any]:
        """Plain JSON: dates ISO, money as strings, null where there is none."""
        return _plain(self, currency)


@dataclass(frozen=True)
class StatementSection:
    """A statement's lines in one currency, with what they add up to.

    `closing_balance` counts held orders too (they are flagged on their
    lines, and `held` says how much of the balance they are); `overdue` is
    what awaits payment past its due date.
    """

    currency: str
    lines: tuple[StatementLine, ...]
    closing_balance: Decimal
    overdue: Decimal
    held: Decimal

    def to_json(self) -> dict[str, Any]:
        """Plain JSON: dates ISO, money as strings."""
        lines = [line.to_json(self.currency) for line in self.lines]
        return {**_plain(self, self.currency, skip="lines"), "lines": lines}


@dataclass(frozen=True)
class Statement:
    """A customer's open orders and recent payments, one section per currency."""

    store_hash: str
    customer_id: int
    today: date
    paid_since: date
    sections: tuple[StatementSection, ...]

    @property
    def closing_balances(self) -> dict[str, Decimal]:
        """What the customer owes, per currency."""
        return {s.currency: s.closing_balance for s in self.sections}

    @property
    def overdue(self) -> dict[str, Decimal]:
        """What is past due, per currency."""
        return {s.currency: s.overdue for s in self.sections}

    def to_json(self) -> dict[str, Any]:
        """Plain JSON: dates ISO, money as strings."""
        return {
            "store_hash": self.store_hash,
            "customer_id": self.customer_id,
            "today": self.today.isoformat(),
            "paid_since": self.paid_since.isoformat(),
            "currencies": [section.to_json() for section in self.sections],
        }


async def aging(pool: asyncpg.Pool, store_hash: str, today: date) -> AgingReport:
    """
    Age the orders awaiting payment by days past their due date on `today`.

    Held orders are left out: they wait for staff to grant terms, so they are
    not receivables yet. An order is aged whole by its due date (the first
    installment's), and one without a due date counts as current. The
    bucketing runs in Postgres, one row per customer and currency.
    """
    async with pool.acquire() as connection:
        records = await connection.fetch(_AGING, store_hash, today)

    rows = tuple(_aging_row(record) for record in records)

    return AgingReport(store_hash, today, rows, _totals(rows))


async def list_orders(
    pool: asyncpg.Pool,
    store_hash: str,
    today: date,
    *,
    state: str | None,
    customer_id: int | None,
    limit: int = 1000,
) -> list[OrderLine]:
    """
    Tracked orders in a state, for one customer or all, at most `limit`.

    `state` is one of ORDER_STATES; 'awaiting_payment' includes the overdue
    ones (shown as 'overdue'), and None means every state but 'applying' and
    'ignored'. Open orders come oldest due date first, the rest newest first.
    """
    if state is not None and state not in ORDER_STATES:
        raise ValueError(f"unknown state {state!r}: one of {', '.join(ORDER_STATES)}")
    if limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")

    args: list[Any] = [store_hash, today, customer_id, limit]
    if state == "awaiting_payment":
        query = _AWAITING
    elif state == "overdue":
        query = _OVERDUE
    else:
        query = _IN_STATES
        args.append(list(_LISTED_STATES) if state is None else [state])
    async with pool.acquire() as connection:
        records = await connection.fetch(query, *args)

    return [_order_line(record) for record in records]


async def statement(
    pool: asyncpg.Pool,
    store_hash: str,
    customer_id: int,
    today: date,
    *,
    paid_within_days: int = 90,
) -> Statement:
    """
    A customer's statement: open orders and those paid lately, with balances.

    Open means awaiting payment or held (held lines are flagged). A paid
    order shows as a charge on its order date and a payment on the day it
    was paid, if that day is within `paid_within_days` of `today`; older
    paid orders are left out, so the running balance starts at zero and
    closes at what is open. Days are the store's, from its stored time zone.
    """
    if paid_within_days < 0:
        raise ValueError(f"paid_within_days must be >= 0, got {paid_within_days}")

    since = today - timedelta(days=paid_within_days)
    # A day earlier than `since` in UTC covers every time zone; the exact cut
    # is made below on the store's calendar, as the lines show it.
    rough_cut = datetime(since.year, since.month, since.day, tzinfo=UTC)
    zone = await stored_time_zone(pool, store_hash)
    async with pool.acquire() as connection:
        records = await connection.fetch(
            _STATEMENT, store_hash, customer_id, rough_cut - timedelta(days=1)
        )

    by_currency: dict[str, list[tuple[datetime, int, int, asyncpg.Record]]] = {}
    for record in records:
        if record["state"] == "paid" and day_in_zone(record["paid_at"], zone) < since:
            continue
        entries = by_currency.setdefault(record["currency"].strip(), [])
        entries.append((record["order_created_at"], record["order_id"], 0, record))
        if record["state"] == "paid":
            entries.append((record["paid_at"], record["order_id"], 1, record))

    sections = tuple(
        _section(currency, sorted(entries, key=lambda e: e[:3]), today, zone)
        for currency, entries in sorted(by_currency.items())
    )

    return Statement(store_hash, customer_id, today, since, sections)


def _aging_row(record: asyncpg.Record) -> AgingRow:
    return AgingRow(
        customer_id=record["customer_id"],
        currency=record["currency"].strip(),
        orders=record["orders"],
        **{field: Decimal(record[field]) for field, _ in BUCKETS},
    )


def _totals(rows: Sequence[AgingRow]) -> tuple[AgingRow, ...]:
    totals = []
    for currency in sorted({row.currency for row in rows}):
        same = rows_in_currency(rows, currency)
        sums = {f: sum((getattr(r, f) for r in same), Decimal(0)) for f, _ in BUCKETS}
        totals.append(AgingRow(None, currency, sum(r.orders for r in same), **sums))
    return tuple(totals)


def rows_in_currency(rows: Iterable[AgingRow], currency: str) -> list[AgingRow]:
    """The rows of one currency, in their order."""
    return [row for row in rows if row.currency == currency]


def _order_line(record: asyncpg.Record) -> OrderLine:
    days = record["days_overdue"]
    return OrderLine(
        order_id=record["order_id"],
        customer_id=record["customer_id"],
        group_name=record["group_name"],
        state="overdue" if days > 0 else record["state"],
        amount=record["amount"],
        currency=record["currency"].strip(),
        due_date=record["due_date"],
        days_overdue=days,
        policy=record["policy"],
    )


def _section(
    currency: str,
    entries: Sequence[tuple[datetime, int, int, asyncpg.Record]],
    today: date,
    zone: str | None,
) -> StatementSection:
    balance = overdue = held = Decimal(0)
    lines: list[StatementLine] = []
    for moment, order_id, is_payment, record in entries:
        amount: Decimal = record["amount"]
        is_held = record["state"] == "held"
        if is_payment:
            balance -= amount
            lines.append(
                StatementLine(
                    day_in_zone(moment, zone), order_id, "payment",
                    "payment received", None, amount, balance, False,
                )
            )  # fmt: skip
            continue
        balance += amount
        due: date | None = record["due_date"]
        late = record["state"] == "awaiting_payment" and due is not None and due < today
        overdue += amount if late else 0
        held += amount if is_held else 0
        lines.append(
            StatementLine(
                day_in_zone(moment, zone), order_id, "charge",
                _describe(record, today, zone), amount, None, balance, is_held,
            )
        )  # fmt: skip

    return StatementSection(currency, tuple(lines), balance, overdue, held)


def _describe(record: asyncpg.Record, today: date, zone: str | None) -> str:
    due: date | None = record["due_date"]
    state = record["state"]
    if state == "held":
        status = "on hold"
    elif state == "paid":
        status = f"paid {day_in_zone(record['paid_at'], zone).isoformat()}"
    elif due is not None and due < today:
        late = (today - due).days
        status = f"overdue {late} day{'' if late == 1 else 's'}"
    else:
        status = "awaiting payment"
    due_text = f"due {due.isoformat()}" if due else "no due date"

    return f"{record['policy'] or 'no terms'}, {due_text}, {status}"


def exact_amount(amount: Decimal, currency: str) -> str:
    """For machines: in minor units when that loses nothing, else every digit."""
    unit = minor_unit(currency)
    rounded = amount.quantize(unit)
    return str(rounded if rounded == amount else amount)


def _plain(item: Any, currency: str, skip: str = "") -> dict[str, Any]:
    """A report dataclass's fields as JSON values: money exact, dates ISO."""
    body: dict[str, Any] = {}
    for field in fields(item):
        value = getattr(item, field.name)
        if isinstance(value, Decimal):
            value = exact_amount(value, currency)
        elif isinstance(value, date):
            value = value.isoformat()
        if field.name != skip:
            body[field.name] = value
    return body
