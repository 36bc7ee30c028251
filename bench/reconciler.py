"""Benchmark the reconciler: a pass over many open orders, and the overdue scan.

Run from the repository root: `.venv/bin/python -m bench.reconciler`.

1. Pass: 100,000 tracked open orders (Awaiting Payment, due in 30 days) in
   the simulated store and in tracked_orders (loaded with COPY), then 1 %
   of them (1,000) paid in the store since the watermark; one
   `Reconciler.run_pass`. API calls used (target: the pages of changes,
   ceil(1000 / 250) = 4, plus at most the store-information read and the
   two hook checks) and wall time. Three runs on the same data, each with
   a fresh watermark and a different 1,000 orders changed.
2. Overdue scan: 1,000,000 tracked rows, 88 % awaiting payment with due
   dates spread over 180 days around today; those due before yesterday are
   flagged already, those due yesterday (about 4,900) are newly overdue.
   The query of `overdue.newly_overdue` (its LIMIT 1000, rows made into
   TrackedOrder) and an unbounded count of the same predicate, timed three
   times each; target under 1 s. The EXPLAIN (ANALYZE, BUFFERS) plan of
   both is printed and written to the fragment.

Everything runs against an embedded PostgreSQL started for the benchmark
(Unix socket only) and a simulated store on 127.0.0.1. Results go to
bench/results/reconciler.md and bench/results/reconciler.json.
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from structlog.testing import capture_logs

from bench.machine import describe, take_no_options
from netterms_daemon import overdue
from netterms_daemon.embedded import EmbeddedPostgres
from netterms_daemon.migrations import migrate
from tests.conftest import make_shared_dir, with_database
from tests.integration.test_reconciler import _track_all, api_calls, reconciler_kit
from tests.support.stack import seeded_store

RUNS = 3
OPEN_ORDERS = 100_000
CHANGED = 1_000
PAGE_SIZE = 250
# Order pages, plus the store-information read and the two hook checks.
CALL_TARGET = math.ceil(CHANGED / PAGE_SIZE) + 1 + 2
SCAN_ROWS = 1_000_000
SCAN_TARGET_S = 1.0
STORE_HASH = "sim123"
TODAY = date(2027, 3, 1)
RESULTS = Path(__file__).parent / "results"

_LOAD_SCAN_ROWS = """
INSERT INTO tracked_orders (
    store_hash, order_id, customer_id, customer_group_id, group_name, policy,
    order_created_at, due_date, amount, currency, state, bc_status_id,
    bc_date_modified, overdue_flagged_at, escalation_days, paid_at
)
SELECT $1, g, 1 + g % 5000, 1, 'Net30 Wholesale', 'Net 30',
       (d - 30)::timestamptz, d, 10 + g % 990, 'USD', s,
       CASE s WHEN 'awaiting_payment' THEN 7 WHEN 'paid' THEN 11 ELSE 5 END,
       (d - 30)::timestamptz,
       CASE WHEN s = 'awaiting_payment' AND d < $2::date - 1
            THEN (d + 1)::timestamptz END,
       CASE WHEN s = 'awaiting_payment' AND d < $2::date - 7 THEN 7 ELSE 0 END,
       CASE WHEN s = 'paid' THEN (d - 5)::timestamptz END
FROM (
    SELECT g,
           $2::date + ((g::bigint * 7919) % 180 - 90)::int AS d,
           CASE WHEN g % 10 = 0 THEN 'paid' WHEN g % 50 = 1 THEN 'closed'
                ELSE 'awaiting_payment' END AS s
    FROM generate_series(1, $3::int) AS g
) AS rows
"""
_COUNT_OVERDUE = """
SELECT count(*) FROM tracked_orders
WHERE store_hash = $1 AND state = 'awaiting_payment'
  AND due_date < $2::date AND overdue_flagged_at IS NULL
"""


@dataclass
class Figure:
    """One row of the fragment: what, its target, the runs, whether met."""

    name: str
    unit: str
    target: str
    values: list[float]
    met: bool | None

    def text(self) -> str:
        return spread(self.values, self.unit)


def spread(values: list[float], unit: str = "") -> str:
    low, high, mid = min(values), max(values), statistics.median(values)
    digits = 0 if all(float(v).is_integer() for v in values) else 3
    suffix = f" {unit}" if unit else ""
    return f"{mid:,.{digits}f}{suffix} ({low:,.{digits}f} to {high:,.{digits}f})"


def met_text(met: bool | None) -> str:
    return "n/a" if met is None else ("yes" if met else "no")


async def pass_runs() -> tuple[list[Figure], list[str]]:
    """Three reconciler passes over 100,000 open orders with 1,000 changed."""
    now = datetime(2027, 3, 1, 12, tzinfo=UTC)
    calls: list[float] = []
    walls: list[float] = []
    own: list[float] = []
    notes: list[str] = []
    workdir = make_shared_dir("netterms-bench-rec-")
    try:
        async with seeded_store(
            start=now - timedelta(days=1), quota=100_000, window_s=1.0
        ) as simulator:
            store = simulator.store
            started = time.perf_counter()
            for _ in range(OPEN_ORDERS):
                order = store.add_order(1, Decimal("10.00"), status_id=7)
                order.staff_notes = "netterms: Net 30"
            await _track_all(DATABASE["pass"], simulator)
            print(
                f"loaded {OPEN_ORDERS:,} open orders in "
                f"{time.perf_counter() - started:.1f} s"
            )
            order_ids = list(store.state.orders)
            async with reconciler_kit(simulator, DATABASE["pass"], workdir, now) as kit:
                for run in range(RUNS):
                    store.clock.advance(600)  # past the previous pass's overlap
                    await kit.reconciler._put_state(
                        "orders.watermark", store.clock.now().isoformat()
                    )
                    store.clock.advance(1)
                    changed = order_ids[run * CHANGED : (run + 1) * CHANGED]
                    for order_id in changed:
                        store.state.orders[order_id].status_id = 11
                        store.state.orders[order_id].modified = store.clock.now()
                    before = Counter(store.api_calls)
                    used_before = api_calls(simulator)
                    started = time.perf_counter()
                    with capture_logs() as logs:
                        report = await kit.reconciler.run_pass()
                    wall = time.perf_counter() - started
                    in_store = (
                        sum(
                            e["duration_ms"]
                            for e in logs
                            if e["event"] == "bigcommerce.call"
                        )
                        / 1000
                    )
                    own.append(wall - in_store)
                    used = api_calls(simulator) - used_before
                    by_call = dict(Counter(store.api_calls) - before)
                    calls.append(used)
                    walls.append(wall)
                    line = (
                        f"run {run + 1}: changed {report.changed}, outcomes "
                        f"{report.outcomes}, API calls {used} {by_call}, "
                        f"wall {wall:.3f} s, of which {in_store:.3f} s waiting on "
                        "the simulated store's API"
                    )
                    print(line)
                    notes.append(line)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    figures = [
        Figure(
            f"pass over {OPEN_ORDERS:,} open orders, {CHANGED:,} changed: API calls",
            "calls",
            f"≤ {CALL_TARGET} ({CHANGED:,} / {PAGE_SIZE} order pages, store "
            "information, 2 hook checks)",
            calls,
            max(calls) <= CALL_TARGET,
        ),
        Figure(
            f"pass over {OPEN_ORDERS:,} open orders, {CHANGED:,} changed: wall time",
            "s",
            "none set (recorded)",
            walls,
            None,
        ),
        Figure(
            "the same pass: wall time less the time in API calls (netterms' own)",
            "s",
            "none set (recorded)",
            own,
            None,
        ),
    ]
    return figures, notes


async def scan_runs() -> tuple[list[Figure], dict[str, str], str]:
    """The newly-overdue query and an unbounded count over 1,000,000 rows."""
    url = DATABASE["scan"]
    connection = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        await connection.execute(_LOAD_SCAN_ROWS, STORE_HASH, TODAY, SCAN_ROWS)
        await connection.execute("VACUUM ANALYZE tracked_orders")
        loaded = time.perf_counter() - started
        shape = await connection.fetch(
            """
            SELECT state, count(*) AS rows,
                   count(*) FILTER (WHERE due_date < $1 AND overdue_flagged_at
                                    IS NULL) AS newly_overdue
            FROM tracked_orders GROUP BY state ORDER BY state
            """,
            TODAY,
        )
        description = ", ".join(
            f"{r['state']} {r['rows']:,} (past due, unflagged {r['newly_overdue']:,})"
            for r in shape
        )
        print(f"loaded {SCAN_ROWS:,} rows in {loaded:.1f} s: {description}")
        plans = {
            "newly_overdue (LIMIT 1000)": await _plan(
                connection, overdue._NEWLY_OVERDUE, STORE_HASH, TODAY, 1000
            ),
            "unbounded count": await _plan(
                connection, _COUNT_OVERDUE, STORE_HASH, TODAY
            ),
        }
    finally:
        await connection.close()

    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    limited: list[float] = []
    counted: list[float] = []
    try:
        for _ in range(RUNS):
            started = time.perf_counter()
            found = await overdue.newly_overdue(pool, STORE_HASH, TODAY)
            limited.append(time.perf_counter() - started)
            async with pool.acquire() as connection:
                started = time.perf_counter()
                total = await connection.fetchval(_COUNT_OVERDUE, STORE_HASH, TODAY)
                counted.append(time.perf_counter() - started)
            print(
                f"newly_overdue: {len(found)} rows in {limited[-1]:.3f} s; "
                f"count: {total:,} in {counted[-1]:.3f} s"
            )
    finally:
        await pool.close()
    target = f"< {SCAN_TARGET_S:g} s"
    figures = [
        Figure(
            f"newly_overdue query (LIMIT 1000) over {SCAN_ROWS:,} rows",
            "s",
            target,
            limited,
            max(limited) < SCAN_TARGET_S,
        ),
        Figure(
            f"unbounded count of newly overdue over {SCAN_ROWS:,} rows",
            "s",
            target,
            counted,
            max(counted) < SCAN_TARGET_S,
        ),
    ]
    return figures, plans, description


async def _plan(connection: asyncpg.Connection, query: str, *args: Any) -> str:
    rows = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {query}", *args)
    return "\n".join(row[0] for row in rows)


DATABASE: dict[str, str] = {}


async def make_databases(server_url: str) -> None:
    for purpose in ("pass", "scan"):
        name = f"bench_reconciler_{purpose}"
        admin = await asyncpg.connect(server_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        DATABASE[purpose] = with_database(server_url, name)
        connection = await asyncpg.connect(DATABASE[purpose])
        try:
            await migrate(connection)
        finally:
            await connection.close()


def write_fragments(
    machine: str,
    figures: list[Figure],
    notes: list[str],
    plans: dict[str, str],
    scan_shape: str,
) -> None:
    RESULTS.mkdir(exist_ok=True)
    lines = [
        "## Reconciler (`.venv/bin/python -m bench.reconciler`)",
        "",
        f"Machine: {machine}",
        "",
        f"| figure | target | result ({RUNS} runs: median (min to max)) | met |",
        "| --- | --- | --- | --- |",
        *(
            f"| {f.name} | {f.target} | {f.text()} | {met_text(f.met)} |"
            for f in figures
        ),
        "",
        "Passes (API calls by endpoint of the simulated store):",
        "",
        *(f"- {note}" for note in notes),
        "",
        f"Overdue scan data: {scan_shape}.",
        "",
    ]
    for name, plan in plans.items():
        lines += [f"EXPLAIN (ANALYZE, BUFFERS), {name}:", "", "```", plan, "```", ""]
    (RESULTS / "reconciler.md").write_text("\n".join(lines))
    records = [
        {
            "name": f.name,
            "value": statistics.median(f.values),
            "min": min(f.values),
            "max": max(f.values),
            "runs": len(f.values),
            "unit": f.unit,
            "target": f.target,
            "met": f.met,
        }
        for f in figures
    ]
    (RESULTS / "reconciler.json").write_text(json.dumps(records, indent=2) + "\n")


async def run(server_url: str) -> tuple[list[Figure], list[str], dict[str, str], str]:
    await make_databases(server_url)
    pass_figures, notes = await pass_runs()
    scan_figures, plans, shape = await scan_runs()
    return pass_figures + scan_figures, notes, plans, shape


def main() -> None:
    take_no_options("bench.reconciler", __doc__)
    machine = describe()
    print(f"machine: {machine}")
    state_dir = make_shared_dir("netterms-bench-pg-")
    server = EmbeddedPostgres(state_dir)
    server.acquire()
    try:
        figures, notes, plans, shape = asyncio.run(run(server.url("postgres")))
    finally:
        server.release()
        shutil.rmtree(state_dir, ignore_errors=True)
    for name, plan in plans.items():
        print(f"EXPLAIN (ANALYZE, BUFFERS), {name}:\n{plan}")
    for figure in figures:
        print(
            f"{figure.name}: {figure.text()}; target {figure.target}; "
            f"met {met_text(figure.met)}"
        )
    write_fragments(machine, figures, notes, plans, shape)


if __name__ == "__main__":
    main()
