"""Benchmark the daemon's memory: resident set size as it processes orders.

Run from the repository root: `.venv/bin/python -m bench.memory [--orders N]
[--budget-s SECONDS]`.

One `netterms run` process serves the simulated store (in this process, on
127.0.0.1, quota 100,000 calls per 1 s, the daemon's rate limit set to
match so the bucket never paces it) over an embedded PostgreSQL. Orders of
net-terms customers are placed in the store, each firing its webhook; the
daemon puts each on terms end to end (inbox, worker, API calls, ledger).
Placing is kept at most BACKLOG orders ahead of the daemon, so the load is
bounded. Every CHECKPOINT orders on terms, the daemon's VmRSS and VmHWM are
read from /proc/<pid>/status.

The target is under 150 MB after 100,000 orders. Placing stops at --orders
(default 100,000) or once --budget-s (default 600) has passed and at least
MIN_ORDERS were placed, whichever is first; the N actually run is printed,
with a straight-line extrapolation of RSS to 100,000 from the checkpoints
after warm-up. Results go to bench/results/memory.md and memory.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import time
from pathlib import Path

import asyncpg

from bench.machine import describe
from netterms_daemon.embedded import EmbeddedPostgres
from netterms_daemon.migrations import migrate
from tests.conftest import make_shared_dir, with_database
from tests.support.processes import DaemonProcess, daemon_env
from tests.support.stack import eventually, place_order, seeded_store, wait_for_hooks

TARGET_ORDERS = 100_000
MIN_ORDERS = 10_000
TARGET_MB = 150.0
CHECKPOINT = 2_000
BACKLOG = 300
WARM_UP = 4_000  # checkpoints before this are left out of the extrapolation
RESULTS = Path(__file__).parent / "results"
_DONE = "SELECT count(*) FROM tracked_orders WHERE state = 'awaiting_payment'"


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in kB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def slope_per_order(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of MB against orders."""
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    mx, my = statistics.mean(xs), statistics.mean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


async def measure(
    server_url: str, orders: int, budget_s: float
) -> tuple[list[dict[str, float]], int, float]:
    """Place orders and sample the daemon's memory; return samples, N, seconds."""
    name = "bench_memory"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = with_database(server_url, name)
    connection = await asyncpg.connect(url)
    try:
        await migrate(connection)
    finally:
        await connection.close()

    workdir = make_shared_dir("netterms-bench-mem-")
    samples: list[dict[str, float]] = []
    daemon: DaemonProcess | None = None
    try:
        async with seeded_store(quota=100_000, window_s=1.0) as simulator:
            env = daemon_env(
                simulator,
                url,
                workdir,
                extra={
                    "NETTERMS_BIGCOMMERCE_RATE_LIMIT_QUOTA": "100000",
                    "NETTERMS_BIGCOMMERCE_RATE_LIMIT_WINDOW_S": "1",
                    "NETTERMS_BIGCOMMERCE_RATE_LIMIT_BURST": "1000",
                    # The default schedule; daemon_env's 1 s is for tests.
                    "NETTERMS_RECONCILER_INTERVAL_S": "300",
                },
            )
            daemon = DaemonProcess(env, workdir)
            await asyncio.to_thread(daemon.start)
            assert daemon.process is not None
            pid = daemon.process.pid
            await wait_for_hooks(simulator)

            def sample(done: int) -> None:
                kb = memory_kb(pid)
                row = {
                    "orders": done,
                    "seconds": round(time.monotonic() - started, 1),
                    "rss_mb": round(kb["VmRSS"] / 1024, 1),
                    "hwm_mb": round(kb["VmHWM"] / 1024, 1),
                }
                samples.append(row)
                print(
                    f"orders {done:>7,}  t {row['seconds']:>6.1f} s  "
                    f"RSS {row['rss_mb']:6.1f} MB  peak {row['hwm_mb']:6.1f} MB",
                    flush=True,
                )

            started = time.monotonic()
            sample(0)
            pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
            try:
                placed = done = 0
                next_checkpoint = CHECKPOINT
                while True:
                    over = time.monotonic() - started > budget_s
                    if placed >= orders or (over and placed >= MIN_ORDERS):
                        break
                    while placed < orders and placed - done < BACKLOG:
                        place_order(simulator, 1 + placed % 2, "10.00")
                        placed += 1
                    await asyncio.sleep(0.1)
                    done = await pool.fetchval(_DONE)
                    while done >= next_checkpoint:
                        sample(done)
                        next_checkpoint += CHECKPOINT
                await eventually(
                    lambda: _all_done(pool, placed),
                    timeout_s=120,
                    what="every placed order on terms",
                )
                elapsed = time.monotonic() - started
                if samples[-1]["orders"] != placed:
                    sample(placed)
            finally:
                await pool.close()
            await asyncio.to_thread(daemon.stop)
    finally:
        if daemon is not None:
            daemon.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    return samples, placed, elapsed


async def _all_done(pool: asyncpg.Pool, placed: int) -> bool:
    return bool(await pool.fetchval(_DONE) == placed)


def write_fragments(
    machine: str,
    samples: list[dict[str, float]],
    placed: int,
    elapsed: float,
    projected: float,
    slope_kb: float,
) -> None:
    final = samples[-1]
    target = f"< {TARGET_MB:g} MB after {TARGET_ORDERS:,} orders"
    measured_met = placed >= TARGET_ORDERS and final["rss_mb"] < TARGET_MB
    figures = [
        {
            "name": f"daemon RSS after {placed:,} orders (measured)",
            "value": final["rss_mb"],
            "unit": "MB",
            "target": target,
            "met": measured_met if placed >= TARGET_ORDERS else None,
        },
        {
            "name": "daemon peak RSS (VmHWM) during the run",
            "value": final["hwm_mb"],
            "unit": "MB",
            "target": f"< {TARGET_MB:g} MB",
            "met": final["hwm_mb"] < TARGET_MB,
        },
        {
            "name": "RSS growth per 1,000 orders after warm-up (least squares)",
            "value": round(slope_kb, 1),
            "unit": "kB",
            "target": "about 0 (no growth with orders)",
            "met": None,
        },
        {
            "name": f"daemon RSS extrapolated to {TARGET_ORDERS:,} orders",
            "value": round(projected, 1),
            "unit": "MB",
            "target": target,
            "met": projected < TARGET_MB,
        },
        {
            "name": "orders put on terms per second (whole run)",
            "value": round(placed / elapsed, 1),
            "unit": "orders/s",
            "target": "none set (recorded)",
            "met": None,
        },
    ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "memory.json").write_text(
        json.dumps(
            [*figures, {"name": "checkpoints", "value": samples, "unit": "rows"}],
            indent=2,
        )
        + "\n"
    )

    def verdict(met: object) -> str:
        return "n/a" if met is None else ("yes" if met else "no")

    lines = [
        "## Daemon memory (`.venv/bin/python -m bench.memory`)",
        "",
        f"Machine: {machine}",
        "",
        f"One run, N = {placed:,} orders end to end in {elapsed:.0f} s "
        f"(target N is {TARGET_ORDERS:,}).",
        "",
        "| figure | target | result | met |",
        "| --- | --- | --- | --- |",
        *(
            f"| {f['name']} | {f['target']} | {f['value']} {f['unit']} | "
            f"{verdict(f['met'])} |"
            for f in figures
        ),
        "",
        "| orders on terms | seconds | VmRSS MB | VmHWM MB |",
        "| ---: | ---: | ---: | ---: |",
        *(
            f"| {s['orders']:,} | {s['seconds']} | {s['rss_mb']} | {s['hwm_mb']} |"
            for s in samples
        ),
        "",
    ]
    (RESULTS / "memory.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory")
    parser.add_argument("--orders", type=int, default=TARGET_ORDERS)
    parser.add_argument("--budget-s", type=float, default=600.0)
    args = parser.parse_args()

    machine = describe()
    print(f"machine: {machine}")
    state_dir = make_shared_dir("netterms-bench-pg-")
    server = EmbeddedPostgres(state_dir)
    server.acquire()
    try:
        samples, placed, elapsed = asyncio.run(
            measure(server.url("postgres"), args.orders, args.budget_s)
        )
    finally:
        server.release()
        shutil.rmtree(state_dir, ignore_errors=True)

    points = [(s["orders"], s["rss_mb"]) for s in samples if s["orders"] >= WARM_UP]
    slope = slope_per_order(points) if len(points) >= 2 else 0.0
    final = samples[-1]
    projected = final["rss_mb"] + slope * (TARGET_ORDERS - placed)
    print(
        f"N run: {placed:,} orders in {elapsed:.0f} s "
        f"({placed / elapsed:.1f} orders/s); RSS {final['rss_mb']} MB, "
        f"peak {final['hwm_mb']} MB"
    )
    print(
        f"RSS growth after {WARM_UP:,} orders: {slope * 1000 * 1024:.1f} kB per "
        f"1,000 orders; extrapolated to {TARGET_ORDERS:,}: {projected:.1f} MB "
        f"(target < {TARGET_MB:g} MB: {'met' if projected < TARGET_MB else 'missed'})"
    )
    write_fragments(machine, samples, placed, elapsed, projected, slope * 1000 * 1024)


if __name__ == "__main__":
    main()
