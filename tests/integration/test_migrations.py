"""Migrations: applied once, re-run as a no-op, safe in parallel, refuse newer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from netterms_daemon.errors import MigrationError
from netterms_daemon.migrations import (
    Migration,
    latest_version,
    load_migrations,
    migrate,
    schema_version,
)

EXPECTED_TABLES = {
    "inbox_events",
    "tracked_orders",
    "audit_log",
    "customer_groups_cache",
    "reconciler_state",
    "netterms_migrations",
}


async def tables(connection: asyncpg.Connection) -> set[str]:
    rows = await connection.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    )
    return {row["tablename"] for row in rows}


async def test_migrate_creates_schema_once(empty_database_url: str) -> None:
    """The first run applies every migration; the second applies none."""
    connection = await asyncpg.connect(empty_database_url)
    try:
        first = await migrate(connection)
        second = await migrate(connection)

        assert first.applied == [m.version for m in load_migrations()]
        assert second.applied == []
        assert second.current == latest_version()
        assert await tables(connection) == EXPECTED_TABLES
        count = await connection.fetchval("SELECT count(*) FROM netterms_migrations")
        assert count == len(load_migrations())
    finally:
        await connection.close()


async def test_store_tables_are_keyed_by_store_hash(database_url: str) -> None:
    """Every table of store data has store_hash first in its primary key."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            """
            SELECT tc.table_name, kcu.column_name
            FROM information_schema.table_constraints tc
            JOIN information_schema.key_column_usage kcu
              ON kcu.constraint_name = tc.constraint_name
             AND kcu.ordinal_position = 1
            WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = 'public'
            """
        )
    finally:
        await connection.close()

    first_key_column = {row["table_name"]: row["column_name"] for row in rows}
    for table in EXPECTED_TABLES - {"netterms_migrations"}:
        assert first_key_column[table] == "store_hash", table


async def test_migrate_two_runners_at_once(empty_database_url: str) -> None:
    """Two processes starting together apply each migration exactly once."""
    first = await asyncpg.connect(empty_database_url)
    second = await asyncpg.connect(empty_database_url)
    try:
        reports = await asyncio.gather(migrate(first), migrate(second))
        applied = sorted(v for report in reports for v in report.applied)

        assert applied == [m.version for m in load_migrations()]
        assert await schema_version(first) == latest_version()
    finally:
        await first.close()
        await second.close()


async def test_migrate_refuses_newer_database(empty_database_url: str) -> None:
    """A database migrated by a newer netterms is not touched by an older one."""
    connection = await asyncpg.connect(empty_database_url)
    try:
        await migrate(connection)
        future = latest_version() + 1
        await connection.execute(
            "INSERT INTO netterms_migrations (version, name, checksum) "
            "VALUES ($1, 'from_the_future', 'x')",
            future,
        )

        with pytest.raises(MigrationError, match=f"at version {future}, newer"):
            await migrate(connection)
    finally:
        await connection.close()


async def test_migrate_failed_migration_leaves_previous_version(
    empty_database_url: str,
) -> None:
    """A failed migration rolls back whole; the schema stays at the last good one."""
    good = Migration(1, "good", "CREATE TABLE good (id int)")
    bad = Migration(2, "bad", "CREATE TABLE half (id int); SELECT no_such_function()")
    connection = await asyncpg.connect(empty_database_url)
    try:
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await migrate(connection, [good, bad])

        assert await schema_version(connection) == 1
        assert "half" not in await tables(connection)
        # The lock was released: another run can proceed.
        report = await migrate(connection, [good])
        assert report.applied == []
    finally:
        await connection.close()


def test_load_migrations_refuses_bad_names(tmp_path: Path) -> None:
    """A file that does not follow NNNN_name.sql is an error, not skipped."""
    (tmp_path / "0001_ok.sql").write_text("SELECT 1")
    (tmp_path / "2_bad.sql").write_text("SELECT 1")

    with pytest.raises(MigrationError, match=r"2_bad\.sql"):
        load_migrations(tmp_path)
