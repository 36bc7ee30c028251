"""SIGTERM in the middle of a burst: a clean exit in time, then each order once."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable

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
from tests.support.stack import place_order, seeded_store

BURST = 150
BURST_FULL = 1000
# The daemon's NETTERMS_DAEMON_SHUTDOWN_GRACE_S, as daemon_env sets it.
GRACE_S = 5.0
# What the interpreter may take to exit once the daemon has stopped: measured
# 0.05-0.7 s; a reconciler pass under way at the signal runs to the grace.
EXIT_SLACK_S = 1.5


@pytest.mark.timeout(300)
async def test_sigterm_mid_burst_then_restart(database_url: str, full: bool) -> None:
    """SIGTERM at the half of a burst: exit 0 in the grace; restarted, all once."""
    workdir = make_shared_dir("netterms-sigterm-")
    size = BURST_FULL if full else BURST
    try:
        async with seeded_store(speed=60) as simulator:
            env = daemon_env(simulator, database_url, workdir)
            assert float(env["NETTERMS_DAEMON_SHUTDOWN_GRACE_S"]) == GRACE_S
            daemon = DaemonProcess(env, workdir).start()
            await _wait_until(_hooks(simulator))

            members, code, stop_s = await _burst_with_sigterm(
                simulator, daemon, database_url, size
            )
            first_run = [str(event["event"]) for event in daemon.events()]
            left = await _counts(database_url)

            restarted = DaemonProcess(env, workdir).start()
            await _wait_until(lambda: _drained(simulator, database_url, size), 120)
            await asyncio.sleep(1.5)
            await assert_exactly_once(simulator, database_url, members)
            assert restarted.stop() == 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    assert code == 0, first_run[-10:]
    assert stop_s < GRACE_S + EXIT_SLACK_S, (stop_s, first_run[-10:])
    assert first_run[-1] == "daemon.stopped", first_run[-10:]
    # The signal came mid-burst: work had begun, and some was left for later.
    assert left["tracked"] > 0 and left["applied"] < size, left


async def _burst_with_sigterm(
    simulator: Simulator, daemon: DaemonProcess, database_url: str, size: int
) -> tuple[list[int], int, float]:
    """Place size orders, SIGTERM at the half; return them, exit code, stop time."""
    assert daemon.process is not None
    members = []
    exit_waiter = None
    for index in range(size):
        members.append(place_order(simulator, 1 + index % 2, "10.00"))
        if index == size // 2:
            # The signal must find orders being worked on, not an idle worker.
            await _wait_until(lambda: _busy(database_url), 30)
            signalled = time.monotonic()
            daemon.signal(signal.SIGTERM)
            exit_waiter = asyncio.create_task(
                asyncio.to_thread(_wait_exit, daemon.process, 4 * GRACE_S)
            )
        # Let the store deliver while the burst goes on.
        await asyncio.sleep(0)

    assert exit_waiter is not None
    code, exited = await exit_waiter
    return members, code, exited - signalled


def _wait_exit(process: subprocess.Popen[bytes], timeout_s: float) -> tuple[int, float]:
    """Wait for the process to exit; return its code and when it exited."""
    code = process.wait(timeout=timeout_s)
    return code, time.monotonic()


async def _counts(database_url: str) -> dict[str, int]:
    """Orders tracked, orders with terms, and inbox events by state."""
    connection = await asyncpg.connect(database_url)
    try:
        tracked = await connection.fetchval("SELECT count(*) FROM tracked_orders")
        applied = await connection.fetchval(
            "SELECT count(*) FROM tracked_orders WHERE state = 'awaiting_payment'"
        )
        inbox = dict(
            await connection.fetch(
                "SELECT state, count(*) FROM inbox_events GROUP BY state"
            )
        )
    finally:
        await connection.close()

    return {
        "tracked": int(tracked),
        "applied": int(applied),
        **{state: int(count) for state, count in inbox.items()},
    }


async def _busy(database_url: str) -> bool:
    """The worker has begun on the burst and has more of it waiting."""
    counts = await _counts(database_url)
    return counts["tracked"] > 0 and counts.get("pending", 0) > 0


async def _drained(simulator: Simulator, database_url: str, orders: int) -> bool:
    """Settled, and no refused delivery is still waiting for its retry."""
    if simulator.store.webhooks.pending:
        return False
    return await settled(database_url, orders)


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
