"""The admin API over a hand-built ledger in real Postgres, via a real server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import jsonschema
import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from structlog.testing import capture_logs
from structlog.typing import EventDict

from netterms_daemon.api import add_api_routes
from netterms_daemon.ledger import Ledger, NewTrackedOrder
from netterms_daemon.openapi import API_PREFIX
from netterms_daemon.reports import ORDER_STATES
from netterms_daemon.storefacts import remember_time_zone
from netterms_daemon.web import create_app

STORE = "store1"
TOKEN = "s3cret-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TODAY = date(2026, 3, 15)
NOW = datetime(2026, 3, 15, 18, 0, tzinfo=UTC)
PROTECTED = (
    "/api/v1/aging",
    "/api/v1/orders",
    "/api/v1/customers/1/statement",
)

Client = TestClient[web.Request, web.Application]


class FixedClock:
    """A clock stopped at NOW."""

    def now(self) -> datetime:
        """Always NOW."""
        return NOW

    def monotonic(self) -> float:
        """Always zero: no time passes."""
        return 0.0

    async def sleep(self, seconds: float) -> None:
        """Return at once."""


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh database holding the book, closed after the test."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    await build_book(pool)
    yield pool
    await pool.close()


@pytest.fixture
async def client(pool: asyncpg.Pool) -> AsyncIterator[Client]:
    """A real server with the health routes and the admin API, and its client."""
    app = create_app({})
    add_api_routes(app, pool=pool, store_hash=STORE, token=TOKEN, clock=FixedClock())
    client: Client = TestClient(TestServer(app))
    await client.start_server()
    yield client
    await client.close()


@pytest.fixture
def debug_logs() -> Iterator[list[EventDict]]:
    """Captured log events at every level, whatever logging other tests set up."""
    saved = structlog.get_config()["wrapper_class"]
    debug = structlog.make_filtering_bound_logger(logging.DEBUG)
    structlog.configure(wrapper_class=debug)
    try:
        with capture_logs() as logs:
            yield logs
    finally:
        structlog.configure(wrapper_class=saved)


def at(days_ago: int) -> datetime:
    """Noon UTC a number of days before TODAY."""
    day = TODAY - timedelta(days=days_ago)
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


async def add(
    ledger: Ledger,
    order_id: int,
    customer_id: int,
    amount: str,
    *,
    due_in: int,
    created_ago: int,
    currency: str = "USD",
    state: str = "awaiting_payment",
) -> None:
    """Record an order created `created_ago` days ago and due `due_in` from TODAY."""
    await ledger.record(
        NewTrackedOrder(
            order_id=order_id,
            customer_id=customer_id,
            customer_group_id=5,
            group_name="Net30 Wholesale",
            policy="Net 30",
            schedule=None,
            order_created_at=at(created_ago),
            due_date=TODAY + timedelta(days=due_in),
            amount=Decimal(amount),
            currency=currency,
            state=state,
            target_state=None,
            ignored_reason=None,
            bc_status_id=7,
            bc_date_modified=at(created_ago),
        ),
        actor="cli",
        action="test",
        at=at(created_ago),
    )


async def build_book(pool: asyncpg.Pool) -> None:
    """Two customers, every aging bucket, two currencies, held, paid and closed."""
    ledger = Ledger(pool, STORE)
    await add(ledger, 101, 1, "1000.00", due_in=5, created_ago=25)
    await add(ledger, 102, 1, "250.50", due_in=-10, created_ago=40)
    await add(ledger, 103, 1, "75.25", due_in=-45, created_ago=75)
    await add(ledger, 110, 1, "30.00", due_in=-30, created_ago=60)
    await add(ledger, 108, 1, "200.00", due_in=-20, created_ago=50)
    await ledger.update(
        108, {"state": "paid", "paid_at": at(10)}, actor="cli", action="paid", at=at(10)
    )
    await add(ledger, 109, 1, "60.00", due_in=-5, created_ago=35)
    await ledger.update(
        109,
        {"state": "closed", "closed_at": at(30)},
        actor="cli",
        action="closed",
        at=at(30),
    )
    await add(ledger, 104, 2, "300.00", due_in=-70, created_ago=100)
    await add(ledger, 105, 2, "120.00", due_in=-120, created_ago=150)
    await add(ledger, 106, 2, "40.00", due_in=0, created_ago=30, currency="EUR")
    await add(ledger, 107, 2, "500.00", due_in=-20, created_ago=50, state="held")
    # Another store's debts must never show in this store's answers.
    await add(Ledger(pool, "other"), 101, 1, "9999.00", due_in=-50, created_ago=80)


def aging_row(orders: int, *buckets: str) -> dict[str, Any]:
    """An aging row's amounts: current, 1-30, 31-60, 61-90, 90+ and the total."""
    names = ("current", "days_1_30", "days_31_60", "days_61_90", "over_90", "total")
    return {"orders": orders, **dict(zip(names, buckets, strict=True))}


@pytest.mark.parametrize("path", PROTECTED)
async def test_api_missing_token_is_401(
    client: Client, path: str, debug_logs: list[EventDict]
) -> None:
    """No Authorization header: 401 JSON with a Bearer challenge, and a warning."""
    response = await client.get(path)

    assert response.status == 401
    assert await response.json() == {"error": "missing bearer token", "status": 401}
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="netterms"'
    warnings = [e for e in debug_logs if e["event"] == "api.unauthorized"]
    assert [(e["log_level"], e["path"]) for e in warnings] == [("warning", path)]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer not-the-token",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Basic {TOKEN}",
        "Bearer",
        f"Bearer \u00e9{TOKEN}",
    ],
)
async def test_api_wrong_token_is_401(
    client: Client, header: str, debug_logs: list[EventDict]
) -> None:
    """A wrong token or scheme is 401 with WWW-Authenticate; no token is logged."""
    response = await client.get("/api/v1/aging", headers={"Authorization": header})

    assert response.status == 401
    body = await response.json()
    assert body["status"] == 401
    assert body["error"] in {"missing bearer token", "wrong bearer token"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    warnings = [e for e in debug_logs if e["event"] == "api.unauthorized"]
    assert len(warnings) == 1
    assert TOKEN not in repr(debug_logs)
    assert "not-the-token" not in repr(debug_logs)


async def test_api_wrong_token_says_invalid_token(client: Client) -> None:
    """A token that is sent but wrong gets RFC 6750's invalid_token error code."""
    response = await client.get(
        "/api/v1/orders", headers={"Authorization": "bearer nope"}
    )

    assert response.status == 401
    assert await response.json() == {"error": "wrong bearer token", "status": 401}
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="netterms", error="invalid_token"'
    )


async def test_api_aging_sums_buckets(client: Client) -> None:
    """Open orders by lateness per customer and currency, with currency totals."""
    response = await client.get("/api/v1/aging", headers=AUTH)

    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.json()
    assert body["today"] == "2026-03-15"
    assert body["store_hash"] == STORE
    assert body["rows"] == [
        {
            "customer_id": 2,
            "currency": "EUR",
            **aging_row(1, "40.00", "0.00", "0.00", "0.00", "0.00", "40.00"),
        },
        {
            "customer_id": 1,
            "currency": "USD",
            **aging_row(4, "1000.00", "280.50", "75.25", "0.00", "0.00", "1355.75"),
        },
        {
            "customer_id": 2,
            "currency": "USD",
            **aging_row(2, "0.00", "0.00", "0.00", "300.00", "120.00", "420.00"),
        },
    ]
    assert body["totals"] == [
        {
            "currency": "EUR",
            **aging_row(1, "40.00", "0.00", "0.00", "0.00", "0.00", "40.00"),
        },
        {
            "currency": "USD",
            **aging_row(6, "1000.00", "280.50", "75.25", "300.00", "120.00", "1775.75"),
        },
    ]


async def test_api_aging_today_is_the_store_day(
    client: Client, pool: asyncpg.Pool
) -> None:
    """18:00 UTC is already the next morning in Auckland, so orders age a day more."""
    await remember_time_zone(pool, STORE, "Pacific/Auckland")

    body = await (await client.get("/api/v1/aging", headers=AUTH)).json()

    assert body["today"] == "2026-03-16"
    # Order 106 was due on the 15th: no longer current, one day late.
    assert body["rows"][0]["current"] == "0.00"
    assert body["rows"][0]["days_1_30"] == "40.00"


async def test_api_orders_lists_overdue_oldest_first(client: Client) -> None:
    """state=overdue: orders past due, oldest due date first, with days late."""
    response = await client.get("/api/v1/orders?state=overdue", headers=AUTH)

    assert response.status == 200
    orders = (await response.json())["orders"]
    assert [(o["order_id"], o["days_overdue"], o["amount"]) for o in orders] == [
        (105, 120, "120.00"),
        (104, 70, "300.00"),
        (103, 45, "75.25"),
        (110, 30, "30.00"),
        (102, 10, "250.50"),
    ]
    assert {o["state"] for o in orders} == {"overdue"}
    assert orders[0] == {
        "order_id": 105,
        "customer_id": 2,
        "group_name": "Net30 Wholesale",
        "state": "overdue",
        "amount": "120.00",
        "currency": "USD",
        "due_date": "2025-11-15",
        "days_overdue": 120,
        "policy": "Net 30",
    }


async def test_api_orders_filters_by_customer_and_limit(client: Client) -> None:
    """customer narrows to one customer's orders; limit keeps the first N."""
    one = await client.get("/api/v1/orders?state=overdue&customer=1", headers=AUTH)
    two = await client.get("/api/v1/orders?state=overdue&limit=2", headers=AUTH)
    held = await client.get("/api/v1/orders?state=held", headers=AUTH)
    every = await client.get("/api/v1/orders", headers=AUTH)

    assert [o["order_id"] for o in (await one.json())["orders"]] == [103, 110, 102]
    assert [o["order_id"] for o in (await two.json())["orders"]] == [105, 104]
    assert [o["order_id"] for o in (await held.json())["orders"]] == [107]
    listed = {o["order_id"] for o in (await every.json())["orders"]}
    assert listed == {101, 102, 103, 104, 105, 106, 107, 108, 109, 110}


async def test_api_statement_closing_balance(client: Client) -> None:
    """Customer 1: open orders and the payment of 108, balance closing at 1355.75."""
    response = await client.get("/api/v1/customers/1/statement", headers=AUTH)

    assert response.status == 200
    body = await response.json()
    assert (body["customer_id"], body["today"], body["paid_since"]) == (
        1,
        "2026-03-15",
        "2025-12-15",
    )
    [usd] = body["currencies"]
    assert (usd["currency"], usd["closing_balance"], usd["overdue"], usd["held"]) == (
        "USD",
        "1355.75",
        "355.75",
        "0.00",
    )
    assert [(x["order_id"], x["kind"], x["balance"]) for x in usd["lines"]] == [
        (103, "charge", "75.25"),
        (110, "charge", "105.25"),
        (108, "charge", "305.25"),
        (102, "charge", "555.75"),
        (101, "charge", "1555.75"),
        (108, "payment", "1355.75"),
    ]


async def test_api_statement_sections_per_currency(client: Client) -> None:
    """Customer 2: USD with a held order in the balance, EUR on its own."""
    response = await client.get("/api/v1/customers/2/statement", headers=AUTH)

    sections = {s["currency"]: s for s in (await response.json())["currencies"]}
    assert {c: s["closing_balance"] for c, s in sections.items()} == {
        "EUR": "40.00",
        "USD": "920.00",
    }
    assert sections["USD"]["held"] == "500.00"
    assert sections["USD"]["overdue"] == "420.00"
    assert sections["EUR"]["overdue"] == "0.00"


async def test_api_statement_paid_within_days(client: Client) -> None:
    """A payment older than paid_within_days drops out, with its charge."""
    response = await client.get(
        "/api/v1/customers/1/statement?paid_within_days=5", headers=AUTH
    )

    body = await response.json()
    assert body["paid_since"] == "2026-03-10"
    [usd] = body["currencies"]
    assert [x["order_id"] for x in usd["lines"]] == [103, 110, 102, 101]
    assert usd["closing_balance"] == "1355.75"


async def test_api_statement_unknown_customer_is_empty(client: Client) -> None:
    """A customer with nothing on the books gets a statement with no sections."""
    response = await client.get("/api/v1/customers/999/statement", headers=AUTH)

    assert response.status == 200
    assert (await response.json())["currencies"] == []


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        (
            "/api/v1/orders?state=late",
            f"state must be one of {', '.join(ORDER_STATES)}, got 'late'",
        ),
        ("/api/v1/orders?state=", "state must be one of"),
        ("/api/v1/orders?customer=abc", "customer must be a whole number, got 'abc'"),
        ("/api/v1/orders?customer=-1", "customer must be a whole number, got '-1'"),
        ("/api/v1/orders?customer=1.5", "customer must be a whole number"),
        ("/api/v1/orders?customer=%C2%B2", "customer must be a whole number"),
        ("/api/v1/orders?customer=" + "9" * 5000, "customer must be between 0 and"),
        ("/api/v1/orders?limit=x", "limit must be a whole number, got 'x'"),
        ("/api/v1/orders?limit=0", "limit must be between 1 and 1000, got '0'"),
        ("/api/v1/orders?limit=1001", "limit must be between 1 and 1000, got '1001'"),
        ("/api/v1/orders?limit=", "limit must be a whole number, got ''"),
        (
            "/api/v1/orders?customer_id=1",
            "unknown query parameter 'customer_id'; expected state, customer, limit",
        ),
        ("/api/v1/aging?format=csv", "unknown query parameter 'format'; expected none"),
        (
            "/api/v1/customers/1/statement?paid_within_days=-3",
            "paid_within_days must be a whole number, got '-3'",
        ),
        (
            "/api/v1/customers/1/statement?paid_within_days=99999",
            "paid_within_days must be between 0 and 3650, got '99999'",
        ),
        (
            "/api/v1/customers/99999999999999999999/statement",
            "customer_id must be between 0 and 9223372036854775807",
        ),
    ],
)
async def test_api_bad_query_is_400(client: Client, query: str, reason: str) -> None:
    """A value the route cannot take is 400 with a one-line reason, never 500."""
    response = await client.get(query, headers=AUTH)

    assert response.status == 400
    body = await response.json()
    assert body["status"] == 400
    assert body["error"].startswith(reason)
    assert "\n" not in body["error"]


async def test_api_bad_query_checked_after_token(client: Client) -> None:
    """Without the token, even a bad query is 401: nothing is said before auth."""
    response = await client.get("/api/v1/orders?limit=x")

    assert response.status == 401


@pytest.mark.parametrize(
    "path", ["/api/v1/customers/abc/statement", "/api/v1/customers/-1/statement"]
)
async def test_api_statement_needs_digits(client: Client, path: str) -> None:
    """A customer id that is not digits matches no route: JSON 404."""
    response = await client.get(path, headers=AUTH)

    assert response.status == 404
    assert await response.json() == {"error": "Not Found", "status": 404}


async def test_api_database_down_is_503(client: Client, pool: asyncpg.Pool) -> None:
    """A database that cannot answer gives 503 JSON, not a 500 stack trace."""
    pool.terminate()

    response = await client.get("/api/v1/aging", headers=AUTH)

    assert response.status == 503
    assert await response.json() == {
        "error": "the database is unavailable; retry later",
        "status": 503,
    }


async def test_api_request_logged_at_debug(
    client: Client, debug_logs: list[EventDict]
) -> None:
    """Each API request logs api.request with its path and status."""
    await client.get("/api/v1/aging", headers=AUTH)
    await client.get("/api/v1/orders?limit=0", headers=AUTH)
    await client.get("/api/v1/orders")
    await client.get("/api/v1/openapi.json")

    requests = [e for e in debug_logs if e["event"] == "api.request"]
    assert [(e["log_level"], e["path"], e["status"]) for e in requests] == [
        ("debug", "/api/v1/aging", 200),
        ("debug", "/api/v1/orders", 400),
        ("debug", "/api/v1/orders", 401),
        ("debug", "/api/v1/openapi.json", 200),
    ]


async def test_openapi_served_without_token(client: Client) -> None:
    """The document is public, OpenAPI 3.0, and lists every /api/v1 route."""
    response = await client.get("/api/v1/openapi.json")

    assert response.status == 200
    assert response.content_type == "application/json"
    document = await response.json()
    assert document["openapi"].startswith("3.0.")
    registered = {
        resource.canonical
        for resource in client.app.router.resources()
        if resource.canonical.startswith(API_PREFIX)
    }
    assert set(document["paths"]) == registered
    assert len(registered) == 4
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert document["security"] == [{"bearerAuth": []}]
    openapi_get = document["paths"]["/api/v1/openapi.json"]["get"]
    assert openapi_get["security"] == []
    protected = [
        operation["responses"]
        for path, item in document["paths"].items()
        if path != "/api/v1/openapi.json"
        for operation in item.values()
    ]
    assert all({"400", "401", "503"} <= set(responses) for responses in protected)


async def test_openapi_document_is_well_formed(client: Client) -> None:
    """Every reference resolves and every schema is a valid JSON Schema."""
    document = await (await client.get("/api/v1/openapi.json")).json()

    for ref in set(references(document)):
        assert resolve(document, ref) is not None, ref
    for name, schema in document["components"]["schemas"].items():
        assert name[0].isupper()
        jsonschema.Draft4Validator.check_schema(as_json_schema(schema))
    for item in document["paths"].values():
        for operation in item.values():
            assert operation["operationId"]
            for parameter in operation.get("parameters", []):
                assert parameter["in"] in {"query", "path"}
                jsonschema.Draft4Validator.check_schema(parameter["schema"])


@pytest.mark.parametrize(
    ("path", "schema"),
    [
        ("/api/v1/aging", "AgingReport"),
        ("/api/v1/orders", "OrderList"),
        ("/api/v1/customers/1/statement", "Statement"),
        ("/api/v1/customers/2/statement", "Statement"),
        ("/api/v1/orders?limit=0", "Error"),
    ],
)
async def test_openapi_schemas_match_answers(
    client: Client, path: str, schema: str
) -> None:
    """Each answer fits its documented schema, which names every field it has."""
    document = await (await client.get("/api/v1/openapi.json")).json()

    body = await (await client.get(path, headers=AUTH)).json()

    jsonschema.validate(
        body,
        {
            **as_json_schema({"$ref": f"#/components/schemas/{schema}"}),
            "definitions": {
                name: as_json_schema(item)
                for name, item in document["components"]["schemas"].items()
            },
        },
        cls=jsonschema.Draft4Validator,
        format_checker=jsonschema.FormatChecker(),
    )


def references(node: Any) -> Iterator[str]:
    """Every $ref in a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def resolve(document: dict[str, Any], ref: str) -> Any:
    """The node a local reference names, or None."""
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def as_json_schema(node: Any) -> Any:
    """
    An OpenAPI 3.0 schema as strict JSON Schema draft 4.

    `nullable` becomes a null type, references point at `definitions`, and
    objects allow no undocumented properties, so a field added to a report
    without a line in the document fails validation.
    """
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    schema = {
        key: as_json_schema(value)
        for key, value in node.items()
        if key not in {"nullable", "example"}
    }
    if "$ref" in schema:
        schema["$ref"] = schema["$ref"].replace(
            "#/components/schemas/", "#/definitions/"
        )
    if node.get("nullable"):
        schema["type"] = [node["type"], "null"]
    if node.get("type") == "object" and "properties" in node:
        schema["additionalProperties"] = False
    return schema
