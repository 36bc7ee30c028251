"""The simulated store's REST API over real HTTP, checked against BigCommerce's specs.

Every exchange made through `StoreClient.call` is validated against the
schemas derived from the official OpenAPI specs; the tests then check what
the data says: paging, filters, auth, the rate limit, injected faults, the
control API, and the project's own client against the simulator.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from netterms_daemon.bigcommerce.client import BigCommerceClient
from netterms_daemon.bigcommerce.models import (
    MetafieldWrite,
    format_rfc2822,
    parse_iso,
    parse_rfc2822,
)
from netterms_daemon.config import Secret
from netterms_daemon.simulator.core import StoreOptions
from netterms_daemon.simulator.server import Simulator
from tests.support.simulator import Reply, StoreClient, running_store

Store = tuple[Simulator, StoreClient]

START = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)
HOOK_URL = "https://netterms.example/webhooks/bigcommerce"
RATE_HEADERS = (
    "X-Rate-Limit-Requests-Left",
    "X-Rate-Limit-Requests-Quota",
    "X-Rate-Limit-Time-Window-Ms",
    "X-Rate-Limit-Time-Reset-Ms",
)
# Seed data, as SimulatedStore.seed() makes it in a fresh store.
NET30, RETAIL = 1, 2
ADA, ALAN, GRACE, LINUS = 1, 2, 3, 4


def order_body(customer_id: int = ADA, **extra: Any) -> dict[str, Any]:
    """A spec-valid POST /v2/orders body: two widgets, a billing address."""
    body: dict[str, Any] = {
        "customer_id": customer_id,
        "status_id": 11,
        "billing_address": {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "company": "Analytical Ltd",
            "street_1": "12 Engine Row",
            "city": "Austin",
            "state": "Texas",
            "zip": "78702",
            "country": "United States",
            "country_iso2": "US",
            "email": "ada@wholesale.test",
        },
        "products": [
            {
                "name": "Pallet of widgets",
                "quantity": 2,
                "price_inc_tax": 60.5,
                "price_ex_tax": 50,
            }
        ],
    }
    body.update(extra)
    return body


def metafield_body(key: str = "due_date", value: str = "2025-04-02") -> dict[str, Any]:
    """A spec-valid metafield to create."""
    return {
        "namespace": "netterms",
        "key": key,
        "value": value,
        "permission_set": "app_only",
        "description": "Net terms due date",
    }


def ids(reply: Reply) -> list[int]:
    """The ids in a v2 list (empty for a 204) or a v3 {data: [...]} answer."""
    if reply.body is None:
        return []
    items = reply.body["data"] if isinstance(reply.body, dict) else reply.body
    return [item["id"] for item in items]


async def control_call(
    client: StoreClient, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    """Call the control API and keep the status, which `control()` drops."""
    url = f"{client.simulator.url}/__simulator{path}"
    async with client.session.request(method, url, json=body) as response:
        return response.status, await response.json()


async def new_order(client: StoreClient, **extra: Any) -> dict[str, Any]:
    """Create an order through the API and return its body."""
    reply = await client.call("POST", "/v2/orders", order_body(**extra))
    assert reply.status == 200, reply.body
    body: dict[str, Any] = reply.body
    return body


async def new_metafield(
    client: StoreClient, order_id: int, key: str = "due_date"
) -> dict[str, Any]:
    """Create a metafield on an order through the API and return its data."""
    reply = await client.call(
        "POST", f"/v3/orders/{order_id}/metafields", metafield_body(key)
    )
    assert reply.status == 200, reply.body
    data: dict[str, Any] = reply.body["data"]
    return data


async def new_hook(
    client: StoreClient, scope: str = "store/order/*", destination: str = HOOK_URL
) -> dict[str, Any]:
    """Register a hook through the API and return its data."""
    body = {
        "scope": scope,
        "destination": destination,
        "is_active": True,
        "headers": {"X-Netterms-Secret": "s3cret"},
    }
    reply = await client.call("POST", "/v3/hooks", body)
    assert reply.status == 200, reply.body
    data: dict[str, Any] = reply.body["data"]
    return data


@pytest.fixture
async def seeded() -> AsyncIterator[Store]:
    """A store with the seed groups and customers, its clock starting at START."""
    async with running_store(StoreOptions(start=START, random_seed=7)) as pair:
        pair[0].store.seed()
        yield pair


@pytest.fixture
async def limited() -> AsyncIterator[Store]:
    """A store that allows five requests a minute."""
    async with running_store(StoreOptions(quota=5, window_s=60, random_seed=7)) as pair:
        yield pair


# Store information, time and order statuses


async def test_simulator_store_information_describes_the_store(seeded: Store) -> None:
    """GET /v2/store names the store, its hash, time zone, currency and plan."""
    _, client = seeded
    reply = await client.call("GET", "/v2/store")
    assert reply.status == 200
    assert reply.body["id"] == "sim123"
    assert reply.body["timezone"]["name"] == "America/Chicago"
    assert reply.body["currency"] == "USD"
    assert reply.body["plan_level"] == "Standard"


async def test_simulator_time_is_the_store_clock_in_unix_seconds(
    seeded: Store,
) -> None:
    """GET /v2/time answers the store clock as whole Unix seconds."""
    simulator, client = seeded
    reply = await client.call("GET", "/v2/time")
    assert reply.status == 200
    assert isinstance(reply.body["time"], int)
    assert abs(reply.body["time"] - simulator.store.clock.now().timestamp()) < 2
    assert abs(reply.body["time"] - START.timestamp()) < 30


async def test_simulator_order_statuses_list_all_fifteen(seeded: Store) -> None:
    """GET /v2/order_statuses lists ids 0 to 14, 7 being Awaiting Payment."""
    _, client = seeded
    reply = await client.call("GET", "/v2/order_statuses")
    assert reply.status == 200
    by_id = {status["id"]: status for status in reply.body}
    assert sorted(by_id) == list(range(15))
    assert by_id[7]["name"] == "Awaiting Payment"
    assert by_id[11]["name"] == "Awaiting Fulfillment"


# Customer groups (v2)


async def test_simulator_customer_groups_list_by_id(seeded: Store) -> None:
    """GET /v2/customer_groups lists every group, by id ascending."""
    _, client = seeded
    reply = await client.call("GET", "/v2/customer_groups")
    assert reply.status == 200
    assert [(g["id"], g["name"]) for g in reply.body] == [
        (NET30, "Net30 Wholesale"),
        (RETAIL, "Retail"),
    ]


async def test_simulator_customer_groups_name_filter_is_exact(seeded: Store) -> None:
    """The name filter matches the whole name only, not a part of it."""
    _, client = seeded
    whole = await client.call(
        "GET", "/v2/customer_groups", params={"name": "Net30 Wholesale"}
    )
    assert whole.status == 200
    assert ids(whole) == [NET30]
    part = await client.call("GET", "/v2/customer_groups", params={"name": "Net30"})
    assert part.status == 204
    assert part.body is None


async def test_simulator_customer_groups_no_match_answers_204(seeded: Store) -> None:
    """A group list with nothing to show is 204 with an empty body."""
    _, client = seeded
    reply = await client.call(
        "GET", "/v2/customer_groups", params={"name": "No Such Group"}
    )
    assert reply.status == 204
    assert reply.body is None


async def test_simulator_customer_group_create_adds_group(seeded: Store) -> None:
    """POST /v2/customer_groups creates the group and answers it."""
    _, client = seeded
    reply = await client.call("POST", "/v2/customer_groups", {"name": "Net60 Trade"})
    assert reply.status == 200
    assert reply.body["name"] == "Net60 Trade"
    assert reply.body["id"] == 3
    listed = await client.call(
        "GET", "/v2/customer_groups", params={"name": "Net60 Trade"}
    )
    assert ids(listed) == [3]


async def test_simulator_customer_group_create_duplicate_name_is_409(
    seeded: Store,
) -> None:
    """A second group with an existing name is refused with 409."""
    _, client = seeded
    reply = await client.call("POST", "/v2/customer_groups", {"name": "Retail"})
    assert reply.status == 409
    assert reply.body[0]["status"] == 409
    groups = await client.call("GET", "/v2/customer_groups")
    assert len(groups.body) == 2


async def test_simulator_customer_group_get_returns_group(seeded: Store) -> None:
    """GET /v2/customer_groups/{id} answers that group."""
    _, client = seeded
    reply = await client.call("GET", f"/v2/customer_groups/{NET30}")
    assert reply.status == 200
    assert reply.body["name"] == "Net30 Wholesale"
    assert reply.body["category_access"] == {"type": "all"}


async def test_simulator_customer_group_get_unknown_is_404(seeded: Store) -> None:
    """An unknown group id answers 404 in the v2 error shape."""
    _, client = seeded
    reply = await client.call("GET", "/v2/customer_groups/999")
    assert reply.status == 404
    assert reply.body[0]["status"] == 404


# Orders (v2)


async def test_simulator_order_create_totals_products(seeded: Store) -> None:
    """POST /v2/orders totals the products and keeps the billing address."""
    _, client = seeded
    order = await new_order(client)
    assert order["id"] == 100
    assert order["customer_id"] == ADA
    assert order["status_id"] == 11
    assert order["status"] == "Awaiting Fulfillment"
    assert order["total_inc_tax"] == "121.0000"
    assert order["total_ex_tax"] == "100.0000"
    assert order["total_tax"] == "21.0000"
    assert order["items_total"] == 2
    assert order["billing_address"]["street_1"] == "12 Engine Row"
    assert order["billing_address"]["zip"] == "78702"
    assert order["date_created"].endswith("+0000")


async def test_simulator_order_create_keeps_past_date_created(seeded: Store) -> None:
    """A date_created in the past, in RFC 2822 with any offset, is kept (in UTC)."""
    _, client = seeded
    order = await new_order(client, date_created="Thu, 20 Feb 2025 11:32:00 -0400")
    assert order["date_created"] == "Thu, 20 Feb 2025 15:32:00 +0000"
    assert parse_rfc2822(order["date_modified"]) >= START


async def test_simulator_order_create_future_date_created_is_400(
    seeded: Store,
) -> None:
    """A date_created after the store's now is refused with 400."""
    _, client = seeded
    future = format_rfc2822(START + timedelta(days=2))
    reply = await client.call("POST", "/v2/orders", order_body(date_created=future))
    assert reply.status == 400
    assert "future" in reply.body[0]["message"]


async def test_simulator_order_create_without_products_is_400(seeded: Store) -> None:
    """An order with no products is refused with 400 naming the field."""
    _, client = seeded
    body = order_body()
    del body["products"]
    reply = await client.call("POST", "/v2/orders", body)
    assert reply.status == 400
    assert reply.body[0]["status"] == 400
    assert "products" in reply.body[0]["message"]


async def test_simulator_order_create_unknown_customer_is_400(seeded: Store) -> None:
    """An order for a customer the store does not have is refused with 400."""
    _, client = seeded
    reply = await client.call("POST", "/v2/orders", order_body(customer_id=999))
    assert reply.status == 400
    assert "999" in reply.body[0]["message"]


async def test_simulator_order_get_returns_order(seeded: Store) -> None:
    """GET /v2/orders/{id} answers the order as created."""
    _, client = seeded
    created = await new_order(client)
    reply = await client.call("GET", f"/v2/orders/{created['id']}")
    assert reply.status == 200
    assert reply.body == created


async def test_simulator_order_get_unknown_is_404(seeded: Store) -> None:
    """An unknown order id answers 404 as a v2 list of {status, message}."""
    _, client = seeded
    reply = await client.call("GET", "/v2/orders/999")
    assert reply.status == 404
    assert reply.body == [
        {"status": 404, "message": "The requested resource was not found."}
    ]


async def test_simulator_order_update_changes_status_and_notes(
    seeded: Store,
) -> None:
    """PUT status_id and staff_notes changes both and moves date_modified."""
    _, client = seeded
    created = await new_order(client)
    await client.control("POST", "/clock/advance", {"seconds": 3600})
    reply = await client.call(
        "PUT",
        f"/v2/orders/{created['id']}",
        {"status_id": 7, "staff_notes": "Net 30: due 2025-04-02"},
    )
    assert reply.status == 200
    assert reply.body["status_id"] == 7
    assert reply.body["status"] == "Awaiting Payment"
    assert reply.body["staff_notes"] == "Net 30: due 2025-04-02"
    moved = parse_rfc2822(reply.body["date_modified"]) - parse_rfc2822(
        created["date_modified"]
    )
    assert moved >= timedelta(seconds=3600)
    assert reply.body["date_created"] == created["date_created"]
    again = await client.call("GET", f"/v2/orders/{created['id']}")
    assert again.body["status_id"] == 7


async def test_simulator_order_update_read_only_field_is_400(seeded: Store) -> None:
    """PUT with payment_status is refused: that field cannot be written."""
    _, client = seeded
    created = await new_order(client)
    reply = await client.call(
        "PUT", f"/v2/orders/{created['id']}", {"payment_status": "paid"}
    )
    assert reply.status == 400
    message = reply.body[0]["message"]
    assert "'payment_status'" in message
    assert "cannot be written" in message
    unchanged = await client.call("GET", f"/v2/orders/{created['id']}")
    assert unchanged.body["payment_status"] == ""


async def test_simulator_order_update_is_deleted_true_archives(seeded: Store) -> None:
    """PUT is_deleted=true archives the order and answers it with 200."""
    _, client = seeded
    created = await new_order(client)
    reply = await client.call(
        "PUT", f"/v2/orders/{created['id']}", {"is_deleted": True}
    )
    assert reply.status == 200
    assert reply.body["is_deleted"] is True


async def test_simulator_order_update_is_deleted_false_keeps_order(
    seeded: Store,
) -> None:
    """PUT is_deleted=false leaves a live order live, is_deleted a boolean."""
    _, client = seeded
    created = await new_order(client)
    reply = await client.call(
        "PUT", f"/v2/orders/{created['id']}", {"is_deleted": False}
    )
    assert reply.status == 200
    assert reply.body["is_deleted"] is False
    listed = await client.call("GET", "/v2/orders")
    assert ids(listed) == [created["id"]]


async def test_simulator_order_delete_archives_order(seeded: Store) -> None:
    """DELETE answers 204; the order leaves the list but reads as is_deleted."""
    _, client = seeded
    kept = await new_order(client)
    gone = await new_order(client)
    reply = await client.call("DELETE", f"/v2/orders/{gone['id']}")
    assert reply.status == 204
    assert reply.body is None
    listed = await client.call("GET", "/v2/orders")
    assert ids(listed) == [kept["id"]]
    archived = await client.call("GET", f"/v2/orders/{gone['id']}")
    assert archived.status == 200
    assert archived.body["is_deleted"] is True


# Customers (v3)


async def test_simulator_customers_create_takes_an_array(seeded: Store) -> None:
    """POST /v3/customers creates every customer in the array."""
    _, client = seeded
    body = [
        {
            "email": "edsger@wholesale.test",
            "first_name": "Edsger",
            "last_name": "Dijkstra",
            "company": "Semaphore BV",
            "customer_group_id": NET30,
        },
        {
            "email": "barbara@retail.test",
            "first_name": "Barbara",
            "last_name": "Liskov",
        },
    ]
    reply = await client.call("POST", "/v3/customers", body)
    assert reply.status == 200
    made = reply.body["data"]
    assert [c["email"] for c in made] == [b["email"] for b in body]
    assert [c["customer_group_id"] for c in made] == [NET30, 0]
    assert made[0]["company"] == "Semaphore BV"
    listed = await client.call("GET", "/v3/customers", params={"limit": "50"})
    assert ids(listed) == [ADA, ALAN, GRACE, LINUS, 5, 6]


async def test_simulator_customers_create_without_email_is_422(
    seeded: Store,
) -> None:
    """A customer without an email is refused with 422 naming the field."""
    simulator, client = seeded
    body = [{"first_name": "No", "last_name": "Email"}]
    # The body breaks the spec on purpose, so only the answer is checked.
    reply = await client.call("POST", "/v3/customers", body, check=False)
    assert reply.status == 422
    client.contract.validate_response("POST", "/v3/customers", 422, reply.body)
    assert reply.body["status"] == 422
    assert "0.email" in reply.body["errors"]
    assert len(simulator.store.state.customers) == 4


async def test_simulator_customers_create_more_than_ten_is_413(
    seeded: Store,
) -> None:
    """More than ten customers in one POST is refused with 413."""
    simulator, client = seeded
    body = [
        {"email": f"bulk{n}@retail.test", "first_name": "Bulk", "last_name": f"{n}"}
        for n in range(11)
    ]
    reply = await client.call("POST", "/v3/customers", body)
    assert reply.status == 413
    assert len(simulator.store.state.customers) == 4


async def test_simulator_customers_update_moves_customer_to_group(
    seeded: Store,
) -> None:
    """PUT /v3/customers moves a customer into another group."""
    _, client = seeded
    reply = await client.call(
        "PUT", "/v3/customers", [{"id": LINUS, "customer_group_id": NET30}]
    )
    assert reply.status == 200
    assert reply.body["data"][0]["id"] == LINUS
    assert reply.body["data"][0]["customer_group_id"] == NET30
    members = await client.call(
        "GET", "/v3/customers", params={"customer_group_id:in": str(NET30)}
    )
    assert ids(members) == [ADA, ALAN, LINUS]


async def test_simulator_customers_filter_by_id(seeded: Store) -> None:
    """GET /v3/customers?id:in= answers exactly those customers."""
    _, client = seeded
    reply = await client.call(
        "GET", "/v3/customers", params={"id:in": f"{ADA},{GRACE},999"}
    )
    assert reply.status == 200
    assert ids(reply) == [ADA, GRACE]
    assert reply.body["data"][1]["customer_group_id"] == RETAIL
    assert reply.body["meta"]["pagination"]["total"] == 2


async def test_simulator_customers_filter_by_group(seeded: Store) -> None:
    """GET /v3/customers?customer_group_id:in= answers the groups' members."""
    _, client = seeded
    one = await client.call(
        "GET", "/v3/customers", params={"customer_group_id:in": str(NET30)}
    )
    assert ids(one) == [ADA, ALAN]
    both = await client.call(
        "GET", "/v3/customers", params={"customer_group_id:in": f"{NET30},{RETAIL}"}
    )
    assert ids(both) == [ADA, ALAN, GRACE]


async def test_simulator_customers_paging_meta(seeded: Store) -> None:
    """v3 paging: meta.pagination gives total, pages, current page and links."""
    _, client = seeded
    first = await client.call("GET", "/v3/customers", params={"limit": "3"})
    pagination = first.body["meta"]["pagination"]
    assert ids(first) == [ADA, ALAN, GRACE]
    assert pagination["total"] == 4
    assert pagination["count"] == 3
    assert pagination["per_page"] == 3
    assert pagination["total_pages"] == 2
    assert pagination["current_page"] == 1
    assert pagination["links"]["next"] == "?page=2&limit=3"
    assert "previous" not in pagination["links"]

    last = await client.call("GET", "/v3/customers", params={"limit": "3", "page": "2"})
    pagination = last.body["meta"]["pagination"]
    assert ids(last) == [LINUS]
    assert pagination["current_page"] == 2
    assert pagination["links"]["previous"] == "?page=1&limit=3"
    assert "next" not in pagination["links"]


# Order metafields (v3), one at a time


async def test_simulator_order_metafield_create_is_listed(seeded: Store) -> None:
    """POST creates a metafield on the order; the order's list shows it."""
    _, client = seeded
    order = await new_order(client)
    made = await new_metafield(client, order["id"])
    assert made["resource_id"] == order["id"]
    assert made["resource_type"] == "order"
    assert (made["namespace"], made["key"]) == ("netterms", "due_date")
    assert made["value"] == "2025-04-02"
    assert parse_iso(made["date_created"]).tzinfo is not None
    listed = await client.call("GET", f"/v3/orders/{order['id']}/metafields")
    assert listed.status == 200
    assert listed.body["data"] == [made]
    by_key = await client.call(
        "GET",
        f"/v3/orders/{order['id']}/metafields",
        params={"namespace": "netterms", "key": "other"},
    )
    assert by_key.body["data"] == []


async def test_simulator_order_metafield_get_returns_it(seeded: Store) -> None:
    """GET /v3/orders/{id}/metafields/{metafield_id} answers the metafield."""
    _, client = seeded
    order = await new_order(client)
    made = await new_metafield(client, order["id"])
    reply = await client.call(
        "GET", f"/v3/orders/{order['id']}/metafields/{made['id']}"
    )
    assert reply.status == 200
    assert reply.body["data"] == made


async def test_simulator_order_metafield_update_changes_value(seeded: Store) -> None:
    """PUT changes the value and moves date_modified."""
    _, client = seeded
    order = await new_order(client)
    made = await new_metafield(client, order["id"])
    await client.control("POST", "/clock/advance", {"seconds": 60})
    reply = await client.call(
        "PUT",
        f"/v3/orders/{order['id']}/metafields/{made['id']}",
        {"value": "2025-05-02"},
    )
    assert reply.status == 200
    assert reply.body["data"]["value"] == "2025-05-02"
    assert parse_iso(reply.body["data"]["date_modified"]) > parse_iso(
        made["date_modified"]
    )


async def test_simulator_order_metafield_delete_removes_it(seeded: Store) -> None:
    """DELETE answers 204 and a later GET answers 404."""
    _, client = seeded
    order = await new_order(client)
    made = await new_metafield(client, order["id"])
    path = f"/v3/orders/{order['id']}/metafields/{made['id']}"
    reply = await client.call("DELETE", path)
    assert reply.status == 204
    assert reply.body is None
    listed = await client.call("GET", f"/v3/orders/{order['id']}/metafields")
    assert listed.body["data"] == []


async def test_simulator_order_metafield_unknown_id_is_404(seeded: Store) -> None:
    """GET, PUT and DELETE of an unknown metafield id answer the spec's 404."""
    _, client = seeded
    order = await new_order(client)
    path = f"/v3/orders/{order['id']}/metafields/999"
    for method, body in (("GET", None), ("PUT", {"value": "x"}), ("DELETE", None)):
        reply = await client.call(method, path, body)
        assert reply.status == 404
        assert reply.body["status"] == 404


async def test_simulator_order_metafield_duplicate_key_is_409(seeded: Store) -> None:
    """A second metafield with the same namespace and key on an order is 409."""
    _, client = seeded
    order = await new_order(client)
    await new_metafield(client, order["id"])
    reply = await client.call(
        "POST", f"/v3/orders/{order['id']}/metafields", metafield_body()
    )
    assert reply.status == 409
    assert reply.body["status"] == 409


async def test_simulator_order_metafield_unknown_order_is_404(seeded: Store) -> None:
    """Metafields of an order the store does not have answer 404."""
    _, client = seeded
    listed = await client.call("GET", "/v3/orders/999/metafields")
    assert listed.status == 404
    made = await client.call("POST", "/v3/orders/999/metafields", metafield_body())
    assert made.status == 404
    assert made.body["status"] == 404


# Order metafields (v3), in batches


async def test_simulator_metafield_batch_create_across_orders(seeded: Store) -> None:
    """POST /v3/orders/metafields creates one metafield on each order named."""
    _, client = seeded
    first, second = await new_order(client), await new_order(client)
    body = [
        {"resource_id": first["id"], **metafield_body()},
        {"resource_id": second["id"], **metafield_body()},
    ]
    reply = await client.call("POST", "/v3/orders/metafields", body)
    assert reply.status == 200
    assert [m["resource_id"] for m in reply.body["data"]] == [
        first["id"],
        second["id"],
    ]
    assert reply.body["errors"] == []
    assert reply.body["meta"] == {"total": 2, "success": 2, "failed": 0}


async def test_simulator_metafield_batch_create_partial_failure_is_422(
    seeded: Store,
) -> None:
    """A batch create with a bad item answers 422 with data, errors and meta."""
    simulator, client = seeded
    order = await new_order(client)
    body = [
        {"resource_id": order["id"], **metafield_body()},
        {"resource_id": 999, **metafield_body()},
    ]
    reply = await client.call("POST", "/v3/orders/metafields", body)
    assert reply.status == 422
    assert [m["resource_id"] for m in reply.body["data"]] == [order["id"]]
    assert len(reply.body["errors"]) == 1
    assert reply.body["errors"][0]["status"] == 422
    assert "resource_id" in reply.body["errors"][0]["errors"]
    assert reply.body["meta"] == {"total": 2, "success": 1, "failed": 1}
    assert len(simulator.store.state.metafields) == 1


async def test_simulator_metafield_batch_update_changes_values(seeded: Store) -> None:
    """PUT /v3/orders/metafields changes each metafield named by id."""
    _, client = seeded
    order = await new_order(client)
    due = await new_metafield(client, order["id"], "due_date")
    terms = await new_metafield(client, order["id"], "terms")
    body = [
        {"id": due["id"], "value": "2025-06-01"},
        {"id": terms["id"], "value": "60"},
    ]
    reply = await client.call("PUT", "/v3/orders/metafields", body)
    assert reply.status == 200
    assert [(m["id"], m["value"]) for m in reply.body["data"]] == [
        (due["id"], "2025-06-01"),
        (terms["id"], "60"),
    ]
    assert reply.body["meta"] == {"total": 2, "success": 2, "failed": 0}


async def test_simulator_metafield_batch_update_partial_failure_is_422(
    seeded: Store,
) -> None:
    """A batch update naming an unknown id answers 422; the good one is applied."""
    _, client = seeded
    order = await new_order(client)
    due = await new_metafield(client, order["id"])
    body = [{"id": due["id"], "value": "2025-06-01"}, {"id": 999, "value": "x"}]
    reply = await client.call("PUT", "/v3/orders/metafields", body)
    assert reply.status == 422
    assert [m["value"] for m in reply.body["data"]] == ["2025-06-01"]
    assert reply.body["errors"][0]["errors"] == {"id": "no such metafield"}
    assert reply.body["meta"] == {"total": 2, "success": 1, "failed": 1}


async def test_simulator_metafield_batch_delete_removes_ids(seeded: Store) -> None:
    """DELETE /v3/orders/metafields deletes every id listed and answers them."""
    simulator, client = seeded
    order = await new_order(client)
    due = await new_metafield(client, order["id"], "due_date")
    terms = await new_metafield(client, order["id"], "terms")
    reply = await client.call(
        "DELETE", "/v3/orders/metafields", [due["id"], terms["id"]]
    )
    assert reply.status == 200
    assert reply.body["data"] == [due["id"], terms["id"]]
    assert reply.body["meta"] == {"total": 2, "success": 2, "failed": 0}
    assert simulator.store.state.metafields == {}


async def test_simulator_metafield_batch_delete_partial_failure_is_422(
    seeded: Store,
) -> None:
    """A batch delete with an unknown id answers 422 with data, errors and meta."""
    simulator, client = seeded
    order = await new_order(client)
    due = await new_metafield(client, order["id"])
    reply = await client.call("DELETE", "/v3/orders/metafields", [due["id"], 999])
    assert reply.status == 422
    assert reply.body["data"] == [due["id"]]
    assert len(reply.body["errors"]) == 1
    assert reply.body["meta"] == {"total": 2, "success": 1, "failed": 1}
    assert simulator.store.state.metafields == {}


# Webhooks (v3)


async def test_simulator_hook_create_keeps_custom_headers(seeded: Store) -> None:
    """POST /v3/hooks registers the hook with its custom headers."""
    simulator, client = seeded
    hook = await new_hook(client)
    assert hook["scope"] == "store/order/*"
    assert hook["destination"] == HOOK_URL
    assert hook["is_active"] is True
    assert hook["headers"] == {"X-Netterms-Secret": "s3cret"}
    assert hook["store_hash"] == "sim123"
    assert hook["client_id"] == "netterms-simulator"
    assert abs(hook["created_at"] - simulator.store.clock.now().timestamp()) < 5
    assert hook["updated_at"] == hook["created_at"]


async def test_simulator_hook_list_filters(seeded: Store) -> None:
    """GET /v3/hooks filters on scope, destination and is_active."""
    _, client = seeded
    orders = await new_hook(client, "store/order/*")
    customers = await new_hook(client, "store/customer/*")
    other = await new_hook(client, "store/order/*", "https://other.example/hooks")
    await client.call("PUT", f"/v3/hooks/{other['id']}", {"is_active": False})

    every = await client.call("GET", "/v3/hooks")
    assert ids(every) == [orders["id"], customers["id"], other["id"]]
    by_scope = await client.call("GET", "/v3/hooks", params={"scope": "store/order/*"})
    assert ids(by_scope) == [orders["id"], other["id"]]
    by_destination = await client.call(
        "GET", "/v3/hooks", params={"destination": HOOK_URL}
    )
    assert ids(by_destination) == [orders["id"], customers["id"]]
    inactive = await client.call("GET", "/v3/hooks", params={"is_active": "false"})
    assert ids(inactive) == [other["id"]]
    active = await client.call("GET", "/v3/hooks", params={"is_active": "true"})
    assert ids(active) == [orders["id"], customers["id"]]


async def test_simulator_hook_get_returns_it(seeded: Store) -> None:
    """GET /v3/hooks/{id} answers the hook; an unknown id is 404."""
    _, client = seeded
    hook = await new_hook(client)
    reply = await client.call("GET", f"/v3/hooks/{hook['id']}")
    assert reply.status == 200
    assert reply.body["data"] == hook
    unknown = await client.call("GET", "/v3/hooks/999")
    assert unknown.status == 404


async def test_simulator_hook_update_changes_fields(seeded: Store) -> None:
    """PUT /v3/hooks/{id} changes the fields sent and keeps the others."""
    _, client = seeded
    hook = await new_hook(client)
    await client.control("POST", "/clock/advance", {"seconds": 60})
    reply = await client.call(
        "PUT",
        f"/v3/hooks/{hook['id']}",
        {"is_active": False, "headers": {"X-Netterms-Secret": "rotated"}},
    )
    assert reply.status == 200
    data = reply.body["data"]
    assert data["is_active"] is False
    assert data["headers"] == {"X-Netterms-Secret": "rotated"}
    assert data["scope"] == hook["scope"]
    assert data["updated_at"] >= hook["updated_at"] + 60


async def test_simulator_hook_delete_removes_it(seeded: Store) -> None:
    """DELETE /v3/hooks/{id} answers the deleted hook; it is gone after."""
    _, client = seeded
    hook = await new_hook(client)
    reply = await client.call("DELETE", f"/v3/hooks/{hook['id']}")
    assert reply.status == 200
    assert reply.body["data"]["id"] == hook["id"]
    after = await client.call("GET", f"/v3/hooks/{hook['id']}")
    assert after.status == 404
    assert (await client.call("GET", "/v3/hooks")).body["data"] == []


async def test_simulator_hook_duplicate_scope_and_destination_is_422(
    seeded: Store,
) -> None:
    """A second hook for the same scope and destination is refused with 422."""
    _, client = seeded
    await new_hook(client)
    reply = await client.call(
        "POST",
        "/v3/hooks",
        {"scope": "store/order/*", "destination": HOOK_URL, "is_active": True},
    )
    assert reply.status == 422
    assert reply.body["status"] == 422
    assert len((await client.call("GET", "/v3/hooks")).body["data"]) == 1


async def test_simulator_hooks_admin_lists_hook_statuses(seeded: Store) -> None:
    """GET /v3/hooks/admin lists emails, hook statuses and blocked domains."""
    simulator, client = seeded
    live = await new_hook(client, "store/order/*")
    dead = await new_hook(client, "store/customer/*")
    simulator.store.state.hooks[dead["id"]].is_active = False
    simulator.store.state.hooks[dead["id"]].deactivated = True
    reply = await client.call("GET", "/v3/hooks/admin")
    assert reply.status == 200
    data = reply.body["data"]
    assert data["emails"] == []
    assert data["blocked_domains"] == []
    statuses = {h["id"]: h["status"] for h in data["hooks_list"]}
    assert statuses == {live["id"]: "active", dead["id"]: "deactivated"}
    only_active = await client.call(
        "GET", "/v3/hooks/admin", params={"is_active": "true"}
    )
    assert [h["id"] for h in only_active.body["data"]["hooks_list"]] == [live["id"]]


async def test_simulator_hooks_admin_put_emails_is_204(seeded: Store) -> None:
    """PUT /v3/hooks/admin stores the alert emails and answers 204."""
    _, client = seeded
    emails = ["ops@netterms.example", "billing@netterms.example"]
    reply = await client.call("PUT", "/v3/hooks/admin", {"emails": emails})
    assert reply.status == 204
    assert reply.body is None
    admin = await client.call("GET", "/v3/hooks/admin")
    assert admin.body["data"]["emails"] == emails


# Paging and filters of the v2 order list


async def test_simulator_orders_list_pages_then_204(seeded: Store) -> None:
    """limit=2 pages through five orders by id, then 204 past the end."""
    simulator, client = seeded
    made = [simulator.store.add_order(ADA, Decimal("100.00")).id for _ in range(5)]
    pages = []
    for page in (1, 2, 3):
        reply = await client.call(
            "GET", "/v2/orders", params={"limit": "2", "page": str(page)}
        )
        assert reply.status == 200
        pages.append(ids(reply))
    assert pages == [made[0:2], made[2:4], made[4:5]]
    past = await client.call("GET", "/v2/orders", params={"limit": "2", "page": "4"})
    assert past.status == 204
    assert past.body is None


async def test_simulator_orders_list_empty_is_204(seeded: Store) -> None:
    """A store without orders answers its order list with 204."""
    _, client = seeded
    reply = await client.call("GET", "/v2/orders")
    assert reply.status == 204
    assert reply.body is None


async def test_simulator_orders_list_limit_capped_at_250(seeded: Store) -> None:
    """A limit above 250 is served as 250."""
    simulator, client = seeded
    for _ in range(260):
        simulator.store.add_order(ADA, Decimal("10.00"))
    first = await client.call("GET", "/v2/orders", params={"limit": "300"})
    assert first.status == 200
    assert len(first.body) == 250
    assert ids(first)[0] == 100
    second = await client.call(
        "GET", "/v2/orders", params={"limit": "300", "page": "2"}
    )
    assert ids(second) == list(range(350, 360))


async def test_simulator_orders_list_sorts_by_date_modified_desc(
    seeded: Store,
) -> None:
    """sort=date_modified:desc puts the most recently changed order first."""
    simulator, client = seeded
    first = simulator.store.add_order(ADA, Decimal("10.00"))
    simulator.store.clock.advance(60)
    second = simulator.store.add_order(ALAN, Decimal("20.00"))
    simulator.store.clock.advance(60)
    third = simulator.store.add_order(GRACE, Decimal("30.00"))
    simulator.store.clock.advance(60)
    await client.call("PUT", f"/v2/orders/{first.id}", {"staff_notes": "touched"})
    reply = await client.call(
        "GET", "/v2/orders", params={"sort": "date_modified:desc"}
    )
    assert ids(reply) == [first.id, third.id, second.id]
    stamps = [parse_rfc2822(o["date_modified"]) for o in reply.body]
    assert stamps == sorted(stamps, reverse=True)


async def three_orders_an_hour_apart(simulator: Simulator) -> list[int]:
    """Orders changed at START, START + 1 h and START + 2 h (plus real time)."""
    made = []
    for hour in range(3):
        if hour:
            simulator.store.clock.advance(3600)
        made.append(simulator.store.add_order(ADA, Decimal("10.00")).id)
    return made


async def test_simulator_orders_min_date_modified_takes_rfc2822(
    seeded: Store,
) -> None:
    """min_date_modified in RFC 2822 keeps orders changed at or after it."""
    simulator, client = seeded
    made = await three_orders_an_hour_apart(simulator)
    bound = "Mon, 03 Mar 2025 12:00:00 -0400"  # START + 1 h, in another offset
    reply = await client.call("GET", "/v2/orders", params={"min_date_modified": bound})
    assert ids(reply) == made[1:]


async def test_simulator_orders_min_date_modified_takes_iso8601(
    seeded: Store,
) -> None:
    """min_date_modified in ISO 8601 keeps orders changed at or after it."""
    simulator, client = seeded
    made = await three_orders_an_hour_apart(simulator)
    bound = "2025-03-03T13:00:00.000-04:00"  # START + 2 h
    reply = await client.call("GET", "/v2/orders", params={"min_date_modified": bound})
    assert ids(reply) == made[2:]


async def test_simulator_orders_min_date_modified_takes_minus_zero_zone(
    seeded: Store,
) -> None:
    """min_date_modified in RFC 2822 with the '-0000' (UTC) zone is accepted."""
    simulator, client = seeded
    made = await three_orders_an_hour_apart(simulator)
    params = {"min_date_modified": "Mon, 03 Mar 2025 16:00:00 -0000"}  # START + 1 h
    url = f"{simulator.api_root}/v2/orders"
    client.contract.validate_request("GET", url, params, None)
    # Raw, since the failure is a text/plain 500 that StoreClient cannot decode.
    headers = {"X-Auth-Token": client.token, "Accept": "application/json"}
    async with client.session.get(url, params=params, headers=headers) as response:
        assert response.status == 200, await response.text()
        body = await response.json()
    assert [order["id"] for order in body] == made[1:]


async def test_simulator_orders_filter_by_status(seeded: Store) -> None:
    """status_id keeps only the orders in that status."""
    simulator, client = seeded
    awaiting = simulator.store.add_order(ADA, Decimal("10.00"), status_id=7)
    simulator.store.add_order(ADA, Decimal("10.00"), status_id=11)
    also = simulator.store.add_order(ALAN, Decimal("10.00"), status_id=7)
    reply = await client.call("GET", "/v2/orders", params={"status_id": "7"})
    assert ids(reply) == [awaiting.id, also.id]
    assert {o["status"] for o in reply.body} == {"Awaiting Payment"}


async def test_simulator_orders_filter_by_customer(seeded: Store) -> None:
    """customer_id keeps only that customer's orders."""
    simulator, client = seeded
    simulator.store.add_order(ADA, Decimal("10.00"))
    alans = simulator.store.add_order(ALAN, Decimal("10.00"))
    simulator.store.add_order(GRACE, Decimal("10.00"))
    reply = await client.call("GET", "/v2/orders", params={"customer_id": str(ALAN)})
    assert ids(reply) == [alans.id]
    none = await client.call("GET", "/v2/orders", params={"customer_id": str(LINUS)})
    assert none.status == 204


async def test_simulator_orders_filter_by_id_range(seeded: Store) -> None:
    """min_id and max_id bound the ids, both inclusive."""
    simulator, client = seeded
    made = [simulator.store.add_order(ADA, Decimal("1.00")).id for _ in range(5)]
    reply = await client.call(
        "GET", "/v2/orders", params={"min_id": str(made[1]), "max_id": str(made[3])}
    )
    assert ids(reply) == made[1:4]


# Authentication


async def test_simulator_auth_missing_token_is_401_v2_list(seeded: Store) -> None:
    """A v2 call without X-Auth-Token answers 401 as a list of {status, message}."""
    simulator, client = seeded
    url = f"{simulator.api_root}/v2/orders"
    headers = {"Accept": "application/json"}
    async with client.session.get(url, headers=headers) as response:
        assert response.status == 401
        body = await response.json()
    assert isinstance(body, list)
    assert body[0]["status"] == 401
    assert body[0]["message"]


async def test_simulator_auth_wrong_token_is_401_v3_object(seeded: Store) -> None:
    """A v3 call with a wrong X-Auth-Token answers 401 as {status, title, ...}."""
    simulator, client = seeded
    reply = await client.call(
        "GET", "/v3/hooks", headers={"X-Auth-Token": "not-the-token"}
    )
    assert reply.status == 401
    client.contract.validate_response("GET", "/v3/hooks", 401, reply.body)
    assert reply.body["status"] == 401
    assert reply.body["title"]
    assert simulator.store.api_calls.total() == 0


async def test_simulator_auth_wrong_store_hash_is_404(seeded: Store) -> None:
    """A path naming another store's hash answers 404, even with the token."""
    simulator, client = seeded
    url = f"{simulator.url}/stores/other9/v2/store"
    headers = {"X-Auth-Token": client.token, "Accept": "application/json"}
    async with client.session.get(url, headers=headers) as response:
        assert response.status == 404
        body = await response.json()
    assert body[0]["status"] == 404


# Rate limit


async def test_simulator_rate_limit_headers_count_down(limited: Store) -> None:
    """Every answer, errors too, carries the quota headers; requests-left falls."""
    _, client = limited
    left = []
    for path in ("/v2/time", "/v2/orders/999", "/v2/time", "/v2/store", "/v2/time"):
        reply = await client.call("GET", path)
        assert reply.status in (200, 404)
        assert all(name in reply.headers for name in RATE_HEADERS)
        assert reply.headers["X-Rate-Limit-Requests-Quota"] == "5"
        assert reply.headers["X-Rate-Limit-Time-Window-Ms"] == "60000"
        assert 0 < int(reply.headers["X-Rate-Limit-Time-Reset-Ms"]) <= 60000
        left.append(int(reply.headers["X-Rate-Limit-Requests-Left"]))
    assert left == [4, 3, 2, 1, 0]


async def test_simulator_rate_limit_refuses_past_quota_with_429(
    limited: Store,
) -> None:
    """The sixth call in the window is 429 with X-Retry-After, and is counted."""
    _, client = limited
    for _ in range(5):
        assert (await client.call("GET", "/v2/time")).status == 200
    refused = await client.call("GET", "/v2/time")
    assert refused.status == 429
    assert refused.body[0]["status"] == 429
    assert refused.headers["X-Rate-Limit-Requests-Left"] == "0"
    assert int(refused.headers["X-Rate-Limit-Time-Reset-Ms"]) > 0
    assert 1 <= int(refused.headers["X-Retry-After"]) <= 60
    status = await client.control("GET", "/status")
    assert status["rate_limited"] == 1
    assert status["api_calls"] == {"GET /v2/time": 5}


async def test_simulator_rate_limit_spares_control_api(limited: Store) -> None:
    """The control API answers past the quota and spends none of it."""
    _, client = limited
    for _ in range(8):
        code, _body = await control_call(client, "GET", "/status")
        assert code == 200
    reply = await client.call("GET", "/v2/time")
    assert reply.headers["X-Rate-Limit-Requests-Left"] == "4"


# Faults


async def test_simulator_fault_api_error_rate_fails_every_call(
    seeded: Store,
) -> None:
    """api_error_rate=1 makes every call 500; back to 0, calls succeed again."""
    _, client = seeded
    faults = await client.control("PUT", "/faults", {"api_error_rate": 1})
    assert faults["api_error_rate"] == 1.0
    for path in ("/v2/time", "/v2/orders", "/v3/customers"):
        reply = await client.call("GET", path)
        assert reply.status == 500
    v2 = await client.call("GET", "/v2/store")
    assert v2.body[0]["status"] == 500
    v3 = await client.call("GET", "/v3/hooks")
    assert v3.body["status"] == 500

    await client.control("PUT", "/faults", {"api_error_rate": 0})
    assert (await client.call("GET", "/v2/time")).status == 200
    assert (await client.call("GET", "/v3/customers")).status == 200


async def test_simulator_fault_api_latency_delays_calls(seeded: Store) -> None:
    """api_latency_ms=200 makes a call take at least 0.2 s."""
    _, client = seeded
    await client.control("PUT", "/faults", {"api_latency_ms": 200})
    started = time.monotonic()
    reply = await client.call("GET", "/v2/time")
    assert reply.status == 200
    assert time.monotonic() - started >= 0.2


async def test_simulator_fault_unknown_name_is_400(seeded: Store) -> None:
    """An unknown fault is refused with 400 naming it; nothing changes."""
    _, client = seeded
    code, body = await control_call(
        client, "PUT", "/faults", {"api_error_rate": 0.5, "disk_full_rate": 1}
    )
    assert code == 400
    assert len(body["errors"]) == 1
    assert body["errors"][0].startswith("disk_full_rate: unknown fault")
    status = await client.control("GET", "/status")
    assert status["faults"]["api_error_rate"] == 0.0


async def test_simulator_fault_rate_above_one_is_400(seeded: Store) -> None:
    """A rate above 1 is refused with 400 saying the allowed range."""
    _, client = seeded
    code, body = await control_call(client, "PUT", "/faults", {"api_error_rate": 1.5})
    assert code == 400
    assert body["errors"] == ["api_error_rate: must be between 0 and 1, got 1.5"]
    status = await client.control("GET", "/status")
    assert status["faults"]["api_error_rate"] == 0.0


# Control API


async def test_simulator_control_clock_advance_moves_time_and_orders(
    seeded: Store,
) -> None:
    """Advancing the clock a day moves /v2/time and new orders' date_created."""
    _, client = seeded
    before_time = (await client.call("GET", "/v2/time")).body["time"]
    before = await new_order(client)
    answer = await client.control("POST", "/clock/advance", {"seconds": 86400})
    assert parse_iso(answer["now"]) >= START + timedelta(days=1)
    after_time = (await client.call("GET", "/v2/time")).body["time"]
    after = await new_order(client)
    assert 86400 <= after_time - before_time <= 86402
    moved = parse_rfc2822(after["date_created"]) - parse_rfc2822(before["date_created"])
    assert timedelta(days=1) <= moved <= timedelta(days=1, seconds=2)


async def test_simulator_control_clock_advance_negative_is_400(seeded: Store) -> None:
    """The clock does not go back: negative seconds are refused with 400."""
    simulator, client = seeded
    before = simulator.store.clock.now()
    code, body = await control_call(client, "POST", "/clock/advance", {"seconds": -60})
    assert code == 400
    assert body["errors"]
    assert simulator.store.clock.now() >= before


async def test_simulator_control_reset_with_seed_restores_seed_data(
    seeded: Store,
) -> None:
    """POST /reset {seed: true} empties orders and seeds groups and customers."""
    _, client = seeded
    await new_order(client)
    await client.call("POST", "/v2/customer_groups", {"name": "Net60 Trade"})
    answer = await client.control("POST", "/reset", {"seed": True})
    assert answer["reset"] is True
    assert [g["name"] for g in answer["seeded"]["groups"]] == [
        "Net30 Wholesale",
        "Retail",
    ]
    assert (await client.call("GET", "/v2/orders")).status == 204
    groups = await client.call("GET", "/v2/customer_groups")
    assert [(g["id"], g["name"]) for g in groups.body] == [
        (NET30, "Net30 Wholesale"),
        (RETAIL, "Retail"),
    ]
    customers = await client.call("GET", "/v3/customers")
    assert ids(customers) == [ADA, ALAN, GRACE, LINUS]


async def test_simulator_control_status_counts_calls_by_route(seeded: Store) -> None:
    """GET /status counts API calls by method and route template."""
    _, client = seeded
    order = await new_order(client)
    await client.call("GET", f"/v2/orders/{order['id']}")
    await client.call("GET", "/v2/orders/999")
    await client.call("GET", "/v2/orders")
    await client.call("PUT", f"/v2/orders/{order['id']}", {"status_id": 7})
    status = await client.control("GET", "/status")
    assert status["api_calls"] == {
        "GET /v2/orders": 1,
        "GET /v2/orders/{order_id}": 2,
        "POST /v2/orders": 1,
        "PUT /v2/orders/{order_id}": 1,
    }
    assert status["api_calls_total"] == 5
    assert status["records"]["orders"] == 1
    assert status["store_hash"] == "sim123"


# The project's own client against the simulator


@pytest.fixture
async def bigcommerce() -> AsyncIterator[tuple[Simulator, BigCommerceClient]]:
    """The seeded simulator and netterms' client for it.

    The quota is raised so that the client's token bucket, which learns the
    store's quota from the headers, does not pace these few dozen calls.
    """
    options = StoreOptions(start=START, quota=10_000, window_s=1.0, random_seed=7)
    async with Simulator(options) as simulator:
        simulator.store.seed()
        token = Secret(simulator.store.options.access_token)
        async with BigCommerceClient("sim123", token, api_url=simulator.url) as client:
            yield simulator, client


async def test_simulator_client_reads_store_and_groups(
    bigcommerce: tuple[Simulator, BigCommerceClient],
) -> None:
    """store_information and the customer group calls parse the simulator."""
    _, client = bigcommerce
    info = await client.store_information()
    assert (info.id, info.timezone, info.currency) == (
        "sim123",
        "America/Chicago",
        "USD",
    )
    groups = await client.customer_groups()
    assert [(g.id, g.name) for g in groups] == [
        (NET30, "Net30 Wholesale"),
        (RETAIL, "Retail"),
    ]
    named = await client.customer_groups(name="Retail")
    assert [g.id for g in named] == [RETAIL]
    assert await client.customer_groups(name="Nobody") == []
    one = await client.customer_group(NET30)
    assert one.name == "Net30 Wholesale"
    assert one.is_default is False
    made = await client.create_customer_group("Net60 Trade")
    assert (made.id, made.name) == (3, "Net60 Trade")


async def test_simulator_client_reads_customers(
    bigcommerce: tuple[Simulator, BigCommerceClient],
) -> None:
    """customers and customers_in_groups parse ids, emails and groups."""
    _, client = bigcommerce
    found = await client.customers([GRACE, ADA, LINUS])
    assert [(c.id, c.customer_group_id) for c in found] == [
        (ADA, NET30),
        (GRACE, RETAIL),
        (LINUS, None),
    ]
    assert found[0].email == "ada@wholesale.test"
    assert found[0].company == "Analytical Ltd"
    members = [c async for c in client.customers_in_groups([NET30])]
    assert [c.id for c in members] == [ADA, ALAN]


async def test_simulator_client_reads_and_updates_orders(
    bigcommerce: tuple[Simulator, BigCommerceClient],
) -> None:
    """order, orders, update_order and order_statuses give typed values."""
    simulator, client = bigcommerce
    old = simulator.store.add_order(
        ADA, Decimal("1234.56"), status_id=7, tax=Decimal("34.56")
    )
    simulator.store.clock.advance(3600)
    since = simulator.store.clock.now()
    new = simulator.store.add_order(ALAN, Decimal("99.99"), status_id=7)
    simulator.store.add_order(GRACE, Decimal("5.00"), status_id=11)

    order = await client.order(old.id)
    assert order.total_inc_tax == Decimal("1234.5600")
    assert order.total_ex_tax == Decimal("1200.0000")
    assert isinstance(order.total_inc_tax, Decimal)
    assert order.date_created.tzinfo is not None
    assert order.date_created.utcoffset() == timedelta(0)
    assert (order.customer_id, order.status_id, order.currency_code) == (
        ADA,
        7,
        "USD",
    )

    recent = [o async for o in client.orders(modified_since=since, status_id=7)]
    assert [o.id for o in recent] == [new.id]
    awaiting = [o async for o in client.orders(status_id=7)]
    assert [o.id for o in awaiting] == [old.id, new.id]

    updated = await client.update_order(
        new.id, status_id=11, staff_notes="Paid by cheque"
    )
    assert (updated.status_id, updated.status) == (11, "Awaiting Fulfillment")
    assert updated.staff_notes == "Paid by cheque"
    assert updated.date_modified > order.date_modified

    statuses = await client.order_statuses()
    assert len(statuses) == 15
    assert {s.id: s.name for s in statuses}[7] == "Awaiting Payment"


async def test_simulator_client_writes_order_metafields(
    bigcommerce: tuple[Simulator, BigCommerceClient],
) -> None:
    """The metafield calls create, read and update metafields one and many."""
    simulator, client = bigcommerce
    first = simulator.store.add_order(ADA, Decimal("10.00"), status_id=7).id
    second = simulator.store.add_order(ALAN, Decimal("20.00"), status_id=7).id

    due = await client.create_order_metafield(
        MetafieldWrite(first, "netterms", "due_date", "2025-04-02")
    )
    assert (due.resource_id, due.key, due.value) == (first, "due_date", "2025-04-02")
    assert due.permission_set == "app_only"
    listed = await client.order_metafields(first, namespace="netterms")
    assert listed == [due]
    assert await client.order_metafields(first, key="other") == []

    changed = await client.update_order_metafield(first, due.id, "2025-05-02")
    assert (changed.id, changed.value) == (due.id, "2025-05-02")

    batch = await client.create_order_metafields(
        [
            MetafieldWrite(first, "netterms", "terms", "30"),
            MetafieldWrite(second, "netterms", "due_date", "2025-04-03"),
        ]
    )
    many = batch.created
    assert [(m.resource_id, m.key) for m in many] == [
        (first, "terms"),
        (second, "due_date"),
    ]
    values = await client.update_order_metafields({m.id: "60" for m in many})
    assert [(m.id, m.value) for m in values] == [(m.id, "60") for m in many]

    # A batch with one duplicate: the store answers 422 and makes the others.
    duplicate = MetafieldWrite(second, "netterms", "due_date", "again")
    mixed = await client.create_order_metafields(
        [duplicate, MetafieldWrite(second, "netterms", "terms", "45")]
    )
    assert [(m.resource_id, m.key) for m in mixed.created] == [(second, "terms")]
    assert mixed.refused == [duplicate]
    assert "already exists" in mixed.reason


async def test_simulator_client_manages_webhooks(
    bigcommerce: tuple[Simulator, BigCommerceClient],
) -> None:
    """The webhook calls register, list, change, revive and delete hooks."""
    simulator, client = bigcommerce
    hook = await client.create_webhook(
        "store/order/*", HOOK_URL, {"X-Netterms-Secret": "s3cret"}
    )
    assert hook.headers == {"X-Netterms-Secret": "s3cret"}
    assert hook.created_at is not None
    assert hook.created_at.tzinfo is not None
    assert abs(hook.created_at - START) < timedelta(minutes=1)
    assert await client.webhooks(scope="store/order/*") == [hook]
    assert await client.webhooks(is_active=False) == []

    off = await client.update_webhook(hook.id, is_active=False)
    assert off.is_active is False
    simulator.store.state.hooks[hook.id].deactivated = True
    admin = await client.hooks_admin()
    assert admin.hook_statuses == {hook.id: "deactivated"}
    assert admin.emails == ()
    assert admin.blocked_domains == ()

    revived = await client.reactivate_webhook(hook.id)
    assert revived.is_active is True
    assert (await client.hooks_admin(is_active=True)).hook_statuses == {
        hook.id: "active"
    }

    await client.delete_webhook(hook.id)
    assert await client.webhooks() == []
    await client.delete_webhook(hook.id)  # already gone: not an error
