"""The systemd notify protocol: READY, STOPPING and watchdog pings.

A few datagrams on the Unix socket systemd names in NOTIFY_SOCKET; no
dependency needed. Outside systemd (no NOTIFY_SOCKET) every call does nothing.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Mapping

import structlog

log = structlog.get_logger(__name__)


class Notifier:
    """Sends state changes to systemd, if systemd asked for them."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._address = _socket_address(env.get("NOTIFY_SOCKET", ""))
        self.watchdog_interval_s = _watchdog_interval(env)

    @property
    def enabled(self) -> bool:
        """Whether systemd is listening."""
        return self._address is not None

    def notify(self, message: str) -> None:
        """Send one message such as READY=1; failures are logged, never raised."""
        if self._address is None:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self._address)
                sock.sendall(message.encode())
        except OSError as exc:
            log.warning("systemd.notify_failed", message=message, error=str(exc))

    async def run_watchdog(self, stop: asyncio.Event) -> None:
        """Ping the watchdog at half its timeout until stop is set."""
        interval = self.watchdog_interval_s
        if interval is None or not self.enabled:
            await stop.wait()
            return

        log.info("systemd.watchdog.started", interval_s=interval)
        while not stop.is_set():
            self.notify("WATCHDOG=1")
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                continue


def _socket_address(raw: str) -> str | None:
    if not raw:
        return None
    if raw.startswith("@"):
        # An abstract socket: the name starts with a NUL byte, not "@".
        return "\0" + raw[1:]
    return raw


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    """Half of WATCHDOG_USEC, when the watchdog is meant for this process."""
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 1_000_000 / 2
