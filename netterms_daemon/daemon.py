"""`netterms run`: start every part, wait for a signal, stop them in order."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator, Callable

import asyncpg
import structlog
from aiohttp import web

from netterms_daemon import __version__
from netterms_daemon.config import Settings
from netterms_daemon.database import create_pool, database_url
from netterms_daemon.migrations import latest_version, migrate
from netterms_daemon.supervisor import Supervisor
from netterms_daemon.systemd import Notifier
from netterms_daemon.web import create_app, database_check

log = structlog.get_logger(__name__)

# Closing the pool waits for connections handed out; a frozen database
# would hold it for ever, so past this it is torn down.
POOL_CLOSE_TIMEOUT_S = 5.0


class Daemon:
    """The running process: pool, HTTP listener and supervised tasks."""

    def __init__(self, settings: Settings, notifier: Notifier | None = None) -> None:
        self.settings = settings
        self.notifier = notifier or Notifier()
        self.stop_requested = asyncio.Event()
        self._stop_reason = "requested"

    def request_stop(self, reason: str) -> None:
        """Ask the daemon to shut down gracefully; safe from a signal handler."""
        if not self.stop_requested.is_set():
            log.info("daemon.signal_received", reason=reason)
            self._stop_reason = reason
        self.stop_requested.set()

    async def run(self, on_ready: Callable[[Daemon], None] | None = None) -> None:
        """Run until a stop is requested, then shut down within the grace period."""
        started = time.monotonic()
        log.info(
            "daemon.starting", version=__version__, settings=self.settings.public_view()
        )

        async with self._database() as pool:
            async with pool.acquire() as connection:
                await migrate(connection)
            runner = await self._serve_http(pool)
            supervisor = Supervisor()
            supervisor.add("systemd.watchdog", self.notifier.run_watchdog)

            self.notifier.notify("READY=1")
            log.info(
                "daemon.started", startup_ms=round((time.monotonic() - started) * 1000)
            )
            if on_ready is not None:
                on_ready(self)

            await self.stop_requested.wait()
            await self._shut_down(runner, supervisor)

        log.info("daemon.stopped", reason=self._stop_reason)

    @contextlib.asynccontextmanager
    async def _database(self) -> AsyncIterator[asyncpg.Pool]:
        async with database_url(self.settings) as url:
            pool = await create_pool(url, self.settings.database)
            try:
                yield pool
            finally:
                await _close_pool(pool)

    async def _serve_http(self, pool: asyncpg.Pool) -> web.AppRunner:
        app = create_app({"database": database_check(pool, latest_version())})
        runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=None,
            shutdown_timeout=self.settings.daemon.shutdown_grace_s,
        )
        await runner.setup()

        http = self.settings.http
        site = web.TCPSite(runner, http.host, http.port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        log.info("http.listening", host=http.host, port=http.port)
        return runner

    async def _shut_down(self, runner: web.AppRunner, supervisor: Supervisor) -> None:
        """Stop accepting, let in-flight requests and tasks finish, in parallel."""
        grace_s = self.settings.daemon.shutdown_grace_s
        self.notifier.notify("STOPPING=1")
        log.info("daemon.stopping", reason=self._stop_reason, grace_s=grace_s)

        await asyncio.gather(runner.cleanup(), supervisor.stop(grace_s))


async def _close_pool(pool: asyncpg.Pool) -> None:
    try:
        await asyncio.wait_for(pool.close(), timeout=POOL_CLOSE_TIMEOUT_S)
    except TimeoutError:
        log.warning("db.pool.terminated", reason="close timed out")
        pool.terminate()


def install_signal_handlers(daemon: Daemon) -> None:
    """SIGTERM and SIGINT ask for a graceful stop; nothing else happens in them."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(
            signum, daemon.request_stop, signal.Signals(signum).name
        )


async def run_daemon(
    settings: Settings, on_ready: Callable[[Daemon], None] | None = None
) -> None:
    """Run the daemon in this process until SIGTERM or SIGINT."""
    daemon = Daemon(settings)
    install_signal_handlers(daemon)
    await daemon.run(on_ready)
