"""BigCommerce client against scripted answers: every call, paging, errors, retries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from structlog.testing import capture_logs

from netterms_daemon.bigcommerce.client import PAGE_SIZE, BigCommerceClient
from netterms_daemon.bigcommerce.errors import (
    AuthenticationError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnexpectedResponseError,
    ValidationError,
)
from netterms_daemon.bigcommerce.models import MetafieldWrite
from netterms_daemon.config import Secret
from netterms_daemon.retry import ApiRetryPolicy
from tests.support.clocks import FakeClock
from tests.support.fake_api import API_URL, STORE_HASH, TOKEN, FakeApi, MockResponse

ORDER_DATE = "Mon, 05 Jan 2026 23:30:00 +0000"


def order_json(order_id: int = 100, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": order_id,
        "customer_id": 7,
        "status_id": 11,
        "status": "Awaiting Fulfillment",
        "date_created": ORDER_DATE,
        "date_modified": ORDER_DATE,
        "total_inc_tax": "1234.5600",
        "total_ex_tax": "1100.0000",
        "currency_code": "USD",
        "default_currency_code": "EUR",
        "staff_notes": "",
        "payment_status": "",
        "is_deleted": False,
    }
    return {**body, **overrides}


def hook_json(hook_id: int = 5, **overrides: Any) -> dict[str, Any]:
    body = {
        "id": hook_id,
        "client_id": "client",
        "store_hash": STORE_HASH,
        "scope": "store/order/*",
        "destination": "https://netterms.example/webhooks/bigcommerce",
        "is_active": True,
        "headers": {"X-Netterms-Secret": "s"},
        "created_at": 1767657000,
        "updated_at": 1767657000,
    }
    return {**body, **overrides}


def metafield_json(
    metafield_id: int, order_id: int, key: str = "terms"
) -> dict[str, Any]:
    return {
        "id": metafield_id,
        "resource_id": order_id,
        "resource_type": "order",
        "namespace": "netterms",
        "key": key,
        "value": '{"due": "2026-02-04"}',
        "permission_set": "app_only",
    }


def v3_page(items: list[Any], page: int, pages: int) -> dict[str, Any]:
    return {
        "data": items,
        "meta": {
            "pagination": {
                "total": len(items) * pages,
                "count": len(items),
                "per_page": PAGE_SIZE,
                "current_page": page,
                "total_pages": pages,
            }
        },
    }


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with aioresponses() as mock:
        fake = FakeApi(mock)
        yield fake
    assert not fake.violations, fake.violations


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def client(clock: FakeClock) -> AsyncIterator[BigCommerceClient]:
    policy = ApiRetryPolicy(max_attempts=3, initial_backoff_s=0.1, max_backoff_s=1)
    async with BigCommerceClient(
        STORE_HASH, Secret(TOKEN), api_url=API_URL, clock=clock, retry=policy
    ) as client:
        yield client


async def test_every_request_carries_token_accept_and_agent(
    api: FakeApi, client: BigCommerceClient
) -> None:
    """Every call sends X-Auth-Token and Accept: application/json.

    Without the Accept header, v2 answers XML.
    """
    api.reply(
        "GET",
        "/v2/store",
        {"id": "abc123", "name": "Shop", "timezone": {"name": "Pacific/Auckland"}},
    )

    info = await client.store_information()

    (sent,) = api.sent
    assert sent.url.host == "api.test"
    assert sent.path == "/v2/store"
    assert sent.headers["X-Auth-Token"] == TOKEN
    assert sent.headers["Accept"] == "application/json"
    assert sent.headers["User-Agent"].startswith("netterms/")
    assert info.timezone == "Pacific/Auckland"
    assert info.name == "Shop"


async def test_customer_groups_by_name_pages_until_204(
    api: FakeApi, client: BigCommerceClient
) -> None:
    """v2 paging: full pages continue, a 204 with no body ends the list."""
    full = [{"id": i, "name": f"G{i}"} for i in range(1, PAGE_SIZE + 1)]
    api.reply("GET", "/v2/customer_groups", full)
    api.reply("GET", "/v2/customer_groups", None, status=204)

    groups = await client.customer_groups(name="Net30 Wholesale")

    assert len(groups) == PAGE_SIZE
    assert [s.query for s in api.sent] == [
        {"name": "Net30 Wholesale", "page": "1", "limit": "250"},
        {"name": "Net30 Wholesale", "page": "2", "limit": "250"},
    ]


async def test_v2_short_page_ends_the_list(
    api: FakeApi, client: BigCommerceClient
) -> None:
    """A page shorter than the limit is the last; no extra call is made."""
    api.reply("GET", "/v2/customer_groups", [{"id": 3, "name": "Net30"}])

    groups = await client.customer_groups()

    assert [g.name for g in groups] == ["Net30"]
    assert len(api.sent) == 1


async def test_v2_empty_list_is_204(api: FakeApi, client: BigCommerceClient) -> None:
    """An empty v2 list comes back as 204 and an empty body, read as []."""
    api.reply("GET", "/v2/orders", None, status=204)

    assert [o async for o in client.orders()] == []


async def test_customer_group_by_id(api: FakeApi, client: BigCommerceClient) -> None:
    """One group by id."""
    api.reply(
        "GET", "/v2/customer_groups/9", {"id": 9, "name": "Net15", "is_default": False}
    )

    group = await client.customer_group(9)

    assert (group.id, group.name) == (9, "Net15")


async def test_create_customer_group(api: FakeApi, client: BigCommerceClient) -> None:
    """POST with the name as JSON."""
    api.reply("POST", "/v2/customer_groups", {"id": 12, "name": "Net30 Wholesale"})

    group = await client.create_customer_group("Net30 Wholesale")

    assert group.id == 12
    assert api.sent[0].body == {"name": "Net30 Wholesale"}
    assert api.sent[0].headers["Content-Type"] == "application/json"


async def test_create_after_unclear_failure_looks_up_first(
    api: FakeApi, client: BigCommerceClient
) -> None:
    """A 502 may hide a created group: the retry finds it and posts nothing again."""
    api.reply("POST", "/v2/customer_groups", {"title": "Bad Gateway"}, status=502)
    api.reply("GET", "/v2/customer_groups", [{"id": 12, "name": "Net30 Wholesale"}])

    with capture_logs() as logs:
        group = await client.create_customer_group("Net30 Wholesale")

    assert group.id == 12
    assert len(api.of("POST", "/v2/customer_groups")) == 1
    assert any(e["event"] == "bigcommerce.create_recovered" for e in logs)


async def test_create_after_refused_connection_posts_again(
    api: FakeApi, client: BigCommerceClient
) -> None:
    """A connection refused before sending cannot have created anything: post again."""
    api.reply(
        "POST",
        "/v2/customer_groups",
        exception=aiohttp.ClientConnectorError(
            aiohttp.client_reqrep.ConnectionKey(
                "api.test", 443, True, None, None, None, None
            ),
            OSError(111, "Connection refused"),
        ),
    )
    api.reply("POST", "/v2/customer_groups", {"id": 12, "name": "Net30 Wholesale"})

    group = await client.create_customer_group("Net30 Wholesale")

    assert group.id == 12
    assert [s.method for s in api.sent] == ["POST", "POST"]


async def test_customers_by_ids_in_one_call(
    api: FakeApi, client: BigCommerceClient
) -> None:
    """v3 customers by id:in, with the group each is in now."""
    api.reply(
        "GET",
        "/v3/customers",
        v3_page(
            [
                {"id": 7, "email": "a@x.test", "customer_group_id": 3},
                {"id": 8, "email": "b@x.test", "customer_group_id": 0},
            ],
            1,
            1,
        ),
    )

    customers = await client.customers([8, 7, 7])

    assert api.sent[0].query == {"id:in": "7,8", "page": "1", "limit": "250"}
    assert [(c.id, c.customer_group_id) for c in customers] == [(7, 3), (8, None)]


async def test_customers_in_groups_follow_v3_pages(
    api: FakeApi, client: BigCommerceClient
) -> None:
    """v3 paging follows meta.pagination until the last page."""
    api.reply(
        "GET", "/v3/customers", v3_page([{"id": 1, "customer_group_id": 3}], 1, 2)
    )
    api.reply(
        "GET", "/v3/customers", v3_page([{"id": 2, "customer_group_id": 4}], 2, 2)
    )

    customers = [c async for c in client.customers_in_groups([4, 3])]

    assert [c.id for c in customers] == [1, 2]
    assert [s.query["page"] for s in api.sent] == ["1", "2"]
    assert api.sent[0].query["customer_group_id:in"] == "3,4"


async def test_order_is_typed(api: FakeApi, client: BigCommerceClient) -> None:
    """Dates become aware datetimes, money Decimal, the currency the shopper pays in."""
    api.reply("GET", "/v2/orders/100", order_json(100))

    order = await client.order(100)

    assert order.date_created == datetime(2026, 1, 5, 23, 30, tzinfo=UTC)
    assert order.date_created.utcoffset() == timedelta(0)
    assert order.total_inc_tax == Decimal("1234.5600")
    assert order.currency_code == "EUR"
    assert order.customer_id == 7


async def test_orders_with_filters_every_page(
    api: FakeApi, client: BigCommerceClient
) -> None:
    """Filters become v2 query parameters; every page is read, 250 at a time."""
    api.reply("GET", "/v2/orders", [order_json(i) for i in range(PAGE_SIZE)])
    api.reply("GET", "/v2/orders", [order_json(1000)])
    since = datetime(2026, 1, 5, 9, 0, tzinfo=timezone(timedelta(hours=-5)))

    orders = [
        o
        async for o in client.orders(
            modified_since=since, status_id=7, customer_id=7, min_id=1, max_id=2000
        )
    ]

    assert len(orders) == PAGE_SIZE + 1
    assert api.sent[0].query == {
        "sort": "date_modified:asc",
        "min_date_modified": "Mon, 05 Jan 2026 14:00:00 +0000",
        "status_id": "7",
        "customer_id": "7",
        "min_id": "1",
        "max_id": "2000",
        "page": "1",
        "limit": "250",
    }


async def test_update_order_status_and_notes_in_one_put(
    api: FakeApi, client: BigCommerceClient
) -> None:
    """One PUT carries exactly the status and the staff notes."""
    api.reply(
        "PUT", "/v2/orders/100", order_json(100, status_id=7, staff_notes="Net 30")
    )

    order = await client.update_order(100, status_id=7, staff_notes="Net 30")

    assert api.sent[0].body == {"status_id": 7, "staff_notes": "Net 30"}
    assert order.status_id == 7


async def test_order_statuses(api: FakeApi, client: BigCommerceClient) -> None:
    """The status list, with the merchant's labels."""
    api.reply(
        "GET",
        "/v2/order_statuses",
        [
            {"id": 7, "name": "Awaiting Payment", "custom_label": "Invoice sent"},
            {"id": 11, "name": "Awaiting Fulfillment", "custom_label": ""},
        ],
    )

    statuses = await client.order_statuses()

    assert [(s.id, s.custom_label) for s in statuses] == [
        (7, "Invoice sent"),
        (11, "Awaiting Fulfillment"),
    ]


async def test_order_metafields_list_create_update(
    api: FakeApi, client: BigCommerceClient
) -> None:
    """List by namespace, create app_only, replace a value."""
    api.reply(
        "GET", "/v3/orders/100/metafields", v3_page([metafield_json(1, 100)], 1, 1)
    )
    api.reply(
        "POST",
        "/v3/orders/100/metafields",
        {"data": metafield_json(2, 100), "meta": {}},
    )
    api.reply(
        "PUT",
        "/v3/orders/100/metafields/2",
        {"data": metafield_json(2, 100), "meta": {}},
    )

    listed = await client.order_metafields(100, namespace="netterms")
    created = await client.create_order_metafield(
        MetafieldWrite(100, "netterms", "terms", '{"due": "2026-02-04"}')
    )
    updated = await client.update_order_metafield(100, 2, '{"due": "2026-02-05"}')

    assert [m.id for m in listed] == [1]
    assert api.sent[0].query["namespace"] == "netterms"
    assert api.sent[1].body == {
        "namespace": "netterms",
        "key": "terms",
        "value": '{"due": "2026-02-04"}',
        "permission_set": "app_only",
    }
    assert (created.id, updated.id) == (2, 2)
    assert api.sent[2].body == {"value": '{"due": "2026-02-05"}'}


async def test_order_metafields_in_batches(
    api: FakeApi, client: BigCommerceClient
) -> None:
    """Batch endpoints create and update many orders' metafields in one call each."""
    api.reply(
        "POST",
        "/v3/orders/metafields",
        {"data": [metafield_json(1, 100), metafield_json(2, 101)], "meta": {}},
    )
    api.reply(
        "PUT", "/v3/orders/metafields", {"data": [metafield_json(1, 100)], "meta": {}}
    )

    created = await client.create_order_metafields(
        [
            MetafieldWrite(100, "netterms", "terms", "a"),
            MetafieldWrite(101, "netterms", "terms", "b"),
        ]
    )
    updated = await client.update_order_metafields({1: "c"})

    assert [m.resource_id for m in created.created] == [100, 101]
    assert created.refused == []
    assert api.sent[0].body[1]["resource_id"] == 101
    assert api.sent[1].body == [{"id": 1, "value": "c"}]
    assert [m.id for m in updated] == [1]


async def test_batch_create_after_unclear_failure_sends_only_the_rest(
    api: FakeApi, client: BigCommerceClient
) -> None:
    """After a 500, fields that already exist are kept and only the others are sent."""
    api.reply("POST", "/v3/orders/metafields", {"title": "oops"}, status=500)
    api.reply(
        "GET", "/v3/orders/100/metafields", v3_page([metafield_json(1, 100)], 1, 1)
    )
    api.reply("GET", "/v3/orders/101/metafields", v3_page([], 1, 1))
    api.reply(
        "POST", "/v3/orders/metafields", {"data": [metafield_json(2, 101)], "meta": {}}
    )

    created = await client.create_order_metafields(
        [
            MetafieldWrite(100, "netterms", "terms", "a"),
            MetafieldWrite(101, "netterms", "terms", "b"),
        ]
    )

    posts = api.of("POST", "/v3/orders/metafields")
    assert [m.resource_id for m in created.created] == [100, 101]
    assert len(posts) == 2
    assert [item["resource_id"] for item in posts[1].body] == [101]


async def test_batch_create_partly_refused_names_the_refused_writes(
    api: FakeApi, client: BigCommerceClient
) -> None:
    """A 422 with data: what was made is kept, the rest is handed back, not raised."""
    api.reply(
        "POST",
        "/v3/orders/metafields",
        {
            "data": [metafield_json(2, 101)],
            "errors": [
                {
                    "status": 422,
                    "title": "Invalid metafield",
                    "type": "",
                    "errors": {"key": "already exists for this order"},
                }
            ],
            "meta": {"total": 2, "success": 1, "failed": 1},
        },
        status=422,
    )
    first = MetafieldWrite(100, "netterms", "terms", "a")
    second = MetafieldWrite(101, "netterms", "terms", "b")

    batch = await client.create_order_metafields([first, second])

    assert [m.resource_id for m in batch.created] == [101]
    assert batch.refused == [first]
    assert len(api.of("POST", "/v3/orders/metafields")) == 1


async def test_batch_create_malformed_request_raises(
    api: FakeApi, client: BigCommerceClient
) -> None:
    """A 400 is netterms' own mistake, not a partial success."""
    api.reply(
        "POST",
        "/v3/orders/metafields",
        {"status": 400, "title": "Bad Request", "type": ""},
        status=400,
    )

    with pytest.raises(ValidationError):
        await client.create_order_metafields(
            [MetafieldWrite(100, "netterms", "terms", "a")]
        )


async def test_webhooks_list_create_update_delete(
    api: FakeApi, client: BigCommerceClient
) -> None:
    """Hooks: list with filters, create with custom headers, re-enable, delete."""
    api.reply("GET", "/v3/hooks", v3_page([hook_json(5, is_active=False)], 1, 1))
    api.reply("POST", "/v3/hooks", {"data": hook_json(6), "meta": {}})
    api.reply("PUT", "/v3/hooks/5", {"data": hook_json(5), "meta": {}})
    api.reply("DELETE", "/v3/hooks/6", {"data": hook_json(6), "meta": {}})

    hooks = await client.webhooks(scope="store/order/*", is_active=False)
    created = await client.create_webhook(
        "store/order/*",
        "https://netterms.example/webhooks/bigcommerce",
        {"X-Netterms-Secret": "s"},
    )
    revived = await client.reactivate_webhook(5)
    await client.delete_webhook(6)

    assert api.sent[0].query == {
        "scope": "store/order/*",
        "is_active": "false",
        "page": "1",
        "limit": "250",
    }
    assert hooks[0].is_active is False
    assert api.sent[1].body["headers"] == {"X-Netterms-Secret": "s"}
    assert created.id == 6
    assert api.sent[2].body == {"is_active": True}
    assert revived.is_active
    assert api.sent[3].method == "DELETE"


async def test_delete_missing_webhook_counts_as_done(
    api: FakeApi, client: BigCommerceClient
) -> None:
    """Deleting a hook that is already gone is not an error."""
    api.reply(
        "DELETE", "/v3/hooks/6", {"status": 404, "title": "Not found"}, status=404
    )

    await client.delete_webhook(6)


async def test_hooks_admin_reports_blocked_domains(
    api: FakeApi, client: BigCommerceClient
) -> None:
    """The admin view: hook statuses and blocked domains with their reasons."""
    api.reply(
        "GET",
        "/v3/hooks/admin",
        {
            "data": {
                "emails": ["ops@example.test"],
                "hooks_list": [{"id": 5, "status": "deactivated"}],
                "blocked_domains": [
                    {
                        "destination": "https://netterms.example",
                        "time_left": 120,
                        "reasons": [
                            {
                                "failure_description": "timeout",
                                "count": 9,
                                "timestamp": 1,
                            }
                        ],
                    }
                ],
            },
            "meta": {},
        },
    )

    admin = await client.hooks_admin()

    assert admin.hook_statuses == {5: "deactivated"}
    assert admin.blocked_domains[0].time_left_s == 120
    assert admin.blocked_domains[0].reasons == ("timeout",)


@pytest.mark.parametrize(
    ("status", "error", "body"),
    [
        (401, AuthenticationError, {"status": 401, "title": "Unauthorized"}),
        (403, AuthenticationError, {"status": 403, "title": "Missing scope"}),
        (
            404,
            NotFoundError,
            [{"status": 404, "message": "The requested resource was not found."}],
        ),
        (
            422,
            ValidationError,
            {"status": 422, "title": "Bad", "errors": {"status_id": "invalid"}},
        ),
        (
            400,
            ValidationError,
            [{"status": 400, "message": "The field 'id' cannot be written to."}],
        ),
    ],
)
async def test_client_errors_are_classified_and_not_retried(
    api: FakeApi,
    client: BigCommerceClient,
    status: int,
    error: type[Exception],
    body: Any,
) -> None:
    """Non-429 4xx fail at once, naming method, path, status and BigCommerce's words."""
    api.reply("PUT", "/v2/orders/100", body, status=status)

    with pytest.raises(error) as caught:
        await client.update_order(100, status_id=7)

    message = str(caught.value)
    assert message.startswith(f"PUT /v2/orders/100: HTTP {status}")
    assert TOKEN not in message
    assert len(api.sent) == 1


async def test_validation_error_carries_bigcommerce_message(
    api: FakeApi, client: BigCommerceClient
) -> None:
    """The v3 error fields reach the message, so an operator can act on them."""
    api.reply(
        "POST",
        "/v3/hooks",
        {"status": 422, "title": "Invalid", "errors": {"destination": "must be https"}},
        status=422,
    )

    with pytest.raises(ValidationError, match="destination: must be https"):
        await client.create_webhook("store/order/*", "http://x.test", {})


async def test_server_errors_retried_then_raised(
    api: FakeApi, client: BigCommerceClient, clock: FakeClock
) -> None:
    """5xx is retried with backoff, a bounded number of times, then raised."""
    api.reply("GET", "/v2/orders/100", {"title": "down"}, status=503, repeat=True)

    with pytest.raises(ServerError, match="GET /v2/orders/100: HTTP 503"):
        await client.order(100)

    assert len(api.sent) == 3
    assert len(clock.sleeps) == 2
    assert all(0 < s <= 1.1 for s in clock.sleeps)


async def test_server_error_then_success(
    api: FakeApi, client: BigCommerceClient
) -> None:
    """A passing 500 costs a retry, not the call."""
    api.reply("GET", "/v2/orders/100", {"title": "oops"}, status=500)
    api.reply("GET", "/v2/orders/100", order_json(100))

    with capture_logs() as logs:
        order = await client.order(100)

    assert order.id == 100
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == [
        "bigcommerce.retrying"
    ]


async def test_timeout_is_transport_error_and_retried(
    api: FakeApi, client: BigCommerceClient
) -> None:
    """Timeouts and dropped connections are retried, then raised as TransportError."""
    api.reply("GET", "/v2/orders/100", exception=TimeoutError(), repeat=True)

    with pytest.raises(TransportError, match="GET /v2/orders/100: no response"):
        await client.order(100)

    assert len(api.sent) == 3


async def test_429_waits_out_the_longer_of_reset_and_retry_after(
    api: FakeApi, client: BigCommerceClient, clock: FakeClock
) -> None:
    """A 429 pauses the bucket for max(reset, retry-after), then the call succeeds."""
    api.reply(
        "GET",
        "/v2/orders/100",
        {"status": 429},
        status=429,
        headers={
            "X-Rate-Limit-Requests-Left": "0",
            "X-Rate-Limit-Time-Reset-Ms": "4000",
            "X-Retry-After": "7",
        },
    )
    api.reply("GET", "/v2/orders/100", order_json(100))

    order = await client.order(100)

    assert order.id == 100
    assert clock.elapsed >= 7.0
    assert len(api.sent) == 2


async def test_429_without_headers_backs_off(
    api: FakeApi, client: BigCommerceClient
) -> None:
    """A bare 429 (platform load) is retried with backoff, then raised."""
    api.reply(
        "GET",
        "/v2/store",
        None,
        status=429,
        repeat=True,
        quota_headers=False,
    )

    with pytest.raises(RateLimitedError, match="no reset given"):
        await client.store_information()


async def test_bucket_adapts_to_plan_from_headers(
    api: FakeApi, client: BigCommerceClient
) -> None:
    """A Pro plan's quota in the headers resizes the bucket."""
    api.reply(
        "GET",
        "/v2/orders/100",
        order_json(100),
        headers={
            "X-Rate-Limit-Requests-Quota": "450",
            "X-Rate-Limit-Time-Window-Ms": "30000",
        },
    )

    await client.order(100)

    assert client.bucket.quota == 450
    assert client.bucket.refill_per_s == pytest.approx((450 - 18) / 30)


async def test_bucket_clamped_to_requests_left(
    api: FakeApi, client: BigCommerceClient
) -> None:
    """Another app spent the quota: the bucket holds back until the store's reset."""
    api.reply(
        "GET",
        "/v2/orders/100",
        order_json(100),
        headers={
            "X-Rate-Limit-Requests-Left": "2",
            "X-Rate-Limit-Time-Reset-Ms": "10000",
        },
    )

    await client.order(100)

    assert client.bucket.tokens == pytest.approx(2 - 4.8 * 10)


async def test_unexpected_body_is_reported(
    api: FakeApi, client: BigCommerceClient
) -> None:
    """A 200 whose body is not an order names the call instead of crashing later."""
    api.reply("GET", "/v2/orders/100", {"id": 100})

    with pytest.raises(UnexpectedResponseError, match="GET /v2/orders/100"):
        await client.order(100)


async def test_calls_logged_at_debug_without_token(
    api: FakeApi, client: BigCommerceClient
) -> None:
    """Each call is one debug event: method, path, status, duration and quota left."""
    api.reply("GET", "/v2/orders/100", order_json(100))

    with capture_logs() as logs:
        await client.order(100)

    (call,) = [e for e in logs if e["event"] == "bigcommerce.call"]
    assert call["method"] == "GET"
    assert call["path"] == "/v2/orders/100"
    assert call["status"] == 200
    assert call["quota_left"] == 140
    assert "duration_ms" in call
    assert TOKEN not in repr(logs)


async def test_concurrency_is_capped(api: FakeApi, clock: FakeClock) -> None:
    """No more than max_concurrency requests are ever in flight at once."""
    in_flight = 0
    peak = 0

    async def slow(url: Any, **kwargs: Any) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1

    api.mock.get(
        f"{API_URL}/stores/{STORE_HASH}/v2/orders/1",
        payload=order_json(1),
        callback=slow,
        response_class=MockResponse,
        repeat=True,
    )
    async with BigCommerceClient(
        STORE_HASH, Secret(TOKEN), api_url=API_URL, clock=clock, max_concurrency=3
    ) as client:
        await asyncio.gather(*(client.order(1) for _ in range(12)))

    assert peak == 3
