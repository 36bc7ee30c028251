"""PostgreSQL stopped or frozen mid-burst: fast 503s, alive, back, none lost or doubled.

The daemon runs as a process on a PostgreSQL server of the test's own, which
is stopped (`pg_ctl stop`) or frozen (SIGSTOP) while orders keep coming.
Deliveries posted by hand during the outage must be refused with 503 quickly,
so that BigCommerce retries them; the simulated store retries its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from netterms_daemon.config import WebhookSettings
from netterms_daemon.embedded import EmbeddedPostgres
from netterms_daemon.simulator.server import Simulator
from tests.conftest import make_shared_dir
from tests.support.processes import (
    DaemonProcess,
    assert_exactly_once,
    daemon_env,
    settled,
)
from tests.support.stack import SECRET, place_order, seeded_store

OUTAGE_S = 3.0
OUTAGE_FULL_S = 10.0
BURST = 30
BURST_FULL = 200
# Within this a refused delivery must be answered, so the store hears 503.
ANSWER_WITHIN_S = 2.0
# Within this of the database coming back, deliveries are accepted again.
RECOVER_WITHIN_S = 5.0
# Between two hand-built deliveries (each with an order) during the outage.
PROBE_INTERVAL_S = 0.25
# Every pooled connection open from the start, as in a daemon that has been
# busy, and more than the worker holds: so a delivery during the outage meets
# an idle open connection, not a fresh connect.
POOL_SIZE = "40"
SECRET_HEADER = WebhookSettings().secret_header


class SlowRefusalError(AssertionError):
    """A delivery was not answered within ANSWER_WITHIN_S during the outage."""


@dataclass
class Observed:
    """What the daemon answered while the database was away."""

    orders: list[int] = field(default_factory=list)
    deliveries: list[tuple[int | None, float]] = field(default_factory=list)
    health: list[int | None] = field(default_factory=list)


@pytest.fixture
def own_server() -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL server of this test's own, to stop, freeze and start."""
    state_dir = make_shared_dir("netterms-outage-pg-")
    server = EmbeddedPostgres(state_dir)
    server.acquire()
    try:
        yield server
    finally:
        server.release()
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.mark.timeout(300)
async def test_database_stopped_mid_burst(
    own_server: EmbeddedPostgres, full: bool
) -> None:
    """Postgres stopped mid-burst: 503 fast, /healthz 200, 200 again, exactly once."""
    await _burst_through_outage(
        own_server, full, cut=own_server.stop, restore=own_server.start
    )


@pytest.mark.timeout(300)
async def test_database_frozen_mid_burst(
    own_server: EmbeddedPostgres, full: bool
) -> None:
    """Postgres frozen by SIGSTOP mid-burst: 503 fast, 200 again soon, exactly once."""
    frozen: list[int] = []
    try:
        await _burst_through_outage(
            own_server,
            full,
            cut=lambda: frozen.extend(_freeze(own_server)),
            restore=lambda: _thaw(frozen),
        )
    finally:
        # Whatever failed, the server must not stay stopped for the teardown.
        _thaw(frozen)


async def _burst_through_outage(
    server: EmbeddedPostgres,
    full: bool,
    *,
    cut: Callable[[], object],
    restore: Callable[[], object],
) -> None:
    """Orders before, during and after an outage; check the effects, then answers."""
    outage_s = OUTAGE_FULL_S if full else OUTAGE_S
    burst = BURST_FULL if full else BURST
    url = server.url()
    workdir = make_shared_dir("netterms-outage-")
    pool = {
        "NETTERMS_DATABASE_POOL_MIN_SIZE": POOL_SIZE,
        "NETTERMS_DATABASE_POOL_MAX_SIZE": POOL_SIZE,
    }
    try:
        async with seeded_store(speed=60) as simulator, aiohttp.ClientSession() as http:
            env = daemon_env(simulator, url, workdir, extra=pool)
            daemon = DaemonProcess(env, workdir).start()
            assert daemon.process is not None
            pid = daemon.process.pid
            await _wait_until(_hooks(simulator))

            members = await _place_burst(simulator, burst)
            # Cut once the burst is in the inbox, while the worker is busy with it.
            await _wait_until(lambda: _received(url, burst))
            observed = await _outage(http, daemon, simulator, outage_s, cut, restore)
            members += observed.orders
            recovered_in = await _until_accepted(http, daemon, simulator, members[-1])
            members += await _place_burst(simulator, burst)

            await _wait_until(lambda: _drained(simulator, url, len(members)), 120)
            await asyncio.sleep(1.5)
            await assert_exactly_once(simulator, url, members)
            assert daemon.process.poll() is None and daemon.process.pid == pid
            assert daemon.stop() == 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    statuses = [status for status, _ in observed.deliveries]
    assert len(statuses) >= 3, observed
    assert set(observed.health) == {200}, observed.health
    assert recovered_in < RECOVER_WITHIN_S, recovered_in
    slowest = max(elapsed for _, elapsed in observed.deliveries)
    if slowest >= ANSWER_WITHIN_S:
        raise SlowRefusalError(f"(status, seconds): {observed.deliveries}")
    assert set(statuses) == {503}, observed.deliveries


async def _place_burst(simulator: Simulator, size: int) -> list[int]:
    """Orders of both member customers, placed about as fast as the store takes them."""
    placed = []
    for index in range(size):
        placed.append(place_order(simulator, 1 + index % 2, "10.00"))
        if index % 25 == 0:
            await asyncio.sleep(0.05)

    return placed


async def _received(database_url: str, count: int) -> bool:
    """At least count store/order/created deliveries are in the inbox."""
    connection = await asyncpg.connect(database_url)
    try:
        stored = await connection.fetchval(
            "SELECT count(*) FROM inbox_events WHERE scope = 'store/order/created'"
        )
    finally:
        await connection.close()

    return bool(stored >= count)


async def _drained(simulator: Simulator, database_url: str, orders: int) -> bool:
    """Settled, and no refused delivery is still waiting for its retry."""
    if simulator.store.webhooks.pending:
        return False
    return await settled(database_url, orders)


async def _outage(
    http: aiohttp.ClientSession,
    daemon: DaemonProcess,
    simulator: Simulator,
    outage_s: float,
    cut: Callable[[], object],
    restore: Callable[[], object],
) -> Observed:
    """Cut the database for outage_s, probing the daemon meanwhile."""
    observed = Observed()
    probes: set[asyncio.Task[None]] = set()
    await asyncio.to_thread(cut)
    try:
        # Each probe must be answered while the database is still away.
        last_probe = time.monotonic() + outage_s - ANSWER_WITHIN_S
        while time.monotonic() < last_probe:
            order_id = place_order(simulator, 1, "10.00")
            observed.orders.append(order_id)
            probe = _probe(http, daemon, simulator, order_id, observed)
            probes.add(asyncio.create_task(probe))
            await asyncio.sleep(PROBE_INTERVAL_S)
        await asyncio.sleep(max(0.0, last_probe + ANSWER_WITHIN_S - time.monotonic()))
    finally:
        await asyncio.to_thread(restore)
        await asyncio.gather(*probes, return_exceptions=True)

    return observed


async def _probe(
    http: aiohttp.ClientSession,
    daemon: DaemonProcess,
    simulator: Simulator,
    order_id: int,
    observed: Observed,
) -> None:
    """One hand-built delivery and one /healthz, recorded."""
    observed.deliveries.append(await _deliver(http, daemon, simulator, order_id))
    try:
        async with http.get(
            f"{daemon.base}/healthz", timeout=aiohttp.ClientTimeout(total=2)
        ) as health:
            observed.health.append(health.status)
    except (TimeoutError, aiohttp.ClientError):
        observed.health.append(None)


async def _until_accepted(
    http: aiohttp.ClientSession,
    daemon: DaemonProcess,
    simulator: Simulator,
    order_id: int,
) -> float:
    """Post deliveries until one is answered 200; return how long that took."""
    started = time.monotonic()
    while time.monotonic() - started < 4 * RECOVER_WITHIN_S:
        status, _ = await _deliver(http, daemon, simulator, order_id)
        if status == 200:
            return time.monotonic() - started
        await asyncio.sleep(0.1)

    raise AssertionError(f"no delivery accepted within {4 * RECOVER_WITHIN_S} s")


async def _deliver(
    http: aiohttp.ClientSession,
    daemon: DaemonProcess,
    simulator: Simulator,
    order_id: int,
) -> tuple[int | None, float]:
    """Post one store/order/created delivery with a hash of its own."""
    delivery = {
        "scope": "store/order/created",
        "store_id": simulator.store.state.store_id,
        "data": {"type": "order", "id": order_id},
        "hash": uuid.uuid4().hex,
        "created_at": int(time.time()),
        "producer": f"stores/{simulator.store.state.store_hash}",
    }
    status: int | None = None
    started = time.monotonic()
    with contextlib.suppress(TimeoutError, aiohttp.ClientError):
        async with http.post(
            f"{daemon.base}/webhooks/bigcommerce",
            data=json.dumps(delivery),
            headers={SECRET_HEADER: SECRET, "Content-Type": "application/json"},
            timeout=aiohttp.ClientTimeout(total=60),
        ) as response:
            status = response.status

    return status, time.monotonic() - started


def _freeze(server: EmbeddedPostgres) -> list[int]:
    """SIGSTOP the postmaster, then every process it started; return their pids."""
    pid_file = server.data_dir / "postmaster.pid"
    postmaster = int(pid_file.read_text().splitlines()[0])
    # The postmaster first, so that it starts no child we would miss. Its
    # children must stop too: each connection has a server process of its own.
    os.kill(postmaster, signal.SIGSTOP)
    children = _children(postmaster)
    for child in children:
        os.kill(child, signal.SIGSTOP)

    return [postmaster, *children]


def _thaw(pids: list[int]) -> None:
    """SIGCONT every frozen process; harmless when they run or are gone."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def _children(parent: int) -> list[int]:
    """The processes whose parent is `parent`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # After the command name, which may hold spaces: state, then ppid.
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            found.append(int(entry.name))

    return found


async def _wait_until(
    condition: Callable[[], Awaitable[bool]], timeout_s: float = 60
) -> None:
    deadline = time.monotonic() + timeout_s
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError("not reached in time")
        await asyncio.sleep(0.2)


def _hooks(simulator: Simulator) -> Callable[[], Awaitable[bool]]:
    async def ready() -> bool:
        return len(simulator.store.state.hooks) >= 2

    return ready
