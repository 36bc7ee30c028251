"""Apply `migrations/NNNN_name.sql` in order, once, under an advisory lock."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

from netterms_daemon.database import Connection
from netterms_daemon.errors import MigrationError

log = structlog.get_logger(__name__)

# Any bigint will do as long as nothing else in the database takes it.
MIGRATION_LOCK_KEY = 0x6E74_6D69_6772  # "ntmigr"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS netterms_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
_APPLIED = "SELECT version, name, checksum FROM netterms_migrations ORDER BY version"
_RECORD = (
    "INSERT INTO netterms_migrations (version, name, checksum) VALUES ($1, $2, $3)"
)
_TABLE_EXISTS = "SELECT to_regclass('netterms_migrations') IS NOT NULL"
_LATEST = "SELECT max(version) FROM netterms_migrations"


@dataclass(frozen=True)
class Migration:
    """One SQL file of the schema's history."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """A digest of the file, to notice a migration edited after release."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations_dir() -> Path:
    """The folder of SQL files: inside the package when installed, else the repo's."""
    packaged = Path(__file__).parent / "migrations"
    if packaged.is_dir():
        return packaged
    return Path(__file__).parent.parent / "migrations"


def load_migrations(folder: Path | None = None) -> list[Migration]:
    """Read every migration file, in version order, refusing a malformed set."""
    folder = folder or migrations_dir()
    found: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(
                f"{path.name}: migration files are named NNNN_name.sql"
            )
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path.name}: version {version} appears twice")
        found[version] = Migration(version, match.group(2), path.read_text())

    return [found[version] for version in sorted(found)]


@dataclass(frozen=True)
class MigrationReport:
    """What a run did: the versions applied, and where the schema stands."""

    applied: list[int]
    current: int


async def migrate(
    connection: Connection, migrations: list[Migration] | None = None
) -> MigrationReport:
    """
    Bring the schema up to date; safe when several processes start at once.

    The advisory lock makes a second runner wait until the first is done,
    then find nothing left to do. Each migration and its record commit in
    one transaction, so a crash leaves the schema at a whole version.
    """
    migrations = load_migrations() if migrations is None else migrations
    started = time.monotonic()

    await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        await connection.execute(_CREATE_TABLE)
        applied = {row["version"]: row for row in await connection.fetch(_APPLIED)}
        _refuse_unknown(applied, migrations)

        done: list[int] = []
        for migration in migrations:
            if migration.version in applied:
                _warn_if_changed(migration, applied[migration.version]["checksum"])
                continue
            async with connection.transaction():
                await connection.execute(migration.sql)
                await connection.execute(
                    _RECORD, migration.version, migration.name, migration.checksum
                )
            log.info(
                "db.migration.applied", version=migration.version, name=migration.name
            )
            done.append(migration.version)
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)

    current = max([*applied, *done], default=0)
    log.info(
        "db.migrated",
        applied=done,
        current=current,
        duration_ms=round((time.monotonic() - started) * 1000, 1),
    )
    return MigrationReport(applied=done, current=current)


def _refuse_unknown(applied: dict[int, asyncpg.Record], known: list[Migration]) -> None:
    newest_known = max((m.version for m in known), default=0)
    newer = sorted(v for v in applied if v > newest_known)
    if newer:
        raise MigrationError(
            f"the database schema is at version {newer[-1]}, newer than this "
            f"netterms knows (up to {newest_known}); upgrade netterms before "
            "running it against this database"
        )


def _warn_if_changed(migration: Migration, recorded: str) -> None:
    if migration.checksum != recorded:
        log.warning(
            "db.migration.changed",
            version=migration.version,
            name=migration.name,
            hint="an applied migration file was edited; add a new one instead",
        )


async def schema_version(connection: Connection) -> int:
    """The newest applied version, 0 on an empty database."""
    if not await connection.fetchval(_TABLE_EXISTS):
        return 0
    return int(await connection.fetchval(_LATEST) or 0)


def latest_version(migrations: list[Migration] | None = None) -> int:
    """The newest version this code ships."""
    migrations = load_migrations() if migrations is None else migrations
    return max((m.version for m in migrations), default=0)
