"""Benchmark order processing: orders put on terms per minute under the store's quota.

Run from the repository root: `.venv/bin/python -m bench.processing`.

A netterms daemon process (worker and reconciler on, public URL set, so it
registers its webhooks) serves a simulated store in this process. The
store's quota has the standard plan's shape scaled ten times faster, 150
calls per 3 s instead of per 30 s, and the daemon is told the same, so a run
takes seconds rather than minutes; the reconciler's interval is scaled the
same way (30 s for the default 300 s), and so is the wait for a metafield
batch to fill (0.2 s for the default 2 s). What counts is the share of the
quota-implied maximum, which the scaling leaves unchanged:

    orders per minute / (quota per minute / API calls per order)

Customers 1 and 2 (both in the Net30 group) order in turn, at a steady pace
faster than the quota allows, so the daemon always has a backlog. The
processed rate is read from the ledger in the steady part of the run: from
two quota windows after the first order until 90 % of the orders are done.
API calls are counted by the store over the whole run (so they include the
reconciler's and the follow-up events'), 429s likewise. Three runs, each
with a fresh store, daemon and database; median (min, max). Results go to
bench/results/processing.md and processing.json.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from bench.ingest import Figure, summarise
from bench.machine import describe, take_no_options
from netterms_daemon.embedded import EmbeddedPostgres
from tests.conftest import make_shared_dir, with_database
from tests.support.processes import DaemonProcess, daemon_env
from tests.support.stack import seeded_store, wait_for_hooks

RUNS = 3
QUOTA = 150
WINDOW_S = 3.0  # the standard plan's 30 s, ten times faster
SPEEDUP = 30.0 / WINDOW_S
ORDERS = 600
PACE_PER_S = 40.0  # above the quota-implied maximum at any plausible calls per order
WARMUP_S = 2 * WINDOW_S
STEADY_UNTIL = 0.9
POLL_S = 0.25
RUN_TIMEOUT_S = 150.0
ORDER_READ = "GET /v2/orders/{order_id}"
RESULTS_DIR = Path(__file__).parent / "results"


async def processed(connection: asyncpg.Connection) -> int:
    """Orders the ledger holds with terms applied."""
    count: int = await connection.fetchval(
        "SELECT count(*) FROM tracked_orders WHERE state = 'awaiting_payment'"
    )
    return count


async def settled(connection: asyncpg.Connection) -> bool:
    """Nothing left in the inbox to process, and every metafield written."""
    pending: int = await connection.fetchval(
        "SELECT count(*) FROM inbox_events WHERE state = 'pending'"
    )
    unwritten: int = await connection.fetchval(
        "SELECT count(*) FROM tracked_orders"
        " WHERE state = 'awaiting_payment' AND metafield_id IS NULL"
    )
    return pending == 0 and unwritten == 0


def steady_rate(samples: list[tuple[float, int]], started: float) -> float:
    """Orders per second between the end of the warm-up and 90 % done."""
    first = next(s for s in samples if s[0] >= started + WARMUP_S)
    last = next(s for s in samples if s[1] >= STEADY_UNTIL * ORDERS)
    return (last[1] - first[1]) / (last[0] - first[0])


async def place_orders(simulator: Any) -> None:
    """ORDERS orders from customers 1 and 2 in turn, one every 1 / PACE_PER_S."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    for index in range(ORDERS):
        delay = started + index / PACE_PER_S - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        simulator.store.add_order(1 + index % 2, Decimal("125.00"))


async def one_run(server_url: str, workdir: Path, run: int) -> dict[str, float]:
    """A fresh database, store and daemon; place the orders and watch them go."""
    name = f"bench_processing_{run}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    database_url = with_database(server_url, name)

    async with seeded_store(quota=QUOTA, window_s=WINDOW_S) as simulator:
        store = simulator.store
        env = daemon_env(
            simulator,
            database_url,
            workdir,
            extra={
                "NETTERMS_BIGCOMMERCE_RATE_LIMIT_QUOTA": str(QUOTA),
                "NETTERMS_BIGCOMMERCE_RATE_LIMIT_WINDOW_S": str(WINDOW_S),
                "NETTERMS_RECONCILER_INTERVAL_S": str(300 / SPEEDUP),
                "NETTERMS_WORKER_METAFIELD_DELAY_S": str(2.0 / SPEEDUP),
            },
        )
        daemon = DaemonProcess(env, workdir)
        # start() polls with time.sleep; the store it talks to runs in this loop.
        await asyncio.to_thread(daemon.start)
        connection = await asyncpg.connect(database_url)
        try:
            await wait_for_hooks(simulator)
            # Let start-up calls (setup, first reconciler pass) leave the window.
            await asyncio.sleep(WINDOW_S)
            calls_before = Counter(store.api_calls)
            refused_before = store.quota.refused

            samples: list[tuple[float, int]] = []
            started = time.monotonic()
            placing = asyncio.create_task(place_orders(simulator))
            deadline = started + RUN_TIMEOUT_S
            while not (
                placing.done()
                and samples
                and samples[-1][1] >= ORDERS
                and await settled(connection)
            ):
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"run {run}: {samples[-1][1] if samples else 0} of "
                        f"{ORDERS} orders processed in {RUN_TIMEOUT_S:g} s"
                    )
                await asyncio.sleep(POLL_S)
                samples.append((time.monotonic(), await processed(connection)))
            await placing
            finished = samples[-1][0]
        finally:
            await connection.close()
            await asyncio.to_thread(daemon.stop)

        calls = Counter(store.api_calls)
        calls.subtract(calls_before)
        refused = store.quota.refused - refused_before

    total_calls = sum(calls.values())
    calls_per_order = total_calls / ORDERS
    rate_per_min = steady_rate(samples, started) * 60
    implied_per_min = QUOTA / WINDOW_S * 60 / calls_per_order
    breakdown = {key: value for key, value in calls.most_common() if value}
    print(
        f"run {run + 1}: {rate_per_min:.0f} orders/min (scaled), implied max "
        f"{implied_per_min:.0f}, share {rate_per_min / implied_per_min:.1%}; "
        f"{calls_per_order:.2f} calls/order, {refused} 429s, "
        f"all done in {finished - started:.1f} s; calls {json.dumps(breakdown)}",
        flush=True,
    )

    return {
        "rate": rate_per_min,
        "rate_unscaled": rate_per_min / SPEEDUP,
        "implied": implied_per_min,
        "share": rate_per_min / implied_per_min,
        "refused": float(refused),
        "calls_per_order": calls_per_order,
        "reads_per_order": calls[ORDER_READ] / ORDERS,
    }


FIGURES = [
    Figure("rate", "orders processed per minute (10x quota)", "1/min", "", None, 1, 0),
    Figure(
        "rate_unscaled",
        "the same at the real 150 per 30 s",
        "1/min",
        "",
        None,
        1,
        1,
    ),
    Figure("implied", "quota-implied maximum (10x quota)", "1/min", "", None, 1, 0),
    Figure(
        "share",
        "share of the quota-implied maximum",
        "%",
        ">= 95 %",
        lambda v: v >= 0.95,
        100,
    ),
    Figure("refused", "429s sent by the store", "", "0", lambda v: v == 0, 1, 0),
    Figure(
        "calls_per_order",
        "API calls per new order",
        "",
        "<= 2.5",
        lambda v: v <= 2.5,
        1,
        2,
    ),
    Figure(
        "reads_per_order",
        "order reads (GET /v2/orders/{id}) per order",
        "",
        "1",
        lambda v: v <= 1.0,
        1,
        2,
    ),
]


def write_fragments(machine: str, rows: list[str], records: list[Any]) -> None:
    RESULTS_DIR.mkdir(exist_ok=True)
    markdown = [
        "## Order processing (`.venv/bin/python -m bench.processing`)",
        "",
        f"Machine: {machine}",
        "",
        f"Quota 150 per {WINDOW_S:g} s (the standard 150 per 30 s, ten times "
        f"faster); {ORDERS} orders from customers 1 and 2 at {PACE_PER_S:g} "
        "per second.",
        "",
        f"| figure | target | result ({RUNS} runs: median (min to max)) | met |",
        "| --- | --- | --- | --- |",
        *rows,
        "",
    ]
    (RESULTS_DIR / "processing.md").write_text("\n".join(markdown))
    (RESULTS_DIR / "processing.json").write_text(json.dumps(records, indent=2) + "\n")


async def measure(server_url: str, workdir: Path) -> list[dict[str, float]]:
    return [await one_run(server_url, workdir, run) for run in range(RUNS)]


def main() -> None:
    take_no_options("bench.processing", __doc__)
    machine = describe()
    print(f"machine: {machine}")

    workdir = make_shared_dir("netterms-bench-processing-")
    server = EmbeddedPostgres(workdir)
    server.acquire()
    try:
        runs = asyncio.run(measure(server.url("postgres"), workdir))
    finally:
        server.release()
        shutil.rmtree(workdir, ignore_errors=True)

    rows, records = summarise(runs, FIGURES)
    print("\n".join(rows))
    write_fragments(machine, rows, records)


if __name__ == "__main__":
    main()
