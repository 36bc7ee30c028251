"""kill -9 of the daemon in the middle of a burst: all processed, none twice."""

from __future__ import annotations

import asyncio
import shutil
import time

import pytest

from tests.conftest import make_shared_dir
from tests.support.processes import (
    DaemonProcess,
    assert_exactly_once,
    daemon_env,
    settled,
)
from tests.support.stack import place_order, seeded_store


async def wait_until(  # type: ignore[no-untyped-def]
    condition, timeout_s: float = 60
) -> None:
    deadline = time.monotonic() + timeout_s
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError("not reached in time")
        await asyncio.sleep(0.2)


@pytest.mark.timeout(300)
async def test_kill_9_mid_burst_then_restart(database_url: str, full: bool) -> None:
    """Orders keep coming while the daemon dies; after a restart each has one effect."""
    workdir = make_shared_dir("netterms-reliability-")
    size = 1000 if full else 150
    try:
        async with seeded_store(speed=60) as simulator:
            daemon = DaemonProcess(
                daemon_env(simulator, database_url, workdir), workdir
            )
            daemon.start()
            await wait_until(_hooks(simulator))
            members = []
            for index in range(size):
                members.append(place_order(simulator, 1 + index % 2, "10.00"))
                if index == size // 2:
                    daemon.kill()
                    restarted = DaemonProcess(daemon.env, workdir)
                if index % 25 == 0:
                    await asyncio.sleep(0.05)
            restarted.start()

            await wait_until(lambda: settled(database_url, len(members)), 120)
            await asyncio.sleep(1.5)
            await assert_exactly_once(simulator, database_url, members)
            assert restarted.stop() == 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _hooks(simulator):  # type: ignore[no-untyped-def]
    async def ready() -> bool:
        return len(simulator.store.state.hooks) >= 2

    return ready
