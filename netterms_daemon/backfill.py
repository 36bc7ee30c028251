"""`netterms backfill`: bring in an existing book of orders when netterms is installed.

The orders created since a date are read 250 a page and handled exactly as
a webhook would handle them, so terms go only to new orders of net-terms
customers and nothing is done twice. The last order handled is remembered,
so an interrupted backfill resumes where it stopped; `--dry-run` only says
what would happen.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from datetime import datetime
from typing import TextIO

import asyncpg
import structlog

from netterms_daemon.bigcommerce.client import BigCommerceClient
from netterms_daemon.locks import order_lock
from netterms_daemon.processor import OrderProcessor
from netterms_daemon.storefacts import get_state, put_state

log = structlog.get_logger(__name__)

PROGRESS_EVERY = 250


class Backfill:
    """One backfill run over the orders created since a moment."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        client: BigCommerceClient,
        processor: OrderProcessor,
        store_hash: str,
        since: datetime,
        dry_run: bool,
        out: TextIO,
    ) -> None:
        self._pool = pool
        self._client = client
        self._processor = processor
        self._store_hash = store_hash
        self._since = since
        self._dry_run = dry_run
        self._out = out
        self._cursor_key = f"backfill.cursor.{since.isoformat()}"
        self.outcomes: Counter[str] = Counter()

    async def run(self) -> Counter[str]:
        """Handle (or describe) every order, showing progress; return the counts."""
        started = time.monotonic()
        resume_after = None if self._dry_run else await self._cursor()
        if resume_after:
            log.info("backfill.resuming", after_order_id=resume_after)

        seen = 0
        async for order in self._client.orders(
            created_since=self._since,
            sort="id:asc",
            min_id=resume_after + 1 if resume_after else None,
        ):
            if self._dry_run:
                decision = await self._processor.describe_decision(order)
                print(f"order {order.id}: {decision}", file=self._out)
                self.outcomes[" ".join(decision.split()[:2]).rstrip(":")] += 1
            else:
                async with order_lock(self._pool, self._store_hash, order.id) as got:
                    outcome = (
                        "busy"
                        if not got
                        else await self._processor.handle_order(
                            order.id, "cli", order=order
                        )
                    )
                self.outcomes[outcome] += 1
                await self._save_cursor(order.id)
            seen += 1
            self._progress(seen)

        self._finish(seen, time.monotonic() - started)
        return self.outcomes

    def _progress(self, seen: int) -> None:
        if sys.stderr.isatty():
            counts = ", ".join(f"{n} {k}" for k, n in sorted(self.outcomes.items()))
            print(f"\rbackfill: {seen} orders ({counts})", end="", file=sys.stderr)
        elif seen % PROGRESS_EVERY == 0:
            log.info("backfill.progress", orders=seen, outcomes=dict(self.outcomes))

    def _finish(self, seen: int, seconds: float) -> None:
        if sys.stderr.isatty() and seen:
            print(file=sys.stderr)
        log.info(
            "backfill.done",
            orders=seen,
            outcomes=dict(self.outcomes),
            dry_run=self._dry_run,
            duration_s=round(seconds, 1),
        )

    async def _cursor(self) -> int | None:
        value = await get_state(self._pool, self._store_hash, self._cursor_key)
        return int(value) if value is not None else None

    async def _save_cursor(self, order_id: int) -> None:
        await put_state(self._pool, self._store_hash, self._cursor_key, order_id)
