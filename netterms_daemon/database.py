"""The asyncpg pool, on the configured URL or on the embedded server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, TypeAlias

import asyncpg
import structlog

from netterms_daemon.config import DatabaseSettings, Settings
from netterms_daemon.embedded import EmbeddedPostgres
from netterms_daemon.errors import StoreError
from netterms_daemon.retry import DATABASE_CONNECT_ERRORS, database_connect

log = structlog.get_logger(__name__)

Connection: TypeAlias = (
    "asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]"
)
"""A connection of its own or one lent by the pool; queries take either."""


@contextlib.asynccontextmanager
async def database_url(settings: Settings) -> AsyncIterator[str]:
    """
    Yield the database URL, holding the embedded server while inside.

    With `database.url` set, that URL is yielded and nothing is started. Else
    the embedded server under the state directory is joined (started if no
    other netterms process runs it) and left on exit.
    """
    if settings.database.url is not None:
        yield settings.database.url.reveal()
        return

    embedded = EmbeddedPostgres(settings.state_dir, settings.database.embedded_run_as)
    url = await asyncio.to_thread(embedded.acquire)
    try:
        yield url
    finally:
        # Shielded so that a cancelled shutdown still stops the server.
        await asyncio.shield(asyncio.to_thread(embedded.release))


async def create_pool(url: str, settings: DatabaseSettings) -> asyncpg.Pool:
    """
    Open a pool, retrying while the server is not reachable yet.

    Gives up with StoreError after `connect_timeout_s`, so that a daemon
    started before its database waits for it instead of crashing at once.
    """

    pool: asyncpg.Pool | None = None
    try:
        async for attempt in database_connect(settings.connect_timeout_s):
            with attempt:
                pool = await asyncpg.create_pool(
                    url,
                    min_size=settings.pool_min_size,
                    max_size=settings.pool_max_size,
                    command_timeout=settings.command_timeout_s,
                    timeout=min(10.0, settings.connect_timeout_s),
                )
    except (*DATABASE_CONNECT_ERRORS, asyncpg.PostgresError) as exc:
        raise StoreError(f"cannot connect to the database: {exc}") from exc

    assert pool is not None, "the retry loop ends with a pool or an exception"
    return pool
