"""Which customer group a customer is in, cached so repeat buyers cost no API call.

Orders never carry the customer's group, so the worker asks
`/v3/customers`. The answer is kept in Postgres for a while and dropped when
a customer-updated or customer-deleted event arrives, since a group change
fires an update.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from netterms_daemon.bigcommerce.client import BigCommerceClient

_GET = """
SELECT customer_group_id, fetched_at FROM customer_groups_cache
WHERE store_hash = $1 AND customer_id = $2
"""
_PUT = """
INSERT INTO customer_groups_cache
    (store_hash, customer_id, customer_group_id, fetched_at)
VALUES ($1, $2, $3, $4)
ON CONFLICT (store_hash, customer_id)
DO UPDATE SET customer_group_id = EXCLUDED.customer_group_id,
              fetched_at = EXCLUDED.fetched_at
"""
_FORGET = "DELETE FROM customer_groups_cache WHERE store_hash = $1 AND customer_id = $2"


class Membership:
    """Customer -> group, from the cache or the API."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        client: BigCommerceClient,
        store_hash: str,
        ttl_s: float,
    ) -> None:
        self._pool = pool
        self._client = client
        self._store_hash = store_hash
        self._ttl = timedelta(seconds=ttl_s)

    async def group_of(
        self, customer_id: int, now: datetime, *, remember: bool = True
    ) -> int | None:
        """The customer's group now (None: no group, or no such customer)."""
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(_GET, self._store_hash, customer_id)
        if row is not None and now - row["fetched_at"] < self._ttl:
            group: int | None = row["customer_group_id"]
            return group

        found = await self._client.customers([customer_id])
        group = found[0].customer_group_id if found else None
        if not remember:
            return group
        async with self._pool.acquire() as connection:
            await connection.execute(_PUT, self._store_hash, customer_id, group, now)
        return group

    async def forget(self, customer_id: int) -> None:
        """Drop a cached answer: the customer changed."""
        async with self._pool.acquire() as connection:
            await connection.execute(_FORGET, self._store_hash, customer_id)
