"""Dead letters, replay, order history, and 503 while the database is away."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from structlog.testing import capture_logs

from netterms_daemon.admin import list_events, replay_events, show_order
from netterms_daemon.embedded import EmbeddedPostgres
from tests.conftest import make_shared_dir
from tests.support.stack import (
    SECRET,
    daemon_settings,
    eventually,
    place_order,
    running_daemon,
    seeded_store,
    tracked,
    wait_for_hooks,
)


async def test_failing_event_is_dead_lettered_then_replayed(
    database_url: str, tmp_path: Path
) -> None:
    """After max attempts an event is dead (logged, listed); replayed, it succeeds."""
    async with seeded_store() as simulator:
        settings = daemon_settings(
            simulator,
            database_url,
            tmp_path,
            extra_env={"NETTERMS_WORKER_MAX_ATTEMPTS": "2"},
        )
        store_hash = simulator.store.state.store_hash
        with capture_logs() as logs:
            async with running_daemon(settings):
                await wait_for_hooks(simulator)
                simulator.store.faults.api_error_rate = 1.0
                order_id = place_order(simulator, 1, "10.00")
                await eventually(
                    lambda: any(e["event"] == "webhook.dead_lettered" for e in logs),
                    what="dead letter",
                )
                listing = io.StringIO()
                await list_events(settings, "dead", 10, listing)

                simulator.store.faults.api_error_rate = 0.0
                replayed = io.StringIO()
                await replay_events(settings, None, True, replayed)

                async def applied() -> bool:
                    row = await tracked(database_url, store_hash, order_id)
                    return row is not None and row.state == "awaiting_payment"

                await eventually(applied, what="terms after replay")

    dead_line = listing.getvalue().splitlines()[1]
    assert "dead" in dead_line and "store/order/created" in dead_line
    assert "ServerError" in dead_line
    assert replayed.getvalue().strip() == "1 dead-lettered event(s) queued again"


async def test_orders_show_prints_state_and_history(
    database_url: str, tmp_path: Path
) -> None:
    """`netterms orders show` tells the state, the terms and every change made."""
    async with seeded_store() as simulator:
        settings = daemon_settings(simulator, database_url, tmp_path)
        store_hash = simulator.store.state.store_hash
        async with running_daemon(settings):
            await wait_for_hooks(simulator)
            order_id = place_order(simulator, 1, "99.95")

            async def applied() -> bool:
                row = await tracked(database_url, store_hash, order_id)
                return (
                    row is not None
                    and row.state == "awaiting_payment"
                    and row.metafield_id is not None
                )

            await eventually(applied)
        text, as_json = io.StringIO(), io.StringIO()
        await show_order(settings, order_id, text, as_json=False)
        await show_order(settings, order_id, as_json, as_json=True)
        missing = io.StringIO()
        code = await show_order(settings, 999999, missing, as_json=False)

    lines = text.getvalue().splitlines()
    assert lines[0] == f"order      {order_id}"
    assert "state      awaiting_payment" in lines
    assert "amount     USD 99.95" in lines
    actions = [entry["action"] for entry in json.loads(as_json.getvalue())["history"]]
    assert actions == [
        "terms.decided",
        "bigcommerce.order_updated",
        "terms.applied",
        "metafield.written",
    ]
    assert code == 1
    assert missing.getvalue().strip() == "order 999999 is not tracked"


@pytest.fixture
def own_server() -> Iterator[EmbeddedPostgres]:
    """A database of this test's own, to stop and start."""
    state_dir = make_shared_dir("netterms-test-503-")
    server = EmbeddedPostgres(state_dir)
    server.acquire()
    yield server
    server.release()
    shutil.rmtree(state_dir, ignore_errors=True)


async def test_webhook_answers_503_while_database_is_down(
    own_server: EmbeddedPostgres, tmp_path: Path
) -> None:
    """No database: 503 fast (the store retries), /healthz alive; back: 200 again."""
    async with seeded_store() as simulator:
        settings = daemon_settings(
            simulator,
            own_server.url(),
            tmp_path,
            extra_env={"NETTERMS_WEBHOOKS_PUBLIC_URL": ""},
        )
        url = f"http://127.0.0.1:{settings.http.port}"
        delivery = {
            "scope": "store/order/created",
            "store_id": "1",
            "data": {"type": "order", "id": 5},
            "hash": "b" * 40,
            "created_at": 1,
            "producer": f"stores/{simulator.store.state.store_hash}",
        }
        headers = {settings.webhooks.secret_header: SECRET}
        async with running_daemon(settings), aiohttp.ClientSession() as http:
            await asyncio.to_thread(own_server.stop)
            started = time.monotonic()
            async with http.post(
                f"{url}/webhooks/bigcommerce",
                data=json.dumps(delivery),
                headers=headers,
            ) as down:
                down_status = down.status
            answered_in = time.monotonic() - started
            async with http.get(f"{url}/healthz") as health:
                health_status = health.status

            await asyncio.to_thread(own_server.start)

            async def accepted() -> bool:
                async with http.post(
                    f"{url}/webhooks/bigcommerce",
                    data=json.dumps(delivery),
                    headers=headers,
                ) as again:
                    return again.status == 200

            await eventually(accepted, timeout_s=10, what="recovery")

    assert down_status == 503
    assert answered_in < 2.0
    assert health_status == 200
