"""The store throttles and fails calls while orders arrive: none lost, none twice.

The store's real quota is small (40 calls per 2 s) and the daemon is told
so; on top of it the store injects 429s and 500s at 30 % each. The daemon
must ride them out without ever spending past the real quota.
"""

from __future__ import annotations

import asyncio
import shutil
import time

import aiohttp
import asyncpg
import pytest

from netterms_daemon.simulator.server import Simulator
from tests.conftest import make_shared_dir
from tests.support.processes import (
    DaemonProcess,
    assert_exactly_once,
    daemon_env,
    settled,
)
from tests.support.stack import eventually, place_order, seeded_store, wait_for_hooks

QUOTA = 40
WINDOW_S = 2
BURST = 4
ORDERS_PER_S = 3
RETAIL_CUSTOMER = 3


@pytest.mark.timeout(300)
async def test_store_faults_429_and_5xx_lose_and_double_nothing(
    database_url: str, full: bool
) -> None:
    """30 % injected 429s and 30 % 500s for a while: each order has one effect."""
    workdir = make_shared_dir("netterms-reliability-")
    duration_s = 60.0 if full else 8.0
    try:
        async with seeded_store(speed=60, quota=QUOTA, window_s=WINDOW_S) as simulator:
            store = simulator.store
            env = daemon_env(
                simulator,
                database_url,
                workdir,
                extra={
                    "NETTERMS_BIGCOMMERCE_RATE_LIMIT_QUOTA": str(QUOTA),
                    "NETTERMS_BIGCOMMERCE_RATE_LIMIT_WINDOW_S": str(WINDOW_S),
                    "NETTERMS_BIGCOMMERCE_RATE_LIMIT_BURST": str(BURST),
                },
            )
            daemon = DaemonProcess(env, workdir).start()
            await wait_for_hooks(simulator)

            store.faults.api_throttle_rate = 0.3
            store.faults.api_error_rate = 0.3
            members, retail = await _orders_for(simulator, duration_s)
            store.faults.api_throttle_rate = 0.0
            store.faults.api_error_rate = 0.0

            await eventually(
                lambda: settled(database_url, len(members)),
                timeout_s=120,
                what="every member order on terms",
            )
            await asyncio.sleep(1.5)
            await assert_exactly_once(simulator, database_url, members)
            await _assert_retail_untouched(simulator, database_url, retail)
            assert store.faults.throttled_injected > 0
            assert store.quota.refused == 0, "the daemon overspent the real quota"
            assert daemon.stop() == 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def _orders_for(
    simulator: Simulator, duration_s: float
) -> tuple[list[int], list[int]]:
    """Place orders at a steady pace; every fourth is a retail customer's."""
    members: list[int] = []
    retail: list[int] = []
    deadline = time.monotonic() + duration_s
    index = 0
    while time.monotonic() < deadline:
        if index % 4 == 3:
            retail.append(place_order(simulator, RETAIL_CUSTOMER, "10.00"))
        else:
            members.append(place_order(simulator, 1 + index % 2, "10.00"))
        index += 1
        await asyncio.sleep(1 / ORDERS_PER_S)

    return members, retail


async def _assert_retail_untouched(
    simulator: Simulator, database_url: str, retail: list[int]
) -> None:
    """Retail orders keep their status, get no note, no metafield, no terms."""
    state = simulator.store.state
    for order_id in retail:
        order = state.orders[order_id]
        assert order.status_id == 11, order_id
        assert "netterms:" not in order.staff_notes, order_id
    assert not [m for m in state.metafields.values() if m.order_id in set(retail)]

    connection = await asyncpg.connect(database_url)
    try:
        on_terms = await connection.fetchval(
            "SELECT count(*) FROM tracked_orders"
            " WHERE order_id = ANY($1::bigint[]) AND state = 'awaiting_payment'",
            retail,
        )
    finally:
        await connection.close()
    assert on_terms == 0


async def test_store_faults_injected_429_looks_like_a_spent_quota() -> None:
    """api_throttle_rate=1: 429, nothing left, reset ~1 s, counted apart."""
    async with (
        seeded_store(quota=QUOTA, window_s=WINDOW_S) as simulator,
        aiohttp.ClientSession() as http,
    ):
        simulator.store.faults.api_throttle_rate = 1.0
        async with http.get(
            f"{simulator.api_root}/v2/orders",
            headers={"X-Auth-Token": simulator.store.options.access_token},
        ) as response:
            status, headers = response.status, response.headers
        async with http.get(f"{simulator.url}/__simulator/status") as answer:
            report = await answer.json()

    assert status == 429
    assert headers["X-Rate-Limit-Requests-Left"] == "0"
    assert headers["X-Rate-Limit-Time-Reset-Ms"] == "1000"
    assert headers["X-Retry-After"] == "1"
    assert headers["X-Rate-Limit-Requests-Quota"] == str(QUOTA)
    assert report["faults"]["throttled_injected"] == 1
    assert report["rate_limited"] == 0
