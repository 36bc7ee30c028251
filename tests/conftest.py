"""Shared fixtures: one PostgreSQL server per test session, a database per test.

The server is `NETTERMS_TEST_DATABASE_URL` when set (any database on it
that the user may create databases from), else an embedded server started
for the session. A template database is migrated once; each test that needs
data gets a fresh copy of it and drops it afterwards.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from netterms_daemon.embedded import EmbeddedPostgres
from netterms_daemon.migrations import migrate

TEMPLATE_DATABASE = "netterms_test_template"


def with_database(url: str, name: str) -> str:
    """The same server URL, pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def make_shared_dir(prefix: str) -> Path:
    """A temporary folder the embedded server's account can enter when we are root."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A URL on the session's server, for creating and dropping databases."""
    configured = os.environ.get("NETTERMS_TEST_DATABASE_URL")
    if configured:
        yield configured
        return

    state_dir = make_shared_dir("netterms-test-pg-")
    server = EmbeddedPostgres(state_dir)
    server.acquire()
    try:
        yield server.url("postgres")
    finally:
        server.release()
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def template_database(postgres_server_url: str) -> str:
    """Create and migrate the template every test database is copied from."""

    async def build() -> None:
        admin = await asyncpg.connect(postgres_server_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DATABASE}"')
            await admin.execute(f'CREATE DATABASE "{TEMPLATE_DATABASE}"')
        finally:
            await admin.close()

        connection = await asyncpg.connect(
            with_database(postgres_server_url, TEMPLATE_DATABASE)
        )
        try:
            await migrate(connection)
        finally:
            await connection.close()

    asyncio.run(build())
    return TEMPLATE_DATABASE


async def _create_database(server_url: str, template: str | None) -> str:
    name = f"netterms_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        source = f' TEMPLATE "{template}"' if template else ""
        await admin.execute(f'CREATE DATABASE "{name}"{source}')
    finally:
        await admin.close()
    return name


async def _drop_database(server_url: str, name: str) -> None:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def database_url(
    postgres_server_url: str, template_database: str
) -> AsyncIterator[str]:
    """A fresh, migrated database for one test."""
    name = await _create_database(postgres_server_url, template_database)
    yield with_database(postgres_server_url, name)
    await _drop_database(postgres_server_url, name)


@pytest.fixture
async def empty_database_url(postgres_server_url: str) -> AsyncIterator[str]:
    """A fresh database with no schema at all, for migration tests."""
    name = await _create_database(postgres_server_url, None)
    yield with_database(postgres_server_url, name)
    await _drop_database(postgres_server_url, name)
