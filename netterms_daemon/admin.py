"""Operator commands that read or nudge the daemon's state: setup, events, orders.

Each works whether or not the daemon runs (the embedded database is
shared), writes its answer to stdout and logs to stderr.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TextIO

import asyncpg
import structlog

from netterms_daemon.backfill import Backfill
from netterms_daemon.bigcommerce.client import BigCommerceClient
from netterms_daemon.clock import SystemClock
from netterms_daemon.config import Settings
from netterms_daemon.daemon import build_processor
from netterms_daemon.database import create_pool, database_url
from netterms_daemon.errors import ConfigError
from netterms_daemon.inbox import Inbox, InboxEvent
from netterms_daemon.ledger import Ledger
from netterms_daemon.migrations import migrate
from netterms_daemon.processor import OrderProcessor
from netterms_daemon.reconciler import Reconciler
from netterms_daemon.report_render import (
    render_aging,
    render_orders,
    render_statement,
)
from netterms_daemon.reports import aging, list_orders, statement
from netterms_daemon.setup import resolve_terms, run_setup
from netterms_daemon.storefacts import store_today
from netterms_daemon.terms.schedule import minor_unit

log = structlog.get_logger(__name__)


def store_hash_of(settings: Settings) -> str:
    """The configured store, which every stored row is keyed by."""
    if not settings.bigcommerce.store_hash:
        raise ConfigError(
            ["[bigcommerce] store_hash is not set (or NETTERMS_BIGCOMMERCE_STORE_HASH)"]
        )
    return settings.bigcommerce.store_hash


@contextlib.asynccontextmanager
async def opened_pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """
    A small pool on the configured or embedded database, for one command.

    The schema is brought up to date first (it is idempotent and cheap), so a
    command run before the daemon ever started finds its tables.
    """
    async with database_url(settings) as url:
        pool = await create_pool(url, settings.database)
        try:
            async with pool.acquire() as connection:
                await migrate(connection)
            yield pool
        finally:
            await pool.close()


async def setup_store(settings: Settings, out: TextIO) -> int:
    """Ensure groups and webhooks; print one line per change and per warning."""
    store_hash_of(settings)
    async with BigCommerceClient.from_settings(settings.bigcommerce) as client:
        report = await run_setup(settings, client)
    for line in report.changes:
        print(line, file=out)
    for line in report.warnings:
        print(line if line.startswith("warning") else f"warning: {line}", file=out)
    if not report.changes:
        print("nothing to change: the store matches the configuration", file=out)
    return 0


async def list_events(
    settings: Settings, state: str | None, limit: int, out: TextIO
) -> int:
    """Print the newest inbox events as a table."""
    store_hash = store_hash_of(settings)
    async with opened_pool(settings) as pool:
        events = await Inbox(pool, store_hash).list(state, limit)
    rows = [_event_row(event) for event in events]
    _table(
        ["id", "state", "scope", "resource", "attempts", "received", "last error"],
        rows,
        out,
    )
    return 0


def _event_row(event: InboxEvent) -> list[str]:
    return [
        str(event.id),
        event.state,
        event.scope,
        str(event.resource_id or ""),
        str(event.attempts),
        _when(event.received_at),
        (event.last_error or "")[:60],
    ]


async def replay_events(
    settings: Settings, event_id: int | None, dead: bool, out: TextIO
) -> int:
    """Make one event, or every dead-lettered one, pending again."""
    store_hash = store_hash_of(settings)
    async with opened_pool(settings) as pool:
        inbox = Inbox(pool, store_hash)
        if dead:
            count = await inbox.replay_dead()
            print(f"{count} dead-lettered event(s) queued again", file=out)
            return 0
        assert event_id is not None
        if not await inbox.replay(event_id):
            print(f"no event {event_id}", file=out)
            return 1
    print(f"event {event_id} queued again", file=out)
    return 0


async def show_order(
    settings: Settings, order_id: int, out: TextIO, as_json: bool
) -> int:
    """Print an order's tracked state and its history."""
    store_hash = store_hash_of(settings)
    async with opened_pool(settings) as pool:
        ledger = Ledger(pool, store_hash)
        tracked = await ledger.get(order_id)
        history = await ledger.history(order_id) if tracked else []
    if tracked is None:
        print(f"order {order_id} is not tracked", file=out)
        return 1

    if as_json:
        body = {
            **tracked.view(),
            "order_id": order_id,
            "customer_id": tracked.customer_id,
            "explanation": tracked.explanation,
            "schedule": tracked.schedule,
            "history": [
                {"at": e.at.isoformat(), "actor": e.actor, "action": e.action,
                 "before": e.before, "after": e.after}
                for e in history
            ],
        }  # fmt: skip
        print(json.dumps(body, indent=2), file=out)
        return 0

    pairs = [
        ("order", str(order_id)),
        ("customer", str(tracked.customer_id)),
        ("group", tracked.group_name or "-"),
        ("state", tracked.state),
        (
            "amount",
            f"{tracked.currency} "
            f"{tracked.amount.quantize(minor_unit(tracked.currency))}",
        ),
        ("due date", tracked.due_date.isoformat() if tracked.due_date else "-"),
        ("terms", tracked.explanation or tracked.ignored_reason or "-"),
    ]
    if tracked.hold_reason:
        pairs.append(("on hold", tracked.hold_reason))
    if tracked.closed_reason:
        pairs.append(("closed", tracked.closed_reason))
    for label, value in pairs:
        print(f"{label:<10} {value}", file=out)
    print("\nhistory", file=out)
    _table(
        ["at", "actor", "action", "change"],
        [[_when(e.at), e.actor, e.action, _change(e.before, e.after)] for e in history],
        out,
    )
    return 0


def _change(before: dict[str, object] | None, after: dict[str, object] | None) -> str:
    if before is None:
        return ", ".join(f"{k}={v}" for k, v in (after or {}).items() if v is not None)
    changed = [
        f"{key}: {before.get(key)} -> {value}"
        for key, value in (after or {}).items()
        if before.get(key) != value
    ]
    return "; ".join(changed)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _table(headers: list[str], rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]  # fmt: skip
    print(
        "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(),
        file=out,
    )
    for row in rows:
        print(
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(),
            file=out,
        )
    if not rows:
        print("(none)", file=out)


async def report_aging(settings: Settings, fmt: str, out: TextIO) -> int:
    """Print the aging report."""
    store_hash = store_hash_of(settings)
    async with opened_pool(settings) as pool:
        today = await store_today(pool, store_hash, SystemClock().now())
        report = await aging(pool, store_hash, today)
    print(render_aging(report, fmt), file=out)
    return 0


async def orders_report(
    settings: Settings,
    state: str | None,
    customer_id: int | None,
    limit: int,
    fmt: str,
    out: TextIO,
) -> int:
    """Print tracked orders, optionally in one state or of one customer."""
    store_hash = store_hash_of(settings)
    async with opened_pool(settings) as pool:
        today = await store_today(pool, store_hash, SystemClock().now())
        lines = await list_orders(
            pool, store_hash, today, state=state, customer_id=customer_id, limit=limit
        )
    print(render_orders(lines, fmt), file=out)
    return 0


async def customer_statement(
    settings: Settings, customer_id: int, paid_within_days: int, fmt: str, out: TextIO
) -> int:
    """Print one customer's statement."""
    store_hash = store_hash_of(settings)
    async with opened_pool(settings) as pool:
        today = await store_today(pool, store_hash, SystemClock().now())
        found = await statement(
            pool, store_hash, customer_id, today, paid_within_days=paid_within_days
        )
    print(render_statement(found, fmt), file=out)
    return 0


@contextlib.asynccontextmanager
async def store_tools(
    settings: Settings,
) -> AsyncIterator[tuple[asyncpg.Pool, BigCommerceClient, OrderProcessor]]:
    """The pool, client and order processor a one-off command needs."""
    store_hash_of(settings)
    async with (
        opened_pool(settings) as pool,
        BigCommerceClient.from_settings(settings.bigcommerce) as client,
    ):
        book, _ = await resolve_terms(settings, client, create_missing=False)
        for missing in book.missing:
            log.error("terms.group_missing", group=missing, hint="run netterms setup")
        processor = build_processor(settings, client, pool, book, SystemClock())
        yield pool, client, processor
        # Orders this command applied terms to get their metafields now.
        await processor.metafields.flush()


async def reconcile_once(settings: Settings, out: TextIO) -> int:
    """Run one reconciler pass now, whoever leads, and print its summary."""
    store_hash = store_hash_of(settings)
    async with store_tools(settings) as (pool, client, processor):
        reconciler = Reconciler(
            pool=pool,
            client=client,
            processor=processor,
            ledger=Ledger(pool, store_hash),
            settings=settings.reconciler,
            clock=SystemClock(),
            public_url=settings.webhooks.public_url,
            connect=_single_pass_only,
        )
        report = await reconciler.run_pass(actor="cli")
    print(
        f"{report.changed} orders changed since the last pass "
        f"({_counts(report.outcomes) or 'none'}); "
        f"{report.overdue} newly overdue, {report.escalated} escalated, "
        f"{report.due_soon} due soon, {report.reactivated} webhooks re-enabled; "
        f"{report.api_calls} API calls in {report.duration_ms:.0f} ms",
        file=out,
    )
    return 0


def _counts(outcomes: dict[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items()))


async def _single_pass_only() -> asyncpg.Connection:
    raise RuntimeError("a single pass competes for no leadership")


async def run_backfill(
    settings: Settings, since: datetime, dry_run: bool, out: TextIO
) -> int:
    """Bring in the orders created since a date, or show what that would do."""
    store_hash = store_hash_of(settings)
    async with store_tools(settings) as (pool, client, processor):
        outcomes = await Backfill(
            pool=pool,
            client=client,
            processor=processor,
            store_hash=store_hash,
            since=since,
            dry_run=dry_run,
            out=out,
        ).run()
    summary = ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items())) or "no orders"
    print(f"{'would do' if dry_run else 'done'}: {summary}", file=out)
    return 0
