"""Facts about the store kept in Postgres, so reports work without the API.

The store's time zone decides which calendar day it is for due dates; it is
read from BigCommerce by the daemon and remembered here, so that a report
run while the store is unreachable still ages orders by the store's day.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

TIME_ZONE_KEY = "store.time_zone"
_GET = "SELECT value FROM reconciler_state WHERE store_hash = $1 AND name = $2"
_PUT = """
INSERT INTO reconciler_state (store_hash, name, value, updated_at)
VALUES ($1, $2, $3::jsonb, now())
ON CONFLICT (store_hash, name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
"""


async def remember_time_zone(pool: asyncpg.Pool, store_hash: str, zone: str) -> None:
    """Keep the store's time zone for later reports."""
    async with pool.acquire() as connection:
        await connection.execute(_PUT, store_hash, TIME_ZONE_KEY, json.dumps(zone))


async def stored_time_zone(pool: asyncpg.Pool, store_hash: str) -> str | None:
    """The store's time zone as last read from BigCommerce, if ever."""
    async with pool.acquire() as connection:
        raw = await connection.fetchval(_GET, store_hash, TIME_ZONE_KEY)
    if raw is None:
        return None
    zone: str = json.loads(raw) if isinstance(raw, str) else raw
    return zone


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
