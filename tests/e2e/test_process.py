"""`netterms` as a real process: start, readiness, sd_notify, signals, kill -9."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from netterms_daemon.embedded import EmbeddedPostgres
from netterms_daemon.migrations import latest_version
from tests.conftest import make_shared_dir

NETTERMS = [sys.executable, "-m", "netterms_daemon"]
START_TIMEOUT_S = 60
GRACE_S = 5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


class DaemonProcess:
    """One `netterms` subprocess with its own environment and output files."""

    def __init__(self, env: dict[str, str], workdir: Path, *args: str) -> None:
        self.port = int(env["NETTERMS_HTTP_PORT"])
        self.stderr_path = workdir / f"stderr-{time.monotonic_ns()}.log"
        self._stderr = self.stderr_path.open("w")
        self.process = subprocess.Popen(
            [*NETTERMS, *(args or ("run",))],
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"daemon exited early:\n{self.log_text()}")
            try:
                if get(f"{self.base}/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(
            f"not ready within {START_TIMEOUT_S} s:\n{self.log_text()}"
        )

    def log_text(self) -> str:
        return self.stderr_path.read_text()

    def events(self) -> list[str]:
        names = []
        for line in self.log_text().splitlines():
            if line.startswith("{"):
                names.append(json.loads(line)["event"])
        return names

    def stop(
        self, signum: int = signal.SIGTERM, timeout_s: float = GRACE_S + 10
    ) -> int:
        self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=timeout_s)
        finally:
            self.close()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._stderr.close()


@pytest.fixture
def state_dir() -> Iterator[Path]:
    path = make_shared_dir("netterms-test-run-")
    yield path
    server = EmbeddedPostgres(path)
    if server.running():
        server.stop()
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def daemon_env(state_dir: Path) -> dict[str, str]:
    """The environment of a daemon with no config file at all: embedded defaults."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("NETTERMS_", "NOTIFY_SOCKET", "WATCHDOG_"))
    }
    env.update(
        NETTERMS_STATE_DIR=str(state_dir),
        NETTERMS_HTTP_PORT=str(free_port()),
        NETTERMS_DAEMON_SHUTDOWN_GRACE_S=str(GRACE_S),
        NETTERMS_LOG_FORMAT="json",
    )
    return env


@pytest.fixture
def spawn(state_dir: Path) -> Iterator[type[DaemonProcess]]:
    started: list[DaemonProcess] = []

    class Tracked(DaemonProcess):
        def __init__(self, env: dict[str, str], *args: str) -> None:
            super().__init__(env, state_dir, *args)
            started.append(self)

    yield Tracked
    for daemon in started:
        daemon.close()


def postmaster_pid(state_dir: Path) -> int:
    return int((state_dir / "postgres" / "postmaster.pid").read_text().split()[0])


def test_run_on_embedded_defaults_then_sigterm(
    daemon_env: dict[str, str], spawn: type[DaemonProcess], state_dir: Path
) -> None:
    """With no config the daemon serves /readyz 200, and SIGTERM ends it with 0."""
    daemon = spawn(daemon_env)
    daemon.wait_ready()
    status, body = get(f"{daemon.base}/readyz")

    started = time.monotonic()
    code = daemon.stop(signal.SIGTERM)
    elapsed = time.monotonic() - started

    assert (status, body["status"]) == (200, "ready")
    assert code == 0
    assert elapsed < GRACE_S
    assert daemon.events()[-3:] == [
        "daemon.stopping",
        "db.embedded.stopped",
        "daemon.stopped",
    ]
    assert not EmbeddedPostgres(state_dir).running()


def test_run_sends_sd_notify(
    daemon_env: dict[str, str], spawn: type[DaemonProcess], tmp_path: Path
) -> None:
    """Under systemd: READY=1 once started, WATCHDOG=1 pings, STOPPING=1 on SIGTERM."""
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(START_TIMEOUT_S)
    daemon_env.update(NOTIFY_SOCKET=str(tmp_path / "notify"), WATCHDOG_USEC="400000")
    try:
        daemon = spawn(daemon_env)
        messages = [notify.recv(256).decode()]
        daemon.wait_ready()
        time.sleep(0.5)
        code = daemon.stop(signal.SIGTERM)
        notify.settimeout(0.5)
        while True:
            try:
                messages.append(notify.recv(256).decode())
            except TimeoutError:
                break
    finally:
        notify.close()

    assert code == 0
    assert "READY=1" in messages
    assert messages.count("WATCHDOG=1") >= 2
    assert messages[-1] == "STOPPING=1"
    assert messages.index("READY=1") < messages.index("STOPPING=1")


def test_run_sigint_is_graceful_too(
    daemon_env: dict[str, str], spawn: type[DaemonProcess]
) -> None:
    """Ctrl-C at a terminal stops the daemon as cleanly as SIGTERM."""
    daemon = spawn(daemon_env)
    daemon.wait_ready()

    assert daemon.stop(signal.SIGINT) == 0
    assert "daemon.stopped" in daemon.events()


def test_run_after_kill_9_carries_on(
    daemon_env: dict[str, str], spawn: type[DaemonProcess], state_dir: Path
) -> None:
    """After kill -9 the embedded server is still up; the next start reuses it."""
    first = spawn(daemon_env)
    first.wait_ready()
    pid = postmaster_pid(state_dir)
    first.stop(signal.SIGKILL)

    second = spawn(daemon_env)
    second.wait_ready()
    reused = postmaster_pid(state_dir)
    code = second.stop(signal.SIGTERM)

    assert reused == pid
    assert "db.embedded.reused" in second.events()
    assert code == 0
    assert not EmbeddedPostgres(state_dir).running(), "the dead holder was pruned"


def test_cli_commands_share_the_daemons_server(
    daemon_env: dict[str, str], spawn: type[DaemonProcess], state_dir: Path
) -> None:
    """`netterms migrate` and `check` while the daemon runs join its server."""
    daemon = spawn(daemon_env)
    daemon.wait_ready()
    pid = postmaster_pid(state_dir)

    migrate = subprocess.run(
        [*NETTERMS, "migrate"],
        env=daemon_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    check = subprocess.run(
        [*NETTERMS, "check"], env=daemon_env, capture_output=True, text=True, timeout=60
    )
    still_ready = get(f"{daemon.base}/readyz")[0]

    assert migrate.returncode == 0, migrate.stderr
    assert migrate.stdout.startswith(
        f"schema at version {latest_version()}; applied: none"
    )
    assert "problem  database" not in check.stdout, check.stdout + check.stderr
    assert "ok       schema" in check.stdout
    assert postmaster_pid(state_dir) == pid
    assert still_ready == 200
    assert daemon.stop() == 0


def test_run_port_in_use_fails_in_one_line(
    daemon_env: dict[str, str], spawn: type[DaemonProcess]
) -> None:
    """A taken port is a clear error and exit 1, and the database is left clean."""
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", int(daemon_env["NETTERMS_HTTP_PORT"])))
        blocker.listen()
        daemon = spawn(daemon_env)
        code = daemon.process.wait(timeout=START_TIMEOUT_S)

    message = [
        line
        for line in daemon.log_text().splitlines()
        if line.startswith("netterms run:")
    ]
    assert code == 1
    assert len(message) == 1
    assert "address already in use" in message[0]
    assert "db.embedded.stopped" in daemon.events()


def test_check_reports_config_problems_one_per_line(
    daemon_env: dict[str, str], tmp_path: Path
) -> None:
    """`netterms check --config` lists each bad setting on a line, exit non-zero."""
    config = tmp_path / "netterms.toml"
    config.write_text('[http]\nport = "eighty"\n[log]\nlevel = "chatty"\n')
    del daemon_env["NETTERMS_HTTP_PORT"], daemon_env["NETTERMS_LOG_FORMAT"]

    result = subprocess.run(
        [*NETTERMS, "check", "--config", str(config)],
        env=daemon_env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0
    assert lines == [
        f"netterms check: config: [http] port (in {config}): expected an integer, "
        "got 'eighty'",
        f"netterms check: config: [log] level (in {config}): must be one of debug, "
        "info, warning, error, got 'chatty'",
    ]


def test_check_against_configured_url(
    daemon_env: dict[str, str], database_url: str
) -> None:
    """With a database URL, check finds the schema current; no store is a problem."""
    daemon_env["NETTERMS_DATABASE_URL"] = database_url

    result = subprocess.run(
        [*NETTERMS, "check"], env=daemon_env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 1, result.stdout
    assert [line.split()[:2] for line in result.stdout.splitlines()] == [
        ["ok", "config"],
        ["ok", "database"],
        ["ok", "schema"],
        ["problem", "store"],
    ]


def test_check_unreachable_database_is_one_problem_line(
    daemon_env: dict[str, str],
) -> None:
    """An unreachable database is one 'problem' line and exit 1, quickly."""
    daemon_env["NETTERMS_DATABASE_URL"] = f"postgresql://x@127.0.0.1:{free_port()}/x"
    daemon_env["NETTERMS_DATABASE_CONNECT_TIMEOUT_S"] = "2"

    result = subprocess.run(
        [*NETTERMS, "check"], env=daemon_env, capture_output=True, text=True, timeout=60
    )

    problems = [
        line for line in result.stdout.splitlines() if line.startswith("problem")
    ]
    database_problems = [line for line in problems if line.split()[1] == "database"]
    assert result.returncode == 1
    assert len(database_problems) == 1
    assert "configured URL" in database_problems[0]


def test_unknown_command_is_one_line(daemon_env: dict[str, str]) -> None:
    """A typo in the command gets one line pointing at --help."""
    result = subprocess.run(
        [*NETTERMS, "rnu"], env=daemon_env, capture_output=True, text=True, timeout=30
    )

    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "see netterms --help" in result.stderr
