"""netterms daemons as real processes, for the reliability battery.

The simulated store runs in the test's process; each daemon is a separate
`python -m netterms_daemon run` that can be killed, paused and restarted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from netterms_daemon.simulator.server import Simulator
from tests.support.stack import SECRET, TERMS_TOML, free_port

START_TIMEOUT_S = 60
# Every daemon started here, so a failed test can still end them (see conftest).
STARTED: list[DaemonProcess] = []


def daemon_env(
    simulator: Simulator,
    database_url: str,
    workdir: Path,
    *,
    public: bool = True,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a daemon process serving the simulated store."""
    port = free_port()
    config = workdir / f"netterms-{port}.toml"
    config.write_text(TERMS_TOML.format(credit=""))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETTERMS_")}
    env.update(
        {
            "NETTERMS_CONFIG": str(config),
            "NETTERMS_STATE_DIR": str(workdir),
            "NETTERMS_DATABASE_URL": database_url,
            "NETTERMS_HTTP_PORT": str(port),
            "NETTERMS_LOG_FORMAT": "json",
            "NETTERMS_BIGCOMMERCE_STORE_HASH": simulator.store.state.store_hash,
            "NETTERMS_BIGCOMMERCE_ACCESS_TOKEN": simulator.store.options.access_token,
            "NETTERMS_BIGCOMMERCE_API_URL": simulator.url,
            "NETTERMS_BIGCOMMERCE_MAX_ATTEMPTS": "3",
            "NETTERMS_WEBHOOKS_SECRET": SECRET,
            "NETTERMS_WORKER_POLL_INTERVAL_S": "0.2",
            "NETTERMS_WORKER_METAFIELD_DELAY_S": "0.05",
            "NETTERMS_WORKER_RETRY_INITIAL_S": "0.2",
            "NETTERMS_WORKER_RETRY_MAX_S": "1",
            "NETTERMS_WORKER_MAX_ATTEMPTS": "100",
            "NETTERMS_WORKER_LEASE_S": "5",
            "NETTERMS_RECONCILER_INTERVAL_S": "1",
            "NETTERMS_DAEMON_SHUTDOWN_GRACE_S": "5",
        }
    )
    if public:
        env["NETTERMS_WEBHOOKS_PUBLIC_URL"] = (
            f"http://127.0.0.1:{port}/webhooks/bigcommerce"
        )
    env.update(extra or {})
    return env


@dataclass
class DaemonProcess:
    """One daemon process, its port and its log."""

    env: dict[str, str]
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def port(self) -> int:
        return int(self.env["NETTERMS_HTTP_PORT"])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DaemonProcess:
        """Start (or start again) and wait until /readyz answers 200."""
        self.log_path = self.workdir / f"daemon-{self.port}-{time.monotonic_ns()}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "netterms_daemon", "run"],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        STARTED.append(self)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"daemon exited:\n{self.log_path.read_text()[-3000:]}"
                )
            if self.status("/readyz") == 200:
                return self
            time.sleep(0.1)
        raise AssertionError(f"daemon not ready:\n{self.log_path.read_text()[-3000:]}")

    def status(self, path: str) -> int | None:
        try:
            with urllib.request.urlopen(f"{self.base}{path}", timeout=2) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return None

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def kill(self) -> None:
        """kill -9, and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout_s: float = 20) -> int:
        """SIGTERM and wait; return the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout_s)

    def events(self) -> list[dict[str, object]]:
        """The JSON log lines written so far."""
        if self.log_path is None or not self.log_path.exists():
            return []
        found = []
        for line in self.log_path.read_text().splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue
        return found


async def settled(database_url: str, expected: int) -> bool:
    """Every expected order recorded with terms and its metafield; inbox empty."""
    connection = await asyncpg.connect(database_url)
    try:
        applied = await connection.fetchval(
            "SELECT count(*) FROM tracked_orders"
            " WHERE state = 'awaiting_payment' AND metafield_id IS NOT NULL"
        )
        pending = await connection.fetchval(
            "SELECT count(*) FROM inbox_events WHERE state = 'pending'"
        )
    finally:
        await connection.close()
    return bool(applied == expected and pending == 0)


async def assert_exactly_once(
    simulator: Simulator, database_url: str, member_orders: list[int]
) -> None:
    """Every member order: Awaiting Payment, one netterms note line, one metafield.

    And the ledger agrees, and no inbox event is left pending or dead.
    """
    store = simulator.store
    problems = []
    for order_id in member_orders:
        order = store.state.orders[order_id]
        lines = [
            line
            for line in order.staff_notes.splitlines()
            if line.startswith("netterms:")
        ]
        fields = [m for m in store.state.metafields.values() if m.order_id == order_id]
        if order.status_id != 7 or len(lines) != 1 or len(fields) != 1:
            problems.append((order_id, order.status_id, len(lines), len(fields)))
    assert not problems, f"(order, status, note lines, metafields): {problems[:10]}"

    connection = await asyncpg.connect(database_url)
    try:
        states = dict(
            await connection.fetch(
                "SELECT state, count(*) FROM tracked_orders GROUP BY state"
            )
        )
        inbox = dict(
            await connection.fetch(
                "SELECT state, count(*) FROM inbox_events GROUP BY state"
            )
        )
    finally:
        await connection.close()
    assert states.get("awaiting_payment", 0) == len(member_orders), states
    assert inbox.get("pending", 0) == 0 and inbox.get("dead", 0) == 0, inbox
