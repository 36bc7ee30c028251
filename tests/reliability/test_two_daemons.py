"""Two daemons on one database: work shared without overlap, one reconciler."""

from __future__ import annotations

import asyncio
import shutil
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

import pytest

from tests.conftest import make_shared_dir
from tests.support.processes import (
    DaemonProcess,
    assert_exactly_once,
    daemon_env,
    settled,
)
from tests.support.stack import place_order, seeded_store

FAST = {"NETTERMS_RECONCILER_INTERVAL_S": "0.5", "NETTERMS_RECONCILER_LEASE_S": "2"}


async def wait_until(
    condition: Callable[[], Awaitable[bool] | bool], timeout_s: float = 60
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError("not reached in time")
        await asyncio.sleep(0.1)


def leads(daemon: DaemonProcess, after: float = 0.0) -> bool:
    """Whether the daemon took the leadership (after a wall-clock moment)."""
    return any(
        event["event"] == "reconciler.leader_acquired" and _at(event) > after
        for event in daemon.events()
    )


def leadership_events(daemon: DaemonProcess) -> list[tuple[object, object]]:
    """The daemon's leadership log events and their times, for a failure message."""
    return [
        (event["event"], event["timestamp"])
        for event in daemon.events()
        if str(event["event"]).startswith("reconciler.lead")
    ]


def _at(event: dict[str, object]) -> float:
    return datetime.fromisoformat(
        str(event["timestamp"]).replace("Z", "+00:00")
    ).timestamp()


@pytest.mark.timeout(300)
async def test_two_daemons_share_a_burst_and_fail_over(
    database_url: str, full: bool
) -> None:
    """A burst shared by two daemons: one effect per order; kill -9 fails over."""
    workdir = make_shared_dir("netterms-two-")
    size = 1000 if full else 200
    try:
        async with seeded_store(speed=60) as simulator:
            first = DaemonProcess(
                daemon_env(simulator, database_url, workdir, extra=FAST), workdir
            ).start()
            await wait_until(lambda: leads(first))
            second = DaemonProcess(
                daemon_env(simulator, database_url, workdir, public=False, extra=FAST),
                workdir,
            ).start()
            await wait_until(lambda: len(simulator.store.state.hooks) >= 2)

            members = []
            for index in range(size):
                members.append(place_order(simulator, 1 + index % 2, "10.00"))
                if index % 25 == 0:
                    await asyncio.sleep(0.05)
            await wait_until(lambda: settled(database_url, len(members)), 120)
            assert not leads(second), (
                "one reconciler at a time; the first's leadership events: "
                f"{leadership_events(first)}"
            )

            killed_at = time.time()
            first.kill()
            await wait_until(lambda: leads(second, after=killed_at), timeout_s=10)
            await assert_exactly_once(simulator, database_url, members)
            processed = [
                sum(1 for e in d.events() if e["event"] == "order.terms_applied")
                for d in (first, second)
            ]
            assert second.stop() == 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    assert sum(processed) == len(members)


@pytest.mark.timeout(300)
async def test_paused_leader_loses_leadership_and_writes_nothing(
    database_url: str,
) -> None:
    """A leader frozen past its lease is replaced; resumed, it writes nothing."""
    workdir = make_shared_dir("netterms-pause-")
    try:
        async with seeded_store(speed=60) as simulator:
            leader = DaemonProcess(
                daemon_env(simulator, database_url, workdir, extra=FAST), workdir
            ).start()
            await wait_until(lambda: leads(leader))
            standby = DaemonProcess(
                daemon_env(simulator, database_url, workdir, public=False, extra=FAST),
                workdir,
            ).start()

            paused_at = time.time()
            leader.signal(signal.SIGSTOP)
            try:
                await wait_until(lambda: leads(standby, after=paused_at), timeout_s=20)
            finally:
                # Taken before SIGCONT: the resumed leader may log before this
                # process runs again, and nothing is logged while it is stopped.
                resumed_at = time.time()
                leader.signal(signal.SIGCONT)
            await asyncio.sleep(2.0)
            order_id = place_order(simulator, 1, "10.00")
            await wait_until(lambda: settled(database_url, 1), 30)

            after_resume = [e for e in leader.events() if _at(e) > resumed_at]
            assert any(
                e["event"] == "reconciler.leadership_lost" for e in after_resume
            ), f"resumed at {resumed_at}; the leader's: {leadership_events(leader)}"
            assert not [e for e in after_resume if e["event"] == "reconciler.pass"]
            assert not leads(leader, after=resumed_at) or leads(
                standby, after=paused_at
            )
            await assert_exactly_once(simulator, database_url, [order_id])
            assert leader.stop() == 0
            assert standby.stop() == 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
