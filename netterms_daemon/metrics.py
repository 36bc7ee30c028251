"""/metrics: Prometheus figures for dashboards and alerts.

Counters live on the objects that count (the webhook receiver, the worker,
the API client, the reconciler) and are read at scrape time; figures that
live in Postgres (inbox depth, open, overdue and held amounts) are queried
then. Each daemon has its own registry, so several can run in one process.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

import asyncpg
from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from netterms_daemon.metafields import PENDING_QUERY as METAFIELDS_PENDING
from netterms_daemon.reconciler import last_success
from netterms_daemon.storefacts import store_today

_AMOUNTS = """
SELECT currency,
       coalesce(sum(amount) FILTER (WHERE state = 'awaiting_payment'), 0) AS open,
       coalesce(sum(amount) FILTER (WHERE state = 'awaiting_payment'
                                    AND due_date < $2::date), 0) AS overdue,
       coalesce(sum(amount) FILTER (WHERE state = 'held'), 0) AS held
FROM tracked_orders
WHERE store_hash = $1 AND state IN ('awaiting_payment', 'held')
GROUP BY currency
"""
_DEPTH = "SELECT count(*) FROM inbox_events WHERE store_hash = $1 AND state = 'pending'"
_DEAD = "SELECT count(*) FROM inbox_events WHERE store_hash = $1 AND state = 'dead'"


class Sources(Protocol):
    """What the daemon exposes for metrics; any part may be absent."""

    @property
    def receiver(self) -> object | None: ...
    @property
    def worker(self) -> object | None: ...
    @property
    def client(self) -> object | None: ...
    @property
    def reconciler(self) -> object | None: ...


def _gauge(
    registry: CollectorRegistry, name: str, text: str, labels: tuple[str, ...] = ()
) -> Gauge:
    return Gauge(name, text, labelnames=labels, registry=registry)


class Metrics:
    """The daemon's registry and how to fill it."""

    def __init__(
        self,
        sources: Sources,
        pool: asyncpg.Pool,
        store_hash: str | None,
        today: Callable[[], datetime],
    ) -> None:
        self._sources = sources
        self._pool = pool
        self._store_hash = store_hash
        self._now = today
        self.registry = CollectorRegistry()
        r = self.registry
        self._received = _gauge(
            r, "netterms_webhooks_received_total", "Deliveries stored."
        )
        self._rejected = _gauge(
            r, "netterms_webhooks_rejected_total", "Deliveries refused (401/413/400)."
        )
        self._depth = _gauge(
            r, "netterms_inbox_depth", "Events waiting to be processed."
        )
        self._processed = _gauge(
            r, "netterms_events_processed_total", "Events processed by this daemon."
        )
        self._dead = _gauge(r, "netterms_events_dead_lettered", "Events set aside.")
        self._metafields_pending = _gauge(
            r,
            "netterms_metafields_pending",
            "Orders with terms whose schedule is not yet in a metafield.",
        )
        self._calls = _gauge(
            r, "netterms_api_calls_total", "BigCommerce API calls made."
        )
        self._throttled = _gauge(
            r, "netterms_api_throttled_total", "429 answers from BigCommerce."
        )
        self._waited = _gauge(
            r,
            "netterms_api_rate_limit_wait_seconds_total",
            "Time spent waiting for quota.",
        )
        self._pass = _gauge(
            r,
            "netterms_reconciler_pass_seconds",
            "Duration of the last reconciler pass.",
        )
        self._leader = _gauge(
            r, "netterms_reconciler_leader", "1 while this daemon leads."
        )
        self._last_success = _gauge(
            r,
            "netterms_reconciler_last_success_timestamp_seconds",
            "When some daemon last finished a reconciler pass.",
        )
        self._open = _gauge(
            r, "netterms_open_amount", "Awaiting payment.", ("currency",)
        )
        self._overdue = _gauge(r, "netterms_overdue_amount", "Past due.", ("currency",))
        self._held = _gauge(r, "netterms_held_amount", "On credit hold.", ("currency",))

    async def handle(self, request: web.Request) -> web.Response:
        """Serve the current figures in Prometheus text format."""
        self._from_objects()
        if self._store_hash is not None:
            await self._from_database(self._store_hash)
        return web.Response(
            body=generate_latest(self.registry),
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )

    def _from_objects(self) -> None:
        sources = self._sources
        self._received.set(getattr(sources.receiver, "received", 0))
        self._rejected.set(getattr(sources.receiver, "rejected", 0))
        self._processed.set(getattr(sources.worker, "processed", 0))
        self._calls.set(getattr(sources.client, "calls", 0))
        self._throttled.set(getattr(sources.client, "throttled", 0))
        self._waited.set(getattr(sources.client, "waited_s", 0.0))
        self._pass.set(getattr(sources.reconciler, "last_pass_s", 0.0))
        self._leader.set(1 if getattr(sources.reconciler, "is_leader", False) else 0)

    async def _from_database(self, store_hash: str) -> None:
        today = await store_today(self._pool, store_hash, self._now())
        async with self._pool.acquire() as connection:
            self._depth.set(await connection.fetchval(_DEPTH, store_hash))
            self._dead.set(await connection.fetchval(_DEAD, store_hash))
            self._metafields_pending.set(
                await connection.fetchval(METAFIELDS_PENDING, store_hash)
            )
            rows = await connection.fetch(_AMOUNTS, store_hash, today)
        last = await last_success(self._pool, store_hash)
        for row in rows:
            currency = row["currency"].strip()
            self._open.labels(currency).set(float(row["open"]))
            self._overdue.labels(currency).set(float(row["overdue"]))
            self._held.labels(currency).set(float(row["held"]))
        if last is not None:
            self._last_success.set(last.timestamp())
