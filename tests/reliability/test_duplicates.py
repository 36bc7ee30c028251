"""Doubled, shuffled, replayed and re-posted deliveries: one effect per order.

Four sources of repeats at once: the store doubles 20 % of its deliveries
and holds back 20 % (so they arrive out of order), an operator makes 20 %
of the stored inbox events pending again (mid-burst and once settled), and
20 % of the stored deliveries are POSTed a second time by hand.
"""

from __future__ import annotations

import asyncio
import random
import shutil

import aiohttp
import asyncpg
import pytest

from netterms_daemon.simulator.server import Simulator
from netterms_daemon.webhook import WEBHOOK_PATH
from tests.conftest import make_shared_dir
from tests.support.processes import (
    DaemonProcess,
    assert_exactly_once,
    daemon_env,
    settled,
)
from tests.support.stack import eventually, place_order, seeded_store, wait_for_hooks

SHARE = 0.2
REPLAY = """
UPDATE inbox_events SET state = 'pending', attempts = 0, next_attempt_at = now()
WHERE id = ANY($1::bigint[])
"""


@pytest.mark.timeout(300)
async def test_duplicates_every_kind_of_repeat_has_one_effect(
    database_url: str, full: bool
) -> None:
    """Store doubles and reorders, inbox replays, hand re-posts: one effect each."""
    workdir = make_shared_dir("netterms-reliability-")
    size = 1000 if full else 150
    chance = random.Random(20240611)
    try:
        async with seeded_store(speed=60) as simulator:
            daemon = DaemonProcess(
                daemon_env(simulator, database_url, workdir), workdir
            ).start()
            await wait_for_hooks(simulator)
            simulator.store.faults.webhook_duplicate_rate = SHARE
            simulator.store.faults.webhook_reorder_rate = SHARE

            members = []
            async with aiohttp.ClientSession() as http:
                for index in range(size):
                    members.append(place_order(simulator, 1 + index % 2, "10.00"))
                    if index % 25 == 0:
                        await asyncio.sleep(0.05)
                    if index == size // 2:
                        await _replay_some(database_url, chance)
                        await _post_again(http, simulator, daemon, database_url, chance)

                await eventually(
                    lambda: settled(database_url, len(members)),
                    timeout_s=120,
                    what="every member order on terms",
                )
                replayed = await _replay_some(database_url, chance)
                reposted = await _post_again(
                    http, simulator, daemon, database_url, chance
                )
            await eventually(
                lambda: _all_done(database_url), timeout_s=60, what="replays done"
            )
            await asyncio.sleep(1.5)

            await assert_exactly_once(simulator, database_url, members)
            counters = simulator.store.webhooks.counters
            assert counters.duplicated > 0
            assert replayed > 0 and reposted > 0
            assert await _created_rows(database_url) == len(members), (
                "one row per order"
            )
            assert daemon.stop() == 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def _replay_some(database_url: str, chance: random.Random) -> int:
    """Make a random share of the stored events pending again, as an operator might."""
    connection = await asyncpg.connect(database_url)
    try:
        ids = [row["id"] for row in await connection.fetch(_IDS)]
        picked = [i for i in ids if chance.random() < SHARE]
        await connection.execute(REPLAY, picked)
    finally:
        await connection.close()

    return len(picked)


_IDS = "SELECT id FROM inbox_events ORDER BY id"


async def _post_again(
    http: aiohttp.ClientSession,
    simulator: Simulator,
    daemon: DaemonProcess,
    database_url: str,
    chance: random.Random,
) -> int:
    """POST a random share of the stored deliveries again; each must be taken."""
    connection = await asyncpg.connect(database_url)
    try:
        payloads = [
            row["payload"]
            for row in await connection.fetch(
                "SELECT payload FROM inbox_events ORDER BY id"
            )
        ]
    finally:
        await connection.close()
    headers = next(iter(simulator.store.state.hooks.values())).headers
    picked = [p for p in payloads if chance.random() < SHARE]

    for payload in picked:
        async with http.post(
            daemon.base + WEBHOOK_PATH,
            data=payload,
            headers={**headers, "Content-Type": "application/json"},
        ) as response:
            assert response.status == 200, await response.text()
    return len(picked)


async def _all_done(database_url: str) -> bool:
    connection = await asyncpg.connect(database_url)
    try:
        left = await connection.fetchval(
            "SELECT count(*) FROM inbox_events WHERE state <> 'done'"
        )
    finally:
        await connection.close()
    return bool(left == 0)


async def _created_rows(database_url: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM inbox_events WHERE scope = 'store/order/created'"
            )
        )
    finally:
        await connection.close()
