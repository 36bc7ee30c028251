"""What the admin API promises: its bounds, and the OpenAPI 3.0 document saying so.

The document is written by hand from the report dataclasses' `to_json()`
(reports.py); the integration tests check every answer against it, so a
field added there without a line here fails a test. Money is an exact
decimal string, never a float, and dates are ISO days.
"""

from __future__ import annotations

from typing import Any

from netterms_daemon import __version__
from netterms_daemon.reports import ORDER_STATES

API_PREFIX = "/api/v1"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
DEFAULT_PAID_WITHIN_DAYS = 90
MAX_PAID_WITHIN_DAYS = 3650
# Postgres bigint: a larger number cannot name a customer.
MAX_ID = 2**63 - 1

_REF = "#/components/schemas/"
_MONEY_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.0 document of every /api/v1 route, as plain JSON."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "netterms admin API",
            "version": __version__,
            "description": (
                "Read-only receivables reports from the netterms ledger. Every "
                "route but this document needs `Authorization: Bearer <token>` "
                "([api] token). Days are the store's, in its time zone; money "
                "is an exact decimal string, summed per currency, never across."
            ),
        },
        "security": [{"bearerAuth": []}],
        "paths": {
            f"{API_PREFIX}/aging": {"get": _aging_operation()},
            f"{API_PREFIX}/orders": {"get": _orders_operation()},
            f"{API_PREFIX}/customers/{{customer_id}}/statement": {
                "get": _statement_operation()
            },
            f"{API_PREFIX}/openapi.json": {"get": _document_operation()},
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The [api] token from the daemon's settings.",
                }
            },
            "responses": _error_responses(),
            "schemas": _schemas(),
        },
    }


def _aging_operation() -> dict[str, Any]:
    return {
        "operationId": "getAging",
        "summary": "Open orders by days past due, per customer and currency.",
        "description": (
            "Orders awaiting payment only; held orders are not receivables "
            "yet. An order without a due date counts as current."
        ),
        "responses": {
            "200": _ok("AgingReport"),
            "400": _error("BadRequest"),
            "401": _error("Unauthorized"),
            "503": _error("Unavailable"),
        },
    }


def _orders_operation() -> dict[str, Any]:
    return {
        "operationId": "listOrders",
        "summary": "Tracked orders, optionally in one state or of one customer.",
        "description": (
            "Open orders come oldest due date first, the others newest first. "
            "`awaiting_payment` includes overdue orders, shown as `overdue`."
        ),
        "parameters": [
            _query(
                "state",
                {"type": "string", "enum": list(ORDER_STATES)},
                "Only orders in this state; every listed state when absent.",
            ),
            _query(
                "customer",
                {"type": "integer", "format": "int64", "minimum": 0},
                "Only this customer's orders.",
            ),
            _query(
                "limit",
                {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_LIMIT,
                    "default": DEFAULT_LIMIT,
                },
                "At most this many orders.",
            ),
        ],
        "responses": {
            "200": _ok("OrderList"),
            "400": _error("BadRequest"),
            "401": _error("Unauthorized"),
            "503": _error("Unavailable"),
        },
    }


def _statement_operation() -> dict[str, Any]:
    return {
        "operationId": "getStatement",
        "summary": "A customer's open orders and recent payments, with balances.",
        "description": (
            "One section per currency. Held orders count in the closing "
            "balance and are flagged. A customer with nothing open and no "
            "recent payment gets an empty `currencies` list."
        ),
        "parameters": [
            {
                "name": "customer_id",
                "in": "path",
                "required": True,
                "description": "The BigCommerce customer id; not digits: 404.",
                "schema": {"type": "integer", "format": "int64", "minimum": 0},
            },
            _query(
                "paid_within_days",
                {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": MAX_PAID_WITHIN_DAYS,
                    "default": DEFAULT_PAID_WITHIN_DAYS,
                },
                "Show orders paid within this many days of today.",
            ),
        ],
        "responses": {
            "200": _ok("Statement"),
            "400": _error("BadRequest"),
            "401": _error("Unauthorized"),
            "404": _error("NotFound"),
            "503": _error("Unavailable"),
        },
    }


def _document_operation() -> dict[str, Any]:
    return {
        "operationId": "getOpenApiDocument",
        "summary": "This document; served without a token.",
        "security": [],
        "responses": {
            "200": {
                "description": "The OpenAPI 3.0 document.",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    }


def _error_responses() -> dict[str, Any]:
    error = {"application/json": {"schema": {"$ref": f"{_REF}Error"}}}
    return {
        "BadRequest": {
            "description": (
                "A query parameter is unknown or its value not acceptable; "
                "`error` says which, in one line."
            ),
            "content": error,
        },
        "Unauthorized": {
            "description": "The bearer token is missing or wrong.",
            "headers": {
                "WWW-Authenticate": {
                    "description": "Always `Bearer`, as RFC 6750 asks.",
                    "schema": {"type": "string"},
                }
            },
            "content": error,
        },
        "NotFound": {
            "description": "No such route: a customer id is digits only.",
            "content": error,
        },
        "Unavailable": {
            "description": "The database did not answer; retry later.",
            "content": error,
        },
    }


def _schemas() -> dict[str, Any]:
    money = {"$ref": f"{_REF}Money"}
    day = {"type": "string", "format": "date"}
    integer = {"type": "integer", "format": "int64"}
    # A $ref cannot be nullable in OpenAPI 3.0, so these repeat Money inline.
    money_or_null = {"type": "string", "pattern": _MONEY_PATTERN, "nullable": True}
    buckets = {
        "orders": {"type": "integer", "description": "Open orders counted."},
        "current": money,
        "days_1_30": money,
        "days_31_60": money,
        "days_61_90": money,
        "over_90": money,
        "total": money,
    }
    return {
        "Money": {
            "type": "string",
            "pattern": _MONEY_PATTERN,
            "description": (
                "An exact decimal amount in the row's currency: to the minor "
                "unit when that loses nothing, else every digit."
            ),
            "example": "1250.50",
        },
        "Currency": {
            "type": "string",
            "description": "An ISO 4217 code.",
            "example": "USD",
        },
        "AgingRow": _object(
            customer_id=integer,
            currency={"$ref": f"{_REF}Currency"},
            **buckets,
        ),
        "AgingTotal": _object(currency={"$ref": f"{_REF}Currency"}, **buckets),
        "AgingReport": _object(
            store_hash={"type": "string"},
            today=day,
            rows={"type": "array", "items": {"$ref": f"{_REF}AgingRow"}},
            totals={
                "type": "array",
                "items": {"$ref": f"{_REF}AgingTotal"},
                "description": "One row per currency, summing its customers.",
            },
        ),
        "OrderLine": _object(
            order_id=integer,
            customer_id=integer,
            group_name={"type": "string", "nullable": True},
            state={"type": "string", "enum": list(ORDER_STATES)},
            amount=money,
            currency={"$ref": f"{_REF}Currency"},
            due_date={**day, "nullable": True},
            days_overdue={"type": "integer", "minimum": 0},
            policy={"type": "string", "nullable": True},
        ),
        "OrderList": _object(
            orders={"type": "array", "items": {"$ref": f"{_REF}OrderLine"}}
        ),
        "StatementLine": _object(
            date=day,
            order_id=integer,
            kind={"type": "string", "enum": ["charge", "payment"]},
            description={"type": "string"},
            charge=money_or_null,
            payment=money_or_null,
            balance=money,
            held={"type": "boolean", "description": "The order is on hold."},
        ),
        "StatementSection": {
            **_object(
                currency={"$ref": f"{_REF}Currency"},
                closing_balance=money,
                overdue=money,
                held=money,
                lines={"type": "array", "items": {"$ref": f"{_REF}StatementLine"}},
            ),
            "description": (
                "`closing_balance` counts held orders too, and `held` says how "
                "much of it they are; `overdue` is what is past its due date."
            ),
        },
        "Statement": _object(
            store_hash={"type": "string"},
            customer_id=integer,
            today=day,
            paid_since=day,
            currencies={
                "type": "array",
                "items": {"$ref": f"{_REF}StatementSection"},
            },
        ),
        "Error": _object(
            error={"type": "string", "description": "One line saying why."},
            status={"type": "integer"},
        ),
    }


def _object(**properties: Any) -> dict[str, Any]:
    """An object schema whose properties are always present."""
    return {"type": "object", "required": list(properties), "properties": properties}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _ok(schema: str) -> dict[str, Any]:
    return {
        "description": "The report.",
        "content": {"application/json": {"schema": {"$ref": f"{_REF}{schema}"}}},
    }


def _error(response: str) -> dict[str, Any]:
    return {"$ref": f"#/components/responses/{response}"}
