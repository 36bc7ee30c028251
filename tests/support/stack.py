"""A whole test installation: the simulated store, netterms daemons, real Postgres.

The daemons run in this process but speak to the store over real HTTP, and
the store delivers webhooks to them over real HTTP, as in production.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from netterms_daemon.config import Settings, load_settings
from netterms_daemon.daemon import Daemon
from netterms_daemon.ledger import Ledger, TrackedOrder
from netterms_daemon.simulator.core import StoreOptions
from netterms_daemon.simulator.server import Simulator
from netterms_daemon.systemd import Notifier

SECRET = "webhook-secret-for-tests"
TERMS_TOML = """
[[terms]]
group = "Net30 Wholesale"
policy = "net 30"
{credit}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def daemon_settings(
    simulator: Simulator,
    database_url: str,
    tmp_path: Path,
    *,
    credit_limit: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> Settings:
    """Settings of a daemon serving the simulated store, on a free port."""
    port = free_port()
    config = tmp_path / f"netterms-{port}.toml"
    credit = f'credit_limit = "{credit_limit}"' if credit_limit else ""
    config.write_text(TERMS_TOML.format(credit=credit))
    env = {
        "NETTERMS_STATE_DIR": str(tmp_path),
        "NETTERMS_DATABASE_URL": database_url,
        "NETTERMS_HTTP_PORT": str(port),
        "NETTERMS_BIGCOMMERCE_STORE_HASH": simulator.store.state.store_hash,
        "NETTERMS_BIGCOMMERCE_ACCESS_TOKEN": simulator.store.options.access_token,
        "NETTERMS_BIGCOMMERCE_API_URL": simulator.url,
        "NETTERMS_BIGCOMMERCE_RATE_LIMIT_QUOTA": "10000",
        "NETTERMS_BIGCOMMERCE_RATE_LIMIT_WINDOW_S": "1",
        "NETTERMS_BIGCOMMERCE_RATE_LIMIT_BURST": "100",
        "NETTERMS_BIGCOMMERCE_MAX_ATTEMPTS": "2",
        "NETTERMS_WEBHOOKS_PUBLIC_URL": f"http://127.0.0.1:{port}/webhooks/bigcommerce",
        "NETTERMS_WEBHOOKS_SECRET": SECRET,
        "NETTERMS_WORKER_POLL_INTERVAL_S": "0.2",
        "NETTERMS_WORKER_METAFIELD_DELAY_S": "0.05",
        "NETTERMS_WORKER_RETRY_INITIAL_S": "0.1",
        "NETTERMS_WORKER_RETRY_MAX_S": "0.5",
        "NETTERMS_WORKER_MAX_ATTEMPTS": "50",
        "NETTERMS_DAEMON_SHUTDOWN_GRACE_S": "5",
        **(extra_env or {}),
    }
    return load_settings(config, env, default_config_path=tmp_path / "none")


@asynccontextmanager
async def running_daemon(settings: Settings) -> AsyncIterator[Daemon]:
    """Run a daemon until the block ends; fail loudly if it dies."""
    daemon = Daemon(settings, notifier=Notifier({}))
    ready = asyncio.Event()
    task = asyncio.create_task(daemon.run(lambda _: ready.set()))
    waiter = asyncio.ensure_future(ready.wait())
    done, _ = await asyncio.wait(
        {task, waiter}, timeout=30, return_when="FIRST_COMPLETED"
    )
    if task in done:
        task.result()
    waiter.cancel()
    try:
        yield daemon
    finally:
        daemon.request_stop("test over")
        await asyncio.wait_for(task, timeout=30)


@asynccontextmanager
async def seeded_store(**options: Any) -> AsyncIterator[Simulator]:
    """A seeded store: group 1 'Net30 Wholesale' (customers 1, 2), group 2 'Retail'.

    Its quota is generous, so that tests are not paced like a standard plan.
    """
    settings = {"random_seed": 11, "quota": 100_000, "window_s": 1.0, **options}
    async with Simulator(StoreOptions(**settings)) as simulator:
        simulator.store.seed()
        yield simulator


async def eventually(
    condition: Callable[[], Any], timeout_s: float = 15.0, what: str = "condition"
) -> Any:
    """Poll a (possibly async) condition until it is truthy."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s} s")
        await asyncio.sleep(0.05)


async def tracked(
    database_url: str, store_hash: str, order_id: int
) -> TrackedOrder | None:
    """The ledger's row for an order."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        return await Ledger(pool, store_hash).get(order_id)
    finally:
        await pool.close()


async def wait_for_hooks(simulator: Simulator, count: int = 2) -> None:
    """Setup runs when the worker starts; wait for its hooks to exist."""
    await eventually(lambda: len(simulator.store.state.hooks) >= count, what="webhooks")


def place_order(
    simulator: Simulator, customer_id: int, total: str, **kwargs: Any
) -> int:
    """An order placed in the store, firing store/order/created."""
    return simulator.store.add_order(customer_id, Decimal(total), **kwargs).id
