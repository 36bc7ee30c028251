"""The reconciler against the simulated store and real Postgres."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
from structlog.testing import capture_logs

from netterms_daemon.bigcommerce.client import BigCommerceClient
from netterms_daemon.config import Secret, Settings
from netterms_daemon.daemon import build_processor
from netterms_daemon.ledger import Ledger
from netterms_daemon.processor import OrderProcessor
from netterms_daemon.reconciler import Reconciler
from netterms_daemon.setup import resolve_terms
from netterms_daemon.simulator.server import Simulator
from tests.support.stack import (
    daemon_settings,
    eventually,
    place_order,
    running_daemon,
    seeded_store,
    tracked,
    wait_for_hooks,
)


class ManualClock:
    """Business time the test sets; waits still happen in real time."""

    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass
class Kit:
    simulator: Simulator
    settings: Settings
    pool: asyncpg.Pool
    client: BigCommerceClient
    processor: OrderProcessor
    reconciler: Reconciler
    clock: ManualClock


@asynccontextmanager
async def reconciler_kit(
    simulator: Simulator, database_url: str, tmp_path: Path, now: datetime
) -> AsyncIterator[Kit]:
    """A reconciler for the simulated store, outside any daemon, on a set clock."""
    settings = daemon_settings(
        simulator,
        database_url,
        tmp_path,
        extra_env={"NETTERMS_WEBHOOKS_PUBLIC_URL": ""},
    )
    clock = ManualClock(now)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=6)
    client = BigCommerceClient(
        simulator.store.state.store_hash,
        Secret(simulator.store.options.access_token),
        api_url=simulator.url,
    )
    book, _ = await resolve_terms(settings, client, create_missing=False)
    processor = build_processor(settings, client, pool, book, clock)
    reconciler = Reconciler(
        pool=pool,
        client=client,
        processor=processor,
        ledger=Ledger(pool, simulator.store.state.store_hash),
        settings=settings.reconciler,
        clock=clock,
        public_url=None,
        connect=lambda: asyncpg.connect(database_url),
    )
    try:
        yield Kit(simulator, settings, pool, client, processor, reconciler, clock)
    finally:
        await client.close()
        await pool.close()


def api_calls(simulator: Simulator) -> int:
    return sum(simulator.store.api_calls.values())


async def test_orders_placed_while_down_are_caught_by_one_pass(
    database_url: str, tmp_path: Path
) -> None:
    """No webhook ever came: the first pass after start gives the orders terms."""
    async with seeded_store() as simulator:
        orders = [place_order(simulator, 1, "10.00") for _ in range(3)]
        settings = daemon_settings(simulator, database_url, tmp_path)
        with capture_logs() as logs:
            async with running_daemon(settings):
                for order_id in orders:
                    await eventually(
                        lambda o=order_id: _state_is(
                            database_url, simulator, o, "awaiting_payment"
                        )
                    )
                await eventually(
                    lambda: any(e["event"] == "reconciler.pass" for e in logs),
                    what="the pass summary",
                )

    passes = [e for e in logs if e["event"] == "reconciler.pass"]
    assert passes and passes[0]["outcomes"].get("applied") == 3
    for order_id in orders:
        assert simulator.store.state.orders[order_id].status_id == 7


async def _state_is(
    database_url: str, simulator: Simulator, order_id: int, state: str
) -> bool:
    row = await tracked(database_url, simulator.store.state.store_hash, order_id)
    return row is not None and row.state == state


async def test_pass_cost_grows_with_changes_not_open_orders(
    database_url: str, tmp_path: Path
) -> None:
    """10,000 open orders, 50 paid in the store: the pass costs a handful of calls."""
    now = datetime(2027, 3, 1, 12, tzinfo=UTC)
    async with seeded_store(start=now - timedelta(days=1)) as simulator:
        store = simulator.store
        for _ in range(10_000):
            order = store.add_order(1, Decimal("10.00"), status_id=7)
            order.staff_notes = "netterms: Net 30"
        await _track_all(database_url, simulator)
        async with reconciler_kit(simulator, database_url, tmp_path, now) as kit:
            store.clock.advance(600)  # the last pass ran well after these orders
            await kit.reconciler._put_state(
                "orders.watermark", store.clock.now().isoformat()
            )
            store.clock.advance(1)
            paid = list(store.state.orders)[:50]
            for order_id in paid:
                store.state.orders[order_id].status_id = 11
                store.state.orders[order_id].modified = store.clock.now()

            before = api_calls(simulator)
            report = await kit.reconciler.run_pass()
            used = api_calls(simulator) - before

    assert report.changed == 50
    assert report.outcomes == {"paid": 50}
    assert used <= 4, simulator.store.api_calls
    quiet_used = report.api_calls
    assert quiet_used == used


async def test_list_page_older_than_the_ledger_is_not_taken_for_a_payment(
    database_url: str, tmp_path: Path
) -> None:
    """A page read before our own write shows the paid-looking new status.

    Older by a second or more, it is passed over without a read; from the
    same second as the ledger's version, only a fresh read can tell, so the
    order is read again. Either way the order stays awaiting payment.
    """
    now = datetime(2027, 3, 1, 12, tzinfo=UTC)
    async with seeded_store(start=now) as simulator:
        order_id = place_order(simulator, 1, "10.00")
        store = simulator.store
        async with reconciler_kit(simulator, database_url, tmp_path, now) as kit:
            page_copy = await kit.client.order(order_id)
            store.clock.advance(5)
            await kit.reconciler.run_pass()  # applies Net 30 five seconds later
            row = await tracked(database_url, store.state.store_hash, order_id)
            assert row is not None and row.bc_date_modified is not None
            assert page_copy.status_id in kit.settings.orders.paid_status_ids

            reads = store.api_calls["GET /v2/orders/{order_id}"]
            older = await kit.processor.handle_order(
                order_id, "reconciler", order=page_copy
            )
            reads_for_older = store.api_calls["GET /v2/orders/{order_id}"] - reads

            same_second = dataclasses.replace(
                page_copy, date_modified=row.bc_date_modified
            )
            same = await kit.processor.handle_order(
                order_id, "reconciler", order=same_second
            )
            reads_for_same = (
                store.api_calls["GET /v2/orders/{order_id}"] - reads - reads_for_older
            )
            after = await tracked(database_url, store.state.store_hash, order_id)

    assert (older, reads_for_older) == ("stale", 0)
    assert (same, reads_for_same) == ("unchanged", 1)
    assert after is not None and after.state == "awaiting_payment"


async def _track_all(database_url: str, simulator: Simulator) -> None:
    """Record every simulated order as awaiting payment, as if handled before."""
    store = simulator.store
    rows = [
        (
            store.state.store_hash,
            order.id,
            order.customer_id,
            1,
            "Net30 Wholesale",
            "Net 30",
            order.created,
            (order.created + timedelta(days=30)).date(),
            order.total_inc_tax,
            "USD",
            "awaiting_payment",
            7,
            order.modified.replace(microsecond=0),  # the API's dates have seconds
        )
        for order in store.state.orders.values()
    ]
    connection = await asyncpg.connect(database_url)
    try:
        await connection.copy_records_to_table(
            "tracked_orders",
            records=rows,
            columns=[
                "store_hash",
                "order_id",
                "customer_id",
                "customer_group_id",
                "group_name",
                "policy",
                "order_created_at",
                "due_date",
                "amount",
                "currency",
                "state",
                "bc_status_id",
                "bc_date_modified",
            ],
        )
    finally:
        await connection.close()


async def test_overdue_flagged_once_at_the_stores_midnight(
    database_url: str, tmp_path: Path
) -> None:
    """Far east of UTC: overdue at the store's midnight, and flagged once."""
    zone = ZoneInfo("Pacific/Kiritimati")  # UTC+14
    placed = datetime(2027, 1, 10, 12, tzinfo=zone)
    async with seeded_store(time_zone="Pacific/Kiritimati", start=placed) as simulator:
        order_id = place_order(simulator, 1, "250.00")
        due = date(2027, 2, 9)  # net 30 from Jan 10 in the store's zone
        just_before = datetime(2027, 2, 9, 23, 30, tzinfo=zone)
        async with reconciler_kit(simulator, database_url, tmp_path, placed) as kit:
            await kit.reconciler.run_pass()  # catches the order, applies Net 30
            row = await tracked(
                database_url, simulator.store.state.store_hash, order_id
            )
            assert row is not None and row.due_date == due

            with capture_logs() as logs:
                kit.clock.current = just_before.astimezone(UTC)
                first = await kit.reconciler.run_pass()
                kit.clock.current = (just_before + timedelta(hours=1)).astimezone(UTC)
                second = await kit.reconciler.run_pass()
                third = await kit.reconciler.run_pass()

    assert (first.overdue, second.overdue, third.overdue) == (0, 1, 0)
    (event,) = [e for e in logs if e["event"] == "order.overdue"]
    assert event["order_id"] == order_id
    assert event["due_date"] == "2027-02-09"
    assert event["days_overdue"] == 1
    assert event["amount"] == "250.0000"
    notes = simulator.store.state.orders[order_id].staff_notes
    assert "netterms: OVERDUE since 2027-02-10, USD 250.00 unpaid" in notes
    fields = [m for m in simulator.store.state.metafields.values()]
    assert '"overdue_since": "2027-02-10"' in fields[0].value


async def test_escalation_and_due_soon_events(
    database_url: str, tmp_path: Path
) -> None:
    """Due soon once, then overdue, then escalations at 7 and 30 days, each once."""
    placed = datetime(2027, 1, 10, 18, tzinfo=UTC)
    async with seeded_store(start=placed) as simulator:
        order_id = place_order(simulator, 1, "99.00")
        async with reconciler_kit(simulator, database_url, tmp_path, placed) as kit:
            await kit.reconciler.run_pass()
            due_evening = datetime(2027, 2, 9, 18, tzinfo=UTC)  # Feb 9, noon in Chicago
            with capture_logs() as logs:
                for offset in (-3, -2, 1, 2, 7, 8, 30, 31):
                    kit.clock.current = due_evening + timedelta(days=offset)
                    await kit.reconciler.run_pass()

    names = [
        (e["event"], e.get("step_days"))
        for e in logs
        if e["event"].startswith("order.")
    ]
    assert names == [
        ("order.due_soon", None),
        ("order.overdue", None),
        ("order.overdue_escalated", 7),
        ("order.overdue_escalated", 30),
    ]
    assert all(
        e["order_id"] == order_id for e in logs if e["event"].startswith("order.")
    )


async def test_leadership_fails_over_to_the_other_daemon(
    database_url: str, tmp_path: Path
) -> None:
    """One reconciler leads; when it stops, the other takes over within one interval."""
    async with seeded_store() as simulator:
        env = {"NETTERMS_RECONCILER_INTERVAL_S": "0.5"}
        first = daemon_settings(simulator, database_url, tmp_path, extra_env=env)
        second = daemon_settings(
            simulator,
            database_url,
            tmp_path,
            extra_env={**env, "NETTERMS_WEBHOOKS_PUBLIC_URL": ""},
        )
        async with contextlib.AsyncExitStack() as standby_stack:
            async with running_daemon(first) as leader:
                await wait_for_hooks(simulator)
                await eventually(lambda: _leading(leader), what="the first leader")
                standby = await standby_stack.enter_async_context(
                    running_daemon(second)
                )
                await asyncio.sleep(1.0)
                assert not _leading(standby), "only one leader at a time"
            started = time.monotonic()
            await eventually(lambda: _leading(standby), timeout_s=5, what="failover")
            took = time.monotonic() - started

    assert took <= 1.5


async def test_fencing_checks_at_once_do_not_read_as_lost_leadership(
    database_url: str, tmp_path: Path
) -> None:
    """Checks made together on the leader session all find it alive.

    A pass checks leadership before each order while the heartbeat pings the
    same session; a check refused because another was in flight once read as
    a lost session, and a leader busy with a burst handed its role away.
    """
    now = datetime(2027, 1, 10, 18, tzinfo=UTC)
    async with (
        seeded_store(start=now) as simulator,
        reconciler_kit(simulator, database_url, tmp_path, now) as kit,
    ):
        stop = asyncio.Event()
        with capture_logs() as logs:
            running = asyncio.create_task(kit.reconciler.run(stop))
            try:
                await eventually(lambda: kit.reconciler.is_leader, what="leadership")
                checks = [kit.reconciler._still_leader() for _ in range(20)]
                answers = await asyncio.gather(*checks)
            finally:
                stop.set()
                await running

    assert answers == [True] * 20
    assert "reconciler.leadership_lost" not in [e["event"] for e in logs]


def _leading(daemon: object) -> bool:
    reconciler = getattr(daemon, "reconciler", None)
    return reconciler is not None and reconciler.is_leader and reconciler.passes > 0


async def test_readyz_503_when_the_last_pass_is_too_old(
    database_url: str, tmp_path: Path
) -> None:
    """Ready after a pass; not ready once no pass succeeded within the bound."""
    async with seeded_store() as simulator:
        settings = daemon_settings(
            simulator,
            database_url,
            tmp_path,
            extra_env={
                "NETTERMS_RECONCILER_INTERVAL_S": "100",
                "NETTERMS_RECONCILER_MAX_PASS_AGE_S": "1",
            },
        )
        url = f"http://127.0.0.1:{settings.http.port}/readyz"
        async with running_daemon(settings) as daemon, aiohttp.ClientSession() as http:
            await eventually(lambda: _leading(daemon), what="the first pass")
            async with http.get(url) as fresh:
                fresh_status = fresh.status
            await asyncio.sleep(1.5)
            async with http.get(url) as stale:
                stale_status = stale.status
                body = await stale.json()

    assert fresh_status == 200
    assert stale_status == 503
    assert body["problems"]["reconciler"].startswith(
        "the last reconciler pass succeeded"
    )
