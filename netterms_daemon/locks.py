"""Postgres advisory locks: one order handled at a time, one reconciler leader.

Advisory locks are held by a database session, so a daemon that dies (or
whose connection is cut) releases them at once; nothing needs cleaning up.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import AsyncIterator

import asyncpg

# The leader lock's second key; order locks use the order id there.
_LEADER = -1


def store_key(store_hash: str) -> int:
    """The first lock key: the store, as a signed 32-bit number."""
    return zlib.crc32(store_hash.encode()) - 2**31


@contextlib.asynccontextmanager
async def order_lock(
    pool: asyncpg.Pool, store_hash: str, order_id: int
) -> AsyncIterator[bool]:
    """Hold the lock of one order across every daemon, or say it is taken."""
    key = store_key(store_hash)
    async with pool.acquire() as connection:
        got = await connection.fetchval(
            "SELECT pg_try_advisory_lock($1, $2)", key, order_id
        )
        try:
            yield bool(got)
        finally:
            if got:
                await connection.execute(
                    "SELECT pg_advisory_unlock($1, $2)", key, order_id
                )


async def try_leadership(connection: asyncpg.Connection, store_hash: str) -> bool:
    """Take the reconciler's leadership on this dedicated connection, if free."""
    got = await connection.fetchval(
        "SELECT pg_try_advisory_lock($1, $2)", store_key(store_hash), _LEADER
    )
    return bool(got)
