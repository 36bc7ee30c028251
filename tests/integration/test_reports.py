"""Aging, order listings and statements over a hand-built book in real Postgres."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from netterms_daemon.ledger import Ledger, NewTrackedOrder
from netterms_daemon.reports import AgingRow, aging, list_orders, statement
from netterms_daemon.storefacts import remember_time_zone

STORE = "store1"
TODAY = date(2026, 3, 15)
D = Decimal


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh database, closed after the test."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    yield pool
    await pool.close()


def days_ago(days: int, hour: int = 12) -> datetime:
    """Noon UTC (or another hour) a number of days before TODAY."""
    day = TODAY - timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


async def add(
    ledger: Ledger,
    order_id: int,
    customer_id: int,
    amount: str,
    *,
    due_in: int | None,
    currency: str = "USD",
    created_ago: int = 30,
    state: str = "awaiting_payment",
    paid_ago: datetime | None = None,
    closed: bool = False,
) -> None:
    """Record an order due `due_in` days from TODAY, then pay or close it."""
    created = days_ago(created_ago)
    await ledger.record(
        NewTrackedOrder(
            order_id=order_id,
            customer_id=customer_id,
            customer_group_id=5,
            group_name="Net30 Wholesale",
            policy=None if state == "ignored" else "Net 30",
            schedule=None,
            order_created_at=created,
            due_date=None if due_in is None else TODAY + timedelta(days=due_in),
            amount=D(amount),
            currency=currency,
            state=state,
            target_state=None,
            ignored_reason="guest" if state == "ignored" else None,
            bc_status_id=7,
            bc_date_modified=created,
        ),
        actor="webhook",
        action="recorded",
        at=created,
    )
    if paid_ago is not None:
        changes = {"state": "paid", "paid_at": paid_ago}
        await ledger.update(order_id, changes, actor="cli", action="paid", at=paid_ago)
    if closed:
        changes = {"state": "closed", "closed_at": created}
        await ledger.update(order_id, changes, actor="cli", action="x", at=created)


async def build_book(pool: asyncpg.Pool) -> None:
    """Orders across buckets, two currencies, four customers, every state."""
    ledger = Ledger(pool, STORE)
    await add(ledger, 101, 1, "1000.00", due_in=5)
    await add(ledger, 102, 1, "250.50", due_in=-10)
    await add(ledger, 103, 1, "75.25", due_in=-45)
    await add(ledger, 104, 1, "500.00", due_in=-100, currency="EUR")
    await add(ledger, 201, 2, "300.00", due_in=-70, created_ago=100)
    await add(ledger, 202, 2, "99.99", due_in=0, created_ago=30)
    await add(ledger, 203, 2, "400.00", due_in=-40, created_ago=70, state="held")
    await add(
        ledger, 204, 2, "800.00", due_in=-30, created_ago=60, paid_ago=days_ago(35)
    )
    await add(ledger, 205, 2, "60.00", due_in=20, state="applying")
    await add(
        ledger, 206, 2, "70.00", due_in=-170, created_ago=200, paid_ago=days_ago(150)
    )
    await add(ledger, 207, 2, "80.00", due_in=-5, created_ago=35, closed=True)
    await add(ledger, 208, 2, "40.00", due_in=25, currency="EUR", created_ago=5)
    await add(ledger, 301, 3, "1234.56", due_in=-20, currency="EUR")
    await add(ledger, 302, 3, "10.00", due_in=-3, currency="EUR", closed=True)
    await add(ledger, 303, 3, "50.00", due_in=None, state="ignored")
    # Another store's overdue order must not show up in this store's reports.
    await add(Ledger(pool, "other"), 101, 1, "5000.00", due_in=-50)  # fmt: skip


def row(
    customer_id: int | None,
    currency: str,
    orders: int,
    *buckets: str,
) -> AgingRow:
    """An expected aging row: current, 1-30, 31-60, 61-90, 90+."""
    return AgingRow(customer_id, currency, orders, *(D(b) for b in buckets))


async def test_aging_buckets_and_totals_per_currency(pool: asyncpg.Pool) -> None:
    """Open orders only, per customer and currency, with per-currency totals."""
    await build_book(pool)

    report = await aging(pool, STORE, TODAY)

    assert report.today == TODAY
    assert report.rows == (
        row(1, "EUR", 1, "0", "0", "0", "0", "500.00"),
        row(2, "EUR", 1, "40.00", "0", "0", "0", "0"),
        row(3, "EUR", 1, "0", "1234.56", "0", "0", "0"),
        row(1, "USD", 3, "1000.00", "250.50", "75.25", "0", "0"),
        row(2, "USD", 2, "99.99", "0", "0", "300.00", "0"),
    )
    assert report.totals == (
        row(None, "EUR", 3, "40.00", "1234.56", "0", "0", "500.00"),
        row(None, "USD", 5, "1099.99", "250.50", "75.25", "300.00", "0"),
    )
    assert [t.total for t in report.totals] == [D("1774.56"), D("1725.74")]
    assert all(isinstance(r.current, Decimal) for r in report.rows)


async def test_aging_bucket_boundaries(pool: asyncpg.Pool) -> None:
    """Due today is current; 1 and 30 days late are 1-30, 31 is 31-60, 91 is 90+."""
    ledger = Ledger(pool, STORE)
    lateness = [0, 1, 30, 31, 60, 61, 90, 91]
    for customer_id, days in enumerate(lateness, start=1):
        await add(ledger, 100 + customer_id, customer_id, "10.00", due_in=-days)
    await add(ledger, 200, 99, "10.00", due_in=None)

    report = await aging(pool, STORE, TODAY)
    overdue = await list_orders(pool, STORE, TODAY, state="overdue", customer_id=None)

    buckets = {
        r.customer_id: next(f for f in ("current", "days_1_30", "days_31_60",
                                         "days_61_90", "over_90")
                            if getattr(r, f) == D("10.00"))
        for r in report.rows
    }  # fmt: skip
    assert buckets == {
        1: "current",
        2: "days_1_30",
        3: "days_1_30",
        4: "days_31_60",
        5: "days_31_60",
        6: "days_61_90",
        7: "days_61_90",
        8: "over_90",
        99: "current",
    }
    assert [(line.order_id, line.days_overdue) for line in overdue] == [
        (108, 91),
        (107, 90),
        (106, 61),
        (105, 60),
        (104, 31),
        (103, 30),
        (102, 1),
    ]


async def test_list_orders_overdue_with_days(pool: asyncpg.Pool) -> None:
    """Overdue lists awaiting-payment orders past due, most overdue first."""
    await build_book(pool)

    lines = await list_orders(pool, STORE, TODAY, state="overdue", customer_id=None)

    assert [(x.order_id, x.days_overdue, x.amount, x.currency) for x in lines] == [
        (104, 100, D("500.00"), "EUR"),
        (201, 70, D("300.00"), "USD"),
        (103, 45, D("75.25"), "USD"),
        (301, 20, D("1234.56"), "EUR"),
        (102, 10, D("250.50"), "USD"),
    ]
    assert {x.state for x in lines} == {"overdue"}
    assert lines[0].due_date == TODAY - timedelta(days=100)
    assert lines[0].policy == "Net 30"
    assert lines[0].group_name == "Net30 Wholesale"


async def test_list_orders_by_state_and_customer(pool: asyncpg.Pool) -> None:
    """No state lists all but applying and ignored; filters and limit apply."""
    await build_book(pool)

    every = await list_orders(pool, STORE, TODAY, state=None, customer_id=None)
    second = await list_orders(pool, STORE, TODAY, state=None, customer_id=2)
    awaiting = await list_orders(
        pool, STORE, TODAY, state="awaiting_payment", customer_id=1
    )
    paid = await list_orders(pool, STORE, TODAY, state="paid", customer_id=None)
    held = await list_orders(pool, STORE, TODAY, state="held", customer_id=None)
    two = await list_orders(pool, STORE, TODAY, state=None, customer_id=None, limit=2)

    assert sorted(x.order_id for x in every) == [
        101, 102, 103, 104, 201, 202, 203, 204, 206, 207, 208, 301, 302,
    ]  # fmt: skip
    assert {x.order_id: x.state for x in second} == {
        201: "overdue",
        202: "awaiting_payment",
        203: "held",
        204: "paid",
        206: "paid",
        207: "closed",
        208: "awaiting_payment",
    }
    assert [(x.order_id, x.state, x.days_overdue) for x in awaiting] == [
        (104, "overdue", 100),
        (103, "overdue", 45),
        (102, "overdue", 10),
        (101, "awaiting_payment", 0),
    ]
    assert [x.order_id for x in paid] == [204, 206]
    assert [(x.order_id, x.days_overdue) for x in held] == [(203, 0)]
    assert len(two) == 2


async def test_list_orders_rejects_unknown_state(pool: asyncpg.Pool) -> None:
    """A state outside ORDER_STATES is a ValueError, not an empty listing."""
    with pytest.raises(ValueError, match="unknown state"):
        await list_orders(pool, STORE, TODAY, state="ignored", customer_id=None)


async def test_statement_running_and_closing_balance(pool: asyncpg.Pool) -> None:
    """Charges and payments by date, running balance per currency, overdue, held."""
    await build_book(pool)

    result = await statement(pool, STORE, 2, TODAY)

    assert result.paid_since == TODAY - timedelta(days=90)
    assert [s.currency for s in result.sections] == ["EUR", "USD"]
    eur, usd = result.sections
    lines = [
        (x.date, x.order_id, x.kind, x.charge, x.payment, x.balance, x.held)
        for x in usd.lines
    ]
    assert lines == [
        (TODAY - timedelta(100), 201, "charge", D("300"), None, D("300"), False),
        (TODAY - timedelta(70), 203, "charge", D("400"), None, D("700"), True),
        (TODAY - timedelta(60), 204, "charge", D("800"), None, D("1500"), False),
        (TODAY - timedelta(35), 204, "payment", None, D("800"), D("700"), False),
        (TODAY - timedelta(30), 202, "charge", D("99.99"), None, D("799.99"), False),
    ]
    assert usd.lines[0].description == "Net 30, due 2026-01-04, overdue 70 days"
    assert usd.lines[1].description.endswith("on hold")
    assert usd.lines[2].description.endswith("paid 2026-02-08")
    assert usd.lines[4].description == "Net 30, due 2026-03-15, awaiting payment"
    assert (usd.closing_balance, usd.overdue, usd.held) == (
        D("799.99"),
        D("300.00"),
        D("400.00"),
    )
    assert [(x.order_id, x.balance) for x in eur.lines] == [(208, D("40.00"))]
    assert result.closing_balances == {"EUR": D("40.00"), "USD": D("799.99")}
    assert result.overdue == {"EUR": D("0"), "USD": D("300.00")}


async def test_statement_paid_window_uses_store_days(pool: asyncpg.Pool) -> None:
    """A payment counts if paid on or after today - N in the store's time zone."""
    await remember_time_zone(pool, STORE, "America/Los_Angeles")
    ledger = Ledger(pool, STORE)
    # 03:00 UTC on day -90 is still day -91 in Los Angeles: outside the window.
    await add(
        ledger, 1, 7, "10.00", due_in=-100, created_ago=120, paid_ago=days_ago(90, 3)
    )
    await add(
        ledger, 2, 7, "20.00", due_in=-100, created_ago=120, paid_ago=days_ago(90, 9)
    )
    await add(
        ledger, 3, 7, "30.00", due_in=-100, created_ago=120, paid_ago=days_ago(89, 3)
    )

    result = await statement(pool, STORE, 7, TODAY)
    short = await statement(pool, STORE, 7, TODAY, paid_within_days=0)

    (usd,) = result.sections
    payments = [(x.order_id, x.date) for x in usd.lines if x.kind == "payment"]
    assert payments == [
        (2, TODAY - timedelta(days=90)),
        (3, TODAY - timedelta(days=90)),
    ]
    assert usd.closing_balance == D("0")
    assert short.sections == ()
