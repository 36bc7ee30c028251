"""The HTTP surface: health and readiness now; webhooks and the admin API plug in."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
import structlog
from aiohttp import web

from netterms_daemon.migrations import schema_version

log = structlog.get_logger(__name__)

# A readiness probe must answer even when the database hangs.
READINESS_TIMEOUT_S = 2.0

ReadinessCheck = Callable[[], Awaitable[str | None]]
"""Returns None when healthy, else one line saying what is wrong."""

readiness_checks_key = web.AppKey("readiness_checks", dict[str, ReadinessCheck])


def database_check(pool: asyncpg.Pool, expected_version: int) -> ReadinessCheck:
    """Ready when the database answers and its schema is the one this code wants."""

    async def check() -> str | None:
        try:
            async with asyncio.timeout(READINESS_TIMEOUT_S):
                async with pool.acquire() as connection:
                    version = await schema_version(connection)
        except TimeoutError:
            return f"database did not answer within {READINESS_TIMEOUT_S:g} s"
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            return f"database unavailable: {type(exc).__name__}: {exc}"

        if version != expected_version:
            return f"schema at version {version}, expected {expected_version}"
        return None

    return check


async def healthz(request: web.Request) -> web.Response:
    """Alive: the event loop runs and answers."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready: every registered check passes; else 503 naming what failed."""
    checks = request.app[readiness_checks_key]
    names = list(checks)
    results = await asyncio.gather(*(checks[name]() for name in names))
    problems = {
        name: result for name, result in zip(names, results, strict=True) if result
    }

    if problems:
        log.info("http.not_ready", problems=problems)
        return web.json_response(
            {"status": "unavailable", "problems": problems}, status=503
        )
    return web.json_response({"status": "ready", "checks": names})


@web.middleware
async def json_errors(
    request: web.Request,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    """Answer every error as JSON with a reason, never as an HTML page."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return web.json_response(
            {"error": exc.reason, "status": exc.status},
            status=exc.status,
            headers={k: v for k, v in exc.headers.items() if k == "Allow"},
        )
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("http.handler_failed", path=request.path, method=request.method)
        return web.json_response({"error": "internal error", "status": 500}, status=500)


def create_app(checks: dict[str, ReadinessCheck]) -> web.Application:
    """Build the application with the health routes and JSON errors."""
    app = web.Application(middlewares=[json_errors])
    app[readiness_checks_key] = checks
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app
