"""Simulated store webhook delivery: envelope, headers, retries, blocks, faults."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from netterms_daemon.simulator.core import StoreOptions
from netterms_daemon.simulator.server import Simulator
from netterms_daemon.simulator.webhooks import RETRY_SCHEDULE_S, BlockPolicy
from tests.contract.contract import load_contract
from tests.support.simulator import StoreClient, running_store

SECRET = {"X-Netterms-Secret": "hook-secret-1"}
ORDER_BODY = {
    "customer_id": 1,
    "products": [
        {"name": "Widget", "quantity": 2, "price_inc_tax": 50, "price_ex_tax": 50}
    ],
    "billing_address": {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@x.test",
        "zip": "78701",
    },
}


@dataclass
class Receiver:
    """A webhook destination that records what arrives and answers as told."""

    status: int = 200
    delay_s: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        self.headers.append(dict(request.headers))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return web.Response(status=self.status)

    def scopes(self) -> list[str]:
        return [payload["scope"] for payload in self.received]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiving = Receiver()
    app = web.Application()
    app.router.add_post("/webhooks/bigcommerce", receiving.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    receiving.url = f"http://127.0.0.1:{server.port}/webhooks/bigcommerce"
    yield receiving
    await server.close()


async def eventually(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def register(client: StoreClient, url: str, scope: str = "store/order/*") -> int:
    reply = await client.call(
        "POST", "/v3/hooks", {"scope": scope, "destination": url, "headers": SECRET}
    )
    assert reply.status == 200, reply.body
    hook_id: int = reply.body["data"]["id"]
    return hook_id


async def test_order_events_have_the_documented_envelope(receiver: Receiver) -> None:
    """Thin payloads in the envelope, with the hook's custom headers, valid per spec."""
    async with running_store() as (simulator, client):
        simulator.store.seed()
        await register(client, receiver.url)

        created = await client.call("POST", "/v2/orders", ORDER_BODY)
        await eventually(lambda: len(receiver.received) == 1)

    payload = receiver.received[0]
    load_contract().validate_callback(payload)
    assert payload["scope"] == "store/order/created"
    assert payload["data"] == {"type": "order", "id": created.body["id"]}
    assert payload["store_id"] == simulator.store.state.store_id
    assert payload["producer"] == f"stores/{simulator.store.state.store_hash}"
    assert re.fullmatch(r"[0-9a-f]{40}", payload["hash"])
    assert isinstance(payload["created_at"], int)
    assert receiver.headers[0]["X-Netterms-Secret"] == "hook-secret-1"
    assert receiver.headers[0]["Content-Type"] == "application/json"


async def test_status_change_fires_updated_and_status_updated(
    receiver: Receiver,
) -> None:
    """A PUT of the status, from any API client, comes back as two events."""
    async with running_store() as (simulator, client):
        simulator.store.seed()
        order = simulator.store.add_order(1, Decimal("100.00"), status_id=11)
        await register(client, receiver.url)

        await client.call("PUT", f"/v2/orders/{order.id}", {"status_id": 7})
        await eventually(lambda: len(receiver.received) == 2)

    by_scope = {p["scope"]: p for p in receiver.received}
    assert set(by_scope) == {"store/order/updated", "store/order/statusUpdated"}
    assert by_scope["store/order/statusUpdated"]["data"]["status"] == {
        "previous_status_id": 11,
        "new_status_id": 7,
    }
    for payload in receiver.received:
        load_contract().validate_callback(payload)


async def test_incomplete_order_fires_created_then_status_update(
    receiver: Receiver,
) -> None:
    """An incomplete order (status 0) fires created, later a status update from 0."""
    async with running_store() as (simulator, client):
        simulator.store.seed()
        await register(client, receiver.url)

        created = await client.call(
            "POST", "/v2/orders", {**ORDER_BODY, "status_id": 0}
        )
        await client.call("PUT", f"/v2/orders/{created.body['id']}", {"status_id": 11})
        await eventually(lambda: len(receiver.received) == 3)

    status_events = [
        p for p in receiver.received if p["scope"] == "store/order/statusUpdated"
    ]
    assert receiver.received[0]["scope"] == "store/order/created"
    assert status_events[0]["data"]["status"]["previous_status_id"] == 0


async def test_archive_and_customer_events(receiver: Receiver) -> None:
    """DELETE fires archived; a created or moved customer fires customer events."""
    async with running_store() as (simulator, client):
        simulator.store.seed()
        order = simulator.store.add_order(1, Decimal("10.00"))
        await register(client, receiver.url, "store/order/archived")
        await register(client, receiver.url, "store/customer/*")

        await client.call("DELETE", f"/v2/orders/{order.id}")
        made = await client.call(
            "POST",
            "/v3/customers",
            [{"email": "new@x.test", "first_name": "N", "last_name": "W"}],
        )
        customer_id = made.body["data"][0]["id"]
        await client.call(
            "PUT", "/v3/customers", [{"id": customer_id, "customer_group_id": 1}]
        )
        await eventually(lambda: len(receiver.received) == 3)

    assert receiver.scopes() == [
        "store/order/archived",
        "store/customer/created",
        "store/customer/updated",
    ]
    assert receiver.received[2]["data"] == {"type": "customer", "id": customer_id}


async def test_failed_delivery_retried_on_the_schedule(receiver: Receiver) -> None:
    """A non-2xx answer is retried 60 s later in store time, then delivered."""
    receiver.status = 503
    async with running_store() as (simulator, client):
        simulator.store.seed()
        await register(client, receiver.url)
        simulator.store.add_order(1, Decimal("10.00"))
        await eventually(lambda: len(receiver.received) == 1)

        receiver.status = 200
        await eventually(lambda: simulator.store.webhooks.counters.failed == 1)
        await asyncio.sleep(0.1)
        assert len(receiver.received) == 1, "not before the retry is due"
        simulator.store.clock.advance(RETRY_SCHEDULE_S[0])
        await eventually(lambda: len(receiver.received) == 2)
        attempts = await client.control("GET", "/deliveries")

    assert receiver.received[0]["hash"] == receiver.received[1]["hash"]
    assert [(a["attempt"], a["status"]) for a in attempts] == [(1, 503), (2, 200)]


async def test_slow_answer_counts_as_failure(receiver: Receiver) -> None:
    """An answer slower than the delivery timeout is a failure, and retried."""
    receiver.delay_s = 1.0
    options = StoreOptions(random_seed=7, delivery_timeout_s=0.2)
    async with running_store(options) as (simulator, client):
        simulator.store.seed()
        await register(client, receiver.url)
        simulator.store.add_order(1, Decimal("10.00"))
        await eventually(lambda: simulator.store.webhooks.counters.failed == 1)
        attempts = await client.control("GET", "/deliveries")

    assert attempts[0]["outcome"] == "timeout"


async def test_hook_deactivated_after_last_retry(receiver: Receiver) -> None:
    """A hook failing through the whole ~48 h schedule is deactivated, and shows so."""
    receiver.status = 500
    async with running_store() as (simulator, client):
        simulator.store.seed()
        hook_id = await register(client, receiver.url)
        simulator.store.add_order(1, Decimal("10.00"))

        counters = simulator.store.webhooks.counters
        for attempt in range(1, len(RETRY_SCHEDULE_S) + 2):
            # Advance only once the failure is recorded and the retry scheduled.
            await eventually(lambda n=attempt: counters.failed == n)
            simulator.store.clock.advance(max(RETRY_SCHEDULE_S))
        await eventually(lambda: counters.deactivated == 1)

        hooks = await client.call("GET", "/v3/hooks")
        admin = await client.call("GET", "/v3/hooks/admin")

    assert len(receiver.received) == len(RETRY_SCHEDULE_S) + 1
    assert hooks.body["data"][0]["is_active"] is False
    assert admin.body["data"]["hooks_list"][0]["id"] == hook_id
    assert admin.body["data"]["hooks_list"][0]["status"] == "deactivated"


async def test_failing_domain_is_blocked(receiver: Receiver) -> None:
    """Mostly failing deliveries block the domain; events wait in the retry queue."""
    receiver.status = 500
    block = BlockPolicy(window_s=120, min_requests=5, min_success=0.9, block_s=180)
    async with running_store(StoreOptions(random_seed=7, block=block)) as (
        simulator,
        client,
    ):
        simulator.store.seed()
        await register(client, receiver.url)
        for _ in range(5):
            simulator.store.add_order(1, Decimal("10.00"))
        await eventually(lambda: simulator.store.webhooks.counters.failed == 5)

        simulator.store.add_order(1, Decimal("10.00"))
        await eventually(
            lambda: any(
                a["outcome"] == "domain blocked"
                for a in simulator.store.webhooks.attempts
            )
        )
        admin = await client.call("GET", "/v3/hooks/admin")

    (blocked,) = admin.body["data"]["blocked_domains"]
    assert blocked["destination"] == receiver.url.removesuffix("/webhooks/bigcommerce")
    assert 0 < blocked["time_left"] <= 180
    assert blocked["reasons"][0]["failure_description"] == "HTTP 500"
    assert len(receiver.received) == 5, "nothing sent while blocked"


async def test_fault_drop_loses_deliveries(receiver: Receiver) -> None:
    """webhook_drop_rate=1: events happen but no delivery is made."""
    async with running_store() as (simulator, client):
        simulator.store.seed()
        await register(client, receiver.url)
        await client.control("PUT", "/faults", {"webhook_drop_rate": 1})
        simulator.store.add_order(1, Decimal("10.00"))
        await asyncio.sleep(0.1)
        status = await client.control("GET", "/status")

    assert receiver.received == []
    assert status["webhooks"]["dropped"] == 1


async def test_fault_duplicate_delivers_twice(receiver: Receiver) -> None:
    """webhook_duplicate_rate=1: each event arrives twice, with the same hash."""
    async with running_store() as (simulator, client):
        simulator.store.seed()
        await register(client, receiver.url)
        await client.control("PUT", "/faults", {"webhook_duplicate_rate": 1})
        simulator.store.add_order(1, Decimal("10.00"))
        await eventually(lambda: len(receiver.received) == 2)

    assert receiver.received[0] == receiver.received[1]


async def test_fault_reorder_shuffles_arrival(receiver: Receiver) -> None:
    """webhook_reorder_rate=1: events no longer arrive in the order they happened."""
    async with running_store(StoreOptions(random_seed=3, speed=50)) as (
        simulator,
        client,
    ):
        simulator.store.seed()
        await register(client, receiver.url)
        await client.control("PUT", "/faults", {"webhook_reorder_rate": 1})
        orders = [simulator.store.add_order(1, Decimal("10.00")).id for _ in range(10)]
        await eventually(lambda: len(receiver.received) == 10)

    arrived = [payload["data"]["id"] for payload in receiver.received]
    assert sorted(arrived) == orders
    assert arrived != orders


async def test_inactive_hook_gets_nothing(receiver: Receiver) -> None:
    """A hook turned off receives no events; turned on again, it does."""
    async with running_store() as (simulator, client):
        simulator.store.seed()
        hook_id = await register(client, receiver.url)
        await client.call("PUT", f"/v3/hooks/{hook_id}", {"is_active": False})
        simulator.store.add_order(1, Decimal("10.00"))
        await asyncio.sleep(0.1)
        assert receiver.received == []

        await client.call("PUT", f"/v3/hooks/{hook_id}", {"is_active": True})
        simulator.store.add_order(1, Decimal("10.00"))
        await eventually(lambda: len(receiver.received) == 1)


async def test_simulator_listens_on_loopback_by_default() -> None:
    """Started without a host, the store binds 127.0.0.1 only."""
    async with Simulator() as simulator:
        assert simulator.url.startswith("http://127.0.0.1:")
