"""The read-only admin API under /api/v1/: the receivables reports as JSON.

Every report route needs `Authorization: Bearer <token>`; the OpenAPI
document (openapi.py) is served to anyone, since it holds no data. Each
report is a read of the ledger on the store's day, computed from the
injected clock, so answers do not depend on the store being reachable.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Awaitable, Callable
from datetime import date

import asyncpg
import structlog
from aiohttp import hdrs, web

from netterms_daemon import reports
from netterms_daemon.clock import Clock
from netterms_daemon.openapi import (
    API_PREFIX,
    DEFAULT_LIMIT,
    DEFAULT_PAID_WITHIN_DAYS,
    MAX_ID,
    MAX_LIMIT,
    MAX_PAID_WITHIN_DAYS,
    openapi_document,
)
from netterms_daemon.storefacts import store_today

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_DIGITS = re.compile(r"[0-9]+")
_ORDER_PARAMETERS = ("state", "customer", "limit")
_STATEMENT_PARAMETERS = ("paid_within_days",)
_DATABASE_ERRORS = (
    TimeoutError,
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)
# Answers carry a customer's debts: no proxy or browser may keep them.
_PRIVATE = {hdrs.CACHE_CONTROL: "no-store"}


def add_api_routes(
    app: web.Application,
    *,
    pool: asyncpg.Pool,
    store_hash: str,
    token: str,
    clock: Clock,
) -> None:
    """
    Register the /api/v1 routes on `app`, all but the OpenAPI document behind `token`.

    Args:
        pool: The caller's pool; the routes only borrow connections from it.
        store_hash: The store whose ledger is reported on.
        token: The bearer token clients must send; must not be empty.
        clock: Where "now" comes from; today is its day in the store's zone.
    """
    if not token:
        raise ValueError("the admin API token must not be empty")
    api = AdminApi(pool, store_hash, token, clock)

    routes = (
        ("/aging", api.guarded(api.aging)),
        ("/orders", api.guarded(api.orders)),
        (r"/customers/{customer_id:[0-9]+}/statement", api.guarded(api.statement)),
        ("/openapi.json", api.openapi),
    )
    for path, handler in routes:
        app.router.add_get(API_PREFIX + path, _logged(handler, clock))


class AdminApi:
    """The handlers for one store's reports; the pool is the caller's."""

    def __init__(
        self, pool: asyncpg.Pool, store_hash: str, token: str, clock: Clock
    ) -> None:
        self._pool = pool
        self._store_hash = store_hash
        self._token = token.encode()
        self._clock = clock
        self._document = json.dumps(openapi_document(), indent=2)

    def guarded(self, handler: Handler) -> Handler:
        """The handler behind the bearer token; 503 when the database fails."""

        async def guarded_handler(request: web.Request) -> web.StreamResponse:
            problem = self._authenticate(request)
            if problem is not None:
                log.warning(
                    "api.unauthorized",
                    path=request.path,
                    reason=problem,
                    remote=request.remote,
                )
                return _unauthorized(problem)

            try:
                return await handler(request)
            except _DATABASE_ERRORS as exc:
                log.error(
                    "api.unavailable",
                    path=request.path,
                    error=f"{type(exc).__name__}: {exc}",
                )
                return _error(503, "the database is unavailable; retry later")

        return guarded_handler

    async def aging(self, request: web.Request) -> web.StreamResponse:
        """GET /api/v1/aging: open orders by days past due."""
        _check_parameters(request, ())

        report = await reports.aging(self._pool, self._store_hash, await self._today())

        return web.json_response(report.to_json(), headers=_PRIVATE)

    async def orders(self, request: web.Request) -> web.StreamResponse:
        """GET /api/v1/orders: tracked orders, filtered by state and customer."""
        _check_parameters(request, _ORDER_PARAMETERS)
        state = request.query.get("state")
        if state is not None and state not in reports.ORDER_STATES:
            raise _bad_request(
                f"state must be one of {', '.join(reports.ORDER_STATES)}, "
                f"got {_shown(state)}"
            )
        customer = _query_number(request, "customer", 0, MAX_ID)
        limit = _query_number(request, "limit", 1, MAX_LIMIT)

        lines = await reports.list_orders(
            self._pool,
            self._store_hash,
            await self._today(),
            state=state,
            customer_id=customer,
            limit=DEFAULT_LIMIT if limit is None else limit,
        )

        body = {"orders": [line.to_json() for line in lines]}
        return web.json_response(body, headers=_PRIVATE)

    async def statement(self, request: web.Request) -> web.StreamResponse:
        """GET /api/v1/customers/{customer_id}/statement: balances and lines."""
        _check_parameters(request, _STATEMENT_PARAMETERS)
        raw_id = request.match_info["customer_id"]
        customer_id = _whole_number("customer_id", raw_id, 0, MAX_ID)
        days = _query_number(request, "paid_within_days", 0, MAX_PAID_WITHIN_DAYS)

        statement = await reports.statement(
            self._pool,
            self._store_hash,
            customer_id,
            await self._today(),
            paid_within_days=DEFAULT_PAID_WITHIN_DAYS if days is None else days,
        )

        return web.json_response(statement.to_json(), headers=_PRIVATE)

    async def openapi(self, request: web.Request) -> web.StreamResponse:
        """GET /api/v1/openapi.json: the API's description, without a token."""
        return web.Response(text=self._document, content_type="application/json")

    async def _today(self) -> date:
        return await store_today(self._pool, self._store_hash, self._clock.now())

    def _authenticate(self, request: web.Request) -> str | None:
        """None when the request carries the token, else what is wrong with it."""
        scheme, _, given = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
        given = given.strip()
        if scheme.lower() != "bearer" or not given:
            return "missing bearer token"
        # aiohttp decodes headers with surrogateescape, so this gives back the
        # bytes that were sent; compare_digest takes the same time wherever
        # they first differ from the token.
        try:
            sent = given.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return "wrong bearer token"
        if not hmac.compare_digest(sent, self._token):
            return "wrong bearer token"
        return None


def _logged(handler: Handler, clock: Clock) -> Handler:
    """The handler, logging each request's outcome at debug."""

    async def logged_handler(request: web.Request) -> web.StreamResponse:
        started = clock.monotonic()
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            _log_request(request, exc.status, started, clock)
            raise
        except Exception:
            _log_request(request, 500, started, clock)
            raise

        _log_request(request, response.status, started, clock)
        return response

    return logged_handler


def _log_request(
    request: web.Request, status: int, started: float, clock: Clock
) -> None:
    duration_ms = round((clock.monotonic() - started) * 1000)
    log.debug(
        "api.request",
        method=request.method,
        path=request.path,
        status=status,
        duration_ms=duration_ms,
    )


def _check_parameters(request: web.Request, known: tuple[str, ...]) -> None:
    """Refuse parameters the route does not take, so a typo filters nothing."""
    unknown = sorted(set(request.query) - set(known))
    if not unknown:
        return
    expected = ", ".join(known) if known else "none"
    raise _bad_request(
        f"unknown query parameter {_shown(unknown[0])}; expected {expected}"
    )


def _query_number(request: web.Request, name: str, low: int, high: int) -> int | None:
    """A query parameter as a whole number in low..high, or None if absent."""
    raw = request.query.get(name)
    return None if raw is None else _whole_number(name, raw, low, high)


def _whole_number(name: str, raw: str, low: int, high: int) -> int:
    """Digits naming a number in low..high, else 400 saying so."""
    # int() would also take "+5", " 5", "5_000" and non-ASCII digits.
    if not _DIGITS.fullmatch(raw):
        raise _bad_request(f"{name} must be a whole number, got {_shown(raw)}")
    # Checked before int(), which refuses strings of over 4300 digits.
    if len(raw.lstrip("0")) > len(str(high)) or not low <= int(raw) <= high:
        raise _bad_request(
            f"{name} must be between {low} and {high}, got {_shown(raw)}"
        )
    return int(raw)


def _shown(value: str) -> str:
    """A client's value for an error line: quoted, escaped and cut short."""
    return repr(value if len(value) <= 40 else value[:40] + "...")


def _bad_request(reason: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(reason=reason)


def _unauthorized(reason: str) -> web.Response:
    # Returned rather than raised: web.json_errors keeps only the Allow header
    # of an exception, and RFC 6750 wants WWW-Authenticate on every 401.
    challenge = 'Bearer realm="netterms"'
    if reason.startswith("wrong"):
        challenge += ', error="invalid_token"'
    return _error(401, reason, {hdrs.WWW_AUTHENTICATE: challenge})


def _error(
    status: int, reason: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        {"error": reason, "status": status}, status=status, headers=headers
    )
