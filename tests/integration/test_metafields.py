"""Schedules copied to order metafields in batches: once each, whatever happened."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from structlog.testing import capture_logs

from netterms_daemon.bigcommerce.client import BigCommerceClient
from netterms_daemon.clock import SystemClock
from netterms_daemon.config import Secret
from netterms_daemon.daemon import build_processor
from netterms_daemon.ledger import Ledger
from netterms_daemon.metafields import (
    METAFIELD_KEY,
    METAFIELD_NAMESPACE,
    MetafieldWriter,
    schedule_metafield,
)
from netterms_daemon.processor import OrderProcessor
from netterms_daemon.setup import resolve_terms
from netterms_daemon.simulator.server import Simulator
from tests.support.stack import daemon_settings, place_order, seeded_store

BATCH_CREATE = "POST /v3/orders/metafields"


@dataclass
class Kit:
    simulator: Simulator
    pool: asyncpg.Pool
    client: BigCommerceClient
    processor: OrderProcessor

    def fields_of(self, order_id: int) -> list[str]:
        return [
            m.value
            for m in self.simulator.store.state.metafields.values()
            if m.order_id == order_id
        ]

    async def metafield_id(self, order_id: int) -> int | None:
        value: int | None = await self.pool.fetchval(
            "SELECT metafield_id FROM tracked_orders WHERE order_id = $1", order_id
        )
        return value

    def writer(self) -> MetafieldWriter:
        """A second writer on the same database, as another daemon would have."""
        return MetafieldWriter(
            client=self.client,
            ledger=Ledger(self.pool, self.simulator.store.state.store_hash),
            clock=SystemClock(),
        )


@pytest.fixture
async def kit(database_url: str, tmp_path: Path) -> AsyncIterator[Kit]:
    async with seeded_store() as simulator:
        settings = daemon_settings(
            simulator,
            database_url,
            tmp_path,
            extra_env={"NETTERMS_WEBHOOKS_PUBLIC_URL": ""},
        )
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=6)
        client = BigCommerceClient(
            simulator.store.state.store_hash,
            Secret(simulator.store.options.access_token),
            api_url=simulator.url,
        )
        try:
            book, _ = await resolve_terms(settings, client, create_missing=False)
            processor = build_processor(settings, client, pool, book, SystemClock())
            yield Kit(simulator, pool, client, processor)
        finally:
            await client.close()
            await pool.close()


async def _apply(kit: Kit, count: int) -> list[int]:
    orders = [place_order(kit.simulator, 1 + i % 2, "40.00") for i in range(count)]
    for order_id in orders:
        assert await kit.processor.handle_order(order_id, "cli") == "applied"
    return orders


async def test_many_orders_share_one_call(kit: Kit) -> None:
    """Twelve orders applied: one batch call writes all twelve schedules."""
    orders = await _apply(kit, 12)
    assert all(kit.fields_of(o) == [] for o in orders), "not written while applying"
    before = kit.simulator.store.api_calls[BATCH_CREATE]

    report = await kit.processor.metafields.flush()

    assert (report.written, report.calls, report.failed) == (12, 1, 0)
    assert kit.simulator.store.api_calls[BATCH_CREATE] - before == 1
    for order_id in orders:
        (value,) = kit.fields_of(order_id)
        assert json.loads(value)["policy"] == "Net 30"
        assert await kit.metafield_id(order_id) is not None
    assert (await kit.processor.metafields.flush()).calls == 0, "nothing left"


async def test_batches_are_cut_at_the_batch_size(kit: Kit) -> None:
    orders = await _apply(kit, 7)
    writer = kit.writer()
    writer._batch_size = 3

    report = await writer.flush()

    assert (report.written, report.calls) == (7, 3)
    assert all(len(kit.fields_of(o)) == 1 for o in orders)


async def test_field_written_before_a_crash_is_found_not_duplicated(kit: Kit) -> None:
    """The batch reached the store but its ids were never recorded: look them up."""
    first, second = await _apply(kit, 2)
    row = await kit.pool.fetchval(
        "SELECT schedule FROM tracked_orders WHERE order_id = $1", first
    )
    made = await kit.client.create_order_metafield(
        schedule_metafield(first, json.dumps(json.loads(row), sort_keys=True))
    )

    report = await kit.processor.metafields.flush()

    assert (report.written, report.failed) == (2, 0)
    assert len(kit.fields_of(first)) == 1 and len(kit.fields_of(second)) == 1
    assert await kit.metafield_id(first) == made.id


async def test_order_gone_from_the_store_is_retried_later_not_fatal(kit: Kit) -> None:
    gone, kept = await _apply(kit, 2)
    del kit.simulator.store.state.orders[gone]

    writer = kit.writer()  # waits the default 300 s before trying a refusal again
    with capture_logs() as logs:
        report = await writer.flush()
        again = await writer.flush()

    assert (report.written, report.failed) == (1, 1)
    assert len(kit.fields_of(kept)) == 1
    assert await kit.metafield_id(gone) is None
    assert again.calls == 0, "the refused order waits for its retry time"
    (failed,) = [e for e in logs if e["event"] == "metafield.write_failed"]
    assert failed["order_ids"] == [gone]
    assert await kit.processor.metafields.pending() == 1


async def test_two_writers_at_once_write_each_field_once(kit: Kit) -> None:
    """Daemons sharing a database lease orders to one writer at a time."""
    orders = await _apply(kit, 30)
    one, other = kit.writer(), kit.writer()
    one._batch_size = other._batch_size = 4

    reports = await asyncio.gather(one.flush(), other.flush())

    assert sum(r.written for r in reports) == 30
    assert all(len(kit.fields_of(o)) == 1 for o in orders)
    names = {
        (m.namespace, m.key) for m in kit.simulator.store.state.metafields.values()
    }
    assert names == {(METAFIELD_NAMESPACE, METAFIELD_KEY)}
