"""Net terms end to end: simulated store over HTTP, the daemon, real Postgres."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
from structlog.testing import capture_logs

from netterms_daemon.inbox import Inbox
from netterms_daemon.simulator.server import Simulator
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

NET30_MEMBER = 1
OTHER_MEMBER = 2
RETAIL_CUSTOMER = 3
PUTS = "PUT /v2/orders/{order_id}"


def puts(simulator: Simulator) -> int:
    return simulator.store.api_calls[PUTS]


def note_lines(simulator: Simulator, order_id: int) -> list[str]:
    notes = simulator.store.state.orders[order_id].staff_notes
    return [line for line in notes.splitlines() if line.startswith("netterms:")]


async def tracked_state(
    database_url: str, simulator: Simulator, order_id: int
) -> str | None:
    row = await tracked(database_url, simulator.store.state.store_hash, order_id)
    return row.state if row else None


async def test_member_order_gets_terms(database_url: str, tmp_path: Path) -> None:
    """A Net 30 member's order gets terms.

    Awaiting Payment, due date, staff note, metafield and ledger row.
    """
    async with seeded_store() as simulator:
        settings = daemon_settings(simulator, database_url, tmp_path)
        async with running_daemon(settings):
            await wait_for_hooks(simulator)
            created = datetime(
                2026, 11, 30, 23, 30, tzinfo=UTC
            )  # still Nov 30 in Chicago
            order_id = place_order(simulator, NET30_MEMBER, "1234.50", created=created)
            await eventually(
                lambda: simulator.store.state.orders[order_id].status_id == 7,
                what="Awaiting Payment",
            )
            await eventually(
                lambda: tracked_state(database_url, simulator, order_id),
                what="ledger row",
            )
            row = await eventually(
                lambda: _when_state(
                    database_url, simulator, order_id, "awaiting_payment"
                )
            )

    order = simulator.store.state.orders[order_id]
    local_day = created.astimezone(ZoneInfo("America/Chicago")).date()
    assert row.due_date == local_day + timedelta(days=30)
    assert order.staff_notes == f"netterms: Net 30, due {row.due_date} (USD 1234.50)"
    (field,) = [
        m for m in simulator.store.state.metafields.values() if m.order_id == order_id
    ]
    assert (field.namespace, field.key, field.permission_set) == (
        "netterms",
        "schedule",
        "app_only",
    )
    assert (
        json.loads(field.value)["installments"][0]["due_date"]
        == row.due_date.isoformat()
    )
    assert row.amount == Decimal("1234.50")
    assert row.group_name == "Net30 Wholesale"
    assert puts(simulator) == 1


async def _when_state(
    database_url: str, simulator: Simulator, order_id: int, state: str
):  # type: ignore[no-untyped-def]
    row = await tracked(database_url, simulator.store.state.store_hash, order_id)
    return row if row is not None and row.state == state else None


async def test_staff_notes_are_appended_never_replaced(
    database_url: str, tmp_path: Path
) -> None:
    """What staff wrote stays; the netterms line is added below it."""
    async with (
        seeded_store() as simulator,
        running_daemon(daemon_settings(simulator, database_url, tmp_path)),
    ):
        await wait_for_hooks(simulator)
        order_id = place_order(simulator, NET30_MEMBER, "10.00")
        simulator.store.state.orders[order_id].staff_notes = "Call before delivery"
        await eventually(lambda: len(note_lines(simulator, order_id)) == 1)

    notes = simulator.store.state.orders[order_id].staff_notes.splitlines()
    assert notes[0] == "Call before delivery"
    assert notes[1].startswith("netterms: Net 30, due ")


async def test_non_members_and_guests_are_untouched(
    database_url: str, tmp_path: Path
) -> None:
    """Other groups' and guests' orders keep their status, recorded as ignored."""
    async with (
        seeded_store() as simulator,
        running_daemon(daemon_settings(simulator, database_url, tmp_path)),
    ):
        await wait_for_hooks(simulator)
        retail = place_order(simulator, RETAIL_CUSTOMER, "50.00")
        guest = place_order(simulator, 0, "20.00")
        rows = {
            order_id: await eventually(
                lambda o=order_id: tracked(
                    database_url, simulator.store.state.store_hash, o
                )
            )
            for order_id in (retail, guest)
        }

    assert rows[retail].state == "ignored"
    assert rows[retail].ignored_reason == "customer group 2 has no terms"
    assert rows[guest].ignored_reason == "guest order"
    assert simulator.store.state.orders[retail].status_id == 11
    assert puts(simulator) == 0


async def test_duplicates_replays_and_own_writes_have_one_effect(
    database_url: str, tmp_path: Path
) -> None:
    """Every delivery twice, then a replay of all: one read and one PUT per order."""
    async with seeded_store() as simulator:
        settings = daemon_settings(simulator, database_url, tmp_path)
        async with running_daemon(settings):
            await wait_for_hooks(simulator)
            simulator.store.faults.webhook_duplicate_rate = 1.0
            orders = [place_order(simulator, NET30_MEMBER, "10.00") for _ in range(3)]
            await eventually(lambda: puts(simulator) == 3, what="three PUTs")

            pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
            inbox = Inbox(pool, simulator.store.state.store_hash)
            for event in await inbox.list(limit=500):
                await inbox.replay(event.id)
            await eventually(lambda: _all_done(inbox), what="replays processed")
            await pool.close()
            await asyncio.sleep(0.5)

    assert puts(simulator) == 3
    assert simulator.store.api_calls["GET /v2/orders/{order_id}"] == 3
    for order_id in orders:
        assert len(note_lines(simulator, order_id)) == 1
    assert simulator.store.webhooks.counters.duplicated > 0


async def _all_done(inbox: Inbox) -> bool:
    return all(event.state == "done" for event in await inbox.list(limit=500))


async def test_payment_cancellation_and_archive_follow_the_store(
    database_url: str, tmp_path: Path
) -> None:
    """From Awaiting Payment to a paid status pays; cancelling or archiving closes."""
    async with (
        seeded_store() as simulator,
        running_daemon(daemon_settings(simulator, database_url, tmp_path)),
    ):
        await wait_for_hooks(simulator)
        paid, cancelled, archived = (
            place_order(simulator, NET30_MEMBER, "10.00") for _ in range(3)
        )
        for order_id in (paid, cancelled, archived):
            await eventually(
                lambda o=order_id: _when_state(
                    database_url, simulator, o, "awaiting_payment"
                )
            )
        async with _merchant(simulator) as merchant:
            await merchant("PUT", f"/v2/orders/{paid}", {"status_id": 11})
            await merchant("PUT", f"/v2/orders/{cancelled}", {"status_id": 5})
            await merchant("DELETE", f"/v2/orders/{archived}", None)
        paid_row = await eventually(
            lambda: _when_state(database_url, simulator, paid, "paid")
        )
        cancelled_row = await eventually(
            lambda: _when_state(database_url, simulator, cancelled, "closed")
        )
        archived_row = await eventually(
            lambda: _when_state(database_url, simulator, archived, "closed")
        )

    assert paid_row.paid_at is not None
    assert cancelled_row.closed_reason == "Cancelled"
    assert archived_row.closed_reason == "archived"


def _merchant(simulator: Simulator):  # type: ignore[no-untyped-def]
    """The merchant acting in the control panel: API calls with the store's token."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def session():  # type: ignore[no-untyped-def]
        async with aiohttp.ClientSession() as http:

            async def call(method: str, path: str, body: object) -> int:
                async with http.request(
                    method,
                    f"{simulator.api_root}{path}",
                    json=body,
                    headers={
                        "X-Auth-Token": simulator.store.options.access_token,
                        "Accept": "application/json",
                    },
                ) as response:
                    return response.status

            yield call

    return session()


async def test_incomplete_order_gets_terms_once_placed(
    database_url: str, tmp_path: Path
) -> None:
    """Created at status 0 nothing happens; the update away from 0 applies terms."""
    async with (
        seeded_store() as simulator,
        running_daemon(daemon_settings(simulator, database_url, tmp_path)),
    ):
        await wait_for_hooks(simulator)
        order_id = place_order(simulator, NET30_MEMBER, "10.00", status_id=0)
        await asyncio.sleep(0.5)
        assert await tracked_state(database_url, simulator, order_id) is None

        async with _merchant(simulator) as merchant:
            await merchant("PUT", f"/v2/orders/{order_id}", {"status_id": 11})
        await eventually(
            lambda: _when_state(database_url, simulator, order_id, "awaiting_payment")
        )

    assert simulator.store.state.orders[order_id].status_id == 7


async def test_credit_limit_puts_order_on_hold(
    database_url: str, tmp_path: Path
) -> None:
    """An order taking the open balance over the credit limit is held.

    It gets a note, and a warning is logged.
    """
    async with seeded_store() as simulator:
        settings = daemon_settings(
            simulator, database_url, tmp_path, credit_limit="150.00"
        )
        with capture_logs() as logs:
            async with running_daemon(settings):
                await wait_for_hooks(simulator)
                first = place_order(simulator, NET30_MEMBER, "100.00")
                await eventually(
                    lambda: _when_state(
                        database_url, simulator, first, "awaiting_payment"
                    )
                )
                second = place_order(simulator, NET30_MEMBER, "100.00")
                held = await eventually(
                    lambda: _when_state(database_url, simulator, second, "held")
                )
                other = place_order(simulator, OTHER_MEMBER, "100.00")
                await eventually(
                    lambda: _when_state(
                        database_url, simulator, other, "awaiting_payment"
                    )
                )

    assert simulator.store.state.orders[second].status_id == 12
    assert note_lines(simulator, second)[0].startswith(
        "netterms: ON HOLD, credit limit USD 150.00"
    )
    assert (
        held.hold_reason
        == "credit limit USD 150.00 exceeded: open balance 100.00 + this order 100.00"
    )
    warnings = [e for e in logs if e["event"] == "credit.limit_exceeded"]
    assert [e["order_id"] for e in warnings] == [second]


async def test_store_errors_are_retried_until_it_recovers(
    database_url: str, tmp_path: Path
) -> None:
    """Events received during store 500s are processed once it recovers, once."""
    async with (
        seeded_store() as simulator,
        running_daemon(daemon_settings(simulator, database_url, tmp_path)),
    ):
        await wait_for_hooks(simulator)
        simulator.store.faults.api_error_rate = 1.0
        orders = [place_order(simulator, NET30_MEMBER, "10.00") for _ in range(3)]
        await asyncio.sleep(1.0)
        assert all(simulator.store.state.orders[o].status_id == 11 for o in orders)

        simulator.store.faults.api_error_rate = 0.0
        for order_id in orders:
            await eventually(
                lambda o=order_id: _when_state(
                    database_url, simulator, o, "awaiting_payment"
                ),
                timeout_s=30,
            )

    for order_id in orders:
        assert len(note_lines(simulator, order_id)) == 1


async def test_two_daemons_process_each_event_once(
    database_url: str, tmp_path: Path
) -> None:
    """Two daemons, one database: each order gets exactly one PUT and one note line."""
    async with seeded_store() as simulator:
        first = daemon_settings(simulator, database_url, tmp_path)
        second = daemon_settings(
            simulator,
            database_url,
            tmp_path,
            extra_env={"NETTERMS_WEBHOOKS_PUBLIC_URL": ""},
        )
        async with running_daemon(first) as a, running_daemon(second) as b:
            await wait_for_hooks(simulator)
            orders = [
                place_order(simulator, customer, "10.00")
                for _ in range(10)
                for customer in (NET30_MEMBER, OTHER_MEMBER)
            ]
            for order_id in orders:
                await eventually(
                    lambda o=order_id: _when_state(
                        database_url, simulator, o, "awaiting_payment"
                    )
                )
            await asyncio.sleep(0.5)
            shares = (
                a.worker.processed if a.worker else 0,
                b.worker.processed if b.worker else 0,
            )

    assert puts(simulator) == len(orders)
    for order_id in orders:
        assert len(note_lines(simulator, order_id)) == 1
    assert sum(shares) >= len(orders)


async def test_bad_deliveries_are_refused_and_store_nothing(
    database_url: str, tmp_path: Path
) -> None:
    """Unauthenticated, oversized, malformed deliveries: 401/413/400, none stored."""
    async with seeded_store() as simulator:
        settings = daemon_settings(simulator, database_url, tmp_path)
        url = settings.webhooks.public_url
        assert url is not None
        good = {
            "scope": "store/order/created",
            "store_id": "1",
            "data": {"type": "order", "id": 5},
            "hash": "a" * 40,
            "created_at": 1,
            "producer": f"stores/{simulator.store.state.store_hash}",
        }
        header = settings.webhooks.secret_header
        cases = [
            ({}, json.dumps(good), 401),
            ({header: "wrong"}, json.dumps(good), 401),
            ({header: SECRET}, "x" * (settings.webhooks.max_body_bytes + 1), 413),
            ({header: SECRET}, "{not json", 400),
            ({header: SECRET}, json.dumps({**good, "data": {"id": "five"}}), 400),
            ({header: SECRET}, json.dumps({**good, "producer": "stores/other"}), 400),
            ({header: SECRET}, json.dumps({**good, "created_at": "yesterday"}), 400),
            ({header: SECRET}, json.dumps([good]), 400),
        ]
        async with running_daemon(settings), aiohttp.ClientSession() as http:
            statuses = []
            for headers, body, _ in cases:
                async with http.post(url, data=body, headers=headers) as response:
                    statuses.append(response.status)
                    reason = await response.json()
                    assert reason["error"]
            async with http.post(
                url, data=json.dumps(good), headers={header: SECRET}
            ) as ok:
                accepted = ok.status

    assert statuses == [expected for _, _, expected in cases]
    assert accepted == 200
    connection = await asyncpg.connect(database_url)
    try:
        count = await connection.fetchval("SELECT count(*) FROM inbox_events")
    finally:
        await connection.close()
    assert count == 1, "only the good delivery was stored"
