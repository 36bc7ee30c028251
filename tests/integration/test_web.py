"""Health endpoints: /healthz alive, /readyz honest about the database."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from netterms_daemon.embedded import EmbeddedPostgres
from netterms_daemon.migrations import latest_version, migrate
from netterms_daemon.web import create_app, database_check
from tests.conftest import make_shared_dir


async def client_for(url: str) -> tuple[TestClient[object, object], asyncpg.Pool]:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    app = create_app({"database": database_check(pool, latest_version())})
    client: TestClient[object, object] = TestClient(TestServer(app))
    await client.start_server()
    return client, pool


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[TestClient[object, object]]:
    client, pool = await client_for(database_url)
    yield client
    await client.close()
    await pool.close()


async def test_healthz_answers_ok(client: TestClient[object, object]) -> None:
    """Liveness needs nothing but the event loop."""
    response = await client.get("/healthz")

    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz_ready_on_current_schema(
    client: TestClient[object, object],
) -> None:
    """A reachable, migrated database makes the daemon ready."""
    response = await client.get("/readyz")

    assert response.status == 200
    assert await response.json() == {"status": "ready", "checks": ["database"]}


async def test_readyz_not_ready_on_old_schema(empty_database_url: str) -> None:
    """An unmigrated database is 503 with the versions named."""
    client, pool = await client_for(empty_database_url)
    try:
        response = await client.get("/readyz")
        body = await response.json()
    finally:
        await client.close()
        await pool.close()

    assert response.status == 503
    assert body["problems"]["database"] == (
        f"schema at version 0, expected {latest_version()}"
    )


async def test_unknown_route_is_json_404(client: TestClient[object, object]) -> None:
    """Unknown routes answer JSON, never an HTML page."""
    response = await client.get("/nope")

    assert response.status == 404
    assert await response.json() == {"error": "Not Found", "status": 404}


async def test_wrong_method_is_json_405(client: TestClient[object, object]) -> None:
    """A wrong method says which ones are allowed."""
    response = await client.post("/healthz")

    assert response.status == 405
    assert response.headers["Allow"] == "GET,HEAD"
    assert (await response.json())["status"] == 405


@pytest.fixture
def own_server() -> Iterator[EmbeddedPostgres]:
    """A server of this test's own, so stopping it harms no other test."""
    state_dir = make_shared_dir("netterms-test-own-pg-")
    server = EmbeddedPostgres(state_dir)
    server.acquire()
    yield server
    server.release()
    shutil.rmtree(state_dir, ignore_errors=True)


async def test_readyz_503_while_database_stopped_then_recovers(
    own_server: EmbeddedPostgres,
) -> None:
    """With the database down /readyz is 503 and /healthz 200; back up, ready again."""
    connection = await asyncpg.connect(own_server.url())
    await migrate(connection)
    await connection.close()
    client, pool = await client_for(own_server.url())
    try:
        assert (await client.get("/readyz")).status == 200

        own_server.stop()
        down = await client.get("/readyz")
        down_body = await down.json()
        alive = await client.get("/healthz")
        own_server.start()
        statuses = [(await client.get("/readyz")).status for _ in range(3)]
    finally:
        await client.close()
        await pool.close()

    assert down.status == 503
    assert down_body["problems"]["database"].startswith("database unavailable")
    assert alive.status == 200
    # The pool may hand out one dead connection first; then it reconnects.
    assert statuses[-1] == 200
