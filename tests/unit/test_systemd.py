"""sd_notify: READY, STOPPING and watchdog datagrams on a real socket."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from netterms_daemon.systemd import Notifier


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.setblocking(False)
    yield sock
    sock.close()


def received(sock: socket.socket) -> list[str]:
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096).decode())
        except BlockingIOError:
            return messages


def test_notifier_sends_datagram(notify_socket: socket.socket, tmp_path: Path) -> None:
    """READY=1 arrives on the socket named by NOTIFY_SOCKET."""
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "notify")})

    notifier.notify("READY=1")

    assert received(notify_socket) == ["READY=1"]


def test_notifier_abstract_socket_name() -> None:
    """An @name socket is Linux's abstract namespace, reached with a NUL byte."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"netterms-test-{os.getpid()}"
    sock.bind("\0" + name)
    sock.setblocking(False)
    try:
        Notifier({"NOTIFY_SOCKET": "@" + name}).notify("STOPPING=1")
        assert received(sock) == ["STOPPING=1"]
    finally:
        sock.close()


def test_notifier_without_systemd_does_nothing() -> None:
    """Outside systemd, notify is a no-op and nothing fails."""
    notifier = Notifier({})

    notifier.notify("READY=1")

    assert not notifier.enabled


def test_notifier_missing_socket_is_logged_not_raised(tmp_path: Path) -> None:
    """A vanished socket must never take the daemon down."""
    Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")}).notify("READY=1")


def test_watchdog_interval_is_half_the_timeout() -> None:
    """WATCHDOG_USEC=10 s means a ping every 5 s; another pid's watchdog is ignored."""
    mine = Notifier({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": str(os.getpid())})
    other = Notifier({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "1"})

    assert mine.watchdog_interval_s == 5.0
    assert other.watchdog_interval_s is None


async def test_watchdog_pings_until_stopped(
    notify_socket: socket.socket, tmp_path: Path
) -> None:
    """The watchdog loop sends WATCHDOG=1 repeatedly and ends on stop."""
    notifier = Notifier(
        {"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "100000"}
    )
    stop = asyncio.Event()
    task = asyncio.create_task(notifier.run_watchdog(stop))

    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.wait_for(task, timeout=1)

    pings = received(notify_socket)
    assert len(pings) >= 3
    assert set(pings) == {"WATCHDOG=1"}
