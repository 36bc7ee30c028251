"""`netterms run`: start every part, wait for a signal, stop them in order."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import time
from collections.abc import AsyncIterator, Callable

import asyncpg
import structlog
from aiohttp import web

from netterms_daemon import __version__, failpoints
from netterms_daemon.api import add_api_routes
from netterms_daemon.bigcommerce.client import BigCommerceClient
from netterms_daemon.clock import Clock, SystemClock
from netterms_daemon.config import DatabaseSettings, Settings
from netterms_daemon.database import create_pool, database_url
from netterms_daemon.inbox import Inbox
from netterms_daemon.ledger import Ledger
from netterms_daemon.membership import Membership
from netterms_daemon.metafields import MetafieldWriter
from netterms_daemon.metrics import Metrics
from netterms_daemon.migrations import latest_version, migrate
from netterms_daemon.openapi import API_PREFIX
from netterms_daemon.processor import OrderProcessor
from netterms_daemon.reconciler import Reconciler, last_success
from netterms_daemon.setup import TermsBook, resolve_terms, run_setup
from netterms_daemon.supervisor import Supervisor
from netterms_daemon.systemd import Notifier
from netterms_daemon.web import (
    READINESS_TIMEOUT_S,
    ReadinessCheck,
    create_app,
    database_check,
)
from netterms_daemon.webhook import WEBHOOK_PATH, WebhookReceiver
from netterms_daemon.worker import Worker

log = structlog.get_logger(__name__)

# Closing the pool waits for connections handed out; a frozen database
# would hold it for ever, so past this it is torn down.
POOL_CLOSE_TIMEOUT_S = 5.0


class Daemon:
    """The running process: pool, HTTP listener and supervised tasks."""

    def __init__(
        self,
        settings: Settings,
        notifier: Notifier | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.notifier = notifier or Notifier()
        self.clock = clock or SystemClock()
        self.stop_requested = asyncio.Event()
        self._stop_reason = "requested"
        self._url = ""
        self.client: BigCommerceClient | None = None
        self.worker: Worker | None = None
        self.reconciler: Reconciler | None = None
        self.processor: OrderProcessor | None = None
        self.receiver: WebhookReceiver | None = None
        self._processor_lock = asyncio.Lock()
        self._started_at = time.monotonic()

    def request_stop(self, reason: str) -> None:
        """Ask the daemon to shut down gracefully; safe from a signal handler."""
        if not self.stop_requested.is_set():
            log.info("daemon.signal_received", reason=reason)
            self._stop_reason = reason
        self.stop_requested.set()

    async def run(self, on_ready: Callable[[Daemon], None] | None = None) -> None:
        """Run until a stop is requested, then shut down within the grace period."""
        started = time.monotonic()
        if self.settings.daemon.crash_at:
            failpoints.arm(self.settings.daemon.crash_at)
            log.warning("daemon.crash_point_armed", point=self.settings.daemon.crash_at)
        log.info(
            "daemon.starting", version=__version__, settings=self.settings.public_view()
        )

        async with self._database() as pool:
            async with pool.acquire() as connection:
                await migrate(connection)
            self._prepare_store(pool)
            runner = await self._serve_http(pool)
            supervisor = Supervisor()
            supervisor.add("systemd.watchdog", self.notifier.run_watchdog)
            if self.client is not None and self.settings.worker.enabled:
                supervisor.add("worker", lambda stop: self._run_worker(pool, stop))
            if self.client is not None and self.settings.reconciler.enabled:
                supervisor.add(
                    "reconciler", lambda stop: self._run_reconciler(pool, stop)
                )
            if self.client is not None and (
                self.settings.worker.enabled or self.settings.reconciler.enabled
            ):
                supervisor.add(
                    "metafields", lambda stop: self._run_metafields(pool, stop)
                )

            self.notifier.notify("READY=1")
            log.info(
                "daemon.started", startup_ms=round((time.monotonic() - started) * 1000)
            )
            if on_ready is not None:
                on_ready(self)

            await self.stop_requested.wait()
            await self._shut_down(runner, supervisor)
            if self.client is not None:
                await self.client.close()

        log.info("daemon.stopped", reason=self._stop_reason)

    def _prepare_store(self, pool: asyncpg.Pool) -> None:
        """Set up the store's client and webhook route, if a store is configured."""
        store = self.settings.bigcommerce
        if not store.store_hash or store.access_token is None:
            log.warning(
                "worker.disabled",
                reason="no [bigcommerce] store_hash and access_token: "
                "no orders are handled",
            )
            return
        # Rate limiting runs on real time whatever the business clock does.
        self.client = BigCommerceClient.from_settings(store)
        secret = self.settings.webhooks.secret
        if secret is None:
            log.warning(
                "webhook.disabled",
                reason="no [webhooks] secret: deliveries cannot be authenticated",
            )
            return
        self.receiver = WebhookReceiver(
            Inbox(pool, store.store_hash),
            secret=secret.reveal(),
            secret_header=self.settings.webhooks.secret_header,
            max_body_bytes=self.settings.webhooks.max_body_bytes,
        )

    async def _processor(self, pool: asyncpg.Pool) -> OrderProcessor:
        """The order processor the worker and the reconciler share, built once."""
        async with self._processor_lock:
            if self.processor is None:
                assert self.client is not None
                self.processor = build_processor(
                    self.settings,
                    self.client,
                    pool,
                    await self._terms_book(),
                    self.clock,
                )
        return self.processor

    async def _run_reconciler(self, pool: asyncpg.Pool, stop: asyncio.Event) -> None:
        """Compete for the reconciler's leadership and pass while leader."""
        assert self.client is not None and self.settings.bigcommerce.store_hash
        processor = await self._processor(pool)
        self.reconciler = Reconciler(
            pool=pool,
            client=self.client,
            processor=processor,
            ledger=Ledger(pool, self.settings.bigcommerce.store_hash),
            settings=self.settings.reconciler,
            clock=self.clock,
            public_url=self.settings.webhooks.public_url,
            connect=lambda: asyncpg.connect(self._url),
        )
        await self.reconciler.run(stop)

    async def _run_worker(self, pool: asyncpg.Pool, stop: asyncio.Event) -> None:
        """Resolve the terms (setting the store up if asked), then work the inbox."""
        assert self.client is not None and self.settings.bigcommerce.store_hash
        store_hash = self.settings.bigcommerce.store_hash
        processor = await self._processor(pool)
        book_size = len(processor.book.by_group_id)
        self.worker = Worker(
            pool,
            Inbox(pool, store_hash),
            processor,
            self.settings.worker,
            connect=lambda: asyncpg.connect(self._url),
        )
        log.info("worker.started", terms=book_size, worker=self.worker.name)
        await self.worker.run(stop)

    async def _run_metafields(self, pool: asyncpg.Pool, stop: asyncio.Event) -> None:
        """Copy applied schedules into order metafields, in batches."""
        processor = await self._processor(pool)
        await processor.metafields.run(stop, self.settings.worker.poll_interval_s)

    async def _terms_book(self) -> TermsBook:
        assert self.client is not None
        if self.settings.webhooks.public_url:
            report = await run_setup(self.settings, self.client)
            book = report.book
        else:
            book, _ = await resolve_terms(
                self.settings, self.client, create_missing=False
            )
        for missing in book.missing:
            log.error("terms.group_missing", group=missing, hint="run netterms setup")
        return book

    @contextlib.asynccontextmanager
    async def _database(self) -> AsyncIterator[asyncpg.Pool]:
        async with database_url(self.settings) as url:
            self._url = url
            pool = await create_pool(url, self._pool_settings())
            try:
                yield pool
            finally:
                await _close_pool(pool)

    def _reconciler_check(self, pool: asyncpg.Pool) -> ReadinessCheck:
        """Ready while some daemon's reconciler has passed recently enough."""
        bound_s = self.settings.reconciler.max_pass_age_s
        store_hash = self.settings.bigcommerce.store_hash or ""

        async def check() -> str | None:
            try:
                async with asyncio.timeout(READINESS_TIMEOUT_S):
                    last = await last_success(pool, store_hash)
            except (
                TimeoutError,
                OSError,
                asyncpg.PostgresError,
                asyncpg.InterfaceError,
            ):
                return None  # the database check reports this
            if last is None:
                if time.monotonic() - self._started_at < bound_s:
                    return None
                return f"no reconciler pass has succeeded in {bound_s:g} s"
            age = (self.clock.now() - last).total_seconds()
            if age > bound_s:
                return (
                    f"the last reconciler pass succeeded {age:.0f} s ago "
                    f"(bound {bound_s:g} s)"
                )
            return None

        return check

    def _add_api(self, app: web.Application, pool: asyncpg.Pool) -> None:
        """Serve the admin API when a token and a store are configured."""
        token = self.settings.api.token
        store_hash = self.settings.bigcommerce.store_hash
        if token is None:
            log.info("api.disabled", reason="no [api] token")
            return
        if not store_hash:
            log.warning("api.disabled", reason="no [bigcommerce] store_hash")
            return
        add_api_routes(
            app,
            pool=pool,
            store_hash=store_hash,
            token=token.reveal(),
            clock=self.clock,
        )
        log.info("api.enabled", prefix=API_PREFIX)

    def _pool_settings(self) -> DatabaseSettings:
        """Room for every in-flight event's order lock plus its queries."""
        database = self.settings.database
        needed = 2 * self.settings.worker.concurrency + 4
        if database.pool_max_size >= needed:
            return database
        return dataclasses.replace(database, pool_max_size=needed)

    async def _serve_http(self, pool: asyncpg.Pool) -> web.AppRunner:
        checks = {"database": database_check(pool, latest_version())}
        if (
            self.client is not None
            and self.settings.bigcommerce.store_hash
            and (self.settings.reconciler.enabled)
        ):
            checks["reconciler"] = self._reconciler_check(pool)
        app = create_app(checks)
        metrics = Metrics(
            self, pool, self.settings.bigcommerce.store_hash, self.clock.now
        )
        app.router.add_get("/metrics", metrics.handle)
        if self.receiver is not None:
            app.router.add_post(WEBHOOK_PATH, self.receiver.handle)
        self._add_api(app, pool)
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


def build_processor(
    settings: Settings,
    client: BigCommerceClient,
    pool: asyncpg.Pool,
    book: TermsBook,
    clock: Clock,
) -> OrderProcessor:
    """The order processor for the configured store."""
    store_hash = settings.bigcommerce.store_hash
    assert store_hash, "a store is configured"
    ledger = Ledger(pool, store_hash)
    return OrderProcessor(
        client=client,
        ledger=ledger,
        membership=Membership(
            pool, client, store_hash, settings.worker.membership_ttl_s
        ),
        book=book,
        orders=settings.orders,
        clock=clock,
        metafields=MetafieldWriter(
            client=client,
            ledger=ledger,
            clock=clock,
            batch_size=settings.worker.metafield_batch_size,
            gather_s=settings.worker.metafield_delay_s,
            retry_s=settings.worker.retry_initial_s,
            refused_retry_s=settings.worker.retry_max_s,
        ),
        credit_limits={c.customer_id: c.credit_limit for c in settings.credit_limits},
    )


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
    settings: Settings,
    on_ready: Callable[[Daemon], None] | None = None,
    clock: Clock | None = None,
) -> None:
    """Run the daemon in this process until SIGTERM or SIGINT."""
    daemon = Daemon(settings, clock=clock)
    install_signal_handlers(daemon)
    await daemon.run(on_ready)
