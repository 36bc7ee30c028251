"""The embedded server is shared by processes and survives a holder's kill -9."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from netterms_daemon.embedded import EmbeddedPostgres
from tests.conftest import make_shared_dir

HOLDER = """
import sys
from pathlib import Path
from netterms_daemon.embedded import EmbeddedPostgres
from netterms_daemon.logs import configure_logging
configure_logging()
server = EmbeddedPostgres(Path(sys.argv[1]))
print(server.acquire(), flush=True)
sys.stdin.readline()
server.release()
print("released", flush=True)
"""


class Holder:
    """Another process holding the embedded server until told to leave."""

    started: ClassVar[list[Holder]] = []

    def __init__(self, state_dir: Path) -> None:
        Holder.started.append(self)
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(state_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()

    def leave(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().strip() == "released"
        self.process.wait(timeout=30)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


def postmaster_pid(state_dir: Path) -> int:
    return int((state_dir / "postgres" / "postmaster.pid").read_text().split()[0])


@pytest.fixture
def state_dir() -> Iterator[Path]:
    path = make_shared_dir("netterms-test-embedded-")
    yield path
    for holder in Holder.started:
        holder.close()
    Holder.started.clear()
    server = EmbeddedPostgres(path)
    if server.running():
        server.stop()
    shutil.rmtree(path, ignore_errors=True)


def test_embedded_second_process_reuses_running_server(state_dir: Path) -> None:
    """A CLI command run while the daemon is up joins its server, never a second one."""
    first = Holder(state_dir)
    pid = postmaster_pid(state_dir)
    second = Holder(state_dir)

    assert second.url == first.url
    assert postmaster_pid(state_dir) == pid

    first.leave()
    assert EmbeddedPostgres(state_dir).running(), "still held by the second process"
    second.leave()
    assert not EmbeddedPostgres(state_dir).running(), "the last holder stops it"


def test_embedded_survives_holder_kill_9(state_dir: Path) -> None:
    """After kill -9 of the daemon the next start carries on with the same server."""
    victim = Holder(state_dir)
    pid = postmaster_pid(state_dir)
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait(timeout=10)

    server = EmbeddedPostgres(state_dir)
    server.acquire()
    assert postmaster_pid(state_dir) == pid
    server.release()

    assert not server.running(), "the dead holder was pruned, so release stopped it"


def test_embedded_restarts_over_stale_pid_file(state_dir: Path) -> None:
    """A pid file left by a server that died with its host process is no obstacle."""
    pid_file = state_dir / "postgres" / "postmaster.pid"
    victim = Holder(state_dir)
    lines = pid_file.read_text().splitlines()
    victim.leave()
    finished = subprocess.Popen(["true"])
    finished.wait()  # its pid is free again now
    pid_file.write_text("\n".join([str(finished.pid), *lines[1:]]) + "\n")

    server = EmbeddedPostgres(state_dir)
    server.acquire()
    try:
        assert server.running()
        assert postmaster_pid(state_dir) != finished.pid
    finally:
        server.release()


def test_embedded_refuses_foreign_data_dir(state_dir: Path) -> None:
    """A non-empty folder that is not a data directory is never initdb'd over."""
    (state_dir / "postgres").mkdir()
    (state_dir / "postgres" / "precious.txt").write_text("keep me")

    with pytest.raises(Exception, match="holds no PostgreSQL data directory"):
        EmbeddedPostgres(state_dir).acquire()
    assert (state_dir / "postgres" / "precious.txt").exists()
