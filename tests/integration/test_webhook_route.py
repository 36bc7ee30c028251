"""The webhook route against real Postgres: what is kept, what is refused."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.support.stack import SECRET, daemon_settings, running_daemon, seeded_store


class Route:
    """A running daemon with its worker off, so the inbox holds what arrived."""

    def __init__(self, url: str, header: str, producer: str) -> None:
        self.url = url
        self.header = header
        self.producer = producer

    def delivery(self, order_id: int, **extra: Any) -> dict[str, Any]:
        return {
            "scope": "store/order/created",
            "store_id": "1000001",
            "data": {"type": "order", "id": order_id},
            "hash": f"{order_id:040x}",
            "created_at": 1_700_000_000 + order_id,
            "producer": self.producer,
            **extra,
        }

    async def post(self, body: bytes) -> tuple[int, dict[str, Any] | None]:
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.url, data=body, headers={self.header: SECRET}) as reply,
        ):
            if reply.content_type == "application/json":
                return reply.status, await reply.json()
            return reply.status, None


@pytest.fixture
async def route(database_url: str, tmp_path: Path) -> AsyncIterator[Route]:
    async with seeded_store() as simulator:
        settings = daemon_settings(
            simulator,
            database_url,
            tmp_path,
            extra_env={
                "NETTERMS_WEBHOOKS_PUBLIC_URL": "",
                "NETTERMS_WORKER_ENABLED": "false",
                "NETTERMS_RECONCILER_ENABLED": "false",
            },
        )
        async with running_daemon(settings):
            yield Route(
                f"http://127.0.0.1:{settings.http.port}/webhooks/bigcommerce",
                settings.webhooks.secret_header,
                f"stores/{simulator.store.state.store_hash}",
            )


async def _payloads(database_url: str) -> list[Any]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch("SELECT payload FROM inbox_events ORDER BY id")
    finally:
        await connection.close()
    return [json.loads(row["payload"]) for row in rows]


async def test_delivery_is_kept_as_sent_and_a_duplicate_once(
    route: Route, database_url: str
) -> None:
    """The stored payload is the delivery, extra keys and unicode included."""
    sent = route.delivery(7, note="Grüße, 注文 ✓", extra={"nested": [1, 2.5, None]})
    body = json.dumps(sent, ensure_ascii=False).encode()

    first, _ = await route.post(body)
    again, _ = await route.post(body)

    assert (first, again) == (200, 200)
    assert await _payloads(database_url) == [sent]


@pytest.mark.parametrize(
    "poison",
    ["NaN", "-Infinity", '"\\u0000"', '"\\ud800"', "1e999999"],
    ids=["nan", "infinity", "nul", "lone-surrogate", "huge-number"],
)
async def test_value_postgres_cannot_keep_is_400_and_stored_nowhere(
    route: Route, database_url: str, poison: str
) -> None:
    """Not a 503: retrying the same bytes would never succeed."""
    text = json.dumps(route.delivery(8, data_note="__P__"))
    body = text.replace('"__P__"', poison).encode()

    status, answer = await route.post(body)

    assert status == 400
    assert answer is not None and answer["status"] == 400
    assert await _payloads(database_url) == []


async def test_body_not_utf8_is_400(route: Route, database_url: str) -> None:
    body = json.dumps(route.delivery(9)).encode("utf-16")

    status, answer = await route.post(body)

    assert status == 400
    assert answer is not None and "UTF-8" in answer["error"]
    assert await _payloads(database_url) == []
