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
(default 100,000) or once --budget-s (default 2,400) has passed and at
least MIN_ORDERS were placed, whichever is first; the N actually run is
printed, and if it is short of 100,000, a straight-line extrapolation of
RSS to 100,000 from the checkpoints after warm-up is judged instead. --runs
(default 3) repeats the whole run, each with a fresh database. Results go to
bench/results/memory.md and memory.json.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bench.ingest import Figure, summarise
from bench.machine import benchmark_parser, describe
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


@dataclass
class Run:
    """One run's checkpoints and totals."""

    samples: list[dict[str, float]]
    placed: int
    elapsed: float

    @property
    def slope_kb(self) -> float:
        """RSS growth per 1,000 orders after warm-up, in kB."""
        points = [
            (s["orders"], s["rss_mb"]) for s in self.samples if s["orders"] >= WARM_UP
        ]
        slope = slope_per_order(points) if len(points) >= 2 else 0.0
        return slope * 1000 * 1024

    @property
    def projected_mb(self) -> float:
        """RSS extrapolated in a straight line to TARGET_ORDERS."""
        per_order_mb = self.slope_kb / 1000 / 1024
        return self.samples[-1]["rss_mb"] + per_order_mb * (TARGET_ORDERS - self.placed)

    def figures(self) -> dict[str, float]:
        final = self.samples[-1]
        return {
            "rss": final["rss_mb"],
            "hwm": final["hwm_mb"],
            "slope": self.slope_kb,
            "projected": self.projected_mb,
            "rate": self.placed / self.elapsed,
            "placed": float(self.placed),
        }


def figures_for(placed: int) -> list[Figure]:
    """What is reported; the measured RSS is judged only when N reached the target."""
    target = f"< {TARGET_MB:g} MB after {TARGET_ORDERS:,} orders"
    reached = placed >= TARGET_ORDERS
    return [
        Figure("placed", "orders put on terms in each run", "", "", None, 1, 0),
        Figure(
            "rss",
            f"daemon RSS after {placed:,} orders (measured)",
            "MB",
            target,
            (lambda v: v < TARGET_MB) if reached else None,
        ),
        Figure(
            "hwm",
            "daemon peak RSS (VmHWM) during the run",
            "MB",
            f"< {TARGET_MB:g} MB",
            lambda v: v < TARGET_MB,
        ),
        Figure(
            "slope",
            f"RSS growth per 1,000 orders after the first {WARM_UP:,}",
            "kB",
            "",
            None,
        ),
        Figure(
            "projected",
            f"daemon RSS extrapolated to {TARGET_ORDERS:,} orders",
            "MB",
            "" if reached else target,
            None if reached else (lambda v: v < TARGET_MB),
        ),
        Figure("rate", "orders put on terms per second", "1/s", "", None),
    ]


def write_fragments(machine: str, runs: list[Run]) -> None:
    placed = min(run.placed for run in runs)
    rows, records = summarise([run.figures() for run in runs], figures_for(placed))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "memory.json").write_text(json.dumps(records, indent=2) + "\n")

    lines = [
        "## Daemon memory (`.venv/bin/python -m bench.memory`)",
        "",
        f"Machine: {machine}",
        "",
        f"{len(runs)} runs, each a fresh database, store and daemon, N = "
        f"{placed:,} orders end to end (target N is {TARGET_ORDERS:,}).",
        "",
        f"| figure | target | result ({len(runs)} runs: median (min to max)) | met |",
        "| --- | --- | --- | --- |",
        *rows,
        "",
        "Checkpoints of run 1 (VmRSS and VmHWM read from /proc):",
        "",
        "| orders on terms | seconds | VmRSS MB | VmHWM MB |",
        "| ---: | ---: | ---: | ---: |",
        *(
            f"| {s['orders']:,} | {s['seconds']} | {s['rss_mb']} | {s['hwm_mb']} |"
            for s in runs[0].samples
        ),
        "",
    ]
    (RESULTS / "memory.md").write_text("\n".join(lines))


def main() -> None:
    parser = benchmark_parser("bench.memory", __doc__)
    parser.add_argument(
        "--orders",
        type=int,
        default=TARGET_ORDERS,
        help=f"orders to put on terms in each run ({TARGET_ORDERS:,})",
    )
    parser.add_argument(
        "--budget-s",
        type=float,
        default=2400.0,
        help="seconds after which a run stops placing orders (2,400)",
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="runs, each on a fresh database (3)"
    )
    args = parser.parse_args()

    machine = describe()
    print(f"machine: {machine}")
    state_dir = make_shared_dir("netterms-bench-pg-")
    server = EmbeddedPostgres(state_dir)
    server.acquire()
    runs: list[Run] = []
    try:
        for number in range(1, args.runs + 1):
            print(f"run {number} of {args.runs}", flush=True)
            run = Run(
                *asyncio.run(
                    measure(server.url("postgres"), args.orders, args.budget_s)
                )
            )
            runs.append(run)
            final = run.samples[-1]
            print(
                f"run {number}: {run.placed:,} orders in {run.elapsed:.0f} s "
                f"({run.placed / run.elapsed:.1f} orders/s); RSS {final['rss_mb']} "
                f"MB, peak {final['hwm_mb']} MB; growth after {WARM_UP:,} orders "
                f"{run.slope_kb:.1f} kB per 1,000",
                flush=True,
            )
    finally:
        server.release()
        shutil.rmtree(state_dir, ignore_errors=True)

    write_fragments(machine, runs)
    print((RESULTS / "memory.md").read_text())


if __name__ == "__main__":
    main()
