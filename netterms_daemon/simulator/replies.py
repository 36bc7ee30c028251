"""How the simulated store answers: error shapes, paging, query parameters."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, NoReturn, TypeVar

from aiohttp import web

from netterms_daemon.bigcommerce.models import parse_iso

MAX_LIMIT = 250
DEFAULT_V2_LIMIT = 50
DEFAULT_V3_LIMIT = 50
ERROR_TYPE = (
    "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"
)

T = TypeVar("T")


class ApiError(Exception):
    """Raised by a handler; the middleware renders it in the API's own shape."""

    def __init__(self, status: int, message: str, errors: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or {}


def error_response(version: str, error: ApiError) -> web.Response:
    """v2: a list of {status, message}; v3: {status, title, type, errors}."""
    if version == "v2":
        body: Any = [{"status": error.status, "message": error.message}]
    else:
        body = {
            "status": error.status,
            "title": error.message,
            "type": ERROR_TYPE,
            # v3's not-found answers list their errors; field errors are a map.
            "errors": error.errors if error.errors or error.status != 404 else [],
        }
    return web.json_response(body, status=error.status)


def fail(status: int, message: str, errors: dict[str, str] | None = None) -> NoReturn:
    """Stop the handler with an API error."""
    raise ApiError(status, message, errors)


async def json_body(request: web.Request) -> Any:
    """The request's JSON body, or a 400 saying why it cannot be read."""
    raw = await request.read()
    if not raw:
        fail(400, "The request body is empty; a JSON body is required.")
    try:
        return json.loads(raw)
    except ValueError:
        fail(400, "The request body is not valid JSON.")


def object_body(body: Any) -> dict[str, Any]:
    """A JSON object body, or 400."""
    if not isinstance(body, dict):
        fail(400, "The request body must be a JSON object.")
    return body


def array_body(body: Any, most: int | None = None) -> list[Any]:
    """A JSON array body, optionally bounded, or 400/413."""
    if not isinstance(body, list) or not body:
        fail(400, "The request body must be a non-empty JSON array.")
    if most is not None and len(body) > most:
        fail(413, f"At most {most} items may be sent at once.")
    return body


def int_param(
    request: web.Request, name: str, default: int | None = None
) -> int | None:
    """An integer query parameter, or 400 naming it."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        fail(400, f"The query parameter '{name}' must be an integer, got {raw!r}.")


def id_list(request: web.Request, name: str) -> set[int] | None:
    """A comma-separated list of ids such as id:in=1,2,3."""
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        return {int(part) for part in raw.split(",") if part.strip()}
    except ValueError:
        fail(422, f"The query parameter '{name}' must list integers.", {name: raw})


def date_param(request: web.Request, name: str) -> datetime | None:
    """A date filter, in RFC 2822 or ISO 8601 as BigCommerce accepts."""
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        parsed = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        pass
    else:
        # "-0000" or no zone at all: BigCommerce's dates are UTC.
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    try:
        return parse_iso(raw)
    except ValueError:
        fail(400, f"The query parameter '{name}' is not a date: {raw!r}.")


def page_and_limit(request: web.Request, default_limit: int) -> tuple[int, int]:
    """page (from 1) and limit (at most 250)."""
    page = int_param(request, "page", 1) or 1
    limit = int_param(request, "limit", default_limit) or default_limit
    if page < 1 or limit < 1:
        fail(400, "page and limit must be positive.")
    return page, min(limit, MAX_LIMIT)


def v2_page(
    request: web.Request, items: Sequence[T], render: Callable[[T], Any]
) -> web.Response:
    """A v2 list page: a bare array, or 204 with no body when empty."""
    page, limit = page_and_limit(request, DEFAULT_V2_LIMIT)
    chosen = items[(page - 1) * limit : page * limit]
    if not chosen:
        return web.Response(status=204)
    return web.json_response([render(item) for item in chosen])


def v3_page(
    request: web.Request, items: Sequence[T], render: Callable[[T], Any]
) -> web.Response:
    """A v3 list page: {data, meta: {pagination}}."""
    page, limit = page_and_limit(request, DEFAULT_V3_LIMIT)
    chosen = items[(page - 1) * limit : page * limit]
    total_pages = max(1, -(-len(items) // limit))
    links: dict[str, str] = {"current": f"?page={page}&limit={limit}"}
    if page > 1:
        links["previous"] = f"?page={page - 1}&limit={limit}"
    if page < total_pages:
        links["next"] = f"?page={page + 1}&limit={limit}"
    meta = {
        "pagination": {
            "total": len(items),
            "count": len(chosen),
            "per_page": limit,
            "current_page": page,
            "total_pages": total_pages,
            "links": links,
        }
    }
    return web.json_response({"data": [render(item) for item in chosen], "meta": meta})


def v3_one(data: Any) -> web.Response:
    """A single v3 object: {data, meta: {}}."""
    return web.json_response({"data": data, "meta": {}})


def sort_key(
    request: web.Request, allowed: Sequence[str], default: str
) -> tuple[str, bool]:
    """The sort field and whether descending, from sort=field[:asc|:desc]."""
    raw = request.query.get("sort") or default
    field_name, _, direction = raw.partition(":")
    if field_name not in allowed or direction not in ("", "asc", "desc"):
        fail(
            400,
            f"sort must be one of {', '.join(allowed)} with :asc or :desc, "
            f"got {raw!r}.",
        )
    return field_name, direction == "desc"
