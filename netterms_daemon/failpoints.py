"""Crash points for the reliability battery: the process dies at a named step.

With `[daemon] crash_at` set (NETTERMS_DAEMON_CRASH_AT), the daemon kills
itself with SIGKILL, as `kill -9` would, the first time it reaches that
step, so tests can crash it at exact points and check that nothing is lost
or done twice. Leave it unset in production.
"""

from __future__ import annotations

import os
import signal

_armed: str | None = None


def arm(point: str | None) -> None:
    """Crash at this point from now on (None: never)."""
    global _armed  # one process-wide switch, set once at start
    _armed = point


def reach(point: str) -> None:
    """Die here, now, if this point is armed."""
    if _armed == point:
        os.kill(os.getpid(), signal.SIGKILL)
