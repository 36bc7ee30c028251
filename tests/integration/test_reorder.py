"""Reordered and late status events: decisions come from the order as it is now."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from tests.support.stack import (
    daemon_settings,
    eventually,
    place_order,
    running_daemon,
    seeded_store,
    tracked,
    wait_for_hooks,
)

PUTS = "PUT /v2/orders/{order_id}"


async def test_reordered_status_events_leave_one_effect_each(
    database_url: str, tmp_path: Path
) -> None:
    """Paid then cancelled, events shuffled: the ledger ends as the store does."""
    async with seeded_store(speed=20) as simulator:
        store_hash = simulator.store.state.store_hash

        async def state_of(order_id: int) -> str | None:
            row = await tracked(database_url, store_hash, order_id)
            return row.state if row else None

        async def reaches(order_id: int, state: str) -> bool:
            return await state_of(order_id) == state

        settings = daemon_settings(simulator, database_url, tmp_path)
        async with running_daemon(settings), aiohttp.ClientSession() as http:
            await wait_for_hooks(simulator)
            orders = [place_order(simulator, 1, "10.00") for _ in range(6)]
            for order_id in orders:
                await eventually(lambda o=order_id: reaches(o, "awaiting_payment"))

            simulator.store.faults.webhook_reorder_rate = 1.0
            simulator.store.faults.webhook_duplicate_rate = 0.5
            merchant_puts = 0
            headers = {
                "X-Auth-Token": simulator.store.options.access_token,
                "Accept": "application/json",
            }
            for index, order_id in enumerate(orders):
                statuses = [11, 5] if index % 2 else [11]
                for status in statuses:
                    url = f"{simulator.api_root}/v2/orders/{order_id}"
                    async with http.put(
                        url, json={"status_id": status}, headers=headers
                    ):
                        merchant_puts += 1

            for index, order_id in enumerate(orders):
                expected = "closed" if index % 2 else "paid"
                await eventually(lambda o=order_id, e=expected: reaches(o, e))
            await asyncio.sleep(1.0)
            final = [await state_of(order_id) for order_id in orders]

    assert final == ["paid", "closed"] * 3
    assert simulator.store.api_calls[PUTS] == len(orders) + merchant_puts
