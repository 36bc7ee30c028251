"""Small facts kept in Postgres: the store's time zone, watermarks, cursors.

The store's time zone decides which calendar day it is for due dates; it is
read from BigCommerce by the daemon and remembered here, so that a report
run while the store is unreachable still ages orders by the store's day.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

TIME_ZONE_KEY = "store.time_zone"
_GET = "SELECT value FROM reconciler_state WHERE store_hash = $1 AND name = $2"
_PUT = """
INSERT INTO reconciler_state (store_hash, name, value, updated_at)
VALUES ($1, $2, $3::jsonb, now())
ON CONFLICT (store_hash, name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
"""


async def get_state(pool: asyncpg.Pool, store_hash: str, name: str) -> Any:
    """A remembered value (JSON), or None."""
    async with pool.acquire() as connection:
        raw = await connection.fetchval(_GET, store_hash, name)
    return json.loads(raw) if isinstance(raw, str) else raw


async def put_state(pool: asyncpg.Pool, store_hash: str, name: str, value: Any) -> None:
    """Remember a value (JSON) under a name."""
    async with pool.acquire() as connection:
        await connection.execute(_PUT, store_hash, name, json.dumps(value))


async def remember_time_zone(pool: asyncpg.Pool, store_hash: str, zone: str) -> None:
    """Keep the store's time zone for later reports."""
    await put_state(pool, store_hash, TIME_ZONE_KEY, zone)


async def stored_time_zone(pool: asyncpg.Pool, store_hash: str) -> str | None:
    """The store's time zone as last read from BigCommerce, if ever."""
    zone = await get_state(pool, store_hash, TIME_ZONE_KEY)
    return str(zone) if zone is not None else None


def day_in_zone(now: datetime, zone: str | None) -> date:
    """The calendar day it is in a zone (UTC when the zone is unknown)."""
    try:
        tz = ZoneInfo(zone) if zone else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    return now.astimezone(tz).date()


async def store_today(pool: asyncpg.Pool, store_hash: str, now: datetime) -> date:
    """Today in the store's time zone."""
    return day_in_zone(now, await stored_time_zone(pool, store_hash))
