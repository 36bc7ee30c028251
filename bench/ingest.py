"""Benchmark webhook ingestion: netterms' route beside a bare aiohttp + asyncpg app.

Run from the repository root: `.venv/bin/python -m bench.ingest`.

Both servers are separate processes on 127.0.0.1 writing to the same
embedded PostgreSQL database. netterms runs with its worker and reconciler
off, so only the webhook route works; its store is a simulated one in this
process (no public URL, so no hooks are registered). The ceiling is an
aiohttp app with one route doing one asyncpg INSERT per request into a plain
table, with the same pool size as the daemon's.

Each run:

1. Saturation: 64 concurrent connections for 10 s against each server, each
   request a distinct valid delivery; accepted (200) deliveries per second,
   and the server process's CPU (utime + stime) per accepted delivery.
2. Latency: open-loop pacing at 25 % of the ceiling measured in this run,
   for 10 s against each; latency is taken from each request's scheduled
   send time, so a stall is not hidden by the requests it holds back.

The load generator runs in this process, sharing the machine's cores with
both servers and PostgreSQL. Three runs; the median is printed with the
smallest and largest. Results go to bench/results/ingest.md and ingest.json.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bench.machine import describe, take_no_options
from netterms_daemon.embedded import EmbeddedPostgres
from tests.conftest import make_shared_dir
from tests.support.processes import DaemonProcess, daemon_env
from tests.support.stack import SECRET, free_port, seeded_store

RUNS = 3
CONNECTIONS = 64
SATURATION_S = 10.0
LATENCY_S = 10.0
LATENCY_SHARE = 0.25
POOL_SIZE = 10  # the daemon's default [database] pool_max_size
SECRET_HEADER = "X-Netterms-Secret"
RESULTS_DIR = Path(__file__).parent / "results"
START_TIMEOUT_S = 30.0

BARE_TABLE = """
CREATE TABLE IF NOT EXISTS bench_bare (
    id bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    payload jsonb NOT NULL
)
"""

# The ceiling: read the body, one INSERT, answer 200. Run as `python -c`.
BARE_APP = """
import asyncio, sys
import asyncpg
from aiohttp import web

async def main(port, dsn, pool_size):
    pool = await asyncpg.create_pool(dsn, min_size=pool_size, max_size=pool_size)

    async def receive(request):
        body = await request.read()
        await pool.execute(
            "INSERT INTO bench_bare (payload) VALUES ($1::jsonb)", body.decode()
        )
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/webhooks/bigcommerce", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
"""


@dataclass
class Target:
    """One server under load: where to post, and its process for CPU readings."""

    name: str
    url: str
    pid: int


@dataclass
class Saturation:
    accepted: int
    failed: int
    elapsed_s: float
    cpu_s: float

    @property
    def rate(self) -> float:
        return self.accepted / self.elapsed_s

    @property
    def cpu_ms_per_accepted(self) -> float:
        return self.cpu_s / max(1, self.accepted) * 1000


@dataclass
class Latency:
    p50_ms: float
    p99_ms: float
    p999_ms: float
    sent: int
    failed: int


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command name: field 14 (utime) and 15 (stime) are at 11 and 12.
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def delivery(producer: str, order_id: int) -> bytes:
    """A distinct, valid store/order/created delivery."""
    body = {
        "scope": "store/order/created",
        "store_id": "1000001",
        "data": {"type": "order", "id": order_id},
        "hash": uuid.uuid4().hex,
        "created_at": int(time.time()),
        "producer": producer,
    }
    return json.dumps(body).encode()


def percentile(ordered: list[float], share: float) -> float:
    """The nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


class Load:
    """The load generator: one client session, 64 connections at most."""

    def __init__(self, producer: str) -> None:
        self._producer = producer
        self._next_id = 0
        self._headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Load:
        connector = aiohttp.TCPConnector(limit=CONNECTIONS)
        self.session = aiohttp.ClientSession(connector=connector)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self.session is not None
        await self.session.close()

    async def _post(self, url: str) -> bool:
        assert self.session is not None
        self._next_id += 1
        body = delivery(self._producer, self._next_id)
        try:
            async with self.session.post(
                url, data=body, headers=self._headers
            ) as response:
                await response.read()
                return response.status == 200
        except aiohttp.ClientError:
            return False

    async def saturate(self, target: Target, duration_s: float) -> Saturation:
        """64 callers posting back to back until the time is up."""
        counts = {"accepted": 0, "failed": 0}
        deadline = time.monotonic() + duration_s

        async def caller() -> None:
            while time.monotonic() < deadline:
                counts["accepted" if await self._post(target.url) else "failed"] += 1

        cpu_before = cpu_seconds(target.pid)
        started = time.monotonic()
        await asyncio.wait_for(
            asyncio.gather(*(caller() for _ in range(CONNECTIONS))),
            timeout=duration_s + 30,
        )
        elapsed = time.monotonic() - started
        cpu = cpu_seconds(target.pid) - cpu_before

        return Saturation(counts["accepted"], counts["failed"], elapsed, cpu)

    async def paced(self, target: Target, rate: float, duration_s: float) -> Latency:
        """Open loop: request i is due at start + i / rate, sent or not."""
        loop = asyncio.get_running_loop()
        latencies: list[float] = []
        failed = 0
        tasks: set[asyncio.Task[None]] = set()

        async def one(due: float) -> None:
            nonlocal failed
            ok = await self._post(target.url)
            latencies.append((loop.time() - due) * 1000)
            failed += not ok

        started = loop.time()
        count = int(rate * duration_s)
        for index in range(count):
            due = started + index / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)

        ordered = sorted(latencies)
        return Latency(
            percentile(ordered, 0.5),
            percentile(ordered, 0.99),
            percentile(ordered, 0.999),
            count,
            failed,
        )


def start_bare(database_url: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start the ceiling app; return its process and URL once it answers."""
    port = free_port()
    log = (workdir / "bare.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", BARE_APP, str(port), database_url, str(POOL_SIZE)],
        stdout=subprocess.PIPE,
        stderr=log,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if line.strip() != b"ready":
        process.kill()
        raise RuntimeError(
            f"bare app did not start: {(workdir / 'bare.log').read_text()}"
        )

    return process, f"http://127.0.0.1:{port}/webhooks/bigcommerce"


async def reset_tables(database_url: str) -> None:
    """Empty both servers' tables, so each run starts from the same size."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(BARE_TABLE)
        await connection.execute("TRUNCATE bench_bare, inbox_events")
    finally:
        await connection.close()


async def one_run(load: Load, netterms: Target, bare: Target) -> dict[str, float]:
    """Saturate both, then pace both at a quarter of the ceiling."""
    # Warm both up briefly, so neither pays for first connections in the figures.
    await load.saturate(bare, 1.0)
    await load.saturate(netterms, 1.0)

    ceiling = await load.saturate(bare, SATURATION_S)
    ours = await load.saturate(netterms, SATURATION_S)
    rate = ceiling.rate * LATENCY_SHARE
    bare_latency = await load.paced(bare, rate, LATENCY_S)
    latency = await load.paced(netterms, rate, LATENCY_S)

    failures = ceiling.failed + ours.failed + bare_latency.failed + latency.failed
    return {
        "netterms_rate": ours.rate,
        "bare_rate": ceiling.rate,
        "ratio": ours.rate / ceiling.rate,
        "paced_rate": rate,
        "p50": latency.p50_ms,
        "p99": latency.p99_ms,
        "p999": latency.p999_ms,
        "bare_p50": bare_latency.p50_ms,
        "bare_p99": bare_latency.p99_ms,
        "bare_p999": bare_latency.p999_ms,
        "netterms_cpu": ours.cpu_ms_per_accepted,
        "bare_cpu": ceiling.cpu_ms_per_accepted,
        "cpu_ratio": ours.cpu_ms_per_accepted / ceiling.cpu_ms_per_accepted,
        "failures": failures,
    }


async def measure(database_url: str, workdir: Path) -> list[dict[str, float]]:
    """Start the store, both servers, and run the benchmark RUNS times."""
    async with seeded_store() as simulator:
        env = daemon_env(
            simulator,
            database_url,
            workdir,
            public=False,
            extra={
                "NETTERMS_WORKER_ENABLED": "false",
                "NETTERMS_RECONCILER_ENABLED": "false",
                "NETTERMS_LOG_LEVEL": "info",
            },
        )
        daemon = DaemonProcess(env, workdir)
        # start() polls with time.sleep; the store it talks to runs in this loop.
        await asyncio.to_thread(daemon.start)
        bare_process, bare_url = await asyncio.to_thread(
            start_bare, database_url, workdir
        )
        try:
            assert daemon.process is not None
            netterms = Target(
                "netterms", f"{daemon.base}/webhooks/bigcommerce", daemon.process.pid
            )
            bare = Target("bare", bare_url, bare_process.pid)
            producer = f"stores/{simulator.store.state.store_hash}"
            results = []
            async with Load(producer) as load:
                for run in range(RUNS):
                    await reset_tables(database_url)
                    results.append(await one_run(load, netterms, bare))
                    print(f"run {run + 1}: {format_run(results[-1])}", flush=True)
        finally:
            bare_process.kill()
            bare_process.wait(timeout=10)
            await asyncio.to_thread(daemon.stop)

    return results


def format_run(run: dict[str, float]) -> str:
    return (
        f"netterms {run['netterms_rate']:.0f}/s, bare {run['bare_rate']:.0f}/s, "
        f"ratio {run['ratio']:.1%}; at {run['paced_rate']:.0f}/s p50 "
        f"{run['p50']:.1f} ms p99 {run['p99']:.1f} ms p99.9 {run['p999']:.1f} ms; "
        f"CPU {run['netterms_cpu']:.2f} vs {run['bare_cpu']:.2f} ms/webhook; "
        f"failed requests {run['failures']:.0f}"
    )


@dataclass(frozen=True)
class Figure:
    """One reported figure: what it is, its unit, and its target if any."""

    key: str
    name: str
    unit: str
    target: str
    met: Callable[[float], bool] | None
    scale: float = 1.0
    digits: int = 1

    def show(self, value: float) -> float | int:
        """The value scaled and rounded; a count (no digits) shows as a whole number."""
        scaled = value * self.scale
        return round(scaled, self.digits) if self.digits else round(scaled)


FIGURES = [
    Figure("netterms_rate", "netterms accepted webhooks per second", "1/s", "", None),
    Figure("bare_rate", "bare aiohttp + asyncpg ceiling", "1/s", "", None),
    Figure("ratio", "netterms / ceiling", "%", ">= 60 %", lambda v: v >= 0.6, 100),
    Figure("paced_rate", "paced rate (25 % of ceiling)", "1/s", "", None),
    Figure("p50", "netterms latency p50 at 25 % of ceiling", "ms", "", None),
    Figure("p99", "netterms latency p99", "ms", "< 20 ms", lambda v: v < 20),
    Figure("p999", "netterms latency p99.9", "ms", "< 100 ms", lambda v: v < 100),
    Figure("bare_p50", "bare latency p50 at the same rate", "ms", "", None),
    Figure("bare_p99", "bare latency p99", "ms", "", None),
    Figure("bare_p999", "bare latency p99.9", "ms", "", None),
    Figure("netterms_cpu", "netterms CPU per accepted webhook", "ms", "", None, 1, 3),
    Figure("bare_cpu", "bare CPU per accepted webhook", "ms", "", None, 1, 3),
    Figure(
        "cpu_ratio", "netterms CPU / bare CPU", "x", "<= 2x", lambda v: v <= 2, 1, 2
    ),
]


def summarise(
    runs: list[dict[str, float]], figures: list[Figure]
) -> tuple[list[str], list[dict[str, Any]]]:
    """Markdown rows and JSON records, one per figure, judged on the median."""
    rows = []
    records: list[dict[str, Any]] = []
    for figure in figures:
        values = [run[figure.key] for run in runs]
        median = statistics.median(values)
        met = figure.met(median) if figure.met else None
        shown = [figure.show(v) for v in values]
        spread = (
            f"{statistics.median(shown)} ({min(shown)} to {max(shown)}) {figure.unit}"
        )
        verdict = "—" if met is None else ("yes" if met else "no")
        rows.append(
            f"| {figure.name} | {figure.target or '—'} | {spread} | {verdict} |"
        )
        records.append(
            {
                "name": figure.name,
                "value": figure.show(median),
                "unit": figure.unit,
                "target": figure.target or None,
                "met": met,
            }
        )
    return rows, records


def write_fragments(machine: str, rows: list[str], records: list[Any]) -> None:
    RESULTS_DIR.mkdir(exist_ok=True)
    markdown = [
        "## Webhook ingestion (`.venv/bin/python -m bench.ingest`)",
        "",
        f"Machine: {machine}",
        "",
        f"| figure | target | result ({RUNS} runs: median (min to max)) | met |",
        "| --- | --- | --- | --- |",
        *rows,
        "",
    ]
    (RESULTS_DIR / "ingest.md").write_text("\n".join(markdown))
    (RESULTS_DIR / "ingest.json").write_text(json.dumps(records, indent=2) + "\n")


def main() -> None:
    take_no_options("bench.ingest", __doc__)
    machine = describe()
    print(f"machine: {machine}")

    workdir = make_shared_dir("netterms-bench-ingest-")
    server = EmbeddedPostgres(workdir)
    database_url = server.acquire()
    try:
        runs = asyncio.run(measure(database_url, workdir))
    finally:
        server.release()
        shutil.rmtree(workdir, ignore_errors=True)

    rows, records = summarise(runs, FIGURES)
    print("\n".join(rows))
    write_fragments(machine, rows, records)


if __name__ == "__main__":
    main()
