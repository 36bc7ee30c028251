"""kill -9 at exact steps: after a claim, after the order update, during the ack."""

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


@pytest.mark.timeout(300)
@pytest.mark.parametrize("point", ["after_claim", "after_order_update", "during_ack"])
async def test_crash_at_a_step_then_restart(database_url: str, point: str) -> None:
    """The daemon dies at the step; after a restart each order has one effect."""
    workdir = make_shared_dir("netterms-crash-")
    try:
        async with seeded_store(speed=60) as simulator:
            env = daemon_env(simulator, database_url, workdir)
            crashing = DaemonProcess(
                {**env, "NETTERMS_DAEMON_CRASH_AT": point}, workdir
            ).start()
            deadline = time.monotonic() + 30
            while len(simulator.store.state.hooks) < 2:
                assert time.monotonic() < deadline, "no webhooks registered"
                await asyncio.sleep(0.1)

            members = [place_order(simulator, 1 + i % 2, "10.00") for i in range(20)]
            assert crashing.process is not None
            while crashing.process.poll() is None:
                assert time.monotonic() < deadline + 30, f"never reached {point}"
                await asyncio.sleep(0.05)
            assert crashing.process.returncode == -9, "it died by SIGKILL at the step"

            restarted = DaemonProcess(env, workdir).start()
            deadline = time.monotonic() + 120
            while not await settled(database_url, len(members)):
                assert time.monotonic() < deadline, "not settled after the restart"
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)
            await assert_exactly_once(simulator, database_url, members)
            assert restarted.stop() == 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
