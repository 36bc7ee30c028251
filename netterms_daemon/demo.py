"""`netterms demo`: the whole story on embedded defaults, in well under a minute.

An embedded PostgreSQL, the simulated store and the daemon run in this one
process, on loopback only. The store's clock is moved forward by weeks at a
time while orders are placed, paid on time, paid late or never, one goes
over its credit limit, and one's webhook is lost so that the reconciler has
to find it. What the daemon does is printed as it happens, from its own
audit log, and the run ends with the aging report.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import asyncpg

from netterms_daemon.config import Settings, load_settings
from netterms_daemon.daemon import Daemon
from netterms_daemon.database import database_url
from netterms_daemon.report_render import render_aging
from netterms_daemon.reports import aging
from netterms_daemon.simulator.core import StoreOptions
from netterms_daemon.simulator.server import Simulator
from netterms_daemon.storefacts import store_today
from netterms_daemon.systemd import Notifier

DAY_S = 86400
DEMO_DATABASE = "netterms_demo"
DEMO_SECRET = "demo-webhook-secret"
DEMO_TOKEN = "demo-admin-api-token"
STORY_START = datetime(2027, 1, 4, 15, 0, tzinfo=UTC)  # 9:00 in Chicago
STEP_TIMEOUT_S = 15.0
TERMS = """
[[terms]]
group = "Net30 Wholesale"
policy = "net 30"
credit_limit = "1500.00"

[[terms]]
group = "Net15 EOM Trade"
policy = "2/10 net 15 eom"
"""


@dataclass
class Scene:
    """What the story steps need at hand."""

    simulator: Simulator
    daemon: Daemon
    pool: asyncpg.Pool
    out: TextIO
    seen: set[int] = field(default_factory=set)

    @property
    def store(self) -> Any:
        return self.simulator.store

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)


async def run_demo(settings: Settings, keep_running: bool, out: TextIO) -> int:
    """Play the story; with keep_running, leave everything up until Ctrl-C."""
    started = time.monotonic()
    state_dir = settings.state_dir / "demo"
    state_dir.mkdir(parents=True, exist_ok=True)
    base = settings.__class__(state_dir=state_dir, log=settings.log)

    async with (
        database_url(base) as admin_url,
        _fresh_database(admin_url) as url,
        Simulator(
            StoreOptions(start=STORY_START, quota=100_000, window_s=1.0)
        ) as simulator,
    ):
        simulator.store.seed()
        demo_settings = _settings(simulator, url, state_dir, settings.http.port)
        daemon = Daemon(
            demo_settings, notifier=Notifier({}), clock=simulator.store.clock
        )
        ready = asyncio.Event()
        task = asyncio.create_task(daemon.run(lambda _: ready.set()))
        await _wait_ready(task, ready)
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        try:
            scene = Scene(simulator, daemon, pool, out)
            await _story(scene)
            scene.say(
                f"\nThe story took {time.monotonic() - started:.0f} s of real time."
            )
            if keep_running:
                _print_urls(scene, demo_settings)
                await daemon.stop_requested.wait()
        finally:
            await pool.close()
            daemon.request_stop("demo over")
            await asyncio.wait_for(task, timeout=30)
    return 0


def _settings(simulator: Simulator, url: str, state_dir: Path, port: int) -> Settings:
    config = state_dir / "demo.toml"
    config.write_text(TERMS)
    env = {
        "NETTERMS_STATE_DIR": str(state_dir),
        "NETTERMS_DATABASE_URL": url,
        "NETTERMS_HTTP_PORT": str(port),
        "NETTERMS_LOG_LEVEL": "error",
        "NETTERMS_BIGCOMMERCE_STORE_HASH": simulator.store.state.store_hash,
        "NETTERMS_BIGCOMMERCE_ACCESS_TOKEN": simulator.store.options.access_token,
        "NETTERMS_BIGCOMMERCE_API_URL": simulator.url,
        "NETTERMS_BIGCOMMERCE_RATE_LIMIT_QUOTA": "100000",
        "NETTERMS_BIGCOMMERCE_RATE_LIMIT_WINDOW_S": "1",
        "NETTERMS_BIGCOMMERCE_RATE_LIMIT_BURST": "1000",
        "NETTERMS_WEBHOOKS_PUBLIC_URL": f"http://127.0.0.1:{port}/webhooks/bigcommerce",
        "NETTERMS_WEBHOOKS_SECRET": DEMO_SECRET,
        "NETTERMS_API_TOKEN": DEMO_TOKEN,
        "NETTERMS_WORKER_POLL_INTERVAL_S": "0.2",
        "NETTERMS_WORKER_METAFIELD_DELAY_S": "0.2",
        "NETTERMS_RECONCILER_INTERVAL_S": "0.3",
        "NETTERMS_RECONCILER_OVERLAP_S": "0",
        "NETTERMS_DAEMON_SHUTDOWN_GRACE_S": "5",
    }
    return load_settings(config, env, default_config_path=state_dir / "none")


@contextlib.asynccontextmanager
async def _fresh_database(admin_url: str) -> AsyncIterator[str]:
    """An empty demo database on the embedded server, every run."""
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(
            f'DROP DATABASE IF EXISTS "{DEMO_DATABASE}" WITH (FORCE)'
        )
        await connection.execute(f'CREATE DATABASE "{DEMO_DATABASE}"')
    finally:
        await connection.close()
    yield admin_url.replace("/netterms?", f"/{DEMO_DATABASE}?")


async def _wait_ready(task: asyncio.Task[None], ready: asyncio.Event) -> None:
    waiter = asyncio.ensure_future(ready.wait())
    done, _ = await asyncio.wait(
        {task, waiter}, timeout=60, return_when="FIRST_COMPLETED"
    )
    waiter.cancel()
    if task in done:
        task.result()
    if not ready.is_set():
        raise TimeoutError("the daemon did not start within 60 s")


async def _story(scene: Scene) -> None:
    store = scene.store
    await _until(scene, lambda: len(store.state.hooks) >= 2, "the daemon's webhooks")
    trade = next(g for g in store.state.groups.values() if g.name == "Net15 EOM Trade")
    bea = store.add_customer("bea@trade.test", "Bea", "Trader", trade.id, "Trade Co")
    scene.say(
        "netterms demo: a simulated store with two net-terms groups, a fast clock,\n"
        "and the daemon watching it. Net30 Wholesale: net 30, credit limit 1500.00;\n"
        "Net15 EOM Trade: 2/10 net 15 EOM. Ada and Alan buy wholesale, Bea trades,\n"
        "Grace buys retail and Linus is in no group.\n"
    )

    await _chapter(scene, "4 January 2027: orders come in")
    ada = store.add_order(1, Decimal("1200.00")).id
    alan = store.add_order(2, Decimal("800.00")).id
    store.add_order(bea.id, Decimal("640.00"))
    store.add_order(3, Decimal("150.00"))
    store.add_order(4, Decimal("95.00"))
    await _settle(scene, expected=5)

    await _chapter(scene, "5 January: Ada orders again, and this webhook is lost")
    store.clock.advance(DAY_S)
    store.faults.webhook_drop_rate = 1.0
    lost = store.add_order(1, Decimal("900.00")).id
    await asyncio.sleep(0.5)
    store.faults.webhook_drop_rate = 0.0
    scene.say(
        f"  (nothing arrives for order {lost}; the reconciler's next pass finds it)"
    )
    await _settle(scene, expected=1)

    await _chapter(scene, "14 January: Alan pays in the control panel")
    store.clock.advance(9 * DAY_S)
    _merchant_sets(scene, alan, 11)
    await _settle(scene, expected=1)

    await _chapter(scene, "4 February: Ada's first order is a day overdue")
    store.clock.advance(21 * DAY_S)
    await _settle(scene, expected=1, passes=2)

    await _chapter(
        scene, "12 February: Ada pays, late; the hold on her second order is lifted"
    )
    store.clock.advance(8 * DAY_S)
    _merchant_sets(scene, ada, 11)
    await _settle(scene, expected=1)
    _merchant_sets(scene, lost, 7)
    await _settle(scene, expected=1)

    await _chapter(
        scene, "17 March: Bea never paid, nor Ada her second order: escalated"
    )
    store.clock.advance(33 * DAY_S)
    await _settle(scene, expected=2, passes=3)

    await _chapter(scene, "Aging on 17 March 2027, from netterms' own records")
    today = await store_today(scene.pool, store.state.store_hash, store.clock.now())
    report = await aging(scene.pool, store.state.store_hash, today)
    scene.say(render_aging(report, "table"))


async def _chapter(scene: Scene, title: str) -> None:
    scene.say(f"\n== {title}")


def _merchant_sets(scene: Scene, order_id: int, status_id: int) -> None:
    """The merchant changes a status in the control panel (the store fires events)."""
    order = scene.store.state.orders[order_id]
    previous = order.status_id
    order.status_id = status_id
    order.modified = scene.store.clock.now()
    scene.store.emit("store/order/updated", {"type": "order", "id": order_id})
    scene.store.emit(
        "store/order/statusUpdated",
        {
            "type": "order",
            "id": order_id,
            "status": {"previous_status_id": previous, "new_status_id": status_id},
        },
    )
    scene.say(f"  the merchant sets order {order_id} to status {status_id}")


async def _settle(scene: Scene, expected: int, passes: int = 1) -> None:
    """Wait until `expected` new outcomes were audited and the reconciler passed."""
    reconciler = scene.daemon.reconciler
    start_passes = reconciler.passes if reconciler else 0
    printed = 0

    async def progressed() -> bool:
        nonlocal printed
        printed += await _narrate(scene)
        current = scene.daemon.reconciler
        passed = (current.passes if current else 0) - start_passes
        return printed >= expected and passed >= passes

    await _until(scene, progressed, "the daemon")


async def _until(scene: Scene, condition: Callable[[], Any], what: str) -> None:
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the demo waited {STEP_TIMEOUT_S:g} s for {what}")
        await asyncio.sleep(0.05)


_AUDIT = """
SELECT a.id, a.action, a.order_id, a.after, t.customer_id, t.amount, t.currency,
       t.due_date, t.explanation, t.ignored_reason, t.hold_reason
FROM audit_log a JOIN tracked_orders t
  ON t.store_hash = a.store_hash AND t.order_id = a.order_id
WHERE a.store_hash = $1
ORDER BY a.id
"""
_TOLD = {
    "terms.applied",
    "order.ignored",
    "order.paid",
    "order.closed",
    "order.overdue",
    "order.overdue_escalated",
    "order.awaiting_payment",
}


async def _narrate(scene: Scene) -> int:
    """
    Print the audit rows not told yet; return how many were told.

    Rows are read whole each time: ids are handed out when a row is written,
    not when it commits, so "everything after the last id" could skip one.
    The demo's log is small.
    """
    async with scene.pool.acquire() as connection:
        rows = await connection.fetch(_AUDIT, scene.store.state.store_hash)
    told = 0
    for row in rows:
        if row["id"] in scene.seen:
            continue
        scene.seen.add(row["id"])
        line = _line(row)
        if line is not None and row["action"] in _TOLD:
            scene.say(f"  order {row['order_id']}: {line}")
            told += 1
    return told


def _line(row: asyncpg.Record) -> str | None:
    amount = f"{row['currency'].strip()} {row['amount']:.2f}"
    action = row["action"]
    if action == "terms.applied":
        if row["hold_reason"]:
            return f"ON HOLD, {row['hold_reason']}"
        return (
            f"Awaiting Payment, {amount} due {row['due_date']} ({row['explanation']})"
        )
    if action == "order.ignored":
        return f"no terms: {row['ignored_reason']}"
    if action == "order.paid":
        return f"paid, {amount}"
    if action == "order.closed":
        return f"closed, {amount}"
    if action == "order.overdue":
        return f"OVERDUE: {amount} was due {row['due_date']} (log event order.overdue)"
    if action == "order.overdue_escalated":
        return f"still unpaid, escalated (order.overdue_escalated), {amount}"
    if action == "order.awaiting_payment":
        return f"released from hold: Awaiting Payment, {amount} due {row['due_date']}"
    return None


def _print_urls(scene: Scene, settings: Settings) -> None:
    base = f"http://127.0.0.1:{settings.http.port}"
    token = scene.simulator.store.options.access_token
    scene.say(
        "\nEverything is still running. Try:\n"
        f"  curl {base}/readyz\n"
        f"  curl {base}/metrics\n"
        f"  curl -H 'Authorization: Bearer {DEMO_TOKEN}' {base}/api/v1/aging\n"
        f"  curl -H 'X-Auth-Token: {token}' -H 'Accept: application/json' "
        f"{scene.simulator.api_root}/v2/orders\n"
        f"  curl {scene.simulator.url}/__simulator/status\n"
        "Press Ctrl-C to stop."
    )
