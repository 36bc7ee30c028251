"""The v2 API of the simulated store: orders, order statuses, store, time, groups."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from netterms_daemon.bigcommerce.models import (
    ORDER_STATUSES,
    STATUS_NAMES,
    parse_rfc2822,
)
from netterms_daemon.simulator.core import SimulatedStore, billing_address
from netterms_daemon.simulator.replies import (
    date_param,
    fail,
    int_param,
    json_body,
    object_body,
    sort_key,
    v2_page,
)
from netterms_daemon.simulator.state import (
    CustomerGroup,
    Order,
)

store_key = web.AppKey("simulated_store", SimulatedStore)

# Fields of an order that a PUT may change, and those BigCommerce refuses.
_WRITABLE = {
    "status_id",
    "staff_notes",
    "customer_message",
    "payment_method",
    "is_deleted",
}
_READ_ONLY = {
    "id",
    "status",
    "date_modified",
    "date_shipped",
    "cart_id",
    "external_id",
    "payment_status",
    "currency_id",
    "currency_code",
    "currency_exchange_rate",
    "default_currency_code",
    "coupon_discount",
    "store_credit_amount",
    "gift_certificate_amount",
    "total_tax",
    "subtotal_tax",
    "shipping_address_count",
    "is_email_opt_in",
}
_ORDER_SORTS = (
    "id",
    "customer_id",
    "date_created",
    "date_modified",
    "status_id",
    "channel_id",
)


def _store(request: web.Request) -> SimulatedStore:
    return request.app[store_key]


def _root(request: web.Request) -> str:
    store = _store(request)
    return f"{request.url.origin()}/stores/{store.state.store_hash}"


def _order(request: web.Request) -> Order:
    order_id = int(request.match_info["order_id"])
    order = _store(request).state.orders.get(order_id)
    if order is None:
        fail(404, "The requested resource was not found.")
    return order


async def get_store(request: web.Request) -> web.Response:
    return web.json_response(_store(request).state.render_store())


async def get_time(request: web.Request) -> web.Response:
    return web.json_response({"time": int(_store(request).clock.now().timestamp())})


async def list_order_statuses(request: web.Request) -> web.Response:
    statuses = [
        {
            "id": status_id,
            "name": name,
            "system_label": name,
            "custom_label": name,
            "system_description": f"Orders in the {name} state.",
            "order": position,
        }
        for status_id, name, position in ORDER_STATUSES
    ]
    return web.json_response(statuses)


async def list_orders(request: web.Request) -> web.Response:
    state = _store(request).state
    orders = [o for o in state.orders.values() if not o.is_deleted]
    orders = [o for o in orders if _order_matches(request, o)]
    field, descending = sort_key(request, _ORDER_SORTS, "id:asc")
    orders.sort(key=lambda o: _order_sort_value(o, field), reverse=descending)
    root = _root(request)
    return v2_page(request, orders, lambda o: o.render(root))


def _order_matches(request: web.Request, order: Order) -> bool:
    checks: list[tuple[str, Any, Any, bool]] = [
        ("min_id", int_param(request, "min_id"), order.id, True),
        ("max_id", int_param(request, "max_id"), order.id, False),
        (
            "min_date_created",
            date_param(request, "min_date_created"),
            order.created,
            True,
        ),
        (
            "max_date_created",
            date_param(request, "max_date_created"),
            order.created,
            False,
        ),
        (
            "min_date_modified",
            date_param(request, "min_date_modified"),
            order.modified,
            True,
        ),
        (
            "max_date_modified",
            date_param(request, "max_date_modified"),
            order.modified,
            False,
        ),
        ("min_total", _decimal_param(request, "min_total"), order.total_inc_tax, True),
        ("max_total", _decimal_param(request, "max_total"), order.total_inc_tax, False),
    ]
    for _, bound, value, is_min in checks:
        if bound is not None and (value < bound if is_min else value > bound):
            return False
    for name, value in (
        ("customer_id", order.customer_id),
        ("status_id", order.status_id),
    ):
        wanted = int_param(request, name)
        if wanted is not None and wanted != value:
            return False
    email = request.query.get("email")
    return not email or order.billing_address.get("email") == email


def _decimal_param(request: web.Request, name: str) -> Decimal | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        return Decimal(raw)
    except InvalidOperation:
        fail(400, f"The query parameter '{name}' must be a number, got {raw!r}.")


def _order_sort_value(order: Order, field: str) -> Any:
    values = {
        "id": order.id,
        "customer_id": order.customer_id,
        "date_created": order.created,
        "date_modified": order.modified,
        "status_id": order.status_id,
        "channel_id": 1,
    }
    return (values[field], order.id)


async def get_order(request: web.Request) -> web.Response:
    return web.json_response(_order(request).render(_root(request)))


async def create_order(request: web.Request) -> web.Response:
    store = _store(request)
    body = object_body(await json_body(request))
    customer_id = _int_field(body, "customer_id", 0)
    customer = store.state.customers.get(customer_id)
    if customer_id and customer is None:
        fail(400, f"The customer {customer_id} does not exist.")
    status_id = _int_field(body, "status_id", 1)
    if status_id not in STATUS_NAMES:
        fail(400, f"The status_id {status_id} is not a valid order status.")
    if "billing_address" not in body:
        fail(400, "The field 'billing_address' is required.")

    subtotal_ex, subtotal_inc, items = _totals(body)
    now = store.clock.now()
    created = _created(body.get("date_created"), now)
    order = Order(
        id=store.state.next_id("order"),
        customer_id=customer_id,
        status_id=status_id,
        created=created,
        modified=now,
        subtotal_ex_tax=subtotal_ex,
        subtotal_inc_tax=subtotal_inc,
        currency=str(body.get("default_currency_code") or store.state.currency),
        items_total=items,
        billing_address=billing_address(customer, body.get("billing_address")),
        staff_notes=str(body.get("staff_notes") or ""),
        customer_message=str(body.get("customer_message") or ""),
        payment_method=str(body.get("payment_method") or "Manual"),
    )
    store.state.orders[order.id] = order
    store.emit("store/order/created", {"type": "order", "id": order.id})
    return web.json_response(order.render(_root(request)))


def _int_field(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or value != int(value)
    ):
        fail(400, f"The field '{name}' must be an integer.")
    return int(value)


def _totals(body: dict[str, Any]) -> tuple[Decimal, Decimal, int]:
    """Totals from the products, unless the body states them."""
    products = body.get("products")
    if not isinstance(products, list) or not products:
        fail(400, "The field 'products' must list at least one product.")
    ex = inc = Decimal(0)
    items = 0
    try:
        for product in products:
            quantity = int(product.get("quantity", 1))
            ex += (
                Decimal(
                    str(product.get("price_ex_tax", product.get("price_inc_tax", 0)))
                )
                * quantity
            )
            inc += (
                Decimal(
                    str(product.get("price_inc_tax", product.get("price_ex_tax", 0)))
                )
                * quantity
            )
            items += quantity
        if "subtotal_inc_tax" in body:
            inc = Decimal(str(body["subtotal_inc_tax"]))
            ex = Decimal(str(body.get("subtotal_ex_tax", inc)))
    except (AttributeError, TypeError, ValueError, InvalidOperation):
        fail(
            400,
            "Each product needs a numeric quantity and price_inc_tax or price_ex_tax.",
        )
    return ex, inc, items


def _created(raw: Any, now: datetime) -> datetime:
    if raw is None:
        return now
    try:
        created = parse_rfc2822(str(raw))
    except (TypeError, ValueError, IndexError):
        fail(400, "The field 'date_created' must be an RFC 2822 date.")
    if created > now:
        fail(400, "The field 'date_created' cannot be in the future.")
    return created


async def update_order(request: web.Request) -> web.Response:
    store = _store(request)
    order = _order(request)
    body = object_body(await json_body(request))
    for name in body:
        if name in _READ_ONLY:
            fail(
                400,
                f"The field '{name}' cannot be written to. Please remove it from "
                "your request before trying again.",
            )
    changes = {k: v for k, v in body.items() if k in _WRITABLE}
    if "status_id" in changes:
        status_id = _int_field(changes, "status_id", order.status_id)
        if status_id not in STATUS_NAMES:
            fail(400, f"The status_id {status_id} is not a valid order status.")
        changes["status_id"] = status_id
    if "staff_notes" in changes and len(str(changes["staff_notes"])) > 65535:
        fail(400, "The field 'staff_notes' is longer than 65535 characters.")

    if "is_deleted" in changes and not isinstance(changes["is_deleted"], bool):
        fail(400, "The field 'is_deleted' must be true or false.")

    previous = order.status_id
    if changes.pop("is_deleted", False) is True:
        _archive(request, order)
        return web.json_response(order.render(_root(request)))
    for name, value in changes.items():
        setattr(order, name, value if name == "status_id" else str(value))
    order.modified = store.clock.now()
    store.emit("store/order/updated", {"type": "order", "id": order.id})
    if order.status_id != previous:
        store.emit(
            "store/order/statusUpdated",
            {
                "type": "order",
                "id": order.id,
                "status": {
                    "previous_status_id": previous,
                    "new_status_id": order.status_id,
                },
            },
        )
    return web.json_response(order.render(_root(request)))


def _archive(request: web.Request, order: Order) -> web.Response:
    store = _store(request)
    if not order.is_deleted:
        order.is_deleted = True
        order.modified = store.clock.now()
        store.emit("store/order/archived", {"type": "order", "id": order.id})
    return web.Response(status=204)


async def archive_order(request: web.Request) -> web.Response:
    return _archive(request, _order(request))


async def list_customer_groups(request: web.Request) -> web.Response:
    groups = sorted(_store(request).state.groups.values(), key=lambda g: g.id)
    name = request.query.get("name")
    like = request.query.get("name:like")
    if name is not None:
        groups = [g for g in groups if g.name == name]
    if like is not None:
        groups = [g for g in groups if like.lower() in g.name.lower()]
    return v2_page(request, groups, CustomerGroup.render)


async def get_customer_group(request: web.Request) -> web.Response:
    group = _store(request).state.groups.get(
        int(request.match_info["customer_group_id"])
    )
    if group is None:
        fail(404, "The requested resource was not found.")
    return web.json_response(group.render())


async def create_customer_group(request: web.Request) -> web.Response:
    store = _store(request)
    body = object_body(await json_body(request))
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        fail(400, "The field 'name' is required.")
    if any(g.name == name for g in store.state.groups.values()):
        fail(409, f"A customer group named {name!r} already exists.")
    group = store.add_group(name)
    return web.json_response(group.render())


def add_routes(app: web.Application, root: str) -> None:
    """Register the v2 routes under /stores/{hash}/v2."""
    v2 = f"{root}/v2"
    app.router.add_get(f"{v2}/store", get_store)
    app.router.add_get(f"{v2}/time", get_time)
    app.router.add_get(f"{v2}/order_statuses", list_order_statuses)
    app.router.add_get(f"{v2}/orders", list_orders)
    app.router.add_post(f"{v2}/orders", create_order)
    app.router.add_get(rf"{v2}/orders/{{order_id:\d+}}", get_order)
    app.router.add_put(rf"{v2}/orders/{{order_id:\d+}}", update_order)
    app.router.add_delete(rf"{v2}/orders/{{order_id:\d+}}", archive_order)
    app.router.add_get(f"{v2}/customer_groups", list_customer_groups)
    app.router.add_post(f"{v2}/customer_groups", create_customer_group)
    app.router.add_get(
        rf"{v2}/customer_groups/{{customer_group_id:\d+}}", get_customer_group
    )
