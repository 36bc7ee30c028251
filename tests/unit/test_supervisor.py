"""Supervised tasks: a crash is logged and restarted; stop honours the grace."""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from netterms_daemon.supervisor import Supervisor


async def test_supervisor_restarts_crashed_task_with_backoff() -> None:
    """A body that raises twice runs a third time, and each crash is logged."""
    runs = 0
    healthy = asyncio.Event()

    async def flaky(stop: asyncio.Event) -> None:
        nonlocal runs
        runs += 1
        if runs <= 2:
            raise RuntimeError(f"boom {runs}")
        healthy.set()
        await stop.wait()

    supervisor = Supervisor(initial_backoff_s=0.01, max_backoff_s=0.05)
    with capture_logs() as logs:
        supervisor.add("flaky", flaky)
        await asyncio.wait_for(healthy.wait(), timeout=2)
        await supervisor.stop(grace_s=1)

    assert runs == 3
    assert supervisor.restarts("flaky") == 2
    crashes = [e for e in logs if e["event"] == "task.crashed"]
    assert [e["task"] for e in crashes] == ["flaky", "flaky"]
    assert crashes[1]["retry_in_s"] == 2 * crashes[0]["retry_in_s"]


async def test_supervisor_restarts_task_that_returns_early() -> None:
    """A body that returns before stop is a fault too, and is run again."""
    runs = 0
    again = asyncio.Event()

    async def quits(stop: asyncio.Event) -> None:
        nonlocal runs
        runs += 1
        if runs == 2:
            again.set()
            await stop.wait()

    supervisor = Supervisor(initial_backoff_s=0.01)
    with capture_logs() as logs:
        supervisor.add("quits", quits)
        await asyncio.wait_for(again.wait(), timeout=2)
        await supervisor.stop(grace_s=1)

    assert any(e["event"] == "task.exited" for e in logs)


async def test_supervisor_stop_lets_work_finish_within_grace() -> None:
    """On stop, a body gets the grace period to finish what it holds."""
    finished = False

    async def worker(stop: asyncio.Event) -> None:
        nonlocal finished
        await stop.wait()
        await asyncio.sleep(0.05)
        finished = True

    supervisor = Supervisor()
    supervisor.add("worker", worker)
    await asyncio.sleep(0)
    await supervisor.stop(grace_s=2)

    assert finished


async def test_supervisor_cancels_body_past_grace() -> None:
    """A body that ignores stop is cancelled once the grace period is over."""
    cancelled = False

    async def stubborn(stop: asyncio.Event) -> None:
        nonlocal cancelled
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled = True
            raise

    supervisor = Supervisor()
    supervisor.add("stubborn", stubborn)
    await asyncio.sleep(0)
    with capture_logs() as logs:
        await asyncio.wait_for(supervisor.stop(grace_s=0.05), timeout=2)

    assert cancelled
    assert logs[0]["event"] == "task.cancelled"
