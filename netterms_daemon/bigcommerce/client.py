"""The daemon's only way to BigCommerce: one client per store, paced and retried.

Every call goes through `_request`: it waits for the store's token bucket,
holds one of a bounded number of connection slots, sends the request with
the store's token, feeds the rate-limit headers back to the bucket, maps
error statuses to exceptions, and is retried by the one API retry policy.
Paging is handled once for each API generation: v2 lists page by page/limit
until a short page or a 204, v3 lists follow meta.pagination.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

import aiohttp
import structlog

from netterms_daemon import __version__
from netterms_daemon.bigcommerce.errors import (
    AuthenticationError,
    BigCommerceError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnexpectedResponseError,
    ValidationError,
)
from netterms_daemon.bigcommerce.models import (
    JSON,
    Customer,
    CustomerGroup,
    HooksAdmin,
    Metafield,
    MetafieldBatch,
    MetafieldWrite,
    Order,
    OrderStatus,
    StoreInfo,
    Webhook,
    format_rfc2822,
)
from netterms_daemon.bigcommerce.ratelimit import RateLimitHeaders, TokenBucket
from netterms_daemon.clock import Clock, SystemClock
from netterms_daemon.config import BigCommerceSettings, Secret
from netterms_daemon.retry import ApiRetryPolicy, bigcommerce_call

log = structlog.get_logger(__name__)

PAGE_SIZE = 250
# Pause after a 429 that named no reset: the store is under load.
UNKNOWN_PAUSE_S = 5.0
RATE_LIMIT_LOG_THRESHOLD_S = 1.0

# Set while a create looks up what an unclear failure may have created: those
# calls run inside the create's own retry loop, so they are not retried again.
_single_try: ContextVar[bool] = ContextVar("bigcommerce_single_try", default=False)

Version = Literal["v2", "v3"]
Params = Mapping[str, str | int]
T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    """A successful response: status and parsed JSON body (None when empty)."""

    status: int
    body: Any


class BigCommerceClient:
    """
    Calls to one store's REST API.

    The client owns its aiohttp session unless one is passed in; use it as
    an async context manager, or call `close()`. One TokenBucket paces
    every coroutine that shares the client.
    """

    def __init__(
        self,
        store_hash: str,
        access_token: Secret,
        *,
        api_url: str = "https://api.bigcommerce.com",
        bucket: TokenBucket | None = None,
        clock: Clock | None = None,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = 30.0,
        max_concurrency: int = 8,
        retry: ApiRetryPolicy | None = None,
    ) -> None:
        self.store_hash = store_hash
        self._token = access_token
        self._root = f"{api_url.rstrip('/')}/stores/{store_hash}"
        self._clock = clock or SystemClock()
        self.bucket = bucket or TokenBucket(clock=self._clock)
        self._session = session
        self._owns_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._slots = asyncio.Semaphore(max_concurrency)
        self._in_flight = 0
        self._retry = retry or ApiRetryPolicy()
        self.calls = 0
        self.throttled = 0
        self.waited_s = 0.0

    @classmethod
    def from_settings(
        cls, settings: BigCommerceSettings, clock: Clock | None = None
    ) -> BigCommerceClient:
        """Build the client the configuration describes."""
        if not settings.store_hash or settings.access_token is None:
            raise ValueError("store_hash and access_token must be configured")
        clock = clock or SystemClock()
        bucket = TokenBucket(
            quota=settings.rate_limit_quota,
            window_s=settings.rate_limit_window_s,
            burst=settings.rate_limit_burst,
            clock=clock,
        )
        return cls(
            settings.store_hash,
            settings.access_token,
            api_url=settings.api_url,
            bucket=bucket,
            clock=clock,
            timeout_s=settings.request_timeout_s,
            max_concurrency=settings.max_concurrency,
            retry=ApiRetryPolicy(
                max_attempts=settings.max_attempts,
                max_total_s=settings.max_retry_s,
            ),
        )

    async def __aenter__(self) -> BigCommerceClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if the client opened it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None

    # Store information

    async def store_information(self) -> StoreInfo:
        """GET /v2/store: the store's name, time zone and plan."""
        answer = await self._request("GET", "v2", "/store")
        return self._parse(StoreInfo.parse, answer.body, "GET /v2/store")

    # Customer groups (v2 only)

    async def customer_groups(self, name: str | None = None) -> list[CustomerGroup]:
        """Every customer group, or those with exactly this name."""
        params = {"name": name} if name is not None else {}
        return [
            self._parse(CustomerGroup.parse, item, "GET /v2/customer_groups")
            async for item in self._v2_items("/customer_groups", params)
        ]

    async def customer_group(self, group_id: int) -> CustomerGroup:
        """One customer group by id."""
        path = f"/customer_groups/{group_id}"
        answer = await self._request("GET", "v2", path)
        return self._parse(CustomerGroup.parse, answer.body, f"GET /v2{path}")

    async def create_customer_group(self, name: str) -> CustomerGroup:
        """Create a group; if an earlier try may have created it, find it instead."""

        async def existing() -> CustomerGroup | None:
            found = await self.customer_groups(name=name)
            return found[0] if found else None

        answer = await self._create("v2", "/customer_groups", {"name": name}, existing)
        if isinstance(answer, CustomerGroup):
            return answer
        if answer.status == 207 or "id" not in (answer.body or {}):
            # 207: created, but a store-wide discount failed; read it back.
            group = await existing()
            if group is None:
                raise UnexpectedResponseError("POST", "/v2/customer_groups", 207)
            return group
        return self._parse(CustomerGroup.parse, answer.body, "POST /v2/customer_groups")

    # Customers (v3)

    async def customers(self, ids: Iterable[int]) -> list[Customer]:
        """The customers with these ids, PAGE_SIZE ids per call."""
        wanted = sorted(set(ids))
        found: list[Customer] = []
        for start in range(0, len(wanted), PAGE_SIZE):
            chunk = ",".join(str(i) for i in wanted[start : start + PAGE_SIZE])
            async for item in self._v3_items("/customers", {"id:in": chunk}):
                found.append(self._parse(Customer.parse, item, "GET /v3/customers"))
        return found

    async def customers_in_groups(
        self, group_ids: Iterable[int]
    ) -> AsyncIterator[Customer]:
        """Every customer in any of these groups, page by page."""
        params = {
            "customer_group_id:in": ",".join(str(g) for g in sorted(set(group_ids)))
        }
        async for item in self._v3_items("/customers", params):
            yield self._parse(Customer.parse, item, "GET /v3/customers")

    # Orders (v2)

    async def order(self, order_id: int) -> Order:
        """One order; NotFoundError if it does not exist."""
        path = f"/orders/{order_id}"
        answer = await self._request("GET", "v2", path)
        return self._parse(Order.parse, answer.body, f"GET /v2{path}")

    async def orders(
        self,
        *,
        modified_since: datetime | None = None,
        created_since: datetime | None = None,
        status_id: int | None = None,
        customer_id: int | None = None,
        min_id: int | None = None,
        max_id: int | None = None,
        sort: str = "date_modified:asc",
    ) -> AsyncIterator[Order]:
        """Orders matching every filter given, PAGE_SIZE a call, every page."""
        params: dict[str, str | int] = {"sort": sort}
        if modified_since is not None:
            params["min_date_modified"] = format_rfc2822(modified_since)
        if created_since is not None:
            params["min_date_created"] = format_rfc2822(created_since)
        optional = {
            "status_id": status_id,
            "customer_id": customer_id,
            "min_id": min_id,
            "max_id": max_id,
        }
        params.update({k: v for k, v in optional.items() if v is not None})

        async for item in self._v2_items("/orders", params):
            yield self._parse(Order.parse, item, "GET /v2/orders")

    async def update_order(
        self,
        order_id: int,
        *,
        status_id: int | None = None,
        staff_notes: str | None = None,
    ) -> Order:
        """Set the status and the staff notes in one PUT; other fields stay."""
        body: JSON = {}
        if status_id is not None:
            body["status_id"] = status_id
        if staff_notes is not None:
            body["staff_notes"] = staff_notes
        if not body:
            raise ValueError("nothing to update")

        path = f"/orders/{order_id}"
        answer = await self._request("PUT", "v2", path, json_body=body)
        return self._parse(Order.parse, answer.body, f"PUT /v2{path}")

    async def order_statuses(self) -> list[OrderStatus]:
        """The store's order statuses."""
        answer = await self._request("GET", "v2", "/order_statuses")
        return [
            self._parse(OrderStatus.parse, item, "GET /v2/order_statuses")
            for item in answer.body or []
        ]

    # Order metafields (v3)

    async def order_metafields(
        self, order_id: int, *, namespace: str | None = None, key: str | None = None
    ) -> list[Metafield]:
        """An order's metafields visible to this account, optionally filtered."""
        params = {k: v for k, v in (("namespace", namespace), ("key", key)) if v}
        path = f"/orders/{order_id}/metafields"
        return [
            self._parse(Metafield.parse, item, f"GET /v3{path}")
            async for item in self._v3_items(path, params)
        ]

    async def create_order_metafield(self, write: MetafieldWrite) -> Metafield:
        """Create one metafield; after an unclear failure, find it first."""
        path = f"/orders/{write.order_id}/metafields"

        async def existing() -> Metafield | None:
            found = await self.order_metafields(
                write.order_id, namespace=write.namespace, key=write.key
            )
            return found[0] if found else None

        answer = await self._create("v3", path, write.body(), existing)
        if isinstance(answer, Metafield):
            return answer
        return self._parse(Metafield.parse, _data(answer.body), f"POST /v3{path}")

    async def update_order_metafield(
        self, order_id: int, metafield_id: int, value: str
    ) -> Metafield:
        """Replace one metafield's value."""
        path = f"/orders/{order_id}/metafields/{metafield_id}"
        answer = await self._request("PUT", "v3", path, json_body={"value": value})
        return self._parse(Metafield.parse, _data(answer.body), f"PUT /v3{path}")

    async def create_order_metafields(
        self, writes: list[MetafieldWrite]
    ) -> MetafieldBatch:
        """
        Create metafields on many orders in one call.

        A batch may partly fail: BigCommerce then answers 422 with what it
        did create, and the writes it refused come back in `refused` with
        its reasons, for the caller to look up (a duplicate) or try later.
        After an unclear failure the orders are searched for what already
        exists, and only the rest is sent again.
        """
        created: list[Metafield] = []
        pending = list(writes)
        while pending:
            try:
                answer = await self._create(
                    "v3",
                    "/orders/metafields",
                    [{"resource_id": w.order_id, **w.body()} for w in pending],
                    functools.partial(self._existing_metafields, pending),
                )
            except ValidationError as exc:
                if exc.status not in (409, 422):
                    raise
                done = exc.body.get("data") if isinstance(exc.body, dict) else None
                created.extend(
                    self._parse(Metafield.parse, item, "POST /v3/orders/metafields")
                    for item in done or []
                )
                refused = [w for w in pending if not _matches_any(w, created)]
                return MetafieldBatch(created, refused, exc.detail)
            if isinstance(answer, list):
                created.extend(answer)
                pending = [w for w in pending if not _matches_any(w, answer)]
                continue
            created.extend(
                self._parse(Metafield.parse, item, "POST /v3/orders/metafields")
                for item in _data(answer.body)
            )
            pending = []
        return MetafieldBatch(created, [], "")

    async def update_order_metafields(
        self, values: Mapping[int, str]
    ) -> list[Metafield]:
        """Replace the values of many metafields, by metafield id, in one call."""
        body = [
            {"id": metafield_id, "value": value}
            for metafield_id, value in values.items()
        ]
        answer = await self._request("PUT", "v3", "/orders/metafields", json_body=body)
        return [
            self._parse(Metafield.parse, item, "PUT /v3/orders/metafields")
            for item in _data(answer.body)
        ]

    async def _existing_metafields(
        self, writes: list[MetafieldWrite]
    ) -> list[Metafield] | None:
        found: list[Metafield] = []
        for order_id in sorted({w.order_id for w in writes}):
            for namespace in sorted(
                {w.namespace for w in writes if w.order_id == order_id}
            ):
                found += await self.order_metafields(order_id, namespace=namespace)
        matching = [m for m in found if any(_same_field(w, m) for w in writes)]
        return matching or None

    # Webhooks (v3)

    async def webhooks(
        self,
        *,
        scope: str | None = None,
        destination: str | None = None,
        is_active: bool | None = None,
    ) -> list[Webhook]:
        """This account's hooks, optionally filtered."""
        params: dict[str, str | int] = {}
        if scope is not None:
            params["scope"] = scope
        if destination is not None:
            params["destination"] = destination
        if is_active is not None:
            params["is_active"] = "true" if is_active else "false"
        return [
            self._parse(Webhook.parse, item, "GET /v3/hooks")
            async for item in self._v3_items("/hooks", params)
        ]

    async def create_webhook(
        self,
        scope: str,
        destination: str,
        headers: Mapping[str, str],
        *,
        is_active: bool = True,
    ) -> Webhook:
        """Register a hook; after an unclear failure, look for it first."""

        async def existing() -> Webhook | None:
            found = await self.webhooks(scope=scope, destination=destination)
            return found[0] if found else None

        body = {
            "scope": scope,
            "destination": destination,
            "is_active": is_active,
            "headers": dict(headers),
        }
        answer = await self._create("v3", "/hooks", body, existing)
        if isinstance(answer, Webhook):
            return answer
        return self._parse(Webhook.parse, _data(answer.body), "POST /v3/hooks")

    async def update_webhook(
        self,
        webhook_id: int,
        *,
        scope: str | None = None,
        destination: str | None = None,
        is_active: bool | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Webhook:
        """Change any of a hook's fields."""
        body: JSON = {}
        if scope is not None:
            body["scope"] = scope
        if destination is not None:
            body["destination"] = destination
        if is_active is not None:
            body["is_active"] = is_active
        if headers is not None:
            body["headers"] = dict(headers)
        if not body:
            raise ValueError("nothing to update")

        path = f"/hooks/{webhook_id}"
        answer = await self._request("PUT", "v3", path, json_body=body)
        return self._parse(Webhook.parse, _data(answer.body), f"PUT /v3{path}")

    async def reactivate_webhook(self, webhook_id: int) -> Webhook:
        """Turn a deactivated hook back on."""
        return await self.update_webhook(webhook_id, is_active=True)

    async def delete_webhook(self, webhook_id: int) -> None:
        """Delete a hook; one already gone counts as deleted."""
        try:
            await self._request("DELETE", "v3", f"/hooks/{webhook_id}")
        except NotFoundError:
            log.info("bigcommerce.webhook_already_deleted", webhook_id=webhook_id)

    async def hooks_admin(self, is_active: bool | None = None) -> HooksAdmin:
        """The admin view: hook statuses and blocked destination domains."""
        params = (
            {} if is_active is None else {"is_active": "true" if is_active else "false"}
        )
        answer = await self._request("GET", "v3", "/hooks/admin", params=params)
        return self._parse(HooksAdmin.parse, _data(answer.body), "GET /v3/hooks/admin")

    # Paging, once per API generation

    async def _v2_items(self, path: str, params: Params) -> AsyncIterator[JSON]:
        """Items of a v2 list: page=1.. until a short page or a 204."""
        page = 1
        while True:
            query = {**params, "page": page, "limit": PAGE_SIZE}
            answer = await self._request("GET", "v2", path, params=query)
            items = answer.body or []
            if not isinstance(items, list):
                raise UnexpectedResponseError(
                    "GET", f"/v2{path}", answer.status, "not a list"
                )
            for item in items:
                yield item
            if len(items) < PAGE_SIZE:
                return
            page += 1

    async def _v3_items(self, path: str, params: Params) -> AsyncIterator[JSON]:
        """Items of a v3 list: page=1.. until meta.pagination says it was the last."""
        page = 1
        while True:
            query = {**params, "page": page, "limit": PAGE_SIZE}
            answer = await self._request("GET", "v3", path, params=query)
            items = _data(answer.body) if answer.body is not None else []
            if not isinstance(items, list):
                raise UnexpectedResponseError(
                    "GET", f"/v3{path}", answer.status, "not a list"
                )
            for item in items:
                yield item
            pagination = ((answer.body or {}).get("meta") or {}).get("pagination") or {}
            total_pages = int(pagination.get("total_pages") or 1)
            if not items or int(pagination.get("current_page") or page) >= total_pages:
                return
            page += 1

    # One request, paced, retried and checked

    async def _create(
        self,
        version: Version,
        path: str,
        body: Any,
        existing: Callable[[], Awaitable[T | None]],
    ) -> Answer | T:
        """
        POST something new, never twice.

        A failure after which the request may have reached the store (a 5xx,
        a timeout, a dropped connection) is followed by a lookup before the
        next try, and what the lookup finds is returned instead.
        """
        unclear = False
        async for attempt in bigcommerce_call(self._retry, self._clock.sleep):
            with attempt:
                if unclear:
                    token = _single_try.set(True)
                    try:
                        found = await existing()
                    finally:
                        _single_try.reset(token)
                    if found is not None:
                        log.info(
                            "bigcommerce.create_recovered", path=f"/{version}{path}"
                        )
                        return found
                try:
                    return await self._send("POST", version, path, None, body)
                except (ServerError, TransportError) as exc:
                    unclear = unclear or getattr(exc, "maybe_sent", True)
                    raise
        raise AssertionError("the retry policy returns or raises")

    async def _request(
        self,
        method: str,
        version: Version,
        path: str,
        *,
        params: Params | None = None,
        json_body: Any = None,
    ) -> Answer:
        if _single_try.get():
            return await self._send(method, version, path, params, json_body)
        async for attempt in bigcommerce_call(self._retry, self._clock.sleep):
            with attempt:
                return await self._send(method, version, path, params, json_body)
        raise AssertionError("the retry policy returns or raises")

    async def _send(
        self,
        method: str,
        version: Version,
        path: str,
        params: Params | None,
        json_body: Any,
    ) -> Answer:
        """Send once: wait for a token and a slot, then map the answer."""
        full_path = f"/{version}{path}"
        waited = await self.bucket.acquire()
        self.waited_s += waited
        if waited > RATE_LIMIT_LOG_THRESHOLD_S:
            log.info(
                "bigcommerce.rate_limited", wait_s=round(waited, 2), path=full_path
            )

        async with self._slots:
            self._in_flight += 1
            self.calls += 1
            started = time.monotonic()
            try:
                status, headers, raw = await self._exchange(
                    method, full_path, params, json_body
                )
            finally:
                self._in_flight -= 1

        quota = RateLimitHeaders.parse(headers)
        self.bucket.observe(quota, in_flight=self._in_flight)
        log.debug(
            "bigcommerce.call",
            method=method,
            path=full_path,
            status=status,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
            quota_left=quota.requests_left,
        )
        return self._answer(method, full_path, status, quota, raw)

    async def _exchange(
        self, method: str, full_path: str, params: Params | None, json_body: Any
    ) -> tuple[int, Mapping[str, str], bytes]:
        session = self._session_now()
        headers = {
            "X-Auth-Token": self._token.reveal(),
            "Accept": "application/json",
            "User-Agent": f"netterms/{__version__}",
        }
        data = None
        if json_body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(json_body).encode()
        query = {k: str(v) for k, v in (params or {}).items()}

        try:
            async with session.request(
                method,
                f"{self._root}{full_path}",
                params=query,
                data=data,
                headers=headers,
                timeout=self._timeout,
            ) as response:
                return response.status, response.headers, await response.read()
        except aiohttp.ClientConnectorError as exc:
            # Refused before anything was sent: a retry cannot duplicate.
            raise TransportError(
                method, full_path, _describe(exc), maybe_sent=False
            ) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError(method, full_path, _describe(exc)) from exc

    def _answer(
        self, method: str, path: str, status: int, quota: RateLimitHeaders, raw: bytes
    ) -> Answer:
        if status == 429:
            self.throttled += 1
            pause = quota.pause_s
            self.bucket.pause(pause if pause is not None else UNKNOWN_PAUSE_S)
            log.warning("bigcommerce.throttled", path=path, pause_s=pause)
            raise RateLimitedError(method, path, status, pause)

        body = _json(raw)
        if status >= 400:
            error = _error_for(status)(method, path, status, _error_detail(body, raw))
            error.body = None if body is _NOT_JSON else body
            raise error
        if body is _NOT_JSON:
            raise UnexpectedResponseError(method, path, status, "body is not JSON")
        return Answer(status, body)

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self._owns_session = True
        return self._session

    def _parse(self, parser: Callable[[Any], T], body: Any, call: str) -> T:
        try:
            return parser(body)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            method, path = call.split(" ", 1)
            raise UnexpectedResponseError(
                method, path, 200, f"cannot read {exc!r}"
            ) from exc


_NOT_JSON = object()


def _json(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return _NOT_JSON


def _data(body: Any) -> Any:
    """The `data` of a v3 envelope."""
    if not isinstance(body, dict) or "data" not in body:
        raise TypeError("no data in a v3 answer")
    return body["data"]


def _error_for(status: int) -> type[BigCommerceError]:
    if status in (401, 403):
        return AuthenticationError
    if status == 404:
        return NotFoundError
    if status >= 500:
        return ServerError
    return ValidationError


def _error_detail(body: Any, raw: bytes) -> str:
    """BigCommerce's own words, from any of its error shapes, on one line."""
    parts: list[str] = []
    if isinstance(body, list):  # v2: [{status, message}]
        parts = [
            str(item.get("message", "")) for item in body if isinstance(item, dict)
        ]
    elif isinstance(body, dict):  # v3: {title, detail, errors: {field: message}}
        parts = [str(body[k]) for k in ("title", "detail", "message") if body.get(k)]
        errors = body.get("errors")
        if isinstance(errors, dict):
            parts += [f"{field}: {message}" for field, message in errors.items()]
        elif isinstance(errors, list):  # batches, v2 customer groups: [{title}]
            parts += [_item_error(e) for e in errors if isinstance(e, dict)]
    elif raw:
        parts = [raw[:200].decode(errors="replace")]
    return " ".join("; ".join(p for p in parts if p).split())[:500]


def _item_error(error: dict[str, Any]) -> str:
    """One item's error in a list of them, with its field messages if any."""
    fields = error.get("errors")
    if isinstance(fields, dict) and fields:
        return "; ".join(f"{field}: {message}" for field, message in fields.items())
    return str(error.get("title", error))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _same_field(write: MetafieldWrite, field: Metafield) -> bool:
    return (write.order_id, write.namespace, write.key) == (
        field.resource_id,
        field.namespace,
        field.key,
    )


def _matches_any(write: MetafieldWrite, fields: list[Metafield]) -> bool:
    return any(_same_field(write, field) for field in fields)
